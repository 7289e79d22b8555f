"""Install (guide 1.1.1, 2.1 step 2): the packages the chosen features need.

Another package manager may hold the package lock: an apt-get or dnf that a killed run left running, or
the system's own unattended upgrades. The install then waits for it rather than fail: dnf does by
default, apt-get is told to (`-o Dpkg::Lock::Timeout=600` in Debian's install argv) and says so every
second ("Waiting for cache lock: ... held by process N (apt-get)"). Before apt-get, dpkg or the
debconf answers run, the wizard itself waits until nobody holds dpkg's locks, saying whom for
(PackageCommand, mailwizard.pkglock): `dpkg --configure -a` and `debconf-set-selections` cannot wait,
and the dpkg a killed apt-get started outlives the kill and may take the lock after the plan was made.
A lock held while the plan is made is said on the Review (a warning at `packages`).
After a killed dnf nothing is repaired: RHEL's rpm database is transactional (SQLite), and the next
`dnf install` installs what is missing; `rpm --rebuilddb` is for a damaged Berkeley DB, which RHEL 9 and
10 no longer have.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailwizard import pkglock
from mailwizard.answers import Answers, Problem
from mailwizard.host import Host
from mailwizard.plan import Check, Command, Effects, PlanContext, Work
from mailwizard.platform import Profile
from mailwizard.steps import Step


def is_installed(host: Host, profile: Profile, package: str) -> bool:
    result = host.run(profile.query_argv(package))
    return result.ok and (profile.family == "rhel" or "install ok installed" in result.output)


def installed(ctx: PlanContext, package: str) -> bool:
    return ctx.fact(f"installed:{package}", lambda: is_installed(ctx.host, ctx.profile, package))


def packages(answers: Answers, profile: Profile) -> list[str]:
    return profile.packages_for(answers.features())


def semanage_uses(answers: Answers, ctx: PlanContext) -> list[str]:
    """What the plan labels with `semanage` (a mail root outside the policy's, non-standard ports)."""
    from mailwizard.steps.selinux import labelled_ports
    from mailwizard.steps.vmail import needs_label, store_dir

    if not (ctx.profile.selinux and ctx.profile.semanage_package and answers.dovecot_enabled):
        return []
    store = store_dir(answers, ctx)
    uses = [f"the mail root {store}"] if needs_label(store, ctx.profile) else []
    return uses + [f"port {port}" for port in labelled_ports(answers)]


def wanted_packages(answers: Answers, ctx: PlanContext) -> list[str]:
    """The features' packages, and the one that brings `semanage` when the plan runs it."""
    wanted = packages(answers, ctx.profile)
    if semanage_uses(answers, ctx):
        wanted.append(ctx.profile.semanage_package)
    return wanted


DPKG_LOCKS = (pkglock.DPKG_FRONTEND_LOCK, "/var/lib/dpkg/lock")


@dataclass(eq=False)
class PackageCommand(Command):
    """apt-get or dpkg, run once no other package manager holds dpkg's locks (dpkg refuses at once).

    The dpkg a killed apt-get started runs in its own session (apt's pty) and outlives a kill of the
    wizard's process group, holding /var/lib/dpkg/lock; a resumed run waits for it here, saying whom for.
    """

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        for path in DPKG_LOCKS:
            if not pkglock.wait(str(host.real(path)), pkglock.WAIT_SECONDS, say=work.on_line):
                raise RuntimeError(f"{path} is still held after {pkglock.WAIT_SECONDS} s: another package manager "
                                   "is running; let it finish, then run mailwizard --resume")
        super().perform(host, effects, work)


# configuration directories a feature's first package ships
CONFIG_DIRS = {"dovecot": "/etc/dovecot", "postfix": "/etc/postfix", "sieve": "/etc/dovecot"}


def dpkg_audit(ctx: PlanContext) -> str:
    """What `dpkg --audit` lists: packages an interrupted install left unpacked or half-configured."""
    if ctx.profile.family != "debian" or ctx.offline:
        return ""
    audit = ctx.fact("dpkg --audit", lambda: ctx.host.run(["dpkg", "--audit"]))
    return audit.output if audit.ok and audit.output.strip() else ""  # unstripped: package lines are indented


def audited(ctx: PlanContext) -> set[str]:
    """The packages `dpkg --audit` lists (each on its own line, indented: " dovecot-core   secure POP3...")."""
    return {line.split()[0] for line in dpkg_audit(ctx).splitlines() if line.startswith(" ") and line.strip()}


def install_unfinished(ctx: PlanContext) -> bool:
    """An install was begun and not finished (a killed run's, or anybody's on Debian): until the plan completes
    it, what the installed daemons say of themselves (doveadm, a status command) is not to be trusted."""
    return bool(interrupted(ctx) or dpkg_audit(ctx))


def dpkg_repair(ctx: PlanContext) -> list[Command]:
    """`dpkg --configure -a` when an interrupted install (a killed apt-get) left packages half-done:
    apt-get refuses to install anything until then."""
    if not dpkg_audit(ctx):
        return []
    # nothing of its own to undo (reversible: rollback lists nothing): it completes the interrupted install,
    # which the plan runs again as it was begun and which rollback lists once, as an uninterrupted run does
    return [PackageCommand(argv=["dpkg", "--configure", "-a"],
                           summary="finish the package installation an interrupted run left half-done "
                                   "(`dpkg --audit` lists it), as apt-get asks", reversible=True)]


def interrupted(ctx: PlanContext) -> set[str]:
    """The packages of an install a killed run began (the journal's unfinished change): some may be installed
    by now, yet the resumed plan names them all again, so the install (its key, what rollback lists as not
    undone) is the one an uninterrupted run makes."""
    prefix = "command:" + " ".join(ctx.profile.install_argv) + " "
    return {p for key in ctx.unfinished if key.startswith(prefix) for p in key[len(prefix):].split()}


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    """A warning when another package installation holds the package lock while the plan is made (a killed
    run's orphan, unattended upgrades): the install will wait for it (PackageCommand)."""
    if ctx.profile.family != "debian" or ctx.offline:
        return []
    held = ctx.fact("package lock", lambda: pkglock.holder(str(ctx.host.real(pkglock.DPKG_FRONTEND_LOCK))))
    if held is None:
        return []
    return [Problem("packages", f"the package lock is held by {pkglock.describe(held)}: another package "
                    f"installation is running; the install waits for it (at most {pkglock.WAIT_SECONDS // 60} "
                    "minutes)", "warning")]


def plan(answers: Answers, ctx: PlanContext) -> list[Command]:
    profile = ctx.profile
    wanted = wanted_packages(answers, ctx)
    begun = interrupted(ctx)
    missing = [p for p in wanted if p in begun or not installed(ctx, p)]
    unpacked = audited(ctx)  # configured by the repair below: their missing configuration files come then
    for feature, directory in CONFIG_DIRS.items():
        pkgs = profile.packages.get(feature, ())
        if feature in answers.features() and pkgs and (pkgs[0] in missing or pkgs[0] in unpacked):
            ctx.predict(directory)
    change = PackageCommand(
        argv=[*profile.install_argv, *(missing or wanted)],
        summary=f"install {', '.join(missing or wanted)}" + (
            f" ({profile.semanage_package} brings semanage, which labels "
            f"{' and '.join(semanage_uses(answers, ctx))} for SELinux)"
            if profile.semanage_package in missing else ""),
        env=dict(profile.install_env),
        noop_reason=None if missing else f"{', '.join(wanted)} already installed",
        undo_hint=f"remove with {' '.join(profile.remove_argv)} {' '.join(missing)}",
    )
    if profile.debconf and "postfix" in missing:
        change.pre = [["debconf-set-selections"]]
        change.pre_input = "\n".join(profile.debconf) + "\n"
        change.summary += " (Postfix's debconf question answered first: No configuration)"
    repair = dpkg_repair(ctx)
    return [*repair, change]


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    wanted = wanted_packages(answers, PlanContext(host, profile))
    missing = [p for p in wanted if not is_installed(host, profile, p)]
    if missing:
        return [Check("install", "packages installed", "fail", f"missing: {', '.join(missing)}",
                      f"{' '.join(profile.install_argv)} {' '.join(missing)}")]
    return [Check("install", "packages installed", "pass", ", ".join(wanted))]


STEP = Step("install", "Install", "1.1.1, 2.1", plan=plan, verify=verify, validate=validate)
