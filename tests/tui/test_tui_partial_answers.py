"""Pilot tests of a wizard prefilled from an answers file (`mailwizard --answers FILE`): it opens at the first
screen whose answers are missing or invalid, Next goes to the next such screen, then Review; Back still
reaches every screen passed over."""

from __future__ import annotations

from textual.widgets import Static

from mailwizard import answers as answers_mod
from mailwizard.app import create_app
from mailwizard.engine import Session
from mailwizard.platform import profile_for
from mailwizard.simulated import FakeHost
from tui_support import ANSWERS, JOURNAL, field_message, press, replace_input, screen_name, settle, text_of

SIZE = (80, 24)
PAM = (ANSWERS / "pam.toml").read_text()


def prefilled(tmp_path, text: str, platform: str = "debian12"):
    """The app for an answers file's text, on a fresh fake host, as `mailwizard --answers FILE` builds it."""
    answers, structural = answers_mod.parse(text)
    profile = profile_for(platform)
    host = FakeHost.from_profile(profile, tmp_path / "root", hostname=answers.server.hostname)
    session = Session(answers, host, profile, dry_run=True, journal_dir=JOURNAL)
    return create_app(session, structural, answers_file=True), session


def without_section(text: str, name: str) -> str:
    """The answers text with the [name] table (up to the next table) left out."""
    head, _, rest = text.partition(f"[{name}]\n")
    _, _, tail = rest.partition("\n[")
    return head + "[" + tail


# the reference file, with a certificate the wizard makes itself (none exists on the fake host)
SELF_SIGNED = PAM.replace('dh = "ffdhe4096"', 'dh = "ffdhe4096"\nself_signed = true')


def status(app) -> str:
    return text_of(app.screen.query_one("#status", Static))


class TestMissingAnswers:
    async def test_opens_at_the_screen_of_the_missing_key_then_goes_to_review(self, tmp_path):
        app, session = prefilled(tmp_path, without_section(SELF_SIGNED, "auth"))
        assert "auth" not in session.answers.raw
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert screen_name(app) == "AuthScreen"
            assert "answers file lacks auth.backend: check, then Next" in status(app)
            await press(pilot, "ctrl+n")  # the default (PAM) is fine: nothing else is missing
            assert screen_name(app) == "ReviewScreen"
            # the screens passed over are there with Back, one by one
            await press(pilot, "escape")
            assert screen_name(app) == "OutboundScreen"
            await press(pilot, "escape")
            assert screen_name(app) == "PostfixLimitsScreen"
            await press(pilot, "escape")
            assert screen_name(app) == "PostfixSubmissionScreen"

    async def test_a_screen_answered_once_is_not_asked_again(self, tmp_path):
        app, _ = prefilled(tmp_path, without_section(without_section(SELF_SIGNED, "auth"), "postfix"))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert screen_name(app) == "AuthScreen"
            await press(pilot, "ctrl+n")
            assert screen_name(app) == "PostfixModeScreen"
            assert "postfix.mode" in status(app)
            await press(pilot, "escape")  # Back: the screen just before, not the last one asked
            assert screen_name(app) == "LmtpScreen"
            for _ in range(4):  # back to Auth, past screens the file answered
                await press(pilot, "escape")
            assert screen_name(app) == "AuthScreen" and "answers file" not in status(app)
            await press(pilot, "ctrl+n")  # Auth was answered; Postfix was not yet
            assert screen_name(app) == "PostfixModeScreen"
            await press(pilot, "ctrl+n")
            assert screen_name(app) == "ReviewScreen"

    async def test_a_missing_host_name_opens_at_welcome(self, tmp_path):
        app, _ = prefilled(tmp_path, without_section(SELF_SIGNED, "server"))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert screen_name(app) == "WelcomeScreen"
            assert "is empty" in field_message(app, "server.hostname")
            await replace_input(pilot, "#server-hostname", "mail.example.com")
            await replace_input(pilot, "#server-domain", "example.com")
            await press(pilot, "ctrl+n")
            assert screen_name(app) == "ReviewScreen"


class TestInvalidAnswers:
    async def test_opens_at_the_invalid_value_with_its_message_then_the_next_one(self, tmp_path):
        text = SELF_SIGNED.replace('mynetworks = ["127.0.0.1/32", "[::1]/128"]', 'mynetworks = ["0.0.0.0/0"]')
        text = text.replace("[postfix]", '[lmtp]\nsocket_mode = 600\n\n[postfix]')
        app, _ = prefilled(tmp_path, text)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            # SCREENS order: LMTP (a value of the wrong type) comes before Postfix (an open relay)
            assert screen_name(app) == "LmtpScreen"
            message = field_message(app, "lmtp.socket_mode")
            assert "answers file's value was ignored" in message and "600" in message
            await press(pilot, "ctrl+n")
            assert screen_name(app) == "PostfixModeScreen"
            assert "whole internet" in field_message(app, "postfix.mynetworks")
            await press(pilot, "ctrl+n")
            assert screen_name(app) == "PostfixModeScreen", "an error keeps the wizard there"
            await replace_input(pilot, "#postfix-mynetworks", "127.0.0.0/8 [::1]/128")
            await press(pilot, "ctrl+n")
            assert screen_name(app) == "ReviewScreen"

    async def test_an_invalid_host_name_opens_at_welcome_with_the_message(self, tmp_path):
        app, _ = prefilled(tmp_path, SELF_SIGNED.replace('hostname = "mail.example.com"', 'hostname = "mail"'))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert screen_name(app) == "WelcomeScreen"
            assert "not fully qualified" in field_message(app, "server.hostname")


class TestCompleteAnswers:
    async def test_a_complete_valid_file_opens_at_review(self, tmp_path):
        app, _ = prefilled(tmp_path, SELF_SIGNED)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert screen_name(app) == "ReviewScreen"
            assert "change(s)" in text_of(app.screen.query_one("#summary", Static))
            await press(pilot, "escape")
            assert screen_name(app) == "OutboundScreen"

    async def test_a_null_client_file_opens_at_review(self, tmp_path):
        app, _ = prefilled(tmp_path, (ANSWERS / "null-client.toml").read_text(), platform="rhel10")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert screen_name(app) == "ReviewScreen"

    async def test_without_an_answers_file_the_wizard_opens_at_welcome(self, tmp_path):
        app, _session = prefilled(tmp_path, SELF_SIGNED)
        app.core.answers_file = False  # the same answers, not from a file (the tests' sessions, --resume)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert screen_name(app) == "WelcomeScreen"


def test_every_reference_file_holds_what_its_screens_require():
    from mailwizard.sections import SECTIONS
    from mailwizard.wizard import missing_from_file

    REQUIRED = [s.key for s in SECTIONS if s.required]

    for path in sorted(ANSWERS.glob("*.toml")):
        answers, _ = answers_mod.parse(path.read_text())
        screens = ("welcome", "postfix") if not answers.dovecot_enabled else tuple(REQUIRED)
        assert {s: missing_from_file(s, answers.raw) for s in screens} == {s: [] for s in screens}, path.name
    bare, _ = answers_mod.parse('[tls]\nself_signed = true\n[auth.ldap]\nbase = "dc=example,dc=com"\n')
    assert {s: missing_from_file(s, bare.raw) for s in REQUIRED} == {
        "welcome": ["server.hostname"], "tls": [], "auth": ["auth.backend"], "postfix": ["postfix.mode"]}
