"""Postfix: an internet site (guide 2.1) or a null client (2.3).

Internet site: `inet_interfaces`, `myhostname`, `mydomain`, `myorigin =
$mydomain`, `mynetworks` (validated CIDRs, IPv6 in brackets) and
`mydestination` with `$mydomain` added, because the guide leaves it at its
default and mail to user@DOMAIN would otherwise be relayed, not delivered
(with virtual mailboxes the domain is a virtual mailbox domain instead, and a
domain must not be in both). `alias_maps`/`alias_database` name the aliases
file with this Postfix's map type, and the aliases database is built
(`postalias`), because local(8) defers all mail while it is missing. Then
`postfix check` (run by every postconf change) and firewalld's `smtp` service,
with `smtp-submission` (587: the name every firewalld version knows) and
`smtps` when authenticated submission is on.

Null client: `mydestination =`, `relayhost = [host]`, `inet_interfaces =
loopback-only`, `myorigin`, `local_transport = error: local delivery
disabled`, `mynetworks = 127.0.0.0/8, [::1]/128`.

Debian's Postfix installed with "No configuration" leaves no main.cf (and its
main.cf.proto fails `postfix check`): the step first copies
/usr/share/postfix/main.cf.debian into place, as Debian's own configuration
does. Removing sendmail (2.1 step 1) is planned by preflight.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from mailwizard.answers import Answers, Problem, relayhost_value
from mailwizard.host import FileMeta, Host
from mailwizard.plan import Change, Check, Command, Effects, PlanContext, Work, WriteFile
from mailwizard.platform import Profile
from mailwizard.postfix_conf import Postconf, Postmap, database_type, live_values, postfix_check, settings_check
from mailwizard.steps import Step
from mailwizard.steps.firewall import Skipped, managed, query, reload_change, rule_check

ALIASES = "/etc/aliases"
ALIASES_TEXT = b"# See man 5 aliases for format\npostmaster:    root\n"
NULL_NETWORKS = "127.0.0.0/8, [::1]/128"
# firewalld's service names: `smtp-submission` (587) exists in every firewalld version; `submission` only
# from 2.1 on (RHEL 9's 1.x and Debian's 1.3.3 refuse it: INVALID_SERVICE, or among others only a warning)
PORTS = {"smtp": 25, "smtp-submission": 587, "smtps": 465}


def main_cf(profile: Profile) -> str:
    return f"{profile.postfix_dir}/main.cf"


def facts(profile: Profile) -> dict:
    path = profile.fresh_root() / "facts.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def virtual_mailboxes(answers: Answers) -> bool:
    """Whether Dovecot's users are virtual (LDAP/SQL) rather than system accounts (PAM)."""
    p = answers.postfix
    if p.virtual_mailboxes is not None:
        return p.virtual_mailboxes
    return answers.dovecot_enabled and p.delivery == "lmtp" and answers.auth.backend != "pam"


def mydestination(answers: Answers) -> str:
    local = "$myhostname, localhost.$mydomain, localhost"
    return local if virtual_mailboxes(answers) else local + ", $mydomain"


def site_settings(answers: Answers) -> list[tuple[str, str]]:
    p, server = answers.postfix, answers.server
    if p.mode == "null-client":
        return [("myhostname", server.hostname), ("mydomain", server.domain), ("mydestination", ""),
                ("relayhost", relayhost_value(p.relayhost)), ("inet_interfaces", "loopback-only"),
                ("myorigin", p.myorigin), ("local_transport", "error: local delivery disabled"),
                ("mynetworks", NULL_NETWORKS)]
    out = [("inet_interfaces", p.interfaces), ("myhostname", server.hostname), ("mydomain", server.domain),
           ("myorigin", p.myorigin), ("mynetworks", ", ".join(n.strip() for n in p.mynetworks)),
           ("mydestination", mydestination(answers))]
    if p.relayhost:
        out.append(("relayhost", relayhost_value(p.relayhost)))
    return out


def alias_settings(map_type: str) -> list[tuple[str, str]]:
    return [("alias_maps", f"{map_type}:{ALIASES}"), ("alias_database", f"{map_type}:{ALIASES}")]


def firewall_services(answers: Answers) -> list[str]:
    if answers.postfix.mode == "null-client":
        return []
    out = ["smtp"]
    if answers.postfix.submission:
        out.append("smtp-submission")
        if answers.postfix.smtps:
            out.append("smtps")
    return out


