"""Pilot tests of issue 15: the wizard asks less (answers the host gives are prefilled) and says more."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from mailwizard.app import create_app
from mailwizard.existing import prefill_session
from mailwizard.screens.welcome import WelcomeScreen
from tui_support import field_message, make_session, press, replace_input, settle, text_of, walk_to

SIZE = (80, 24)


def fresh_session(root, hostname: str = "mx.corp.example.net", mailname: str | None = None, **kwargs):
    """A session as a new run without answers starts it: nothing given, the host's names prefilled."""
    session = make_session(root, **kwargs)
    session.answers.server.hostname = session.answers.server.domain = ""
    session.host.state.hostname = hostname
    if mailname is not None:
        path = session.host.real("/etc/mailname")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(mailname + "\n")
    prefill_session(session, given=False)
    return session


def short_app(tmp_path, start: str | None = None):
    """A new dry run on the short path (a fresh host calling itself mail.example.com), opened at `start`."""
    session = fresh_session(tmp_path / "root", hostname="mail.example.com", dry_run=True)
    return session, create_app(session, [], short_path=True, start=start)


async def test_host_name_and_domain_come_from_the_host(tmp_path):
    """Issue 15 (3): `hostname -f` gives the host name, the host name's parent the mail domain."""
    session = fresh_session(tmp_path / "root")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        assert app.screen.query_one("#server-hostname", Input).value == "mx.corp.example.net"
        assert app.screen.query_one("#server-domain", Input).value == "corp.example.net"
        about = text_of(app.screen.query_one("#about"))
        assert "host name from hostname -f" in about and "mail domain from the host name" in about


async def test_mail_domain_comes_from_etc_mailname(tmp_path):
    session = fresh_session(tmp_path / "root", mailname="example.net")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#server-domain", Input).value == "example.net"
        assert "mail domain from /etc/mailname" in text_of(app.screen.query_one("#about"))


async def test_a_host_without_a_full_name_prefills_nothing(tmp_path):
    session = fresh_session(tmp_path / "root", hostname="localhost")
    assert (session.answers.server.hostname, session.answers.server.domain) == ("", "")


async def test_the_mail_domain_has_its_own_error_text(tmp_path):
    """Issue 15 (3): the domain's error spoke of the host name."""
    session = fresh_session(tmp_path / "root")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await replace_input(pilot, "#server-domain", "")
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, WelcomeScreen)
        message = field_message(app, "server.domain")
        assert message.startswith("error: is empty: give the domain of the mail addresses")
        assert "host name" not in message and "fully-qualified name" not in message
        await replace_input(pilot, "#server-domain", "localdomain")
        await press(pilot, "ctrl+n")
        assert "a mail domain has a dot, e.g. example.com" in field_message(app, "server.domain")


async def test_ticking_self_signed_clears_the_missing_certificate_messages(tmp_path):
    """Issue 15 (4): the "does not exist" messages stayed after "self-signed" was ticked."""
    from textual.widgets import Checkbox

    from mailwizard.screens.tls import TLSScreen

    session = make_session(tmp_path / "root", self_signed=False)
    app = create_app(session, [], start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TLSScreen)
        assert "does not exist" in field_message(app, "tls.cert")
        assert "does not exist" in field_message(app, "tls.key")
        # a fresh host has no certificate: the focus is on the choice to make first
        assert app.screen.focused is app.screen.query_one("#tls-self-signed", Checkbox)
        await press(pilot, "space")
        assert session.answers.tls.self_signed
        assert field_message(app, "tls.cert").strip() == "" and field_message(app, "tls.key").strip() == ""
        assert "problem" not in text_of(app.screen.query_one("#status"))


async def test_a_new_run_asks_five_screens_then_reviews(tmp_path):
    """Issue 15: the short path: the screens no default answers, "Everything else", the Review."""
    session = fresh_session(tmp_path / "root", hostname="mail.example.com", dry_run=True)
    session.answers.postfix.submission = False  # as the answers' default leaves it
    app = create_app(session, [], short_path=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "ReviewScreen")
        assert passed == ["WelcomeScreen", "TLSScreen", "AuthScreen", "PostfixModeScreen", "MoreScreen",
                          "ReviewScreen"]
        # issue 15 (9): a new mail server's users send mail through it
        assert session.answers.postfix.submission


