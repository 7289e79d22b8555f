"""The journal: backups restore exact bytes, owner and mode; the lock keeps a second wizard out."""

import os
import signal
import subprocess
import sys
import time

import pytest

from support import fake_session
from mailwizard.host import Host
from mailwizard.journal import Journal, JournalLocked
from mailwizard.platform import profile_for


@pytest.fixture
def host(tmp_path):
    (tmp_path / "etc").mkdir()
    return Host(tmp_path)


def test_journal_directory_is_private(host):
    with Journal(host) as j:
        j.record("hello")
    st = os.stat(host.real("/var/lib/mailwizard"))
    assert st.st_mode & 0o777 == 0o700
    assert oct(os.stat(host.real("/var/lib/mailwizard/journal.jsonl")).st_mode & 0o777) == "0o600"


def test_rollback_restores_bytes_owner_mode_and_removes_created(host):
    original = b"line one\n\x00binary\xff\n"
    host.real("/etc/a.conf").write_bytes(original)
    os.chmod(host.real("/etc/a.conf"), 0o640)
    uid, gid = os.getuid(), os.getgid()
    with Journal(host) as j:
        j.backup("/etc/a.conf")
        host.write_atomic("/etc/a.conf", b"new\n", mode=0o600, uid=uid, gid=gid)
        j.written("/etc/a.conf")
        j.backup("/etc/new/b.conf")
        j.backup_created_dir("/etc/new")
        host.makedirs("/etc/new")
        host.write_atomic("/etc/new/b.conf", b"created\n", mode=0o644, uid=uid, gid=gid)
        j.written("/etc/new/b.conf")
        j.irreversible("install dovecot", "dnf remove dovecot")
        report = j.rollback(profile_for("debian12"))
    assert host.real("/etc/a.conf").read_bytes() == original
    assert os.stat(host.real("/etc/a.conf")).st_mode & 0o777 == 0o640
    assert not host.exists("/etc/new/b.conf") and not host.exists("/etc/new")
    assert "/etc/a.conf" in report.restored and "/etc/new/b.conf" in report.removed
    assert report.irreversible == ["install dovecot (dnf remove dovecot)"]
    assert "not undone" in report.render()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_rollback_restores_the_owner(host):
    host.real("/etc/k.key").write_bytes(b"key")
    os.chown(host.real("/etc/k.key"), 1, 1)
    with Journal(host) as j:
        j.backup("/etc/k.key")
        host.chown("/etc/k.key", 0, 0)
        j.rollback(profile_for("debian12"))
    st = os.stat(host.real("/etc/k.key"))
    assert (st.st_uid, st.st_gid) == (1, 1)


def test_an_admin_edit_after_the_wizard_is_not_overwritten_by_rollback(host):
    host.real("/etc/a.conf").write_bytes(b"original\n")
    with Journal(host) as j:
        j.backup("/etc/a.conf")
        host.write_atomic("/etc/a.conf", b"wizard\n", mode=0o644, uid=os.getuid(), gid=os.getgid())
        j.written("/etc/a.conf")
        host.real("/etc/a.conf").write_bytes(b"admin edit\n")
        report = j.rollback(profile_for("debian12"))
    assert host.real("/etc/a.conf").read_bytes() == b"admin edit\n"
    assert report.kept == ["/etc/a.conf"]


def test_first_backup_wins(host):
    host.real("/etc/a.conf").write_bytes(b"v1")
    with Journal(host) as j:
        j.backup("/etc/a.conf")
        host.real("/etc/a.conf").write_bytes(b"v2")
        j.backup("/etc/a.conf")
        assert j.original("/etc/a.conf") == b"v1"


def test_a_second_wizard_is_refused(host):
    with Journal(host):
        with pytest.raises(JournalLocked, match="another mailwizard is running"):
            Journal(host).open()


def test_a_stale_lock_from_a_killed_run_is_recognised(host, tmp_path):
    code = ("import sys, time\nfrom mailwizard.host import Host\nfrom mailwizard.journal import Journal\n"
            f"j = Journal(Host({str(tmp_path)!r})).open()\nprint('locked', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(JournalLocked, match=f"pid {proc.pid}"):
        Journal(host).open()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.05)
    with Journal(host) as j:  # the kernel released the dead run's lock
        j.record("took over")


def test_a_truncated_record_is_skipped(host):
    with Journal(host) as j:
        j.record("begin", key="a")
    with open(host.real("/var/lib/mailwizard/journal.jsonl"), "a") as fh:
        fh.write('{"event": "do')
    assert [r["event"] for r in Journal(host).records()] == ["begin"]


