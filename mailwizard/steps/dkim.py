"""DKIM signing (beyond the guide): OpenDKIM signs the mail this host sends, as a Postfix milter.

Large receivers junk or refuse unsigned mail. With `[dkim] enabled`:

- the packages `opendkim` and `opendkim-tools`: Debian's own; on RHEL they
  come from EPEL, which the plan enables first as a change of its own
  (`dnf install epel-release` on Alma, Rocky and CentOS Stream, whose extras
  ship it; EPEL's release RPM by its URL on RHEL itself);
- a 2048-bit key per selector, made by `opendkim-genkey -b 2048` into the
  package's key directory (Debian `/etc/dkimkeys`, EPEL `/etc/opendkim/keys`),
  then `chown opendkim:opendkim` and `chmod 600`: readable by the milter's
  user only. Keys are made once: a re-run keeps them;
- `/etc/opendkim.conf`, edited in place (the one setting replaced, or the
  commented example uncommented, as an administrator would): `Mode sv`,
  `Socket inet:8891@127.0.0.1` (TCP on loopback: Debian's Postfix runs
  chrooted and would not see OpenDKIM's unix socket under /run), `Domain`
  (`[dkim] domains`, else the server's domain), `Selector` and `KeyFile`;
- Postfix: `smtpd_milters = inet:127.0.0.1:8891`, `non_smtpd_milters =
  $smtpd_milters` (mail from sendmail too), `milter_default_action = accept`
  (mail still flows, unsigned, while OpenDKIM is down: the report says so);
- OpenDKIM enabled and started (restarted when its configuration changes).

Turned off again after a run turned it on, a re-run puts Postfix's milter
settings back as main.cf had them before the wizard (removed, where it had
none), then stops OpenDKIM and no longer starts it at boot (`systemctl disable
--now opendkim`; `service opendkim stop` and `update-rc.d opendkim disable`
without systemd). The keys stay in the key directory, and opendkim.conf as it
is: a private key is never deleted by a re-run (the Review says where they
are), and DKIM on again signs with them. The DNS records are no longer in the
report.

OpenDKIM signs what comes from its internal hosts (loopback) and from
clients that logged in (submission); it verifies the rest.

Key rotation by a second selector: `[dkim] next_selector` makes a second key
now and lists its TXT record with the others, while the first key goes on
signing. Once DNS has the new record, make it `selector` (and the old one
`next_selector` until mail signed with it is delivered, or drop it): OpenDKIM
then signs with the new key. Rollback removes the keys the wizard made.

The records (`SELECTOR._domainkey.DOMAIN TXT "v=DKIM1; k=rsa; p=..."`, split
into strings of at most 255 characters for the zone) are in the report's DNS
records; verify compares what DNS publishes with the key (or says it cannot
ask DNS).
"""

from __future__ import annotations

import base64
import re
import socket
from dataclasses import dataclass

from mailwizard.answers import Answers
from mailwizard.dns_records import DnsUnavailable, Record
from mailwizard.host import Host, readable_text
from mailwizard.plan import (
    Change,
    Check,
    Command,
    FileAttrs,
    PlanContext,
    ServiceOff,
    ServiceState,
    WriteFile,
    service_enabled,
    service_running,
)
from mailwizard.platform import Profile
from mailwizard.postfix_conf import Postconf, main_before, main_now, main_values, settings_as_before, settings_check
from mailwizard.readback import words
from mailwizard.steps import Step, not_checkable

CONF = "/etc/opendkim.conf"
PORT = 8891
SOCKET = f"inet:{PORT}@127.0.0.1"
MILTER = f"inet:127.0.0.1:{PORT}"
USER = "opendkim"
PACKAGES = ("opendkim", "opendkim-tools")
BITS = 2048
EPEL_URL = "https://dl.fedoraproject.org/pub/epel/epel-release-latest-{major}.noarch.rpm"


def applies(answers: Answers) -> bool:
    """Always: off, the step takes Postfix's milter settings out and stops OpenDKIM if a run set them up
    (on a host it never touched it plans nothing)."""
    return True


