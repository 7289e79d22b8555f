"""Apply: the plan's changes, one after another, with progress and the commands' output.

`Session.apply` runs in a thread worker. Its events become small messages:
one per change started, done or failed, and for output lines a wake-up
message that coalesces (`can_replace`) while the lines themselves wait, in
order, in a buffer — so a flood of output never floods the message queue and
no line is lost. The worker gets a `threading.Event`; setting it stops the run
between two changes.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Button, ProgressBar, RichLog, Static

from mailwizard.engine import ApplyResult, ChangeDone, ChangeFailed, ChangeStarted, OutputLine
from mailwizard.screens.base import WizardScreen
from mailwizard.screens.confirm import ConfirmScreen

HELP = """\
The changes of the plan you confirmed, in order, each recorded in the
journal (`/var/lib/mailwizard`) before and after it is made, with a backup of
every file it touches. The bar counts changes; the log shows each command
and its output as it runs.

**Ctrl+C** asks whether to stop after the change that is running: a change
is never cut in half. A stopped or failed run continues with
`sudo mailwizard --resume` (it plans again, so finished changes are no-ops),
and `sudo mailwizard rollback` puts every file back as it was.

When all changes are made, Next runs the checks (the Report).
"""

RESUME_ADVICE = ("Run `sudo mailwizard --resume` to continue where it stopped "
                 "(or `sudo mailwizard rollback` to undo).")


class OutputBuffer:
    """Output lines in order, each with a sequence number shared with the change events."""

    def __init__(self) -> None:
        self._lines: deque[tuple[int, str]] = deque()
        self._seq = itertools.count()

    def add(self, line: str) -> None:
        self._lines.append((next(self._seq), line))

    def mark(self) -> int:
        return next(self._seq)

    def take(self, before: int | None = None) -> list[str]:
        out = []
        while self._lines and (before is None or self._lines[0][0] < before):
            out.append(self._lines.popleft()[1])
        return out


class OutputPending(Message):
    """New output lines wait in the buffer (many of these collapse into one)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, OutputPending)


class ChangeBegan(Message):
    def __init__(self, index: int, total: int, description: str, seq: int) -> None:
        super().__init__()
        self.index, self.total, self.description, self.seq = index, total, description, seq


class ChangeFinished(Message):
    def __init__(self, index: int, total: int, seq: int) -> None:
        super().__init__()
        self.index, self.total, self.seq = index, total, seq


class ChangeError(Message):
    def __init__(self, description: str, error: str, seq: int) -> None:
        super().__init__()
        self.description, self.error, self.seq = description, error, seq


class ApplyFinished(Message):
    def __init__(self, result: ApplyResult, seq: int) -> None:
        super().__init__()
        self.result, self.seq = result, seq


