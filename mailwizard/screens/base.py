"""What every wizard screen shares: the step bar, Back/Next, help, and field validation.

A screen owns no logic: it writes its fields into `session.answers`, asks the
session for problems (in a thread worker) and shows each one under the field
whose answers key it names. Keys no field shows are listed on the screen that
owns them (preflight on Welcome) or on Review.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal, cast, overload

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Static

from mailwizard.answers import Problem, in_file, validate
from mailwizard.widgets import Field, FieldMessages, ResultView, StepBar, field_id

if TYPE_CHECKING:
    from mailwizard.app import MailWizard
    from mailwizard.engine import Session

# keys a screen shows, by screen ("x." covers every key below x)
WELCOME_KEYS = ("server.", "platform", "ports", "disk", "existing")
TLS_KEYS = ("tls.",)
MAILSTORE_KEYS = ("mailbox.",)
AUTH_KEYS = ("auth.backend", "auth.mechanisms", "auth.sasl_listener", "auth.sasl_port", "auth.sasl_allow_from")
PAM_KEYS = ("auth.first_valid_uid", "auth.last_valid_uid")
LDAP_KEYS = ("auth.ldap.",)
SQL_KEYS = ("auth.sql.",)
PROTOCOLS_KEYS = ("protocols", "protocols.", "firewall.")
MAILBOXES_KEYS = ("mailboxes", "mailboxes.")
LMTP_KEYS = ("lmtp.",)
POSTFIX_MODE_KEYS = ("postfix.mode", "postfix.inet_interfaces", "postfix.mynetworks", "postfix.myorigin",
                     "postfix.relayhost")
POSTFIX_ALIASES_KEYS = ("postfix.virtual_alias_source", "postfix.virtual_aliases", "postfix.virtual_alias_domains",
                        "postfix.ldap_aliases.")
POSTFIX_TLS_KEYS = ("postfix.tls_cert", "postfix.tls_key", "postfix.tls_loglevel")
POSTFIX_DELIVERY_KEYS = ("postfix.delivery", "postfix.virtual_mailboxes", "postfix.virtual_mailbox_domains",
                         "postfix.lmtp_host", "postfix.lmtp_port", "postfix.sasl_host", "postfix.sasl_port")
POSTFIX_SUBMISSION_KEYS = ("postfix.submission", "postfix.smtps", "postfix.sender_login_mismatch")
POSTFIX_LIMITS_KEYS = ("postfix.limits", "postfix.limits.")
SIEVE_KEYS = ("sieve.",)
OUTBOUND_KEYS = ("dkim.", "postfix.relay_user", "postfix.relay_password", "postfix.relay_password_file",
                 "postfix.relayhost")
REPLICATION_KEYS = ("replication.",)

# the screen (its key in app.SCREENS) that owns each group of keys
OWNERS = {"welcome": WELCOME_KEYS, "tls": TLS_KEYS, "mailstore": MAILSTORE_KEYS, "auth": AUTH_KEYS,
          "auth_pam": PAM_KEYS, "auth_ldap": LDAP_KEYS, "auth_sql": SQL_KEYS,
          "protocols": PROTOCOLS_KEYS, "mailboxes": MAILBOXES_KEYS, "lmtp": LMTP_KEYS,
          "sieve": SIEVE_KEYS, "replication": REPLICATION_KEYS,
          "postfix_mode": POSTFIX_MODE_KEYS, "postfix_tls": POSTFIX_TLS_KEYS,
          "postfix_aliases": POSTFIX_ALIASES_KEYS, "postfix_delivery": POSTFIX_DELIVERY_KEYS,
          "postfix_submission": POSTFIX_SUBMISSION_KEYS, "postfix_limits": POSTFIX_LIMITS_KEYS,
          "outbound": OUTBOUND_KEYS}


# What an answers file must hold itself for its screen to be skipped (`mailwizard --answers FILE`): each
# entry lists alternatives, any one of which will do. Every other key has a default that is right for
# most servers (the mail store vmail:/var/mail in sdbox, IMAP+POP3+LMTP, PAM's uid 1000, the special-use
# mailboxes, LMTP on its unix socket, Sieve's port 4190, no replication, Postfix's TLS from Dovecot's
# certificate, loopback as mynetworks, no aliases, Postfix's own limits); where a default cannot be
# right (an LDAP or SQL server, a relay host, a replication partner), validation refuses it and the
# screen is asked for anyway. What must come from the administrator: the host name, the certificate
# (or a self-signed one), which backend checks passwords, and what Postfix is (internet site or null client).
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "welcome": (("server.hostname",),),
    "tls": (("tls.cert", "tls.self_signed", "tls.acme"), ("tls.key", "tls.self_signed", "tls.acme")),
    "auth": (("auth.backend",),),
    "postfix_mode": (("postfix.mode",),),
}


def missing_from_file(screen: str, raw: dict) -> list[str]:
    """The keys `screen` needs that the answers file does not hold."""
    return [alternatives[0] for alternatives in REQUIRED.get(screen, ())
            if not any(in_file(raw, key) for key in alternatives)]


def key_matches(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or (p.endswith(".") and key.startswith(p)) for p in prefixes)


def owner_screen(key: str) -> str | None:
    """The title of the screen where the administrator fixes `key`, or None (answers file only)."""
    from mailwizard.app import SCREENS

    titles = dict(SCREENS)
    for screen, prefixes in OWNERS.items():
        if key_matches(key, prefixes):
            return titles[screen]
    return None


def from_answers_file(problems: list[Problem]) -> list[Problem]:
    """Structural problems of the answers file, as warnings: the default replaced the value. A warning of
    the file (an unknown key, with the nearest known one) is shown as it is."""
    return [p if p.severity == "warning" else
            Problem(p.key, f"the answers file's value was ignored ({p.message}); the default is used", "warning")
            for p in problems]


def problems_for(session: Session, prefixes: tuple[str, ...], steps: tuple[str, ...]) -> list[Problem]:
    """The problems a screen shows: those whose key it owns.

    `Session.problems()` runs the host checks only when all the answers are
    valid; so that a screen can still show its own host checks while another
    screen's answer is invalid, the screen's own steps are then asked directly.
    """
    basic = validate(session.answers)
    if not any(p.severity == "error" for p in basic):
        return [p for p in session.problems() if key_matches(p.key, prefixes)]
    mine = [p for p in basic if key_matches(p.key, prefixes)]
    if not any(p.severity == "error" for p in mine):
        ctx = session.context()
        for step in session.active_steps():
            if step.name in steps:
                mine += [p for p in step.validate(session.answers, ctx) if key_matches(p.key, prefixes)]
    return sorted(mine, key=lambda p: p.severity != "error")


def displayed(widget: Widget) -> bool:
    """Whether the widget and all its containers are displayed (a hidden part of a form is not)."""
    node: DOMNode | None = widget
    while isinstance(node, Widget):
        if not node.display:
            return False
        node = node.parent
    return True


class ProblemsChecked(Message):
    """A screen's answers were checked (posted from a thread worker)."""

    def __init__(self, problems: list[Problem], advance: bool) -> None:
        super().__init__()
        self.problems = problems
        self.advance = advance