def undo(ctx: PlanContext) -> list[Change]:
    """DKIM turned off after a run turned it on: Postfix no longer passes mail to OpenDKIM (its milter
    settings back to what main.cf had before the wizard, or removed), then OpenDKIM stopped and no longer
    started at boot. The keys and opendkim.conf are kept, for the day it is on again."""
    changes: list[Change] = []
    main = main_now(ctx)
    if MILTER in words(main.get("smtpd_milters", "")):
        changes.append(milters_off(ctx, main))
    if changes or CONF in ctx.own_files:  # the wizard set OpenDKIM up (a run stopped half-way included)
        changes.append(ServiceOff("opendkim", ctx.profile,
                                  summary=f"DKIM signing is off ([dkim] enabled = false); its keys stay in "
                                          f"{key_dir(ctx.profile)} (never deleted: [dkim] on again signs with "
                                          "them)"))
    return changes


def key_dir(profile: Profile) -> str:
    """The directory the package ships for its keys, readable by its user alone."""
    return "/etc/dkimkeys" if profile.family == "debian" else "/etc/opendkim/keys"


def key_path(profile: Profile, selector: str) -> str:
    return f"{key_dir(profile)}/{selector}.private"


def selectors(answers: Answers) -> list[str]:
    """The selector that signs, then the next one (key rotation), if any."""
    d = answers.dkim
    return [d.selector] + ([d.next_selector] if d.next_selector else [])


def conf_settings(answers: Answers, profile: Profile) -> list[tuple[str, str]]:
    return [("Mode", "sv"), ("Socket", SOCKET), ("Domain", ",".join(answers.dkim_domains())),
            ("Selector", answers.dkim.selector), ("KeyFile", key_path(profile, answers.dkim.selector))]


def milter_settings(main: dict[str, str]) -> list[tuple[str, str]]:
    """What main.cf must say for mail to pass OpenDKIM, given what it says (`main`): its milter added after
    those main.cf already passes mail to (a spam or virus filter, kept in its order: OpenDKIM signs what
    they let through), for mail from sendmail too ($smtpd_milters, or added to its own list); accepted
    unsigned while a milter is down, unless main.cf chose otherwise. A value holding it already is kept
    as it is written."""
    def added(value: str) -> str:
        return value if MILTER in words(value) else ", ".join([*words(value), MILTER])

    settings = [("smtpd_milters", added(main.get("smtpd_milters", "")))]
    own = main.get("non_smtpd_milters", "")
    settings.append(("non_smtpd_milters", "$smtpd_milters" if not own.strip() or own.strip() == "$smtpd_milters"
                     else added(own)))
    if not main.get("milter_default_action"):
        settings.append(("milter_default_action", "accept"))
    return settings


MILTER_KEYS = ("smtpd_milters", "non_smtpd_milters", "milter_default_action")


def other_milters(main: dict[str, str]) -> list[str]:
    """The milters main.cf passes mail to besides OpenDKIM's."""
    return [w for w in words(main.get("smtpd_milters", "")) if w != MILTER]


def milters_off(ctx: PlanContext, main: dict[str, str]) -> Postconf:
    """OpenDKIM's milter taken out of main.cf: the other milters stay as they are; with none left, the three
    settings go back as main.cf had them before the wizard (removed where it had none)."""
    summary = "main.cf: mail no longer passes OpenDKIM ([dkim] enabled = false)"
    others = other_milters(main)
    if not others:
        # an OpenDKIM milter of before the wizard is taken out too: OpenDKIM is stopped
        return settings_as_before(ctx, list(MILTER_KEYS), summary + "; " + ", ".join(MILTER_KEYS),
                                  lambda before: MILTER in words(before.get("smtpd_milters", "")) and not [
                                      w for w in words(before.get("smtpd_milters", "")) if w != MILTER])
    before = main_before(ctx)
    settings, remove = [("smtpd_milters", ", ".join(others))], []
    own = main.get("non_smtpd_milters", "")
    if MILTER in words(own):
        rest = [w for w in words(own) if w != MILTER]
        settings += [("non_smtpd_milters", ", ".join(rest))] if rest else []
        remove += [] if rest else ["non_smtpd_milters"]
    elif own.strip() == "$smtpd_milters" and "non_smtpd_milters" not in before:
        remove.append("non_smtpd_milters")  # the wizard's: sendmail's mail passed no milter before
    if "milter_default_action" in before:
        settings.append(("milter_default_action", before["milter_default_action"]))
    elif main.get("milter_default_action"):
        remove.append("milter_default_action")
    return Postconf(settings, remove=remove, summary=f"{summary}: {', '.join(others)} kept")


