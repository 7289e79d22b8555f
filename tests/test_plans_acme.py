"""Tier 1 for issue 16's ACME certificates: facts in, changes out (fake hosts), the checks, and rollback.

The real certbot against a real ACME server (pebble) is tests/e2e/test_acme.py's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailwizard.answers import ACME_DIRECTORY, acme_paths
from mailwizard.engine import Session
from mailwizard.plan import Command
from mailwizard.simulated import FakeHost
from mailwizard.steps import acme
from support import ANSWERS_DIR, cached_cert, fake_session

FQDN = "mail.example.com"
CERT, KEY = acme_paths(FQDN)
PEBBLE = "https://198.51.100.2:14000/dir"


class CertbotHost(FakeHost):
    """A fake host whose certbot keeps a lineage as the real one does (the files a re-plan looks at)."""

    def _simulate(self, argv: list[str], input: str | None) -> tuple[int, str]:
        if argv[:2] == ["certbot", "certonly"]:
            name, server = argv[argv.index("--cert-name") + 1], argv[argv.index("--server") + 1]
            for path, data in ((acme_paths(name)[0], cached_cert(name)[1]), (acme_paths(name)[1], cached_cert(name)[0]),
                               (acme.renewal_conf(name), f"[renewalparams]\nserver = {server}\n".encode())):
                self.real(path).parent.mkdir(parents=True, exist_ok=True)
                self.real(path).write_bytes(data)
            return 0, "Successfully received certificate.\n"
        if argv[:2] == ["certbot", "delete"]:
            name = argv[argv.index("--cert-name") + 1]
            for path in (*acme_paths(name), acme.renewal_conf(name)):
                self.real(path).unlink(missing_ok=True)
            return 0, f"Deleted all files relating to certificate {name}.\n"
        if argv[:2] == ["dnf", "install"] and argv[-1].endswith(".rpm"):  # dnf names the package it installs
            self.state.installed.add(argv[-1].rsplit("/", 1)[1].split("-latest")[0])
            return 0, ""
        return super()._simulate(argv, input)


def acme_session(tmp_path, platform: str, *, systemd: bool = True, **tls) -> Session:
    """pam.toml with an ACME certificate instead of its files (which the fake host then lacks); certbot
    simulated."""
    session = fake_session(tmp_path, platform, "pam.toml", with_certs=False)
    session.host.__class__ = CertbotHost
    a = session.answers
    a.tls.acme, a.tls.acme_email, a.tls.ca = True, "postmaster@example.com", ""
    a.tls.cert, a.tls.key = CERT, KEY
    for name, value in tls.items():
        setattr(a.tls, name, value)
    if not systemd:
        session.profile = dataclasses.replace(session.profile, service_manager="service")
    return session


def steps_of(plan, step: str) -> list:
    return [c for c in plan.changes if c.step == step]


def argv(change) -> list[str]:
    return (change.commands() or [[]])[-1]


def certbot_argv(server: str = ACME_DIRECTORY) -> list[str]:
    return ["certbot", "certonly", "--non-interactive", "--agree-tos", "--no-eff-email", "--standalone",
            "--preferred-challenges", "http", "--cert-name", FQDN, "-d", FQDN, "-m", "postmaster@example.com",
            "--server", server]


def test_debian_plan_installs_certbot_obtains_hooks_and_schedules(tmp_path):
    session = acme_session(tmp_path, "debian12")
    assert [p for p in session.problems() if p.severity == "error"] == []
    plan = session.plan()
    names = [s.name for s in session.active_steps()]
    assert names.index("install") < names.index("acme") < names.index("tls")  # certificate before 10-ssl.conf
    changes = steps_of(plan, "acme")
    active = [c for c in changes if c.noop is None]
    assert [argv(c) for c in active] == [
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "-o",
         "Dpkg::Options::=--force-confold", "-o", "Dpkg::Lock::Timeout=600", "certbot"],
        certbot_argv(), [],  # the hook is a file
        ["systemctl", "enable", "--now", "certbot.timer"]]
    assert "no firewalld" in changes[1].noop  # Debian: nothing to open, and the review says so
    certbot = active[1]
    assert certbot.undo == [["certbot", "delete", "--non-interactive", "--cert-name", FQDN]]
    hook = active[2]
    assert (hook.path, hook.mode) == (acme.HOOK, 0o755)
    script = hook.content.decode()
    assert f'*" {FQDN} "*) ;;' in script and script.endswith("systemctl reload postfix\nsystemctl reload dovecot\n")
    ssl_conf = next(c for c in plan.active() if c.key() == "file:/etc/dovecot/conf.d/10-ssl.conf").content.decode()
    assert f"ssl_cert = <{CERT}\n" in ssl_conf and f"ssl_key = <{KEY}\n" in ssl_conf
    assert not [c for c in plan.changes if c.key() == f"attrs:{KEY}"]  # certbot's key is 0600 already
    assert any(f"smtpd_tls_cert_file={CERT}" in " ".join(cmd) or f"smtpd_tls_cert_file = {CERT}" in c.diff()
               for c in plan.active() for cmd in c.commands())


def test_rhel_plan_enables_epel_first_and_opens_http(tmp_path):
    session = acme_session(tmp_path, "rhel10")
    session.host.state.firewall_services.update({"imap", "imaps", "pop3", "pop3s"})
    plan = session.plan()
    active = [c for c in steps_of(plan, "acme") if c.noop is None]
    assert [argv(c) for c in active[:4]] == [
        ["dnf", "install", "-y", "https://dl.fedoraproject.org/pub/epel/epel-release-latest-10.noarch.rpm"],
        ["dnf", "install", "-y", "certbot"],
        ["firewall-cmd", "--permanent", "--add-service=http"],
        ["firewall-cmd", "--reload"]]
    assert "EPEL" in active[0].describe() and not active[0].reversible  # it stays, and rollback says so
    assert active[2].undo == [["firewall-cmd", "--permanent", "--remove-service=http"]]
    assert argv(active[-1]) == ["systemctl", "enable", "--now", "certbot-renew.timer"]  # EPEL's timer


def test_without_systemd_cron_runs_the_renewal(tmp_path):
    debian = acme_session(tmp_path / "d", "debian12", systemd=False).plan()
    changes = [c for c in steps_of(debian, "acme") if c.noop is None]
    assert argv(changes[0])[-2:] == ["certbot", "cron"]
    assert changes[-1].key() == "service:cron" and "enable and start" in changes[-1].describe()
    assert changes[-2].content.decode().endswith("service postfix reload\nservice dovecot reload\n")
    rhel = acme_session(tmp_path / "r", "rhel9", systemd=False).plan()
    changes = [c for c in steps_of(rhel, "acme") if c.noop is None]
    assert argv(changes[1])[-2:] == ["certbot", "cronie"]
    cron = next(c for c in changes if c.key() == f"file:{acme.OWN_CRON}")  # EPEL's certbot ships no cron entry
    assert b"root certbot -q renew" in cron.content and changes[-1].key() == "service:crond"
    # Debian's certbot installed, its cron entry removed since: the wizard's own entry instead
    session = acme_session(tmp_path / "d2", "debian12", systemd=False)
    session.host.state.installed.add("certbot")
    changes = [c for c in steps_of(session.plan(), "acme") if c.noop is None]
    assert f"file:{acme.OWN_CRON}" in [c.key() for c in changes]
    put(session, acme.DEBIAN_CRON, b"0 */12 * * * root certbot -q renew\n")
    assert f"file:{acme.OWN_CRON}" not in [c.key() for c in steps_of(session.plan(), "acme")]


def put(session, path: str, data: bytes) -> None:
    real = session.host.real(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data)


def test_an_existing_lineage_is_kept_or_replaced_from_another_ca(tmp_path):
    session = acme_session(tmp_path, "debian12")
    put(session, CERT, b"(certbot's chain)")
    put(session, acme.renewal_conf(FQDN), f"version = 2.1.0\n[renewalparams]\nserver = {ACME_DIRECTORY}\n".encode())
    certbot = next(c for c in steps_of(session.plan(), "acme") if argv(c)[:1] == ["certbot"])
    assert certbot.noop == f"certbot already keeps a certificate for {FQDN} from {ACME_DIRECTORY} " \
                           "(`certbot renew` renews it)"
    session.answers.tls.acme_server = PEBBLE
    certbot = next(c for c in steps_of(session.plan(), "acme") if argv(c)[:1] == ["certbot"])
    assert certbot.noop is None and argv(certbot) == [*certbot_argv(PEBBLE), "--force-renewal"]
    assert certbot.undo == [] and not certbot.reversible  # the lineage was there before: rollback keeps it
    assert certbot.describe().startswith(f"replace the certificate for {FQDN} from {ACME_DIRECTORY}")


def test_port_80_taken_is_refused_and_an_unmanaged_firewall_warned(tmp_path):
    session = acme_session(tmp_path, "rhel10")
    session.host.state.listening[80] = "nginx"
    session.answers.firewall_manage = False
    problems = {(p.key, p.severity): p.message for p in session.problems()}
    assert "port 80 is held by nginx" in problems[("tls.acme", "error")]
    assert "open TCP port 80 yourself" in problems[("tls.acme", "warning")]


def test_apply_then_rollback_removes_the_hook_the_rule_and_the_lineage(tmp_path):
    session = acme_session(tmp_path, "rhel10")
    host = session.host
    assert session.apply(session.plan()).status == "applied"
    assert host.read(acme.HOOK) == acme.hook_script(session.answers, session.profile)
    assert "http" in host.state.firewall_services and "certbot-renew.timer" in host.state.enabled
    assert next(c for c in host.commands if c[0] == "certbot")[:2] == ["certbot", "certonly"]
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    assert host.read(acme.HOOK) is None and "http" not in host.state.firewall_services
    # the wizard enabled the timer: rollback disables it; the lineage is deleted, the rule removed
    assert host.commands[-4:-1] == [["systemctl", "disable", "--now", "certbot-renew.timer"],
                                    ["certbot", "delete", "--non-interactive", "--cert-name", FQDN],
                                    ["firewall-cmd", "--permanent", "--remove-service=http"]]
    said = " ".join(report.irreversible)
    assert "certbot's ACME account" in said and "EPEL stays enabled" in said


def test_a_timer_the_package_enabled_is_left_enabled_by_rollback(tmp_path):
    session = acme_session(tmp_path, "debian12")
    timer = next(c for c in session.plan().active() if isinstance(c, acme.EnableTimer))
    session.host.state.enabled.add("certbot.timer")  # Debian's certbot enables it when installed
    assert timer.effects(session.host, None).undo == []
    session.host.state.enabled.clear()
    assert timer.effects(session.host, None).undo == [["systemctl", "disable", "--now", "certbot.timer"]]


# --- the checks -----------------------------------------------------------------------------------

def _chain(fqdn: str) -> tuple[bytes, bytes]:
    """(leaf + intermediate PEM, a self-signed PEM) for `fqdn`: EC keys, quick."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject: str, issuer: str, public, signer, ca: bool):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(public)
             .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
             .not_valid_after(now + dt.timedelta(days=90)))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(fqdn)]), critical=False)
        return b.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    ca = cert("Test Intermediate", "Test Intermediate", ca_key.public_key(), ca_key, True)
    leaf = cert(fqdn, "Test Intermediate", key.public_key(), ca_key, False)
    return leaf + ca, cert(fqdn, fqdn, key.public_key(), key, False)


