"""Pilot tests of the Report: its table, the test-account prompt, the DNS records and saving the answers."""

from __future__ import annotations

import json
import os
import stat
import threading

from textual.widgets import Button, DataTable, Input, Static, TextArea

from mailwizard import answers as answers_mod
from mailwizard.app import create_app
from mailwizard.host import Result
from mailwizard.screens.confirm import ConfirmScreen
from mailwizard.screens.report import ReportScreen
from mailwizard.screens.report_dialogs import AccountPromptScreen, DnsRecordsScreen, SaveAnswersScreen
from mailwizard.simulated import FakeHost
from tui_support import JOURNAL, applied, make_session, press, replace_input, settle, text_of

SIZE = (80, 24)


async def to_report(pilot) -> None:
    """The Report (the app opened there on an applied session), its checks run."""
    await settle(pilot)
    if isinstance(pilot.app.screen, AccountPromptScreen):
        await press(pilot, "escape")  # no test account
    assert isinstance(pilot.app.screen, ReportScreen)


class TestDnsRecords:
    async def test_d_shows_the_zone_lines_for_this_host(self, tmp_path):
        session = make_session(tmp_path / "root")
        session.answers.dns.addresses = ["203.0.113.25"]
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_report(pilot)
            assert any(c.step == "dns" for c in app.checks), "the DNS rows are part of the report"
            await press(pilot, "d")
            assert isinstance(app.screen, DnsRecordsScreen)
            zone = app.screen.query_one("#zone", TextArea)
            assert zone.read_only and app.focused is zone
            assert "example.com.                             IN MX    10 mail.example.com." in zone.text
            assert "IN A     203.0.113.25" in zone.text and "25.113.0.203.in-addr.arpa." in zone.text
            await press(pilot, "escape")
            assert isinstance(app.screen, ReportScreen)


class TestSaveAnswers:
    async def test_s_saves_a_copy_without_secrets_and_asks_before_replacing(self, tmp_path):
        session = make_session(tmp_path / "root", answers="ldap-search.toml")
        host = session.host
        secret = host.real("/root/dovecot-ldap.pass")
        secret.parent.mkdir(mode=0o700, parents=True)
        secret.write_text("File-s3cret\n")
        secret.chmod(0o600)
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_report(pilot)
            await press(pilot, "s")
            assert isinstance(app.screen, SaveAnswersScreen)
            await replace_input(pilot, "#path", "answers.toml")
            await press(pilot, "enter")
            error = text_of(app.screen.query_one("#save-error", Static))
            assert isinstance(app.screen, SaveAnswersScreen) and "not an absolute path" in error
            await replace_input(pilot, "#path", "/nowhere/answers.toml")
            await press(pilot, "enter")
            assert "/nowhere does not exist" in text_of(app.screen.query_one("#save-error", Static))
            # issue 13: a device, a FIFO, a directory or the journal's directory is refused before any
            # "Replace the file?" (saving to /dev/null replaced the device with a regular file)
            host.makedirs("/dev")
            os.symlink("/dev/null", host.real("/dev/null"))
            os.mkfifo(host.real("/root/fifo"))
            for path, fragment in (("/dev/null", "is under /dev"), ("/root/fifo", "FIFO"),
                                   ("/root", "is a directory"), ("/var/lib/mailwizard/state.json", "own state")):
                await replace_input(pilot, "#path", path)
                await press(pilot, "enter")
                assert isinstance(app.screen, SaveAnswersScreen), path
                assert fragment in text_of(app.screen.query_one("#save-error", Static)), path
            assert os.path.islink(host.real("/dev/null")) and stat.S_ISFIFO(os.lstat(host.real("/root/fifo")).st_mode)
            await replace_input(pilot, "#path", "/root/copy.toml")
            await press(pilot, "enter")
            await settle(pilot)
            assert isinstance(app.screen, ReportScreen)
            saved = host.real("/root/copy.toml")
            assert saved.stat().st_mode & 0o777 == 0o600
            text = saved.read_text()
            assert "File-s3cret" not in text and 'dnpass_file = "/root/dovecot-ldap.pass"' in text
            again, problems = answers_mod.parse(text)
            assert problems == [] and again.auth.ldap.uris == session.answers.auth.ldap.uris
            # saving again over it asks first; "Keep it" leaves the file alone
            saved.write_text("# the admin's own notes\n")
            await press(pilot, "s", "enter")
            assert isinstance(app.screen, ConfirmScreen)
            await press(pilot, "n")
            assert isinstance(app.screen, SaveAnswersScreen)
            await press(pilot, "escape")
            assert saved.read_text() == "# the admin's own notes\n"


# --- the test account -------------------------------------------------------------------------

PASSWORD = "Right-pa55word"