def _setting_re(key: str, commented: bool) -> re.Pattern:
    return re.compile(rf"^{'#' if commented else ''}[ \t]*{re.escape(key)}(?:[ \t]+(.*?))?[ \t]*$", re.I)


def conf_values(text: str) -> dict[str, str]:
    """opendkim.conf's active settings (keys as written, the first of each)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^[ \t]*([A-Za-z][A-Za-z0-9]*)(?:[ \t]+(.*?))?[ \t]*$", line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2) or ""
    return out


def read_back(host: Host, postconf: dict[str, str]) -> dict[str, object]:
    """The [dkim] answers of a configured host (existing.py), from `postconf -n`: on where Postfix's milters
    name OpenDKIM's, then its selector and domains from opendkim.conf (the server's own domain alone is the
    default, none given: read so, a re-run plans the same)."""
    if MILTER not in words(postconf.get("smtpd_milters", "")):
        return {}
    conf = conf_values(readable_text(host, CONF) or "")
    out: dict[str, object] = {"dkim.enabled": True}
    if conf.get("Selector"):
        out["dkim.selector"] = conf["Selector"]
    own = postconf.get("mydomain") or postconf.get("myhostname", "").partition(".")[2]
    if conf.get("Domain") and words(conf["Domain"]) != [own.lower()]:
        out["dkim.domains"] = words(conf["Domain"])
    return out


def edit_conf(text: str, settings: list[tuple[str, str]]) -> str:
    """Each setting put in place: its active line replaced, else its commented example, else added at the end."""
    lines = text.splitlines(keepends=True)
    added: list[str] = []
    for key, value in settings:
        wanted = f"{key}\t\t\t{value}\n"
        for commented in (False, True):
            at = next((i for i, line in enumerate(lines) if _setting_re(key, commented).match(line.rstrip("\n"))),
                      None)
            if at is not None:
                active = None if commented else _setting_re(key, False).match(lines[at].rstrip("\n"))
                if active is None or (active.group(1) or "") != value:
                    lines[at] = wanted
                break
        else:
            added.append(wanted)
    out = "".join(lines)
    if added:
        if out and not out.endswith("\n"):
            out += "\n"
        out += "\n# DKIM signing (mailwizard)\n" + "".join(added)
    return out


def _os_id(ctx: PlanContext) -> str:
    text = ctx.read_text("/etc/os-release") or ""
    m = re.search(r'^ID="?([A-Za-z0-9._-]+)"?\s*$', text, re.M)
    return m.group(1).lower() if m else ""


def epel(ctx: PlanContext) -> list[Change]:
    """RHEL's OpenDKIM is in EPEL: enabling it is a change of its own, shown on the Review."""
    from mailwizard.steps.install import installed

    profile = ctx.profile
    if profile.family != "rhel":
        return []
    major = re.sub(r"[^0-9]", "", profile.name) or "9"
    if _os_id(ctx) == "rhel":  # Red Hat's own repositories do not carry epel-release
        argv, where = ["dnf", "install", "-y", EPEL_URL.format(major=major)], "Fedora's EPEL release RPM"
    else:
        argv, where = ["dnf", "install", "-y", "epel-release"], "the distribution's extras repository"
    done = installed(ctx, "epel-release")
    return [Command(argv=argv, summary=f"enable EPEL (Extra Packages for Enterprise Linux {major}) from {where}: "
                                       "OpenDKIM is packaged there, not in RHEL",
                    noop_reason="EPEL is enabled (epel-release is installed)" if done else None,
                    undo=[["dnf", "remove", "-y", "epel-release"]])]


def install(ctx: PlanContext) -> Command:
    from mailwizard.steps.install import installed

    profile = ctx.profile
    missing = [p for p in PACKAGES if not installed(ctx, p)]
    origin = " from EPEL" if profile.family == "rhel" else ""
    return Command(argv=[*profile.install_argv, *(missing or PACKAGES)],
                   summary=f"install {', '.join(missing or PACKAGES)}{origin} (the DKIM signing milter and "
                           "opendkim-genkey)",
                   env=dict(profile.install_env),
                   noop_reason=None if missing else f"{', '.join(PACKAGES)} already installed",
                   undo_hint=f"remove with {' '.join(profile.remove_argv)} {' '.join(missing)}")


