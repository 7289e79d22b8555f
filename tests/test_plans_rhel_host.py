"""Tier 1 for issue 14: the defects a RHEL-like host shows, proven on the simulated host.

The fake RHEL root has RHEL's /var/mail symlink (mailwizard/platforms/fresh/rhel*/layout.txt,
from a real AlmaLinux 9.3 root), a firewalld that knows which services its version ships, no
`semanage` until policycoreutils-python-utils is installed, and a crypto policy
(`update-crypto-policies --show`). Facts in, commands out.
"""

from __future__ import annotations

import json
import os

import pytest

from mailwizard.plan import PlanContext
from mailwizard.steps import install, selinux
from support import fake_session

RHEL = ["rhel9", "rhel10"]
COPY = "/etc/dovecot/private/doveadm.pass"


def active_commands(plan, step=None):
    return [cmd for c in plan.active() if step is None or c.step == step for cmd in c.commands()]


def rolled_back(session):
    with session.journal() as journal:
        return journal.rollback(session.profile)


# --- 1. /var/mail is a symlink to spool/mail on RHEL -----------------------------------------

@pytest.mark.parametrize("platform", RHEL)
def test_the_fresh_rhel_root_has_var_mail_as_a_symlink(tmp_path, platform):
    host = fake_session(tmp_path, platform).host
    assert os.readlink(host.real("/var/mail")) == "spool/mail"
    spool = host.stat("/var/spool/mail")
    assert (spool.is_dir, spool.mode, spool.uid, spool.gid) == (True, 0o775, 0, 12)  # root:mail
    assert host.realpath("/var/mail/alice/") == "/var/spool/mail/alice"


@pytest.mark.parametrize("platform", RHEL)
@pytest.mark.parametrize("name", ["pam.toml", "ldap.toml", "ldap-search.toml", "sql.toml"])
def test_a_symlinked_var_mail_is_planned_through_its_real_path(tmp_path, platform, name):
    session = fake_session(tmp_path, platform, name)
    assert [p for p in session.problems() if p.key == "mailbox.root"] == []
    plan = session.plan()
    keys = [c.key() for c in plan.changes if c.step == "vmail"]
    assert "dir:/var/spool/mail" in keys and "dir:/var/mail" not in keys  # the symlink is left alone
    cmds = active_commands(plan, "vmail")
    assert ["chown", "vmail:vmail", "/var/spool/mail"] in cmds and ["chmod", "700", "/var/spool/mail"] in cmds
    assert not [c for c in cmds if c[0] in ("semanage", "restorecon")]  # the policy labels /var/spool/mail
    assert not [c for c in cmds if "/var/mail" in c and c[0] != "useradd"]  # its home is named by the link


