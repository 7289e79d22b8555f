"""ACME certificates (beyond the guide; issue 16): certbot obtains the certificate Dovecot and Postfix use.

With `[tls] acme = true` the plan, in this order, before the TLS step points
Dovecot at the files:

- on RHEL, enables EPEL (`dnf install` of its epel-release package), where
  certbot comes from: shown as its own change, never done silently;
- installs certbot (and, where PID 1 is not systemd, Debian's cron, which
  runs the renewal entry certbot's package ships in /etc/cron.d);
- opens firewalld's `http` service for the CA's HTTP-01 challenge (it stays
  open: renewals answer the same challenge; rollback removes it);
- runs `certbot certonly --standalone` for the FQDN against `acme_server`:
  certbot answers the challenge on port 80 itself and keeps the certificate
  in /etc/letsencrypt/live/FQDN/{fullchain,privkey}.pem, symbolic links into
  archive/ that certbot moves on every renewal (Dovecot's `ssl_cert = <...`
  and Postfix's smtpd_tls_cert_file follow them when they reload);
- writes the deploy hook /etc/letsencrypt/renewal-hooks/deploy/mailwizard,
  which `certbot renew` runs after each renewal of this FQDN: it reloads
  Postfix and Dovecot, so the new certificate is served with no restart;
- schedules renewal with what the platform has: certbot's systemd timer
  (Debian's `certbot.timer`, EPEL's `certbot-renew.timer`), or without
  systemd, cron with the entry Debian's package ships (where there is none,
  as with EPEL's package, the wizard writes /etc/cron.d/mailwizard-certbot).

Rollback removes the hook and the firewall rule, disables a timer the
wizard enabled, and deletes the certificate lineage the wizard obtained
(`certbot delete`: nothing renews it any more); certbot's ACME account, the
copies of keys and requests certbot keeps in keys/ and csr/, its directories,
EPEL and the packages stay, and the rollback says so.

Verify: the certificate is issued by the ACME CA (renewal configuration
names `acme_server`, the issuer is not the certificate itself and matches
the chain), the certificate served on 993, 25 and 587 is certbot's current
one, the deploy hook is in place, renewal is scheduled, and port 80 is open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailwizard import certs, probes
from mailwizard.answers import Answers, Problem, acme_paths
from mailwizard.host import Host
from mailwizard.plan import Change, Check, Command, Effects, PlanContext, ServiceState, Work, WriteFile, service_running
from mailwizard.platform import Profile
from mailwizard.steps import Step
from mailwizard.steps.firewall import Skipped, managed, query, reload_change, rule_check
from mailwizard.steps.install import installed, is_installed

LETSENCRYPT = "/etc/letsencrypt"
HOOK = f"{LETSENCRYPT}/renewal-hooks/deploy/mailwizard"
OWN_CRON = "/etc/cron.d/mailwizard-certbot"  # where certbot's package ships no cron entry
DEBIAN_CRON = "/etc/cron.d/certbot"  # shipped by Debian's certbot package


def applies(answers: Answers) -> bool:
    return answers.dovecot_enabled and answers.tls.acme


def renewal_conf(fqdn: str) -> str:
    return f"{LETSENCRYPT}/renewal/{fqdn}.conf"


def lineage_server(text: str | None) -> str | None:
    """The ACME directory a certbot renewal configuration renews from (its `server = URL`), or None."""
    m = re.search(r"^\s*server\s*=\s*(\S+)\s*$", text or "", re.MULTILINE)
    return m.group(1) if m else None


def timer(profile: Profile) -> str:
    """certbot's renewal timer: Debian's package ships certbot.timer, EPEL's certbot-renew.timer."""
    return "certbot-renew.timer" if profile.family == "rhel" else "certbot.timer"


def packages(profile: Profile) -> list[str]:
    """certbot, and where PID 1 is not systemd the cron daemon that runs its renewals."""
    if profile.service_manager == "systemd":
        return ["certbot"]
    return ["certbot", "cronie" if profile.family == "rhel" else "cron"]


def cron_service(profile: Profile) -> str:
    return "crond" if profile.family == "rhel" else "cron"


