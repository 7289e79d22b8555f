"""Install (guide 1.1.1, 2.1 step 2): the packages the chosen features need."""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass

from mailwizard.answers import Answers
from mailwizard.host import Host, LineSink
from mailwizard.plan import Check, Command, PlanContext
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


DPKG_LOCKS = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")
LOCK_WAIT = 900.0  # seconds: a whole install of the packages, finished by the orphan of a killed run


def dpkg_lock_holder(host: Host) -> str | None:
    """The dpkg lock another process holds (a package manager at work: the dpkg a killed apt-get left running,
    in its own session, survives the kill), or None. Taken and let go at once, as apt-get tries it."""
    for path in DPKG_LOCKS:
        try:
            fd = os.open(host.real(path), os.O_RDWR)
        except OSError:  # no such lock (RHEL, a fake host)
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return path
        finally:
            os.close(fd)  # which lets go of the lock
    return None


@dataclass(eq=False)
class PackageCommand(Command):
    """apt-get or dpkg, run once no other package manager holds dpkg's lock (else dpkg refuses at once)."""

    def apply(self, host: Host, journal, on_line: LineSink) -> None:
        deadline = time.monotonic() + LOCK_WAIT
        held = dpkg_lock_holder(host)
        if held is not None:
            on_line(f"waiting for the package manager that holds {held} to finish "
                    "(an install an interrupted run began)")
        while held is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{held} is still held after {LOCK_WAIT:.0f} s: another package manager is "
                                   "running; let it finish, then run mailwizard --resume")
            time.sleep(0.5)
            held = dpkg_lock_holder(host)
        super().apply(host, journal, on_line)


# configuration directories a feature's first package ships
CONFIG_DIRS = {"dovecot": "/etc/dovecot", "postfix": "/etc/postfix", "sieve": "/etc/dovecot"}


def dpkg_repair(ctx: PlanContext) -> list[Command]:
    """`dpkg --configure -a` when an interrupted install (a killed apt-get) left packages half-done:
    apt-get refuses to install anything until then."""
    if ctx.profile.family != "debian" or ctx.offline:
        return []
    audit = ctx.fact("dpkg --audit", lambda: ctx.host.run(["dpkg", "--audit"]))
    if not (audit.ok and audit.output.strip()):
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


def plan(answers: Answers, ctx: PlanContext) -> list[Command]:
    profile = ctx.profile
    wanted = wanted_packages(answers, ctx)
    begun = interrupted(ctx)
    missing = [p for p in wanted if p in begun or not installed(ctx, p)]
    for feature, directory in CONFIG_DIRS.items():
        pkgs = profile.packages.get(feature, ())
        if feature in answers.features() and pkgs and pkgs[0] in missing:
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
    return [*dpkg_repair(ctx), change]


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    wanted = wanted_packages(answers, PlanContext(host, profile))
    missing = [p for p in wanted if not is_installed(host, profile, p)]
    if missing:
        return [Check("install", "packages installed", "fail", f"missing: {', '.join(missing)}",
                      f"{' '.join(profile.install_argv)} {' '.join(missing)}")]
    return [Check("install", "packages installed", "pass", ", ".join(wanted))]


STEP = Step("install", "Install", "1.1.1, 2.1", plan=plan, verify=verify)