@pytest.mark.parametrize("case, status, words", [
    ("issued", "pass", "issuer CN=Test Intermediate, from " + PEBBLE),
    ("missing", "fail", f"{CERT} does not exist"),
    ("self-signed", "fail", "it is self-signed"),
    ("other CA", "fail", f"certbot renews it from {ACME_DIRECTORY}, not {PEBBLE}"),
])
def test_issuer_check(tmp_path, case, status, words):
    session = acme_session(tmp_path, "debian12", acme_server=PEBBLE)
    chain, self_signed = _chain(FQDN)
    if case != "missing":
        put(session, CERT, self_signed if case == "self-signed" else chain)
        server = ACME_DIRECTORY if case == "other CA" else PEBBLE
        put(session, acme.renewal_conf(FQDN), f"[renewalparams]\nserver = {server}\n".encode())
    check = acme._issuer_check(session.answers, session.host)
    assert (check.status, check.name) == (status, "certificate issued by the ACME CA")
    assert words in check.evidence


def test_hook_and_schedule_checks(tmp_path):
    session = acme_session(tmp_path, "debian12", systemd=False)
    answers, host, profile = session.answers, session.host, session.profile
    checks = {c.name: c for c in acme.verify(answers, host, profile)}
    assert checks["deploy hook reloads Postfix and Dovecot after renewal"].status == "fail"
    assert checks["certificate renewal scheduled"].status == "fail"
    assert checks["certbot installed"].status == "fail"
    assert session.apply(session.plan()).status == "applied"
    put(session, acme.DEBIAN_CRON, b"0 */12 * * * root test -x /usr/bin/certbot && certbot -q renew\n")
    checks = {c.name: c for c in acme.verify(answers, host, profile)}
    assert checks["deploy hook reloads Postfix and Dovecot after renewal"].status == "pass"
    assert checks["certificate renewal scheduled"].status == "pass"
    assert "certbot installed" not in checks
    host.real(acme.HOOK).chmod(0o644)
    assert {c.name: c for c in acme.verify(answers, host, profile)}[
        "deploy hook reloads Postfix and Dovecot after renewal"].status == "fail"