async def test_everything_else_opens_any_screen_and_comes_back(tmp_path):
    from mailwizard.screens.more import MoreScreen
    from mailwizard.screens.postfix_submission import PostfixSubmissionScreen

    session, app = short_app(tmp_path, "more")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MoreScreen)
        line = text_of(app.screen.query_one("#summary-postfix_submission"))
        assert line.startswith("on: ports 587 and 465")
        app.screen.query_one("#open-postfix_submission").focus()
        await press(pilot, "enter")
        assert isinstance(app.screen, PostfixSubmissionScreen)
        bar = app.screen.query_one("StepBar").render().plain
        assert "Everything else >  Submission" in bar
        await press(pilot, "space")  # off
        await press(pilot, "escape")  # Back: to the page, which says what changed
        assert isinstance(app.screen, MoreScreen)
        assert text_of(app.screen.query_one("#summary-postfix_submission")).startswith("off:")
        app.screen.query_one("#open-postfix_submission").focus()
        await press(pilot, "enter", "space", "ctrl+n")  # Next comes back too
        assert isinstance(app.screen, MoreScreen) and session.answers.postfix.submission


async def test_everything_else_sends_next_to_a_screen_with_an_error(tmp_path):
    from mailwizard.screens.more import MoreScreen
    from mailwizard.screens.vmail import MailStoreScreen

    session, app = short_app(tmp_path, "more")
    session.answers.mailbox.root = "relative/path"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MoreScreen)
        assert "ERROR mailbox.root" in text_of(app.screen.query_one("#summary-vmail"))
        assert "1 screen(s) to open" in text_of(app.screen.query_one("#status"))
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, MailStoreScreen)


async def test_the_dry_run_review_asks_before_quitting_and_saves_the_answers(tmp_path):
    """Issue 15 (2): Next on a dry run's Review quit at once, and its answers could not be saved."""
    from textual.widgets import Input as TextInput

    from mailwizard.screens.confirm import ChoiceScreen
    from mailwizard.screens.report_dialogs import SaveAnswersScreen
    from mailwizard.screens.review import ReviewScreen

    session = make_session(tmp_path / "root", dry_run=True, answers="sql.toml")
    session.answers.auth.sql.password = "s3cret-typed"  # typed on the screen: never saved
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, ChoiceScreen), "Next on a dry run's Review asks first"
        await press(pilot, "escape")
        assert isinstance(app.screen, ReviewScreen) and app.is_running  # Stay
        await press(pilot, "ctrl+n", "s")
        assert isinstance(app.screen, SaveAnswersScreen)
        path = tmp_path / "saved.toml"
        field = app.screen.query_one("#path", TextInput)
        field.value = str(path)
        await press(pilot, "enter")
        assert not app.is_running and app.return_value == 0
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert 'backend = "sql"' in text and "s3cret-typed" not in text
    assert app.farewell.startswith(f"mailwizard: answers saved to {path}")


async def test_quit_on_the_dry_run_review_leaves_with_nothing_saved(tmp_path):
    from mailwizard.screens.confirm import ChoiceScreen

    session = make_session(tmp_path / "root", dry_run=True)
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+n")
        assert isinstance(app.screen, ChoiceScreen)
        await press(pilot, "q")
        assert not app.is_running and app.return_value == 0 and app.farewell == ""


