"""Tier 1 for issue 5, replication (guide 1.4): the plans on fake RHEL 10 and Debian 12 hosts.

10-replication.conf with the guide's settings (0600 root:root), the doveadm
password read from its file or (typed) hidden from every output, setsebool and
rich rules on RHEL only, the partner's answers file, a re-plan after apply
with nothing left to do, the prerequisites refusing, and bad answers named by
their field.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from mailwizard import answers as answers_mod, cli
from mailwizard.steps import replication, services
from support import ANSWERS_DIR, fake_session

CONF = "/etc/dovecot/conf.d/10-replication.conf"
SECRET = "Wh1sp3r-of-the-d0veadm"
PASSFILE = "/root/doveadm.pass"
COPY = "/etc/dovecot/private/doveadm.pass"  # Dovecot (dovecot_t under SELinux) may not read /root
GUIDE_LINES = ["mail_plugins = $mail_plugins notify replication", "service replicator {",
               "  process_min_avail = 1", "  unix_listener replicator-doveadm {", "    mode = 0600",
               "    user = vmail", "service aggregator {", "  fifo_listener replication-notify-fifo {",
               "  unix_listener replication-notify {", "service doveadm {", "  inet_listener {",
               "    port = 12345", "  mail_replica = tcp:server2.example.com:12345",
               "replication_max_conns = 20"]
RULES = ['rule family="ipv4" source address="192.0.2.1/32" port protocol="tcp" port="12345" accept',
         'rule family="ipv6" source address="2001:db8:2::1/128" port protocol="tcp" port="12345" accept']


def session_for(tmp_path, platform, secret_file=True, mode=0o600):
    session = fake_session(tmp_path, platform, "full.toml")
    if secret_file:
        real = session.host.real(PASSFILE)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(SECRET + "\n")
        os.chmod(real, mode)
    return session


def step_changes(plan, step="replication"):
    return [c for c in plan.changes if c.step == step]


def commands(plan):
    return [cmd for c in step_changes(plan) if c.noop is None for cmd in c.commands()]


def conf_change(plan):
    return next(c for c in step_changes(plan) if c.key() == f"file:{CONF}")


def everything_written(root: Path, journal: Path) -> dict[str, bytes]:
    out = {}
    for base in (root, journal):
        for p in base.rglob("*"):
            if p.is_file():
                out[str(p)] = p.read_bytes()
    return out


def fake_commands(session, answers: dict):
    """Let the fake host answer some commands (argv prefix -> (rc, output))."""
    simulate = session.host._simulate

    def run(argv, input):
        for prefix, reply in answers.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return reply
        return simulate(argv, input)
    session.host._simulate = run


def errors_at(session, key):
    return [p for p in session.problems() if p.key == key and p.severity == "error"]


# --- the plan -----------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_the_guides_settings_in_a_0600_file_reading_the_password_file(tmp_path, platform):
    session = session_for(tmp_path, platform)
    assert [p for p in session.problems() if p.key.startswith("replication") and p.severity == "error"] == []
    plan = session.plan()
    change = conf_change(plan)
    assert (change.mode, change.owner, change.group, change.secret) == (0o600, "root", "root", False)
    lines = change.content.decode().splitlines()
    for line in GUIDE_LINES:
        assert line in lines, line
    assert f"doveadm_password = <{COPY}" in lines  # the configuration holds no secret
    # doveadm_port would make every `doveadm -u USER` ask the passdb whether USER is proxied,
    # which PAM cannot answer ("Configured passdbs don't support credentials lookups")
    assert not any(line.startswith("doveadm_port") for line in lines)
    assert SECRET not in change.content.decode()
    assert change.service == "dovecot" and change.validate_with == "/etc/dovecot"
    cmds = commands(plan)
    if platform == "rhel10":
        assert ["setsebool", "-P", "nis_enabled", "on"] in cmds
        assert [["firewall-cmd", "--permanent", "--zone=public", f"--add-rich-rule={r}"] for r in RULES] == \
            [c for c in cmds if c[0] == "firewall-cmd" and "--reload" not in c]
        assert cmds[-1] == ["firewall-cmd", "--reload"]
        assert not [c for c in cmds if c[0] in ("semanage", "restorecon")]  # /etc/dovecot is dovecot_etc_t
    else:
        # no SELinux, no firewalld: only files (and the 0700 directory of the copy, which a real Debian ships)
        assert cmds == [["mkdir", "-p", "/etc/dovecot/private"], ["chown", "root:root", "/etc/dovecot/private"],
                        ["chmod", "700", "/etc/dovecot/private"]]
        warning = [p for p in session.problems() if p.key == "replication.partner_addresses"]
        assert warning and warning[0].severity == "warning" and "no firewalld" in warning[0].message


def test_an_ipv6_partner_is_written_in_brackets_as_dovecot_reads_it(tmp_path):
    # net_str2hostport takes an unbracketed "2001:db8::2:12345" whole for the host, on the default port
    session = session_for(tmp_path, "debian12")
    session.answers.replication.partner = "2001:db8::2"
    lines = conf_change(session.plan()).content.decode().splitlines()
    assert "  mail_replica = tcp:[2001:db8::2]:12345" in lines


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_apply_then_replan_changes_nothing(tmp_path, platform):
    session = session_for(tmp_path, platform)
    assert session.apply(session.plan()).status == "applied"
    meta = session.host.stat(CONF)
    assert (meta.mode, meta.uid, meta.gid) == (0o600, 0, 0)
    again = step_changes(session.plan())
    assert again and all(c.noop for c in again), [c.describe() for c in again if not c.noop]
    if platform == "rhel10":
        assert session.host.state.selinux_booleans == {"nis_enabled": True}
        assert set(RULES) <= session.host.state.firewall_rich_rules
        assert session.host.state.selinux_fcontexts == {"/srv/vmail(/.*)?": "mail_spool_t"}
    assert session.host.read(COPY) == (SECRET + "\n").encode()


def test_with_selinux_disabled_the_boolean_is_read_from_the_policy_store(tmp_path):
    """getsebool cannot answer without SELinux in the kernel; setsebool -P still set it in the store, so a
    re-run must not plan it again and verify must not fail it."""
    from mailwizard.steps import replication

    session = session_for(tmp_path, "rhel10")
    session.host.state.selinux_mode = "Disabled"
    assert session.apply(session.plan()).status == "applied"
    again = [c for c in step_changes(session.plan()) if not c.noop]
    assert again == [], [c.describe() for c in again]
    row = next(c for c in replication.verify(session.answers, session.host, session.profile)
               if c.name == "SELinux boolean nis_enabled")
    assert row.status == "pass" and "in the policy store" in row.evidence


def test_a_typed_password_is_written_only_into_the_0600_file(tmp_path, capsys):
    session = session_for(tmp_path, "rhel10", secret_file=False)
    session.answers.replication.password_file = ""
    session.answers.replication.password = 'ty"ped pass#word'
    assert errors_at(session, "replication.password") == []
    plan = session.plan()
    change = conf_change(plan)
    assert change.secret and 'doveadm_password = "ty\\"ped pass#word"' in change.content.decode()
    text, data = plan.render_text(), json.dumps(plan.to_json())
    assert "ty" not in change.diff() and "secret-bearing file" in change.diff()
    for shown in (text, data):
        assert "pass#word" not in shown
    journal = tmp_path / "journal"
    session.journal_dir = str(journal)
    assert session.apply(plan).status == "applied"
    files = everything_written(tmp_path / "root", journal)
    holders = [path for path, data in files.items() if b"pass#word" in data]
    assert holders == [str(session.host.real(CONF))]
    assert "pass#word" not in session.answers.to_toml()


def test_a_password_in_the_answers_file_never_reaches_the_json_plan(tmp_path, capsys):
    text = (ANSWERS_DIR / "full.toml").read_text().replace(
        'password_file = "/root/doveadm.pass"', f'password = "{SECRET}"')
    path = tmp_path / "answers.toml"
    path.write_text(text)
    for extra in (["--json"], []):
        rc = cli.main(["--platform", "debian12", "--answers", str(path), "--unattended", "--dry-run", *extra])
        out = capsys.readouterr()
        assert rc == 0, out.err
        assert "10-replication.conf" in out.out and SECRET not in out.out + out.err


# --- the partner's answers -------------------------------------------------------------

def test_the_partner_file_swaps_the_servers_and_keeps_secrets_as_files(tmp_path):
    session = session_for(tmp_path, "debian12")
    fake_commands(session, {("getent", "ahosts", "mail.example.com"): (
        0, "198.51.100.11   STREAM mail.example.com\n198.51.100.11   DGRAM\n127.0.1.1  RAW\n"
           "2001:db8:1::11  STREAM\n")})
    assert session.apply(session.plan()).status == "applied"
    path = replication.DEFAULT_PARTNER_ANSWERS
    meta = session.host.stat(path)
    assert (meta.mode, meta.uid, meta.gid) == (0o600, 0, 0)
    text = session.host.read_text(path)
    assert text.startswith("# Answers for server2.example.com") and f"copy {PASSFILE}" in text
    twin, problems = answers_mod.parse(text)
    assert problems == [] and answers_mod.validate(twin) == [p for p in answers_mod.validate(twin)
                                                            if p.severity == "warning"]
    assert twin.server.hostname == "server2.example.com"
    r = twin.replication
    assert (r.partner, r.port, r.password_file, r.max_conns) == ("mail.example.com", 12345, PASSFILE, 20)
    assert r.partner_addresses == ["198.51.100.11/32", "2001:db8:1::11/128"]
    assert "password =" not in text and SECRET not in text
    # the partner's own partner file names this server again
    back, _ = answers_mod.parse(replication.partner_answers(twin, ["198.51.100.12/32"]))
    assert back.server.hostname == "mail.example.com" and back.replication.partner == "server2.example.com"


def test_unknown_own_addresses_are_left_to_the_admin_with_a_note(tmp_path):
    session = session_for(tmp_path, "rhel10")
    text = replication.partner_answers(session.answers, [])
    assert "partner_addresses is empty" in text
    twin, _ = answers_mod.parse(text)
    assert twin.replication.partner_addresses == []
    # on the partner (a firewalld host) this is the one question left
    other = session_for(tmp_path / "b", "rhel10")  # the password file copied there
    other.answers = twin
    mine = [p.key for p in other.errors() if p.key.startswith("replication")]
    assert mine == ["replication.partner_addresses"]


# --- prerequisites ----------------------------------------------------------------------

def test_a_running_dovecot_that_lists_nobody_is_refused(tmp_path):
    session = session_for(tmp_path, "debian12")
    session.host.state.running.add("dovecot")
    fake_commands(session, {("doveadm", "user", "*"): (0, "")})
    errors = errors_at(session, replication.KEY)
    assert errors and "lists nobody" in errors[0].message


def test_a_running_dovecot_listing_users_as_vmail_passes(tmp_path):
    session = session_for(tmp_path, "debian12")
    session.host.state.running.add("dovecot")
    session.host.state.users["vmail"] = 5000
    fake_commands(session, {("doveadm", "user", "-f", "uid"): (0, "5000\n"),
                            ("doveadm", "user", "*"): (0, "alice\nbob\n")})
    found = replication.prerequisites(session.answers, session.context())
    assert [p.status for p in found] == ["pass", "pass", "confirm"], found
    assert "lists 2: alice, bob" in found[0].detail
    assert errors_at(session, replication.KEY) == []
    fake_commands(session, {("doveadm", "user", "-f", "uid"): (0, "1001\n")})
    errors = errors_at(session, replication.KEY)
    assert errors and "must return uid=vmail" in errors[0].message


def half_installed_dovecot(session) -> None:
    """What a SIGKILL during the package install leaves (bench/outside_kill.py, full.toml at 2.88 s): dovecot-core
    unpacked, its postinst killed before ucf made dovecot.conf, so Debian's init script answers `status` with
    exit 0 and no word (a throwaway host's PID 1 is not systemd)."""
    session.profile = dataclasses.replace(session.profile, service_manager="service")
    session.host.run(["apt-get", "install", "-y", "dovecot-core"])
    session.host.real("/etc/dovecot/dovecot.conf").unlink(missing_ok=True)
    session.host.state.dpkg_interrupted = ["dovecot-core"]


@pytest.mark.parametrize("still_running", [False, True])
def test_a_half_installed_dovecot_is_not_asked_who_it_lists(tmp_path, still_running):
    """The resume after that kill was refused ("doveadm user '*' lists nobody (... stat(/etc/dovecot/dovecot.conf)
    failed)"): until the plan has finished the install, doveadm does not speak for the configuration -- neither
    when the init script's silence was taken for a running Dovecot, nor when an old Dovecot still runs."""
    session = session_for(tmp_path, "debian12")
    half_installed_dovecot(session)
    if still_running:
        session.host.state.running.add("dovecot")
    fake_commands(session, {("doveadm", "user", "*"): (89, "Fatal: Error reading configuration: "
                                                          "stat(/etc/dovecot/dovecot.conf) failed")})
    found = replication.prerequisites(session.answers, session.context())
    assert found[0].status != "fail" and "the passwd userdb lists the system users" in found[0].detail, found
    assert errors_at(session, replication.KEY) == []
    assert not any(argv[:1] == ["doveadm"] for argv in session.host.commands)
    plan = session.plan()
    assert next(c.commands()[-1] for c in plan.active() if c.commands()) == ["dpkg", "--configure", "-a"]
    assert session.apply(plan).status == "applied" and session.host.state.dpkg_interrupted == []


def test_an_init_script_exiting_0_in_silence_is_not_a_running_dovecot(tmp_path):
    """Without systemd, `service dovecot status` exits 0 and says nothing while dovecot.conf is missing: verify
    says dovecot does not run, and why, instead of "pass"."""
    session = session_for(tmp_path, "debian12")
    half_installed_dovecot(session)
    session.host.state.dpkg_interrupted = []  # even once dpkg has nothing left to do
    assert session.host.run(["service", "dovecot", "status"]).ok  # the quirk, as the real script has it
    checks = {c.name: c for c in services.state_checks(session.host, session.profile, "dovecot")}
    running = checks["dovecot running"]
    assert running.status == "fail" and "exits 0 and says nothing" in running.evidence, running
    assert running.fix == "service dovecot start"
    assert replication.dovecot_running(session.context()) is False


def test_pam_without_system_users_in_range_is_refused(tmp_path):
    session = session_for(tmp_path, "debian12")
    passwd = session.host.real("/etc/passwd")
    passwd.parent.mkdir(parents=True, exist_ok=True)
    passwd.write_text("root:x:0:0::/root:/bin/sh\nvmail:x:1000:1000::/srv/vmail:/usr/sbin/nologin\n")
    errors = errors_at(session, replication.KEY)
    assert errors and "no system user has a uid in 1000..60000" in errors[0].message
    passwd.write_text(passwd.read_text() + "alice:x:1001:1001::/home/alice:/bin/sh\n")
    assert errors_at(session, replication.KEY) == []


def test_sql_without_an_iterate_query_is_refused(tmp_path):
    session = session_for(tmp_path, "debian12")
    session.answers.auth.backend = "sql"
    session.answers.auth.sql.iterate_query = ""
    found = replication.prerequisites(session.answers, session.context())
    assert found[0].status == "fail" and "iterate_query is empty" in found[0].detail


def test_the_same_user_database_is_a_warning_to_confirm(tmp_path):
    session = session_for(tmp_path, "rhel10")
    said = [p for p in session.problems() if p.key == replication.KEY]
    assert [p.severity for p in said] == ["warning"] and "same user database" in said[0].message


# --- bad answers --------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, words", [
    ("partner", "", "is empty"),
    ("partner", "not a host!", "is not a partner server name"),
    ("partner", "mail.example.com", "is this server"),
    ("port", 0, "is not a TCP port"),
    ("port", 24, "is the LMTP port"),
    ("max_conns", 0, "at least 1"),
    ("partner_addresses", ["192.0.2.1/24"], "or the host 192.0.2.1/32"),
    ("partner_addresses", ["server2"], "is not an address or network"),
    ("partner_addresses", [], "is empty"),
    ("password_file", "", "give the file holding the password"),
    ("password_file", "/root/missing.pass", "does not exist"),
    ("partner_answers", "partner.toml", "is not an absolute path"),
])
def test_bad_answers_are_named_by_their_field(tmp_path, key, value, words):
    session = session_for(tmp_path, "rhel10")
    setattr(session.answers.replication, key, value)
    errors = errors_at(session, f"replication.{key}")
    assert errors and words in errors[0].message, session.problems()
    assert SECRET not in " ".join(p.message for p in session.problems())