class WizardScreen(Screen):
    """A step of the wizard: step bar, heading, a scrolling body, Back and Next, the footer."""

    KEY: ClassVar[str] = ""
    HEADING: ClassVar[str] = ""
    GUIDE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next"
    SCROLL_BODY: ClassVar[bool] = True  # False: the body's own widgets scroll (logs, tables)

    BINDINGS = [
        Binding("ctrl+n", "press_next", "Next"),
        # priority: handled as the key comes in, not queued in a focused widget that goes with the
        # screen (Esc pressed quickly several times: each one counts, see action_press_back)
        Binding("escape", "press_back", "Back", priority=True),
        Binding("f1", "help", "Help", priority=True),
        Binding("question_mark", "help", "Help", show=False),
    ]

    @property
    def wizard(self) -> MailWizard:
        return cast("MailWizard", self.app)  # the only App the screens run in

    @property
    def session(self) -> Session:
        return self.wizard.session

    def compose(self) -> ComposeResult:
        yield StepBar(self.wizard.step_titles(self.KEY), self.KEY)
        heading = self.HEADING + (f"  (guide {self.GUIDE})" if self.GUIDE else "")
        yield Static(heading, classes="heading")
        with (VerticalScroll if self.SCROLL_BODY else Vertical)(id="body"):
            yield from self.compose_body()
        with Horizontal(id="nav"):
            yield Button("Back", id="back", compact=True)
            yield Static("", id="status")
            yield Button(self.NEXT_LABEL, id="next", variant="primary", compact=True)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    @classmethod
    def summary(cls, answers) -> str:
        """What the screen's answers do, in one line (the "Everything else" page)."""
        return ""

    def on_mount(self) -> None:
        if self.wizard.previous(self.KEY) is None:
            self.query_one("#back", Button).disabled = True
            self.wizard.pending_back = 0  # the first screen: there is nothing to go back to
        self._shown = True
        self.call_after_refresh(self.wizard.screen_shown)
        self.take_pending_back()

    # --- navigation ----------------------------------------------------------
    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    _shown = False  # mounted: its widgets are there (until then a key press is kept, see action_press_back)
    _leaving = False

    def moving_on(self) -> bool:
        """Whether Next was pressed and the screen is about to leave (FormScreen: its answers are checked)."""
        return False

    def action_press_back(self) -> None:
        """Esc, handled as it comes in by the screen shown at that instant. A press that comes while that
        screen is not ready for it (not mounted yet, leaving, or moving on after Next) is kept in
        `pending_back` for the screen shown next, which goes back once for it (take_pending_back): each
        press counts, in the order pressed, however quickly they come."""
        if self._shown and not self._leaving and not self.moving_on():
            self.action_back()
        else:
            self.wizard.pending_back += 1

    def take_pending_back(self) -> None:
        """Go back for an Esc pressed while this screen was not ready for it (one; the screen shown next takes
        the next one)."""
        if self.wizard.pending_back:
            self.wizard.pending_back -= 1
            self.call_after_refresh(self.action_press_back)

    def action_press_next(self) -> None:
        """Ctrl+N: a press while the screen is not there yet or is already leaving is ignored."""
        if self._shown and not self._leaving:
            self.action_next()

    def leave(self, forward: bool) -> None:
        """Go to the next (or previous) screen, once: a second Next while leaving is ignored, a second Back
        is kept for the screen shown next (it goes back from there)."""
        if self._leaving or not self.is_current:
            if self._leaving and not forward:
                self.wizard.pending_back += 1
            return
        self._leaving = True
        if forward:
            self.wizard.forward(self.KEY)
        else:
            self.wizard.backward(self.KEY)

    def action_next(self) -> None:
        if not self.query_one("#next", Button).disabled:
            self.leave(forward=True)

    def action_back(self) -> None:
        if not self.query_one("#back", Button).disabled:
            self.leave(forward=False)

    def action_help(self) -> None:
        from mailwizard.screens.help import HelpScreen

        if not isinstance(self.app.screen, HelpScreen):
            self.app.push_screen(HelpScreen(self.HEADING, self.GUIDE, self.HELP))

    def set_status(self, text: str, style: str = "") -> None:
        status = self.query_one("#status", Static)
        status.update(text)
        status.set_classes(style)


