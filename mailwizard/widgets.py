"""Small reusable widgets for the wizard's screens; each styles itself with DEFAULT_CSS.

Every widget here works by keyboard alone and says what it means in words as
well as colour (ERROR, WARNING, PASS...), so it stays legible on the Linux
console's 8 colours and without colour at all.
"""

from __future__ import annotations

from typing import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.style import Style
from textual.widgets import Checkbox, Input, Label, RadioButton, Static

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
        text = Text("mailwizard ", style="bold")
        names = [key for key, _ in self.steps]
        here = names.index(self.current) if self.current in names else -1
        for i, (key, title) in enumerate(self.steps):
            if i:
                text.append(" > ")
            if i == here:
                text.append(f" {title} ", style="bold reverse")
            else:
                text.append(title, style="" if i < here else "not bold")
        if here >= 0:
            text.append(f"  {here + 1}/{len(self.steps)}")
        return text


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
        & > Horizontal > Input {
            width: 1fr;
            padding: 0 1;
            background: $panel;
            &:focus { background: $primary-muted; }
            &.-invalid { background: $error-muted; }
            &:ansi { background: ansi_blue; color: ansi_bright_white; }
            &:ansi:focus { background: ansi_cyan; color: ansi_black; }
            &:ansi.-invalid { background: ansi_red; color: ansi_bright_white; }
        }
        & > FieldMessages { margin: 0 0 0 16; }
    }
    """

    def __init__(self, key: str, label: str, value: str = "", placeholder: str = "", **kwargs) -> None:
        super().__init__(id=f"field-{key.replace('.', '-')}", **kwargs)
        self.key = key
        self.label = label
        self._value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label)
            yield Input(self._value, placeholder=self.placeholder, id=self.key.replace(".", "-"), compact=True)
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
        return self.input.value.strip()

    def show(self, problems: list[Problem]) -> None:
        mine = [p for p in problems if p.key == self.key]
        self.query_one(FieldMessages).show(mine)
        self.input.set_class(any(p.severity == "error" for p in mine), "-invalid")

    @property
    def invalid(self) -> bool:
        return self.input.has_class("-invalid")


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


class _Marked:
    """A toggle drawn as [X]/[ ] or (*)/( ): the state is a character, the brackets plain text,
    so it reads the same in every theme, on 8 colours and without colour."""

    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"
    MARK = "X"

    @property
    def _button(self) -> Content:
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
        return self.render().get_height(self.styles, width)


class Choice(_Marked, RadioButton):
    """A radio button showing (*) when chosen and ( ) when not."""

    BUTTON_LEFT = "("
    BUTTON_RIGHT = ")"
    MARK = "*"
