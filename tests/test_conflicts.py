"""An administrator's edit after the wizard ran is never silently overwritten (issue 7), on fake hosts.

Re-run: a planned change to an edited file is marked; keep skips every change
to that file with the reason, take applies it, stop changes nothing.
Rollback: an edited file is shown as a diff (theirs against the original) and
kept, restored or the rollback stopped before anything changed. The command
line's --on-conflict and the terminal prompt decide the same way.
"""

from __future__ import annotations

import argparse
import io
import json

import pytest

from mailwizard import cli
from mailwizard.conflicts import KEEP, STOP, TAKE, ConflictStop, ask_terminal, fixed, in_plan, in_session, resolve_plan
from mailwizard.plan import Effects, sha
from support import fake_session

SSL = "/etc/dovecot/conf.d/10-ssl.conf"
MAIN = "/etc/postfix/main.cf"
ALIASES = "/etc/aliases"


@pytest.fixture(params=["rhel10", "debian12"])
def applied(request, tmp_path):
    """A session whose plan (pam.toml) has been applied once."""
    session = fake_session(tmp_path, request.param, "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    return session


def edit(session, path: str, old: str, new: str) -> bytes:
    text = session.host.read_text(path)
    assert old in text
    data = text.replace(old, new).encode()
    session.host.real(path).write_bytes(data)
    return data


def conflicts_of(session):
    plan = session.plan()
    return plan, in_plan(plan, session.journal(), session.host)


# --- re-run --------------------------------------------------------------------

def test_an_untouched_rerun_has_no_conflict(applied):
    plan, conflicts = conflicts_of(applied)
    assert conflicts == [] and plan.active() == []


def test_an_edit_the_plan_would_undo_is_marked_with_a_diff(applied):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    plan, conflicts = conflicts_of(applied)
    assert [c.path for c in conflicts] == [SSL]
    diff = conflicts[0].diff()
    assert "-ssl_min_protocol = TLSv1\n" in diff and "+ssl_min_protocol = TLSv1.2\n" in diff
    assert f"--- {SSL} (yours)\n+++ {SSL} (mailwizard's)\n" in diff
    marked = [c for c in plan.active() if c.conflict]
    assert marked and all(c.path == SSL for c in marked)
    assert "! /etc/dovecot/conf.d/10-ssl.conf was edited" in plan.render_text()
    assert plan.to_json()["changes"][plan.changes.index(marked[0])]["conflict"]


def test_an_edit_the_plan_keeps_is_no_conflict(applied):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1.2\n# my note")
    plan, conflicts = conflicts_of(applied)
    assert conflicts == [] and plan.active() == []  # Dovecot files are edited in place: the note stays


def test_rerun_keep_skips_the_change_with_the_reason_and_leaves_the_file(applied):
    mine = edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    plan, conflicts = conflicts_of(applied)
    assert resolve_plan(plan, conflicts, fixed(KEEP)) == [SSL]
    skipped = [c for c in plan.changes if c.kind == "file" and c.path == SSL]
    assert skipped and all("your edit of /etc/dovecot/conf.d/10-ssl.conf is kept" in c.noop for c in skipped)
    assert applied.apply(plan).status == "applied"
    assert applied.host.read(SSL) == mine


def test_rerun_take_applies_the_wizards_change(applied):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    plan, conflicts = conflicts_of(applied)
    assert resolve_plan(plan, conflicts, fixed(TAKE)) == []
    assert not any(c.conflict for c in plan.changes)
    assert applied.apply(plan).status == "applied"
    assert "ssl_min_protocol = TLSv1.2\n" in applied.host.read_text(SSL)
    assert conflicts_of(applied)[1] == []  # what the wizard wrote again is its own


def test_a_taken_rerun_keeps_the_admins_other_lines_and_rollback_still_asks_about_them(applied):
    """Take applies the plan to the edited file: the admin's unrelated line stays, and rollback must not drop
    it silently although the file is now what the wizard wrote."""
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1\nssl_prefer_server_ciphers = yes")
    plan, conflicts = conflicts_of(applied)
    resolve_plan(plan, conflicts, fixed(TAKE))
    assert applied.apply(plan).status == "applied"
    merged = applied.host.read(SSL)
    assert b"ssl_prefer_server_ciphers = yes" in merged and b"ssl_min_protocol = TLSv1.2\n" in merged
    assert conflicts_of(applied)[1] == []  # a re-run has nothing to ask
    asked = []
    with applied.journal() as journal:
        report = journal.rollback(applied.profile, decide=lambda c: asked.append(c.path) or KEEP)
    assert asked == [SSL] and report.kept == [SSL] and applied.host.read(SSL) == merged


def test_rerun_stop_raises_and_leaves_the_plan_untouched(applied):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    plan, conflicts = conflicts_of(applied)
    before = [(c.key(), c.noop) for c in plan.changes]
    with pytest.raises(ConflictStop) as stopped:
        resolve_plan(plan, conflicts, fixed(STOP))
    assert [c.path for c in stopped.value.conflicts] == [SSL]
    assert [(c.key(), c.noop) for c in plan.changes] == before


def test_a_postconf_edit_is_a_conflict_too(applied):
    applied.host.run(["postconf", "-e", "smtpd_tls_security_level=none"], check=True)
    plan, conflicts = conflicts_of(applied)
    assert [c.path for c in conflicts] == [MAIN]
    assert "-smtpd_tls_security_level = none" in conflicts[0].diff()
    resolve_plan(plan, conflicts, fixed(KEEP))
    assert all(c.noop for c in plan.changes if c.kind == "postconf")
    applied.apply(plan)
    assert "smtpd_tls_security_level = none" in applied.host.read_text(MAIN)


def test_a_removed_file_the_plan_rewrites_is_a_conflict(applied):
    applied.host.remove(SSL)
    _plan, conflicts = conflicts_of(applied)
    assert [c.path for c in conflicts] == [SSL] and conflicts[0].current is None


def test_the_plan_for_another_platform_never_reads_the_journal(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml", offline=True)
    assert in_session(session, session.plan()) == []


# --- the unattended re-run -----------------------------------------------------------

def unattended(session, capsys, on_conflict=None, dry_run=False, as_json=False):
    session.dry_run = dry_run
    args = argparse.Namespace(on_conflict=on_conflict, json=as_json, resume=False, answers="/root/a.toml")
    code = cli.run_unattended(session, [], args)
    return code, capsys.readouterr()


def test_unattended_rerun_stops_by_default_listing_the_files_and_the_way_out(applied, capsys):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    mine = applied.host.read(SSL)
    records = len(applied.journal().records())
    code, out = unattended(applied, capsys)
    assert code == cli.EXIT_FAILED
    assert "1 file(s) were edited since mailwizard wrote them; nothing was changed" in out.err
    assert f"  {SSL}\n" in out.err and "--on-conflict keep" in out.err and "--on-conflict take" in out.err
    assert applied.host.read(SSL) == mine
    assert len(applied.journal().records()) == records  # not even a journal entry: nothing was applied


def test_unattended_rerun_keep_and_take(applied, capsys):
    mine = edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    _code, out = unattended(applied, capsys, on_conflict="keep", as_json=True)
    printed = json.loads(out.out)  # (the fake host's live checks fail: only the apply matters here)
    assert printed["apply"]["status"] == "applied", out.err
    assert applied.host.read(SSL) == mine
    assert any("your edit of /etc/dovecot/conf.d/10-ssl.conf is kept" in (c["noop"] or "")
               for c in printed["plan"]["changes"])
    _code, out = unattended(applied, capsys, on_conflict="take", as_json=True)
    assert json.loads(out.out)["apply"]["status"] == "applied", out.err
    assert "ssl_min_protocol = TLSv1.2\n" in applied.host.read_text(SSL)


def test_a_dry_run_shows_the_conflict_and_changes_nothing(applied, capsys):
    mine = edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    code, out = unattended(applied, capsys, dry_run=True, as_json=True)
    assert code == cli.EXIT_OK
    printed = json.loads(out.out)
    assert [c["path"] for c in printed["conflicts"]] == [SSL]
    assert "+ssl_min_protocol = TLSv1.2" in printed["conflicts"][0]["diff"]
    assert applied.host.read(SSL) == mine


# --- rollback --------------------------------------------------------------------

def test_rollback_asks_about_an_edited_file_with_theirs_against_the_original(applied):
    original = applied.journal().original(SSL)
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    asked = []
    with applied.journal() as journal:
        journal.rollback(applied.profile, decide=lambda c: asked.append(c) or TAKE)
    assert [c.path for c in asked] == [SSL]
    assert asked[0].proposed == original and asked[0].theirs == "restore the original"
    assert "-ssl_min_protocol = TLSv1\n" in asked[0].diff()
    assert applied.host.read(SSL) == original


def test_rollback_keep_leaves_the_edit_and_restores_the_rest(applied):
    mine = edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    original_mail = applied.journal().original("/etc/dovecot/conf.d/10-mail.conf")
    with applied.journal() as journal:
        report = journal.rollback(applied.profile, decide=fixed(KEEP))
    assert applied.host.read(SSL) == mine and report.kept == [SSL]
    assert applied.host.read("/etc/dovecot/conf.d/10-mail.conf") == original_mail
    assert f"left {SSL}: changed since mailwizard wrote it (your edit is kept)" in report.render()


def test_rollback_stop_changes_nothing(applied):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    snapshot = {p: applied.host.read(p) for p in applied.journal().index["order"]}
    with applied.journal() as journal, pytest.raises(ConflictStop):
        journal.rollback(applied.profile, decide=fixed(STOP))
    assert {p: applied.host.read(p) for p in snapshot} == snapshot
    assert applied.journal().exists()  # still there, to decide and roll back later


def test_rollback_of_a_created_file_the_admin_edited_offers_removal(applied):
    edit(applied, ALIASES, "postmaster:", "abuse: root\npostmaster:")
    with applied.journal() as journal:
        conflicts = journal.rollback_conflicts()
        assert [(c.path, c.proposed, c.theirs) for c in conflicts] == \
            [(ALIASES, None, "remove it (it created it)")]
        report = journal.rollback(applied.profile, decide=fixed(KEEP))
    # the indexed map follows its source: kept with it, never asked about
    assert ALIASES in report.kept and any(p.startswith(ALIASES + ".") for p in report.kept)
    assert applied.host.exists(ALIASES)


def test_a_file_put_back_to_its_original_by_hand_needs_no_decision(applied):
    original = applied.journal().original(SSL)
    applied.host.real(SSL).write_bytes(original)
    with applied.journal() as journal:
        assert journal.rollback_conflicts() == []


def test_secret_files_never_show_their_content_in_a_conflict(applied):
    shadow = "/etc/shadow"
    with applied.journal() as journal:
        if shadow not in journal.index["files"]:
            pytest.fail("the vmail step should have backed up /etc/shadow")
    applied.host.real(shadow).write_bytes(b"root:$6$SECRETHASH:19000:0:99999:7:::\n")
    with applied.journal() as journal:
        conflict = next(c for c in journal.rollback_conflicts() if c.path == shadow)
    assert "SECRETHASH" not in conflict.diff() and "content not shown" in conflict.diff()
    assert "SECRETHASH" not in json.dumps(conflict.to_json())


def test_rollback_on_the_command_line_stops_without_a_decision(applied, capsys, monkeypatch):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    args = argparse.Namespace(on_conflict=None, json=False)
    assert cli.run_rollback(applied, args) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert SSL in err and "sudo mailwizard rollback --on-conflict keep" in err
    assert applied.journal().exists()
    args = argparse.Namespace(on_conflict="take", json=False)
    assert cli.run_rollback(applied, args) == cli.EXIT_OK
    assert f"restored {SSL}" in capsys.readouterr().out


# --- the terminal prompt -----------------------------------------------------------

def test_the_terminal_prompt_shows_the_diff_and_takes_k_t_s(applied):
    edit(applied, SSL, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    with applied.journal() as journal:
        conflict = journal.rollback_conflicts()[0]
    for typed, expected in (("k\n", KEEP), ("t\n", TAKE), ("s\n", STOP), ("\n", STOP), ("", STOP),
                            ("x\nd\nT\n", TAKE)):
        shown = io.StringIO()
        assert ask_terminal(io.StringIO(typed), shown)(conflict) == expected, typed
        assert "-ssl_min_protocol = TLSv1\n" in shown.getvalue()
        assert f"*** {SSL} (k/t/s/d) [s] ?" in shown.getvalue()


def test_a_journal_records_what_it_wrote(applied):
    entry = applied.journal().index["files"][SSL]
    assert entry["wizard_sha"] == sha(applied.host.read(SSL))


def test_a_write_killed_before_it_was_recorded_is_not_taken_for_an_admin_edit(applied):
    # the second run was killed between the rename and the journal's completion: the file holds the wizard's bytes
    entry = applied.journal().index["files"][SSL]
    with applied.journal() as journal:
        newer = applied.host.read(SSL).replace(b"ssl_min_protocol = TLSv1.2", b"ssl_min_protocol = TLSv1.3")
        journal.intend(f"file:{SSL}", Effects().write(SSL, newer))
    applied.host.real(SSL).write_bytes(newer)
    with applied.journal() as journal:  # opened again: what the killed write left is recorded as the wizard's
        assert entry["wizard_sha"] != sha(newer) == journal.index["files"][SSL]["wizard_sha"]
        assert "pending_sha" not in journal.index["files"][SSL]
        assert journal.rollback_conflicts() == []


def test_a_file_postconf_was_editing_when_the_run_was_killed_is_no_admin_edit(applied):
    """Postfix's tools change main.cf in steps: a kill between two of them leaves a file that is neither the
    last one the wizard wrote nor the next; the journal marked it in flight, so resume asks nothing."""
    with applied.journal() as journal:
        journal.intend("postconf:x", Effects().write(MAIN, None))  # as for every change: before postconf runs
    edit(applied, MAIN, "myorigin = $mydomain", "myorigin = $myhostname")  # one postconf of several done
    assert conflicts_of(applied)[1] == []
    with applied.journal() as journal:
        journal.completed(Effects().write(MAIN, None))  # the resumed run finished it
    edit(applied, MAIN, "myorigin = $myhostname", "myorigin = example.org")
    assert [c.path for c in conflicts_of(applied)[1]] == [MAIN]  # after that, a change is an admin's edit