def conf_change(answers: Answers, ctx: PlanContext) -> WriteFile:
    settings = conf_settings(answers, ctx.profile)
    current = ctx.read(CONF)
    if current is None:  # the package is still to be installed: its file, as this platform ships it
        fresh = ctx.profile.fresh_root() / CONF.lstrip("/")
        if fresh.is_file():
            ctx.stage(CONF, fresh.read_bytes(), None)
        ctx.predicted.add(CONF)
        current = ctx.read(CONF)
    text = (current or b"").decode("utf-8", "surrogateescape")

    def transform(data: bytes) -> bytes:
        return edit_conf(data.decode("utf-8", "surrogateescape"), settings).encode("utf-8", "surrogateescape")

    return WriteFile(CONF, transform(text.encode("utf-8", "surrogateescape")), 0o644, service="opendkim",
                     transform=transform,
                     summary="sign for " + ", ".join(answers.dkim_domains()) +
                             f" with selector {answers.dkim.selector}; the milter on {SOCKET}")


def key_changes(answers: Answers, ctx: PlanContext) -> list[Change]:
    profile = ctx.profile
    out: list[Change] = []
    for selector in selectors(answers):
        key = key_path(profile, selector)
        role = "signs" if selector == answers.dkim.selector else \
            "the next key (rotation): publish its record now, sign with it later"
        out.append(Command(
            argv=["opendkim-genkey", "-b", str(BITS), "-D", key_dir(profile), "-d", answers.dkim_domains()[0],
                  "-s", selector],
            summary=f"make the {BITS}-bit DKIM key of selector {selector} ({key}; {role})",
            noop_reason=f"{key} exists: the key is kept (a new key needs a new selector)" if ctx.exists(key)
            else None,
            creates=[key, f"{key_dir(profile)}/{selector}.txt"]))
        out.append(FileAttrs(key, 0o600, USER, USER, service="opendkim"))
    return out


@dataclass(eq=False)
class DkimState(ServiceState):
    """OpenDKIM running its configuration: restarted (not reloaded) after a change, so a new key signs."""

    def check(self, ctx: PlanContext) -> str | None:
        reason = super().check(ctx)
        if "reload" in self.actions:
            self.actions[self.actions.index("reload")] = "restart"
        return reason


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dkim.enabled:
        return undo(ctx)
    changes: list[Change] = [*epel(ctx), install(ctx), conf_change(answers, ctx), *key_changes(answers, ctx),
                             DkimState("opendkim", ctx.profile)]
    main = main_now(ctx)
    others = other_milters(main)
    changes.append(Postconf(milter_settings(main), summary=f"main.cf: mail passes OpenDKIM ({MILTER}) to be signed"
                            + (f", after {', '.join(others)} (kept)" if others else "")
                            + ("; accepted unsigned while it is down" if not main.get("milter_default_action")
                               else f"; milter_default_action = {main['milter_default_action']} kept")))
    return changes


# --- the records and the checks ---------------------------------------------------------------------

