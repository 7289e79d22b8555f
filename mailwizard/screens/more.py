"""Everything else: the screens whose defaults suit most servers, a line each, with a way into any of them.

On the short path (a new run without answers, issue 15) the wizard asks only
what no default can answer (the host's names, the certificate, where users are,
what Postfix is) and then shows this page: a line per remaining screen saying
what it will do, a button to open it (its Back and Next come back here), and
the problems of any screen that needs an answer. Next goes to the first screen
with an error, else to the Review.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Static

from mailwizard.answers import Problem
from mailwizard.screens.base import WizardScreen
from mailwizard.sections import key_matches, section
from mailwizard.wizard import problems_of

HELP = """\
The screens on this page have defaults that suit most mail servers: each
line says what the wizard will do. Open one (Up/Down or Tab to its button,
Enter) to see or change it; its **Back** and **Next** bring you back here.

A screen whose answers have an error is marked ERROR and must be opened;
**Next** opens the first such screen, else goes on to the **Review**, where
every change is shown before anything is done.
"""


class SummaryChecked(Message):
    def __init__(self, problems: dict[str, list[Problem]]) -> None:
        super().__init__()
        self.problems = problems


class MoreScreen(WizardScreen):
    KEY = "more"
    HEADING = "Everything else: defaults that suit most servers"
    HELP = HELP

    DEFAULT_CSS = """
    MoreScreen .summary-row { height: auto; margin: 0 0 0 0; }
    MoreScreen .summary-row > Button { width: 16; min-width: 16; margin: 0 1 0 0; }
    MoreScreen .summary-row > Static { width: 1fr; }
    """

    BINDINGS = [Binding("down", "app.focus_next", show=False), Binding("up", "app.focus_previous", show=False)]

    problems: dict[str, list[Problem]] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("Open any of them to change it (Up/Down, Enter); Next goes on to the Review.",
                     classes="intro")
        for key in self.wizard.summarised():
            with Horizontal(classes="summary-row"):
                yield Button(section(key).title, id=f"open-{key}", compact=True)
                yield Static(self.line(key), id=f"summary-{key}")

    def line(self, key: str, problems: list[Problem] | None = None) -> Text:
        from mailwizard.app import make_screen_class

        text = Text(make_screen_class(key).summary(self.session.answers))
        for p in [p for p in problems or [] if p.severity == "error"][:1]:
            text.append("\nERROR ", style="bold red")
            text.append(f"{p.key}: {p.message}")
        return text

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next", Button).focus()
        self.check()

    @work(thread=True, exclusive=True, group="summary")
    def check(self) -> None:
        found: dict[str, list[Problem]] = {}
        for key in self.wizard.summarised():
            page = section(key)
            if not page.answers:
                continue
            try:
                found[key] = problems_of(self.session, page)
            except Exception as exc:  # shown, never a traceback
                found[key] = [Problem(page.answers[0].rstrip("."), f"could not be checked: {exc}")]
        self.post_message(SummaryChecked(found))

    @on(SummaryChecked)
    def _checked(self, message: SummaryChecked) -> None:
        self.problems = message.problems
        for key, problems in message.problems.items():
            for widget in self.query(f"#summary-{key}"):
                if isinstance(widget, Static):
                    widget.update(self.line(key, problems))
        bad = self.with_errors()
        self.set_status(f"{len(bad)} screen(s) to open" if bad else "", "-error" if bad else "")

    def with_errors(self) -> list[str]:
        return [key for key, problems in self.problems.items()
                if any(p.severity == "error" and key_matches(p.key, section(key).answers) for p in problems)]

    @on(Button.Pressed, ".summary-row > Button")
    def _open(self, event: Button.Pressed) -> None:
        event.stop()
        self.wizard.open_summarised((event.button.id or "").removeprefix("open-"))

    def action_next(self) -> None:
        bad = self.with_errors()
        if bad:
            self.wizard.open_summarised(bad[0])
        else:
            super().action_next()