def test_apply_journals_each_change_before_and_after(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    plan = session.plan()
    session.apply(plan)
    events = [(r["event"], r.get("key")) for r in session.journal().records()]
    for change in plan.active():
        assert events.index(("begin", change.key())) < events.index(("done", change.key()))
    assert session.journal().state["status"] == "applied"
    assert "dovecot" not in session.journal().state["pending_reloads"]


def test_a_pending_reload_survives_an_interruption(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.host.state.installed.update({"dovecot", "postfix", "postfix-lmdb"})
    session.host.state.running.add("dovecot")
    session.host.state.enabled.add("dovecot")
    session.host._unpack("dovecot")
    session.host._unpack("postfix")
    session.host.state.running.add("postfix")
    session.host.state.enabled.add("postfix")
    plan = session.plan()
    # apply everything but the reload, as if killed just before it
    plan.changes = [c for c in plan.changes if c.kind != "service"]
    session.apply(plan)
    replanned = session.plan()
    # inet_interfaces changed: Postfix needs a restart, not a reload, and the journal remembers it
    assert [c.describe() for c in replanned.active()] == ["reload dovecot", "restart postfix"]


def test_failure_is_journalled_and_resumable(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.host.state.failing.add("dnf")
    result = session.apply(session.plan())
    assert result.status == "failed" and "simulated failure" in result.error
    assert session.journal().state["status"] == "failed"
    session.host.state.failing.clear()
    assert session.apply(session.plan()).status == "applied"
    assert session.plan().active() == []


def test_cancel_stops_between_changes(tmp_path):
    import threading
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    cancel = threading.Event()
    seen = []

    def on_event(event):
        from mailwizard.engine import ChangeDone
        if isinstance(event, ChangeDone):
            seen.append(event.change.key())
            cancel.set()

    result = session.apply(session.plan(), on_event, cancel)
    assert result.status == "stopped" and result.done == 1 and len(seen) == 1
    assert session.journal().state["status"] == "stopped"


def test_leftovers_of_a_killed_write_are_removed_on_open(host):
    host.real("/etc/a.conf").write_bytes(b"original\n")
    with Journal(host) as j:
        j.backup("/etc/a.conf")
        j.scratch().joinpath("check-x").mkdir()
    leftover = host.real("/etc/.a.conf.k3j2.mailwizard-tmp")
    leftover.write_bytes(b"half a fi")
    with Journal(host) as j:
        assert not leftover.exists()
        assert list(j.scratch().iterdir()) == []
    assert host.real("/etc/a.conf").read_bytes() == b"original\n"


def test_ensure_dir_creates_or_fixes_a_directory_and_rollback_undoes_it(tmp_path):
    from mailwizard.plan import EnsureDir, PlanContext

    session = fake_session(tmp_path, "debian12", "pam.toml")
    host = session.host
    host.state.users["vmail"] = host.state.groups["vmail"] = 5000
    host.makedirs("/var/mail", 0o2775)
    new, existing = EnsureDir("/srv/vmail/a", 0o700, "vmail", "vmail"), EnsureDir("/var/mail", 0o700, "vmail", "vmail")
    ctx = PlanContext(host, session.profile)
    assert new.check(ctx) is None and existing.check(ctx) is None
    assert new.commands()[0] == ["mkdir", "-p", "/srv/vmail/a"]
    assert ["chmod", "700", "/var/mail"] in existing.commands()
    with session.journal() as j:
        for change in (new, existing):
            change.apply(host, j, lambda line: None)
        assert host.stat("/srv/vmail/a").mode == 0o700 and host.stat("/srv/vmail/a").uid == 5000
        assert existing.check(PlanContext(host, session.profile)) == "/var/mail is already 700 vmail:vmail"
        j.rollback(session.profile)
    assert not host.exists("/srv/vmail")
    assert host.stat("/var/mail").mode == 0o2775 and host.stat("/var/mail").uid == 0


def test_secrets_stay_out_of_the_journal_and_rollback_still_restores_them(host):
    host.real("/etc/secret.conf").write_bytes(b"dnpass = hunter2-secret\n")
    os.chmod(host.real("/etc/secret.conf"), 0o600)
    host.real("/etc/k.key").write_bytes(b"PRIVATE KEY BYTES")
    uid, gid = os.getuid(), os.getgid()
    with Journal(host) as j:
        j.backup("/etc/secret.conf", secret=True)
        j.backup("/etc/k.key", content=False)
        host.write_atomic("/etc/secret.conf", b"dnpass = new-secret\n", mode=0o600, uid=uid, gid=gid)
        j.written("/etc/secret.conf")
        os.chmod(host.real("/etc/k.key"), 0o600)
        journal_bytes = b"".join(p.read_bytes() for p in host.real("/var/lib/mailwizard").rglob("*") if p.is_file())
        assert b"hunter2-secret" not in journal_bytes and b"PRIVATE KEY BYTES" not in journal_bytes
        beside = host.real("/etc/secret.conf.mailwizard-orig")
        assert oct(beside.stat().st_mode & 0o777) == "0o600"
        j.rollback(profile_for("debian12"))
    assert host.real("/etc/secret.conf").read_bytes() == b"dnpass = hunter2-secret\n"
    assert not beside.exists()
    assert host.real("/etc/k.key").read_bytes() == b"PRIVATE KEY BYTES"
