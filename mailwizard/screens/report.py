"""Report: every step's checks against the running server, grouped by area, PASS/WARN/FAIL with evidence and fix.

Before the checks run (and again on `t`) the administrator may name a test
account and type its password: the password goes into the answers in memory
only (`auth.test_password`, which no file, journal or report ever receives)
and the account's checks (doveadm auth test, IMAP/POP3/submission logins, a
delivery) run with it. The checks run in a thread worker, step by step, with
the step being checked shown above the table.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from mailwizard import report
from mailwizard.plan import Check
from mailwizard.screens.base import WizardScreen

HELP = """\
The checks each step runs against the server as it is now: packages, TLS
settings and real handshakes on every TLS port (TLS 1.2 or newer, TLS 1.1
refused, a certificate naming this host), Dovecot and Postfix running and
listening, no open relay, AUTH only after STARTTLS, and the DNS records.

The table is grouped by area (the step that checks it; the area's name is
coloured by its worst result). Each row says PASS, WARN or FAIL (also in
green, yellow and red) and the evidence. A cell too long for its column
ends in "…": the row chosen with the arrow keys is shown in full below the
table, with how to fix a problem (Tab moves into it to scroll a long one,
Shift+Tab back to the table). The line above the table counts passes,
warnings and failures.
Steps that pass are recorded, so `sudo mailwizard --resume` opens at the
first step that did not.

**t** names a test account and its password: the report then runs
`doveadm auth test`, logs in as it over IMAP, POP3 and submission, and
sends it a message on port 25 that it reads back and deletes. The password
is kept in memory only: never saved, logged or shown. Skip leaves these
checks out. In an answers file, `[auth] test_user` and
`test_password_file` name one without asking.

**d** shows the DNS records this server needs (MX, A/AAAA, PTR, SPF,
DMARC, DKIM, optionally TLS-RPT and MTA-STS) as zone-file lines, each
whole (a long one wraps); **c** there copies them to the terminal's
clipboard, and `sudo mailwizard verify` prints them too. The DNS rows of
the table say which are already published. **s** saves a copy of
the answers (secrets left out, only their files named) for rebuilding this
server on another host; the wizard also keeps them in
/var/lib/mailwizard/answers.toml.

