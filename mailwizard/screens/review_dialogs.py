"""The Review's dialogs: the list of the plan's sections to go to, and the text to look for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static


class SectionsScreen(ModalScreen[int | None]):
    """The plan's sections, one a line: Enter goes to the one chosen (its index), Esc goes nowhere."""

    DEFAULT_CSS = """
    SectionsScreen { align: center middle; }
    SectionsScreen OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, titles: list[str]) -> None:
        super().__init__()
        self.titles = titles

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Go to a section of the plan (Enter; Esc: stay)", classes="dialog-title")
            yield OptionList(*self.titles, id="sections")

    def on_mount(self) -> None:
        self.query_one("#sections", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SearchScreen(ModalScreen[str | None]):
    """The text to look for in the plan (any case); Enter looks, Esc does not."""

    DEFAULT_CSS = """
    SearchScreen { align: center middle; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, needle: str = "") -> None:
        super().__init__()
        self.needle = needle

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Look for (a setting, a file, a command; n finds the next)", classes="dialog-title")
            yield Input(self.needle, id="needle", placeholder="smtpd_tls_cert_file")

    def on_mount(self) -> None:
        self.query_one("#needle", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
