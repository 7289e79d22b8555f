"""Securing Postfix: limits against denial of service (guide 2.9.2) and hardening notes (2.9.1).

Limits: the [postfix.limits] the administrator set, written with postconf -e
(Postfix's defaults, LIMIT_DEFAULTS in answers.py, are shown on the screen
and not written); validated in answers.py (`queue_minfree` at least 1.5 ×
`message_size_limit`, `message_size_limit` within `mailbox_size_limit`).

Hardening notes change nothing: verify warns when the mail spool is on NFS
and lists the accounts with a login shell, which the guide asks to set to
/sbin/nologin; only the administrator can know which of them must stay.
"""

from __future__ import annotations

from mailwizard.answers import LIMIT_DEFAULTS, Answers
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.postfix_conf import Postconf, settings_check
from mailwizard.steps import Step

SPOOL = "/var/spool/postfix"
NO_LOGIN = {"nologin", "false", "sync", "shutdown", "halt"}


def limit_settings(answers: Answers) -> list[tuple[str, str]]:
    # in LIMIT_DEFAULTS' order, not the answers file's: the journal's saved answers (to_toml) use that order,
    # and each new key is appended in plan order, so a resumed run must plan them in the same order
    limits = answers.postfix.limits
    return [(k, str(limits[k])) for k in LIMIT_DEFAULTS if k in limits]


def plan_limits(answers: Answers, ctx: PlanContext) -> list[Change]:
    settings = limit_settings(answers)
    if not settings:
        return []
    return [Postconf(settings, summary="main.cf (2.9.2): limits against denial of service: "
                     + ", ".join(f"{k} = {v}" for k, v in settings))]


def verify_limits(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    return [settings_check(host, "postfix_limits", "postconf shows the limits", limit_settings(answers))]


def spool_filesystem(host: Host, path: str = SPOOL) -> str:
    """The type of the file system holding `path` (from /proc/mounts; "" when unknown)."""
    best, kind = "", ""
    for line in (host.read_text("/proc/mounts") or "").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
            best, kind = mount, fields[2]
    return kind


def login_accounts(host: Host) -> list[str]:
    """Accounts other than root whose shell lets them log in."""
    out = []
    for line in (host.read_text("/etc/passwd") or "").splitlines():
        fields = line.split(":")
        if len(fields) < 7 or fields[0] == "root" or line.startswith("#"):
            continue
        shell = fields[6].strip()
        if shell and shell.rsplit("/", 1)[-1] not in NO_LOGIN:
            out.append(f"{fields[0]} ({shell})")
    return out


def verify_hardening(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    kind = spool_filesystem(host)
    nfs = kind.startswith("nfs")
    checks = [Check("postfix_hardening", f"{SPOOL} is not on NFS", "warn" if nfs else "pass",
                    f"file system: {kind or 'unknown'}",
                    "move the mail spool to a local file system (guide 2.9.1)" if nfs else "")]
    accounts = login_accounts(host)
    checks.append(Check("postfix_hardening", "accounts with a login shell", "warn" if accounts else "pass",
                        ", ".join(accounts)[:500] or "none besides root",
                        "set the shells of mail-only users to /sbin/nologin (usermod -s /sbin/nologin USER)"
                        if accounts else ""))
    return checks


LIMITS = Step("postfix_limits", "Limits", "2.9.2", plan=plan_limits, verify=verify_limits,
              applies=lambda a: bool(a.postfix.limits))
HARDENING = Step("postfix_hardening", "Hardening notes", "2.9.1", verify=verify_hardening)
