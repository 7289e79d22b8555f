"""Preflight (guide 2.1 step 1 and the prerequisites): can this host become the mail server?

Checks the platform and Dovecot version, that the host name is the FQDN the
answers name, that the mail ports are free (or held by Postfix/Dovecot), disk
space, and an existing hand-made configuration. Plans the removal of sendmail.
When planning for another platform (offline), what can only be checked on
the target becomes a warning.
"""

from __future__ import annotations

from mailwizard.answers import Answers, Problem
from mailwizard.plan import Command, PlanContext, sha
from mailwizard.platform import check_dovecot_version
from mailwizard.steps import Step
from mailwizard.steps.install import installed

MAIL_PORTS = {25: "SMTP", 110: "POP3", 143: "IMAP", 993: "IMAPS", 995: "POP3S"}
OWNERS = {"master", "smtpd", "postfix", "dovecot", "imap-login", "pop3-login"}
MIN_FREE = 200 * 2**20
WARN_FREE = 2 * 2**30


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    host, profile = ctx.host, ctx.profile
    problems: list[Problem] = []
    target_only = "warning" if ctx.offline else "error"
    if answers.dovecot_enabled and host.which("dovecot") and not ctx.offline:
        result = host.run(["dovecot", "--version"])
        if result.ok and (msg := check_dovecot_version(result.output)):
            problems.append(Problem("platform", msg))
    fqdn = host.fqdn()
    if ctx.offline:
        problems.append(Problem("server.hostname", f"planning for {profile.name} on another machine: "
                                "the host name, ports and certificate files are checked on the target",
                                "warning"))
    elif fqdn != answers.server.hostname and answers.server.hostname:
        problems.append(Problem(
            "server.hostname",
            f"this host calls itself {fqdn or '(no name)'}, not {answers.server.hostname}: "
            f"set it first with `hostnamectl set-hostname {answers.server.hostname}` "
            "(and its address in /etc/hosts or DNS), or correct the answer",
            "warning" if ctx.dry_run else target_only))
    if not ctx.offline:
        listening = host.listening()
        for port, label in MAIL_PORTS.items():
            owner = listening.get(port)
            if owner and owner not in OWNERS:
                problems.append(Problem("ports", f"port {port} ({label}) is held by {owner}; "
                                        f"stop it before installing a mail server"))
        free = host.free_bytes("/var")
        if free < MIN_FREE:
            problems.append(Problem("disk", f"only {free // 2**20} MiB free under /var; "
                                    "mail needs room: free at least 200 MiB"))
        elif free < WARN_FREE:
            problems.append(Problem("disk", f"only {free // 2**20} MiB free under /var", "warning"))
        existing = existing_configuration(ctx)
        if existing:
            problems.append(Problem("existing", f"a configuration made by hand exists ({existing}); "
                                    "the review shows exactly what would change in it", "warning"))
    return problems


def existing_configuration(ctx: PlanContext) -> str:
    """A short description of hand-made Postfix/Dovecot configuration, or ''.

    A file as the wizard wrote it (its journal knows: an earlier or interrupted run) is not hand-made."""
    found = []
    fresh = ctx.profile.fresh_root()
    for rel in ("etc/dovecot/conf.d/10-ssl.conf", "etc/dovecot/conf.d/10-auth.conf",
                "etc/dovecot/conf.d/10-mail.conf", "etc/dovecot/dovecot.conf", "etc/postfix/main.cf"):
        current = ctx.host.read("/" + rel)
        shipped = fresh / rel
        if current is not None and shipped.exists() and current != shipped.read_bytes():
            own = ctx.own_files.get("/" + rel, set())
            if own is None or sha(current) in own:
                continue
            found.append("/" + rel)
    return ", ".join(found)


def plan(answers: Answers, ctx: PlanContext) -> list[Command]:
    if not installed(ctx, "sendmail"):
        return [Command(argv=[*ctx.profile.remove_argv, "sendmail"], summary="remove sendmail",
                        noop_reason="sendmail is not installed")]
    return [Command(argv=[*ctx.profile.remove_argv, "sendmail"], env=dict(ctx.profile.install_env),
                    summary="remove sendmail, which would compete with Postfix for port 25",
                    undo_hint="reinstall sendmail by hand if you need it")]


STEP = Step("preflight", "Preflight", "2.1", plan=plan, validate=validate)
