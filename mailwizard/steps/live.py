"""Live checks of the running server (the report): TLS on every TLS port, AUTH only after TLS, no open relay,
postmaster@ for every domain, disk space, and with a test account ([auth] test_user, test_password_file)
logins and a delivery read back.

Nothing is planned. Each enabled port is probed over the network the way a
client would (mailwizard.probes): the handshake works with TLS 1.2 or newer,
TLS 1.0 and 1.1 are refused, the certificate names this host, is not within
14 days of expiry and its chain verifies against the system's trust store
(and the configured CA), and SMTP offers AUTH only after STARTTLS; a port nobody answers names
the command that starts its service. Relaying is asked for from one of this
host's own non-loopback addresses outside `mynetworks` (the kernel then uses
that address as the source); when there is none, the report says that only
loopback was available, where relaying is allowed by design. With a test
account it logs in over IMAP, POP3 and submission, sends a message to it on
port 25, reads it back over IMAP (SMTP -> LMTP -> mailbox) and deletes it.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from typing import TYPE_CHECKING

from mailwizard import certs
from mailwizard.answers import Answers
from mailwizard.host import MASTERS, Host
from mailwizard.plan import Check
from mailwizard.platform import Profile
from mailwizard.steps import Step, not_checkable

if TYPE_CHECKING:
    import ssl

# The network clients (imaplib, poplib, smtplib, ssl, and probes with its sockets) are imported where a
# check runs: every step module is imported at start, and the report is the last thing a run does.

NAME = "live"


def tls_ports(answers: Answers) -> list[tuple[int, str]]:
    """(port, what) of every enabled port that speaks TLS."""
    p, out = answers.postfix, []
    if p.mode == "internet-site":
        out.append((25, "SMTP"))
        if p.submission:
            out.append((587, "submission"))
            if p.smtps:
                out.append((465, "submissions"))
    if answers.dovecot_enabled:
        proto = answers.protocols
        out += [(port, what) for port, what, on in ((143, "IMAP", proto.imap), (993, "IMAPS", proto.imap),
                                                     (110, "POP3", proto.pop3), (995, "POP3S", proto.pop3),
                                                     (answers.sieve.port, "ManageSieve", proto.sieve)) if on]
        if proto.lmtp and answers.lmtp.listener == "inet":
            out.append((answers.lmtp.port, "LMTP"))
    return out


# (protocol, implicit TLS) spoken on each kind of port tls_ports() names
SPEAKS = {"SMTP": ("smtp", False), "submission": ("smtp", False), "submissions": ("smtp", True),
          "IMAP": ("imap", False), "IMAPS": ("imap", True), "POP3": ("pop3", False), "POP3S": ("pop3", True),
          "ManageSieve": ("sieve", False), "LMTP": ("lmtp", False)}


def old_versions() -> tuple[tuple[ssl.TLSVersion, str], ...]:
    import ssl

    return (ssl.TLSVersion.TLSv1, "TLS 1.0"), (ssl.TLSVersion.TLSv1_1, "TLS 1.1")


def _tls_checks(answers: Answers, profile: Profile, port: int, what: str, trust: str) -> list[Check]:
    from mailwizard import probes

    proto, implicit = SPEAKS[what]
    title = f"{what} ({port})"
    got = probes.tls("127.0.0.1", port, proto, implicit, trust=trust)
    if not got.ok:
        service = "postfix" if proto == "smtp" else "dovecot"
        return [Check(NAME, f"{title}: TLS", "fail", got.error,
                      f"is {service} running? {' '.join(profile.service_argv('start', service))}; "
                      "if it is, see its log and its certificate settings")]
    modern = got.version in ("TLSv1.2", "TLSv1.3")
    checks = [Check(NAME, f"{title}: TLS", "pass" if modern else "fail", f"{got.version} {got.cipher}",
                    "" if modern else "require TLS 1.2 or newer")]
    # port 25's STARTTLS is opportunistic: a sender whose handshake fails falls back to plaintext, so it
    # takes whatever the TLS library (on RHEL, the crypto policy) allows, and old versions are not probed
    for version, label in old_versions() if what != "SMTP" else ():
        old = probes.tls("127.0.0.1", port, proto, implicit, version=version)
        checks.append(Check(NAME, f"{title}: {label} refused", "fail" if old.ok else "pass",
                            old.version if old.ok else old.error[:160],
                            "set the minimum protocol to TLS 1.2 (ssl_min_protocol, smtpd_tls_mandatory_protocols)"
                            if old.ok else ""))
    if got.cert_pem:
        cert = certs.load_cert(got.cert_pem)
        names = certs.cert_names(cert)
        named = any(certs.name_matches(n, answers.server.hostname) for n in names)
        left = certs.days_left(got.cert_pem)
        status = "fail" if not named else certs.expiry_status(left)
        checks.append(Check(NAME, f"{title}: certificate", status,
                            f"names {', '.join(names) or 'nothing'}; {left} days left",
                            "" if status == "pass" else "use a certificate for "
                            f"{answers.server.hostname}" if not named else "renew the certificate"))
        checks.append(_chain_check(title, got, trust))
    if proto == "smtp" and not implicit:
        early = [o for o in got.offered if o.startswith("AUTH")]
        checks.append(Check(NAME, f"{title}: no AUTH before STARTTLS", "fail" if early else "pass",
                            "offered before TLS: " + " ".join(got.offered),
                            "set smtpd_tls_auth_only = yes" if early else ""))
    return checks


def trust_for(answers: Answers, host: Host) -> str:
    """What a served chain must verify against: the system's store, and the configured CA when readable."""
    ca = answers.tls.ca
    return str(host.real(ca)) if ca and host.read(ca) is not None else ""