class FormScreen(WizardScreen):
    """A screen with fields: on Next the fields go into the answers and are checked.

    Errors are shown under their fields and keep the wizard on this screen;
    warnings are shown and do not.
    """

    PREFIXES: ClassVar[tuple[str, ...]] = ()
    STEPS: ClassVar[tuple[str, ...]] = ()

    # what collect() could not put into the answers (a port that is no number): refused at the field
    input_problems: list[Problem] = []
    _advancing = False  # Next was pressed: the answers are being checked, the screen leaves if they pass

    def moving_on(self) -> bool:
        return self._advancing

    def fields(self) -> list[Field]:
        return list(self.query(Field))

    def collect(self) -> None:
        """Write the fields into session.answers."""

    def _collect(self) -> None:
        self.input_problems = []
        self.collect()

    @overload
    def number(self, key: str, current: int, optional: Literal[False] = False) -> int: ...

    @overload
    def number(self, key: str, current: int | None, optional: bool = False) -> int | None: ...

    def number(self, key: str, current: int | None, optional: bool = False) -> int | None:
        """The whole number typed into the field of `key`; if it is none, the current value stays
        and the field is refused. `optional`: an empty field is None."""
        text = self.query_one(f"#field-{field_id(key)}", Field).value
        if not text and optional:
            return None
        try:
            return int(text)
        except ValueError:
            self.input_problems.append(Problem(key, f"{text!r} is not a whole number" if text else
                                               "is empty: give a whole number"))
            return current

    def show_problems(self, problems: list[Problem]) -> None:
        """Each problem under its field; those of keys no visible field shows under #form-messages."""
        for f in self.fields():
            f.show(problems)
        rest = self.query("#form-messages")
        if rest:
            shown = {f.key for f in self.fields() if displayed(f)}
            rest.first(FieldMessages).show([p for p in problems if p.key not in shown])

    def on_mount(self) -> None:
        super().on_mount()
        self.check(advance=False)

    def action_next(self) -> None:
        if self.query_one("#next", Button).disabled:
            return  # still checking
        self._collect()
        self.query_one("#next", Button).disabled = True
        self.set_status("Checking...")
        self._advancing = True
        self.check(advance=True)

    def action_back(self) -> None:
        self._collect()  # kept, not checked: they are checked on the way forward
        super().action_back()

    @work(thread=True, exclusive=True, group="check")
    def check(self, advance: bool) -> None:
        typed = list(self.input_problems)
        try:
            problems = problems_for(self.session, self.PREFIXES, self.STEPS)
        except Exception as exc:  # shown to the admin, never a traceback
            problems = [Problem(self.PREFIXES[0].rstrip("."), f"could not be checked: {type(exc).__name__}: {exc}")]
        problems += [p for p in from_answers_file(self.wizard.structural) if key_matches(p.key, self.PREFIXES)]
        self.post_message(ProblemsChecked(typed + problems, advance))

    @on(ProblemsChecked)
    def _checked(self, message: ProblemsChecked) -> None:
        self.query_one("#next", Button).disabled = False
        self.show_problems(message.problems)
        errors = [p for p in message.problems if p.severity == "error"]
        if errors:
            self.set_status(f"{len(errors)} problem(s) to fix", "-error")
        elif missing := self.wizard.unanswered(self.KEY):
            self.set_status(f"answers file lacks {', '.join(missing)}: check, then Next", "-warning")
        else:
            self.set_status("")
        if not message.advance:
            return
        self._advancing = False
        if errors:
            invalid = [w for w in self.query("Input.-invalid, RadioSet.-invalid, Checkbox.-invalid")
                       if displayed(w)]
            if invalid:
                invalid[0].focus()
                if isinstance(invalid[0], Input):
                    invalid[0].select_all()  # typing replaces the refused value (it had the focus already)
            self.take_pending_back()  # an Esc pressed while checking: the screen stays, so it goes back
            return
        self.leave(forward=True)  # an Esc pressed while checking goes back from the next screen

    @on(Input.Blurred)
    def _left_field(self) -> None:
        """Leaving a field checks the screen again, so a corrected field loses its error at once."""
        if self.is_current and not self._leaving:
            self._collect()
            self.check(advance=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter in a field moves on to the next field (ctrl+n moves on to the next screen)."""
        event.stop()
        self.focus_next()


class ConnectionTested(Message):
    """A Test connection finished (posted from its thread worker)."""

    def __init__(self, ok: bool, lines: list[str]) -> None:
        super().__init__()
        self.ok = ok
        self.lines = lines


class ConnectionTestScreen(FormScreen):
    """A backend's form with a Test connection action (button and ctrl+t).

    The test runs `backend_test()`'s function in a thread worker with a copy
    of the answers, so the screen stays usable while a server takes its time
    to answer (or not); the lines that come back are shown as they are,
    the server's own error included.
    """

    BINDINGS = [Binding("ctrl+t", "test_connection", "Test connection")]
    TESTING = "Testing the connection..."
    TEST_LABEL = "Test connection (ctrl+t)"

    testing = False

    def compose_test(self, intro: str) -> ComposeResult:
        """The heading of the Test connection part of the form, and what the test does;
        the screen's test fields (a test user...) follow, then compose_test_button()."""
        yield Static("Test connection", classes="section")
        yield Static(intro, classes="intro")

    def compose_test_button(self) -> ComposeResult:
        """The Test connection button and, under it, the result."""
        with Horizontal(classes="test-row"):
            yield Button(self.TEST_LABEL, id="test-connection", compact=True)
        yield ResultView(id="test-result")

    def backend_test(self):
        """A function without arguments that runs the test and returns a backends.TestResult;
        called after the fields went into the answers, run in a thread."""
        raise NotImplementedError

    @on(Button.Pressed, "#test-connection")
    def _test_pressed(self) -> None:
        self.action_test_connection()

    def action_test_connection(self) -> None:
        if self.testing:
            return
        self._collect()
        self.check(advance=False)  # the problems shown follow what the test uses
        self.testing = True  # the button keeps the focus; pressed again while testing, it does nothing
        self.query_one("#test-connection", Button).label = "Testing..."
        result = self.query_one("#test-result", ResultView)
        result.running(self.TESTING)
        self._run_test(self.backend_test())

    @work(thread=True, exclusive=True, group="test-connection", exit_on_error=False)
    def _run_test(self, test) -> None:
        try:
            outcome = test()
            ok, lines = bool(outcome.ok), [str(line) for line in outcome.lines]
        except Exception as exc:  # shown to the admin, never a traceback
            ok, lines = False, [f"the test could not run: {type(exc).__name__}: {exc}"]
        self.post_message(ConnectionTested(ok, lines))

    @on(ConnectionTested)
    def _tested(self, message: ConnectionTested) -> None:
        self.testing = False
        self.query_one("#test-connection", Button).label = self.TEST_LABEL
        result = self.query_one("#test-result", ResultView)
        result.show(message.ok, message.lines, "the connection works" if message.ok else "the test failed")
