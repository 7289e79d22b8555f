"""Pilot tests: the whole wizard by keyboard at 80x24, on a fake Debian 12 host."""

from __future__ import annotations

import pytest
from textual.widgets import Button, DataTable, Input, RichLog, Static

from mailwizard.app import create_app
from mailwizard.screens.apply import ApplyScreen
from mailwizard.screens.confirm import ConfirmScreen
from mailwizard.screens.help import HelpScreen
from mailwizard.screens.install import InstallScreen
from mailwizard.screens.report import ReportScreen
from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.tls import TLSScreen
from mailwizard.screens.welcome import WelcomeScreen
from tui_support import (
    JOURNAL,
    applied,
    field_message,
    forward,
    jump,
    make_session,
    press,
    replace_input,
    settle,
    text_of,
    walk_to,
)

SIZE = (80, 24)


async def install_started(pilot, host, seconds: float = 10) -> bool:
    for _ in range(int(seconds / 0.05)):
        if host.started.is_set():
            return True
        await pilot.pause(0.05)
    return False


def installs(host) -> list[list[str]]:
    return [argv for argv in host.commands if argv[:2] in (["apt-get", "install"], ["dnf", "install"])]


async def test_walk_to_report_by_keyboard(session):
    """Welcome -> Install -> TLS -> the Dovecot and Postfix screens -> Review -> Apply -> Report, keys only."""
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, InstallScreen)
        assert "dovecot-core" in text_of(app.screen.query_one("#packages", Static))
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, TLSScreen)
        passed = await walk_to(pilot, "ReviewScreen")
        assert passed == ["TLSScreen", "MailStoreScreen", "AuthScreen", "PamScreen", "ProtocolsScreen",
                          "MailboxesScreen", "LmtpScreen", "PostfixModeScreen", "PostfixTlsScreen",
                          "PostfixAliasesScreen", "PostfixDeliveryScreen", "PostfixSubmissionScreen",
                          "PostfixLimitsScreen", "OutboundScreen", "ReviewScreen"]
        assert "change(s)" in text_of(app.screen.query_one("#summary", Static))
        await press(pilot, "ctrl+n")  # Apply... asks first
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "y")
        assert isinstance(app.screen, ApplyScreen)
        await settle(pilot)
        screen = app.screen
        assert screen.result is not None and screen.result.status == "applied", screen.result
        assert "Done" in text_of(screen.query_one("#current", Static))
        assert screen.query_one("#progress").percentage == 1
        assert len(screen.query_one("#log", RichLog).lines) > 0
        assert installs(session.host), "the install command ran on the (fake) host"
        await press(pilot, "ctrl+n", "escape")  # the Report asks for a test account first: skipped
        assert isinstance(app.screen, ReportScreen)
        table = app.screen.query_one("#checks", DataTable)
        assert table.row_count == len(app.checks) > 0
        summary = text_of(app.screen.query_one("#summary", Static))
        assert "passed" in summary and "failed" in summary
        assert "PASS" in str(table.get_row_at(0)[0])
        # nothing listens on the fake host: some checks fail, so quitting says 1
        await press(pilot, "ctrl+n")
    assert app.return_value == 1
    assert session.host.real(JOURNAL).is_dir()


async def test_invalid_hostname_is_refused_at_the_field(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await replace_input(pilot, "#server-hostname", "mail")
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, WelcomeScreen), "an invalid host name must keep the wizard here"
        message = field_message(app, "server.hostname")
        assert "not fully qualified" in message and "mail.example.com" in message
        assert message.startswith("error:")
        assert app.screen.query_one("#server-hostname", Input).has_class("-invalid")
        assert app.screen.focused is app.screen.query_one("#server-hostname")
        # corrected, it moves on
        await replace_input(pilot, "#server-hostname", "mail.example.com")
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, InstallScreen)
        assert session.answers.server.hostname == "mail.example.com"


