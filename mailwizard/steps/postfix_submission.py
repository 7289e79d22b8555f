"""Submission for authenticated users (guide 2.6, 2.9.3): Dovecot SASL, no open relay, 587 and 465.

Dovecot: `service auth { unix_listener /var/spool/postfix/private/auth {
mode = 0660, user = postfix, group = postfix } }` in conf.d/10-master.conf
(2.9.3 step 1a; `auth_mechanisms` is the authentication step's). With
Dovecot on another host, `smtpd_sasl_path = inet:HOST:PORT` instead.

main.cf: `smtpd_sasl_auth_enable = yes`, `broken_sasl_auth_clients = yes`,
`smtpd_sasl_type = dovecot`, `smtpd_sasl_path = private/auth` (relative to
the queue directory, so it works chrooted or not), `smtpd_sasl_security_options
= noanonymous, noplaintext`, `smtpd_sasl_tls_security_options = noanonymous`,
`smtpd_tls_auth_only = yes`, `smtpd_relay_restrictions = permit_mynetworks
permit_sasl_authenticated defer_unauth_destination`. With
`sender_login_mismatch`, `smtpd_sender_restrictions =
reject_sender_login_mismatch` (the guide's) or
`reject_authenticated_sender_login_mismatch`, and the map it needs,
`smtpd_sender_login_maps = regexp:/etc/postfix/sender_login_maps`: an address
of the domain belongs to the login of its local part (with or without the
domain).

master.cf, with postconf -M/-P: `submission` (587, STARTTLS required) and
`submissions` (465, implicit TLS; `smtps` on Postfix before 3.6), each with
`-o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes
-o smtpd_client_restrictions=permit_sasl_authenticated,reject` (465 also
`-o smtpd_tls_wrappermode=yes`), chrooted like the `smtp` service. The
firewalld services `smtp-submission` (not `submission`, which firewalld
before 2.1 lacks) and `smtps` are opened with `smtp` (steps/postfix_site.py).
"""

from __future__ import annotations

import re
import socket

from mailwizard.answers import Answers, Problem, host_port
from mailwizard.dovecot_conf import Setting, edit_dovecot
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext, WriteFile
from mailwizard.platform import Profile
from mailwizard.postfix_conf import MasterService, Postconf, master_entries, settings_check, template, version_at_least
from mailwizard.steps import Step, not_checkable

AUTH_SOCKET = "/var/spool/postfix/private/auth"
SENDER_MAPS = "/etc/postfix/sender_login_maps"
SECTION = ("service auth", f"unix_listener {AUTH_SOCKET}")
CLIENTS = "permit_sasl_authenticated,reject"
RESTRICTIONS = {"reject": "reject_sender_login_mismatch",
                "reject-authenticated": "reject_authenticated_sender_login_mismatch"}


def applies(answers: Answers) -> bool:
    return answers.postfix.mode == "internet-site" and answers.postfix.submission


def sasl_path(answers: Answers) -> str:
    p = answers.postfix
    if p.sasl_host:
        return "inet:" + host_port(p.sasl_host, p.sasl_port)
    return "private/auth"


def sender_maps_text(answers: Answers) -> bytes:
    domain = answers.server.domain
    pattern = re.escape(domain).replace("/", "\\/")
    line = f"/^([^@+]+)(\\+[^@]*)?@{pattern}$/    ${{1}}, ${{1}}@{domain}"
    return template("postfix-sender-login-maps.tmpl", domain=domain, lines=line)


def sasl_settings(answers: Answers) -> list[tuple[str, str]]:
    out = [("smtpd_sasl_auth_enable", "yes"), ("broken_sasl_auth_clients", "yes"),
           ("smtpd_sasl_type", "dovecot"), ("smtpd_sasl_path", sasl_path(answers)),
           ("smtpd_sasl_security_options", "noanonymous, noplaintext"),
           ("smtpd_sasl_tls_security_options", "noanonymous"), ("smtpd_tls_auth_only", "yes"),
           ("smtpd_relay_restrictions", "permit_mynetworks permit_sasl_authenticated defer_unauth_destination")]
    mismatch = answers.postfix.sender_login_mismatch
    if mismatch:
        out += [("smtpd_sender_login_maps", f"regexp:{SENDER_MAPS}"),
                ("smtpd_sender_restrictions", RESTRICTIONS[mismatch])]
    return out


def services(answers: Answers, profile: Profile) -> list[tuple[str, list[tuple[str, str]]]]:
    common = [("smtpd_tls_security_level", "encrypt"), ("smtpd_sasl_auth_enable", "yes"),
              ("smtpd_client_restrictions", CLIENTS)]
    out = [("submission", [("syslog_name", "postfix/submission"), *common])]
    if answers.postfix.smtps:
        name = "submissions" if version_at_least(profile, (3, 6)) else "smtps"
        out.append((name, [("syslog_name", f"postfix/{name}"), ("smtpd_tls_wrappermode", "yes"), *common]))
    return out


