"""Pilot test of the TLS screen's ACME choice (issue 16): by keyboard, the refusals at their fields, the answers."""

from __future__ import annotations

from textual.widgets import Input

from mailwizard.answers import ACME_DIRECTORY, acme_paths
from mailwizard.app import create_app
from tui_support import field_message, forward, make_session, replace_input, settle, tick

SIZE = (80, 24)


async def test_acme_choice_on_the_tls_screen(tmp_path):
    session = make_session(tmp_path, self_signed=False)
    own = (session.answers.tls.cert, session.answers.tls.key)
    live = acme_paths("mail.example.com")
    app = create_app(session, [], start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        box = screen.query_one("#tls-acme-fields")
        assert not box.display  # the ACME fields are hidden until ACME is chosen
        await tick(pilot, "#tls-acme")
        cert, key = screen.query_one("#tls-cert", Input), screen.query_one("#tls-key", Input)
        assert box.display and (cert.value, key.value) == live and cert.disabled and key.disabled
        assert screen.query_one("#tls-acme_server", Input).value == ACME_DIRECTORY
        await replace_input(pilot, "#tls-ca", "")  # certbot's fullchain.pem holds the chain
        # no address: refused at its field, and the screen stays
        await forward(pilot, "TLSScreen")
        assert "is empty" in field_message(app, "tls.acme_email")
        await replace_input(pilot, "#tls-acme_email", "postmaster")
        await replace_input(pilot, "#tls-acme_server", "http://acme.example.com/dir")
        await forward(pilot, "TLSScreen")
        assert "has no domain" in field_message(app, "tls.acme_email")
        assert "not an https:// URL" in field_message(app, "tls.acme_server")
        # a self-signed certificate as well: the two exclude each other
        await replace_input(pilot, "#tls-acme_email", "postmaster@example.com")
        await replace_input(pilot, "#tls-acme_server", "https://acme.example.com/dir")
        await tick(pilot, "#tls-self-signed")
        await forward(pilot, "TLSScreen")
        assert "exclude each other" in field_message(app, "tls.acme")
        assert not field_message(app, "tls.acme_email").strip() and not field_message(app, "tls.acme_server").strip()
        await tick(pilot, "#tls-self-signed")
        # un-choosing ACME gives back the paths typed before; choosing it again, certbot's
        await tick(pilot, "#tls-acme")
        assert (cert.value, key.value) == own and not cert.disabled and not box.display
        await tick(pilot, "#tls-acme")
        await forward(pilot, "MailStoreScreen")
    tls = session.answers.tls
    assert (tls.acme, tls.self_signed, tls.cert, tls.key) == (True, False, *live)
    assert (tls.acme_email, tls.acme_server) == ("postmaster@example.com", "https://acme.example.com/dir")
    plan = session.plan()
    assert any(c.commands()[-1][:2] == ["certbot", "certonly"] for c in plan.active())


async def test_choosing_acme_replaces_the_messages_of_the_paths_it_replaces(tmp_path):
    """Ticking ACME puts certbot's paths in the fields: the "does not exist" of the paths they held goes at
    once, and the empty e-mail is said at its field (found driving the screen in tmux at 80x24)."""
    session = make_session(tmp_path, self_signed=False)
    app = create_app(session, [], start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "does not exist" in field_message(app, "tls.cert")
        await tick(pilot, "#tls-acme")
        assert field_message(app, "tls.cert").strip() == "" and field_message(app, "tls.key").strip() == ""
        assert "is empty" in field_message(app, "tls.acme_email")
