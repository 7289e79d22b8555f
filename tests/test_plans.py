"""Tier 1: plans against fake hosts. The RHEL 10 plan holds the guide's exact commands and settings."""

from __future__ import annotations

import pytest

from mailwizard.executor import execute
from support import ANSWER_FILES, fake_session, load_answers


def plan_json(session):
    return session.plan().to_json()


def all_commands(plan):
    return [cmd for c in plan["changes"] if not c["noop"] for cmd in c["commands"]]


def file_change(plan, path):
    return next(c for c in plan["changes"] if c["key"] == f"file:{path}")


@pytest.mark.parametrize("name", ANSWER_FILES)
def test_every_answers_file_plans_for_rhel10_offline(tmp_path, name):
    session = fake_session(tmp_path, "rhel10", name, with_certs=False, offline=True)
    assert [p for p in session.problems() if p.severity == "error"] == []
    plan = plan_json(session)
    assert plan["platform"] == "rhel10"
    assert plan["summary"]["changes"] > 0
    install = next(c for c in plan["changes"] if c["step"] == "install")
    assert install["commands"][-1][:3] == ["dnf", "install", "-y"]


@pytest.mark.parametrize("name", [n for n in ANSWER_FILES if n != "null-client.toml"])
def test_rhel10_plan_has_the_guides_tls_procedure(tmp_path, name):
    answers = load_answers(name)
    plan = plan_json(fake_session(tmp_path, "rhel10", name))
    commands = all_commands(plan)
    key = answers.tls.key
    assert ["chown", "root:root", key] in commands      # 1.1.2 step 1
    assert ["chmod", "600", key] in commands
    assert ["systemctl", "enable", "--now", "dovecot"] in commands  # 1.1.5 step 3
    install = next(cmd for cmd in commands if cmd[:2] == ["dnf", "install"])
    assert "dovecot" in install and "postfix" in install and "postfix-lmdb" in install
    diff = file_change(plan, "/etc/dovecot/conf.d/10-ssl.conf")["diff"]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert f"ssl_cert = <{answers.tls.cert}" in added
    assert f"ssl_key = <{answers.tls.key}" in added
    assert "ssl_dh = </etc/dovecot/dh.pem" in added
    assert "ssl_min_protocol = TLSv1.2" in added
    if answers.tls.ca:
        assert f"ssl_ca = <{answers.tls.ca}" in added
    dh = file_change(plan, "/etc/dovecot/dh.pem")
    assert "BEGIN DH PARAMETERS" in dh["diff"]


def test_null_client_plans_no_dovecot(tmp_path):
    plan = plan_json(fake_session(tmp_path, "rhel10", "null-client.toml"))
    keys = [c["key"] for c in plan["changes"]]
    assert not any("dovecot" in k for k in keys), keys
    install = next(c for c in plan["changes"] if c["step"] == "install")
    assert install["commands"][-1] == ["dnf", "install", "-y", "postfix", "postfix-lmdb"]


def test_rhel9_uses_hash_platform_without_lmdb(tmp_path):
    plan = plan_json(fake_session(tmp_path, "rhel9", "pam.toml"))
    install = next(cmd for cmd in all_commands(plan) if cmd[:2] == ["dnf", "install"])
    assert "postfix-lmdb" not in install


def test_debian_plan_uses_apt_noninteractive_and_answers_debconf(tmp_path):
    plan = plan_json(fake_session(tmp_path, "debian12", "full.toml"))
    install = next(c for c in plan["changes"] if c["step"] == "install")
    assert install["commands"][0] == ["debconf-set-selections"]
    main = install["commands"][-1]
    assert main[:2] == ["env", "DEBIAN_FRONTEND=noninteractive"]
    assert main[2:4] == ["apt-get", "install"]
    for pkg in ("dovecot-core", "dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd",
                "dovecot-sieve", "dovecot-managesieved", "postfix"):
        assert pkg in main
    assert "No configuration" in install["description"]


def test_debian_without_systemd_uses_service(tmp_path):
    from dataclasses import replace
    session = fake_session(tmp_path, "debian12", "pam.toml")
    session.profile = replace(session.profile, service_manager="service")
    commands = all_commands(plan_json(session))
    assert ["update-rc.d", "dovecot", "enable"] in commands
    assert ["service", "dovecot", "start"] in commands