def test_commands_are_exact_argv_lists(tmp_path):
    for platform in ("debian12", "rhel9", "rhel10"):
        plan = acme_session(tmp_path / platform, platform).plan()
        for change in steps_of(plan, "acme"):
            if isinstance(change, Command):
                assert all(isinstance(a, str) and " " not in a for a in argv(change)), argv(change)


def test_a_replication_partner_gets_its_own_acme_certificate():
    from mailwizard import answers as answers_mod
    from mailwizard.steps import replication

    a, problems = answers_mod.parse((ANSWERS_DIR / "full.toml").read_text())
    assert problems == [] and a.replication.enabled
    a.tls.acme, a.tls.acme_email, a.tls.ca = True, "postmaster@example.com", ""
    a.tls.cert, a.tls.key = acme_paths(a.server.hostname)
    twin, _ = answers_mod.parse(replication.partner_answers(a, ["198.51.100.11/32"]))
    partner = a.replication.partner
    assert twin.tls.acme and (twin.tls.cert, twin.tls.key) == acme_paths(partner)
    assert [p for p in answers_mod.validate(twin) if p.key.startswith("tls.")] == []


def test_a_host_configured_for_acme_reads_back_its_acme_answers(tmp_path):
    from mailwizard import existing
    from mailwizard.answers import parse

    session = acme_session(tmp_path, "debian12", acme_server=PEBBLE)
    assert session.apply(session.plan()).status == "applied"
    assert session.host.read(acme.renewal_conf(FQDN)) == f"[renewalparams]\nserver = {PEBBLE}\n".encode()
    answers, _ = parse("")
    existing.prefill_from_host(answers, session.host, session.profile)
    assert (answers.tls.acme, answers.tls.acme_server, answers.tls.cert, answers.tls.key) == (True, PEBBLE, CERT, KEY)
    answers.tls.acme_email = session.answers.tls.acme_email  # typed: certbot's account holds it
    assert Session(answers, session.host, session.profile).plan().active() == []
    session.host.real(acme.renewal_conf(FQDN)).unlink()  # not certbot's any more: a certificate like any other
    answers, _ = parse("")
    existing.prefill_from_host(answers, session.host, session.profile)
    assert (answers.tls.acme, answers.tls.cert) == (False, CERT)


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_a_run_killed_after_each_acme_change_resumes_to_the_uninterrupted_end_state(tmp_path, monkeypatch, platform):
    import kill_sweep

    monkeypatch.setattr(kill_sweep, "fake_session", lambda path, name, _answers: acme_session(path, name))
    monkeypatch.setattr("os.fsync", lambda fd: None)  # durability is not what this checks
    active, expected = kill_sweep.reference(tmp_path, platform, "acme")
    picked = [k for k, c in enumerate(active) if c.step == "acme"]
    assert len(picked) >= 4
    for k in picked:
        assert kill_sweep.kill_after(tmp_path, platform, "acme", k, len(active), expected) is None


def test_acme_without_dovecot_is_said_to_do_nothing(tmp_path):
    session = fake_session(tmp_path, "debian12", "null-client.toml")
    session.answers.tls.acme = True
    warned = [p for p in session.problems() if p.key == "tls.acme"]
    assert [p.severity for p in warned] == ["warning"] and "Dovecot is off" in warned[0].message
    assert not [c for c in session.plan().changes if c.step == "acme"]