def _chain_check(title: str, got, trust: str) -> Check:
    issuer, subject = certs.issuer_and_subject(got.cert_pem)
    against = "the system's trust store" + (" and the configured CA" if trust else "")
    if not got.chain_error:
        return Check(NAME, f"{title}: certificate chain", "pass", f"verifies against {against}")
    if issuer == subject:
        return Check(NAME, f"{title}: certificate chain", "warn", f"self-signed ({got.chain_error})",
                     "clients warn until a certificate from a CA is installed")
    return Check(NAME, f"{title}: certificate chain", "fail",
                 f"does not verify against {against}: {got.chain_error}; not found: the certificate of "
                 f"{issuer}, or of a CA above it",
                 "serve the whole chain: the certificate followed by its intermediate certificates "
                 "(certbot's fullchain.pem), or name the CA that issued it")


def mynetworks(answers: Answers, host: Host) -> list:
    """The networks Postfix trusts as it runs now (`postconf -h mynetworks`), else as answered."""
    got = host.run(["postconf", "-h", "mynetworks"])
    texts = got.output.replace(",", " ").split() if got.ok else answers.postfix.mynetworks
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.replace("[", "").replace("]", ""), strict=False))
        except ValueError:
            continue
    return networks


def _outside_address(networks: list, host: Host) -> str | None:
    """One of this host's addresses outside mynetworks (not loopback), to ask for relaying from."""
    for text in host.addresses():
        try:
            addr = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if addr.is_loopback or addr.is_link_local or any(addr in n for n in networks if n.version == addr.version):
            continue
        return str(addr)
    return None


def _relay_check(answers: Answers, host: Host) -> Check:
    from mailwizard import probes

    networks = mynetworks(answers, host)
    wide = [str(n) for n in networks if not n.is_loopback and n.prefixlen < (8 if n.version == 4 else 16)]
    if wide:
        return Check(NAME, "no open relay", "fail", f"mynetworks trusts {', '.join(wide)}: anyone there may "
                     "relay", "list only your own networks in mynetworks")
    source = _outside_address(networks, host)
    if source is None:
        return Check(NAME, "no open relay", "warn", "this host has no address outside mynetworks to ask from; "
                     "from loopback relaying is allowed by design", "ask from another host: swaks --to "
                     f"someone@example.org --server {answers.server.hostname} must be refused")
    try:
        code, text = probes.relay(source)
    except (OSError, probes.ProbeError) as exc:
        return Check(NAME, "no open relay", "fail", f"from {source}: {exc}", "is Postfix listening on it?")
    refused = code >= 400
    return Check(NAME, "no open relay", "pass" if refused else "fail",
                 f"from {source} (outside mynetworks) to a foreign domain: {code} {text}"[:300],
                 "" if refused else "smtpd_relay_restrictions must end with reject_unauth_destination or "
                 "defer_unauth_destination; check mynetworks")


def _client_tls() -> ssl.SSLContext:
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the certificate has its own rows
    return ctx


