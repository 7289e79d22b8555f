"""Services (guide 1.1.5 step 3): Dovecot enabled at boot and running the configuration just written."""

from __future__ import annotations

from mailwizard.answers import Answers
from mailwizard.host import Host
from mailwizard.plan import Check, PlanContext, ServiceState
from mailwizard.platform import Profile
from mailwizard.steps import Step


def expected_ports(answers: Answers) -> dict[int, str]:
    p = answers.protocols
    ports = {}
    if p.imap:
        ports.update({143: "IMAP", 993: "IMAPS"})
    if p.pop3:
        ports.update({110: "POP3", 995: "POP3S"})
    return ports


def plan(answers: Answers, ctx: PlanContext) -> list[ServiceState]:
    if not answers.dovecot_enabled:
        return []
    return [ServiceState("dovecot", ctx.profile)]


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled:
        return []
    checks = []
    running = host.run(profile.service_argv("status", "dovecot"))
    checks.append(Check("services", "dovecot running", "pass" if running.ok else "fail",
                        running.output.strip()[-200:], "" if running.ok else
                        " ".join(profile.service_argv("start", "dovecot"))))
    listening = host.listening()
    for port, label in expected_ports(answers).items():
        owner = listening.get(port)
        ok = owner is not None and owner.startswith("dovecot")
        checks.append(Check("services", f"{label} listening on {port}", "pass" if ok else "fail",
                            f"held by {owner}" if owner else "nothing listens",
                            "" if ok else "see `doveconf -n` and Dovecot's log"))
    return checks


STEP = Step("services", "Services", "1.1.5", plan=plan, verify=verify, applies=lambda a: a.dovecot_enabled)
