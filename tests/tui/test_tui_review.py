"""Pilot tests of the Review at 80x24 (issue 15, 5): each section folded to its line until opened, a long
file's diff folded too, wrapped diff lines keeping their +/- column, commands broken between arguments,
the DH block not shown in full, a list of sections to go to and `/` to search."""

from __future__ import annotations

import io
import re

from rich.console import Console

from mailwizard.app import create_app
from mailwizard.screens.review import CommandLine, DiffLines, PlanView, ReviewScreen, diff_lines
from mailwizard.screens.review_dialogs import SearchScreen, SectionsScreen
from tui_support import make_session, press, settle

SIZE = (80, 24)


def drawn(view: PlanView) -> list[str]:
    return [strip.text.rstrip() for strip in view._lines]


def lines_of(renderable, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue().splitlines()


async def test_sections_are_folded_to_a_line_and_open_by_keyboard(tmp_path):
    session = make_session(tmp_path / "root", dry_run=True)
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        view = app.screen.query_one("#plan", PlanView)
        assert app.screen.focused is view
        folded = drawn(view)
        assert len(folded) == len(view.sections) > 5 and all(line.startswith("► ") for line in folded)
        await press(pilot, "down", "down", "enter")  # the third section: TLS
        lines = drawn(view)
        assert lines[2].startswith("▼ TLS") and len(lines) > len(folded)
        assert any("ssl_min_protocol" in line for line in lines)
        # its long diff (10-ssl.conf) is a line of its own until opened
        diff = next(i for i, line in enumerate(lines) if "► the diff" in line)
        assert "lines: +" in lines[diff]
        moves = sum(1 for line in lines[3:diff + 1] if "► " in line or "▼ " in line)
        await press(pilot, *["down"] * moves, "enter")
        opened = drawn(view)
        assert "▼ the diff" in opened[diff] and opened[diff + 1].strip().startswith("---")
        await press(pilot, "left", "left")  # closes the diff, then its section
        assert drawn(view) == folded


async def test_the_dh_block_is_one_line_and_no_diff_line_loses_its_column(tmp_path):
    session = make_session(tmp_path / "root", dry_run=True)
    plan = session.plan()
    dh = next(c for c in plan.changes if getattr(c, "path", "") == "/etc/dovecot/dh.pem")
    shown = [line for line, _ in diff_lines(dh.diff())]
    assert len(dh.diff().splitlines()) > 12 and len(shown) <= 6
    assert any(re.fullmatch(r"\+\.\.\. \d+ lines of base64 \(not shown\) \.\.\.", line) for line in shown)
    long = [("+" + "smtpd_tls_cert_file = /etc/pki/tls/certs/" + "x" * 90, "green"), (" context " * 12, ""),
            ("-" + "y" * 100, "red")]
    out = lines_of(DiffLines(long), 40)
    assert len(out) > 3
    assert out[0].startswith("+smtpd_tls") and all(line[:1] in "+- " for line in out)
    signs = [line[:1] for line in out]
    assert signs == sorted(signs, key=lambda c: "+ -".index(c))  # the + lines, then context, then -


def test_a_diff_line_with_tabs_is_drawn_with_them_expanded_after_its_column():
    # found in tmux: opendkim.conf aligns its values with tabs, and a raw tab is one cell wide in the
    # terminal, so the Review showed what was painted before under the rest ("#Modeng (guide beyond thsv")
    diff = "--- a/etc/opendkim.conf\n+++ b/etc/opendkim.conf\n@@ -1 +1 @@\n-#Mode\t\t\tsv\n+Mode\t\t\tsv\n"
    shown = [line for line, _ in diff_lines(diff)]
    assert shown[-2:] == ["-#Mode                   sv", "+Mode                    sv"]
    assert not any("\t" in line for line in shown)


def test_a_command_breaks_between_its_arguments():
    argv = ["postconf", "-e", "mydestination=$myhostname, localhost.$mydomain, localhost",
            "smtpd_tls_cert_file=/etc/pki/dovecot/certs/mail.example.com.crt", "inet_interfaces=all"]
    out = lines_of(CommandLine(argv), 70)
    assert out == ["$ postconf -e \\", "    'mydestination=$myhostname, localhost.$mydomain, localhost' \\",
                   "    smtpd_tls_cert_file=/etc/pki/dovecot/certs/mail.example.com.crt \\",
                   "    inet_interfaces=all"]
    assert all(len(line) <= 70 for line in out)
    # an argument wider than a line alone is cut, its rest indented under it
    out = lines_of(CommandLine(["postconf", "-e", "x=" + "y" * 100]), 40)
    assert all(len(line) <= 40 for line in out) and out[1].startswith("    x=yyy") and out[2].startswith("        y")


async def test_a_section_is_chosen_from_the_list_and_found_by_search(tmp_path):
    session = make_session(tmp_path / "root", dry_run=True)
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.screen.query_one("#plan", PlanView)
        titles = [s.title.plain for s in view.sections]
        await press(pilot, "g")
        assert isinstance(app.screen, SectionsScreen)
        target = next(i for i, t in enumerate(titles) if t.startswith("Postfix ("))
        await press(pilot, *["down"] * target, "enter")
        assert isinstance(app.screen, ReviewScreen)
        assert view.sections[target].opened and view._heads[view.cursor][1] is view.sections[target]
        assert not any(s.opened for i, s in enumerate(view.sections) if i != target)
        # the chosen section's line is the first under the summary
        body = app.screen.query_one("#body")
        assert body.scroll_y > 0
        await press(pilot, "slash")
        assert isinstance(app.screen, SearchScreen)
        await press(pilot, *"mail_location", "enter")
        holder = next(s for s in view.sections if "mail_location" in s.text())
        assert holder.opened and view._heads[view.cursor][1] is holder
        assert any("mail_location" in line for line in drawn(view))
        await press(pilot, "slash", "ctrl+u", *"no-such-setting", "enter")
        assert "not in the plan" in str(app.screen.query_one("#status").content)