def _attempt(title: str, action, fix: str) -> Check:
    """Run a client action; a pass with its evidence, or a fail with the error (never the password)."""
    import imaplib
    import poplib
    import smtplib
    import ssl

    try:
        return Check(NAME, title, "pass", action())
    except (OSError, ssl.SSLError, imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPException) as exc:
        return Check(NAME, title, "fail", (str(exc) or type(exc).__name__)[:300], fix)


def _imap_login(user: str, password: str) -> str:
    import imaplib

    with imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=_client_tls(), timeout=15) as imap:
        imap.login(user, password)
        return "logged in on 993"


def _pop3_login(user: str, password: str) -> str:
    import poplib

    pop = poplib.POP3_SSL("127.0.0.1", 995, context=_client_tls(), timeout=15)
    try:
        pop.user(user)
        pop.pass_(password)
        return "logged in on 995"
    finally:
        pop.quit()


def _submission_login(user: str, password: str) -> str:
    import smtplib

    with smtplib.SMTP("127.0.0.1", 587, timeout=15) as smtp:
        smtp.starttls(context=_client_tls())
        smtp.login(user, password)
        return "AUTH accepted on 587 after STARTTLS"


def _delivery(user: str, password: str, address: str, wait: float = 30.0) -> str:
    """Send a message on port 25, find it over IMAP, delete it; evidence with the time it took."""
    import imaplib
    import smtplib

    token = f"mailwizard delivery check {uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", 25, timeout=15) as smtp:
        # the null sender: no sender-login rule (2.6) applies to it, and nothing can bounce
        smtp.sendmail("", [address],
                      f"From: mailwizard <postmaster@{address.split('@', 1)[1]}>\r\nTo: <{address}>\r\n"
                      f"Subject: {token}\r\n\r\nThis message checks delivery; mailwizard deletes it.\r\n")
    with imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=_client_tls(), timeout=15) as imap:
        imap.login(user, password)
        while True:
            imap.select("INBOX")
            _, data = imap.search(None, "HEADER", "Subject", f'"{token}"')
            found = data[0].split() if data and data[0] else []
            if found:
                for num in found:
                    imap.store(num, "+FLAGS", "\\Deleted")
                imap.expunge()
                return f"sent to {address} on 25, read back over IMAP after {time.monotonic() - started:.1f} s, " \
                       "then deleted"
            if time.monotonic() - started > wait:
                raise OSError(f"sent to {address} on 25, but not in INBOX after {wait:.0f} s (see the mail log)")
            time.sleep(0.5)


def _account_checks(answers: Answers, host: Host) -> list[Check]:
    from mailwizard.steps.auth import given_test_login

    creds = given_test_login(answers, host)
    if creds is None:
        return [Check(NAME, "test account", "warn", "no test account given: logins and delivery not checked",
                      "press t on the Report screen, or name one in the answers: [auth] test_user and "
                      "test_password_file")]
    user, password = creds
    address = user if "@" in user else f"{user}@{answers.server.domain}"
    fix = "check the account's password and Dovecot's log"
    checks = []
    if answers.protocols.imap:
        checks.append(_attempt(f"IMAP login as {user}", lambda: _imap_login(user, password), fix))
    if answers.protocols.pop3:
        checks.append(_attempt(f"POP3 login as {user}", lambda: _pop3_login(user, password), fix))
    if answers.postfix.mode == "internet-site" and answers.postfix.submission:
        checks.append(_attempt(f"submission login as {user}", lambda: _submission_login(user, password),
                               "check smtpd_sasl_path and Dovecot's auth socket for Postfix"))
    if answers.postfix.mode == "internet-site" and answers.protocols.imap:
        checks.append(_attempt(f"delivery to {address}", lambda: _delivery(user, password, address),
                               "see the mail log: Postfix's delivery to Dovecot over LMTP"))
    return checks


def mail_domains(answers: Answers) -> list[str]:
    """The domains this server receives mail for, each of which must accept postmaster@ (RFC 5321 4.5.1)."""
    p = answers.postfix
    out = [answers.server.domain, *p.virtual_mailbox_domains, *p.virtual_alias_domains]
    return [d for i, d in enumerate(out) if d and d not in out[:i]]


