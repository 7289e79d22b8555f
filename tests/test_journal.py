"""The journal: backups restore exact bytes, owner and mode; the lock keeps a second wizard out."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kill_sweep
from mailwizard.executor import execute
from mailwizard.host import Host
from mailwizard.journal import Journal, JournalLocked
from mailwizard.plan import Effects, sha
from mailwizard.platform import profile_for
from support import fake_session


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
        edit = Effects().write("/etc/a.conf", b"new\n")
        j.intend("file:/etc/a.conf", edit)
        host.write_atomic("/etc/a.conf", b"new\n", mode=0o600, uid=uid, gid=gid)
        j.completed(edit)
        create = Effects(dirs=["/etc/new"]).write("/etc/new/b.conf", b"created\n")
        j.intend("file:/etc/new/b.conf", create)
        host.makedirs("/etc/new")
        host.write_atomic("/etc/new/b.conf", b"created\n", mode=0o644, uid=uid, gid=gid)
        j.completed(create)
        j.intend("command:dnf install dovecot", Effects(irreversible="install dovecot (dnf remove dovecot)"))
        report = j.rollback(profile_for("debian12"))
    assert host.real("/etc/a.conf").read_bytes() == original
    assert os.stat(host.real("/etc/a.conf")).st_mode & 0o777 == 0o640
    assert not host.exists("/etc/new/b.conf") and not host.exists("/etc/new")
    assert "/etc/a.conf" in report.restored and "/etc/new/b.conf" in report.removed
    assert report.irreversible == ["install dovecot (dnf remove dovecot)"]
    assert "not undone" in report.render()


def unused_uid() -> int:
    import pwd
    taken = {p.pw_uid for p in pwd.getpwall()}
    return next(u for u in range(4242, 65000) if u not in taken)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_rollback_says_what_it_leaves_in_a_directory_it_created_or_owned(host):
    """Mail delivered since the apply stays (a rollback never deletes mail), and the report says so, with
    the owner whose account the rollback removed (found on the RHEL-flavoured host: full.toml's /srv/vmail
    and ldap.toml's /var/spool/mail/alice were left without a word)."""
    gone = unused_uid()
    host.makedirs("/var/spool/mail")
    with Journal(host) as j:
        spool = Effects(attrs=["/var/spool/mail"])
        j.intend("dir:/var/spool/mail", spool)
        host.chown("/var/spool/mail", gone, gone)
        j.completed(spool)
        store = Effects(dirs=["/srv", "/srv/vmail"])
        j.intend("dir:/srv/vmail", store)
        host.makedirs("/srv/vmail/alice")
        j.completed(store)
        host.makedirs("/var/spool/mail/alice")
        for d in ("/srv/vmail", "/srv/vmail/alice", "/var/spool/mail/alice"):
            host.chown(d, gone, gone)
        report = j.rollback(profile_for("rhel10"))
    assert host.exists("/srv/vmail/alice") and host.exists("/var/spool/mail/alice")
    assert report.irreversible == [
        f"/srv/vmail (created by mailwizard) is left: it holds what came since (alice), owned by uid {gone}, "
        "which no account has any more; remove it by hand if you want it gone",
        f"left in /var/spool/mail: alice, owned by uid {gone}, which no account has any more; "
        "remove or chown them by hand"]
    assert os.stat(host.real("/var/spool/mail")).st_uid == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_rollback_restores_the_owner(host):
    host.real("/etc/k.key").write_bytes(b"key")
    os.chown(host.real("/etc/k.key"), 1, 1)
    with Journal(host) as j:
        j.intend("attrs:/etc/k.key", Effects(attrs=["/etc/k.key"]))
        host.chown("/etc/k.key", 0, 0)
        j.rollback(profile_for("debian12"))
    st = os.stat(host.real("/etc/k.key"))
    assert (st.st_uid, st.st_gid) == (1, 1)


def test_an_admin_edit_after_the_wizard_is_not_overwritten_by_rollback(host):
    host.real("/etc/a.conf").write_bytes(b"original\n")
    with Journal(host) as j:
        edit = Effects().write("/etc/a.conf", b"wizard\n")
        j.intend("file:/etc/a.conf", edit)
        host.write_atomic("/etc/a.conf", b"wizard\n", mode=0o644, uid=os.getuid(), gid=os.getgid())
        j.completed(edit)
        host.real("/etc/a.conf").write_bytes(b"admin edit\n")
        report = j.rollback(profile_for("debian12"))
    assert host.real("/etc/a.conf").read_bytes() == b"admin edit\n"
    assert report.kept == ["/etc/a.conf"]


def test_first_backup_wins(host):
    host.real("/etc/a.conf").write_bytes(b"v1")
    with Journal(host) as j:
        j.intend("file:/etc/a.conf", Effects().write("/etc/a.conf", None))
        host.real("/etc/a.conf").write_bytes(b"v2")
        j.intend("file:/etc/a.conf", Effects().write("/etc/a.conf", None))
        assert j.original("/etc/a.conf") == b"v1"


def test_a_second_wizard_is_refused(host):
    with Journal(host), pytest.raises(JournalLocked, match="another mailwizard is running"):
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


@pytest.mark.parametrize("platform, answers, stop_after", [("rhel10", "pam.toml", None),
                                                            ("debian12", "full.toml", "postconf")])
def test_cancel_stops_between_changes(tmp_path, platform, answers, stop_after):
    import threading
    session = fake_session(tmp_path, platform, answers)
    cancel = threading.Event()
    seen = []

    def on_event(event):
        from mailwizard.engine import ChangeDone
        if isinstance(event, ChangeDone):
            seen.append(event.change)
            if stop_after in (None, event.change.kind):
                cancel.set()

    result = session.apply(session.plan(), on_event, cancel)
    assert result.status == "stopped" and result.done == len(seen)
    assert session.journal().state["status"] == "stopped"
    if stop_after is None:
        assert len(seen) == 1
    else:  # asked inside a batch of Postfix edits: the stop comes after the batch's one check
        edits = [c for c in seen if c.kind in ("postconf", "master.cf")]
        assert len(edits) > 1 and edits[-1] is seen[-1] and seen[-1].batch_end
        assert [argv for argv in session.host.commands if argv == ["postfix", "check"]] == [["postfix", "check"]]


def test_leftovers_of_a_killed_write_are_removed_on_open(host):
    host.real("/etc/a.conf").write_bytes(b"original\n")
    with Journal(host) as j:
        j.intend("file:/etc/a.conf", Effects().write("/etc/a.conf", None))
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
            execute(change, host, j, lambda line: None)
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
        edit = Effects(attrs=["/etc/k.key"]).write("/etc/secret.conf", b"dnpass = new-secret\n", secret=True)
        j.intend("file:/etc/secret.conf", edit)
        host.write_atomic("/etc/secret.conf", b"dnpass = new-secret\n", mode=0o600, uid=uid, gid=gid)
        j.completed(edit)
        os.chmod(host.real("/etc/k.key"), 0o600)
        journal_bytes = b"".join(p.read_bytes() for p in host.real("/var/lib/mailwizard").rglob("*") if p.is_file())
        assert b"hunter2-secret" not in journal_bytes and b"PRIVATE KEY BYTES" not in journal_bytes
        beside = host.real("/etc/secret.conf.mailwizard-orig")
        assert oct(beside.stat().st_mode & 0o777) == "0o600"
        j.rollback(profile_for("debian12"))
    assert host.real("/etc/secret.conf").read_bytes() == b"dnpass = hunter2-secret\n"
    assert not beside.exists()
    assert host.real("/etc/k.key").read_bytes() == b"PRIVATE KEY BYTES"


# --- interruption: the engine's fault-injection points (engine.py) ----------------------------------

Killed = kill_sweep.Killed
_fake_state = kill_sweep.fake_state
_resumed = kill_sweep.resumed


def _fast(monkeypatch):
    """Durability is not what these tests check: skip the fsyncs."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_a_run_killed_after_a_change_of_each_kind_resumes_to_the_uninterrupted_end_state(
        tmp_path, monkeypatch, platform):
    """One kill per change kind here; `bench/kill_sweep.py` kills after every change."""
    _fast(monkeypatch)
    active, expected = kill_sweep.reference(tmp_path, platform, "full.toml")
    picked = kill_sweep.first_of_each_kind(active)
    kinds = {active[k].kind for k in picked}
    assert len(active) > 20 and {"file", "postconf", "master.cf", "command", "service"} <= kinds, kinds
    for k in picked:
        assert kill_sweep.kill_after(tmp_path, platform, "full.toml", k, len(active), expected) is None


def test_a_kill_inside_a_write_keeps_the_old_file_and_resume_finishes(tmp_path, monkeypatch):
    from mailwizard import engine

    path = "/etc/dovecot/conf.d/10-ssl.conf"
    seen = {}

    def die(tmp):
        seen["tmp"], seen["old"] = Path(tmp).read_bytes(), session.host.read(path)
        raise Killed

    monkeypatch.setattr(engine, "_die", die)
    _fast(monkeypatch)
    reference = fake_session(tmp_path / "ref", "debian12", "full.toml")
    reference.apply(reference.plan())
    session = fake_session(tmp_path / "run", "debian12", "full.toml")
    active = session.plan().active()
    k = next(i for i, c in enumerate(active) if c.key() == f"file:{path}")
    monkeypatch.setenv(engine.KILL_IN_WRITE, str(k))
    with pytest.raises(Killed):
        session.apply(session.plan())
    monkeypatch.delenv(engine.KILL_IN_WRITE)
    assert seen["tmp"] == reference.host.read(path)  # the new content was complete in the temp file...
    assert session.host.read(path) == seen["old"] != seen["tmp"]  # ...and never renamed over the old one
    assert getattr(session.host, "before_rename", None) is not None  # killed inside that very write
    session.host.before_rename = None  # a new process starts without it
    resumed = _resumed(session)
    assert resumed.apply(resumed.plan()).status == "applied"
    assert _fake_state(resumed) == _fake_state(reference)


def test_the_kill_hook_fires_between_the_temp_file_and_the_rename(host, tmp_path):
    """A real SIGKILL inside write_atomic: the old file stays whole, the full temp file is left, open() removes it."""
    host.real("/etc/a.conf").write_bytes(b"old\n")
    with Journal(host) as j:
        j.intend("file:/etc/a.conf", Effects().write("/etc/a.conf", None))
    code = ("import sys\nfrom mailwizard.engine import _die\nfrom mailwizard.host import Host\n"
            f"h = Host({str(tmp_path)!r})\nh.before_rename = _die\n"
            "h.write_atomic('/etc/a.conf', b'new\\n' * 1000, mode=0o644, uid=0, gid=0)\n"
            "print('not killed')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert host.real("/etc/a.conf").read_bytes() == b"old\n"
    leftovers = list(host.real("/etc").glob(".a.conf.*.mailwizard-tmp"))
    assert len(leftovers) == 1 and leftovers[0].read_bytes() == b"new\n" * 1000
    with Journal(host):
        assert list(host.real("/etc").glob(".a.conf.*.mailwizard-tmp")) == []
    assert host.real("/etc/a.conf").read_bytes() == b"old\n"


def test_kill_points_are_off_unless_set(monkeypatch):
    from mailwizard import engine

    monkeypatch.delenv(engine.KILL_AFTER, raising=False)
    assert engine._kill_point(engine.KILL_AFTER) is None
    monkeypatch.setenv(engine.KILL_AFTER, "not a number")
    assert engine._kill_point(engine.KILL_AFTER) is None
    monkeypatch.setenv(engine.KILL_AFTER, "7")
    assert engine._kill_point(engine.KILL_AFTER) == 7


# --- broken environments: clear failures, never a traceback -----------------------------------------

def test_a_full_disk_during_a_write_names_the_file_and_leaves_the_old_one(host, monkeypatch):
    import errno

    host.real("/etc/a.conf").write_bytes(b"old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        host.write_atomic("/etc/a.conf", b"new\n", mode=0o644, uid=os.getuid(), gid=os.getgid())
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "/etc/a.conf"
    assert host.real("/etc/a.conf").read_bytes() == b"old\n"
    assert sorted(p.name for p in host.real("/etc").iterdir()) == ["a.conf"]  # no temp file left


def test_a_directory_that_cannot_take_a_temp_file_names_the_target(host):
    with pytest.raises(OSError) as caught:
        host.write_atomic("/etc/missing-dir/a.conf", b"x", mode=0o644, uid=os.getuid(), gid=os.getgid())
    assert caught.value.filename == "/etc/missing-dir/a.conf"


def test_a_change_failing_on_a_full_disk_is_reported_with_its_path(tmp_path, monkeypatch):
    import errno

    session = fake_session(tmp_path, "debian12", "pam.toml")
    plan = session.plan()
    real_write = type(session.host).write_atomic

    def write(self, path, data, **kw):
        if path == "/etc/dovecot/conf.d/10-ssl.conf":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_write(self, path, data, **kw)

    monkeypatch.setattr(type(session.host), "write_atomic", write)
    result = session.apply(plan)
    assert result.status == "failed"
    assert result.error == "/etc/dovecot/conf.d/10-ssl.conf: No space left on device"
    records = session.journal().records()
    assert records[-1]["event"] == "failed" and records[-1]["key"] == "file:/etc/dovecot/conf.d/10-ssl.conf"
    monkeypatch.setattr(type(session.host), "write_atomic", real_write)  # space freed
    assert session.apply(session.plan()).status == "applied"
    assert session.plan().active() == []


def test_a_journal_that_cannot_be_written_fails_the_run_with_a_message(tmp_path, monkeypatch):
    import errno

    session = fake_session(tmp_path, "debian12", "pam.toml")
    plan = session.plan()
    real_record = Journal.record
    begun = []

    def record(self, event, **data):
        if event == "begin":
            begun.append(data["key"])
            if len(begun) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.dir / "journal.jsonl"))
        return real_record(self, event, **data)

    monkeypatch.setattr(Journal, "record", record)
    result = session.apply(plan)  # no exception escapes
    assert result.status == "failed" and result.done == 2
    assert result.error.startswith("cannot keep the journal in /var/lib/mailwizard: ")
    assert result.error.endswith("journal.jsonl: No space left on device")
    monkeypatch.setattr(Journal, "record", real_record)
    assert session.apply(session.plan()).status == "applied"  # resumable once there is room


def test_rollback_lists_what_it_cannot_undo_and_removes_the_journal(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    assert session.apply(session.plan()).status == "applied"
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    said = report.render()
    packages = "dovecot, dovecot-pigeonhole, postfix, postfix-lmdb, policycoreutils-python-utils"
    install = f"install {packages} (policycoreutils-python-utils brings semanage, which labels the mail root " \
              "/srv/vmail for SELinux) (remove with dnf remove -y " + packages.replace(",", "") + ")"
    assert f"not undone (do it by hand if you want it gone):\n  - {install}\n" in said
    assert report.irreversible == [install]  # firewall-cmd, semanage, setsebool: undone (the test below)
    assert "removed /srv/vmail" in said and "restored /etc/dovecot/conf.d/10-ssl.conf" in said
    assert not session.host.exists("/var/lib/mailwizard")  # the journal was the last thing it created
    assert not any(p.endswith(".mailwizard-orig") for p in session.host.listdir("/etc/pki/dovecot/private"))


def _firewall_and_selinux(state) -> tuple:
    return (set(state.firewall_services), set(state.firewall_rich_rules), set(state.firewall_ports),
            state.firewall_running, dict(state.selinux_fcontexts), dict(state.selinux_ports),
            {k: v for k, v in state.selinux_booleans.items() if v})


def test_rollback_undoes_the_firewall_and_selinux_commands_with_their_recorded_inverses(tmp_path):
    """firewall-cmd --add-*, semanage fcontext/port -a, setsebool -P on: each undone, the last first."""
    from mailwizard.steps import lmtp

    def tweak(s):
        s.answers.lmtp.port, s.answers.sieve.port = 2424, 4191  # semanage port -a for both
        s.host.state.selinux_ports["tcp/4191"] = "unreserved_port_t"  # a port labelled before: -m, then back
        s.host.state.installed.add("policycoreutils-python-utils")  # semanage there to read that label
        s.host.makedirs("/var/lib/selinux/targeted/active")  # the policy store: setsebool -P writes there

    session = fake_session(tmp_path, "rhel10", "full.toml")
    tweak(session)
    state = session.host.state
    before = _firewall_and_selinux(state)
    plan = session.plan()
    argvs = [argv for c in plan.active() for argv in c.commands()]
    assert ["semanage", "port", "-m", "-t", "sieve_port_t", "-p", "tcp", "4191"] in argvs
    assert session.apply(plan).status == "applied"
    assert _firewall_and_selinux(state) != before
    assert session.host.exists("/var/lib/selinux/targeted/active/booleans.local")
    recorded = session.journal().state["undo"]
    assert ["semanage", "fcontext", "-d", "/srv/vmail(/.*)?"] in [a for e in recorded for a in e["argvs"]]
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    assert _firewall_and_selinux(state) == before
    said = report.render()
    assert "undone: semanage port -m -t unreserved_port_t -p tcp 4191" in said
    assert "undone: semodule -B" in said and "undone: firewall-cmd --reload" in said
    assert not session.host.exists("/var/lib/selinux/targeted/active/booleans.local")  # no local setting left
    assert "undone: setsebool" not in said  # `setsebool -P off` would leave one
    assert said.index("undone: semanage port -m") < said.index("undone: semanage fcontext -d")  # last first
    assert lmtp.port_label_undo(None, 24) == ["semanage", "port", "-d", "-p", "tcp", "24"]


def test_an_inverse_that_fails_is_listed_not_hidden(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    assert session.apply(session.plan()).status == "applied"
    session.host.state.selinux_fcontexts.clear()  # the admin deleted the rule already
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    assert any(item.startswith("could not undo with `semanage fcontext -d '/srv/vmail(/.*)?'` (exit 1)")
               for item in report.irreversible), report.irreversible


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
@pytest.mark.parametrize("name", ["full.toml", "ldap.toml", "ldap-search.toml", "sql.toml", "null-client.toml"])
def test_the_answers_kept_in_the_journal_plan_exactly_what_the_original_answers_plan(tmp_path, platform, name):
    """--resume plans from the journal's answers.toml: the same changes, commands and diffs, in the same order."""
    session = fake_session(tmp_path, platform, name)
    with session.journal() as journal:
        journal.save_answers(session.answers.to_toml())
    original = [(c.key(), c.commands(), c.diff()) for c in session.plan().changes]
    assert [(c.key(), c.commands(), c.diff()) for c in _resumed(session).plan().changes] == original


def test_a_service_whose_status_says_nothing_is_started_and_remembered(tmp_path, monkeypatch):
    """Debian's postfix init script exits 0 silently while main.cf is missing: not running, so started (and
    recorded, for rollback to stop it) -- an uninterrupted run and a resumed one then keep the same journal."""
    from mailwizard.plan import PlanContext, ServiceState
    from mailwizard.simulated import FakeHost

    session = fake_session(tmp_path, "debian12", "pam.toml")
    simulate = FakeHost._simulate

    def silent_status(self, argv, input):
        if argv[:1] == ["service"] and argv[2:] == ["status"] and argv[1] not in self.state.running:
            return 0, ""
        return simulate(self, argv, input)

    monkeypatch.setattr(FakeHost, "_simulate", silent_status)
    change = ServiceState("postfix", session.profile)
    assert change.check(PlanContext(session.host, session.profile)) is None
    assert change.actions == ["enable and start"]
    with session.journal() as journal:
        execute(change, session.host, journal, lambda line: None)
        assert journal.state["started"] == ["postfix"]
    assert change.check(PlanContext(session.host, session.profile)) is not None  # now running: nothing to do


def test_a_directory_the_package_made_as_planned_since_the_plan_is_left_alone(tmp_path):
    """full.toml planned on a host without Dovecot wants /etc/dovecot/private 0700 root:root; the install then
    ships it so: the apply backs nothing up and runs nothing, as a run resumed after that install plans it (a
    no-op) -- bench/outside_kill.py found the journals differing by that one owner/mode backup."""
    from mailwizard.plan import EnsureDir, PlanContext

    session = fake_session(tmp_path, "debian12", "pam.toml")
    host = session.host
    change = EnsureDir("/etc/dovecot/private", 0o700, "root", "root")
    assert change.check(PlanContext(host, session.profile)) is None  # not there yet
    host.makedirs("/etc/dovecot/private", 0o700)  # the package's
    lines: list[str] = []
    with session.journal() as journal:
        execute(change, host, journal, lines.append)
        assert "/etc/dovecot/private" not in journal.index["files"]
    assert lines == ["/etc/dovecot/private is already 700 root:root"]
    assert not [argv for argv in host.commands if argv[0] in ("chown", "chmod")]


def test_a_service_started_by_a_run_killed_before_its_journal_record_is_still_stopped_by_rollback(tmp_path,
                                                                                                    monkeypatch):
    """Killed once `service dovecot start` has run, before the journal heard of it (bench/outside_kill.py: SIGHUP
    of the TUI while it started the services): the resumed run finds dovecot running and only reloads it, yet
    the journal still says the wizard started it, as after an uninterrupted run, so rollback stops it."""
    from mailwizard.journal import Journal

    whole = fake_session(tmp_path / "whole", "debian12", "pam.toml")
    assert whole.apply(whole.plan()).status == "applied"
    session = fake_session(tmp_path / "killed", "debian12", "pam.toml")

    class Killed(BaseException):
        """The SIGKILL: nothing after it runs."""

    completed = Journal.completed

    def killed(self, effects, merges=()):
        if effects.started:
            raise Killed
        completed(self, effects, merges)

    with monkeypatch.context() as patch:
        patch.setattr(Journal, "completed", killed)
        with pytest.raises(Killed):
            session.apply(session.plan())
    assert session.host.state.running >= {"dovecot"}
    plan = session.plan()
    assert "reload dovecot" in [c.describe() for c in plan.active()]
    assert session.apply(plan).status == "applied"
    assert sorted(session.journal().state["started"]) == sorted(whole.journal().state["started"]) \
        == ["dovecot", "postfix"]
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    assert "stopped dovecot (started by mailwizard)" in report.services
    assert "dovecot" not in session.host.state.running


@pytest.mark.parametrize("how", ["in flight", "pending"])
def test_a_file_changed_by_a_run_killed_before_written_is_the_wizards_once_the_journal_opens(host, how):
    """Killed after the file changed, before the change completed (a tool such as postconf or useradd changes
    it in steps: in flight; a whole write names its content): at the next open the file is recorded as the
    wizard's, so an administrator's later edit is a conflict rollback asks about."""
    path = "/etc/mine.conf"
    host.real(path).write_bytes(b"original\n")
    with Journal(host) as journal:
        journal.intend("x", Effects().write(path, None if how == "in flight" else b"the wizard's\n"))
        host.real(path).write_bytes(b"the wizard's\n")  # and then the kill
    with Journal(host) as journal:
        entry = journal.index["files"][path]
        assert entry["wizard_sha"] == sha(b"the wizard's\n")
        assert "in_flight" not in entry and "pending_sha" not in entry
        assert journal.rollback_conflicts() == []
        host.real(path).write_bytes(b"the wizard's\nthe admin's\n")
        assert [c.path for c in journal.rollback_conflicts()] == [path]


def test_an_owner_and_mode_backup_is_not_taken_for_a_write_when_the_journal_opens(host):
    path = "/etc/key.pem"
    host.real(path).write_bytes(b"key\n")
    with Journal(host) as journal:
        journal.intend("attrs:" + path, Effects(attrs=[path]))
    with Journal(host) as journal:
        assert "wizard_sha" not in journal.index["files"][path]


def test_a_user_created_by_a_run_killed_before_the_journal_heard_of_it_is_resumed_to_the_same_journal(
        tmp_path, monkeypatch):
    """useradd ran, then the kill (bench/outside_kill.py): the resumed plan finds the user and does nothing, yet
    the account files are recorded as the wizard wrote them, as after an uninterrupted run."""
    from mailwizard.journal import Journal as JournalClass

    whole = fake_session(tmp_path / "whole", "debian12", "pam.toml")
    assert whole.apply(whole.plan()).status == "applied"
    session = fake_session(tmp_path / "killed", "debian12", "pam.toml")

    class Killed(BaseException):
        """The SIGKILL."""

    completed = JournalClass.completed

    def killed(self, effects, merges=()):
        if "/etc/passwd" in effects.files:
            raise Killed
        completed(self, effects, merges)

    with monkeypatch.context() as patch:
        patch.setattr(JournalClass, "completed", killed)
        with pytest.raises(Killed):
            session.apply(session.plan())
    plan = session.plan()
    assert not [c for c in plan.active() if c.key().startswith("command:useradd")]  # the user exists
    assert session.apply(plan).status == "applied"
    assert session.journal().index == whole.journal().index


def test_a_kill_inside_the_backup_of_a_secret_file_leaves_no_temp_file_after_resume(host, tmp_path):
    """The copy kept beside a secret file is itself written atomically: killed mid-way, the retry cleans up."""
    host.real("/etc/secret.conf").write_bytes(b"dnpass = original\n")
    code = ("from mailwizard.engine import _die\nfrom mailwizard.host import Host\n"
            "from mailwizard.journal import Journal\nfrom mailwizard.plan import Effects\n"
            f"h = Host({str(tmp_path)!r})\nj = Journal(h).open()\nh.before_rename = _die\n"
            "j.intend('f', Effects().write('/etc/secret.conf', None, secret=True))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert len(list(host.real("/etc").glob(".secret.conf.mailwizard-orig.*.mailwizard-tmp"))) == 1
    with Journal(host) as j:  # the path is not in the index yet: the retried backup removes the leftover
        j.intend("f", Effects().write("/etc/secret.conf", None, secret=True))
        assert j.original("/etc/secret.conf") == b"dnpass = original\n"
    assert sorted(p.name for p in host.real("/etc").iterdir()) == ["secret.conf", "secret.conf.mailwizard-orig"]


def test_os_errors_read_as_path_and_reason():
    import errno
    import shutil

    from mailwizard.engine import describe_os_error

    assert describe_os_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/etc/x")) == \
        "/etc/x: No space left on device"
    assert describe_os_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) == "No space left on device"
    copy = shutil.Error([("/etc/dovecot/dh.pem", "/var/lib/mailwizard/scratch/c/dh.pem",
                          "[Errno 28] No space left on device")])
    assert describe_os_error(copy) == ("cannot copy /etc/dovecot/dh.pem to /var/lib/mailwizard/scratch/c/dh.pem: "
                                       "[Errno 28] No space left on device")


def test_rollback_stops_the_services_it_started_while_their_configuration_is_there(tmp_path):
    # Debian's init scripts exit 0 and do nothing once their configuration is gone (no main.cf)
    session = fake_session(tmp_path, "debian12", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    started = session.journal().state["started"]
    assert "dovecot" in started
    configs = {"dovecot": "/etc/dovecot/conf.d/10-ssl.conf", "postfix": "/etc/postfix/main.cf"}
    wrote = {path: session.host.read(path) for path in configs.values()}
    stops, run = [], session.host.run

    stop_argvs = {tuple(session.profile.service_argv("stop", name)): name for name in configs}

    def watching(argv, **kwargs):
        if tuple(argv) in stop_argvs:
            stops.append((stop_argvs[tuple(argv)], all(session.host.read(p) == wrote[p] for p in wrote)))
        return run(argv, **kwargs)

    session.host.run = watching
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    assert sorted(name for name, _ in stops) == sorted(started)
    assert all(still_configured for _, still_configured in stops), stops
    assert "stopped dovecot (started by mailwizard)" in report.services


@pytest.mark.parametrize("manager, disable", [("systemd", ["systemctl", "disable"]), ("service", ["update-rc.d"])])
def test_rollback_no_longer_starts_at_boot_what_the_wizard_enabled(tmp_path, manager, disable):
    """A service the wizard enabled (not started at boot before) is disabled again by rollback; one that was
    enabled before (a Debian package enables its own on install) stays enabled."""
    from dataclasses import replace

    from mailwizard.plan import service_enabled

    session = fake_session(tmp_path, "debian12", "pam.toml")
    session.profile = replace(session.profile, service_manager=manager)
    host = session.host
    host.state.enabled.add("postfix")  # enabled by its package before the wizard ran
    assert session.apply(session.plan()).status == "applied"
    assert service_enabled(host, session.profile, "dovecot") and service_enabled(host, session.profile, "postfix")
    with session.journal() as journal:
        journal.rollback(session.profile)
    assert not service_enabled(host, session.profile, "dovecot")
    assert service_enabled(host, session.profile, "postfix")
    undone = [argv for argv in host.commands if argv[:len(disable)] == disable]
    assert [argv for argv in undone if "dovecot" in argv] and not [argv for argv in undone if "postfix" in argv]
