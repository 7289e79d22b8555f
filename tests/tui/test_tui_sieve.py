"""Pilot tests and a snapshot of the Sieve screen (issue 5, guide 1.8).

The screen is shown only while ManageSieve is on; its fields go into
[sieve] of the answers; a bad port or spam folder is refused at its field; a
folder the Mailboxes screen does not create is accepted with a note; the
Review shows the step's plan.
"""

from __future__ import annotations

from textual.widgets import Input, Static

from mailwizard.answers import parse
from mailwizard.app import create_app
from mailwizard.widgets import TickField
from tui_support import field_message, forward, jump, make_session, replace_input, settle, text_of, tick, walk_to

SIZE = (80, 24)


def sieve_session(tmp_path, platform="debian12"):
    session = make_session(tmp_path / "root", platform=platform)
    session.answers.protocols.sieve = True
    return session




async def test_the_screen_is_shown_only_while_managesieve_is_on(tmp_path):
    off = make_session(tmp_path / "off")
    app = create_app(off, [], start="lmtp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "PostfixModeScreen")
        assert passed == ["LmtpScreen", "PostfixModeScreen"] and "Sieve" not in [t for _, t in app.step_titles()]
    on = sieve_session(tmp_path / "on")
    app = create_app(on, [], start="lmtp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "PostfixModeScreen")
        assert passed == ["LmtpScreen", "SieveScreen", "PostfixModeScreen"]


async def test_fields_are_written_into_the_answers(tmp_path):
    session = sieve_session(tmp_path)
    app = create_app(session, [], start="sieve")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert app.focused is screen.query_one("#sieve-port", Input)
        assert screen.query_one("#field-sieve-lmtp_plugin", TickField).value is True
        note = screen.query_one("#sieve-folder-note", Static)
        assert "Junk is created by Dovecot for every user" in text_of(note)
        await replace_input(pilot, "#sieve-spam_folder", "Spam")
        await settle(pilot)
        assert "Spam is not on the Mailboxes screen: created at the first flagged message" in text_of(note)
        await replace_input(pilot, "#sieve-port", "14190")
        await forward(pilot, "PostfixModeScreen")
    s = session.answers.sieve
    assert (s.port, s.lmtp_plugin, s.spam_filter, s.spam_folder) == (14190, True, True, "Spam")
    saved, problems = parse(session.answers.to_toml())
    assert problems == [] and saved.sieve.spam_folder == "Spam" and saved.sieve.port == 14190


async def test_turning_the_filter_off_hides_the_folder(tmp_path):
    session = sieve_session(tmp_path)
    app = create_app(session, [], start="sieve")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await tick(pilot, "#sieve-spam_filter")
        assert screen.query_one("#field-sieve-spam_folder").display is False
        assert "Off: flagged mail stays in the inbox" in text_of(screen.query_one("#sieve-folder-note", Static))
        await tick(pilot, "#sieve-lmtp_plugin")
        await forward(pilot, "PostfixModeScreen")
    s = session.answers.sieve
    assert (s.lmtp_plugin, s.spam_filter, s.spam_folder) == (False, False, "Junk")


async def test_bad_answers_are_refused_at_their_field(tmp_path):
    session = sieve_session(tmp_path)
    app = create_app(session, [], start="sieve")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await replace_input(pilot, "#sieve-port", "four")
        await forward(pilot, "SieveScreen")
        assert "'four' is not a whole number" in field_message(app, "sieve.port")
        assert app.focused is screen.query_one("#sieve-port", Input)
        await replace_input(pilot, "#sieve-port", "993")
        await replace_input(pilot, "#sieve-spam_folder", 'Sp"am')
        await forward(pilot, "SieveScreen")
        assert "IMAPS's port" in field_message(app, "sieve.port")
        assert "cannot be a folder name in a Sieve script" in field_message(app, "sieve.spam_folder")
        await replace_input(pilot, "#sieve-port", "4190")
        await replace_input(pilot, "#sieve-spam_folder", "Junk")
        await tick(pilot, "#sieve-lmtp_plugin")  # the filter needs scripts to run on delivery
        await forward(pilot, "SieveScreen")
        assert "the global filter runs when scripts run on delivery" in field_message(app, "sieve.spam_filter")
        await tick(pilot, "#sieve-lmtp_plugin")
        await forward(pilot, "PostfixModeScreen")
        await jump(pilot, "review")
        plan = text_of(app.screen.query_one("#plan", Static))
        assert "protocols = $protocols sieve" in plan and "sievec /etc/dovecot/sieve/spam-to-junk.sieve" in plan


def test_snapshot_sieve(snap_compare, tmp_path):
    from test_tui_snapshots import walk

    session = sieve_session(tmp_path)
    assert snap_compare(create_app(session, [], start="sieve"), terminal_size=SIZE, run_before=walk())


async def test_ticking_managesieve_on_the_protocols_screen_adds_the_sieve_screen(tmp_path):
    session = make_session(tmp_path / "root", platform="rhel10")
    app = create_app(session, [], start="protocols")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Sieve" not in [t for _, t in app.step_titles()]
        await tick(pilot, "#protocols-sieve")
        assert "Sieve" in [t for _, t in app.step_titles()]
        note = text_of(app.screen.query_one("#firewall-note", Static))
        assert "managesieve" in note.split("(TCP")[0] and "4190" in note
        passed = await walk_to(pilot, "SieveScreen")
        assert passed == ["ProtocolsScreen", "MailboxesScreen", "LmtpScreen", "SieveScreen"]
    assert session.answers.protocols.sieve is True