def test_a_world_readable_password_file_is_refused(tmp_path):
    session = session_for(tmp_path, "debian12", mode=0o644)
    errors = errors_at(session, "replication.password_file")
    assert errors and "chmod 600 /root/doveadm.pass" in errors[0].message


def test_offline_planning_warns_instead_of_refusing(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml", offline=True)
    said = {p.key: p for p in session.problems() if p.key.startswith("replication")}
    assert all(p.severity == "warning" for p in said.values()), said
    assert "replication.password_file" in said
    assert conf_change(session.plan()).content.decode().count(f"doveadm_password = <{COPY}") == 1


def test_replication_off_plans_nothing(tmp_path):
    session = session_for(tmp_path, "rhel10")
    session.answers.replication.enabled = False
    assert step_changes(session.plan()) == [] and "replication" not in session.answers.features()


def test_verify_reads_the_replicator_tables(tmp_path):
    session = session_for(tmp_path, "debian12")
    assert session.apply(session.plan()).status == "applied"
    table = "username  priority fast sync full sync success sync failed\nalice none 00:00:01 00:00:01 00:00:01 y\n"
    fake_commands(session, {("doveadm", "replicator", "status", "*"): (0, table),
                            ("doveadm", "replicator", "status", "alice"): (0, table),
                            ("doveadm", "replicator", "status"): (0, "Queued 'sync' requests 0\n"),
                            ("doveadm", "user", "*"): (0, "alice\n")})
    checks = {c.name: c for c in replication.verify(session.answers, session.host, session.profile)}
    assert checks["doveadm replicator status"].status == "pass"
    assert "Queued 'sync' requests" in checks["doveadm replicator status"].evidence
    star = checks["doveadm replicator status '*'"]
    assert star.status == "warn" and "alice" in star.fix and star.evidence == table.rstrip()
    assert checks["doveadm replicator status alice"].status == "warn"  # the first user listed
