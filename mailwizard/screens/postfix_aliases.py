"""Domains and aliases (guide 2.4, 2.5): the virtual alias table edited as rows, or an LDAP lookup."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RadioSet, Static

from mailwizard.answers import Answers, Problem
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import AnswerInput, ChoiceField, Field, FieldMessages

HELP = """\
Addresses Postfix accepts and forwards elsewhere (`postfix.virtual_alias_source`).

- **none**: no virtual aliases.
- **table** (`file`, guide 2.4 *Configuring virtual domains and
  aliases*): the rows below become `/etc/postfix/virtual`
  (`info@example.com user22@example.net`), turned into a lookup table with
  `postmap` and named in `virtual_alias_maps`. The map type is Postfix's
  `default_database_type`: `lmdb:` on RHEL 10 (no Berkeley DB), `hash:` on
  Debian. A destination may list several addresses, separated by spaces.
  `@example.com` as the address catches every other address of the domain.
- **LDAP** (`ldap`, guide 2.5 *Configuring Postfix to use LDAP lookup
  tables*): `/etc/postfix/ldap-aliases.cf` with **Server**
  (`server_host`), **Search base** (`search_base`) and an optional
  **Filter** (`query_filter`, Postfix's default
  `mailacceptinggeneralid=%s`); `virtual_alias_maps = ldap:...`, checked with
  `postmap -q` against the directory.

