"""The one executor: every change says what it will touch before it touches it, and the journal knows it.

Facts in, effects out: each reference answers file is applied on a fresh simulated host of each
platform, and around every change the file tree is compared: whatever a change's perform() changed
must be among the files, owners and modes, or directories its effects() declared (and so were
journalled before it began), unless it is an irreversible command (a package install), whose files
rollback says it leaves.
"""

import os
from pathlib import Path

import pytest

from mailwizard.executor import execute
from mailwizard.host import Host
from mailwizard.journal import Journal
from mailwizard.plan import Effects, WriteFile, sha
from mailwizard.platform import profile_for
from support import ANSWERS_DIR, fake_session

JOURNAL = "/var/lib/mailwizard"


def tree(host: Host) -> dict[str, tuple]:
    """Every path under the host's root but the journal's: (mode, uid, gid, bytes or link target)."""
    out = {}
    root = host.real("/")
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            real = Path(dirpath, name)
            path = "/" + str(real.relative_to(root))
            if path == JOURNAL or path.startswith(JOURNAL + "/"):
                continue
            st = real.lstat()
            body = os.readlink(real) if real.is_symlink() else (real.read_bytes() if real.is_file() else None)
            out[path] = (st.st_mode, st.st_uid, st.st_gid, body)
    return out


OUTBOUND = "full.toml+outbound"  # full.toml with what no reference file turns on: DKIM and a relay login


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
@pytest.mark.parametrize("answers", [*sorted(p.name for p in ANSWERS_DIR.glob("*.toml")), OUTBOUND])
def test_no_change_touches_what_it_did_not_declare_first(tmp_path, monkeypatch, platform, answers):
    session = fake_session(tmp_path, platform, answers.removesuffix("+outbound"))
    if answers == OUTBOUND:
        session.answers.dkim.enabled = True
        session.answers.dkim.next_selector = "next"
        p = session.answers.postfix
        p.relayhost, p.relay_user, p.relay_password_file = "[smtp.example.net]:587", "relayuser", "/root/relay-secret"
        secret = session.host.real("/root/relay-secret")
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text("Relay-Secret-1\n")
        secret.chmod(0o600)
        assert session.errors() == []
    undeclared: list[str] = []
    seen: dict = {}
    intend, completed = Journal.intend, Journal.completed

    def recording_intend(self, key, effects, service=None):
        intend(self, key, effects, service)
        seen.update(key=key, effects=effects, before=tree(session.host))

    def recording_completed(self, effects, merges=()):
        after = tree(session.host)
        changed = {p for p in seen["before"].keys() | after.keys() if seen["before"].get(p) != after.get(p)}
        declared = set(effects.files) | set(effects.attrs) | set(effects.dirs)
        if not effects.irreversible:
            undeclared.extend(f"{seen['key']}: {p}" for p in sorted(changed - declared))
        seen["checked"] = seen.get("checked", 0) + 1
        completed(self, effects, merges)

    monkeypatch.setattr(Journal, "intend", recording_intend)
    monkeypatch.setattr(Journal, "completed", recording_completed)
    plan = session.plan()
    result = session.apply(plan)
    assert result.status == "applied", result.error
    assert seen["checked"] == len(plan.active())
    assert undeclared == [], "\n".join(undeclared)


def test_the_journal_knows_a_file_before_the_change_writes_it(tmp_path):
    """Killed between the intent and the write (here: an exception inside the write), the journal already
    holds the original and the directories the change was creating, so rollback removes exactly those."""
    host = Host(tmp_path)
    (tmp_path / "etc").mkdir()
    change = WriteFile("/etc/new/deeper/x.conf", b"x = 1\n")

    def killed(*_args):
        raise KeyboardInterrupt

    host.before_rename = killed
    with Journal(host) as journal:
        with pytest.raises(KeyboardInterrupt):
            execute(change, host, journal, lambda line: None)
        files = journal.index["files"]
        assert files["/etc/new"] == {"kind": "dir", "existed": False}
        assert files["/etc/new/deeper/x.conf"]["existed"] is False
        journal.rollback(profile_for("debian12"))
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == []


def test_a_change_left_in_flight_by_a_kill_is_settled_when_the_journal_next_opens(tmp_path):
    """A resumed plan finds a killed change done and never completes it: the next apply records the file as
    the wizard's, so an administrator's later edit is recognised again (and rollback asks before undoing it)."""
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    main = "/etc/postfix/main.cf"
    with session.journal() as journal:
        journal.intend("postconf:x", Effects().write(main, None))  # then the kill: completed() never ran
    session.host.real(main).write_text(session.host.real(main).read_text() + "# the resumed run's edit\n")
    assert session.apply(session.plan()).status == "applied"  # nothing left to do: the change is not re-run
    entry = session.journal().index["files"][main]
    assert "in_flight" not in entry and "pending_sha" not in entry
    session.host.real(main).write_text(session.host.real(main).read_text() + "# the admin's edit\n")
    assert [c.path for c in session.journal().rollback_conflicts()] == [main]


def test_a_refused_postfix_edit_leaves_the_journal_true_to_the_files_it_put_back(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.host.state.failing.add("postfix")  # `postfix check` refuses
    result = session.apply(session.plan())
    assert result.status == "failed" and "Postfix refuses" in result.error
    journal = session.journal()
    entry = journal.index["files"]["/etc/postfix/main.cf"]
    assert "in_flight" not in entry  # the postconf edit that was refused is over, not in flight
    assert entry["wizard_sha"] == sha(session.host.read("/etc/postfix/main.cf"))
    assert journal.rollback_conflicts() == []


def test_an_install_killed_half_way_and_rolled_back_is_listed_as_not_undone(tmp_path, monkeypatch):
    """What a change cannot undo is journalled with its intent: rollback after a kill inside apt-get (no
    resume) still lists the packages it was installing (bench/outside_kill.py's install phase)."""
    session = fake_session(tmp_path, "debian12", "pam.toml")
    run = type(session.host).run

    class Killed(BaseException):
        """The SIGKILL."""

    def killed_in_apt(self, argv, *args, **kwargs):
        if "apt-get" in argv:
            raise Killed
        return run(self, argv, *args, **kwargs)

    monkeypatch.setattr(type(session.host), "run", killed_in_apt)
    with pytest.raises(Killed):
        session.apply(session.plan())
    monkeypatch.undo()
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    assert len(report.irreversible) == 1 and report.irreversible[0].startswith("install dovecot-core"), report
