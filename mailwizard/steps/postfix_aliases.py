"""Postfix aliases: a virtual alias file (guide 2.4) or an LDAP lookup table (2.5).

File: /etc/postfix/virtual is the wizard's whole file (templates/), one line
per [postfix.virtual_aliases] entry, indexed with `postmap TYPE:/etc/postfix/virtual`
where TYPE is this Postfix's `default_database_type` (lmdb on RHEL 10, whose
Postfix has no Berkeley DB, so the guide's `hash:` would fail there), and
`virtual_alias_maps = TYPE:/etc/postfix/virtual`. RHEL's package ships an
example /etc/postfix/virtual (all comments): it is replaced, and kept in the
journal for rollback.

LDAP: /etc/postfix/ldap-aliases.cf with `server_host`, `search_base`, the
optional `query_filter` (Postfix's default `mailacceptinggeneralid=%s`) and
`result_attribute` (default `maildrop`), and `version = 3` (OpenLDAP refuses
Postfix's default LDAPv2); `virtual_alias_maps = ldap:/etc/postfix/ldap-aliases.cf`;
verified with the guide's `postmap -q @DOMAIN ldap:/etc/postfix/ldap-aliases.cf`.

Both set `virtual_alias_domains` explicitly: the domains of aliases that this
server does not already receive mail for (from the alias keys, plus the
answers' own list); empty when there are none, instead of Postfix's default
`$virtual_alias_maps`, which would look every domain name up in the table.
"""

from __future__ import annotations

import re

from mailwizard.answers import Answers
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext, WriteFile
from mailwizard.platform import Profile
from mailwizard.postfix_conf import (
    Postconf,
    Postmap,
    database_type,
    live_values,
    map_suffix,
    settings_check,
    template,
    will_install_postfix,
)
from mailwizard.steps import Step

VIRTUAL = "/etc/postfix/virtual"
LDAP_CF = "/etc/postfix/ldap-aliases.cf"


def local_domains(answers: Answers) -> set[str]:
    s = answers.server
    return {s.domain.lower(), s.hostname.lower(), "localhost", f"localhost.{s.domain.lower()}",
            *(d.lower() for d in answers.postfix.virtual_mailbox_domains)}


def alias_domains(answers: Answers) -> list[str]:
    p = answers.postfix
    found: list[str] = []
    for alias in p.virtual_aliases if p.virtual_alias_source == "file" else ():
        _local, at, domain = alias.rpartition("@")
        domain = domain.lower() if at else ""  # a bare local part ("$", "info") names no domain
        if domain and domain not in found:
            found.append(domain)
    for domain in p.virtual_alias_domains:
        if domain.lower() not in found:
            found.append(domain.lower())
    return [d for d in found if d not in local_domains(answers)]


def targets(dest: str) -> str:
    return ", ".join(t for t in re.split(r"[\s,]+", dest) if t)


def virtual_text(answers: Answers, map_type: str) -> bytes:
    aliases = answers.postfix.virtual_aliases
    width = max([len(a) for a in aliases] + [0]) + 2
    lines = "\n".join(alias.ljust(width) + targets(dest) for alias, dest in aliases.items())
    return template("postfix-virtual.tmpl", map_type=map_type, lines=lines)


def ldap_text(answers: Answers) -> bytes:
    ldap = answers.postfix.ldap_aliases
    optional = []
    if ldap.query_filter:
        optional.append(f"query_filter = {ldap.query_filter}")
    if ldap.result_attribute:
        optional.append(f"result_attribute = {ldap.result_attribute}")
    hosts = " ".join(h for h in re.split(r"[\s,]+", ldap.server_host) if h)
    return template("postfix-ldap-aliases.cf.tmpl", server_host=hosts, search_base=ldap.search_base,
                    optional="\n".join(optional))


def table(answers: Answers, map_type: str) -> str:
    if answers.postfix.virtual_alias_source == "ldap":
        return f"ldap:{LDAP_CF}"
    return f"{map_type}:{VIRTUAL}"


def alias_settings(answers: Answers, map_type: str) -> list[tuple[str, str]]:
    return [("virtual_alias_maps", table(answers, map_type)),
            ("virtual_alias_domains", ", ".join(alias_domains(answers)))]


def _owned_file(ctx: PlanContext, path: str, content: bytes, summary: str) -> WriteFile:
    change = WriteFile(path, content, 0o644, service="postfix", summary=summary,
                       transform=lambda current: content, postfix_reads=path == LDAP_CF)
    if will_install_postfix(ctx) and not ctx.exists(path):
        ctx.predicted.add(path)  # the package may ship an example here; the wizard's file replaces it
    return change


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    source = answers.postfix.virtual_alias_source
    if answers.postfix.mode != "internet-site" or not source:
        return []
    map_type = database_type(ctx)
    changes: list[Change] = []
    if source == "file":
        changes.append(_owned_file(ctx, VIRTUAL, virtual_text(answers, map_type),
                                   f"the virtual aliases (2.4): {len(answers.postfix.virtual_aliases)} line(s)"))
        changes.append(Postmap(VIRTUAL, map_type, summary=f"index the virtual aliases: "
                                                          f"{VIRTUAL}{map_suffix(map_type)} ({map_type})"))
    else:
        changes.append(_owned_file(ctx, LDAP_CF, ldap_text(answers),
                                   "the LDAP lookup table for aliases (2.5): "
                                   f"{answers.postfix.ldap_aliases.server_host}"))
    settings = alias_settings(answers, map_type)
    changes.append(Postconf(settings, summary="main.cf: " + ", ".join(f"{k} = {v}" for k, v in settings)))
    return changes


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    p = answers.postfix
    if p.mode != "internet-site" or not p.virtual_alias_source:
        return []
    _, values, _ = live_values(host, ["virtual_alias_maps"])
    maps = values.get("virtual_alias_maps", "")
    map_type = maps.partition(":")[0] or profile.map_type
    checks = [settings_check(host, "postfix_aliases", "postconf shows the alias table",
                             alias_settings(answers, map_type))]
    if p.virtual_alias_source == "file":
        for alias, dest in list(p.virtual_aliases.items())[:20]:
            want = targets(dest)
            got = host.run(["postmap", "-q", alias, maps])
            good = got.ok and got.output.strip() == want
            checks.append(Check("postfix_aliases", f"postmap -q {alias}", "pass" if good else "fail",
                                got.output.strip()[-200:] or "not found",
                                "" if good else f"postmap {maps}"))
    else:
        probe = f"@{answers.server.domain}"
        got = host.run(["postmap", "-q", probe, f"ldap:{LDAP_CF}"])
        errors = [line for line in got.output.splitlines() if "warning" in line or "fatal" in line]
        good = got.returncode in (0, 1) and not errors
        checks.append(Check("postfix_aliases", f"postmap -q {probe} ldap:{LDAP_CF} reaches the directory",
                            "pass" if good else "fail",
                            ("; ".join(errors) or got.output.strip() or "no entry (the directory answered)")[-300:],
                            "" if good else f"check server_host and search_base in {LDAP_CF}"))
    return checks


STEP = Step("postfix_aliases", "Domains and aliases", "2.4, 2.5", plan=plan, verify=verify,
            applies=lambda a: a.postfix.mode == "internet-site" and bool(a.postfix.virtual_alias_source))