Run the same checks any time with `sudo mailwizard verify`. Quit leaves with
exit code 1 if any check failed, else 0.
"""

STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}
ACCOUNT_STEPS = ("auth", "live")  # the steps whose checks use the test account
STATUS_WIDTH, AREA_WIDTH, CHECK_WIDTH = 6, 14, 32  # cropped: the whole row is shown below the table
DETAIL_TITLE = "the chosen row in full (a cell ending in … is cut in the table)"
DETAIL_SCROLLS = "the chosen row in full: Tab to scroll it, Shift+Tab back"


def cut(text: str) -> Text:
    """A cell's text on one line, ending in "…" where the column cuts it (the row's detail has it all)."""
    return Text(text, no_wrap=True, overflow="ellipsis")


class DetailPane(VerticalScroll):
    """The chosen row in full, under the table: it takes the focus (Tab) only when it has more to show
    than its height, to scroll that with the keys."""

    showing = False  # a row is shown (before the checks have run, the pane is empty and untitled)

    def allow_focus(self) -> bool:
        return self.allow_vertical_scroll

    def on_resize(self) -> None:
        self.retitle()

    def retitle(self) -> None:
        """The title says what the pane shows, and how to scroll it when the row is longer than the pane."""
        self.border_title = "" if not self.showing else DETAIL_SCROLLS if self.allow_vertical_scroll \
            else DETAIL_TITLE


class ChecksProgress(Message):
    """The checks of one more step are running (posted from the worker)."""

    def __init__(self, title: str, index: int, total: int, account: bool) -> None:
        super().__init__()
        self.account = account  # only the test account's checks are run again
        self.title = title
        self.index = index
        self.total = total


class ChecksDone(Message):
    def __init__(self, checks: list[Check], error: str = "") -> None:
        super().__init__()
        self.checks = checks
        self.error = error


class ReportScreen(WizardScreen):
    KEY = "report"
    HEADING = "Report: checking the running server"
    HELP = HELP
    SCROLL_BODY = False
    NEXT_LABEL = "Quit"
    BINDINGS = [Binding("t", "test_account", "Test account"), Binding("d", "dns_records", "DNS"),
                Binding("s", "save_answers", "Save answers")]

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[Check] = []
        self.saved_path = ""  # where the answers were last saved: offered again
        self.running = False
        self.account_note = ""  # shown under the summary: the test account used, or skipped

    def compose_body(self) -> ComposeResult:
        yield Static("Running the checks...", id="summary")
        table: DataTable[Text | str] = DataTable(id="checks", cursor_type="row", zebra_stripes=False)
        table.add_column("Status", width=STATUS_WIDTH)
        table.add_column("Area", width=AREA_WIDTH)
        table.add_column("Check", width=CHECK_WIDTH)
        # Evidence takes the rest of the terminal's width: no row needs scrolling sideways
        used = STATUS_WIDTH + AREA_WIDTH + CHECK_WIDTH + 2 * table.cell_padding * 4 + 2 + 2  # scrollbar, padding
        table.add_column("Evidence", width=max(12, self.app.size.width - used))
        yield table
        with DetailPane(id="detail"):
            yield Static("", id="detail-text")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next", Button).disabled = True
        if not self.account_wanted():
            self.start_checks()
        elif (known := self.known_account()) is None:
            self.ask_account(first=True)
        else:
            self.account_note = f"test account: {known[0]} (from the answers; t to test another)"
            self.start_checks()

    # --- the test account -------------------------------------------------------------
    def account_wanted(self) -> bool:
        """Whether any step of this server checks a test account (Dovecot serves logins here)."""
        return any(s.name in ACCOUNT_STEPS for s in self.session.active_steps()) and \
            self.session.answers.dovecot_enabled

    def known_account(self) -> tuple[str, str] | None:
        from mailwizard.steps.auth import given_test_login

        try:
            return given_test_login(self.session.answers, self.session.host)
        except OSError:  # an unreadable password file: ask
            return None

    def ask_account(self, first: bool = False) -> None:
        from mailwizard.screens.report_dialogs import AccountPromptScreen

        if first:
            self.query_one("#summary", Static).update("The checks run once a test account is named or skipped.")

        def answered(account: tuple[str, str] | None) -> None:
            auth = self.session.answers.auth
            if account is not None:
                auth.test_user, auth.test_password = account
                self.account_note = f"test account: {account[0]}"
                self.start_checks(only=None if first else ACCOUNT_STEPS)
            elif first:
                self.account_note = "test account skipped: logins and delivery not checked (t to test one)"
                self.start_checks()

        self.app.push_screen(AccountPromptScreen(self.session.answers.auth.test_user), answered)

    def action_test_account(self) -> None:
        if self.running:
            return
        if not self.account_wanted():
            self.set_status("no Dovecot on this host: there are no logins to test", "-warning")
            return
        self.ask_account()

    # --- the checks ---------------------------------------------------------------------
    def start_checks(self, only: tuple[str, ...] | None = None) -> None:
        """Run every step's checks, or only those of the steps in `only` (their rows are replaced)."""
        self.running = True
        self.query_one("#next", Button).disabled = True
        self.set_status("")
        self.run_checks(only)

    @work(thread=True, exclusive=True, group="verify")
    def run_checks(self, only: tuple[str, ...] | None) -> None:
        checks = self.wizard.core.verify(self.checks, only, lambda title, index, total: self.post_message(
            ChecksProgress(title, index, total, only is not None)))
        error = ""
        try:
            self.wizard.core.record(checks)
        except Exception as exc:
            error = f"the result could not be recorded in the journal: {type(exc).__name__}: {exc}"
        self.post_message(ChecksDone(checks, error))

    @on(ChecksProgress)
    def _progress(self, message: ChecksProgress) -> None:
        what = "Checking the test account" if message.account else "Running the checks"
        self.query_one("#summary", Static).update(
            Text(f"{what}: {message.title} ({message.index + 1}/{message.total})...", style="bold"))

    @on(ChecksDone)
    def _done(self, message: ChecksDone) -> None:
        self.running = False
        self.checks = self.wizard.checks = message.checks
        table = self.query_one("#checks", DataTable)
        table.clear()
        titles = {s.name: s.title for s in self.session.steps}
        step = None
        for check in message.checks:
            area = Text("")
            if check.step != step:
                group = report.worst([c for c in message.checks if c.step == check.step])
                area = Text(titles.get(check.step, check.step), style=STATUS_STYLE[group].replace("bold ", ""))
            step = check.step
            table.add_row(Text(report.MARK.get(check.status, check.status.upper()),
                               style=STATUS_STYLE.get(check.status, "")),
                          area, cut(check.name), cut(check.evidence))
        self.query_one("#summary", Static).update(self.summary_text(message.checks, message.error))
        self.query_one("#next", Button).disabled = False
        failed = any(c.status == "fail" for c in message.checks)
        self.set_status("exit code 1: a check failed" if failed else "exit code 0",
                        "-error" if failed else "-ok")
        if message.checks:
            table.focus()
            table.move_cursor(row=0)
            self._show_detail(0)

    def summary_text(self, checks: list[Check], error: str = "") -> Text:
        """The summary line: each count in its status's colour, the verdict in the worst one."""
        n = report.counts(checks)
        text = Text()
        for status, words in (("pass", "passed"), ("warn", "warnings"), ("fail", "failed")):
            if text:
                text.append(", ")
            text.append(f"{n[status]} {words}", style=STATUS_STYLE[status] if n[status] else "")
        text.append(f": {report.verdict(checks)}", style=STATUS_STYLE[report.worst(checks)])
        if self.account_note:
            text.append(f"\n{self.account_note}")
        if self.saved_path:
            text.append(f"\nanswers saved to {self.saved_path} (0600; secrets left out)")
        if error:
            text.append(f"\n{error}", style="red")
        return text

    @on(DataTable.RowHighlighted, "#checks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, row: int) -> None:
        if not 0 <= row < len(self.checks):
            return
        check = self.checks[row]
        titles = {s.name: s.title for s in self.session.steps}
        text = Text()
        text.append(report.MARK.get(check.status, check.status), style=STATUS_STYLE.get(check.status, ""))
        text.append("  ")
        text.append(f"{titles.get(check.step, check.step)}: {check.name}", style="bold")
        if check.evidence:
            text.append(f"\nevidence: {check.evidence}")
        if check.fix and check.status != "pass":
            text.append(f"\nfix: {check.fix}")
        self.query_one("#detail-text", Static).update(text)
        pane = self.query_one("#detail", DetailPane)
        pane.showing = True
        pane.scroll_home(animate=False)
        pane.retitle()

    def action_next(self) -> None:
        if not self.query_one("#next", Button).disabled:
            self.wizard.exit(self.wizard.exit_code())

    # --- the dialogs --------------------------------------------------------------------
    def action_dns_records(self) -> None:
        from mailwizard.screens.report_dialogs import DnsRecordsScreen

        text = report.dns_records_text(self.session)
        self.app.push_screen(DnsRecordsScreen(text.split("\n", 1)[1] if text else
                                              "; a null client receives no mail: no records to publish\n"))

    def action_save_answers(self) -> None:
        from mailwizard.screens.report_dialogs import save_answers

        def saved(path: str) -> None:
            self.saved_path = path
            self.query_one("#summary", Static).update(self.summary_text(self.checks))
            self.set_status("answers saved", "-ok")

        save_answers(self, saved, self.saved_path)