def test_dh_generate_runs_openssl_dhparam(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.answers.tls.dh = "generate"
    commands = all_commands(plan_json(session))
    assert ["openssl", "dhparam", "-out", "/etc/dovecot/dh.pem", "4096"] in commands
    assert session.apply(session.plan()).status == "applied"
    assert b"BEGIN DH PARAMETERS" in session.host.read("/etc/dovecot/dh.pem")
    assert session.plan().active() == []


def test_dh_generated_in_the_background_is_used(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.answers.tls.dh = "generate"
    made = b"-----BEGIN DH PARAMETERS-----\nMADE EARLIER\n-----END DH PARAMETERS-----\n"
    real = session.host.real("/var/lib/mailwizard/dh-4096.pem")
    real.parent.mkdir(parents=True)
    real.write_bytes(made)
    lines = []
    session.apply(session.plan(), lambda e: lines.append(getattr(e, "line", "")))
    assert session.host.read("/etc/dovecot/dh.pem") == made
    assert "using the parameters generated in the background" in lines
    assert not any(c[:2] == ["openssl", "dhparam"] for c in session.host.commands)


def test_self_signed_certificate_is_planned_and_labelled(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml", with_certs=False)
    session.answers.tls.self_signed = True
    assert [p for p in session.problems() if p.key.startswith("tls")] == []
    plan = plan_json(session)
    cert = next(c for c in plan["changes"] if c["kind"] == "self-signed")
    assert "SELF-SIGNED" in cert["description"] and "mail.example.com" in cert["description"]
    # the key is created 0600 root:root, so the chmod is already satisfied
    attrs = next(c for c in plan["changes"] if c["kind"] == "attrs")
    assert attrs["noop"]


def test_planning_changes_nothing(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    before = {p: p.read_bytes() for p in (tmp_path / "root").rglob("*") if p.is_file()}
    session.plan()
    after = {p: p.read_bytes() for p in (tmp_path / "root").rglob("*") if p.is_file()}
    assert before == after
    queries = {("rpm", "-q"), ("dpkg-query", "-W"), ("systemctl", "is-active"),
               ("systemctl", "is-enabled"), ("dovecot", "--version"), ("getsebool", "nis_enabled"),
               ("getent", "ahosts"), ("update-crypto-policies", "--show")}
    def read_only(c):  # firewall-cmd --query-*, semanage ... -l: the firewall and SELinux steps' facts
        return tuple(c[:2]) in queries or (c[0] == "semanage" and "-l" in c) or (
            c[0] == "firewall-cmd" and any(a.startswith("--query-") or a == "--state" for a in c)
            and not any(a.startswith(("--add-", "--remove-")) or a == "--reload" for a in c))
    mutating = [c for c in session.host.commands if not read_only(c)]
    assert mutating == []


@pytest.mark.parametrize("platform", ["rhel10", "rhel9", "debian12"])
@pytest.mark.parametrize("name", ANSWER_FILES)
def test_replanning_after_apply_gives_zero_changes(tmp_path, platform, name):
    session = fake_session(tmp_path, platform, name)
    first = session.plan()
    assert first.active()
    result = session.apply(first)
    assert result.status == "applied", result
    second = session.plan()
    assert [c.describe() for c in second.active()] == []
    assert all(c.noop for c in second.changes)


def test_reasons_for_noops_name_the_setting(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.apply(session.plan())
    reasons = {c.key(): c.noop for c in session.plan().changes}
    assert "ssl_key" in reasons["file:/etc/dovecot/conf.d/10-ssl.conf"]
    assert "already set" in reasons["file:/etc/dovecot/conf.d/10-ssl.conf"]
    assert "600" in reasons["attrs:/etc/pki/dovecot/private/server.example.com.key"]


def test_an_existing_hand_edit_is_kept(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    session.host.run(["apt-get", "install", "-y", "dovecot-core"])
    conf = session.host.real("/etc/dovecot/conf.d/10-ssl.conf")
    conf.write_text(conf.read_text() + "ssl_cipher_list = HIGH:!aNULL  # mine\n")
    session.apply(session.plan())
    text = conf.read_text()
    assert "ssl_cipher_list = HIGH:!aNULL  # mine" in text
    assert "ssl_min_protocol = TLSv1.2" in text


def test_an_install_interrupted_by_a_kill_is_finished_with_dpkg_configure_before_apt_get(tmp_path):
    """A killed apt-get leaves dpkg half-done and apt-get then refuses everything: the plan repairs first."""
    session = fake_session(tmp_path, "debian12")
    session.host.state.dpkg_interrupted = ["postfix"]
    plan = session.plan()
    argvs = [c.commands()[-1] for c in plan.active() if c.commands()]
    assert argvs[0] == ["dpkg", "--configure", "-a"] and "apt-get" in argvs[1]  # env DEBIAN_FRONTEND=... apt-get
    assert session.apply(plan).status == "applied"
    assert session.host.state.dpkg_interrupted == []
    assert not any(argv[:1] == ["dpkg"] for c in session.plan().active() for argv in c.commands())  # repaired


def test_a_package_left_half_configured_has_its_configuration_files_predicted(tmp_path):
    """Every package installed, but dovecot-core's postinst killed before ucf made dovecot.conf (anybody's kill:
    the journal knows nothing of it). `dpkg --configure -a`, the plan's repair, makes the file; the plan edits
    the file as the package ships it instead of stopping on "changed since the plan was made"."""
    session = fake_session(tmp_path, "debian12")
    wanted = [p for c in session.plan().active() if c.step == "install" for p in c.commands()[-1]
              if p.startswith(("dovecot", "postfix"))]
    session.host.run(["apt-get", "install", "-y", *wanted])
    session.host.real("/etc/dovecot/dovecot.conf").unlink()
    session.host.state.dpkg_interrupted = ["dovecot-core"]
    plan = session.plan()
    assert [c.commands()[-1] for c in plan.active() if c.step == "install"] == [["dpkg", "--configure", "-a"]]
    assert session.apply(plan).status == "applied"
    assert session.host.real("/etc/dovecot/dovecot.conf").exists()


def test_an_install_killed_half_way_is_resumed_as_planned_and_listed_once(tmp_path):
    """A kill from outside after apt-get installed postfix, before dovecot-*: the resumed plan names every package
    the killed install was installing (its key), so the journal lists what rollback cannot undo as an uninterrupted
    run does (bench/outside_kill.py found postfix left out, and the dpkg repair listed instead)."""
    whole = fake_session(tmp_path / "whole", "debian12")
    assert whole.apply(whole.plan()).status == "applied"
    killed = fake_session(tmp_path / "killed", "debian12")
    install = next(c for c in killed.plan().active() if c.step == "install")
    with killed.journal() as journal:  # what the engine recorded before the kill: the install begun, never done
        journal.save_answers(killed.answers.to_toml())
        journal.record("begin", key=install.key(), step="install")
    killed.host.run(["apt-get", "install", "-y", "postfix"])  # dpkg had finished postfix
    killed.host.state.dpkg_interrupted = ["dovecot-core"]  # and left dovecot-core half-configured
    plan = killed.plan()
    installs = [c for c in plan.active() if c.step == "install"]
    assert [c.commands()[-1][:3] for c in installs] == [["dpkg", "--configure", "-a"], ["env", "DEBIAN_FRONTEND="
                                                                                        "noninteractive", "apt-get"]]
    assert installs[1].key() == install.key()
    assert killed.apply(plan).status == "applied"
    assert killed.journal().state["irreversible"] == whole.journal().state["irreversible"]
    assert len(killed.journal().state["irreversible"]) == 1 and "postfix" in killed.journal().state["irreversible"][0]
    assert not [c for c in killed.plan().active() if c.step == "install"]  # done: the journal says so


def test_the_install_waits_for_the_dpkg_lock_a_killed_runs_orphan_holds(tmp_path):
    """The dpkg a killed apt-get started runs in its own session and outlives the kill: the resumed install waits
    until it lets go of dpkg's lock instead of failing at once ("dpkg database lock was locked by another
    process"; found by bench/outside_kill.py, install phase of full.toml)."""
    import subprocess
    import sys
    import time

    session = fake_session(tmp_path, "debian12")
    lock = session.host.real("/var/lib/dpkg/lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               f"fd = os.open({str(lock)!r}, os.O_RDWR)\nfcntl.lockf(fd, fcntl.LOCK_EX)\n"
                               "print('held', flush=True)\ntime.sleep(1.5)\n"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    install = next(c for c in session.plan().active() if c.step == "install")
    lines: list[str] = []
    start = time.monotonic()
    with session.journal() as journal:
        execute(install, session.host, journal, lines.append)
    assert time.monotonic() - start > 0.5 and holder.poll() is not None  # it waited for the holder to end
    assert lines[0].startswith(f"waiting for the package lock {lock}, held by process {holder.pid} (python")
    assert lines[1].startswith(f"the package lock {lock} is free after")
    assert any(argv[:2] == ["apt-get", "install"] for argv in session.host.commands)
    holder.wait()


def test_a_fresh_host_plans_no_dpkg_repair(tmp_path):
    session = fake_session(tmp_path, "debian12")
    assert not any(argv[:1] == ["dpkg"] for c in session.plan().changes for argv in c.commands())


# --- the package lock (issue 13): another apt-get or dpkg holding it is waited for ---------------------

HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(path, seconds: float):
    """Another process holding a write lock on `path` (as apt-get and dpkg hold theirs), for `seconds`."""
    import subprocess
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_the_install_argv_waits_for_the_package_lock():
    from mailwizard.platform import profile_for

    argv = profile_for("debian12").install_argv
    assert argv[argv.index("Dpkg::Lock::Timeout=600") - 1] == "-o"  # apt-get waits 10 minutes, saying so
    assert "exit_on_lock" not in " ".join(profile_for("rhel10").install_argv)  # dnf waits by default


@pytest.mark.parametrize("interrupted", [[], ["postfix"]])
def test_a_package_lock_held_while_planning_is_said_and_waited_for_by_the_install(tmp_path, interrupted):
    from mailwizard import pkglock

    session = fake_session(tmp_path, "debian12")
    session.host.state.dpkg_interrupted = interrupted
    holder = hold_lock(session.host.real(pkglock.DPKG_FRONTEND_LOCK), 3)
    said: list[str] = []
    try:
        problems = session.problems()
        plan = session.plan(problems)
        (warning,) = [p for p in problems if p.key == "packages"]
        assert warning.severity == "warning" and f"held by process {holder.pid} (python" in warning.message
        assert "the install waits for it (at most 10 minutes)" in warning.message
        changes = [c for c in plan.active() if c.step == "install"]
        assert [c.commands()[-1][:1] for c in changes] == [["dpkg"]] * len(interrupted) + [["env"]]
        assert "Dpkg::Lock::Timeout=600" in changes[-1].commands()[-1]  # apt-get itself waits too
        # the first package command waits for the holder (it lets go after 3 s), saying whom for
        assert session.apply(plan, lambda e: said.append(getattr(e, "line", ""))).status == "applied"
    finally:
        holder.kill()
        holder.wait()
    assert any(f"held by process {holder.pid}" in line for line in said), said
    assert any("is free after" in line for line in said), said


def test_a_free_package_lock_says_nothing_and_rhel_repairs_nothing(tmp_path):
    for platform in ("debian12", "rhel10"):
        session = fake_session(tmp_path / platform, platform)
        argvs = [argv for c in session.plan().active() for argv in c.commands()]
        assert not [p for p in session.problems() if p.key == "packages"]
        assert not any(argv[:1] == ["rpm"] and "--rebuilddb" in argv for argv in argvs)


def test_pkglock_wait_names_the_holder_and_returns_once_it_is_free(tmp_path):
    from mailwizard import pkglock

    lock = tmp_path / "lock-frontend"
    holder = hold_lock(lock, 1.5)
    assert pkglock.holder(str(lock)) == (holder.pid, "python3")
    said: list[str] = []
    assert pkglock.wait(str(lock), 30, say=said.append, every=0.5, poll=0.1)
    holder.wait()
    assert said[0].startswith(f"waiting for the package lock {lock}, held by process {holder.pid} (python3)")
    assert said[-1].startswith(f"the package lock {lock} is free after")
    assert pkglock.holder(str(lock)) is None and pkglock.holder(str(tmp_path / "absent")) is None


def test_pkglock_wait_gives_up_after_its_time(tmp_path):
    from mailwizard import pkglock

    lock = tmp_path / "lock-frontend"
    holder = hold_lock(lock, 30)
    try:
        said: list[str] = []
        assert not pkglock.wait(str(lock), 0.5, say=said.append, poll=0.1)
        assert said[-1].endswith("giving up") and f"held by process {holder.pid}" in said[-1]
    finally:
        holder.kill()
        holder.wait()