**Keys**: `Tab` moves through the address, destination and Remove of each
row, `Up`/`Down` to the row above or below. `F7` (or the Add button) adds
an alias; `F8` (or the row's Remove button) removes the row the cursor is in.
"""

SOURCES = [("", "none"), ("file", "table"), ("ldap", "LDAP")]


class AliasRow(Horizontal):
    """One alias: address -> destination, and Remove."""

    DEFAULT_CSS = """
    AliasRow {
        height: 1;
        & AnswerInput { margin: 0 1 0 0; }
        & .alias-address { width: 28; }
        & .alias-dest { width: 1fr; }
        & Button { width: 8; min-width: 8; height: 1; border: none; }
        & Button:focus { text-style: bold reverse; }
    }
    """

    BINDINGS = [Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False)]
    COLUMNS = ("alias-address", "alias-dest", "alias-remove")

    def __init__(self, address: str, dest: str, number: int) -> None:
        super().__init__(id=f"alias-{number}", classes="alias-row")
        self.address, self.dest, self.number = address, dest, number

    def compose(self) -> ComposeResult:
        n = self.number
        yield AnswerInput(self.address, placeholder="info@example.com", id=f"alias-{n}-address",
                          classes="alias-address")
        yield AnswerInput(self.dest, placeholder="user22@example.net", id=f"alias-{n}-dest", classes="alias-dest")
        yield Button("Remove", id=f"alias-{n}-remove", classes="alias-remove", compact=True)

    def action_move(self, step: int) -> None:
        focused = self.screen.focused
        column = next((c for c in self.COLUMNS if focused is not None and focused.has_class(c)), None)
        rows = list(self.screen.query(AliasRow))
        i = rows.index(self) + step
        if column is not None and 0 <= i < len(rows):
            rows[i].query_one(f".{column}").focus()

    def value(self) -> tuple[str, str]:
        return (self.query_one(".alias-address", Input).value.strip(),
                " ".join(self.query_one(".alias-dest", Input).value.replace(",", " ").split()))

    def mark(self, problems: list[Problem]) -> None:
        """Mark the address or destination a problem names as refused."""
        address, _dest = self.value()
        texts = [p.message for p in problems if p.severity == "error"]
        bad_address = any(m.startswith(repr(address)) for m in texts) if address else False
        bad_dest = any(m.startswith(f"{address}:") for m in texts) if address else False
        self.query_one(".alias-address", Input).set_class(bad_address, "-invalid")
        self.query_one(".alias-dest", Input).set_class(bad_dest, "-invalid")


class PostfixAliasesScreen(FormScreen):
    KEY = "postfix_aliases"
    HEADING = "Domains and aliases"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        p = answers.postfix
        if p.virtual_alias_source == "file":
            return f"{len(p.virtual_aliases)} alias(es) in /etc/postfix/virtual"
        return "aliases from LDAP" if p.virtual_alias_source == "ldap" else "none"

    BINDINGS = [Binding("f7", "add_alias", "Add alias"), Binding("f8", "remove_alias", "Remove")]

    rows_made = 0

    def compose_body(self) -> ComposeResult:
        p = self.session.answers.postfix
        yield FieldMessages(id="form-messages")
        yield ChoiceField("postfix.virtual_alias_source", "Aliases from", SOURCES, p.virtual_alias_source)
        with Vertical(id="aliases-file", classes="subform"):
            yield Static("Address".ljust(29) + "Destination (one or more addresses)", id="alias-header")
            with Vertical(id="alias-rows"):
                for address, dest in p.virtual_aliases.items():
                    yield self.new_row(address, dest)
            yield FieldMessages(id="aliases-messages")
            with Horizontal(id="alias-actions"):
                yield Button("Add alias (F7)", id="add-alias", compact=True)
            yield Static(self.map_note(), id="alias-note", classes="derived")
        with Vertical(id="aliases-ldap", classes="subform"):
            ldap = p.ldap_aliases
            yield Field("postfix.ldap_aliases.server_host", "Server", ldap.server_host,
                        placeholder="ldap.example.com")
            yield Field("postfix.ldap_aliases.search_base", "Search base", ldap.search_base,
                        placeholder="dc=example,dc=com")
            yield Field("postfix.ldap_aliases.query_filter", "Filter", ldap.query_filter,
                        placeholder="mailacceptinggeneralid=%s (Postfix's default)")
            yield Static("/etc/postfix/ldap-aliases.cf; virtual_alias_maps = ldap:... (package postfix-ldap)",
                         classes="derived")

    def map_note(self) -> str:
        kind = self.session.profile.map_type
        return (f"/etc/postfix/virtual, postmap; virtual_alias_maps = {kind}:/etc/postfix/virtual "
                "(the map type is this Postfix's default_database_type). F8 removes the row the cursor is in.")

    def new_row(self, address: str = "", dest: str = "") -> AliasRow:
        self.rows_made += 1
        return AliasRow(address, dest, self.rows_made)

    def rows(self) -> list[AliasRow]:
        return list(self.query(AliasRow))

    def on_mount(self) -> None:
        super().on_mount()
        self.show_source()
        self.query_one("#postfix-virtual_alias_source").focus()

    @on(RadioSet.Changed, "#postfix-virtual_alias_source")
    def show_source(self) -> None:
        source = self.query_one("#field-postfix-virtual_alias_source", ChoiceField).value
        self.query_one("#aliases-file").display = source == "file"
        self.query_one("#aliases-ldap").display = source == "ldap"

    # --- adding and removing ---------------------------------------------------------
    @on(Button.Pressed, "#add-alias")
    async def action_add_alias(self) -> None:
        if self.query_one("#field-postfix-virtual_alias_source", ChoiceField).value != "file":
            self.set_status("choose 'table' to edit aliases", "-warning")
            return
        row = self.new_row()
        await self.query_one("#alias-rows").mount(row)
        row.query_one(".alias-address").focus()
        self.set_status("new alias: type its address and destination")

    @on(Button.Pressed, ".alias-remove")
    async def _remove_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.remove_row(next(a for a in event.button.ancestors if isinstance(a, AliasRow)))

    async def action_remove_alias(self) -> None:
        focused = self.focused
        row = next((a for a in focused.ancestors_with_self if isinstance(a, AliasRow)), None) \
            if focused is not None else None
        if row is None:
            self.set_status("move the cursor into the alias to remove", "-warning")
            return
        await self.remove_row(row)

    async def remove_row(self, row: AliasRow) -> None:
        rows = self.rows()
        i = rows.index(row)
        rest = rows[:i] + rows[i + 1:]
        name = row.value()[0] or "the new alias"
        await row.remove()
        (rest[min(i, len(rest) - 1)].query_one(".alias-address") if rest else self.query_one("#add-alias")).focus()
        self.set_status(f"removed {name}")
        self._collect()
        self.check(advance=False)

    # --- the answers -------------------------------------------------------------------
    def collect(self) -> None:
        p = self.session.answers.postfix
        p.virtual_alias_source = self.query_one("#field-postfix-virtual_alias_source", ChoiceField).value
        if p.virtual_alias_source == "file":
            aliases: dict[str, str] = {}
            for row in self.rows():
                address, dest = row.value()
                if not address and not dest:
                    continue  # an empty row is left out
                if not address:
                    self.input_problems.append(Problem("postfix.virtual_aliases",
                                                       f"{dest!r} has no address: give it one, or remove the row (F8)"))
                elif address in aliases:
                    self.input_problems.append(Problem("postfix.virtual_aliases",
                                                       f"{address!r} is given twice: keep one row"))
                else:
                    aliases[address] = dest
            p.virtual_aliases = aliases
        elif p.virtual_alias_source == "ldap":
            for key in ("server_host", "search_base", "query_filter"):
                setattr(p.ldap_aliases, key, self.query_one(f"#field-postfix-ldap_aliases-{key}", Field).value)

    def show_problems(self, problems: list[Problem]) -> None:
        mine = [p for p in problems if p.key == "postfix.virtual_aliases"]
        for row in self.rows():
            row.mark(mine)
        self.query_one("#aliases-messages", FieldMessages).show(mine)
        for f in self.fields():
            f.show(problems)
        source = self.query_one("#field-postfix-virtual_alias_source", ChoiceField).value
        shown = {"postfix.virtual_alias_source"} | ({"postfix.virtual_aliases"} if source == "file" else
                                                    {f.key for f in self.fields()} if source == "ldap" else set())
        self.query_one("#form-messages", FieldMessages).show([p for p in problems if p.key not in shown])