def public_value(key_pem: bytes) -> str | None:
    """The DKIM TXT value for a private key (its public half, base64 DER), or None if it is no RSA key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(key_pem, None)
    except (ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def _key_value(host: Host, path: str) -> str | None:
    try:
        data = host.read(path)
    except OSError:  # not root (a dry run): the key cannot be read
        return None
    return public_value(data) if data else None


def records(answers: Answers, host: Host, profile: Profile) -> list[Record]:
    """A TXT record per domain and selector whose key exists (a key still to be made has none yet)."""
    if not answers.dkim.enabled:
        return []
    out = []
    for selector in selectors(answers):
        value = _key_value(host, key_path(profile, selector))
        if value is None:
            continue
        why = ("DKIM: the public key of the selector that signs" if selector == answers.dkim.selector else
               "DKIM: the next key (rotation): publish it now, sign with it once DNS has it")
        out += [Record(f"{selector}._domainkey.{domain}", "TXT", value, why) for domain in answers.dkim_domains()]
    return out


def missing_keys_note(answers: Answers, host: Host, profile: Profile) -> str:
    """Zone-snippet lines for selectors whose key is not there (yet) to read."""
    if not answers.dkim.enabled:
        return ""
    lines = [f"; DKIM: {selector}._domainkey: the key {key_path(profile, selector)} is made on apply "
             "(or cannot be read here): run `mailwizard verify` as root for its record\n"
             for selector in selectors(answers) if _key_value(host, key_path(profile, selector)) is None]
    return "".join(lines)


def _p(value: str) -> str:
    tags = dict(part.strip().partition("=")[::2] for part in value.split(";") if "=" in part)
    return re.sub(r"\s+", "", tags.get("p", ""))


def published_checks(answers: Answers, host: Host, profile: Profile, resolve) -> list[Check]:
    from mailwizard import dns_records

    want = records(answers, host, profile)
    if not want:
        return []
    if resolve is None:
        if not host.can_probe_network:
            return [not_checkable("dkim", "DKIM records published")]
        try:
            resolve = dns_records.resolver()
        except DnsUnavailable as exc:
            return [Check("dkim", "DKIM records published", "warn", f"not checkable: {exc}",
                          "publish the records of the report's DNS records; run `mailwizard verify` once the host "
                          "can reach a DNS server")]
    out: list[Check] = []
    for r in want:
        try:
            got = [v for v in resolve(r.name, "TXT") if "p=" in v]
        except DnsUnavailable as exc:
            return out + [Check("dkim", "DKIM records published", "warn", f"not checkable: {exc}",
                                "run `mailwizard verify` once the host can reach a DNS server")]
        title = f"DKIM record {r.name} matches the key"
        if any(_p(v) == _p(r.value) for v in got):
            out.append(Check("dkim", title, "pass", "published: the public key of " + r.name.split(".")[0]))
        elif got:
            out.append(Check("dkim", title, "fail", "published with another key: receivers would fail every "
                             "signature", f"publish {r.name}. IN TXT with the value of the report's DNS records"))
        else:
            out.append(Check("dkim", title, "warn", "not published yet",
                             f"publish {r.name}. IN TXT (the report's DNS records)"))
    return out


def verify(answers: Answers, host: Host, profile: Profile, resolve=None) -> list[Check]:
    if not answers.dkim.enabled:
        return []
    checks: list[Check] = []
    running = service_running(host, profile, "opendkim")
    listening = False
    if host.can_probe_network:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
            listening = True
        except OSError:
            listening = False
    up = running and (listening or not host.can_probe_network)  # a simulated host's daemons listen nowhere
    checks.append(Check("dkim", f"OpenDKIM runs and listens on {SOCKET}", "pass" if up else "fail",
                        "running" if up else ("not running" if not running else f"nothing listens on {MILTER}"),
                        "" if up else " ".join(profile.service_argv("start", "opendkim")) +
                        "; its log says why it stopped"))
    enabled = service_enabled(host, profile, "opendkim")
    checks.append(Check("dkim", "OpenDKIM starts at boot", "pass" if enabled else "fail",
                        "enabled" if enabled else "not enabled",
                        "" if enabled else " ".join(profile.service_argv("enable", "opendkim"))))
    uid = host.uid(USER)
    for selector in selectors(answers):
        path = key_path(profile, selector)
        meta = host.stat(path)
        ok = meta is not None and uid is not None and meta.uid == uid and not meta.mode & 0o077
        evidence = "missing" if meta is None else f"{meta.mode:04o} uid {meta.uid}"
        checks.append(Check("dkim", f"key {path} readable by {USER} only", "pass" if ok else "fail", evidence,
                            "" if ok else f"chown {USER}:{USER} {path}; chmod 600 {path}"))
    conf = conf_values(host.read_text(CONF) or "")
    wrong = [(k, v) for k, v in conf_settings(answers, profile) if conf.get(k) != v]
    checks.append(Check("dkim", f"{CONF} signs with selector {answers.dkim.selector}",
                        "fail" if wrong else "pass",
                        "; ".join(f"{k} = {conf.get(k, '(missing)')}" for k, _ in wrong) or
                        "Domain " + ", ".join(answers.dkim_domains()),
                        "run mailwizard again" if wrong else ""))
    main = main_values(host.read_text(f"{profile.postfix_dir}/main.cf") or "")
    checks.append(settings_check(host, "dkim", "postconf passes mail through OpenDKIM", milter_settings(main)))
    return checks + published_checks(answers, host, profile, resolve)


STEP = Step("dkim", "DKIM signing", "beyond the guide", plan=plan, verify=verify, applies=applies)
