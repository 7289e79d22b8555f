"""Pilot tests of the Report's dialogs: the DNS records to publish, and saving a copy of the answers."""

from __future__ import annotations

from textual.widgets import Static, TextArea

from mailwizard import answers as answers_mod
from mailwizard.app import create_app
from mailwizard.screens.confirm import ConfirmScreen
from mailwizard.screens.report import ReportScreen
from mailwizard.screens.report_dialogs import DnsRecordsScreen, SaveAnswersScreen
from tui_support import make_session, press, replace_input, settle, text_of, walk_to

SIZE = (80, 24)


async def to_report(pilot) -> None:
    await settle(pilot)
    await walk_to(pilot, "ReviewScreen")
    await press(pilot, "ctrl+n", "y", "ctrl+n")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ReportScreen)


class TestDnsRecords:
    async def test_d_shows_the_zone_lines_for_this_host(self, tmp_path):
        session = make_session(tmp_path / "root")
        session.answers.dns.addresses = ["203.0.113.25"]
        app = create_app(session, [])
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
        app = create_app(session, [])
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
