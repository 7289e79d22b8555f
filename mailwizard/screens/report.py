"""Report: every step's checks against the running server, PASS/WARN/FAIL with evidence and fix."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from mailwizard import report
from mailwizard.plan import Check
from mailwizard.screens.base import WizardScreen

HELP = """\
The checks each step runs against the server as it is now (for this slice:
packages installed, guide 1.1.1; the TLS settings, key permissions and real
TLS handshakes on 993/995, guide 1.1.2; Dovecot running and listening,
guide 1.1.5).

Each row says PASS, WARN or FAIL (also in green, yellow and red), the
evidence, and for a problem how to fix it; move through the rows with the
arrow keys to read a row in full below the table. Steps that pass are
recorded, so `sudo mailwizard --resume` opens at the first step that did
not.

**d** shows the DNS records this server needs (MX, A/AAAA, PTR, SPF,
DMARC, optionally TLS-RPT and MTA-STS) as zone-file lines to copy; the DNS
rows of the table say which are already published. **s** saves a copy of
the answers (secrets left out, only their files named) for rebuilding this
server on another host; the wizard also keeps them in
/var/lib/mailwizard/answers.toml.

Run the same checks any time with `sudo mailwizard verify`. Quit leaves with
exit code 1 if any check failed, else 0.
"""

STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}


class ChecksDone(Message):
    def __init__(self, checks: list[Check], error: str = "") -> None:
        super().__init__()
        self.checks = checks
        self.error = error


class ReportScreen(WizardScreen):
    KEY = "report"
    HEADING = "Report: checking the running server"
    GUIDE = "1.1.5"
    HELP = HELP
    SCROLL_BODY = False
    NEXT_LABEL = "Quit"
    BINDINGS = [Binding("d", "dns_records", "DNS records"), Binding("s", "save_answers", "Save answers")]

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[Check] = []
        self.saved_path = ""  # where the answers were last saved: offered again

    def compose_body(self) -> ComposeResult:
        yield Static("Running the checks...", id="summary")
        table = DataTable(id="checks", cursor_type="row", zebra_stripes=False)
        table.add_columns("Status", "Step", "Check", "Evidence", "Fix")
        yield table
        yield Static("", id="detail")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next", Button).disabled = True
        self.run_checks()

    @work(thread=True, exclusive=True, group="verify")
    def run_checks(self) -> None:
        session = self.session
        try:
            checks = session.verify()
        except Exception as exc:  # shown on the screen, never a traceback
            self.post_message(ChecksDone([], f"{type(exc).__name__}: {exc}"))
            return
        error = ""
        if not session.dry_run:
            try:
                session.record_verified(checks)
            except Exception as exc:
                error = f"the result could not be recorded in the journal: {type(exc).__name__}: {exc}"
        self.post_message(ChecksDone(checks, error))

    @on(ChecksDone)
    def _done(self, message: ChecksDone) -> None:
        self.checks = self.wizard.checks = message.checks
        table = self.query_one("#checks", DataTable)
        table.clear()
        titles = {s.name: s.title for s in self.session.steps}
        step = None
        for check in message.checks:
            name = titles.get(check.step, check.step) if check.step != step else ""
            step = check.step
            table.add_row(Text(report.MARK.get(check.status, check.status.upper()),
                               style=STATUS_STYLE.get(check.status, "")),
                          name, check.name, check.evidence, check.fix)
        failed = any(c.status == "fail" for c in message.checks)
        summary = Text(report.summary(message.checks), style="bold red" if failed else "bold green")
        if message.error:
            summary.append(f"\n{message.error}", style="red")
        self.query_one("#summary", Static).update(summary)
        self.query_one("#next", Button).disabled = False
        self.set_status("exit code 1: a check failed" if failed else "exit code 0",
                        "-error" if failed else "-ok")
        if message.checks:
            table.focus()
            self._show_detail(0)

    @on(DataTable.RowHighlighted, "#checks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, row: int) -> None:
        if not 0 <= row < len(self.checks):
            return
        check = self.checks[row]
        text = Text()
        text.append(report.MARK.get(check.status, check.status), style=STATUS_STYLE.get(check.status, ""))
        text.append(f" {check.step}: {check.name}", style="bold")
        if check.evidence:
            text.append(f"\nevidence: {check.evidence}")
        if check.fix and check.status != "pass":
            text.append(f"\nfix: {check.fix}")
        self.query_one("#detail", Static).update(text)

    def action_next(self) -> None:
        if not self.query_one("#next", Button).disabled:
            self.wizard.exit(self.wizard.exit_code())

    def action_dns_records(self) -> None:
        from mailwizard import report as report_mod
        from mailwizard.screens.report_dialogs import DnsRecordsScreen

        text = report_mod.dns_records_text(self.session)
        self.app.push_screen(DnsRecordsScreen(text.split("\n", 1)[1] if text else
                                              "; a null client receives no mail: no records to publish\n"))

    def action_save_answers(self, error: str = "", path: str | None = None) -> None:
        from mailwizard.screens.report_dialogs import DEFAULT_ANSWERS_COPY, SaveAnswersScreen

        def save(path: str) -> None:
            if (msg := self.session.save_answers_copy(path)) is not None:
                self.action_save_answers(msg, path)  # ask again, with the reason
            else:
                self.saved_path = path
                self.set_status(f"answers saved to {path} (0600; secrets left out)", "-ok")

        def chosen(path: str | None) -> None:
            if not path:
                return
            if self.session.host.exists(path):
                from mailwizard.screens.confirm import ConfirmScreen

                self.app.push_screen(ConfirmScreen("Replace the file?", f"{path} exists; its contents would be "
                                                   "replaced by the answers.", yes="Replace", no="Keep it"),
                                     lambda yes: save(path) if yes else self.action_save_answers("", path))
            else:
                save(path)
        self.app.push_screen(SaveAnswersScreen(error, path or self.saved_path or DEFAULT_ANSWERS_COPY), chosen)