def chroot_column(ctx: PlanContext) -> str:
    """The chroot column of master.cf's `smtp inet` service, which the new services copy."""
    entries = master_entries(ctx.read_text(f"{ctx.profile.postfix_dir}/master.cf") or "")
    smtp = entries.get(("smtp", "inet"))
    return smtp[4] if smtp else "n"


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    if not answers.dovecot_enabled or answers.postfix.sasl_host:
        return []
    mechs = {m.lower() for m in answers.auth.mechanisms}
    if not mechs & {"plain", "login"}:
        return [Problem("auth.mechanisms", "mail clients submitting over TLS use plain or login: add plain",
                        "warning")]
    return []


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    profile = ctx.profile
    changes: list[Change] = []
    if answers.dovecot_enabled and not answers.postfix.sasl_host:
        listener: list[Setting] = [(SECTION, "mode", "0660"), (SECTION, "user", "postfix"),
                                   (SECTION, "group", "postfix")]
        changes.append(edit_dovecot(ctx, f"{profile.dovecot_dir}/conf.d/10-master.conf", listener,
                                    summary=f"service auth {{ unix_listener {AUTH_SOCKET} {{ mode = 0660, "
                                            "user = postfix, group = postfix } }: Dovecot checks Postfix's logins",
                                    noop_reason=f"Dovecot already listens on {AUTH_SOCKET} for Postfix"))
    if answers.postfix.sender_login_mismatch:
        changes.append(WriteFile(SENDER_MAPS, sender_maps_text(answers), 0o644, service="postfix",
                                 summary="which login owns which sender address (reject_sender_login_mismatch)"))
    settings = sasl_settings(answers)
    changes.append(Postconf(settings, summary="main.cf (2.6, 2.9.3): SMTP AUTH through Dovecot after STARTTLS; "
                                              "relay only for mynetworks and logged-in users"))
    chroot = chroot_column(ctx)
    for name, params in services(answers, profile):
        port = "465, implicit TLS" if name != "submission" else "587, STARTTLS required"
        changes.append(MasterService(name, "inet", ("n", "-", chroot, "-", "-", "smtpd"), params,
                                     summary=f"master.cf: {name} ({port}) for authenticated users: "
                                             + " ".join(f"-o {k}={v}" for k, v in params)))
    return changes


def sasl_greeting(address: str, port: int, timeout: float = 5) -> tuple[bool, str]:
    """Dovecot's auth service over TCP greets every client with VERSION and its MECH lines, then DONE."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            data = b""
            while b"\nDONE\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return False, f"cannot connect: {exc.strerror or exc}"
    lines = data.decode("utf-8", "replace").splitlines()
    mechs = [line.split("\t")[1] for line in lines if line.startswith("MECH\t")]
    if not lines or not lines[0].startswith("VERSION\t1\t"):
        return False, "not Dovecot's auth protocol: " + (lines[0][:80] if lines else "no greeting")
    return True, "mechanisms: " + (" ".join(mechs) or "none")


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    checks = [settings_check(host, "postfix_submission", "postconf shows the SASL settings",
                             sasl_settings(answers))]
    p = answers.postfix
    if p.sasl_host and not host.can_probe_network:
        checks.append(not_checkable("postfix_submission", f"Dovecot SASL at {sasl_path(answers)} answers"))
    elif p.sasl_host:
        # unreachable, it costs more than logins: smtpd exits after STARTTLS ("no SASL authentication
        # mechanisms"), so even other MTAs' TLS sessions on port 25 are dropped
        ok, evidence = sasl_greeting(p.sasl_host, p.sasl_port)
        checks.append(Check("postfix_submission", f"Dovecot SASL at {sasl_path(answers)} answers",
                            "pass" if ok else "fail", evidence,
                            "" if ok else f"on {p.sasl_host}: [auth] sasl_listener = \"inet\", sasl_port = "
                            f"{p.sasl_port}, and admit this host in its firewall"))
    result = host.run(["postconf", "-M"])
    entries = master_entries(result.output)
    from mailwizard.postfix_conf import entry_params
    listening = host.listening()
    for name, params in services(answers, profile):
        have = entries.get((name, "inet"))
        good = have is not None and all(entry_params(have).get(k) == v for k, v in params)
        checks.append(Check("postfix_submission", f"master.cf runs {name}", "pass" if good else "fail",
                            " ".join(have) if have else "no such service", "" if good else "re-run the wizard"))
        port = 587 if name == "submission" else 465
        owner = listening.get(port)
        if not host.can_probe_network:
            checks.append(not_checkable("postfix_submission", f"port {port} listening"))
        else:
            checks.append(Check("postfix_submission", f"port {port} listening", "pass" if owner else "fail",
                                f"held by {owner}" if owner else "nothing listens",
                                "" if owner else "reload Postfix"))
    if answers.dovecot_enabled and not answers.postfix.sasl_host:
        meta = host.stat(AUTH_SOCKET)
        good = meta is not None and meta.mode == 0o660 and host.user_name(meta.uid) == "postfix"
        checks.append(Check("postfix_submission", f"Dovecot's auth socket {AUTH_SOCKET}", "pass" if good else "fail",
                            f"{meta.mode:04o} {host.user_name(meta.uid)}" if meta else "missing",
                            "" if good else "reload Dovecot; see service auth in 10-master.conf"))
    return checks


STEP = Step("postfix_submission", "Submission", "2.6, 2.9.3", plan=plan, verify=verify, validate=validate,
            applies=applies)
