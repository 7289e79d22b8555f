"""A yes/no question over the current screen: ModalScreen[bool]."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismissed with True for yes (y, or the yes button) and False for no (n, Esc, or the no button).

    The safe answer (no) has the focus, so a stray Enter never applies anything.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("left,right", "switch", show=False),
    ]

    def __init__(self, title: str, text: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.text, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.no} (n)", id="no", compact=True)
                yield Button(f"{self.yes} (y)", id="yes", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_switch(self) -> None:
        self.focus_next()


class ChoiceScreen(ModalScreen[str]):
    """One of a few answers, each a button with its key: dismissed with the chosen answer's key,
    or `cancel`'s with Esc. The focus starts on `cancel`'s button (the safe answer)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("left,right", "switch", show=False)]

    def __init__(self, title: str, text: str, choices: list[tuple[str, str]], cancel: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.choices = choices  # (key, label): the key is also the button's keyboard shortcut
        self.cancel = cancel

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.text, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for key, label in self.choices:
                    yield Button(f"{label} ({'Esc' if key == self.cancel else key})", id=f"choice-{key}",
                                 compact=True)

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self.cancel}", Button).focus()

    def on_key(self, event) -> None:
        if event.character and any(key == event.character for key, _ in self.choices):
            event.stop()
            self.dismiss(event.character)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(self.cancel)

    def action_switch(self) -> None:
        self.focus_next()
