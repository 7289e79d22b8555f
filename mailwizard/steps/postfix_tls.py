"""Postfix TLS (guide 2.2): the server's certificate, TLS 1.2 minimum, opportunistic TLS outbound.

`smtpd_tls_cert_file` / `smtpd_tls_key_file` (Dovecot's certificate from
[tls] unless [postfix] names another), `smtpd_tls_security_level = may`
(STARTTLS offered), `smtpd_tls_auth_only = yes` (no AUTH before STARTTLS),
`smtpd_tls_mandatory_protocols` at TLS 1.2 or newer (`>=TLSv1.2`; Postfix
before 3.6, RHEL 9's 3.5, takes the exclusion list `!SSLv2, !SSLv3, !TLSv1,
!TLSv1.1`) for the services where TLS is mandatory (submission and
submissions run with `smtpd_tls_security_level=encrypt`), `smtp_tls_security_level
= may` (opportunistic outbound), and the guide's optional `smtp_tls_loglevel`.
Port 25's opportunistic STARTTLS keeps Postfix's `smtpd_tls_protocols`
default, every protocol the TLS library allows: a sender that fails the
handshake falls back to plaintext, which is worse than old TLS. No cipher
list is ever written: on RHEL the system-wide crypto policy
(`update-crypto-policies`) governs protocols and ciphers, and the review
names the active policy.
A null client receives nothing: it only gets the outbound settings. Postfix
reads the key as root before dropping privileges, so the 0600 root:root key
of guide 1.1.2 serves both daemons.
"""

from __future__ import annotations

import ssl

from mailwizard import certs, probes, safe_read
from mailwizard.answers import Answers, Problem
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.postfix_conf import Postconf, settings_check, version_at_least
from mailwizard.steps import Step, not_checkable


def cert_paths(answers: Answers) -> tuple[str, str]:
    p = answers.postfix
    return (p.tls_cert or answers.tls.cert, p.tls_key or answers.tls.key)


def protocols(profile: Profile) -> str:
    return ">=TLSv1.2" if version_at_least(profile, (3, 6)) else "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"


def tls_settings(answers: Answers, profile: Profile) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if answers.postfix.mode == "internet-site":
        cert, key = cert_paths(answers)
        out += [("smtpd_tls_cert_file", cert), ("smtpd_tls_key_file", key),
                ("smtpd_tls_security_level", "may"), ("smtpd_tls_auth_only", "yes"),
                ("smtpd_tls_mandatory_protocols", protocols(profile))]
    # an authenticated smarthost gets the password only over TLS (steps/postfix_relay.py)
    out.append(("smtp_tls_security_level", "encrypt" if answers.postfix.relay_login else "may"))
    if answers.postfix.tls_loglevel is not None:
        out.append(("smtp_tls_loglevel", str(answers.postfix.tls_loglevel)))
    return out


def crypto_policy_note(ctx: PlanContext) -> list[Problem]:
    """On RHEL, the review names the system-wide crypto policy that governs TLS (a warning line, never an error)."""
    if not ctx.profile.crypto_policy:
        return []
    got = ctx.fact("update-crypto-policies --show", lambda: ctx.host.run(["update-crypto-policies", "--show"]))
    policy = got.output.strip().splitlines()[-1] if got.ok and got.output.strip() else ""
    kept = ("mailwizard writes no cipher list; it requires TLS 1.2 or newer where TLS is mandatory "
            "(submission, IMAP, POP3) and leaves port 25's opportunistic STARTTLS to what the policy allows")
    if not policy:
        return [Problem("crypto_policy", "TLS protocols and ciphers follow the system-wide crypto policy, which "
                        f"`update-crypto-policies --show` did not name ({got.output.strip()[-120:] or 'no answer'}); "
                        + kept, "warning")]
    where = " (a fresh install's; the target's may differ)" if ctx.offline else ""
    message = (f"TLS protocols and ciphers follow the system-wide crypto policy {policy}{where} "
               f"(`update-crypto-policies --show`): {kept}")
    if policy.split(":")[0] == "LEGACY":
        message += ("; LEGACY lets port 25 accept TLS 1.0/1.1: `update-crypto-policies --set DEFAULT` "
                    "if no old sender needs it")
    return [Problem("crypto_policy", message, "warning")]


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    problems = crypto_policy_note(ctx)
    p = answers.postfix
    if p.mode != "internet-site" or not (p.tls_cert or p.tls_key):
        return problems  # Dovecot's pair is checked by the Dovecot TLS step
    if not (p.tls_cert and p.tls_key):  # half of Postfix's own pair, half of Dovecot's: never a pair
        missing = "tls_key" if p.tls_cert else "tls_cert"
        return problems + [Problem(f"postfix.{missing}", "give Postfix's own certificate and its key together "
                                                         "(or neither, for Dovecot's pair)")]
    severity = "warning" if ctx.offline else "error"
    cert_path, key_path = cert_paths(answers)
    (cert, cert_error), (key, key_error) = safe_read.read_for(ctx, cert_path), safe_read.read_for(ctx, key_path)
    for field, error in (("tls_cert", cert_error), ("tls_key", key_error)):
        if error:  # a FIFO, a device or a huge file: never read (it would hang or exhaust memory)
            problems.append(Problem(f"postfix.{field}", f"{error}: give the file itself"))
    if cert_error or key_error:
        return problems
    for field, path, data in (("tls_cert", cert_path, cert), ("tls_key", key_path, key)):
        if data is None:
            problems.append(Problem(f"postfix.{field}", f"{path} does not exist: copy it there first", severity))
    if cert is not None:  # the checks of guide 1.1.2's pair: the key matches, the certificate names this host
        for field, msg in certs.check_pair(cert, key, answers.server.hostname):
            problems.append(Problem(f"postfix.tls_{field}", msg))
    return problems


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    settings = tls_settings(answers, ctx.profile)
    what = "outbound TLS when the peer offers it" if answers.postfix.mode == "null-client" else \
        "STARTTLS with the certificate, TLS 1.2 minimum where TLS is mandatory (submission), AUTH only after " \
        "STARTTLS, outbound TLS when offered"
    return [Postconf(settings, summary=f"main.cf (2.2): {what}")]


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    checks = [settings_check(host, "postfix_tls", "postconf shows the TLS settings", tls_settings(answers, profile))]
    if answers.postfix.mode == "internet-site" and not host.can_probe_network:
        checks.append(not_checkable("postfix_tls", "STARTTLS with TLS 1.2 on port 25"))
    elif answers.postfix.mode == "internet-site":
        got = probes.tls("127.0.0.1", 25, "smtp", False, version=ssl.TLSVersion.TLSv1_2, timeout=10)
        checks.append(Check("postfix_tls", "STARTTLS with TLS 1.2 on port 25", "pass" if got.ok else "fail",
                            f"{got.version} {got.cipher}" if got.ok else got.error,
                            "" if got.ok else "is Postfix running? see its log"))
    return checks


STEP = Step("postfix_tls", "Postfix TLS", "2.2", plan=plan, verify=verify, validate=validate)
