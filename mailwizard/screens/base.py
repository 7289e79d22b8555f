"""What every wizard screen shares: the step bar, Back/Next, help, and field validation.

A screen owns no logic: it writes its fields into `session.answers`, asks the
session for problems (in a thread worker) and shows each one under the field
whose answers key it names. Keys no field shows are listed on the screen that
owns them (preflight on Welcome) or on Review.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from mailwizard.answers import Problem, validate
from mailwizard.widgets import Field, StepBar

if TYPE_CHECKING:
    from mailwizard.app import MailWizard
    from mailwizard.engine import Session

# keys a screen shows, by screen
WELCOME_KEYS = ("server.", "platform", "ports", "disk", "existing")
TLS_KEYS = ("tls.",)


def key_matches(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or (p.endswith(".") and key.startswith(p)) for p in prefixes)


def owner_screen(key: str) -> str | None:
    """The title of the screen where the administrator fixes `key`, or None (answers file only)."""
    if key_matches(key, WELCOME_KEYS):
        return "Welcome"
    if key_matches(key, TLS_KEYS):
        return "TLS"
    return None


def from_answers_file(problems: list[Problem]) -> list[Problem]:
    """Structural problems of the answers file, as warnings: the default replaced the value."""
    return [Problem(p.key, f"the answers file's value was ignored ({p.message}); "
                           "the default is used", "warning") for p in problems]


def problems_for(session: "Session", prefixes: tuple[str, ...], steps: tuple[str, ...]) -> list[Problem]:
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
        Binding("ctrl+n", "next", "Next"),
        Binding("escape", "back", "Back"),
        Binding("f1", "help", "Help", priority=True),
        Binding("question_mark", "help", "Help", show=False),
    ]

    @property
    def wizard(self) -> "MailWizard":
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> "Session":
        return self.wizard.session

    def compose(self) -> ComposeResult:
        yield StepBar(self.wizard.step_titles(), self.KEY)
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

    def on_mount(self) -> None:
        if self.wizard.previous(self.KEY) is None:
            self.query_one("#back", Button).disabled = True

    # --- navigation ----------------------------------------------------------
    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    _leaving = False

    def leave(self, forward: bool) -> None:
        """Go to the next (or previous) screen, once: a second key press while leaving is ignored."""
        if self._leaving or not self.is_current:
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

    def fields(self) -> list[Field]:
        return list(self.query(Field))

    def collect(self) -> None:
        """Write the fields into session.answers."""

    def show_problems(self, problems: list[Problem]) -> None:
        for f in self.fields():
            f.show(problems)

    def on_mount(self) -> None:
        super().on_mount()
        self.check(advance=False)

    def action_next(self) -> None:
        if self.query_one("#next", Button).disabled:
            return  # still checking
        self.collect()
        self.query_one("#next", Button).disabled = True
        self.set_status("Checking...")
        self.check(advance=True)

    def action_back(self) -> None:
        self.collect()  # kept, not checked: they are checked on the way forward
        super().action_back()

    @work(thread=True, exclusive=True, group="check")
    def check(self, advance: bool) -> None:
        try:
            problems = problems_for(self.session, self.PREFIXES, self.STEPS)
        except Exception as exc:  # shown to the admin, never a traceback
            problems = [Problem(self.PREFIXES[0].rstrip("."), f"could not be checked: {type(exc).__name__}: {exc}")]
        problems += [p for p in from_answers_file(self.wizard.structural) if key_matches(p.key, self.PREFIXES)]
        self.post_message(ProblemsChecked(problems, advance))

    @on(ProblemsChecked)
    def _checked(self, message: ProblemsChecked) -> None:
        self.query_one("#next", Button).disabled = False
        self.show_problems(message.problems)
        errors = [p for p in message.problems if p.severity == "error"]
        if errors:
            self.set_status(f"{len(errors)} problem(s) to fix", "-error")
        else:
            self.set_status("")
        if not message.advance:
            return
        if errors:
            invalid = list(self.query("Input.-invalid"))
            if invalid:
                invalid[0].focus()
            return
        self.leave(forward=True)

    @on(Input.Blurred)
    def _left_field(self) -> None:
        """Leaving a field checks the screen again, so a corrected field loses its error at once."""
        if self.is_current and not self._leaving:
            self.collect()
            self.check(advance=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter in a field moves on to the next field (ctrl+n moves on to the next screen)."""
        event.stop()
        self.focus_next()