def test_rhel_apply_then_rollback_restores_the_spool_and_keeps_the_symlink(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    host = session.host
    vmail = host.uid("vmail")
    meta = host.stat("/var/spool/mail")
    assert (meta.mode, meta.uid, meta.gid) == (0o700, vmail, host.gid("vmail"))
    assert os.readlink(host.real("/var/mail")) == "spool/mail"
    assert session.plan().active() == []
    rolled_back(session)
    meta = host.stat("/var/spool/mail")
    assert (meta.is_dir, meta.mode, meta.uid, meta.gid) == (True, 0o775, 0, 12)
    assert os.readlink(host.real("/var/mail")) == "spool/mail"


def test_debian_rollback_puts_the_setgid_bit_of_var_mail_back(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    host = session.host
    before = host.stat("/var/mail")
    assert (before.mode, before.uid, before.gid) == (0o2775, 0, host.gid("mail"))
    assert session.apply(session.plan()).status == "applied"
    assert host.stat("/var/mail").mode == 0o700
    rolled_back(session)
    after = host.stat("/var/mail")
    assert (after.mode, after.uid, after.gid) == (0o2775, 0, host.gid("mail"))


def test_a_symlinked_custom_root_is_labelled_at_its_real_path(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.answers.mailbox.root = "/srv/vmail"
    host = session.host
    host.real("/data/mail").mkdir(parents=True)
    host.real("/srv").mkdir(exist_ok=True)
    os.symlink("../data/mail", host.real("/srv/vmail"))
    assert [p for p in session.problems() if p.key == "mailbox.root"] == []
    cmds = active_commands(session.plan(), "vmail")
    assert ["semanage", "fcontext", "-a", "-t", "mail_spool_t", "/data/mail(/.*)?"] in cmds
    assert ["restorecon", "-Rv", "/data/mail"] in cmds
    assert ["chmod", "700", "/data/mail"] in cmds
    assert not [c for c in cmds if "/srv/vmail" in c[-1] and c[0] != "useradd"]
    assert session.apply(session.plan()).status == "applied"
    assert os.readlink(host.real("/srv/vmail")) == "../data/mail"
    wanted = selinux.labelled_paths(session.answers, host)
    assert wanted["/data/mail"] == "mail_spool_t" and "/srv/vmail" not in wanted


def test_a_dangling_symlink_as_mail_root_is_refused_naming_its_target(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    os.rename(session.host.real("/var/spool/mail"), session.host.real("/var/spool/gone"))
    errors = [p for p in session.problems() if p.key == "mailbox.root" and p.severity == "error"]
    assert errors and "/var/spool/mail, which does not exist" in errors[0].message


# --- 2. firewalld: smtp-submission, which every version has ---------------------------------

@pytest.mark.parametrize("platform", RHEL)
def test_port_587_is_opened_with_smtp_submission(tmp_path, platform):
    session = fake_session(tmp_path, platform, "full.toml")
    plan = session.plan()
    add = next(c for c in active_commands(plan, "postfix") if c[0] == "firewall-cmd" and c[1] == "--permanent")
    assert "--add-service=smtp-submission" in add and "--add-service=submission" not in add
    assert session.apply(plan).status == "applied"
    assert session.host.run(["firewall-cmd", "--query-service=smtp-submission"]).ok  # running, after the reload
    assert "smtp-submission" in session.host.state.firewall_services
    checks = {c.name: c.status for c in session.verify() if c.step == "postfix" and "firewall" in c.name}
    assert checks == {"firewall allows smtp (25)": "pass", "firewall allows smtp-submission (587)": "pass",
                      "firewall allows smtps (465)": "pass"}


def test_the_simulated_firewalld_knows_which_services_its_version_ships(tmp_path):
    old = fake_session(tmp_path / "9", "rhel9").host
    bad = old.run(["firewall-cmd", "--permanent", "--add-service=submission"])
    assert bad.returncode == 101 and "INVALID_SERVICE" in bad.output
    mixed = old.run(["firewall-cmd", "--permanent", "--add-service=smtp", "--add-service=submission"])
    assert mixed.ok and "Warning: INVALID_SERVICE" in mixed.output  # exit 0, and 587 stays closed
    assert old.state.firewall_services == {"smtp"}
    new = fake_session(tmp_path / "10", "rhel10").host
    assert new.run(["firewall-cmd", "--permanent", "--add-service=submission"]).ok  # firewalld 2.1 and later


# --- 3. semanage comes with policycoreutils-python-utils ------------------------------------

@pytest.mark.parametrize("platform", RHEL)
def test_semanage_is_installed_before_the_plan_runs_it(tmp_path, platform):
    session = fake_session(tmp_path, platform, "full.toml")  # /srv/vmail needs a local label rule
    assert not session.host.run(["semanage", "fcontext", "-l", "-C"]).ok  # a minimal install lacks it
    plan = session.plan()
    changes = plan.active()
    first = next(i for i, c in enumerate(changes) if any(cmd[0] == "semanage" for cmd in c.commands()))
    installing = next(i for i, c in enumerate(changes) if c.step == "install")
    assert installing < first
    install_change = changes[installing]
    assert "policycoreutils-python-utils" in install_change.commands()[-1]
    assert "semanage" in install_change.describe() and "/srv/vmail" in install_change.describe()
    assert session.apply(plan).status == "applied"
    assert session.host.state.selinux_fcontexts["/srv/vmail(/.*)?"] == "mail_spool_t"
    assert session.plan().active() == []


def test_a_non_standard_port_alone_needs_semanage_too(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    ctx = PlanContext(session.host, session.profile)
    assert install.semanage_uses(session.answers, ctx) == []  # /var/mail -> /var/spool/mail, standard ports
    assert "policycoreutils-python-utils" not in active_commands(session.plan(), "install")[-1]
    session.answers.protocols.sieve = True
    session.answers.sieve.port = 4191
    assert install.semanage_uses(session.answers, PlanContext(session.host, session.profile)) == ["port 4191"]
    assert "policycoreutils-python-utils" in active_commands(session.plan(), "install")[-1]
    debian = fake_session(tmp_path / "d", "debian12", "full.toml")
    assert install.semanage_uses(debian.answers, PlanContext(debian.host, debian.profile)) == []


# --- 4. the doveadm password where Dovecot (dovecot_t) may read it --------------------------

def test_the_doveadm_password_is_copied_under_etc_dovecot(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    host, r = session.host, session.answers.replication
    secret = host.read(r.password_file)
    plan = session.plan()
    conf = next(c for c in plan.changes if c.key() == "file:/etc/dovecot/conf.d/10-replication.conf")
    text = conf.content.decode()
    assert f"doveadm_password = <{COPY}" in text and "</root" not in text
    assert "mailwizard's copy of /root/doveadm.pass" in text
    for shown in (plan.render_text(), json.dumps(plan.to_json())):
        assert secret.decode().strip() not in shown
    assert not [c for c in active_commands(plan, "replication") if c[0] == "semanage"]
    assert session.apply(plan).status == "applied"
    assert host.read(COPY) == secret and r.password_file == "/root/doveadm.pass"
    for path, mode in ((COPY, 0o600), ("/etc/dovecot/private", 0o700)):
        meta = host.stat(path)
        assert (meta.mode, meta.uid, meta.gid) == (mode, 0, 0), path
    assert selinux.labelled_paths(session.answers, host)[COPY] == "dovecot_etc_t"
    assert f"{COPY}\tsystem_u:object_r:dovecot_etc_t:s0" in host.run(["matchpathcon", COPY]).output
    checks = {c.name: c.status for c in session.verify() if c.step in ("replication", "selinux", "files")}
    assert checks[f"{COPY} is a copy of /root/doveadm.pass"] == "pass"
    assert checks[f"policy labels {COPY} dovecot_etc_t"] == "pass"
    assert checks["doveadm.pass is 0600 root:root"] == "pass"
    assert session.plan().active() == []
    rolled_back(session)
    assert not host.exists(COPY) and not host.exists("/etc/dovecot/private")
    assert host.read(r.password_file) == secret


def test_a_password_file_already_under_etc_dovecot_is_read_where_it_is(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    own = "/etc/dovecot/doveadm.pass"
    session.host.real("/etc/dovecot").mkdir(parents=True, exist_ok=True)
    session.host.real(own).write_bytes(b"Another-s3cret\n")
    session.host.real(own).chmod(0o600)
    session.answers.replication.password_file = own
    plan = session.plan()
    assert not [c for c in plan.changes if c.key() == f"file:{COPY}"]
    conf = next(c for c in plan.changes if c.key() == "file:/etc/dovecot/conf.d/10-replication.conf")
    assert f"doveadm_password = <{own}" in conf.content.decode()


# --- 5. the system-wide crypto policy stays in charge ---------------------------------------

def cipher_or_protocol_writes(plan):
    out = []
    for c in plan.active():
        for cmd in c.commands():
            out += [a for a in cmd if "cipher" in a or "tls_protocols=" in a]
        out += [line for line in c.diff().splitlines() if line.startswith("+") and "cipher" in line]
    return out


@pytest.mark.parametrize("platform", RHEL)
def test_rhel_keeps_its_crypto_policy_and_the_review_names_it(tmp_path, platform):
    session = fake_session(tmp_path, platform, "full.toml")
    plan = session.plan()
    notes = [w for w in plan.warnings if w.startswith("crypto_policy:")]
    assert len(notes) == 1 and "crypto policy DEFAULT" in notes[0] and "no cipher list" in notes[0]
    assert cipher_or_protocol_writes(plan) == []  # no cipher list; port 25 keeps the library's protocols
    postconf = [a for c in plan.active() for cmd in c.commands() if cmd[:2] == ["postconf", "-e"] for a in cmd]
    want = ">=TLSv1.2" if platform == "rhel10" else "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"
    assert f"smtpd_tls_mandatory_protocols={want}" in postconf  # 587 and 465: TLS is mandatory there
    assert session.apply(plan).status == "applied"
    ssl = session.host.read_text("/etc/dovecot/conf.d/10-ssl.conf")
    assert "\nssl_cipher_list = PROFILE=SYSTEM\n" in ssl and "\nssl_min_protocol = TLSv1.2\n" in ssl
    master = session.host.read_text("/etc/postfix/master.cf")
    assert [line.strip() for line in master.splitlines()].count("-o smtpd_tls_security_level=encrypt") == 2


def test_a_legacy_crypto_policy_is_named_with_its_risk(tmp_path):
    session = fake_session(tmp_path, "rhel9", "pam.toml")
    session.host.state.crypto_policy = "LEGACY"
    notes = [p for p in session.problems() if p.key == "crypto_policy"]
    assert notes[0].severity == "warning" and "LEGACY" in notes[0].message
    assert "update-crypto-policies --set DEFAULT" in notes[0].message


def test_debian_has_no_crypto_policy_and_sets_the_minimums_itself(tmp_path):
    session = fake_session(tmp_path, "debian12", "full.toml")
    plan = session.plan()
    assert not [w for w in plan.warnings if w.startswith("crypto_policy:")]
    assert cipher_or_protocol_writes(plan) == []
    postconf = [a for c in plan.active() for cmd in c.commands() if cmd[:2] == ["postconf", "-e"] for a in cmd]
    assert "smtpd_tls_mandatory_protocols=>=TLSv1.2" in postconf
    ssl = next(c for c in plan.changes if c.key() == "file:/etc/dovecot/conf.d/10-ssl.conf")
    assert "+ssl_min_protocol = TLSv1.2" in ssl.diff().splitlines()