def hook_script(answers: Answers, profile: Profile) -> bytes:
    fqdn = answers.server.hostname
    services = ["postfix", "dovecot"] if answers.dovecot_enabled else ["postfix"]
    reloads = "\n".join(" ".join(profile.service_argv("reload", s)) for s in services)
    return (f"#!/bin/sh\n"
            f"# Written by mailwizard: certbot runs this after it renews a certificate. When the renewed\n"
            f"# one is {fqdn}'s, Postfix and Dovecot reload to serve it (no restart needed).\n"
            f"case \" $RENEWED_DOMAINS \" in\n"
            f"  *\" {fqdn} \"*) ;;\n"
            f"  *) exit 0 ;;\n"
            f"esac\n"
            f"{reloads}\n").encode()


@dataclass(eq=False)
class Certbot(Command):
    """`certbot certonly`: its undo deletes the lineage; certbot's account is kept, which rollback says."""

    def effects(self, host: Host, work: Work) -> Effects:
        return super().effects(host, work) | Effects(
            irreversible="certbot's ACME account (a later run uses it again) and what certbot keeps of every "
                         f"certificate it made in {LETSENCRYPT}/keys and csr (copies of keys and requests: remove "
                         "them by hand)")


@dataclass(eq=False)
class EnableTimer(Command):
    """`systemctl enable --now TIMER`: undone by rollback only if it was not enabled when applied
    (Debian's package enables certbot.timer itself)."""

    def effects(self, host: Host, work: Work) -> Effects:
        name = self.argv[-1]
        if host.run(["systemctl", "is-enabled", name]).ok:
            return Effects()
        return Effects(undo=[["systemctl", "disable", "--now", name]])


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    if ctx.offline:
        return []
    problems = []
    owner = ctx.host.listening().get(80)
    if owner and owner != "certbot":
        problems.append(Problem("tls.acme", f"port 80 is held by {owner}: certbot answers the ACME CA's "
                                "HTTP-01 challenge there itself (standalone); stop it, or bring your own "
                                "certificate files (acme = false)"))
    if ctx.profile.firewall == "firewalld" and not answers.firewall_manage:
        problems.append(Problem("tls.acme", "[firewall] manage = false: open TCP port 80 yourself, or the ACME "
                                "CA cannot reach certbot for the challenge", "warning"))
    return problems


def _firewall(answers: Answers, ctx: PlanContext) -> list[Change]:
    summary = "open the firewall's http service (TCP 80) for the ACME CA's HTTP-01 challenge"
    if ctx.profile.firewall != "firewalld":
        return [Skipped("acme-http", summary, f"{ctx.profile.label} has no firewalld; if this host runs "
                        "another firewall, allow TCP 80 there")]
    if not managed(answers, ctx.profile):
        return [Skipped("acme-http", summary, "[firewall] manage = false: allow TCP 80 yourself")]
    there = query(ctx, ["--permanent", "--query-service=http"])
    change = Command(argv=["firewall-cmd", "--permanent", "--add-service=http"], summary=summary,
                     noop_reason="the firewall already allows http" if there else None,
                     undo=[] if there else [["firewall-cmd", "--permanent", "--remove-service=http"]])
    return [change, reload_change([change])]


def _certbot(answers: Answers, ctx: PlanContext) -> Certbot:
    tls, fqdn = answers.tls, answers.server.hostname
    cert, _ = acme_paths(fqdn)
    server = lineage_server(ctx.read_text(renewal_conf(fqdn)))
    have = server is not None and ctx.exists(cert)
    argv = ["certbot", "certonly", "--non-interactive", "--agree-tos", "--no-eff-email", "--standalone",
            "--preferred-challenges", "http", "--cert-name", fqdn, "-d", fqdn, "-m", tls.acme_email,
            "--server", tls.acme_server]
    summary = (f"obtain a certificate for {fqdn} from the ACME CA {tls.acme_server} (certbot answers the "
               f"HTTP-01 challenge on port 80 itself) into {LETSENCRYPT}/live/{fqdn}/")
    if have and server != tls.acme_server:
        argv.append("--force-renewal")
        summary = f"replace the certificate for {fqdn} from {server} with one from {tls.acme_server}"
    return Certbot(argv=argv, summary=summary, service="dovecot",
                   noop_reason=(f"certbot already keeps a certificate for {fqdn} from {server} (`certbot renew` "
                                "renews it)") if have and server == tls.acme_server else None,
                   undo=[] if have else [["certbot", "delete", "--non-interactive", "--cert-name", fqdn]])


