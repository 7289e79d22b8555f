"""LMTP (guide 1.6): the socket the local MTA delivers to, or a TCP listener for a remote one.

`service lmtp {}` in conf.d/10-master.conf:

- `unix_listener lmtp {}` (/run/dovecot/lmtp) always gets the owner, group
  and mode of the answers (the guide's postfix:postfix 0600), whichever
  listener is chosen: the socket exists in both cases, and Dovecot's default
  0666 lets every local user inject mail.
- Where Postfix runs its lmtp client chrooted in /var/spool/postfix (Debian's
  master.cf), it cannot reach /run/dovecot: a second socket,
  `unix_listener /var/spool/postfix/private/dovecot-lmtp {}`, with the same
  owner and mode, is where it delivers (`lmtp:unix:private/dovecot-lmtp`).
  Whether lmtp is chrooted is read from master.cf (the platform's fresh one
  when Postfix is about to be installed).
- With `listener = "inet"`: `inet_listener lmtp { port = N }`; on firewalld
  hosts one rich rule per `allow_from` source (IPv4 /32, IPv6 /128 in the
  guide) and a reload; on SELinux hosts a port other than 24 gets the
  `lmtp_port_t` label. Going back to the socket alone sets that listener's
  `port = 0`, which Dovecot takes as "no listener".

The rich rules, their checks and the firewall warnings are the admit_*
helpers, shared with Dovecot SASL's TCP listener (steps/auth_sasl.py).
"""

from __future__ import annotations

import ipaddress
import re

from mailwizard.answers import Answers, Problem, check_source
from mailwizard.dovecot_conf import Setting, doveconf_n, edit_dovecot, get_setting
from mailwizard.host import Host
from mailwizard.plan import Change, Check, Command, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step
from mailwizard.steps.firewall import managed, query, reload_change, rule_check

STANDARD_PORT = 24  # labelled lmtp_port_t by the SELinux policy
SOCKET = "/run/dovecot/lmtp"
CHROOT_SOCKET = "/var/spool/postfix/private/dovecot-lmtp"
SERVICE = "service lmtp"
_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_MODE = re.compile(r"^0?[0-7]{3}$")


