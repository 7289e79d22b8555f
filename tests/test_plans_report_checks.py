"""Tier 1 for issue 6, the report's Files and Platform checks, on fake RHEL 10 and Debian 12 hosts.

Files: every private file of the plan has the plan's owner and mode (the key,
the mail root, the LDAP/SQL/replication configs, the SQL option file), a
supplied secret is readable by root alone. Platform: services running and
enabled at boot, the firewall as planned both permanently and in the running
firewall, SELinux enforcing with the policy's labels on RHEL (the exact
getenforce/matchpathcon/restorecon -n commands) and "not applicable" once on
Debian. Each passes after apply and fails, with its fix, once one thing is
broken. The live TLS rows refuse TLS 1.0 as well as 1.1 (a real local server).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import pytest

from mailwizard.steps import files, firewall, live, selinux, services
from support import fake_session, openssl_server

KEY = "/etc/pki/dovecot/private/server.example.com.key"
ADMIN_PASSFILE = "/root/doveadm.pass"  # the administrator's, named by the answers
PASSFILE = "/etc/dovecot/private/doveadm.pass"  # the copy of it that Dovecot reads


def applied(tmp_path, platform, answers="full.toml", tweak=None):
    session = fake_session(tmp_path, platform, answers)
    if answers == "full.toml":
        real = session.host.real(PASSFILE)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text("Replication-s3cret\n")
        os.chmod(real, 0o600)
    if tweak:
        tweak(session)
    result = session.apply(session.plan())
    assert result.status == "applied", result.error
    return session


def by_name(checks):
    return {c.name: c for c in checks}


def run(step, session):
    return by_name(step.verify(session.answers, session.host, session.profile))


# --- files -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_every_private_file_of_the_plan_is_checked_and_passes(tmp_path, platform):
    session = applied(tmp_path, platform)
    checks = run(files, session)
    assert {n: c.evidence for n, c in checks.items() if c.status != "pass"} == {}
    assert {"server.example.com.key is 0600 root:root", "/srv/vmail is 0700 vmail:vmail",
            "10-replication.conf is 0600 root:root", "doveadm.pass is readable by root alone"} <= set(checks)
    # only private files: nothing world-readable such as 10-ssl.conf or the certificate
    assert not any("10-ssl.conf" in n or n.startswith("server.example.com.crt") for n in checks)


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_a_key_readable_by_all_and_an_open_mail_root_fail_with_their_fix(tmp_path, platform):
    session = applied(tmp_path, platform)
    host = session.host
    host.chmod(KEY, 0o644)
    host.chmod("/srv/vmail", 0o755)
    host.chown("/etc/dovecot/conf.d/10-replication.conf", 97, 0)  # owned by dovecot
    checks = run(files, session)
    key = checks["server.example.com.key is 0600 root:root"]
    assert (key.status, key.evidence) == ("fail", f"{KEY}: 0644 root:root")
    assert key.fix == f"chown root:root {KEY}; chmod 600 {KEY}"
    root = checks["/srv/vmail is 0700 vmail:vmail"]
    assert root.status == "fail" and root.evidence == "/srv/vmail: 0755 vmail:vmail"
    assert root.fix == "chown vmail:vmail /srv/vmail; chmod 700 /srv/vmail"
    conf = checks["10-replication.conf is 0600 root:root"]
    assert conf.status == "fail" and "0600 dovecot:root" in conf.evidence
    assert {n for n, c in checks.items() if c.status == "fail"} == {
        "server.example.com.key is 0600 root:root", "/srv/vmail is 0700 vmail:vmail",
        "10-replication.conf is 0600 root:root"}


def test_a_supplied_secret_readable_by_others_fails_by_its_group_warns(tmp_path):
    session = applied(tmp_path, "rhel10")
    name = "doveadm.pass is readable by root alone"
    session.host.chmod(ADMIN_PASSFILE, 0o644)
    check = run(files, session)[name]
    assert check.status == "fail" and check.fix == f"chown root:root {ADMIN_PASSFILE}; chmod 600 {ADMIN_PASSFILE}"
    session.host.chmod(ADMIN_PASSFILE, 0o640)
    check = run(files, session)[name]
    assert check.status == "warn" and "its group may read it" in check.evidence
    session.host.chmod(ADMIN_PASSFILE, 0o400)
    assert run(files, session)[name].status == "pass"


def test_ldap_config_and_sql_option_file_are_checked_with_the_plans_modes(tmp_path):
    session = applied(tmp_path, "debian12", "ldap.toml",
                      tweak=lambda s: setattr(s.answers.auth.ldap, "dnpass", "Bind pass"))
    checks = run(files, session)
    assert checks["dovecot-ldap.conf.ext is 0600 root:root"].status == "pass"
    session.host.chmod("/etc/dovecot/dovecot-ldap.conf.ext", 0o644)
    assert run(files, session)["dovecot-ldap.conf.ext is 0600 root:root"].status == "fail"

    def sql_password(s):
        s.answers.auth.sql.password = "with a space"  # needs the 0640 root:dovecot option file
        s.answers.auth.sql.ssl_ca = ""
    session = applied(tmp_path / "sql", "rhel10", "sql.toml", tweak=sql_password)
    checks = run(files, session)
    option = [n for n in checks if n.endswith("is 0640 root:dovecot")]
    assert len(option) == 1 and checks[option[0]].status == "pass", checks
    assert checks["dovecot-sql.conf.ext is 0600 root:root"].status == "pass"


def test_a_step_that_cannot_be_planned_is_a_warning_not_a_hidden_file(tmp_path, monkeypatch):
    import dataclasses

    from mailwizard.steps import vmail

    session = applied(tmp_path, "debian12", "pam.toml")

    def broken(answers, ctx):
        raise OSError("simulated: cannot read /etc/passwd")
    monkeypatch.setattr(vmail, "STEP", dataclasses.replace(vmail.STEP, plan=broken))
    checks = run(files, session)
    trouble = checks["files of step vmail"]
    assert trouble.status == "warn" and trouble.evidence == "OSError: simulated: cannot read /etc/passwd"
    assert "/var/mail is 0700 vmail:vmail" not in checks
    assert checks["server.example.com.key is 0600 root:root"].status == "pass"  # the other steps still checked


# --- services ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform, enable, start", [
    ("rhel10", "systemctl enable dovecot", "systemctl start dovecot"),
    ("debian12", None, None)])
def test_services_enabled_at_boot_and_running(tmp_path, platform, enable, start):
    session = applied(tmp_path, platform, "pam.toml")
    profile = session.profile
    enable = enable or " ".join(profile.service_argv("enable", "dovecot"))
    start = start or " ".join(profile.service_argv("start", "dovecot"))
    checks = run(services, session)
    for name in ("dovecot", "postfix"):
        assert checks[f"{name} running"].status == "pass"
        assert checks[f"{name} enabled at boot"].status == "pass"
    session.host.state.enabled.discard("dovecot")
    session.host.state.running.discard("dovecot")
    checks = run(services, session)
    assert checks["dovecot enabled at boot"].status == "fail" and checks["dovecot enabled at boot"].fix == enable
    assert checks["dovecot running"].status == "fail" and checks["dovecot running"].fix == start
    assert checks["postfix enabled at boot"].status == "pass"


# --- firewall --------------------------------------------------------------------------------------------

def test_firewall_as_planned_permanent_and_running(tmp_path):
    session = applied(tmp_path, "rhel10", tweak=lambda s: setattr(s.answers.sieve, "port", 4191))
    checks = run(firewall, session)
    assert {n: c.evidence for n, c in checks.items() if c.status != "pass"} == {}
    assert checks["firewall allows TCP 4191 (ManageSieve)"].evidence == "permanent: yes; running: yes"
    host = session.host
    host.commands.clear()
    session.host.state.firewall_services.discard("imaps")
    session.host.state.firewall_ports.discard("4191/tcp")
    checks = run(firewall, session)
    assert ["firewall-cmd", "--permanent", "--query-service=imaps"] in host.commands
    assert ["firewall-cmd", "--query-service=imaps"] in host.commands
    imaps = checks["firewall allows imaps (993)"]
    assert imaps.status == "fail"
    assert imaps.fix == "firewall-cmd --permanent --add-service=imaps; firewall-cmd --reload"
    assert checks["firewall allows TCP 4191 (ManageSieve)"].status == "fail"
    # a permanent rule never loaded: the running firewall lacks it until a reload
    host.run(["firewall-cmd", "--permanent", "--add-service=imaps"])
    imaps = run(firewall, session)["firewall allows imaps (993)"]
    assert (imaps.status, imaps.evidence, imaps.fix) == ("fail", "permanent: yes; running: no",
                                                         "firewall-cmd --reload")
    host.run(["firewall-cmd", "--reload"])
    assert run(firewall, session)["firewall allows imaps (993)"].status == "pass"
    host.state.failing.add("firewall-cmd")
    assert list(run(firewall, session)) == ["firewalld running"]


def test_rich_rules_as_planned_permanent_and_running(tmp_path):
    from mailwizard.steps import lmtp

    session = applied(tmp_path, "rhel10")
    name = "firewall admits 192.0.2.1/32 to port 24"
    check = run(lmtp, session)[name]
    assert (check.step, check.status, check.evidence) == ("lmtp", "pass", "permanent: yes; running: yes")
    rule = 'rule family="ipv4" source address="192.0.2.1/32" port protocol="tcp" port="24" accept'
    session.host.run(["firewall-cmd", "--zone=public", f"--remove-rich-rule={rule}"])  # runtime only
    check = run(lmtp, session)[name]
    assert (check.status, check.evidence, check.fix) == ("fail", "permanent: yes; running: no",
                                                         "firewall-cmd --reload")
    session.host.run(["firewall-cmd", "--permanent", "--zone=public", f"--remove-rich-rule={rule}"])
    check = run(lmtp, session)[name]
    assert check.fix == f"firewall-cmd --permanent --zone=public --add-rich-rule='{rule}'; firewall-cmd --reload"


def test_no_firewall_checks_where_there_is_no_firewalld(tmp_path):
    session = applied(tmp_path, "debian12", "pam.toml")
    assert run(firewall, session) == {}


# --- SELinux -------------------------------------------------------------------------------------------

def test_selinux_enforcing_with_the_policys_labels(tmp_path):
    def ports(s):
        s.answers.lmtp.port = 2424
        s.answers.sieve.port = 4191
    session = applied(tmp_path, "rhel10", tweak=ports)
    host = session.host
    host.commands.clear()
    checks = run(selinux, session)
    assert {n: c.evidence for n, c in checks.items() if c.status != "pass"} == {}
    assert host.commands[:4] == [
        ["getenforce"], ["matchpathcon", "/srv/vmail"], ["matchpathcon", PASSFILE],
        ["restorecon", "-n", "-v", "-R", "/srv/vmail", "/etc/pki/dovecot/certs/server.example.com.crt", KEY,
         PASSFILE]]
    assert checks["TCP port 2424 is labelled lmtp_port_t"].status == "pass"
    assert checks["TCP port 4191 is labelled sieve_port_t"].status == "pass"

    host.state.selinux_mode = "Permissive"
    host.state.selinux_labels["/srv/vmail/alice"] = "var_t"  # a mailbox moved in with mv keeps its label
    host.state.selinux_fcontexts[PASSFILE] = "etc_t"  # a local rule that takes dovecot_etc_t away
    del host.state.selinux_ports["tcp/2424"]
    checks = run(selinux, session)
    failed = {n: c for n, c in checks.items() if c.status == "fail"}
    assert set(failed) == {"SELinux is enforcing", f"policy labels {PASSFILE} dovecot_etc_t",
                           "files carry the policy's labels", "TCP port 2424 is labelled lmtp_port_t"}
    assert failed["SELinux is enforcing"].evidence == "Permissive"
    relabel = failed["files carry the policy's labels"]
    assert relabel.evidence == ("Would relabel /srv/vmail/alice from system_u:object_r:var_t:s0 "
                                "to system_u:object_r:mail_spool_t:s0")
    assert relabel.fix.startswith("restorecon -R -v /srv/vmail ")
    assert failed["TCP port 2424 is labelled lmtp_port_t"].fix == "semanage port -a -t lmtp_port_t -p tcp 2424"
    assert failed[f"policy labels {PASSFILE} dovecot_etc_t"].fix.startswith(
        f"semanage fcontext -a -t dovecot_etc_t '{PASSFILE}'")
    # the fix works: restorecon puts the policy's label back
    host.run(["restorecon", "-R", "-v", "/srv/vmail"])
    assert run(selinux, session)["files carry the policy's labels"].status == "pass"


def test_with_selinux_disabled_the_labels_are_not_checkable_never_a_pass(tmp_path):
    """restorecon -n says nothing when SELinux is off: the report must not take that silence for a pass."""
    session = applied(tmp_path, "rhel10")
    session.host.state.selinux_mode = "Disabled"
    session.host.state.selinux_labels["/srv/vmail/alice"] = "var_t"
    session.host.commands.clear()
    checks = run(selinux, session)
    assert checks["SELinux is enforcing"].status == "fail"
    relabel = checks["files carry the policy's labels"]
    assert relabel.status == "warn" and relabel.evidence.startswith("not checkable: SELinux is disabled")
    assert not any(argv[0] == "restorecon" for argv in session.host.commands)


def test_debian_says_once_that_selinux_does_not_apply(tmp_path):
    session = applied(tmp_path, "debian12")
    session.host.commands.clear()
    checks = selinux.verify(session.answers, session.host, session.profile)
    assert [(c.name, c.status) for c in checks] == [("SELinux", "pass")]
    assert checks[0].evidence.startswith("not applicable")
    assert session.host.commands == []


def test_the_report_lists_files_and_selinux_before_the_live_checks(tmp_path):
    session = applied(tmp_path, "rhel10")
    steps = [s.name for s in session.active_steps()]
    assert steps.index("services") < steps.index("files") < steps.index("selinux") < steps.index("live")
    checks = session.verify()
    assert any(c.step == "files" for c in checks) and any(c.step == "selinux" for c in checks)
    assert not [c for c in checks if c.step in ("files", "selinux") and c.status != "pass"]


# --- live TLS: old versions refused, a stopped service named ------------------------------------------

@pytest.mark.parametrize("floor, refused", [("TLSv1", False), ("TLSv1.2", True)])
def test_live_tls_rows_refuse_tls_1_0_and_1_1(tmp_path, floor, refused):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    with openssl_server(tmp_path, "-min_protocol", floor, "-cipher", "ALL:@SECLEVEL=0") as port:
        checks = by_name(live._tls_checks(session.answers, session.profile, port, "IMAPS", ""))
    assert checks[f"IMAPS ({port}): TLS"].status == "pass"
    for label in ("TLS 1.0", "TLS 1.1"):
        check = checks[f"IMAPS ({port}): {label} refused"]
        assert check.status == ("pass" if refused else "fail"), check
        if not refused:
            assert check.evidence == {"TLS 1.0": "TLSv1", "TLS 1.1": "TLSv1.1"}[label]
            assert "ssl_min_protocol" in check.fix


def test_a_port_nobody_answers_names_the_start_command(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    (check,) = live._tls_checks(session.answers, session.profile, port, "IMAPS", "")
    assert check.status == "fail" and "systemctl start dovecot" in check.fix
    (check,) = live._tls_checks(session.answers, session.profile, port, "submissions", "")
    assert "systemctl start postfix" in check.fix


def test_every_chosen_tls_port_is_probed_lmtp_over_tcp_too(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    a = session.answers
    ports = {what: port for port, what in live.tls_ports(a)}
    assert set(ports) <= set(live.SPEAKS)
    a.lmtp.listener, a.lmtp.port = "inet", 2424
    assert {what: port for port, what in live.tls_ports(a)}["LMTP"] == 2424
    a.lmtp.listener = "unix"
    assert "LMTP" not in {what: port for port, what in live.tls_ports(a)}


# --- live TLS: the served chain verifies, expiry within 14 days fails --------------------------------------

def _issue(subject: str, issuer_key, issuer_name, *, ca: bool, days: int = 90):
    """An EC key and a certificate for `subject` signed by `issuer_key` (itself when None)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _chain(tmp_path, days: int = 90) -> dict[str, bytes]:
    from cryptography.hazmat.primitives import serialization

    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    root_key, root = _issue("Test Root CA", None, None, ca=True)
    inter_key, inter = _issue("Test Intermediate CA", root_key, root.subject, ca=True)
    leaf_key, leaf = _issue("mail.example.com", inter_key, inter.subject, ca=False, days=days)
    key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    (tmp_path / "root.pem").write_bytes(pem(root))
    (tmp_path / "inter.pem").write_bytes(pem(inter))
    return {"key": key, "leaf": pem(leaf)}


