"""Review: the whole plan before anything changes; the end of a dry run."""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Button, Static

from mailwizard.answers import Problem
from mailwizard.conflicts import STOP, Conflict
from mailwizard.plan import Plan
from mailwizard.screens.base import WizardScreen
from mailwizard.screens.confirm import ConfirmScreen
from mailwizard.widgets import ProblemList
from mailwizard.wizard import Wizard, from_answers_file, owner_title

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

Each step's section is folded to one line (with what it holds) until you
open it, and so is a long file's diff: **Up/Down** move between those lines,
**Enter** opens or closes one (**Right** opens, **Left** closes), **o** opens
or closes them all. **g** lists the sections to go to; **/** looks for a text
(a setting, a path) and opens the section that holds it, **n** the next one.
PgUp/PgDn and Home/End scroll. A long diff line wraps with its `+`/`-` kept;
a long command breaks between its arguments (` \\` ends a line, as in a
shell); a PEM block (the DH parameters) shows as one line.

**Apply** asks once more,
then changes this host exactly as shown. With `--dry-run` this is the end:
nothing was changed; Quit asks first and offers to save the answers (0600,
secrets left out: `mailwizard --answers FILE` starts from them), and leaves
with exit code 0. **s** saves the answers at any time.
"""


class PlanReady(Message):
    def __init__(self, plan: Plan | None, problems: list[Problem], error: str = "",
                 conflicts: list[Conflict] | None = None, pieces: list[Fold] | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.problems = problems
        self.error = error
        self.conflicts = conflicts or []
        self.pieces = pieces or []  # the plan's sections drawn (plan_entries), made by the worker


def quote(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


BASE64_LINE = re.compile(r"^[A-Za-z0-9+/=]{32,}$")
BASE64_RUN = 3  # this many base64 lines in a row (a PEM block: DH parameters) are one line "... N lines ..."


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff's lines with their styles (+ green, - red, @@ cyan, headers bold); a PEM block's
    base64 (the DH parameters) one line saying how many lines it has. Tabs are expanded after the +/-
    column, at the file's own tab stops: a terminal draws a raw tab as one cell and leaves what was
    painted under the rest (opendkim.conf aligns its values with tabs)."""
    out: list[tuple[str, str]] = []
    lines = [line[:1] + line[1:].expandtabs() for line in diff.rstrip("\n").splitlines()]
    i = 0
    while i < len(lines):
        line = lines[i]
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
        run = i
        while run < len(lines) and lines[run][:1] == line[:1] and BASE64_LINE.match(lines[run][1:]):
            run += 1
        if run - i >= BASE64_RUN and line[:1] in "+- ":
            out.append((f"{line[:1]}... {run - i} lines of base64 (not shown) ...", style))
            i = run
            continue
        out.append((line, style))
        i += 1
    return out


class DiffLines:
    """Diff lines, each wrapped at the width (between words where it can) with its +/- column kept: a
    continuation line starts with the same sign, so a long line never looks like context."""

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(2, options.max_width)
        new_line = Segment.line()
        for line, style in self.lines:
            rich_style = console.get_style(style) if style else None
            if cell_len(line) <= width:
                yield Segment(line, rich_style)
                yield new_line
                continue
            sign, rest = (line[:1], line[1:]) if line[:1] in "+- " else (" ", line)
            for chunk in Text(rest).wrap(console, width - 1, overflow="fold"):  # between words where it can
                yield Segment(sign + chunk.plain.rstrip(" "), rich_style)
                yield new_line


def diff_text(diff: str) -> DiffLines:
    return DiffLines(diff_lines(diff))


class CommandLine:
    """`$ argv`, shell-quoted, broken only between arguments (a continuation ends its line with a
    backslash, as a shell would read it); an argument wider than the line alone is cut."""

    def __init__(self, argv: list[str], prefix: str = "$ ", style: str = "cyan") -> None:
        self.words = [shlex.quote(a) for a in argv]
        self.prefix = prefix
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(8, options.max_width)
        style = console.get_style(self.style)
        lines: list[str] = []
        line = self.prefix
        for word in self.words:
            gap = "" if line in (self.prefix, "    ") else " "
            if cell_len(line + gap + word) + 2 <= width or line in (self.prefix, "    "):
                line += gap + word
                continue
            lines.append(line + " \\")
            line = "    " + word
        lines.append(line)
        new_line = Segment.line()
        for text in lines:
            first = chop_cells(text, width)[0] if cell_len(text) > width else text
            chunks = [first] + ["        " + c for c in chop_cells(text[len(first):], width - 8)]
            for chunk in chunks:
                yield Segment(chunk, style)
                yield new_line


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
LONG_DIFF = 12  # a file's diff longer than this is folded to a line until opened


@dataclass
class Fold:
    """A part of the plan shown as one line until opened: a step's section, or a long file's diff."""

    title: Text
    pieces: list[RenderableType | Fold]
    indent: int = 0  # where its line starts
    opened: bool = False
    count: str = ""  # what it holds, said on its line: "3 change(s)", "120 lines"

    def text(self) -> str:
        """Everything it holds, as plain text (the search)."""
        console = Console(width=200, file=io.StringIO(), color_system=None, legacy_windows=False)
        with console.capture() as capture:
            for piece in self.pieces:
                console.print(piece.title if isinstance(piece, Fold) else piece)
                if isinstance(piece, Fold):
                    console.print(piece.text())
        return self.title.plain + "\n" + capture.get()


def plan_entries(plan: Plan, titles: dict[str, tuple[str, str]]) -> list[Fold]:
    """The plan, every change, command, diff and no-op, grouped by step: a Fold a step, holding the pieces
    drawn one under the other (a long diff a Fold of its own, cut into pieces of DIFF_PIECE lines).
    Builds every diff: call it from a worker."""
    sections: list[Fold] = []
    step = None
    parts: list[RenderableType | Fold] = []
    for change in plan.changes:
        if change.step != step:
            step = change.step
            title, guide = titles.get(step, (step, ""))
            parts = []
            sections.append(Fold(Text(f"{title}" + (f" (guide {guide})" if guide else ""), style="bold"), parts))
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
            parts.append(indented(6, "", CommandLine(argv)))
        for line in change.stdin().splitlines():
            parts.append(indented(6, "", Text("< " + line, style="cyan")))
        lines = diff_lines(change.diff())
        pieces: list[RenderableType | Fold] = [indented(6, "", DiffLines(lines[at:at + DIFF_PIECE]))
                                               for at in range(0, len(lines), DIFF_PIECE)]
        if len(lines) > LONG_DIFF:
            added = sum(1 for line, _ in lines if line.startswith("+") and not line.startswith("+++"))
            removed = sum(1 for line, _ in lines if line.startswith("-") and not line.startswith("---"))
            parts.append(Fold(Text("the diff", style="bold"), pieces, indent=6,
                              count=f"{len(lines)} lines: +{added} -{removed}"))
        else:
            parts += pieces
    for section in sections:
        changes = sum(1 for p in section.pieces if isinstance(p, Hanging) and p.marker.plain == " + ")
        noops = sum(1 for p in section.pieces if isinstance(p, Hanging) and p.marker.plain == " = ")
        section.count = ", ".join(x for x in (f"{changes} change(s)" if changes else "",
                                              f"{noops} no-op" if noops else "") if x)
    return sections


class PlanView(Static, can_focus=True):
    """The plan, each step's section (and each long file's diff) folded to a line until opened.

    Up/Down move between those lines, Enter (or Space) opens or closes one, Right opens and Left closes
    it, `o` opens (or closes) them all; PgUp/PgDn/Home/End scroll. `content` is the whole plan (every section open), for
    whoever reads it; what is drawn are the lines of what is open, laid out at the widget's width when
    first opened (a new width lays them out again).
    """

    BINDINGS = [
        Binding("down", "move(1)", "Next section", show=False),
        Binding("up", "move(-1)", "Previous section", show=False),
        Binding("enter,space", "open_or_close", "Open/close", show=False),
        Binding("right", "fold(True)", "Open", show=False),
        Binding("left", "fold(False)", "Close", show=False),
        Binding("o", "all", "Open all", show=False),
    ]

    DEFAULT_CSS = """
    PlanView {
        height: auto;
        width: 1fr;
    }
    """

    complete = True  # every open piece is laid out (the layout is done when drawn)

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.sections: list[Fold] = []
        self._laid: dict[int, tuple[int, list[Strip]]] = {}  # id(piece) -> (width, its lines)
        self._lines: list[Strip] = []
        self._heads: list[tuple[int, Fold, Fold | None]] = []  # (line, fold, its section) of each fold line
        self._width = 0
        self.cursor = 0  # which fold line is chosen (an index into _heads)

    def show(self, sections: list[Fold]) -> None:
        self.sections = list(sections)
        self.cursor = 0
        self._laid = {}
        self.update(Group(*[piece for section in self.sections for piece in self._whole(section)]))
        self._width = 0
        self.refresh(layout=True)

    def _whole(self, fold: Fold) -> list[RenderableType]:
        out: list[RenderableType] = [self._head(fold, opened=True, cursor=False)]
        for piece in fold.pieces:
            out += self._whole(piece) if isinstance(piece, Fold) else [piece]
        return out

    @staticmethod
    def _head(fold: Fold, opened: bool, cursor: bool) -> Text:
        text = Text(" " * fold.indent)
        marker = "▼ " if opened else "► "
        line = Text(marker) + fold.title
        if fold.count:
            line.append(f"  ({fold.count})", style="dim" if not cursor else "")
        if cursor:  # the chosen line (Enter opens or closes it)
            line.stylize("bold black on yellow")
        elif fold.indent == 0:
            line.stylize("bold reverse")
        return text + line

    # --- layout --------------------------------------------------------------------
    def _piece_lines(self, piece: RenderableType, width: int, keep: bool = True) -> list[Strip]:
        """The piece's lines at `width`; `keep`: laid out once (a piece of the plan, which lives as long)."""
        laid = self._laid.get(id(piece)) if keep else None
        if laid is not None and laid[0] == width:
            return laid[1]
        options = self.app.console_options.update(highlight=False, width=width, height=None)
        segments = self.app.console.render(piece, options)
        strips = [Strip(line) for line in Segment.split_and_crop_lines(segments, width, include_new_lines=False,
                                                                       pad=False)]
        if keep:
            self._laid[id(piece)] = (width, strips)
        return strips

    def _lay_out(self) -> None:
        width = self._width
        lines: list[Strip] = []
        heads: list[tuple[int, Fold, Fold | None]] = []

        def add(fold: Fold, section: Fold | None) -> None:
            heads.append((len(lines), fold, section))
            chosen = len(heads) - 1 == self.cursor and self.has_focus
            lines.extend(self._piece_lines(self._head(fold, fold.opened, chosen), width, keep=False))
            if fold.opened:
                for piece in fold.pieces:
                    if isinstance(piece, Fold):
                        add(piece, section or fold)
                    else:
                        lines.extend(self._piece_lines(piece, width))

        for section in self.sections:
            add(section, None)
        self._lines, self._heads = lines, heads
        self.cursor = min(self.cursor, max(0, len(heads) - 1))

    def relayout(self) -> None:
        self._lay_out()
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width and width != self._width:
            self._width = width
        if self._width:
            self._lay_out()
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def on_focus(self) -> None:
        self.relayout()

    def on_blur(self) -> None:
        self.relayout()

    # --- moving and opening ---------------------------------------------------------
    def _reveal(self, line: int, top: bool = False) -> None:
        """Scroll the body to show line `line` of the plan (`top`: at its top)."""
        body = self.parent
        if not isinstance(body, Widget) or not body.is_scrollable:
            return
        # the body's lines below what is docked at its top (the Review's summary)
        first = max([body.content_region.y] + [w.region.bottom for w in body.children
                                               if w.styles.dock == "top" and w.display])
        height = body.content_region.bottom - first
        y = self.region.y + line - first  # where the line is on the body's screen now
        if top or y < 0:
            body.scroll_to(y=body.scroll_y + y, animate=False, immediate=True)
        elif y >= height:
            body.scroll_to(y=body.scroll_y + y - height + 1, animate=False, immediate=True)

    def action_move(self, by: int) -> None:
        if not self._heads:
            return
        self.cursor = max(0, min(len(self._heads) - 1, self.cursor + by))
        self.relayout()
        self._reveal(self._heads[self.cursor][0])

    def action_open_or_close(self) -> None:
        if self._heads:
            self.action_fold(not self._heads[self.cursor][1].opened)

    def action_fold(self, opened: bool) -> None:
        """Open (or close) the chosen line's fold; Left on a closed diff closes its section."""
        if not self._heads:
            return
        _, fold, section = self._heads[self.cursor]
        if not opened and not fold.opened and section is not None:
            fold = section
        fold.opened = opened
        self._lay_out()
        self.cursor = next(i for i, (_, f, _) in enumerate(self._heads) if f is fold)
        self.relayout()
        self.call_after_refresh(self.call_after_refresh, self._reveal, self._heads[self.cursor][0], opened)

    def folds(self) -> list[Fold]:
        """Every fold, open or not: the sections and the long diffs in them."""
        return [f for s in self.sections for f in [s] + [p for p in s.pieces if isinstance(p, Fold)]]

    def action_all(self) -> None:
        """Open every section and long diff (closed again when all were open)."""
        opened = not all(fold.opened for fold in self.folds())
        for fold in self.folds():
            fold.opened = opened
        self.relayout()

    def open_at(self, index: int, needle: str = "") -> None:
        """Open the section at `index` (and its folds holding `needle`), choose it and show it at the top."""
        section = self.sections[index]
        section.opened = True
        for piece in section.pieces:
            if isinstance(piece, Fold) and needle and needle in piece.text().lower():
                piece.opened = True
        self._lay_out()
        self.cursor = next(i for i, (_, f, _) in enumerate(self._heads) if f is section)
        self.relayout()
        line = self._heads[self.cursor][0]
        if needle:
            line = next((y for y, strip in enumerate(self._lines) if y >= line and needle in strip.text.lower()),
                        line)
        # once the body has taken the new height (a refresh to lay out, one to scroll)
        self.call_after_refresh(self.call_after_refresh, self._reveal, line, True)


def step_titles(session: Session) -> dict[str, tuple[str, str]]:
    return {s.name: (s.title, s.guide) for s in session.steps}


def planned(core: Wizard, problems: list[Problem] | None = None) -> PlanReady:
    """What the Review shows: the problems, or the plan with its conflicts and its pieces drawn
    (plan_entries). Checks and plans: call it from a worker. `problems`: the session's, just asked for."""
    try:
        reviewed = core.review(core.check() if problems is None else problems)
        if reviewed.plan is None:
            return PlanReady(None, reviewed.problems)
        pieces = plan_entries(reviewed.plan, step_titles(core.session))
    except Exception as exc:  # shown on the screen, never a traceback
        return PlanReady(None, [], f"{type(exc).__name__}: {exc}")
    return PlanReady(reviewed.plan, reviewed.problems, conflicts=reviewed.conflicts, pieces=pieces)


class ReviewScreen(WizardScreen):
    KEY = "review"
    HEADING = "Review: every change before it is made"
    AUTO_FOCUS = "#plan"  # the plan, always: Textual's own first-focusable choice raced on_mount's
    HELP = HELP
    BINDINGS = [Binding("s", "save_answers", "Save answers"), Binding("g", "sections", "Go to"),
                Binding("slash", "search", "Search"), Binding("n", "search_next", "Next match", show=False)]
    needle = ""  # what `/` looked for last

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
        self.query_one("#plan").focus(scroll_visible=False)
        if self.made is not None:
            self._ready(self.made)
        else:
            self.make_plan()

    @work(thread=True, exclusive=True, group="plan")
    def make_plan(self) -> None:
        self.post_message(planned(self.wizard.core))

    @on(PlanReady)
    def _ready(self, message: PlanReady) -> None:
        summary = self.query_one("#summary", Static)
        listed = self.query_one("#plan-problems", ProblemList)
        structural = [p for p in from_answers_file(self.wizard.core.structural) if owner_title(p.key) is None]
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

    def _show_plan(self, pieces: list[Fold] | None = None) -> None:
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
        for section in pieces:  # a file the admin edited is worth seeing at once
            section.opened = section.opened or any(
                isinstance(p, Hanging) and p.marker.plain.startswith("!") for p in section.pieces)
        self.query_one("#plan", PlanView).show(pieces)
        self.set_status(f"{active} to change" if not self.session.dry_run else "")

    def action_sections(self) -> None:
        """A list of the plan's sections: the one chosen is opened and shown at the top."""
        from mailwizard.screens.review_dialogs import SectionsScreen

        view = self.query_one("#plan", PlanView)
        if not view.sections:
            return
        titles = [f"{s.title.plain}  ({s.count})" if s.count else s.title.plain for s in view.sections]
        self.app.push_screen(SectionsScreen(titles), lambda index: view.open_at(index) if index is not None
                             else None)

    def action_search(self) -> None:
        from mailwizard.screens.review_dialogs import SearchScreen

        def searched(needle: str | None) -> None:
            if needle:
                self.needle = needle.lower()
                self._find(0)

        self.app.push_screen(SearchScreen(self.needle), searched)

    def action_search_next(self) -> None:
        if self.needle:
            view = self.query_one("#plan", PlanView)
            here = next((i for i, s in enumerate(view.sections)
                         if view._heads and s is (view._heads[view.cursor][2] or view._heads[view.cursor][1])), -1)
            self._find(here + 1)

    def _find(self, start: int) -> None:
        """Open the first section from `start` on (then from the top) that holds the text looked for."""
        view = self.query_one("#plan", PlanView)
        found = [i for i, s in enumerate(view.sections) if self.needle in s.text().lower()]
        if not found:
            self.set_status(f"not in the plan: {self.needle}", "-error")
            return
        index = next((i for i in found if i >= start), found[0])
        view.open_at(index, self.needle)
        view.focus()
        self.set_status(f"in {len(found)} section(s); n: next", "")

    @staticmethod
    def _where(problem: Problem) -> str:
        screen = owner_title(problem.key)
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
            self.wizard.core.decide(self.plan, self.conflicts, lambda c: decisions[c.path])
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

