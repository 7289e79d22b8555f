"""Issue 13 at the form fields: a path typed with extra slashes or dots is validated as it will be used
(normalised), and a system directory as the mail root is refused at its field, whatever its spelling."""

from __future__ import annotations

from mailwizard.app import create_app
from tui_support import field_message, forward, make_session, replace_input, settle

SIZE = (80, 24)


async def test_mail_root_written_as_a_system_directory_is_refused_at_its_field(tmp_path):
    session = make_session(tmp_path / "root")
    app = create_app(session, [], start="vmail")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for typed in ("//etc", "/srv/../etc/", "/var/lib/mailwizard/."):
            await replace_input(pilot, "#mailbox-root", typed)
            await forward(pilot, "MailStoreScreen")  # refused: the screen stays
            shown = field_message(app, "mailbox.root")
            assert f"{typed} (that is, " in shown and "e.g. /var/mail" in shown, shown
        assert "system directory" in field_message(app, "mailbox.root") or \
            "mailwizard's own" in field_message(app, "mailbox.root")
        await replace_input(pilot, "#mailbox-root", "/srv//vmail/")
        await forward(pilot, "AuthScreen")  # a sane root, said and kept in its normalised form
    assert session.answers.mailbox.root == "/srv/vmail"