@pytest.mark.parametrize("served", ["leaf and intermediate", "leaf alone", "self-signed"])
def test_the_served_chain_must_verify_naming_the_missing_issuer(tmp_path, served):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    made = _chain(tmp_path)
    trust = str(tmp_path / "root.pem")  # the configured CA
    flags = ("-cert_chain", "inter.pem") if served == "leaf and intermediate" else ()
    pair = None if served == "self-signed" else (made["key"], made["leaf"])
    with openssl_server(tmp_path, *flags, pair=pair) as port:
        checks = by_name(live._tls_checks(session.answers, session.profile, port, "IMAPS", trust))
    chain = checks[f"IMAPS ({port}): certificate chain"]
    if served == "leaf and intermediate":
        assert chain.status == "pass" and "the configured CA" in chain.evidence, chain
    elif served == "leaf alone":
        assert chain.status == "fail", chain
        assert "unable to get local issuer certificate" in chain.evidence
        assert "not found: the certificate of CN=Test Intermediate CA" in chain.evidence
        assert "fullchain.pem" in chain.fix
    else:
        assert chain.status == "warn" and chain.evidence.startswith("self-signed"), chain
    assert checks[f"IMAPS ({port}): TLS"].status == "pass"  # the rest is probed all the same


@pytest.mark.parametrize("days, status", [(10, "fail"), (20, "warn"), (60, "pass")])
def test_a_certificate_within_14_days_of_expiry_fails(tmp_path, days, status):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    made = _chain(tmp_path, days=days)
    with openssl_server(tmp_path, "-cert_chain", "inter.pem", pair=(made["key"], made["leaf"])) as port:
        checks = by_name(live._tls_checks(session.answers, session.profile, port, "IMAPS",
                                          str(tmp_path / "root.pem")))
    row = checks[f"IMAPS ({port}): certificate"]
    assert row.status == status and row.evidence.endswith(f"{days - 1} days left"), row