class AccountHost(FakeHost):
    """A fake host whose `doveadm auth test` knows one account, alice, with PASSWORD; with `gate` set,
    the test waits for it (the Report must stay usable meanwhile)."""

    gate: threading.Event | None = None
    started: threading.Event | None = None

    def run(self, argv, **kwargs):
        if list(argv[:5]) == ["setsid", "--wait", "doveadm", "auth", "test"]:
            self.commands.append(list(argv))
            if self.started is not None:
                self.started.set()
                self.gate.wait(timeout=30)
            ok = argv[5] == "alice" and kwargs.get("input") == PASSWORD + "\n"
            return Result(list(argv), 0 if ok else 77, f"passdb: {argv[5]} auth succeeded\n" if ok else
                          f"passdb: {argv[5]} auth failed\nextra fields:\n  user={argv[5]}\n")
        return super().run(argv, **kwargs)


async def to_prompt(pilot) -> None:
    await settle(pilot)
    assert isinstance(pilot.app.screen, AccountPromptScreen), "the Report asks before its checks run"


async def type_account(pilot, user: str, password: str) -> None:
    await pilot.press(*user, "enter")  # Enter in the user field moves to the password
    await pilot.press(*password, "enter")
    await settle(pilot)


def account_checks(app) -> list:
    return [c for c in app.checks if c.name.startswith("doveadm auth test")]


def files_under(directory) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def summary(app) -> str:
    return text_of(app.screen.query_one("#summary", Static))


class TestAccountPrompt:
    async def test_a_typed_account_is_tested_and_its_password_kept_nowhere(self, tmp_path):
        session = make_session(tmp_path / "root", host_class=AccountHost)
        session.host.real("/root").mkdir(mode=0o700, parents=True)
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_prompt(pilot)
            password = app.screen.query_one("#test-password", Input)
            assert password.password, "the password is masked"
            await type_account(pilot, "alice", PASSWORD)
            assert isinstance(app.screen, ReportScreen)
            [check] = account_checks(app)
            assert (check.name, check.status) == ("doveadm auth test alice", "pass")
            assert "test account: alice" in summary(app)
            assert ["setsid", "--wait", "doveadm", "auth", "test", "alice"] in session.host.commands
            assert not any(PASSWORD in " ".join(argv) for argv in session.host.commands)
            await press(pilot, "s")  # a saved copy of the answers holds the user, never the password
            await replace_input(pilot, "#path", "/root/copy.toml")
            await press(pilot, "enter")
            saved = session.host.real("/root/copy.toml").read_text()
            assert 'test_user = "alice"' in saved and PASSWORD not in saved
        assert PASSWORD not in json.dumps([c.to_json() for c in app.checks])
        journal = files_under(session.host.real(JOURNAL))
        assert journal and PASSWORD.encode() not in journal

    async def test_a_wrong_password_is_a_failed_check_and_t_tries_again(self, tmp_path):
        session = make_session(tmp_path / "root", host_class=AccountHost)
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_prompt(pilot)
            await type_account(pilot, "alice", "wrong-one")
            [check] = account_checks(app)
            assert check.status == "fail" and "auth failed" in check.evidence
            assert "check the user's password" in check.fix
            rows = app.screen.query_one("#checks", DataTable).row_count
            before = [(c.step, c.name) for c in app.checks]
            # t: the same user is offered, the password asked again; only the account's steps run again
            host = session.host
            host.gate, host.started = threading.Event(), threading.Event()
            await press(pilot, "t")
            assert isinstance(app.screen, AccountPromptScreen)
            assert app.screen.query_one("#test-user", Input).value == "alice"
            assert app.focused is app.screen.query_one("#test-password", Input)
            await pilot.press(*PASSWORD, "enter")
            for _ in range(200):
                if host.started.is_set():
                    break
                await pilot.pause()
            assert host.started.is_set()
            await pilot.pause()
            assert "Checking the test account: Authentication" in summary(app)
            assert app.screen.query_one("#next", Button).disabled, "no Quit while the checks run"
            host.gate.set()
            await settle(pilot)
            [check] = account_checks(app)
            assert check.status == "pass"
            assert [(c.step, c.name) for c in app.checks] == before, "the rows are replaced in place"
            assert app.screen.query_one("#checks", DataTable).row_count == rows
        assert "wrong-one" not in files_under(session.host.real(JOURNAL)).decode("utf-8", "replace")

    async def test_skip_leaves_the_account_checks_out_with_a_note(self, tmp_path):
        session = make_session(tmp_path / "root", host_class=AccountHost)
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_prompt(pilot)
            await press(pilot, "escape")
            assert isinstance(app.screen, ReportScreen)
            assert account_checks(app) == [] and app.checks
            assert "test account skipped" in summary(app)
            assert not any(argv[2:4] == ["doveadm", "auth"] for argv in session.host.commands)
            # t then Skip again: nothing is run again
            await press(pilot, "t", "escape")
            assert account_checks(app) == []

    async def test_an_empty_user_or_password_is_refused_in_the_dialog(self, tmp_path):
        session = make_session(tmp_path / "root", host_class=AccountHost)
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_prompt(pilot)
            await press(pilot, "enter", "enter")  # Enter: on to the password field; Enter there: Test
            error = text_of(app.screen.query_one("#account-error", Static))
            assert isinstance(app.screen, AccountPromptScreen) and error.startswith("User: give")
            await pilot.press(*"al ice", "tab", *"x", "enter")  # Enter in the password field: Test
            await settle(pilot)
            error = text_of(app.screen.query_one("#account-error", Static))
            assert isinstance(app.screen, AccountPromptScreen) and "contains a space" in error
            await replace_input(pilot, "#test-user", "alice")
            await replace_input(pilot, "#test-password", "")
            await press(pilot, "enter")
            assert "Password: type" in text_of(app.screen.query_one("#account-error", Static))

    async def test_an_account_in_the_answers_is_used_without_asking(self, tmp_path):
        session = make_session(tmp_path / "root", host_class=AccountHost)
        secret = session.host.real("/root/alice.pass")
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text(PASSWORD + "\n")
        session.answers.auth.test_user, session.answers.auth.test_password_file = "alice", "/root/alice.pass"
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_report(pilot)
            [check] = account_checks(app)
            assert check.status == "pass" and "from the answers" in summary(app)


