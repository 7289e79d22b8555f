"""The Report's two dialogs: the DNS records to publish, and saving a copy of the answers."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

DEFAULT_ANSWERS_COPY = "/root/mailwizard-answers.toml"


class DnsRecordsScreen(ModalScreen[None]):
    """The zone-file lines, in a read-only text area the administrator can select and copy from."""

    DEFAULT_CSS = """
    DnsRecordsScreen { align: center middle; }
    DnsRecordsScreen #dns-dialog { width: 100%; height: 22; }
    DnsRecordsScreen TextArea { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, zone: str) -> None:
        super().__init__()
        self.zone = zone

    def compose(self) -> ComposeResult:
        with Vertical(id="dns-dialog", classes="dialog"):
            yield Static("DNS records to publish (zone-file lines; select to copy)", classes="dialog-title")
            yield TextArea(self.zone, read_only=True, soft_wrap=False, show_line_numbers=False, id="zone")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close (Esc)", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#zone", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class SaveAnswersScreen(ModalScreen[str | None]):
    """Asks where to save a copy of the answers; dismissed with the path, or None when cancelled."""

    DEFAULT_CSS = """
    SaveAnswersScreen { align: center middle; }
    SaveAnswersScreen Input { margin: 0 0 1 0; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, error: str = "", path: str = DEFAULT_ANSWERS_COPY) -> None:
        super().__init__()
        self.error = error
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Save a copy of the answers", classes="dialog-title")
            yield Static("Secrets are left out: only their files are named. `mailwizard --answers FILE` "
                         "with this copy on a new host builds the same server.", classes="dialog-text")
            yield Input(self.path, id="path")
            yield Static(self.error, id="save-error", classes="dialog-text -error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (Esc)", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#save-error", Static).display = bool(self.error)
        self.query_one("#path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.query_one("#path", Input).value.strip() if event.button.id == "save" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