# --- postmaster@ for every domain, disk space ------------------------------------------------------------

@contextlib.contextmanager
def smtp_server(accepted: set[str]):
    """A minimal SMTP server on a free loopback port: RCPT TO is accepted for `accepted` addresses only."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    said: list[str] = []

    def serve():
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb") as f:
            f.write(b"220 test ESMTP\r\n")
            f.flush()
            for raw in f:
                line = raw.decode().strip()
                said.append(line)
                verb = line[:4].upper()
                if verb == "EHLO":
                    f.write(b"250-test\r\n250 8BITMIME\r\n")
                elif verb == "RCPT":
                    address = line.split("<", 1)[1].rstrip(">")
                    f.write(b"250 2.1.5 Ok\r\n" if address in accepted else
                            b"550 5.1.1 <" + address.encode() + b">: Recipient address rejected\r\n")
                elif verb == "QUIT":
                    f.write(b"221 Bye\r\n")
                    f.flush()
                    return
                else:
                    f.write(b"250 Ok\r\n")
                f.flush()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], said
    finally:
        listener.close()
        thread.join(5)


def test_postmaster_must_be_accepted_for_every_domain(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    a = session.answers
    a.postfix.virtual_alias_domains = ["example.net", a.server.domain]
    assert live.mail_domains(a) == [a.server.domain, "example.net"]
    with smtp_server({f"postmaster@{a.server.domain}"}) as (port, said):
        checks = by_name(live.postmaster_checks(a, port))
    assert checks[f"postmaster@{a.server.domain} accepted"].status == "pass"
    refused = checks["postmaster@example.net accepted"]
    assert refused.status == "fail" and refused.evidence.startswith("550") and "postmaster: root" in refused.fix
    assert not any(line.upper().startswith("DATA") for line in said)  # nothing is sent
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    (check,) = live.postmaster_checks(a, port)
    assert check.status == "fail" and "is Postfix running" in check.fix


@pytest.mark.parametrize("free, total, status", [(50 << 30, 100 << 30, "pass"), (800 << 20, 4 << 30, "warn"),
                                                 (100 << 20, 100 << 30, "fail"), (5 << 30, 100 << 30, "warn"),
                                                 (1 << 30, 100 << 30, "fail")])
def test_disk_space_for_the_mail_store_and_the_queue(tmp_path, monkeypatch, free, total, status):
    import shutil

    session = applied(tmp_path, "rhel10")
    session.host.makedirs("/var/spool/postfix")
    usage = shutil._ntuple_diskusage(total, total - free, free)  # type: ignore[attr-defined]
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    checks = by_name(live.disk_checks(session.answers, session.host))
    assert set(checks) == {"disk space for the mail store", "disk space for Postfix's queue"}
    for check in checks.values():
        assert check.status == status, check
        assert f"{free / (1 << 30):.1f} GiB free" in check.evidence
