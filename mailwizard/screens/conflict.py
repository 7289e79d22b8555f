"""A file the administrator edited since mailwizard wrote it: the diff, then keep mine / take mailwizard's / stop.

A ModalScreen[str] dismissed with conflicts.KEEP, TAKE or STOP, as dpkg asks
about a changed configuration file. Stop has the focus and is what Esc means,
so a stray key never overwrites anyone's edit.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from mailwizard.conflicts import KEEP, STOP, TAKE, Conflict


class ConflictScreen(ModalScreen[str]):
    DEFAULT_CSS = """
    ConflictScreen {
        align: center middle;
    }
    ConflictScreen #conflict-dialog {
        width: 78;
        max-width: 100%;
        height: 22;
        max-height: 100%;
        border: thick $warning;
        background: $panel;
        padding: 0 1;
    }
    ConflictScreen #conflict-title {
        height: auto;
        text-style: bold;
    }
    ConflictScreen #conflict-text {
        height: auto;
        margin: 0 0 1 0;
    }
    ConflictScreen #conflict-diff {
        height: 1fr;
        border: round $primary;
        padding: 0 1;
    }
    ConflictScreen #conflict-buttons {
        height: 1;
        align: right middle;
        margin: 1 0 0 0;
    }
    ConflictScreen #conflict-buttons Button {
        border: none;
        height: 1;
        min-width: 8;
        margin: 0 0 0 1;
        padding: 0 1;
    }
    ConflictScreen #conflict-buttons Button:focus {
        text-style: bold reverse;
    }
    """

    BINDINGS = [
        Binding("k", "choose('keep')", "Keep mine"),
        Binding("t", "choose('take')", "Take mailwizard's"),
        Binding("s,escape", "choose('stop')", "Stop"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(self, conflict: Conflict, number: int = 1, total: int = 1) -> None:
        super().__init__()
        self.conflict = conflict
        self.number = number
        self.total = total

    def compose(self) -> ComposeResult:
        from mailwizard.screens.review import diff_text  # review opens this screen: imported late

        c = self.conflict
        count = f" ({self.number} of {self.total})" if self.total > 1 else ""
        with Vertical(id="conflict-dialog"):
            yield Static(f"You edited {c.path}{count}", id="conflict-title", markup=False)
            yield Static(f"Changed since mailwizard wrote it: yours (-) against mailwizard's (+), "
                         f"which would {c.theirs}. Keep mine leaves it as it is; Stop changes nothing.",
                         id="conflict-text", markup=False)
            with VerticalScroll(id="conflict-diff"):
                yield Static(diff_text(c.diff()))
            with Horizontal(id="conflict-buttons"):
                yield Button("Stop (s)", id="stop", compact=True)
                yield Button("Keep mine (k)", id="keep", compact=True)
                yield Button("Take mailwizard's (t)", id="take", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#stop", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss({"keep": KEEP, "take": TAKE}.get(event.button.id or "", STOP))

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
