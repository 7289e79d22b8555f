"""Mailboxes (guide 1.5): special-use mailboxes and extra ones, created (and subscribed) automatically."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RadioSet, Static

from mailwizard.answers import Answers, MailboxDef, Problem
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import AnswerInput, Choice, Choices, FieldMessages

HELP = """\
The mailboxes every user gets in the inbox namespace of
`conf.d/15-mailboxes.conf` (guide 1.5 *Automatically subscribing users to
IMAP mailboxes*), one `mailbox NAME { special_use = ...  auto = ... }` each.

**Special use** (RFC 6154): what the mailbox is for, sent to IMAP clients in
LIST, so they use it without asking the user: `\\Drafts`, `\\Junk`,
`\\Trash`, `\\Sent` (also `\\All`, `\\Archive`, `\\Flagged`); empty for an
ordinary mailbox.

**Auto**:

- *subscribe*: Dovecot creates the mailbox and subscribes the user to it,
  so clients show it at once (the guide's choice for the special-use ones);
- *create*: Dovecot creates it without subscribing;
- *no* (Dovecot's default): neither.

**Keys**: `Tab` moves through the name, special use, auto and Remove of each
row; `Up`/`Down` move to the row above or below. In the auto choice
`Left`/`Right` move and `Space` or `Enter` chooses.
`F7` (or the Add button) adds a mailbox; `F8` (or the row's Remove button)
removes the row the cursor is in. A name may hold spaces
(`"Important Emails"`), not quotes, braces, `*`, `%` or `#`.
"""

AUTO = (("subscribe", "subscribe"), ("create", "create"), ("no", "no"))


class MailboxRow(Vertical):
    """One mailbox: its name, special use, auto = subscribe|create|no, Remove; its problems below."""

    DEFAULT_CSS = """
    MailboxRow {
        height: auto;
        & > Horizontal { height: 1; }
        & AnswerInput { margin: 0 1 0 0; }
        & .mbox-name { width: 18; }
        & .mbox-special { width: 11; }
        & Choices { width: 36; }
        & Button { width: 8; min-width: 8; height: 1; border: none; }
        & Button:focus { text-style: bold reverse; }
        & > FieldMessages { margin: 0 0 0 1; }
    }
    """

    # Up/Down move to the same column of the row above/below (in the auto choice they move the cursor)
    BINDINGS = [Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False)]
    COLUMNS = ("mbox-name", "mbox-special", "mbox-remove")

    def __init__(self, box: MailboxDef, number: int, fresh: bool = False) -> None:
        super().__init__(id=f"mbox-{number}", classes="mailbox-row")
        self.box = box
        self.number = number
        self.fresh = fresh  # just added: its empty name is not an error until the cursor leaves it

    @on(Input.Blurred, ".mbox-name")
    def _name_left(self) -> None:
        self.fresh = False

    def compose(self) -> ComposeResult:
        n = self.number
        with Horizontal():
            yield AnswerInput(self.box.name, placeholder="name", id=f"mbox-{n}-name", classes="mbox-name")
            yield AnswerInput(self.box.special_use, placeholder="none", id=f"mbox-{n}-special",
                              classes="mbox-special")
            with Choices(id=f"mbox-{n}-auto"):
                for value, label in AUTO:
                    yield Choice(label, value=value == self.box.auto, id=f"mbox-{n}-auto-{value}")
            yield Button("Remove", id=f"mbox-{n}-remove", classes="mbox-remove", compact=True)
        yield FieldMessages()

    def action_move(self, step: int) -> None:
        focused = self.screen.focused
        column = next((c for c in self.COLUMNS if focused is not None and focused.has_class(c)), None)
        rows = list(self.screen.query(MailboxRow))
        i = rows.index(self) + step
        if column is not None and 0 <= i < len(rows):
            rows[i].query_one(f".{column}").focus()

    @property
    def mailbox(self) -> str:
        """The name typed in the row."""
        return self.query_one(".mbox-name", Input).value.strip()

    def value(self) -> MailboxDef:
        index = self.query_one(RadioSet).pressed_index
        auto = AUTO[index][0] if index >= 0 else self.box.auto
        special = " ".join(self.query_one(".mbox-special", Input).value.split())
        return MailboxDef(self.mailbox, special, auto)

    def mine(self, key: str) -> str | None:
        """Which part of this row a problem's key is about: "name", "special", "auto", or None."""
        base = f"mailboxes.{self.mailbox}"
        return {base: "name", f"{base}.special_use": "special", f"{base}.auto": "auto"}.get(key)

    def show(self, problems: list[Problem]) -> list[Problem]:
        """Show this row's problems under it; returns them."""
        mine = [(self.mine(p.key), p) for p in problems]
        mine = [(part, p) for part, p in mine if part]
        self.query_one(FieldMessages).show([p for _, p in mine])
        bad = {part for part, p in mine if p.severity == "error"}
        self.query_one(".mbox-name", Input).set_class("name" in bad, "-invalid")
        self.query_one(".mbox-special", Input).set_class("special" in bad, "-invalid")
        self.query_one(RadioSet).set_class("auto" in bad, "-invalid")
        return [p for _, p in mine]


class MailboxesScreen(FormScreen):
    KEY = "mailboxes"
    HEADING = "Mailboxes: created and subscribed for every user"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        names = [m.name for m in answers.mailboxes]
        return (", ".join(names) + ", created for every user") if names else "none besides INBOX"

    BINDINGS = [
        Binding("f7", "add_mailbox", "Add mailbox"),
        Binding("f8", "remove_mailbox", "Remove"),
    ]

    rows_made = 0

    def compose_body(self) -> ComposeResult:
        yield Static("Name".ljust(19) + "Special use".ljust(12) + "Auto (for every user)",
                     id="mailbox-header")
        yield FieldMessages(id="form-messages")
        with Vertical(id="mailbox-rows"):
            for box in self.session.answers.mailboxes:
                yield self.new_row(box)
        with Horizontal(id="mailbox-actions"):
            yield Button("Add mailbox (F7)", id="add-mailbox", compact=True)
        yield Static("subscribe: created and subscribed; create: created only; no: neither "
                     "(Dovecot's default). F8 removes the row the cursor is in.", id="mailbox-note",
                     classes="derived")

    def new_row(self, box: MailboxDef, fresh: bool = False) -> MailboxRow:
        self.rows_made += 1
        return MailboxRow(box, self.rows_made, fresh)

    def rows(self) -> list[MailboxRow]:
        return list(self.query(MailboxRow))

    def on_mount(self) -> None:
        super().on_mount()
        rows = self.rows()
        (rows[0].query_one(".mbox-name") if rows else self.query_one("#add-mailbox")).focus()

    # --- adding and removing ---------------------------------------------------------
    @on(Button.Pressed, "#add-mailbox")
    async def action_add_mailbox(self) -> None:
        row = self.new_row(MailboxDef("", "", "subscribe"), fresh=True)
        await self.query_one("#mailbox-rows").mount(row)
        row.query_one(".mbox-name").focus()
        self.set_status("new mailbox: type its name")

    @on(Button.Pressed, ".mbox-remove")
    async def _remove_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.remove_row(next(a for a in event.button.ancestors if isinstance(a, MailboxRow)))

    async def action_remove_mailbox(self) -> None:
        focused = self.focused
        row = next((a for a in focused.ancestors_with_self if isinstance(a, MailboxRow)), None) \
            if focused is not None else None
        if row is None:
            self.set_status("move the cursor into the mailbox to remove", "-warning")
            return
        await self.remove_row(row)

    async def remove_row(self, row: MailboxRow) -> None:
        rows = self.rows()
        i = rows.index(row)
        rest = rows[:i] + rows[i + 1:]
        name = row.mailbox or "the new mailbox"
        await row.remove()
        (rest[min(i, len(rest) - 1)].query_one(".mbox-name") if rest else self.query_one("#add-mailbox")).focus()
        self.set_status(f"removed {name}")
        self._collect()
        self.check(advance=False)

    def action_next(self) -> None:
        for row in self.rows():
            row.fresh = False  # moving on: an empty new row is refused now
        super().action_next()

    # --- the answers -------------------------------------------------------------------
    def collect(self) -> None:
        boxes = []
        for row in self.rows():
            if row.mailbox:
                boxes.append(row.value())
            elif not row.fresh:
                self.input_problems.append(Problem("mailboxes.", "give the mailbox a name, or remove the row (F8)"))
        self.session.answers.mailboxes = boxes

    def show_problems(self, problems: list[Problem]) -> None:
        shown: list[Problem] = []
        for row in self.rows():
            shown += row.show(problems)
        rest = [p for p in problems if p not in shown]
        self.query_one("#form-messages", FieldMessages).show(rest)
