"""SELinux (the report): enforcing, and the labels the wizard relies on are in force.

Nothing is planned. On an SELinux platform: `getenforce` says Enforcing; the
policy (`matchpathcon`) gives the mail root `mail_spool_t` and a replication
password file `dovecot_etc_t`; `restorecon -n -v -R` over the mail root, the
certificate, the key and that password file prints nothing (no file carries
a label other than the policy's); a non-standard LMTP or ManageSieve port is
labelled `lmtp_port_t` / `sieve_port_t` (`semanage port -l`). On a platform
without SELinux (Debian) the report says so once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailwizard.answers import Answers
from mailwizard.host import Host
from mailwizard.plan import Check, Command, Effects, PlanContext, Work
from mailwizard.platform import Profile
from mailwizard.steps import Step

NAME = "selinux"


def booleans_local(host: Host) -> str:
    """The policy store's file of local boolean settings (`setsebool -P` writes it)."""
    config = (host.read("/etc/selinux/config") or b"").decode(errors="replace")
    kind = next((line.split("=", 1)[1].strip() for line in config.splitlines()
                 if line.strip().startswith("SELINUXTYPE=")), "targeted")
    return f"/var/lib/selinux/{kind}/active/booleans.local"


@dataclass(eq=False)
class SetBoolean(Command):
    """`setsebool -P NAME on`, undone exactly: rollback puts the store's booleans.local back as it was (absent
    when no boolean had a local setting) and rebuilds the policy from the store (`semodule -B`).
    `setsebool -P NAME off` would leave a local setting the store did not have, and a policy built from it
    (found on the RHEL-flavoured host: full.toml's rollback left `boolean -m -0 nis_enabled`)."""

    store_file: str = ""

    def effects(self, host: Host, work: Work) -> Effects:
        return super().effects(host, work).write(self.store_file, None)


def set_boolean(ctx: PlanContext, name: str, summary: str, noop_reason: str | None) -> SetBoolean:
    return SetBoolean(argv=["setsebool", "-P", name, "on"], summary=summary, noop_reason=noop_reason,
                      undo=[["semodule", "-B"]], store_file=booleans_local(ctx.host))


def boolean_state(host: Host, name: str) -> tuple[bool, str]:
    """(whether the SELinux boolean is on, what said so).

    `getsebool` reads the running kernel's value; with SELinux disabled it cannot, and the value
    `setsebool -P` stored in the policy store is read from `semanage boolean -l` instead ("name (on , on)").
    """
    got = host.run(["getsebool", name])
    if got.ok and " --> " in got.output:
        said = got.output.strip()
        return said.endswith("on"), said
    stored = host.run(["semanage", "boolean", "-l"])
    for line in stored.output.splitlines() if stored.ok else []:
        fields = line.split()
        if fields[:1] == [name] and len(fields) > 1:
            on = fields[1].lstrip("(") == "on"
            return on, f"{name} {'on' if on else 'off'} in the policy store (getsebool: {got.output.strip()[-80:]})"
    return False, got.output.strip()[-200:] or f"getsebool {name} gave no answer"


def labelled_paths(answers: Answers, host: Host) -> dict[str, str]:
    """Paths whose policy type the wizard sets or relies on: path -> type ("" when any type of the policy will do).

    The mail root is named by its real path (RHEL's /var/mail is a symlink to /var/spool/mail): labels
    belong to it, and `restorecon -R` does not follow a symlink.
    """
    from mailwizard.steps.replication import SECRET_TYPE, dovecot_reads
    from mailwizard.steps.vmail import mail_root

    out: dict[str, str] = {}
    if answers.dovecot_enabled:
        out[host.realpath(mail_root(answers))] = "mail_spool_t"
        out[answers.tls.cert] = ""
        out[answers.tls.key] = ""
        r = answers.replication
        if r.enabled and r.password_file and not r.password:
            out[dovecot_reads(answers)] = SECRET_TYPE
    return out


def labelled_ports(answers: Answers) -> dict[int, str]:
    """Non-standard ports the wizard labels: port -> type."""
    from mailwizard.steps import lmtp, sieve

    out: dict[int, str] = {}
    if not answers.dovecot_enabled:
        return out
    if answers.protocols.lmtp and answers.lmtp.listener == "inet" and answers.lmtp.port != lmtp.STANDARD_PORT:
        out[answers.lmtp.port] = "lmtp_port_t"
    if answers.protocols.sieve and answers.sieve.port != sieve.STANDARD_PORT:
        out[answers.sieve.port] = "sieve_port_t"
    return out


def _enforcing(host: Host) -> Check:
    got = host.run(["getenforce"])
    mode = got.output.strip()
    good = got.ok and mode == "Enforcing"
    return Check(NAME, "SELinux is enforcing", "pass" if good else "fail", mode or "getenforce gave no answer",
                 "" if good else "setenforce 1, and SELINUX=enforcing in /etc/selinux/config")


def _policy_types(host: Host, wanted: dict[str, str]) -> list[Check]:
    checks = []
    for path, type_ in wanted.items():
        got = host.run(["matchpathcon", path])
        good = got.ok and f":{type_}:" in got.output
        checks.append(Check(NAME, f"policy labels {path} {type_}", "pass" if good else "fail",
                            got.output.strip()[-200:] or "matchpathcon gave no answer",
                            "" if good else f"semanage fcontext -a -t {type_} '{path}'; restorecon -R -v {path}"))
    return checks


def _relabel(host: Host, paths: list[str]) -> Check:
    argv = ["restorecon", "-n", "-v", "-R", *paths]
    got = host.run(argv)
    pending = [line for line in got.output.splitlines() if line.strip()]
    good = got.ok and not pending
    evidence = "\n".join(pending[:10]) if pending else (got.output.strip()[-300:] if not got.ok else
                                                        f"nothing to relabel under {', '.join(paths)}")
    return Check(NAME, "files carry the policy's labels", "pass" if good else "fail", evidence,
                 "" if good else "restorecon -R -v " + " ".join(paths))


def _ports(host: Host, profile: Profile, wanted: dict[int, str]) -> list[Check]:
    from mailwizard.steps.lmtp import selinux_port_type

    ctx = PlanContext(host, profile)  # one `semanage port -l` for every port
    checks = []
    for port, type_ in wanted.items():
        got = selinux_port_type(ctx, port)
        good = got == type_
        checks.append(Check(NAME, f"TCP port {port} is labelled {type_}", "pass" if good else "fail",
                            f"labelled {got}" if got else "not labelled",
                            "" if good else f"semanage port {'-m' if got else '-a'} -t {type_} -p tcp {port}"))
    return checks


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not profile.selinux:
        return [Check(NAME, "SELinux", "pass", f"not applicable: {profile.label} runs without SELinux")]
    checks = [_enforcing(host)]
    paths = labelled_paths(answers, host)
    checks += _policy_types(host, {p: t for p, t in paths.items() if t})
    present = [p for p in paths if host.exists(p)]
    if present and checks[0].evidence == "Disabled":
        # restorecon is then a silent no-op: saying nothing proves nothing
        checks.append(Check(NAME, "files carry the policy's labels", "warn",
                            "not checkable: SELinux is disabled, so restorecon cannot compare the files' labels",
                            "enable SELinux (SELINUX=enforcing in /etc/selinux/config, reboot), then "
                            "restorecon -R -v " + " ".join(present)))
    elif present:
        checks.append(_relabel(host, present))
    return checks + _ports(host, profile, labelled_ports(answers))


STEP = Step(NAME, "SELinux", "1.1.3, 1.4, 1.6, 1.8", verify=verify)