def shipped_cron(ctx: PlanContext) -> bool:
    """Whether certbot's package provides the cron entry: Debian's does, unless it was removed since."""
    if ctx.profile.family != "debian":
        return False
    return ctx.exists(DEBIAN_CRON) or not installed(ctx, "certbot")  # or the install about to happen brings it


def _schedule(answers: Answers, ctx: PlanContext) -> list[Change]:
    profile = ctx.profile
    if profile.service_manager == "systemd":
        name = timer(profile)
        on = ctx.fact(f"timer:{name}", lambda: ctx.host.run(["systemctl", "is-enabled", name]).ok
                      and ctx.host.run(["systemctl", "is-active", name]).ok)
        return [EnableTimer(argv=["systemctl", "enable", "--now", name],
                            summary=f"renew the certificate with certbot's {name} (twice a day; certbot renews "
                                    "within 30 days of expiry)",
                            noop_reason=f"{name} is enabled and active" if on else None, reversible=True)]
    changes: list[Change] = []
    if not shipped_cron(ctx):  # EPEL's certbot ships a timer only; Debian's entry may have been removed
        changes.append(WriteFile(OWN_CRON, b"# Written by mailwizard: certbot renews within 30 days of expiry\n"
                                 b"0 */12 * * * root certbot -q renew\n", 0o644,
                                 summary="renew the certificate twice a day with cron (no systemd here)"))
    service = ServiceState(cron_service(profile), profile)
    return [*changes, service]


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    profile = ctx.profile
    changes: list[Change] = []
    if profile.family == "rhel":
        release = profile.name.removeprefix("rhel")
        changes.append(Command(
            argv=[*profile.install_argv,
                  f"https://dl.fedoraproject.org/pub/epel/epel-release-latest-{release}.noarch.rpm"],
            summary="enable EPEL (Extra Packages for Enterprise Linux), the repository certbot comes from",
            noop_reason="EPEL is enabled (epel-release is installed)" if installed(ctx, "epel-release") else None,
            undo_hint="EPEL stays enabled; remove it with dnf remove epel-release"))
    wanted = packages(profile)
    missing = [p for p in wanted if not installed(ctx, p)]
    changes.append(Command(argv=[*profile.install_argv, *(missing or wanted)],
                           summary=f"install {', '.join(missing or wanted)} (ACME certificates and their renewal)",
                           env=dict(profile.install_env),
                           noop_reason=None if missing else f"{', '.join(wanted)} already installed",
                           undo_hint=f"remove with {' '.join(profile.remove_argv)} {' '.join(missing)}"))
    changes += _firewall(answers, ctx)
    changes.append(_certbot(answers, ctx))
    changes.append(WriteFile(HOOK, hook_script(answers, profile), 0o755,
                             summary="certbot's deploy hook: Postfix and Dovecot reload after each renewal"))
    return changes + _schedule(answers, ctx)


def read_back(host: Host, cert: str) -> dict[str, object]:
    """The [tls] ACME answers of a host whose Dovecot uses certbot's live/ certificate of a lineage that
    certbot renews (existing.py: prefilling from a configured host); {} for any other certificate.

    acme_email is not among them: certbot keeps no copy of the account's address on the host (its
    accounts/.../regr.json is written with an empty body, and the renewal configuration names the account,
    not its contact); only the CA has it."""
    m = re.fullmatch(re.escape(LETSENCRYPT) + r"/live/([^/]+)/fullchain\.pem", cert)
    server = lineage_server(host.read_text(renewal_conf(m.group(1))) if m else None)
    return {"tls.acme": True, "tls.acme_server": server} if server else {}


# --- verify ------------------------------------------------------------------------------------

def _issuer_check(answers: Answers, host: Host) -> Check:
    fqdn, server = answers.server.hostname, answers.tls.acme_server
    title = "certificate issued by the ACME CA"
    chain = host.read(acme_paths(fqdn)[0])
    conf_server = lineage_server(host.read_text(renewal_conf(fqdn)) if host.exists(renewal_conf(fqdn)) else None)
    fix = f"mailwizard --resume, or: certbot certonly --standalone --cert-name {fqdn} -d {fqdn} --server {server}"
    if chain is None:
        return Check("acme", title, "fail", f"{acme_paths(fqdn)[0]} does not exist", fix)
    try:
        pems = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", chain, re.S)
        leaf = certs.load_cert(pems[0])
        parent = certs.load_cert(pems[1]) if len(pems) > 1 else None
    except (ValueError, IndexError) as exc:
        return Check("acme", title, "fail", f"{acme_paths(fqdn)[0]}: {exc}", fix)
    issuer = leaf.issuer.rfc4514_string()
    names = certs.cert_names(leaf)
    wrong = []
    if conf_server != server:
        wrong.append(f"certbot renews it from {conf_server or '(no renewal configuration)'}, not {server}")
    if leaf.issuer == leaf.subject:
        wrong.append("it is self-signed")
    elif parent is None or parent.subject != leaf.issuer:
        wrong.append("the chain holds no certificate of its issuer")
    if not any(certs.name_matches(n, fqdn) for n in names):
        wrong.append(f"it names {', '.join(names)}, not {fqdn}")
    if wrong:
        return Check("acme", title, "fail", "; ".join(wrong), fix)
    return Check("acme", title, "pass", f"issuer {issuer}, from {server}, {certs.days_left(pems[0])} days left")


