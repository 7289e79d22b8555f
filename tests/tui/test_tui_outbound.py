"""Pilot tests and a snapshot of the Outbound screen (issue 16): DKIM signing and a relay host login.

The screen comes after Limits, before the Review; both parts are off until
chosen; its fields go into [dkim] and [postfix] of the answers (a typed relay
password only into memory: never into a saved answers file, the Review or the
screen's text); bad answers are refused at their field; the Review shows the
plan of what was chosen.
"""

from __future__ import annotations

from textual.widgets import Input, Static

from mailwizard.answers import parse
from mailwizard.app import create_app
from mailwizard.widgets import TickField
from tui_support import field_message, forward, jump, make_session, replace_input, settle, text_of, tick, walk_to

SIZE = (80, 24)
SECRET = "Relay-s3cret-typed"


async def test_the_screen_comes_after_limits_and_chooses_nothing_by_default(tmp_path):
    session = make_session(tmp_path / "root")
    app = create_app(session, [], start="postfix_limits")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "ReviewScreen")
        assert passed == ["PostfixLimitsScreen", "OutboundScreen", "ReviewScreen"]
        plan = text_of(app.screen.query_one("#plan", Static))
        assert "opendkim" not in plan and "sasl_passwd" not in plan
    a = session.answers
    assert (a.dkim.enabled, a.postfix.relay_user, a.postfix.relayhost) == (False, "", "")


async def test_fields_are_written_into_the_answers(tmp_path):
    session = make_session(tmp_path / "root")
    app = create_app(session, [], start="outbound")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert app.focused is screen.query_one("#dkim-enabled")
        assert screen.query_one("#outbound-dkim").display is False  # off: its fields are hidden
        await tick(pilot, "#dkim-enabled")
        assert screen.query_one("#outbound-dkim").display is True
        await replace_input(pilot, "#dkim-selector", "2026a")
        await replace_input(pilot, "#dkim-domains", "example.com example.net")
        await replace_input(pilot, "#dkim-next_selector", "2026b")
        await replace_input(pilot, "#postfix-relayhost", "[smtp.example.net]:587")
        await replace_input(pilot, "#postfix-relay_user", "mailer")
        await replace_input(pilot, "#postfix-relay_password", SECRET)
        await settle(pilot)
        assert SECRET not in "".join(text_of(s) for s in screen.query(Static))  # shown as dots
        assert "Signs mail of example.com, example.net with selector 2026a" in \
            text_of(screen.query_one("#outbound-note", Static))
        await forward(pilot, "ReviewScreen")
        plan = text_of(app.screen.query_one("#plan", Static))
        assert "opendkim-genkey -b 2048 -D /etc/dkimkeys -d example.com -s 2026a" in plan
        assert "-s 2026b" in plan and "smtpd_milters=inet:127.0.0.1:8891" in plan
        assert "/etc/postfix/sasl_passwd" in plan and "smtp_sasl_auth_enable=yes" in plan
        assert SECRET not in plan
    d, p = session.answers.dkim, session.answers.postfix
    assert (d.enabled, d.selector, d.domains, d.next_selector) == (True, "2026a", ["example.com", "example.net"],
                                                                    "2026b")
    assert (p.relayhost, p.relay_user, p.relay_password) == ("[smtp.example.net]:587", "mailer", SECRET)
    saved = session.answers.to_toml()
    assert SECRET not in saved
    again, problems = parse(saved)
    assert problems == [] and again.dkim.selector == "2026a" and again.postfix.relay_user == "mailer"


async def test_bad_answers_are_refused_at_their_field(tmp_path):
    session = make_session(tmp_path / "root")
    app = create_app(session, [], start="outbound")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await tick(pilot, "#dkim-enabled")
        await replace_input(pilot, "#dkim-selector", "my_key")
        await replace_input(pilot, "#postfix-relay_user", "mailer")
        await forward(pilot, "OutboundScreen")
        assert "'my_key' is not a selector" in field_message(app, "dkim.selector")
        assert "give postfix.relayhost too" in field_message(app, "postfix.relay_user")
        assert app.focused is screen.query_one("#dkim-selector", Input)
        await replace_input(pilot, "#dkim-selector", "mail")
        await replace_input(pilot, "#postfix-relayhost", "[smtp.example.net]:587")
        await forward(pilot, "OutboundScreen")
        assert "give the file holding the password" in field_message(app, "postfix.relay_password_file")
        await replace_input(pilot, "#postfix-relay_password_file", "/root/none.pass")
        await forward(pilot, "OutboundScreen")
        assert "/root/none.pass does not exist" in field_message(app, "postfix.relay_password_file")
        host = session.host
        host.makedirs("/root")
        host.write_atomic("/root/none.pass", b"from-a-file\n", mode=0o600, uid=0, gid=0)
        await forward(pilot, "ReviewScreen")
        assert "from-a-file" not in text_of(app.screen.query_one("#plan", Static))
        await jump(pilot, "outbound")
        assert app.screen.query_one("#field-dkim-enabled", TickField).value is True  # kept coming back


def test_snapshot_outbound(snap_compare, tmp_path):
    from test_tui_snapshots import walk

    session = make_session(tmp_path / "root")
    session.answers.dkim.enabled = True
    assert snap_compare(create_app(session, [], start="outbound"), terminal_size=SIZE, run_before=walk())
