"""The Report's dialogs: the DNS records to publish, saving a copy of the answers, and the test account."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

if TYPE_CHECKING:
    from mailwizard.screens.base import WizardScreen

DEFAULT_ANSWERS_COPY = "/root/mailwizard-answers.toml"


class DnsRecordsScreen(ModalScreen[None]):
    """The zone-file lines in a read-only text area as wide as the terminal, each record whole (a long one
    wraps; the lines copied are the zone's own). c (or Ctrl+C) copies the selection, else every line, to the
    terminal's clipboard; `mailwizard verify` prints the same lines, for a terminal without one."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("c", "copy", "Copy")]

    def __init__(self, zone: str) -> None:
        super().__init__()
        self.zone = zone

    def compose(self) -> ComposeResult:
        with Vertical(id="dns-dialog", classes="dialog"):
            yield Static("DNS records to publish (zone-file lines)", classes="dialog-title")
            yield TextArea(self.zone, read_only=True, soft_wrap=True, show_line_numbers=False, id="zone",
                           compact=True)
            yield Static(COPY_HINT, id="dns-note", classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy (c)", id="copy", compact=True)
                yield Button("Close (Esc)", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#zone", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        """The selection, else every line, to the terminal's clipboard (OSC 52: the terminal may refuse it)."""
        selected = self.query_one("#zone", TextArea).selected_text
        self.app.copy_to_clipboard(selected or self.zone)
        what = "the selected text" if selected else "every record"
        self.query_one("#dns-note", Static).update(
            f"{what} copied to the terminal's clipboard, if it takes one (OSC 52); "
            "`sudo mailwizard verify` prints them too")

    def action_close(self) -> None:
        self.dismiss(None)


COPY_HINT = ("c copies every record (or the part selected with Shift+arrows) to the terminal's clipboard; "
             "`sudo mailwizard verify` prints them too")


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


def save_answers(screen: "WizardScreen", saved: Callable[[str], None], path: str = "",
                 error: str = "") -> None:
    """Ask where to save a copy of the answers (0600, secrets left out), whether to replace a file
    that is there, and save it; `saved(path)` once saved. A dry run saves on this machine, as the user
    running the wizard (Session.save_answers_copy's `here`), by default in the home directory."""
    import os

    session = screen.session
    here = session.dry_run
    default = os.path.expanduser("~/mailwizard-answers.toml") if here else DEFAULT_ANSWERS_COPY

    def save(path: str) -> None:
        if (msg := session.save_answers_copy(path, here=here)) is not None:
            save_answers(screen, saved, path, msg)  # ask again, with the reason
        else:
            saved(path)

    def chosen(path: str | None) -> None:
        if not path:
            return
        if (msg := session.answers_copy_problem(path, here)) is not None:
            save_answers(screen, saved, path, msg)  # a device, a directory, ...: said before "Replace?"
        elif os.path.exists(path) if here else session.host.exists(path):
            from mailwizard.screens.confirm import ConfirmScreen

            screen.app.push_screen(ConfirmScreen("Replace the file?", f"{path} exists; its contents would be "
                                                 "replaced by the answers.", yes="Replace", no="Keep it"),
                                   lambda yes: save(path) if yes else save_answers(screen, saved, path))
        else:
            save(path)
    screen.app.push_screen(SaveAnswersScreen(error, path or default), chosen)


class AccountPromptScreen(ModalScreen[tuple[str, str] | None]):
    """Asks for a mail account and its password to test logins with; dismissed with (user, password),
    or None when skipped. The password Input is masked and its value goes nowhere but the result."""

    DEFAULT_CSS = """
    AccountPromptScreen { align: center middle; }
    AccountPromptScreen .account-row { height: 1; margin: 0 0 1 0; }
    AccountPromptScreen .account-label { width: 12; text-style: bold; }
    AccountPromptScreen Input { width: 1fr; }
    """
    BINDINGS = [Binding("escape", "skip", "Skip")]

    def __init__(self, user: str = "", intro: str = "") -> None:
        super().__init__()
        self.user = user
        self.intro = intro

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="account-dialog"):
            yield Static("Test an account", classes="dialog-title")
            yield Static(self.intro or "Name a mail account and type its password: the report logs in as it "
                         "over IMAP, POP3 and submission, and sends it a message on port 25 that it reads back "
                         "and deletes. The password stays in memory: it is never saved, logged or shown.",
                         classes="dialog-text")
            with Horizontal(classes="account-row"):
                yield Static("User", classes="account-label")
                yield Input(self.user, placeholder="alice", id="test-user", compact=True)
            with Horizontal(classes="account-row"):
                yield Static("Password", classes="account-label")
                yield Input("", password=True, id="test-password", compact=True)
            yield Static("", id="account-error", classes="dialog-text -error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Skip (Esc)", id="skip", compact=True)
                yield Button("Test", id="test", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#account-error", Static).display = False
        self.query_one("#test-password" if self.user else "#test-user", Input).focus()

    def refuse(self, message: str, field: str) -> None:
        error = self.query_one("#account-error", Static)
        error.update(message)
        error.display = True
        self.query_one(field, Input).focus()

    def submit(self) -> None:
        user = self.query_one("#test-user", Input).value.strip()
        password = self.query_one("#test-password", Input).value
        if not user:
            self.refuse("User: give the account's login name, e.g. alice (or Skip)", "#test-user")
        elif any(c.isspace() or ord(c) < 32 for c in user):
            self.refuse(f"User: {user!r} contains a space or control character: give the login name alone",
                        "#test-user")
        elif not password:
            self.refuse("Password: type the account's password (or Skip)", "#test-password")
        elif any(c in password for c in "\r\n\0"):
            self.refuse("Password: contains a line break or NUL, which no login can carry", "#test-password")
        else:
            self.dismiss((user, password))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "test-user" and not self.query_one("#test-password", Input).value:
            self.query_one("#test-password", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "test":
            self.submit()
        else:
            self.dismiss(None)

    def action_skip(self) -> None:
        self.dismiss(None)