def postmaster_checks(answers: Answers, port: int = 25) -> list[Check]:
    """RCPT TO:<postmaster@DOMAIN> on port 25 for each domain; nothing is sent (RSET, then QUIT)."""
    import smtplib

    checks = []
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo("mailwizard-verify.invalid")
            for domain in mail_domains(answers):
                smtp.mail("")
                code, reply = smtp.rcpt(f"postmaster@{domain}")
                smtp.rset()
                status = "pass" if code in (250, 251) else "warn" if 400 <= code < 500 else "fail"
                checks.append(Check(NAME, f"postmaster@{domain} accepted", status,
                                    f"{code} {reply.decode(errors='replace')}"[:200],
                                    "" if status == "pass" else "every domain must accept postmaster@: "
                                    "add `postmaster: root` to the aliases (then newaliases), or a virtual alias"))
    except (OSError, smtplib.SMTPException) as exc:
        checks.append(Check(NAME, "postmaster@ accepted", "fail", f"port {port}: {exc}",
                            "is Postfix running?"))
    return checks


DISK_FAIL, DISK_WARN = (200 << 20, 0.02), (1 << 30, 0.10)  # bytes free and share free: below either, fail/warn


def disk_checks(answers: Answers, host: Host) -> list[Check]:
    """Space left where mail is stored and where Postfix queues it."""
    import shutil

    queue = host.run(["postconf", "-h", "queue_directory"]) if answers.postfix.mode else None
    places = [("the mail store", answers.mailbox.root if answers.dovecot_enabled else ""),
              ("Postfix's queue", queue.output.strip() if queue is not None and queue.ok else "/var/spool/postfix")]
    checks = []
    for what, path in places:
        if not path or not host.exists(path):
            continue
        usage = shutil.disk_usage(host.real(path))
        share = usage.free / usage.total if usage.total else 0.0
        status = ("fail" if usage.free < DISK_FAIL[0] or share < DISK_FAIL[1] else
                  "warn" if usage.free < DISK_WARN[0] or share < DISK_WARN[1] else "pass")
        checks.append(Check(NAME, f"disk space for {what}", status,
                            f"{path}: {usage.free / (1 << 30):.1f} GiB free ({share:.0%})",
                            "" if status == "pass" else f"free space on the file system of {path}; Postfix "
                            "refuses mail when its queue's file system is nearly full"))
    return checks


def chosen_ports(answers: Answers, profile: Profile) -> set[int]:
    """Every TCP port the answers open for Postfix and Dovecot."""
    from mailwizard.steps.services import expected_ports, postfix_ports

    ports = set(postfix_ports(answers, profile)) | {port for port, _ in tls_ports(answers)}
    if answers.dovecot_enabled:
        ports |= set(expected_ports(answers))
        if answers.protocols.lmtp and answers.lmtp.listener == "inet":
            ports.add(answers.lmtp.port)
        if answers.auth.sasl_listener == "inet":
            ports.add(answers.auth.sasl_port)
        if answers.replication.enabled:
            ports.add(answers.replication.port)
    return ports


def _unchosen_listeners(answers: Answers, host: Host, profile: Profile) -> Check:
    chosen = chosen_ports(answers, profile)
    extra = sorted((port, name) for port, name in host.listening().items()
                   if name in MASTERS and port not in chosen)
    return Check(NAME, "nothing listening that was not chosen", "warn" if extra else "pass",
                 ", ".join(f"{port} held by {name}" for port, name in extra) if extra else
                 "Postfix and Dovecot listen on " + ", ".join(str(p) for p in sorted(chosen)),
                 "close what nobody uses (postconf -M for Postfix, the service's inet_listener for Dovecot)"
                 if extra else "")


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not host.can_probe_network:
        return [not_checkable(NAME, "live checks")]
    checks = [_unchosen_listeners(answers, host, profile)]
    trust = trust_for(answers, host)
    for port, what in tls_ports(answers):
        checks += _tls_checks(answers, profile, port, what, trust)
    if answers.dovecot_enabled:
        got = host.run(["doveconf", "-h", "disable_plaintext_auth"])
        ok = got.ok and got.output.strip() == "yes"
        checks.append(Check(NAME, "plaintext logins refused without TLS", "pass" if ok else "fail",
                            f"disable_plaintext_auth = {got.output.strip()} (loopback counts as secure to "
                            "Dovecot, so this is checked in its configuration)",
                            "" if ok else "set disable_plaintext_auth = yes in 10-auth.conf"))
    if answers.postfix.mode == "internet-site":
        checks.append(_relay_check(answers, host))
        checks += postmaster_checks(answers)
    checks += disk_checks(answers, host)
    if answers.dovecot_enabled:
        checks += _account_checks(answers, host)
    return checks


STEP = Step(NAME, "Live checks", "1.1.2, 2.2, 2.6, 2.9.3", verify=verify)
