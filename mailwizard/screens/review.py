"""Review: the whole plan before anything changes; the end of a dry run."""

from __future__ import annotations

import asyncio
import shlex
import time
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Button, Static

from mailwizard.answers import Problem
from mailwizard.conflicts import STOP, Conflict, in_session, resolve_plan
from mailwizard.plan import Plan
from mailwizard.screens.base import WizardScreen, from_answers_file, owner_screen
from mailwizard.screens.confirm import ConfirmScreen
from mailwizard.widgets import ProblemList

if TYPE_CHECKING:
    from mailwizard.engine import Session

HELP = """\
Everything the wizard would do, in order, grouped by step, before anything
changes; each step's heading names the guide sections it follows:

- `+` a change: what it does; `$` each command as the exact argv it runs
  (shell-quoted); for a file, the unified diff (`-` removed, `+` added lines).
- `=` a no-op: already done, with the reason (for example "ssl_key already
  set"). A second run of a finished wizard shows only no-ops.
- WARNING lines at the top: worth knowing, not stopping.
- `!` under a change: it rewrites a file you (or a script) edited since
  mailwizard wrote it. Before anything changes, Apply shows you that file's
  diff and asks, as dpkg does: keep mine (every change to that file is
  skipped), take mailwizard's, or stop (nothing is changed).

Scroll with the arrow keys, PgUp/PgDn, Home/End. **Apply** asks once more,
then changes this host exactly as shown. With `--dry-run` this is the end:
nothing was changed; Quit asks first and offers to save the answers (0600,
secrets left out: `mailwizard --answers FILE` starts from them), and leaves
with exit code 0. **s** saves the answers at any time.
"""


