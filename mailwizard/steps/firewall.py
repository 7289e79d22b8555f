"""Firewall (guide 1.1.5 step 2, 1.7 step 3): firewalld services for the enabled protocols.

`firewall-cmd --permanent --add-service=imaps --add-service=imap
--add-service=pop3s --add-service=pop3` (only the missing ones of the enabled
protocols), `--remove-service` for those of a disabled protocol, then
`firewall-cmd --reload`. The guide's removal in 1.7 omits `--permanent`, which
the reload would undo; here both are permanent. On a host without firewalld
(Debian's default) or with `[firewall] manage = false`, nothing is planned and
the review says so, with the ports to open by hand.

Verify: firewalld runs, and every service (and a ManageSieve port other than
4190) is as planned both in the permanent configuration and in the running
firewall; `rule_check` does the same for the rich rules of lmtp.admit_checks
and Postfix's services. A permanent rule never loaded fails with
`firewall-cmd --reload` as its fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailwizard.answers import Answers, Problem
from mailwizard.host import Host
from mailwizard.plan import Change, Check, Command, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step

SERVICES = {"imap": ("imaps", "imap"), "pop3": ("pop3s", "pop3"), "sieve": ("managesieve",)}
PORTS = {"imaps": 993, "imap": 143, "pop3s": 995, "pop3": 110, "managesieve": 4190}


# what firewall-cmd says to a user polkit does not let ask (no "running" or "not running" then)
NOT_AUTHORIZED = ("NotAuthorizedException", "Authorization failed")


def managed(answers: Answers, profile: Profile) -> bool:
    return profile.firewall == "firewalld" and answers.firewall_manage


def query(ctx: PlanContext, args: list[str]) -> bool:
    """A read-only `firewall-cmd` query (exit 0: yes), asked once per plan."""
    argv = ["firewall-cmd", *args]
    return ctx.fact("firewall-cmd " + " ".join(args), lambda: ctx.host.run(argv).ok)


def reload_change(changes: list[Command]) -> Command:
    """`firewall-cmd --reload`, planned only when a permanent change before it is."""
    pending = [c for c in changes if c.noop_reason is None]
    return Command(argv=["firewall-cmd", "--reload"],
                   summary="load the permanent firewall rules into the running firewall",
                   noop_reason=None if pending else "no firewall rule changed",
                   reversible=True)  # nothing to undo: rollback reloads after undoing the permanent rules


@dataclass(eq=False)
class Skipped(Change):
    """Something the guide does that this host does not need: shown in the review, never applied."""

    name: str
    summary: str
    reason: str

    kind = "skipped"

    def key(self) -> str:
        return f"skipped:{self.name}"

    def describe(self) -> str:
        return self.summary

    def check(self, ctx: PlanContext) -> str | None:
        return self.reason

    def perform(self, host: Host, effects, work) -> None:
        """Never called: the change is always a no-op."""


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    if not answers.dovecot_enabled or not managed(answers, ctx.profile) or ctx.offline:
        return []
    state = ctx.fact("firewall-cmd --state", lambda: ctx.host.run(["firewall-cmd", "--state"]))
    if state.ok:
        return []
    if any(refusal in state.output for refusal in NOT_AUTHORIZED):   # a dry run by a user other than root
        return [Problem("firewall.manage", "firewalld does not answer this user (polkit lets only root ask it): "
                        "the plan shows every mail service as still to open; run it with sudo to plan against "
                        "this host's firewall", "warning")]
    return [Problem("firewall.manage", f"firewalld is not running ({state.output.strip() or 'no answer'}): "
                    "start it with `systemctl enable --now firewalld`, or set [firewall] manage = false "
                    "and open the ports yourself")]


def wanted(answers: Answers) -> tuple[list[str], list[str]]:
    """(services to open, services to close) for the protocols."""
    opened: list[str] = []
    closed: list[str] = []
    for proto, services in SERVICES.items():
        (opened if getattr(answers.protocols, proto) else closed).extend(services)
    return opened, closed


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled:
        return []
    opened, closed = wanted(answers)
    ports = ", ".join(str(PORTS[s]) for s in opened)
    summary = f"open the mail services in the firewall: {' '.join(opened)}"
    if ctx.profile.firewall != "firewalld":
        return [Skipped("firewall", summary, f"{ctx.profile.label} has no firewalld: nothing to open; if this "
                        f"host runs another firewall (nftables, ufw), allow TCP {ports} there")]
    if not answers.firewall_manage:
        return [Skipped("firewall", summary, "[firewall] manage = false: the wizard leaves the firewall alone; "
                        f"allow TCP {ports} yourself")]
    missing = [s for s in opened if not query(ctx, ["--permanent", f"--query-service={s}"])]
    present = [s for s in closed if query(ctx, ["--permanent", f"--query-service={s}"])]
    changes = [Command(
        argv=["firewall-cmd", "--permanent", *[f"--add-service={s}" for s in missing or opened]],
        summary=summary,
        noop_reason=None if missing else f"the firewall already allows {' '.join(opened)}",
        undo=[["firewall-cmd", "--permanent", *[f"--remove-service={s}" for s in missing]]] if missing else [])]
    if closed:
        changes.append(Command(
            argv=["firewall-cmd", "--permanent", *[f"--remove-service={s}" for s in present or closed]],
            summary=f"close the services of the disabled protocols: {' '.join(closed)}",
            noop_reason=None if present else f"the firewall does not allow {' '.join(closed)}",
            undo=[["firewall-cmd", "--permanent", *[f"--add-service={s}" for s in present]]] if present else []))
    return [*changes, reload_change(changes)]


def _state(host: Host, args: list[str]) -> tuple[bool, bool]:
    """(in the permanent configuration, in the running firewall) for one `--query-...` argument."""
    return (host.run(["firewall-cmd", "--permanent", *args]).ok, host.run(["firewall-cmd", *args]).ok)


def rule_check(host: Host, step: str, title: str, args: list[str], want: bool, fix: str) -> Check:
    """An allowance as planned both in the permanent configuration and in the running firewall.

    `args` is the `--query-...` argument (with its zone); `fix` the permanent command that mends it.
    """
    permanent, running = _state(host, args)
    good = permanent == want and running == want
    evidence = f"permanent: {'yes' if permanent else 'no'}; running: {'yes' if running else 'no'}"
    if good:
        return Check(step, title, "pass", evidence)
    if permanent == want:  # only the running firewall is behind: the permanent rule was never loaded
        return Check(step, title, "fail", evidence, "firewall-cmd --reload")
    return Check(step, title, "fail", evidence, f"{fix}; firewall-cmd --reload")


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled or not managed(answers, profile):
        return []
    state = host.run(["firewall-cmd", "--state"])
    if not state.ok:
        return [Check("firewall", "firewalld running", "fail", state.output.strip() or "no answer",
                      "systemctl enable --now firewalld")]
    opened, closed = wanted(answers)
    checks = []
    for service in opened + closed:
        want = service in opened
        title = f"firewall {'allows' if want else 'blocks'} {service} ({PORTS[service]})"
        checks.append(rule_check(host, "firewall", title, [f"--query-service={service}"], want,
                                 f"firewall-cmd --permanent --{'add' if want else 'remove'}-service={service}"))
    from mailwizard.steps.sieve import STANDARD_PORT
    port = answers.sieve.port
    if answers.protocols.sieve and port != STANDARD_PORT:  # sieve.port_access opens it as a port
        checks.append(rule_check(host, "firewall", f"firewall allows TCP {port} (ManageSieve)",
                                 [f"--query-port={port}/tcp"], True, f"firewall-cmd --permanent --add-port={port}/tcp"))
    return checks


STEP = Step("firewall", "Firewall", "1.1.5, 1.7", plan=plan, verify=verify, validate=validate,
            applies=lambda a: a.dovecot_enabled)