def master_conf(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/conf.d/10-master.conf"


def postfix_chrooted(ctx: PlanContext) -> bool:
    """Whether Postfix's lmtp client runs chrooted (master.cf's chroot column; `-` means no since 3.0)."""
    text = ctx.read_text(f"{ctx.profile.postfix_dir}/master.cf")
    if text is None:
        return ctx.profile.family == "debian"
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "lmtp" and fields[1] == "unix":
            return fields[4] == "y"
    return False


def postfix_transport(ctx: PlanContext) -> str:
    """What Postfix's main.cf names as the LMTP destination on this host (guide 2.7)."""
    return "lmtp:unix:private/dovecot-lmtp" if postfix_chrooted(ctx) else f"lmtp:unix:{SOCKET}"


def networks(values: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The valid entries of an allow_from list (validation reports the others)."""
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError:
            pass
    return out


def rich_rule(net, port: int) -> str:
    family = "ipv4" if net.version == 4 else "ipv6"
    return (f'rule family="{family}" source address="{net}" port protocol="tcp" '
            f'port="{port}" accept')


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    if not answers.protocols.lmtp:
        return []
    lmtp = answers.lmtp
    problems: list[Problem] = []
    if lmtp.listener not in ("unix", "inet"):
        problems.append(Problem("lmtp.listener", f"{lmtp.listener!r} is not one of unix (a local MTA) or "
                                "inet (an MTA on another host)"))
    for key in ("socket_user", "socket_group"):
        value = getattr(lmtp, key)
        if not _NAME.match(value):
            problems.append(Problem(f"lmtp.{key}", f"{value!r} is not a valid name, e.g. postfix"))
    if not _MODE.match(lmtp.socket_mode):
        problems.append(Problem("lmtp.socket_mode", f"{lmtp.socket_mode!r} is not an octal mode, e.g. 0600"))
    elif int(lmtp.socket_mode, 8) & 0o002:
        problems.append(Problem("lmtp.socket_mode", f"{lmtp.socket_mode} lets every local user hand Dovecot "
                                "mail for any recipient: use 0600 with the MTA's user", "warning"))
    if lmtp.listener != "inet":
        return problems
    if not 1 <= lmtp.port <= 65535:
        problems.append(Problem("lmtp.port", f"{lmtp.port} is not a TCP port (1-65535); LMTP's is 24"))
    for value in lmtp.allow_from:
        if msg := check_source(value):
            problems.append(Problem("lmtp.allow_from", msg))
    return problems + admit_problems(answers, ctx, "lmtp.allow_from", lmtp.port, lmtp.allow_from,
                                     "LMTP", "takes mail for any user", "the MTA")


# --- a TCP listener admitted from a few sources by firewalld rich rules (also used by steps/auth_sasl.py) --

def admit_problems(answers: Answers, ctx: PlanContext, key: str, port: int, allow_from: list[str],
                   service: str, danger: str, client: str) -> list[Problem]:
    """Warnings when no source is admitted, or when the wizard cannot restrict who reaches `port`."""
    if managed(answers, ctx.profile):
        if allow_from:
            return []
        return [Problem(key, f"no source is admitted: the firewall keeps port {port} closed to every "
                        f"client; list {client}'s address", "warning")]
    why = "this host has no firewalld" if ctx.profile.firewall != "firewalld" else \
        "the wizard does not manage the firewall here"
    return [Problem(key, f"{why}: {service} on port {port} {danger} from every host that reaches it; admit "
                    f"only {', '.join(allow_from) or client} in your firewall", "warning")]


def admit_changes(answers: Answers, ctx: PlanContext, allow_from: list[str], port: int,
                  service: str) -> list[Change]:
    """The guide's rich rules (1.4 step 4): one per source, then a reload; nothing without firewalld."""
    if not managed(answers, ctx.profile):
        return []
    rules = []
    for net in networks(allow_from):
        rule = rich_rule(net, port)
        present = query(ctx, ["--permanent", "--zone=public", f"--query-rich-rule={rule}"])
        rules.append(Command(
            argv=["firewall-cmd", "--permanent", "--zone=public", f"--add-rich-rule={rule}"],
            summary=f"admit {service} (TCP {port}) from {net} only",
            noop_reason=f"the firewall already admits {net} to port {port}" if present else None,
            undo=[["firewall-cmd", "--permanent", "--zone=public", f"--remove-rich-rule={rule}"]]))
    return [*rules, reload_change(rules)] if rules else []


def admit_checks(answers: Answers, host: Host, profile: Profile, step: str, allow_from: list[str],
                 port: int) -> list[Check]:
    if not managed(answers, profile):
        return []
    return [rule_check(host, step, f"firewall admits {net} to port {port}",
                       ["--zone=public", f"--query-rich-rule={rich_rule(net, port)}"], True,
                       f"firewall-cmd --permanent --zone=public --add-rich-rule='{rich_rule(net, port)}'")
            for net in networks(allow_from)]


def listener_settings(answers: Answers, ctx: PlanContext) -> list[Setting]:
    lmtp = answers.lmtp
    sockets = ["unix_listener lmtp"]
    if postfix_chrooted(ctx):
        sockets.append(f"unix_listener {CHROOT_SOCKET}")
    out: list[Setting] = [((SERVICE, sock), key, value) for sock in sockets
           for key, value in (("mode", lmtp.socket_mode.rjust(4, "0")), ("user", lmtp.socket_user),
                              ("group", lmtp.socket_group))]
    if lmtp.listener == "inet":
        out.append(((SERVICE, "inet_listener lmtp"), "port", str(lmtp.port)))
    elif get_setting(ctx.read_text(master_conf(ctx.profile)) or "", "port", (SERVICE, "inet_listener lmtp")) \
            not in (None, "", "0"):
        out.append(((SERVICE, "inet_listener lmtp"), "port", "0"))  # port 0: Dovecot opens no listener
    return out


def port_label_undo(label: str | None, port: int) -> list[str]:
    """What undoes `semanage port -a/-m -t TYPE -p tcp PORT`: delete the rule, or give back the label it had."""
    if label is None:
        return ["semanage", "port", "-d", "-p", "tcp", str(port)]
    return ["semanage", "port", "-m", "-t", label, "-p", "tcp", str(port)]


def selinux_port_type(ctx: PlanContext, port: int) -> str | None:
    """The SELinux type a TCP port is labelled with (`semanage port -l`), or None."""
    listing = ctx.fact("semanage:port", lambda: ctx.host.run(["semanage", "port", "-l"]))
    for line in listing.output.splitlines():
        fields = line.replace(",", " ").split()
        if len(fields) < 3 or fields[1] != "tcp":
            continue
        for item in fields[2:]:
            low, _, high = item.partition("-")
            if low.isdigit() and int(low) <= port <= int(high or low):
                return fields[0]
    return None


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled or not answers.protocols.lmtp:
        return []
    lmtp, profile = answers.lmtp, ctx.profile
    where = ["the socket " + SOCKET] + ([CHROOT_SOCKET] if postfix_chrooted(ctx) else [])
    summary = f"LMTP: {' and '.join(where)} {lmtp.socket_mode} {lmtp.socket_user}:{lmtp.socket_group}"
    if lmtp.listener == "inet":
        summary += f"; TCP port {lmtp.port}"
    changes: list[Change] = [edit_dovecot(ctx, master_conf(profile), listener_settings(answers, ctx),
                                          summary=summary, noop_reason="the LMTP listeners are already set")]
    if lmtp.listener != "inet":
        return changes
    if profile.selinux and lmtp.port != STANDARD_PORT:
        label = selinux_port_type(ctx, lmtp.port)
        verb = "-m" if label not in (None, "lmtp_port_t") else "-a"
        changes.append(Command(
            argv=["semanage", "port", verb, "-t", "lmtp_port_t", "-p", "tcp", str(lmtp.port)],
            summary=f"label TCP port {lmtp.port} lmtp_port_t for SELinux, so Dovecot may listen on it",
            noop_reason=f"port {lmtp.port} is already labelled lmtp_port_t" if label == "lmtp_port_t" else None,
            undo=[port_label_undo(label, lmtp.port)]))
    return changes + admit_changes(answers, ctx, lmtp.allow_from, lmtp.port, "LMTP")


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled or not answers.protocols.lmtp:
        return []
    lmtp = answers.lmtp
    checks: list[Check] = []
    ok, text = doveconf_n(host)
    mode = get_setting(text, "mode", (SERVICE, "unix_listener lmtp"))
    user = get_setting(text, "user", (SERVICE, "unix_listener lmtp"))
    good = ok and mode == lmtp.socket_mode.rjust(4, "0") and user == lmtp.socket_user
    checks.append(Check("lmtp", "doveconf shows the LMTP socket", "pass" if good else "fail",
                        f"unix_listener lmtp: mode = {mode}, user = {user}",
                        "" if good else f"see service lmtp in {master_conf(profile)}"))
    paths = [SOCKET] + ([CHROOT_SOCKET] if get_setting(text, "mode", (SERVICE, f"unix_listener {CHROOT_SOCKET}"))
                        else [])
    uid = host.uid(lmtp.socket_user)
    for path in paths:
        meta = host.stat(path)
        good = meta is not None and meta.mode == int(lmtp.socket_mode, 8) and meta.uid == uid
        checks.append(Check("lmtp", f"socket {path}", "pass" if good else "fail",
                            f"{meta.mode:04o} {host.user_name(meta.uid)}:{host.group_name(meta.gid)}"
                            if meta else "missing", "" if good else "reload Dovecot; see its log"))
    if lmtp.listener == "inet":
        port = get_setting(text, "port", (SERVICE, "inet_listener lmtp"))
        owner = host.listening().get(lmtp.port)
        good = port == str(lmtp.port) and owner is not None and owner.startswith("dovecot")
        checks.append(Check("lmtp", f"LMTP listens on TCP {lmtp.port}", "pass" if good else "fail",
                            f"held by {owner}" if owner else "nothing listens",
                            "" if good else f"inet_listener lmtp {{ port = {lmtp.port} }} in {master_conf(profile)}"))
        checks += admit_checks(answers, host, profile, "lmtp", lmtp.allow_from, lmtp.port)
    return checks


STEP = Step("lmtp", "LMTP", "1.6", plan=plan, verify=verify, validate=validate,
            applies=lambda a: a.dovecot_enabled and a.protocols.lmtp)