class PlanReady(Message):
    def __init__(self, plan: Plan | None, problems: list[Problem], error: str = "",
                 conflicts: list[Conflict] | None = None, pieces: list[RenderableType] | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.problems = problems
        self.error = error
        self.conflicts = conflicts or []
        self.pieces = pieces or []  # the plan drawn (plan_entries), made by the worker


def quote(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def diff_text(diff: str) -> Text:
    """A unified diff with its lines coloured: + green, - red, @@ cyan, headers bold."""
    out = Text()
    for line in diff.rstrip("\n").splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        if out:
            out.append("\n")
        out.append(line, style=style)
    return out


class Hanging:
    """`body` beside `marker`, its wrapped lines kept `indent` cells in (a hanging indent).

    Drawn exactly as a two-column `Table.grid` (a column `indent` wide, then the rest) would draw
    it, at a fraction of the cost: the plan has hundreds of these.
    """

    def __init__(self, indent: int, marker: Text | str, body: RenderableType) -> None:
        self.indent = indent
        self.marker = Text(marker) if isinstance(marker, str) else marker
        self.body = body

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        inner = max(1, options.max_width - self.indent)
        cell = options.update(height=None, highlight=False, justify="left")
        left = console.render_lines(self.marker, cell.update(width=self.indent, no_wrap=True, overflow="ellipsis"),
                                    pad=True)
        right = console.render_lines(self.body, cell.update(width=inner, overflow="fold"), pad=True)
        new_line = Segment.line()
        for i in range(max(len(left), len(right))):
            yield from left[i] if i < len(left) else [Segment(" " * self.indent)]
            yield from right[i] if i < len(right) else [Segment(" " * inner)]
            yield new_line


indented = Hanging


DIFF_PIECE = 40  # lines of a diff laid out at a time (see PlanView)


def plan_entries(plan: Plan, titles: dict[str, tuple[str, str]]) -> list[RenderableType]:
    """The plan, every change, command, diff and no-op, grouped by step: a list of pieces drawn one
    under the other (a long diff is cut into pieces of DIFF_PIECE lines). Builds every diff: call it
    from a worker."""
    parts: list[RenderableType] = []
    step = None
    for change in plan.changes:
        if change.step != step:
            step = change.step
            title, guide = titles.get(step, (step, ""))
            if parts:
                parts.append(Text(""))
            parts.append(Text(f"== {title}" + (f" (guide {guide})" if guide else ""), style="bold reverse"))
        if change.noop:
            parts.append(indented(4, Text(" = ", style="bold"), Text(change.describe())))
            parts.append(indented(6, "", Text(f"no-op: {change.noop}")))
            continue
        parts.append(indented(4, Text(" + ", style="bold green"), Text(change.describe(), style="bold")))
        if change.conflict:
            parts.append(indented(6, Text("! ", style="bold yellow"),
                                  Text(f"{change.conflict}: Apply asks you first (keep mine / take "
                                       "mailwizard's / stop)", style="bold yellow")))
        for argv in change.commands():
            parts.append(indented(6, "", Text("$ " + quote(argv), style="cyan")))
        for line in change.stdin().splitlines():
            parts.append(indented(6, "", Text("< " + line, style="cyan")))
        lines = change.diff().rstrip("\n").splitlines()
        for at in range(0, len(lines), DIFF_PIECE):
            parts.append(indented(6, "", diff_text("\n".join(lines[at:at + DIFF_PIECE]))))
    if not plan.changes:
        parts.append(Text("Nothing to plan."))
    return parts


class PlanView(Static):
    """The plan, laid out a piece at a time so that a long plan never holds up the screen.

    `content` is the whole plan (every piece, as one Group), for whoever reads it; what is drawn
    are the lines of the pieces laid out so far at the widget's width: the first screenful at
    once, then the rest in slices of at most SLICE seconds, between which the event loop runs
    (keys, scrolling, painting). A new width (the terminal resized) lays it out again the same way,
    the old lines shown until their piece's new ones replace them.
    """

    SLICE = 0.015  # seconds of laying out at a time

    DEFAULT_CSS = """
    PlanView {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._pieces: list[RenderableType] = []
        self._blocks: list[list[Strip] | None] = []  # each piece's lines, None until laid out
        self._lines: list[Strip] = []
        self._width = 0  # the width the pieces are (being) laid out at
        self._first = 0  # lines laid out at once
        self.complete = True  # every piece is laid out at the current width

    def show(self, pieces: list[RenderableType], first_lines: int = 0) -> None:
        """Show `pieces`; the first ones, up to `first_lines` lines, are laid out at once (before this
        returns, or in the first layout when the width is not known yet), the rest in the background."""
        self._pieces = list(pieces)
        self._blocks = [None] * len(self._pieces)
        self._lines = []
        self._first = first_lines
        self._width = 0
        self.complete = not self._pieces
        self.update(Group(*self._pieces))
        if self.size.width:
            self._start(self.size.width)

    def _start(self, width: int) -> None:
        """Lay out the first screenful at `width` now, and the rest in slices."""
        self._width = width
        done = self._lay_out(0, self._first, budget=None)
        self.complete = done == len(self._pieces)
        self.refresh(layout=True)
        if not self.complete:
            self.run_worker(self._lay_out_rest(done), group="plan-layout", exclusive=True)

    def _lay_out(self, start: int, lines: int, budget: float | None) -> int:
        """Lay out pieces from `start` until `lines` lines are done or `budget` seconds have passed
        (at least one piece); returns the index of the first piece not laid out."""
        console = self.app.console
        width = self._width
        options = self.app.console_options.update(highlight=False, width=width, height=None)
        style = self.visual_style.rich_style
        began = time.perf_counter()
        count = 0
        index = start
        while index < len(self._pieces):
            segments = console.render(self.post_render(self._pieces[index], style), options)
            block = [Strip(line) for line in Segment.split_and_crop_lines(segments, width, include_new_lines=False,
                                                                          pad=False)]
            self._blocks[index] = block
            count += len(block)
            index += 1
            if budget is None and count >= lines:
                break  # (at least one piece: a resize lays out the first at once)
            if budget is not None and time.perf_counter() - began >= budget:
                break
        self._lines = [strip for block in self._blocks if block is not None for strip in block]
        return index

    async def _lay_out_rest(self, start: int) -> None:
        index = start
        while index < len(self._pieces):
            await asyncio.sleep(0)  # the event loop's turn: keys, timers, a paint
            index = self._lay_out(index, 0, budget=self.SLICE)
            self.refresh(layout=True)
        self.complete = True

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width and width != self._width and self._pieces:
            self._start(width)  # the first layout, or the terminal was resized
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)


def step_titles(session: Session) -> dict[str, tuple[str, str]]:
    return {s.name: (s.title, s.guide) for s in session.steps}


def planned(session: Session, problems: list[Problem] | None = None) -> PlanReady:
    """What the Review shows: the problems, or the plan with its conflicts and its pieces drawn
    (plan_entries). Checks and plans: call it from a worker. `problems`: the session's, just asked for."""
    try:
        if problems is None:
            problems = session.problems()
        if any(p.severity == "error" for p in problems):
            return PlanReady(None, problems)
        plan = session.plan(problems)
        conflicts = in_session(session, plan)
        pieces = plan_entries(plan, step_titles(session))
    except Exception as exc:  # shown on the screen, never a traceback
        return PlanReady(None, [], f"{type(exc).__name__}: {exc}")
    return PlanReady(plan, problems, conflicts=conflicts, pieces=pieces)


class ReviewScreen(WizardScreen):
    KEY = "review"
    HEADING = "Review: every change before it is made"
    GUIDE = ""
    HELP = HELP
    BINDINGS = [Binding("s", "save_answers", "Save answers")]

    saved_path = ""  # where the answers were last saved: offered again

    def __init__(self, made: PlanReady | None = None) -> None:
        super().__init__()
        self.plan: Plan | None = None
        self.conflicts: list[Conflict] = []
        self.made = made  # the plan made before this screen was shown (the wizard's first screen), else None

    @property
    def NEXT_LABEL(self) -> str:  # type: ignore[override]
        return "Quit (dry run: nothing was changed)" if self.session.dry_run else "Apply..."

    def compose_body(self) -> ComposeResult:
        yield Static("Planning...", id="summary")
        yield ProblemList(id="plan-problems")
        yield PlanView(id="plan")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next", Button).disabled = True
        self.query_one("#body").focus()
        if self.made is not None:
            self._ready(self.made)
        else:
            self.make_plan()

    @work(thread=True, exclusive=True, group="plan")
    def make_plan(self) -> None:
        self.post_message(planned(self.session))

    @on(PlanReady)
    def _ready(self, message: PlanReady) -> None:
        summary = self.query_one("#summary", Static)
        listed = self.query_one("#plan-problems", ProblemList)
        structural = [p for p in from_answers_file(self.wizard.structural) if owner_screen(p.key) is None]
        if message.error:
            summary.update(Text(f"The plan could not be made: {message.error}", style="bold red"))
            self.set_status("cannot plan", "-error")
            return
        if message.plan is None:
            errors = [p for p in message.problems if p.severity == "error"]
            summary.update(Text(f"{len(errors)} problem(s) to fix before the plan can be made:",
                                style="bold red"))
            listed.show(message.problems + structural, suffix=self._where)
            self.set_status("fix the problems first", "-error")
            if self.session.dry_run:
                self.query_one("#next", Button).disabled = False
            return
        plan = self.plan = message.plan
        self.wizard.plan = plan
        self.conflicts = message.conflicts
        warnings = [Problem(key, text, "warning") if sep else Problem("plan", w, "warning")
                    for w in plan.warnings for key, sep, text in [w.partition(": ")]]
        listed.show(warnings + structural)
        self._show_plan(message.pieces)
        self.query_one("#next", Button).disabled = False

    def _show_plan(self, pieces: list[RenderableType] | None = None) -> None:
        """The summary and the plan (`pieces` from plan_entries, made here when not given)."""
        plan = self.plan
        assert plan is not None
        active = len(plan.active())
        noops = len(plan.changes) - active
        head = Text(f"Plan for {self.session.profile.label}: ", style="bold")
        head.append(f"{active} change(s), {noops} already done (no-op)", style="bold")
        if self.conflicts:
            head.append(f"\n{len(self.conflicts)} file(s) you edited since mailwizard wrote them (marked !)"
                        + ("" if self.session.dry_run else ": Apply shows each diff and asks first."),
                        style="bold yellow")
        if self.session.dry_run:
            head.append("\nDry run: nothing will be changed.", style="green")
        self.query_one("#summary", Static).update(head)
        if pieces is None:
            pieces = plan_entries(plan, step_titles(self.session))
        # the first screenful now, with the summary; the rest while the admin reads it
        self.query_one("#plan", PlanView).show(pieces, first_lines=self.app.size.height)
        self.set_status(f"{active} to change" if not self.session.dry_run else "")

    @staticmethod
    def _where(problem: Problem) -> str:
        screen = owner_screen(problem.key)
        return f"fix it on the {screen} screen" if screen else "fix it in the answers file"

    def action_next(self) -> None:
        if self.query_one("#next", Button).disabled:
            return
        if self.session.dry_run:
            self._leave_dry_run()
            return
        if self.plan is None:
            return
        if self.conflicts:
            self._ask(0, {})
            return
        self._confirm()

    def _leave_dry_run(self) -> None:
        """The end of a dry run: asked first, with the answers to save (`--answers FILE` starts there)."""
        from mailwizard.screens.confirm import ChoiceScreen

        def chosen(choice: str | None) -> None:
            if choice == "q":
                self.wizard.exit(0)
            elif choice == "s":
                self.action_save_answers(then_quit=True)

        saved = f" They were saved to {self.saved_path}." if self.saved_path else ""
        self.app.push_screen(ChoiceScreen(
            "Leave the dry run?",
            "Nothing on this host was changed. Save the answers (0600, secrets left out) to start from them "
            f"next time: mailwizard --answers FILE.{saved}",
            [("s", "Save answers"), ("q", "Quit"), ("c", "Stay")], cancel="c"), chosen)

    def action_save_answers(self, then_quit: bool = False) -> None:
        from mailwizard.screens.report_dialogs import save_answers

        def saved(path: str) -> None:
            self.saved_path = path
            self.set_status(f"answers saved to {path} (0600; secrets left out)", "-ok")
            if then_quit:
                self.wizard.farewell = f"mailwizard: answers saved to {path}; mailwizard --answers {path} " \
                                       "starts from them"
                self.wizard.exit(0)

        save_answers(self, saved, self.saved_path)

    def _ask(self, index: int, decisions: dict[str, str]) -> None:
        """One conflict after another; the plan is changed only once all are answered."""
        from mailwizard.screens.conflict import ConflictScreen

        if index == len(self.conflicts):
            assert self.plan is not None
            resolve_plan(self.plan, self.conflicts, lambda c: decisions[c.path])
            self.conflicts = []
            self._show_plan()
            self._confirm()
            return
        conflict = self.conflicts[index]

        def answered(choice: str | None) -> None:
            if choice in (None, STOP):
                self.set_status("stopped: nothing was changed", "-error")
                return
            decisions[conflict.path] = choice
            self._ask(index + 1, decisions)

        self.app.push_screen(ConflictScreen(conflict, index + 1, len(self.conflicts)), answered)

    def _confirm(self) -> None:
        assert self.plan is not None
        active = len(self.plan.active())
        self.app.push_screen(
            ConfirmScreen("Apply the plan?",
                          f"Make the {active} change(s) shown on this host now? Every file is backed "
                          f"up first (journal: {self.session.journal_dir}); `sudo mailwizard rollback` "
                          "puts them back.",
                          yes="Apply", no="Cancel"),
            self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self.leave(forward=True)