class ApplyScreen(WizardScreen):
    KEY = "apply"
    HEADING = "Apply: changing this host"
    GUIDE = ""
    HELP = HELP
    SCROLL_BODY = False

    def __init__(self) -> None:
        super().__init__()
        self.buffer = OutputBuffer()
        self.cancel = threading.Event()
        self.running = False
        self.result: ApplyResult | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Starting...", id="current")
        yield ProgressBar(total=None, show_eta=False, id="progress")
        yield RichLog(id="log", wrap=True, min_width=20, max_lines=5000)
        yield Static("", id="outcome")

    def on_mount(self) -> None:
        super().on_mount()
        plan = self.wizard.plan
        self.query_one("#outcome").display = False
        self.query_one("#back", Button).disabled = True
        self.query_one("#next", Button).disabled = True
        if plan is None:
            self.query_one("#current", Static).update("There is no plan to apply: go back to Review.")
            self.query_one("#back", Button).disabled = False
            return
        total = len(plan.active())
        self.query_one("#progress", ProgressBar).update(total=max(total, 1), progress=0)
        self.query_one("#log", RichLog).focus()
        self.running = True
        self.wizard.applying = True
        self.set_status("Ctrl+C: stop after the current change")
        self.run_apply(plan, self.cancel)

    @work(thread=True, exclusive=True, group="apply")
    def run_apply(self, plan, cancel: threading.Event) -> None:
        buffer = self.buffer

        def on_event(event: object) -> None:
            if isinstance(event, OutputLine):
                buffer.add(event.line)
                self.post_message(OutputPending())
            elif isinstance(event, ChangeStarted):
                self.post_message(ChangeBegan(event.index, event.total, event.change.describe(), buffer.mark()))
            elif isinstance(event, ChangeDone):
                self.post_message(ChangeFinished(event.index, event.total, buffer.mark()))
            elif isinstance(event, ChangeFailed):
                self.post_message(ChangeError(event.change.describe(), event.error, buffer.mark()))

        try:
            result = self.session.apply(plan, on_event, cancel)
        except Exception as exc:  # e.g. the journal is locked: shown, never a traceback
            result = ApplyResult("failed", 0, f"{type(exc).__name__}: {exc}", "start the run")
        self.post_message(ApplyFinished(result, buffer.mark()))

    # --- messages from the worker ------------------------------------------------
    def _flush(self, before: int | None = None) -> None:
        log = self.query_one("#log", RichLog)
        for line in self.buffer.take(before):
            log.write(Text(line))

    @on(OutputPending)
    def _output(self) -> None:
        self._flush()

    @on(ChangeBegan)
    def _began(self, message: ChangeBegan) -> None:
        self._flush(message.seq)
        where = f"[{message.index + 1}/{message.total}] "
        self.query_one("#current", Static).update(Text(where + message.description, style="bold"))
        self.query_one("#log", RichLog).write(Text(where + message.description, style="bold"))

    @on(ChangeFinished)
    def _finished(self, message: ChangeFinished) -> None:
        self._flush(message.seq)
        self.query_one("#progress", ProgressBar).update(progress=message.index + 1)

    @on(ChangeError)
    def _error(self, message: ChangeError) -> None:
        self._flush(message.seq)
        log = self.query_one("#log", RichLog)
        log.write(Text(f"FAILED: {message.description}", style="bold red"))
        log.write(Text(message.error, style="red"))

    @on(ApplyFinished)
    def _done(self, message: ApplyFinished) -> None:
        self._flush()
        self.running = False
        self.wizard.applying = False
        result = self.result = self.wizard.result = message.result
        outcome = self.query_one("#outcome", Static)
        current = self.query_one("#current", Static)
        back = self.query_one("#back", Button)
        nxt = self.query_one("#next", Button)
        nxt.disabled = False
        back.disabled = False
        outcome.display = True
        log = self.query_one("#log", RichLog)
        if result.status == "applied":
            log.write(Text(f"DONE: {result.done} change(s) made", style="bold green"))
        elif result.status == "stopped":
            log.write(Text(f"STOPPED after {result.done} change(s)", style="bold yellow"))
        else:
            log.write(Text(f"FAILED after {result.done} change(s): {result.failed_change}", style="bold red"))
        if result.status == "applied":
            bar = self.query_one("#progress", ProgressBar)
            if bar.total is not None:  # set when the apply began
                bar.update(progress=bar.total)
            current.update(Text(f"Done: {result.done} change(s) made.", style="bold green"))
            outcome.update("Next runs the checks and shows the report.")
            self.set_status("applied", "-ok")
            nxt.label = "Next: report"
        else:
            nxt.label = "Quit"
            if result.status == "stopped":
                current.update(Text(f"STOPPED after {result.done} change(s), as you asked.", style="bold yellow"))
                outcome.update(Text(RESUME_ADVICE))
                self.set_status("stopped", "-warning")
            else:
                current.update(Text(f"FAILED: {result.failed_change}", style="bold red"))
                outcome.update(Text(f"{result.error}\nFix the cause, then: {RESUME_ADVICE}"))
                self.set_status("failed", "-error")
        nxt.focus()

    # --- keys ------------------------------------------------------------------
    def action_next(self) -> None:
        if self.running or self.result is None:
            return
        if self.result.status == "applied":
            self.leave(forward=True)
        else:
            self.wizard.exit(self.wizard.exit_code())

    def action_back(self) -> None:
        if self.running or self.query_one("#back", Button).disabled:
            return
        self.leave(forward=False)

    def action_stop(self) -> None:
        """Ask whether to stop after the current change (Ctrl+C while applying)."""
        if not self.running or isinstance(self.app.screen, ConfirmScreen):
            return
        self.app.push_screen(
            ConfirmScreen("Stop applying?",
                          "Stop after the change that is running now? Nothing is cut in half; "
                          "`sudo mailwizard --resume` continues later.",
                          yes="Stop", no="Keep going"),
            self._stop_answered)

    def _stop_answered(self, yes: bool | None) -> None:
        if yes and self.running:
            self.cancel.set()
            self.set_status("stopping after the current change...", "-warning")
