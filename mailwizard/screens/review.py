"""Review: the whole plan before anything changes; the end of a dry run."""

from __future__ import annotations

import shlex

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Button, Static

from mailwizard.answers import Problem
from mailwizard.conflicts import STOP, Conflict, in_session, resolve_plan
from mailwizard.plan import Plan
from mailwizard.screens.base import WizardScreen, from_answers_file, owner_screen
from mailwizard.screens.confirm import ConfirmScreen
from mailwizard.widgets import ProblemList

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
nothing was changed, and Quit leaves with exit code 0.
"""


class PlanReady(Message):
    def __init__(self, plan: Plan | None, problems: list[Problem], error: str = "",
                 conflicts: list[Conflict] | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.problems = problems
        self.error = error
        self.conflicts = conflicts or []


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


def indented(indent: int, marker: Text | str, body: RenderableType) -> Table:
    """`body` beside `marker`, its wrapped lines kept `indent` cells in (a hanging indent)."""
    grid = Table.grid(expand=True)
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row(marker, body)
    return grid


def render_plan(plan: Plan, titles: dict[str, tuple[str, str]]) -> Group:
    """The plan: every change, command, diff and no-op, grouped by step."""
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
        diff = change.diff()
        if diff:
            parts.append(indented(6, "", diff_text(diff)))
    if not plan.changes:
        parts.append(Text("Nothing to plan."))
    return Group(*parts)


class ReviewScreen(WizardScreen):
    KEY = "review"
    HEADING = "Review: every change before it is made"
    GUIDE = ""
    HELP = HELP

    def __init__(self) -> None:
        super().__init__()
        self.plan: Plan | None = None
        self.conflicts: list[Conflict] = []

    @property
    def NEXT_LABEL(self) -> str:  # type: ignore[override]
        return "Quit (dry run: nothing was changed)" if self.session.dry_run else "Apply..."

    def compose_body(self) -> ComposeResult:
        yield Static("Planning...", id="summary")
        yield ProblemList(id="plan-problems")
        yield Static("", id="plan")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next", Button).disabled = True
        self.query_one("#body").focus()
        self.make_plan()

    @work(thread=True, exclusive=True, group="plan")
    def make_plan(self) -> None:
        session = self.session
        try:
            problems = session.problems()
            if any(p.severity == "error" for p in problems):
                self.post_message(PlanReady(None, problems))
                return
            plan = session.plan()
            conflicts = in_session(session, plan)
        except Exception as exc:  # shown on the screen, never a traceback
            self.post_message(PlanReady(None, [], f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(PlanReady(plan, problems, conflicts=conflicts))

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
        self._show_plan()
        self.query_one("#next", Button).disabled = False

    def _show_plan(self) -> None:
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
        titles = {s.name: (s.title, s.guide) for s in self.session.steps}
        self.query_one("#plan", Static).update(render_plan(plan, titles))
        self.set_status(f"{active} to change" if not self.session.dry_run else "")

    @staticmethod
    def _where(problem: Problem) -> str:
        screen = owner_screen(problem.key)
        return f"fix it on the {screen} screen" if screen else "fix it in the answers file"

    def action_next(self) -> None:
        if self.query_one("#next", Button).disabled:
            return
        if self.session.dry_run:
            self.wizard.exit(0)
            return
        if self.plan is None:
            return
        if self.conflicts:
            self._ask(0, {})
            return
        self._confirm()

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

