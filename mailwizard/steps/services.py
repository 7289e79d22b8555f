"""Services (guide 1.1.5 step 3, 2.1 step 5): Dovecot and Postfix enabled at boot and running
the configuration just written.

Postfix is reloaded after configuration changes (`systemctl reload postfix`,
or `service postfix reload` where PID 1 is not systemd) and restarted when
`inet_interfaces` changed, which a reload does not put in force. Verify:
each service running and enabled at boot (the fix is the start or enable
command of this host's service manager), and listening on its ports.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailwizard.answers import Answers
from mailwizard.host import Host
from mailwizard.plan import Change, Check, Effects, PlanContext, ServiceState, service_enabled, service_status
from mailwizard.platform import Profile
from mailwizard.steps import Step


@dataclass(eq=False)
class PostfixState(ServiceState):
    """Postfix running its new configuration: reloaded, or restarted for a new inet_interfaces.

    A change that needs the restart names the service "postfix:restart" (see
    postfix_conf.RESTART_KEYS), which the journal keeps pending like a reload,
    so a resumed run still restarts.
    """

    @property
    def restart_marker(self) -> str:
        return f"{self.name}:restart"

    def check(self, ctx: PlanContext) -> str | None:
        restart = self.restart_marker in ctx.dirty or self.restart_marker in ctx.pending_reloads
        if restart:
            ctx.dirty.add(self.name)
        reason = super().check(ctx)
        if restart and "reload" in self.actions:
            self.actions[self.actions.index("reload")] = "restart"
        return reason

    def effects(self, host: Host, work) -> Effects:
        return super().effects(host, work) | Effects(settles=[self.restart_marker])


def expected_ports(answers: Answers) -> dict[int, str]:
    p = answers.protocols
    ports = {}
    if p.imap:
        ports.update({143: "IMAP", 993: "IMAPS"})
    if p.pop3:
        ports.update({110: "POP3", 995: "POP3S"})
    return ports


def postfix_ports(answers: Answers, profile: Profile) -> dict[int, str]:
    p = answers.postfix
    ports = {25: "SMTP"}
    if p.mode == "internet-site" and p.submission:
        ports[587] = "submission"
        if p.smtps:
            ports[465] = "submissions"
    return ports


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    changes: list[Change] = []
    if answers.dovecot_enabled:
        changes.append(ServiceState("dovecot", ctx.profile))
    changes.append(PostfixState("postfix", ctx.profile))
    return changes


def state_checks(host: Host, profile: Profile, name: str) -> list[Check]:
    """The service runs now and starts at boot, each with the command that mends it."""
    running, said = service_status(host, profile, name)
    enabled = service_enabled(host, profile, name)
    return [Check("services", f"{name} running", "pass" if running else "fail", said,
                  "" if running else " ".join(profile.service_argv("start", name))),
            Check("services", f"{name} enabled at boot", "pass" if enabled else "fail",
                  "enabled" if enabled else "not enabled: it will not start after a reboot",
                  "" if enabled else " ".join(profile.service_argv("enable", name)))]


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    checks = verify_postfix(answers, host, profile)
    if not answers.dovecot_enabled:
        return checks
    checks += state_checks(host, profile, "dovecot")
    listening = host.listening()
    for port, label in expected_ports(answers).items():
        owner = listening.get(port)
        ok = owner is not None and owner.startswith("dovecot")
        checks.append(Check("services", f"{label} listening on {port}", "pass" if ok else "fail",
                            f"held by {owner}" if owner else "nothing listens",
                            "" if ok else "see `doveconf -n` and Dovecot's log"))
    return checks


def verify_postfix(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    checks = state_checks(host, profile, "postfix")
    listening = host.listening()
    for port, label in postfix_ports(answers, profile).items():
        owner = listening.get(port)
        ok = owner is not None and owner in ("master", "smtpd")
        checks.append(Check("services", f"Postfix {label} listening on {port}", "pass" if ok else "fail",
                            f"held by {owner}" if owner else "nothing listens",
                            "" if ok else "see `postconf -M` and Postfix's log"))
    return checks


STEP = Step("services", "Services", "1.1.5, 2.1", plan=plan, verify=verify)
