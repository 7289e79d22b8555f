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

from mailwizard.answers import Problem
from mailwizard.sections import Section, key_matches, section
from mailwizard.widgets import Field, FieldMessages, ResultView, StepBar, field_id
from mailwizard.wizard import from_answers_file, problems_of

if TYPE_CHECKING:
    from mailwizard.app import MailWizard
    from mailwizard.engine import Session


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

    KEY: ClassVar[str] = ""  # its page in sections.py, which says the rest (guide sections, answers keys)
    HEADING: ClassVar[str] = ""
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

    @property
    def page(self) -> Section:
        return section(self.KEY)

    def compose(self) -> ComposeResult:
        yield StepBar(self.wizard.step_titles(self.KEY), self.KEY)
        heading = self.HEADING + (f"  (guide {self.page.guide})" if self.page.guide else "")
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
            self.app.push_screen(HelpScreen(self.HEADING, self.page.guide, self.HELP))

    def set_status(self, text: str, style: str = "") -> None:
        status = self.query_one("#status", Static)
        status.update(text)
        status.set_classes(style)


class FormScreen(WizardScreen):
    """A screen with fields: on Next the fields go into the answers and are checked.

    Errors are shown under their fields and keep the wizard on this screen;
    warnings are shown and do not.
    """


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
            problems = problems_of(self.session, self.page)
        except Exception as exc:  # shown to the admin, never a traceback
            problems = [Problem(self.page.answers[0].rstrip("."), f"could not be checked: {type(exc).__name__}: {exc}")]
        problems += [p for p in from_answers_file(self.wizard.core.structural) if key_matches(p.key, self.page.answers)]
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
