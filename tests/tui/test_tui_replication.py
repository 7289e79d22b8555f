"""Pilot tests and a snapshot of the Replication screen (issue 5, guide 1.4).

The screen is shown only while [replication] is enabled; it shows the
prerequisites as they were checked (a worker), refuses to move on while one
fails or a field is wrong (the message under the field), takes a typed
password without ever drawing it, and puts its fields into [replication].
"""

from __future__ import annotations

from mailwizard.app import create_app
from mailwizard.widgets import CheckList
from tui_support import field_message, forward, jump, make_session, replace_input, settle, text_of

SIZE = (80, 24)
TYPED = "Typed-doveadm-pw"


def full_session(tmp_path, platform="debian12"):
    return make_session(tmp_path / "root", platform=platform, answers="full.toml")



def drawn(app) -> str:
    """Everything the terminal shows now (the SVG export's text)."""
    return app.export_screenshot()


async def test_the_screen_is_shown_only_while_replication_is_enabled(tmp_path):
    off = make_session(tmp_path / "off")  # pam.toml: no [replication]
    app = create_app(off, [])
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert "replication" not in app.screen_keys()
    on = full_session(tmp_path / "on")
    app = create_app(on, [])
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        keys = app.screen_keys()
        assert keys.index("lmtp") < keys.index("replication") < keys.index("postfix")


async def test_fields_and_prerequisites_are_shown(tmp_path):
    session = full_session(tmp_path)
    app = create_app(session, [], start="replication")
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        values = {key: screen.query_one(f"#replication-{key}").value
                  for key in ("partner", "port", "password", "password_file", "max_conns", "partner_addresses")}
        assert values == {"partner": "server2.example.com", "port": "12345", "password": "",
                          "password_file": "/root/doveadm.pass", "max_conns": "20",
                          "partner_addresses": "192.0.2.1/32 2001:db8:2::1/128"}
        assert app.focused is screen.query_one("#replication-partner")
        prereqs = text_of(screen.query_one("#replication-prereqs", CheckList))
        assert "lists its users" in prereqs and "accessed as the vmail user" in prereqs
        assert "CHECK" in prereqs and "same user database" in prereqs
        summary = text_of(screen.query_one("#replication-prereq-summary"))
        assert "checking" not in summary and "failed" not in summary
        assert "/var/lib/mailwizard/partner.toml" in text_of(screen.query_one("#replication-partner-file"))


async def test_bad_fields_are_refused_at_the_field_then_taken(tmp_path):
    session = full_session(tmp_path, "rhel10")
    app = create_app(session, [], start="replication")
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        await replace_input(pilot, "#replication-partner_addresses", "192.0.2.1/24")
        await replace_input(pilot, "#replication-port", "http")
        await forward(pilot, "ReplicationScreen")
        assert "or the host 192.0.2.1/32" in field_message(app, "replication.partner_addresses")
        assert "'http' is not a whole number" in field_message(app, "replication.port")
        await replace_input(pilot, "#replication-partner", "mail.example.com")
        await forward(pilot, "ReplicationScreen")
        assert "is this server" in field_message(app, "replication.partner")
        await replace_input(pilot, "#replication-partner", "server3.example.com")
        await replace_input(pilot, "#replication-partner_addresses", "192.0.2.7")
        await replace_input(pilot, "#replication-port", "4000")
        await forward(pilot, "PostfixModeScreen")
    r = session.answers.replication
    assert (r.partner, r.port, r.partner_addresses) == ("server3.example.com", 4000, ["192.0.2.7"])


async def test_a_typed_password_is_never_drawn_nor_saved(tmp_path):
    session = full_session(tmp_path)
    app = create_app(session, [], start="replication")
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        await replace_input(pilot, "#replication-password_file", "")
        await forward(pilot, "ReplicationScreen")  # neither a password nor a file
        assert "give the file holding the password" in field_message(app, "replication.password_file")
        await replace_input(pilot, "#replication-password", TYPED)
        await settle(pilot)
        assert TYPED not in drawn(app) and "•" * len(TYPED) in drawn(app)
        await forward(pilot, "PostfixModeScreen")
        await jump(pilot, "review")
        assert TYPED not in drawn(app)
    assert session.answers.replication.password == TYPED
    assert TYPED not in session.answers.to_toml()
    assert TYPED not in session.plan().render_text()


async def test_a_failed_prerequisite_is_shown_and_refused(tmp_path):
    session = full_session(tmp_path)
    session.host.state.running.add("dovecot")  # a running Dovecot whose userdb lists nobody
    app = create_app(session, [], start="replication")
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "FAIL" in text_of(screen.query_one("#replication-prereqs", CheckList))
        assert "1 failed" in text_of(screen.query_one("#replication-prereq-summary"))
        await forward(pilot, "ReplicationScreen")
        messages = text_of(screen.query_one("#form-messages"))
        assert "error:" in messages and "lists nobody" in messages


def test_snapshot_replication(snap_compare, tmp_path):
    session = full_session(tmp_path)

    async def run_before(pilot) -> None:
        await settle(pilot)
        for field in pilot.app.screen.query("Input"):
            field.cursor_blink = False
        await pilot.pause()
    assert snap_compare(create_app(session, [], start="replication"), terminal_size=SIZE, run_before=run_before)