async def test_esc_pressed_quickly_several_times_goes_back_as_many_screens(tmp_path):
    """Issue 15 (8): a second Esc while the first was still leaving its screen was dropped."""
    session = make_session(tmp_path / "root")
    app = create_app(session, [], start="lmtp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = app.screen_keys()
        at = keys.index("lmtp")
        # a terminal's quick presses reach the screen they were pressed on while it is still leaving
        # (tmux, 6 at once: 5 or 4 screens back before): each counts
        screen = app.screen
        for _ in range(4):
            screen.action_back()
        for _ in range(3):
            await settle(pilot)
        assert keys[at - 4] == app.screen.KEY, f"{app.screen.KEY}, expected {keys[at - 4]} ({keys})"
        for _ in range(12):  # more than there are screens: it stops at Welcome
            app.post_message(events.Key("escape", "\x1b"))
        for _ in range(5):
            await settle(pilot)
        assert app.screen.KEY == "welcome" and app.pending_back == 0


def escape() -> events.Key:
    return events.Key("escape", "\x1b")


async def test_esc_that_comes_while_the_next_screen_is_being_put_up_counts_and_crashes_nothing(tmp_path):
    """Issue 15: an Esc handled in the instant between one screen leaving (moved on by its answers' check,
    a worker's message, not a key) and the next being composed reached the new screen before its widgets
    existed: the wizard stopped with NoMatches. It is kept, and the new screen goes back for it."""
    _, app = short_app(tmp_path, start="auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = app.screen_keys()
        app.screen.leave(forward=True)  # what the check's message does when the answers pass
        assert not app.screen.children, "the next screen is not composed yet"
        app.post_message(escape())
        app.post_message(escape())
        for _ in range(3):
            await settle(pilot)
        assert keys[keys.index("auth") - 1] == app.screen.KEY and app.pending_back == 0


async def test_esc_pressed_while_next_is_checking_goes_back_from_the_next_screen(tmp_path, monkeypatch):
    """Issue 15: ctrl+n then Esc, quickly: the Esc came while the answers were being checked and went back
    from the screen being left, so the wizard ended a screen before where the presses lead (Next, Back: the
    same screen); on the first screen such a press does nothing."""
    import threading

    from mailwizard.screens import base

    gate = threading.Event()
    checking = threading.Event()
    real = base.problems_of

    def slow(*args):
        checking.set()
        gate.wait(timeout=30)
        return real(*args)

    _, app = short_app(tmp_path, start="tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = app.screen_keys()
        monkeypatch.setattr(base, "problems_of", slow)
        for presses, at in ((["ctrl+n", "escape"], "tls"), (["ctrl+n", "escape", "escape"], "welcome"),
                            (["ctrl+n", "escape", "escape", "escape"], "welcome")):
            gate.clear()
            checking.clear()
            await pilot.press(*presses)  # Esc while the check waits at the gate
            for _ in range(200):
                if checking.is_set():
                    break
                await pilot.pause()
            assert checking.is_set() and app.screen.KEY in ("tls", "welcome")
            gate.set()
            for _ in range(3):
                await settle(pilot)
            assert at == app.screen.KEY, f"{presses}: at {app.screen.KEY}, expected {at} ({keys})"
            assert app.pending_back == 0
            if at == "welcome":
                await press(pilot, "ctrl+n")
                assert app.screen.KEY == "tls", "Next still works after the presses the first screen dropped"


async def test_esc_pressed_quickly_at_startup_counts_or_does_nothing_on_the_first_screen(tmp_path):
    """Issue 15: Esc presses arriving before the first screen is up: each goes back once (here from the
    Postfix screen, the 4th), and those beyond the first screen do nothing; Next works afterwards."""
    for presses, at in ((2, "tls"), (6, "welcome")):
        _, app = short_app(tmp_path / str(presses), start="postfix")
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(presses):
                app.post_message(escape())
            for _ in range(3):
                await settle(pilot)
            assert at == app.screen.KEY and app.pending_back == 0
            await press(pilot, "ctrl+n")
            assert app.following(at) == app.screen.KEY


async def test_resume_after_an_interrupted_apply_opens_at_the_review_without_a_hand_made_warning(tmp_path):
    """Issue 15 (7): --resume opened at Welcome and took the wizard's own files for hand-made ones."""
    from mailwizard.screens.review import ReviewScreen

    first = make_session(tmp_path / "root")
    first.apply(first.plan())
    with first.journal() as journal:
        journal.save_state(status="applying")  # as a run killed while applying leaves it
    session = make_session(tmp_path / "root")
    assert not [p for p in session.problems() if p.key == "existing"]
    app = create_app(session, [], resume=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert "made by hand" not in text_of(app.screen.query_one("#plan-problems"))
    # an edit of the administrator's after the wizard wrote the file is still one
    main_cf = session.host.real("/etc/postfix/main.cf")
    main_cf.write_text(main_cf.read_text() + "# the admin's\n")
    existing = [p.message for p in make_session(tmp_path / "root").problems() if p.key == "existing"]
    assert existing and "/etc/postfix/main.cf" in existing[0]


async def test_the_short_path_asks_an_ldap_servers_form(tmp_path):
    """No default can name an LDAP server: chosen on Authentication, its form is asked on the short path."""
    from mailwizard.screens.auth import AuthScreen

    session, app = short_app(tmp_path, "auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, AuthScreen)
        session.answers.auth.backend = "ldap"
        assert app.screen_keys()[:5] == ["welcome", "tls", "auth", "auth_ldap", "postfix"]
        assert "auth_ldap" not in app.summarised() and "auth_pam" not in app.summarised()
        session.answers.auth.backend = "pam"
        assert "auth_pam" in app.summarised() and "auth_ldap" not in app.screen_keys()


async def test_everything_else_moves_between_its_lines_with_the_arrows(tmp_path):
    from mailwizard.screens.more import MoreScreen

    _, app = short_app(tmp_path, "more")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MoreScreen)
        first = app.screen.query_one(f"#open-{app.summarised()[0]}")
        first.focus()
        await press(pilot, "down")
        assert app.screen.focused is app.screen.query_one(f"#open-{app.summarised()[1]}")
        await press(pilot, "up", "enter")
        assert app.summarised()[0] == app.screen.KEY


async def test_everything_else_summarises_outbound_mail(tmp_path):
    session, app = short_app(tmp_path, "more")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert text_of(app.screen.query_one("#summary-outbound")).strip() == "no DKIM signing; mail sent directly"
    session.answers.dkim.enabled, session.answers.dkim.selector = True, "s2026"
    session.answers.postfix.relayhost, session.answers.postfix.relay_user = "[smtp.example.net]:587", "mailer"
    from mailwizard.screens.outbound import OutboundScreen
    assert OutboundScreen.summary(session.answers) == (
        f"DKIM signing as s2026 for {session.answers.server.domain}; "
        "relay host [smtp.example.net]:587 with a login as mailer")