async def test_a_refused_field_is_selected_so_typing_replaces_it(session):
    """Issue 15 (1): retyping a refused value replaced it, where it was appended to."""
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await replace_input(pilot, "#server-hostname", "192.0.2.10")
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press(*"mail.example.com")  # no ctrl+u: the focus is still in the refused field
        assert app.screen.query_one("#server-hostname", Input).value == "mail.example.com"
        # refused again and reached by Tab from another field: selected too
        await replace_input(pilot, "#server-hostname", "mail")
        await press(pilot, "ctrl+n")
        app.screen.query_one("#server-domain", Input).focus()
        await pilot.pause()
        await pilot.press("shift+tab", *"mx.example.com")
        assert app.screen.query_one("#server-hostname", Input).value == "mx.example.com"


async def test_relative_key_path_is_refused_at_the_field(session):
    app = create_app(session, [], start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TLSScreen)
        await replace_input(pilot, "#tls-key", "private/server.key")
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, TLSScreen)
        message = field_message(app, "tls.key")
        assert "not an absolute path" in message and "start it with /" in message
        assert app.screen.query_one("#tls-key", Input).has_class("-invalid")
        assert not app.screen.query_one("#tls-cert", Input).has_class("-invalid")


async def test_tls_choices_are_written_into_the_answers(session):
    app = create_app(session, [], start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TLSScreen)
        assert screen.query_one("#tls-dh", Input).display is False
        screen.query_one("#tls-dh-choice").focus()
        await pilot.press("down", "enter")  # generate
        await forward(pilot, "MailStoreScreen")
        await jump(pilot, "review")
        assert session.answers.tls.dh == "generate"
        assert session.answers.tls.self_signed is True
        plan_text = text_of(app.screen.query_one("#plan", Static))
        assert "openssl dhparam -out /etc/dovecot/dh.pem 4096" in plan_text


async def test_next_parses_the_key_once_for_the_same_files(tmp_path, monkeypatch):
    """Every Next checks the answers on the host (the certificate and its key among them): the key's
    RSA validation runs once for the same bytes, not once per Next; a key copied over is parsed anew."""
    from support import cached_cert, key_parses

    loads = key_parses(monkeypatch)
    session = make_session(tmp_path / "root", self_signed=False)
    key, cert = cached_cert(session.answers.server.hostname)
    other_key, _ = cached_cert("other.example.com")
    tls = session.answers.tls
    for path, data in ((tls.cert, cert), (tls.key, key), (tls.ca, cert)):
        session.host.real(path).parent.mkdir(parents=True, exist_ok=True)
        session.host.real(path).write_bytes(data)
    app = create_app(session, [], start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await forward(pilot, "MailStoreScreen")
        await forward(pilot, "AuthScreen")
        await press(pilot, "escape", "escape")
        await forward(pilot, "MailStoreScreen")
        assert loads == [key], "one parse of the key for all these checks"
        session.host.real(tls.key).write_bytes(other_key)  # the wrong key copied over it
        await press(pilot, "escape")
        await forward(pilot, "TLSScreen")
        assert "does not match the certificate" in field_message(app, "tls.key")
    assert loads == [key, other_key]


async def test_help_opens_with_f1_and_question_mark_and_closes_with_escape(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "f1")  # the focus is in the host name field: F1 still works
        assert isinstance(app.screen, HelpScreen)
        assert "guide 2.1" in text_of(app.screen.query_one(".dialog-title"))
        await press(pilot, "escape")
        assert isinstance(app.screen, WelcomeScreen)
        # `?` typed into a field is a character, not a request for help
        assert isinstance(app.focused, Input)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, WelcomeScreen)
        assert app.screen.query_one("#server-hostname", Input).value.endswith("?")
        # away from a field, `?` opens the help
        app.screen.query_one("#next", Button).focus()
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await press(pilot, "escape")
        # the TLS screen's help names its section
        await replace_input(pilot, "#server-hostname", "mail.example.com")
        await press(pilot, "ctrl+n", "ctrl+n", "f1")
        assert isinstance(app.screen, HelpScreen)
        assert "guide 1.1.2" in text_of(app.screen.query_one(".dialog-title"))
        await press(pilot, "escape")
        assert isinstance(app.screen, TLSScreen)