def _served_checks(answers: Answers, host: Host) -> list[Check]:
    """The certificate each TLS port serves is certbot's current one (a renewal not yet reloaded is not)."""
    chain = host.read(acme_paths(answers.server.hostname)[0]) or b""
    m = re.search(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", chain, re.S)
    try:
        want = certs.load_cert(m.group(0)) if m else None
    except ValueError:
        want = None
    if want is None:
        return []
    ports = [993] if answers.protocols.imap else []
    ports.append(25)
    if answers.postfix.mode == "internet-site" and answers.postfix.submission:
        ports.append(587)
    out = []
    for port in ports:
        got = probes.tls("127.0.0.1", port)
        title = f"port {port} serves certbot's current certificate"
        if not got.ok:
            out.append(Check("acme", title, "fail", got.error, "is the service running?"))
            continue
        served = certs.load_cert(got.cert_pem)
        same = served == want
        evidence = f"serial {served.serial_number:x}" + ("" if same else f", certbot's is {want.serial_number:x}")
        out.append(Check("acme", title, "pass" if same else "fail", evidence,
                         "" if same else f"reload the services: {HOOK} (the deploy hook) does it"))
    return out


def _schedule_check(host: Host, profile: Profile) -> Check:
    title = "certificate renewal scheduled"
    if profile.service_manager == "systemd":
        name = timer(profile)
        enabled = host.run(["systemctl", "is-enabled", name]).ok
        active = host.run(["systemctl", "is-active", name]).ok
        good = enabled and active
        return Check("acme", title, "pass" if good else "fail",
                     f"{name}: {'enabled' if enabled else 'disabled'}, {'active' if active else 'inactive'}",
                     "" if good else f"systemctl enable --now {name}")
    entry = next((e for e in (DEBIAN_CRON, OWN_CRON) if host.exists(e)), OWN_CRON)
    text = host.read_text(entry) or ""
    cron = cron_service(profile)
    running_ok = service_running(host, profile, cron)
    if "certbot" not in text or "renew" not in text:
        return Check("acme", title, "fail", f"{entry} holds no `certbot renew` entry", "mailwizard --resume")
    return Check("acme", title, "pass" if running_ok else "fail",
                 f"{entry} runs certbot renew; {cron} {'running' if running_ok else 'not running'}",
                 "" if running_ok else " ".join(profile.service_argv("start", cron)))


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    checks = [_issuer_check(answers, host)]
    checks += _served_checks(answers, host)
    hook, want = host.read(HOOK), hook_script(answers, profile)
    meta = host.stat(HOOK)
    good = hook == want and meta is not None and meta.mode & 0o111 == 0o111
    checks.append(Check("acme", "deploy hook reloads Postfix and Dovecot after renewal", "pass" if good else "fail",
                        HOOK + ("" if good else (" is missing" if hook is None else " differs from the wizard's "
                                                 "or is not executable")),
                        "" if good else "mailwizard --resume"))
    checks.append(_schedule_check(host, profile))
    if not is_installed(host, profile, "certbot"):
        checks.append(Check("acme", "certbot installed", "fail", "certbot is not installed",
                            f"{' '.join(profile.install_argv)} certbot"))
    if managed(answers, profile):
        checks.append(rule_check(host, "acme", "firewall allows http (80) for the ACME challenge",
                                 ["--query-service=http"], True, "firewall-cmd --permanent --add-service=http"))
    return checks


STEP = Step("acme", "ACME certificate", "beyond the guide", plan=plan, verify=verify, validate=validate,
            applies=applies)