class TestReportTable:
    async def test_grouped_by_area_coloured_by_status_with_a_summary(self, tmp_path):
        session = make_session(tmp_path / "root")
        app = create_app(applied(session), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_report(pilot)
            table = app.screen.query_one("#checks", DataTable)
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            titles = {s.name: s.title for s in session.steps}
            # the area's name on the first row of its group only, coloured by the group's worst status
            for i, check in enumerate(app.checks):
                status, area = rows[i][0], rows[i][1]
                assert status.plain == check.status.upper() and STYLES[str(status.style)] == check.status
                first = i == 0 or app.checks[i - 1].step != check.step
                assert area.plain == (titles[check.step] if first else "")
                if first:
                    group = [c.status for c in app.checks if c.step == check.step]
                    worst = "fail" if "fail" in group else "warn" if "warn" in group else "pass"
                    assert STYLES[str(area.style)] == worst
            n = {s: sum(c.status == s for c in app.checks) for s in ("pass", "warn", "fail")}
            assert all(n.values()), "this fake host's report has passes, warnings and failures"
            assert summary(app).startswith(f"{n['pass']} passed, {n['warn']} warnings, {n['fail']} failed: ")
            line = app.screen.query_one("#summary", Static).content
            spans = {line.plain[s.start:s.end]: str(s.style) for s in line.spans}
            assert "green" in spans[f"{n['pass']} passed"] and "red" in spans[f"{n['fail']} failed"]
            assert "yellow" in spans[f"{n['warn']} warnings"]


STYLES = {"bold green": "pass", "bold yellow": "warn", "bold red": "fail", "green": "pass", "yellow": "warn",
          "red": "fail"}


class TestNothingCut:
    """Issue 15 (6): the Evidence column, the fix in the detail pane, the status line and the DNS records were
    cut at 80x24; then a fix longer than the detail pane's height was cut at its foot, with no way to scroll."""

    EVIDENCE = "250-mail.example.com " + " ".join(f"EXTENSION{i}" for i in range(16)) + " THE-END-OF-IT"

    async def show(self, pilot, fix: str) -> None:
        from mailwizard.plan import Check
        from mailwizard.screens.report import ChecksDone

        await to_report(pilot)
        checks = [Check("live", "submission on 587 offers STARTTLS, then AUTH, and refuses AUTH before it",
                        "fail", self.EVIDENCE, fix), Check("live", "port 25 open", "pass", "220 ESMTP")]
        pilot.app.screen.post_message(ChecksDone(checks))
        await settle(pilot)

    @staticmethod
    def detail_text(app, visible: bool = False) -> str:
        """The lines of the chosen row's text as drawn at this width: all of them, or (`visible`) those the
        detail pane shows now, scrolled as it is."""
        from textual.geometry import Region

        text = app.screen.query_one("#detail-text", Static)
        pane = app.screen.query_one("#detail")
        crop = Region(0, round(pane.scroll_y), text.size.width, pane.scrollable_content_region.height) \
            if visible else text.region.reset_offset
        return " ".join(strip.text.strip() for strip in text.render_lines(crop))

    async def test_the_detail_pane_shows_a_cut_row_whole_and_the_table_says_so(self, tmp_path):
        fix = "open port 587 in the firewall " * 5 + "AND-RELOAD"
        app = create_app(applied(make_session(tmp_path / "root")), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await self.show(pilot, fix)
            table = app.screen.query_one("#checks", DataTable)
            name, evidence = table.get_row_at(0)[2:]
            assert evidence.plain == self.EVIDENCE and evidence.overflow == "ellipsis" and evidence.no_wrap
            assert name.plain.startswith("submission on 587") and name.overflow == "ellipsis"  # marked, not lost
            pane = app.screen.query_one("#detail")
            assert "in full" in pane.border_title and "…" in pane.border_title  # the hint: cut cells are here
            assert not pane.allow_vertical_scroll
            text = self.detail_text(app, visible=True)
            assert "FAIL" in text and "refuses AUTH before it" in text  # the check's whole name and status
            assert "THE-END-OF-IT" in text and "AND-RELOAD" in text
            status = app.screen.query_one("#status", Static)
            assert status.content_size.width >= len(str(status.content))  # the status fits its line

    async def test_a_fix_longer_than_the_pane_scrolls_into_view(self, tmp_path):
        fix = "; ".join(f"step {i}: open port 587 in the firewall and reload it" for i in range(14)) + " THE-LAST"
        app = create_app(applied(make_session(tmp_path / "root")), [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await self.show(pilot, fix)
            pane = app.screen.query_one("#detail")
            assert "THE-LAST" in self.detail_text(app)  # the whole fix is there...
            assert "THE-LAST" not in self.detail_text(app, visible=True)  # ...more than the pane's height
            assert pane.allow_vertical_scroll and "Tab to scroll" in pane.border_title
            assert app.focused is app.screen.query_one("#checks")
            await press(pilot, "tab")
            assert app.focused is pane
            await press(pilot, "end")
            assert "THE-LAST" in self.detail_text(app, visible=True)  # scrolled to the end of the fix
            await press(pilot, "shift+tab", "down")  # back to the table, to a short row
            assert "Tab to scroll" not in pane.border_title and not pane.allow_focus()
            await press(pilot, "up")
            assert pane.scroll_y == 0, "a row is shown from its start"

    async def test_every_dns_record_is_seen_whole_and_can_be_copied(self, tmp_path):
        from mailwizard.dns_records import ZONE_STRING, txt_strings
        from mailwizard.steps import dns
        from mailwizard.steps.dkim import key_path
        from support import cached_cert

        session = applied(make_session(tmp_path / "root"))
        session.answers.dns.addresses = ["203.0.113.25", "2001:db8::25"]
        session.answers.dkim.enabled = True  # its key as opendkim-genkey leaves it: a long TXT record
        session.host.makedirs(key_path(session.profile, "mail").rsplit("/", 1)[0])
        session.host.write_atomic(key_path(session.profile, "mail"), cached_cert("dkim.example.com")[0],
                                  mode=0o600, uid=0, gid=0)
        records = dns.records(session.answers, session.host, session.profile)
        assert any(r.name == "mail._domainkey.example.com" and len(r.value) > 255 for r in records)
        app = create_app(session, [], start="report")
        async with app.run_test(size=SIZE) as pilot:
            await to_report(pilot)
            await press(pilot, "d")
            zone = app.screen.query_one("#zone", TextArea)
            assert zone.soft_wrap
            width = zone.content_size.width
            assert width >= 74, "the dialog takes the terminal's width"
            assert max(len(line) for line in zone.text.splitlines()) > width  # the records are wider...
            visual = [zone.wrapped_document.get_sections(i) for i in range(zone.document.line_count)]
            assert all(len(part) <= width for parts in visual for part in parts)  # ...and wrap, whole
            for record in records:  # each value whole (a DKIM key's in the zone's strings of 64, one a line)
                value = record.value if record.type != "TXT" else "\n".join(
                    f'        "{part}"' for part in txt_strings(record.value, ZONE_STRING)) \
                    if len(record.value) > 255 else f'"{record.value}"'
                assert record.name + "." in zone.text and value in zone.text, record
            assert "".join(part for parts in visual for part in parts) == zone.text.replace("\n", "")
            await press(pilot, "c")  # every line
            assert app.clipboard == zone.text
            assert "every record copied" in text_of(app.screen.query_one("#dns-note", Static))
            await press(pilot, "shift+down", "shift+down", "ctrl+c")  # a selection, with Ctrl+C too
            assert app.clipboard == "\n".join(zone.text.splitlines()[:2]) + "\n"
            assert isinstance(app.screen, DnsRecordsScreen), "Ctrl+C there copies: it does not ask to quit"