async def test_back_returns_to_the_previous_screen(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+n", "ctrl+n")
        assert isinstance(app.screen, TLSScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, InstallScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, WelcomeScreen)
        await press(pilot, "escape")  # the first screen has nowhere to go back to
        assert isinstance(app.screen, WelcomeScreen)
        assert app.screen.query_one("#back", Button).disabled


async def test_dry_run_ends_at_review_and_changes_nothing(dry_session):
    session = dry_session
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "nothing will be changed" in text_of(app.screen.query_one("#about", Static))
        await walk_to(pilot, "ReviewScreen")
        button = app.screen.query_one("#next", Button)
        assert str(button.label) == "Quit (dry run: nothing was changed)"
        assert "Apply" not in [title for _, title in app.step_titles()]
        await press(pilot, "ctrl+n", "q")  # Quit asks first (and offers to save the answers)
    assert app.return_value == 0
    assert not session.host.real(JOURNAL).exists(), "a dry run writes no journal"
    assert installs(session.host) == []
    assert not session.host.real("/etc/dovecot/dh.pem").exists()


async def test_ctrl_c_during_apply_asks_and_stops_after_the_current_change(slow_session):
    session = slow_session
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+n")
        await pilot.press("y")  # not settled: the install waits for the gate
        assert await install_started(pilot, session.host), "the install should be running"
        assert isinstance(app.screen, ApplyScreen)
        apply_screen = app.screen
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Stop after the change" in text_of(app.screen.query_one(".dialog-text"))
        await pilot.press("y")
        await pilot.pause()
        assert apply_screen.cancel.is_set()
        session.host.gate.set()
        await settle(pilot)
        assert app.screen is apply_screen
        assert apply_screen.result.status == "stopped"
        assert apply_screen.result.done == 1
        assert "sudo mailwizard --resume" in text_of(apply_screen.query_one("#outcome", Static))
        await press(pilot, "ctrl+n")  # Quit
    assert app.return_value == 1


async def test_ctrl_c_during_apply_can_be_declined(slow_session):
    session = slow_session
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+n")
        await pilot.press("y")
        assert await install_started(pilot, session.host)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        session.host.gate.set()
        await settle(pilot)
        assert isinstance(app.screen, ApplyScreen)
        assert app.screen.result.status == "applied"


async def test_a_failed_change_is_shown_with_the_resume_advice(session):
    session.host.state.failing.add("systemctl")
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+n", "y")
        screen = app.screen
        assert isinstance(screen, ApplyScreen)
        assert screen.result.status == "failed"
        assert "FAILED" in text_of(screen.query_one("#current", Static))
        outcome = text_of(screen.query_one("#outcome", Static))
        assert "simulated failure" in outcome and "sudo mailwizard --resume" in outcome
        await press(pilot, "ctrl+n")
    assert app.return_value == 1


async def test_ctrl_c_elsewhere_asks_before_quitting(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+c")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "n")
        assert isinstance(app.screen, WelcomeScreen)
        await press(pilot, "ctrl+c", "y")
    assert app.return_value == 0


async def test_resume_opens_at_the_first_unverified_step(tmp_path):
    first = make_session(tmp_path / "root")
    first.apply(first.plan())
    first.record_verified(first.verify())  # TLS and services fail on the fake host
    assert first.first_unverified() == "tls"
    session = make_session(tmp_path / "root")
    app = create_app(session, [], resume=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TLSScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, InstallScreen)


async def test_answers_file_type_problems_are_shown_as_warnings(session):
    from mailwizard.answers import Problem

    structural = [Problem("server.domain", "must be a string in quotes, not 5")]
    app = create_app(session, structural)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        message = field_message(app, "server.domain")
        assert message.startswith("warning:") and "must be a string" in message
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, InstallScreen), "a warning does not block"


@pytest.mark.parametrize("term, colorterm, theme", [
    ("linux", "", "ansi-dark"),
    ("xterm-256color", "truecolor", "textual-dark"),
])
async def test_the_linux_console_gets_the_ansi_theme(session, monkeypatch, term, colorterm, theme):
    monkeypatch.setenv("TERM", term)
    monkeypatch.setenv("COLORTERM", colorterm)
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == theme


async def test_review_refuses_to_plan_while_an_answer_is_wrong(session):
    app = create_app(session, [], start="postfix_limits")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        session.answers.postfix.tls_loglevel = 9  # behind the Postfix TLS screen's back
        await forward(pilot, "OutboundScreen")
        await forward(pilot, "ReviewScreen")
        listed = text_of(app.screen.query_one("#plan-problems", Static))
        assert "ERROR" in listed and "postfix.tls_loglevel" in listed
        assert "fix it on the Postfix TLS screen" in listed
        assert app.screen.query_one("#next", Button).disabled
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, ReviewScreen), "nothing is applied while an answer is wrong"
        assert installs(session.host) == []


