"""The help for a screen: what its settings do, with the guide's section number."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static


class HelpScreen(ModalScreen[None]):
    """A modal with the screen's help text; Escape, F1, q or Close dismisses it."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("f1", "close", "Close", show=False, priority=True),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, heading: str, guide: str, text: str) -> None:
        super().__init__()
        self.heading = heading
        self.guide = guide
        self.text = text

    def compose(self) -> ComposeResult:
        title = f"Help: {self.heading}" + (f" (guide {self.guide})" if self.guide else "")
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(title, classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Markdown(self.text)
            yield Button("Close (Esc)", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
