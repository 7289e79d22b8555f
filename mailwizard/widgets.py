"""Small reusable widgets for the wizard's screens; each styles itself with DEFAULT_CSS.

Every widget here works by keyboard alone and says what it means in words as
well as colour (ERROR, WARNING, PASS...), so it stays legible on the Linux
console's 8 colours and without colour at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, RadioButton, RadioSet, Static

from mailwizard.answers import Problem


class StepBar(Static):
    """The wizard's steps on one line, the current one highlighted: Welcome > Install > ..."""

    DEFAULT_CSS = """
    StepBar {
        height: 1;
        width: 1fr;
        background: $primary;
        color: $text;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &:ansi {
            background: ansi_blue;
            color: ansi_bright_white;
        }
    }
    """

    def __init__(self, steps: Iterable[tuple[str, str]], current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.steps = list(steps)
        self.current = current

    def render(self) -> Text:
        names = [key for key, _ in self.steps]
        here = names.index(self.current) if self.current in names else -1
        width = self.size.width
        lo, hi = 0, len(self.steps) - 1
        if here >= 0 and width and self._bar(lo, hi, here).cell_len > width:
            # the current step with as many neighbours as fit, earlier and later in turn
            lo = hi = here
            grown = True
            while grown:
                grown = False
                if lo > 0 and self._bar(lo - 1, hi, here).cell_len <= width:
                    lo, grown = lo - 1, True
                if hi < len(self.steps) - 1 and self._bar(lo, hi + 1, here).cell_len <= width:
                    hi, grown = hi + 1, True
        return self._bar(lo, hi, here)

    def _bar(self, lo: int, hi: int, here: int) -> Text:
        """The bar showing steps lo..hi, with "..." where steps are left out."""
        text = Text("mailwizard ", style="bold")
        if lo > 0:
            text.append("... > ", style="not bold")
        for i in range(lo, hi + 1):
            title = self.steps[i][1]
            if i > lo:
                text.append(" > ")
            if i == here:
                text.append(f" {title} ", style="bold reverse")
            else:
                text.append(title, style="" if i < here else "not bold")
        if hi < len(self.steps) - 1:
            text.append(" > ...", style="not bold")
        if here >= 0:
            text.append(f"  {here + 1}/{len(self.steps)}")
        return text

    def set_steps(self, steps: Iterable[tuple[str, str]]) -> None:
        """Show another list of steps (the wizard's screens depend on some answers)."""
        self.steps = list(steps)
        self.refresh()


class FieldMessages(Static):
    """The problems of one field, shown directly under it; hidden when there are none."""

    DEFAULT_CSS = """
    FieldMessages {
        display: none;
        height: auto;
        width: 1fr;
        padding: 0 1;
        &.-error { display: block; color: $text-error; }
        &.-warning { display: block; color: $text-warning; }
        &:ansi.-error { color: ansi_bright_red; }
        &:ansi.-warning { color: ansi_yellow; }
    }
    """

    def show(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        warnings = [p for p in problems if p.severity != "error"]
        text = Text()
        for p in errors + warnings:
            if text:
                text.append("\n")
            word = "error" if p.severity == "error" else "warning"
            text.append(f"{word}: ", style="bold")
            text.append(p.message)
        self.update(text)
        self.set_class(bool(errors), "-error")
        self.set_class(not errors and bool(warnings), "-warning")


class AnswerInput(Input):
    """A one-line text input for an answer: a panel that lights up with the focus, red when refused."""

    DEFAULT_CSS = """
    AnswerInput.-textual-compact {
        background: $panel;
        &:focus { background: $primary-muted; }
        &.-invalid { background: $error-muted; }
        &:ansi { background: ansi_blue; color: ansi_bright_white; }
        &:ansi:focus { background: ansi_cyan; color: ansi_black; }
        &:ansi.-invalid { background: ansi_red; color: ansi_bright_white; }
    }
    """

    def __init__(self, value: str = "", **kwargs) -> None:
        super().__init__(value, compact=True, **kwargs)


class Field(Vertical):
    """A labelled text field for one answers key, with its problems underneath.

    The Input's id is the key with dots replaced (`server.hostname` -> `server-hostname`),
    so tests and screens find a field by the key the answers file uses.
    """

    DEFAULT_CSS = """
    Field {
        height: auto;
        width: 1fr;
        margin: 0 0 1 0;
        & > Horizontal { height: auto; }
        & > Horizontal > Label {
            width: 16;
            height: 1;
            padding: 0 1 0 0;
            text-align: right;
            text-style: bold;
        }
        &.-focused > Horizontal > Label { text-style: bold reverse; }
        & > Horizontal > AnswerInput { width: 1fr; }
        & > FieldMessages { margin: 0 0 0 16; }
    }
    """

    def __init__(self, key: str, label: str, value: str = "", placeholder: str = "", *,
                 password: bool = False, **kwargs) -> None:
        super().__init__(id=f"field-{field_id(key)}", **kwargs)
        self.key = key
        self.label = label
        self._value = value
        self.placeholder = placeholder
        self.password = password  # shown as dots, and taken as typed (spaces kept)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label)
            yield AnswerInput(self._value, placeholder=self.placeholder, id=field_id(self.key),
                              password=self.password)
        yield FieldMessages(classes="field-messages")

    # a class, not :focus-within, so that the label is restyled when the focus leaves
    def on_descendant_focus(self) -> None:
        self.add_class("-focused")

    def on_descendant_blur(self) -> None:
        self.remove_class("-focused")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def value(self) -> str:
        return self.input.value if self.password else self.input.value.strip()

    @property
    def words(self) -> list[str]:
        """The value as a list: words separated by spaces or commas."""
        return self.value.replace(",", " ").split()

    @property
    def control(self) -> Widget:
        """The widget that takes the value (and the focus)."""
        return self.input

    def show(self, problems: list[Problem]) -> None:
        mine = [p for p in problems if p.key == self.key]
        self.query_one(FieldMessages).show(mine)
        self.control.set_class(any(p.severity == "error" for p in mine), "-invalid")

    @property
    def invalid(self) -> bool:
        return self.control.has_class("-invalid")


def field_id(key: str) -> str:
    """The id of the widget that edits an answers key: `auth.ldap.uris` -> `auth-ldap-uris`."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in key)


class Choices(RadioSet):
    """Radio buttons side by side on one line (class -vertical: one a line), no border:
    arrows move, Enter or Space chooses, and the chosen one shows (*)."""

    DEFAULT_CSS = """
    Choices {
        width: 1fr;
        height: auto;
        padding: 0;
        background: transparent;
        layout: horizontal;
        &:focus { background-tint: $foreground 5%; }
        &.-invalid { background: $error-muted; }
        &:ansi.-invalid { background: ansi_red; }
        & > RadioButton { width: auto; margin: 0 2 0 0; }
        &.-vertical {
            layout: vertical;
            & > RadioButton { width: 1fr; margin: 0; }
        }
    }
    """

    def __init__(self, *buttons, **kwargs) -> None:
        super().__init__(*buttons, compact=True, **kwargs)

    def on_mount(self) -> None:
        # the cursor starts on the chosen button (RadioSet's own mount puts it on the first)
        self.call_later(self._cursor_to_chosen)

    def _cursor_to_chosen(self) -> None:
        if self.pressed_index >= 0:
            self._selected = self.pressed_index


class ChoiceField(Field):
    """One of a few values for an answers key, as radio buttons beside the label: (*) sdbox ( ) mdbox.

    The Choices' id is the key's (see field_id); each button's id adds the value.
    `vertical=True` puts one choice a line.
    """

    def __init__(self, key: str, label: str, options: Iterable[tuple[str, str]], value: str = "", *,
                 vertical: bool = False, **kwargs) -> None:
        super().__init__(key, label, value, **kwargs)
        self.options = list(options)
        self.vertical = vertical

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label)
            with Choices(id=field_id(self.key), classes="-vertical" if self.vertical else ""):
                for value, text in self.options:
                    yield Choice(text, value=value == self._value, id=f"{field_id(self.key)}-{field_id(value)}")
        yield FieldMessages(classes="field-messages")

    @property
    def control(self) -> Choices:
        return self.query_one(Choices)

    @property
    def value(self) -> str:
        """The chosen value; the initial one while none is chosen."""
        index = self.control.pressed_index
        return self.options[index][0] if index >= 0 else self._value


class TickField(Field):
    """An on/off answer beside its label: `STARTTLS  [X] use STARTTLS`."""

    DEFAULT_CSS = """
    TickField > Horizontal > Tick {
        border: none;
        padding: 0;
        background: transparent;
        &.-invalid { background: $error-muted; }
    }
    """

    def __init__(self, key: str, label: str, text: str, value: bool = False, **kwargs) -> None:
        super().__init__(key, label, **kwargs)
        self.text = text
        self._on = value

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label)
            yield Tick(self.text, self._on, id=field_id(self.key), compact=True)
        yield FieldMessages(classes="field-messages")

    @property
    def control(self) -> "Tick":
        return self.query_one(Tick)

    @property
    def value(self) -> bool:  # type: ignore[override]
        return self.control.value


class ResultView(Static):
    """The outcome of a test (Test connection): a PASS/FAIL word, then each line that came back."""

    DEFAULT_CSS = """
    ResultView {
        height: auto;
        width: 1fr;
        padding: 0 1;
        margin: 0 0 1 0;
        display: none;
        &.-shown { display: block; }
        &.-running { color: $text-muted; }
    }
    """

    _reveal = False  # shown by a test: scrolled into view whenever its size changes

    def running(self, text: str) -> None:
        self.update(Text(text))
        self.set_classes("-shown -running")
        self.reveal()

    def reveal(self) -> None:
        self._reveal = True
        self.call_after_refresh(self._scroll_into_view)

    def on_resize(self) -> None:
        if self._reveal:  # after the next refresh: the container then knows its new size too
            self.call_after_refresh(self._scroll_into_view)

    def _scroll_into_view(self) -> None:
        if self._reveal and self.size.height:
            self.scroll_visible(animate=False)

    def show(self, ok: bool, lines: list[str], title: str = "") -> None:
        grid = Table.grid(expand=True)
        grid.add_column(width=6, no_wrap=True)
        grid.add_column(ratio=1, overflow="fold")
        grid.add_row(Text("PASS" if ok else "FAIL", style="bold green" if ok else "bold red"),
                     Text(title, style="bold"))
        for line in lines:
            grid.add_row("", Text(line))
        self.update(grid)
        self.set_classes("-shown")
        self.reveal()


class ProblemList(Static):
    """Problems not tied to a field (preflight, answers-file keys), each led by ERROR or WARNING."""

    DEFAULT_CSS = """
    ProblemList {
        height: auto;
        width: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, empty: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.empty = empty

    def show(self, problems: list[Problem], suffix=None, empty: str | None = None, mark: str = "OK") -> None:
        """List the problems; `suffix(problem)` adds a note; `empty` is said, after `mark`, when there are none."""
        empty = self.empty if empty is None else empty
        grid = Table.grid(expand=True)
        grid.add_column(width=8, no_wrap=True)
        grid.add_column(ratio=1)
        for p in sorted(problems, key=lambda p: p.severity != "error"):
            if p.severity == "error":
                word = Text("ERROR", style="bold red")
            else:
                word = Text("WARNING", style="bold yellow")
            body = Text.assemble((f"{p.key}: ", "bold"), p.message)
            if suffix and (extra := suffix(p)):
                body.append(f" ({extra})")
            grid.add_row(word, body)
        if not problems and empty:
            grid.add_row(Text(mark, style="bold green" if mark == "OK" else "bold"), Text(empty))
        self.update(grid)
        self.display = bool(grid.row_count)


class CheckList(Static):
    """Checks read from the host, each led by PASS, WARN or FAIL, with its evidence and, for a problem,
    the fix (the Report screen's words, for a few checks shown on a form)."""

    DEFAULT_CSS = """
    CheckList {
        height: auto;
        width: 1fr;
        padding: 0 1;
    }
    """

    WORDS = {"pass": ("PASS", "bold green"), "warn": ("WARN", "bold yellow"), "fail": ("FAIL", "bold red")}

    def show(self, checks) -> None:
        grid = Table.grid(expand=True)
        grid.add_column(width=6, no_wrap=True)
        grid.add_column(ratio=1)
        for check in checks:
            word, style = self.WORDS.get(check.status, (check.status.upper(), "bold"))
            body = Text.assemble((check.name, "bold"), f": {check.evidence}" if check.evidence else "")
            if check.fix:
                body.append(f"\nfix: {check.fix}")
            grid.add_row(Text(word, style=style), body)
        self.update(grid)


class _Toggle(Protocol):
    """What _Marked uses of the ToggleButton it is mixed into."""

    BUTTON_LEFT: str
    BUTTON_RIGHT: str
    MARK: str

    @property
    def value(self) -> bool: ...

    def get_visual_style(self, *component_classes: str, partial: bool = False) -> Style: ...


class _Marked:
    """A toggle drawn as [X]/[ ] or (*)/( ): the state is a character, the brackets plain text,
    so it reads the same in every theme, on 8 colours and without colour."""

    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"
    MARK = "X"

    @property
    def _button(self: _Toggle) -> Content:
        style = self.get_visual_style("toggle--button")
        mark = self.MARK if self.value else " "
        return Content.assemble(self.BUTTON_LEFT, (mark, style + Style(bold=True)), self.BUTTON_RIGHT)


class Tick(_Marked, Checkbox):
    """A checkbox showing [X] when on and [ ] when off; its label wraps instead of being cut."""

    DEFAULT_CSS = """
    Tick {
        width: 1fr;
        height: auto;
        text-wrap: wrap;
        text-overflow: fold;
    }
    """

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Textual annotates RulesMap but passes widget styles itself (Widget.get_content_height)
        return self.render().get_height(self.styles, width)  # type: ignore[arg-type]


class Choice(_Marked, RadioButton):
    """A radio button showing (*) when chosen and ( ) when not."""

    BUTTON_LEFT = "("
    BUTTON_RIGHT = ")"
    MARK = "*"
