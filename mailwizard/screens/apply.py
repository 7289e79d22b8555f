"""Apply: the plan's changes, one after another, with progress and the commands' output.

`Session.apply` runs in a thread worker. Everything it reports (each change
started, done or failed, each output line, at last the result) waits, in
order, in one queue; the worker posts a wake-up message only when the screen
is not already taking from it (and such messages coalesce, `can_replace`), so
a flood of output never floods the message queue and no line is lost. The
screen takes the queue in slices of at most SLICE seconds, consecutive
output lines written to the log together, and lets the event
loop run between two slices: 3,000 lines of a package manager never freeze
the screen. The worker gets a `threading.Event`; setting it stops the run
between two changes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

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


class Reported:
    """What the apply worker reported, in order: output lines (strings), changes begun, finished or failed,
    then the ApplyResult. The worker adds; the screen takes, once woken, until nothing is left."""

    def __init__(self) -> None:
        self._items: deque[object] = deque()
        self._lock = threading.Lock()
        self._awake = False  # the screen was woken and has not yet found the queue empty

    def add(self, item: object) -> bool:
        """Queue `item`; True when the screen must be woken (it is not already taking)."""
        with self._lock:
            self._items.append(item)
            wake, self._awake = not self._awake, True
            return wake

    def take(self) -> object | None:
        """The next item; None when there is none, and the next add wakes the screen again."""
        with self._lock:
            if self._items:
                return self._items.popleft()
            self._awake = False
            return None

    def lines(self, limit: int) -> list[str]:
        """The output lines at the head of the queue, at most `limit` of them."""
        out: list[str] = []
        with self._lock:
            while self._items and len(out) < limit:
                line = self._items[0]
                if not isinstance(line, str):
                    break
                self._items.popleft()
                out.append(line)
        return out


@dataclass
class Began:
    index: int
    total: int
    description: str


@dataclass
class Finished:
    index: int


@dataclass
class Failed:
    description: str
    error: str


class Reports(Message):
    """The apply worker reported something: it waits in the queue (many of these collapse into one)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Reports)


class ApplyScreen(WizardScreen):
    KEY = "apply"
    HEADING = "Apply: changing this host"
    HELP = HELP
    SCROLL_BODY = False

    SLICE = 0.01  # seconds of the queue taken at a time, the event loop's turn between two
    LINES = 50  # output lines written to the log at once, at the most

    def __init__(self) -> None:
        super().__init__()
        self.reported = Reported()
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
        self.call_after_refresh(self.wizard.keep_what_is)  # the Review is gone by then

    @work(thread=True, exclusive=True, group="apply")
    def run_apply(self, plan, cancel: threading.Event) -> None:
        reported = self.reported

        def report(item: object) -> None:
            if reported.add(item):
                self.post_message(Reports())

        def on_event(event: object) -> None:
            if isinstance(event, OutputLine):
                report(event.line)
            elif isinstance(event, ChangeStarted):
                report(Began(event.index, event.total, event.change.describe()))
            elif isinstance(event, ChangeDone):
                report(Finished(event.index))
            elif isinstance(event, ChangeFailed):
                report(Failed(event.change.describe(), event.error))

        try:
            result = self.wizard.core.apply(plan, on_event, cancel)
        except Exception as exc:  # e.g. the journal is locked: shown, never a traceback
            result = ApplyResult("failed", 0, f"{type(exc).__name__}: {exc}", "start the run")
        report(result)

    # --- what the worker reported ---------------------------------------------------
    @on(Reports)
    def _reports(self) -> None:
        self.run_worker(self._take(), group="apply-reports")

    async def _take(self) -> None:
        """Take the queue until it is empty, a slice at a time."""
        while True:
            began = time.perf_counter()
            while time.perf_counter() - began < self.SLICE:
                if not self._take_one():
                    return
            await asyncio.sleep(0)  # the event loop's turn: keys, timers, a paint

    def _take_one(self) -> bool:
        """Show the next thing reported (consecutive output lines together); False when there was none."""
        lines = self.reported.lines(self.LINES)
        if lines:
            self.query_one("#log", RichLog).write(Text("\n".join(lines)))
            return True
        item = self.reported.take()
        if item is None:
            return False
        if isinstance(item, ApplyResult):
            self._done(item)
        elif isinstance(item, Began):
            where = f"[{item.index + 1}/{item.total}] "
            self.query_one("#current", Static).update(Text(where + item.description, style="bold"))
            self.query_one("#log", RichLog).write(Text(where + item.description, style="bold"))
        elif isinstance(item, Finished):
            self.query_one("#progress", ProgressBar).update(progress=item.index + 1)
        elif isinstance(item, Failed):
            log = self.query_one("#log", RichLog)
            log.write(Text(f"FAILED: {item.description}", style="bold red"))
            log.write(Text(item.error, style="red"))
        return True

    def _done(self, result: ApplyResult) -> None:
        self.running = False
        self.wizard.applying = False
        self.result = self.wizard.result = result
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