async def test_report_rows_show_their_evidence_and_fix_below(session):
    app = create_app(applied(session), [], start="report")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "escape")  # no test account
        assert isinstance(app.screen, ReportScreen)
        table = app.screen.query_one("#checks", DataTable)
        assert app.focused is table
        failing = next(i for i, c in enumerate(app.checks) if c.status == "fail")
        for _ in range(failing):
            await pilot.press("down")
        await settle(pilot)
        detail = text_of(app.screen.query_one("#detail-text", Static))
        check = app.checks[failing]
        assert detail.startswith("FAIL") and check.name in detail and f"fix: {check.fix}" in detail
        # each step's name is shown once, on the first row of its group
        steps = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        checked = [s.title for s in session.active_steps() if any(c.step == s.name for c in app.checks)]
        assert [s for s in steps if s] == checked
        assert {"Install", "TLS", "Virtual users", "Authentication", "Services"} <= set(checked)


async def test_choosing_generate_starts_dh_parameters_in_the_background(tmp_path, monkeypatch):
    from mailwizard.simulated import FakeHost
    from mailwizard.steps import tls as tls_step

    class RealishHost(FakeHost):
        runs_real_tools = True  # as on a real host run as root: the wizard may generate in the background

    calls = []

    def fake_pregenerate(host, journal_dir, on_line, cancel=None, bits=4096):
        calls.append((journal_dir, bits))
        on_line("generating 4096-bit DH parameters: 50 candidate primes tried")
        path = host.real(f"{journal_dir}/{tls_step.PREGENERATED}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"-----BEGIN DH PARAMETERS-----\nX\n-----END DH PARAMETERS-----\n")
        return True

    monkeypatch.setattr(tls_step, "pregenerate_dh", fake_pregenerate)
    session = make_session(tmp_path / "root", host_class=RealishHost)
    app = create_app(session, [], start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TLSScreen)
        screen.query_one("#tls-dh-choice").focus()
        await pilot.press("down", "enter")  # generate
        await settle(pilot)
        assert calls == [(JOURNAL, 4096)]
        assert text_of(screen.query_one("#tls-dh-status", Static)).strip() == "4096-bit DH parameters ready"
        await pilot.press("up", "enter", "down", "enter")  # away and back: started once only
        await settle(pilot)
        assert len(calls) == 1


def test_the_app_opens_only_at_a_screen_it_has(session):
    """create_app(start=KEY) names a screen of app.SCREENS (the tests open there); anything else is refused."""
    assert create_app(session, [], start="postfix_limits").start_screen() == "postfix_limits"
    assert create_app(session, []).start_screen() == "welcome"
    with pytest.raises(ValueError, match="no screen 'limits'"):
        create_app(session, [], start="limits")