@dataclass(eq=False)
class BootstrapMainCf(WriteFile):
    """Debian's "No configuration" leaves no main.cf: start from the distribution's main.cf.debian."""

    template: str = "/usr/share/postfix/main.cf.debian"

    def describe(self) -> str:
        return f"create {self.path} from {self.template} (Debian's Postfix leaves none)"

    def check(self, ctx: PlanContext) -> str | None:
        if self.path in ctx.predicted:  # the fixture has it; the real package does not ship one
            ctx.predicted.discard(self.path)
            ctx.stage(self.path, None, None)
        if ctx.exists(self.path):
            self.base = ctx.read(self.path)
            return f"{self.path} exists"
        self.base = None
        ctx.stage(self.path, self.content, FileMeta(self.mode, 0, 0))
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        if host.exists(self.path):
            work.on_line(f"{self.path} exists (made by the package): kept")
            return Effects()
        return Effects().write(self.path, host.read(self.template) or self.content)

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        if (content := effects.files.get(self.path)) is not None:
            host.write_atomic(self.path, content, mode=self.mode, uid=0, gid=0)
            if self.postfix_reads:
                host.age(self.path)


def bootstrap(ctx: PlanContext) -> list[Change]:
    info = facts(ctx.profile)
    template = info.get("postfix_main_cf_template")
    if info.get("postfix_main_cf_shipped", True) or not template:
        return []
    content = ctx.read(template) or (ctx.profile.fresh_root() / template.lstrip("/")).read_bytes()
    return [BootstrapMainCf(main_cf(ctx.profile), content, 0o644, service="postfix",
                            template=template, postfix_reads=True)]


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    problems: list[Problem] = []  # who holds port 25 is preflight's check
    p = answers.postfix
    if p.mode == "internet-site" and p.interfaces in ("loopback-only", "localhost"):
        problems.append(Problem("postfix.inet_interfaces", "an internet site listening on loopback only "
                                "receives no mail from other hosts; use all, or this host's addresses",
                                "warning"))
    return problems


def firewall_changes(answers: Answers, ctx: PlanContext) -> list[Change]:
    services = firewall_services(answers)
    if not services:
        return []
    ports = ", ".join(str(PORTS[s]) for s in services)
    summary = f"open Postfix's services in the firewall: {' '.join(services)}"
    if ctx.profile.firewall != "firewalld":
        return [Skipped("postfix-firewall", summary, f"{ctx.profile.label} has no firewalld: nothing to open; "
                        f"if this host runs another firewall, allow TCP {ports} there")]
    if not managed(answers, ctx.profile):
        return [Skipped("postfix-firewall", summary, "[firewall] manage = false: allow TCP "
                        f"{ports} yourself")]
    missing = [s for s in services if not query(ctx, ["--permanent", f"--query-service={s}"])]
    add = Command(argv=["firewall-cmd", "--permanent", *[f"--add-service={s}" for s in missing or services]],
                  summary=summary,
                  noop_reason=None if missing else f"the firewall already allows {' '.join(services)}",
                  undo=[["firewall-cmd", "--permanent", *[f"--remove-service={s}" for s in missing]]]
                  if missing else [])
    return [add, reload_change([add])]


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    changes: list[Change] = bootstrap(ctx)
    mode = "2.3 null client" if answers.postfix.mode == "null-client" else "2.1 internet site"
    settings = site_settings(answers)
    changes.append(Postconf(settings, summary=f"main.cf ({mode}): " +
                            ", ".join(f"{k} = {v}" if v else f"{k} =" for k, v in settings)))
    if answers.postfix.mode == "internet-site":
        map_type = database_type(ctx)
        changes.append(Postconf(alias_settings(map_type),
                                summary=f"main.cf: the aliases file as a {map_type} table"))
        # RHEL's setup package always ships /etc/aliases: only a Debian host may lack it
        if ctx.read(ALIASES) is None and not (ctx.offline and ctx.profile.family == "rhel"):
            changes.append(WriteFile(ALIASES, ALIASES_TEXT, 0o644, service="postfix",
                                     summary="the system aliases (mail for postmaster goes to root)"))
        changes.append(Postmap(ALIASES, map_type, tool="postalias",
                               summary=f"build the aliases database ({map_type}); local delivery "
                                       "waits for it"))
    changes += firewall_changes(answers, ctx)
    return changes


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    checks = [settings_check(host, "postfix", "postconf shows the site settings", site_settings(answers))]
    complaint = postfix_check(host, profile.postfix_dir)
    checks.append(Check("postfix", "postfix check", "fail" if complaint else "pass", complaint or "no complaint",
                        "read the message and correct main.cf" if complaint else ""))
    if answers.postfix.mode == "internet-site":
        _, values, _ = live_values(host, ["alias_database"])
        db = values.get("alias_database", "")
        kind, _, path = db.partition(":")
        from mailwizard.postfix_conf import map_suffix
        built = bool(path) and host.exists(path + map_suffix(kind))
        checks.append(Check("postfix", "aliases database built", "pass" if built else "fail", db,
                            "" if built else f"newaliases (or postalias {db})"))
    if managed(answers, profile):
        checks += [rule_check(host, "postfix", f"firewall allows {service} ({PORTS[service]})",
                              [f"--query-service={service}"], True, f"firewall-cmd --permanent --add-service={service}")
                   for service in firewall_services(answers)]
    return checks


STEP = Step("postfix", "Postfix", "2.1, 2.3", plan=plan, verify=verify, validate=validate)
