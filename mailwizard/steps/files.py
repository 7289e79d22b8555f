"""Files (the report): every private file the plan writes has the owner and mode the plan gives it.

Nothing is planned. The list comes from the plan itself, recomputed against
the running host: every WriteFile or FileAttrs that is secret-bearing or
private (no access for group or others beyond the plan's own group) — the TLS
key, the LDAP/SQL/replication configs (0600 root:root), the SQL option file
(0640 root:dovecot), the mail root (0700 vmail:vmail) — must have exactly
that owner and mode. Secret files the administrator supplies and the plan
only reads (Postfix's own key, the replication, LDAP and SQL password files)
must be owned by root and unreadable by others; readable by a group is a
warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from mailwizard.answers import Answers
from mailwizard.host import FileMeta, Host
from mailwizard.plan import Change, Check, EnsureDir, FileAttrs, PlanContext, WriteFile
from mailwizard.platform import Profile
from mailwizard.steps import Step

NAME = "files"


@dataclass
class Wanted:
    path: str
    mode: int
    owner: str
    group: str
    is_dir: bool = False


def _private(change: Change) -> TypeGuard[WriteFile | FileAttrs]:
    return isinstance(change, (WriteFile, FileAttrs)) and (getattr(change, "secret", False)
                                                          or not change.mode & 0o007)


def planned(answers: Answers, host: Host, profile: Profile) -> tuple[list[Wanted], list[Check]]:
    """The private files of the plan made now on `host` (the last change of each path wins), and a warning
    for each step that could not be planned."""
    from mailwizard.steps import all_steps  # here: steps/__init__ imports this module

    ctx = PlanContext(host, profile)
    wanted: dict[str, Wanted] = {}
    trouble: list[Check] = []
    for step in all_steps():
        if not step.applies(answers):
            continue
        try:
            changes = step.plan(answers, ctx)
            for change in changes:  # checked in order, as the engine does: later steps see earlier files
                change.noop = change.check(ctx)
                if change.noop is None and change.service:
                    ctx.dirty.add(change.service)
        except Exception as exc:  # one step's trouble must not hide the other files
            trouble.append(Check(NAME, f"files of step {step.name}", "warn", f"{type(exc).__name__}: {exc}",
                                 "run `mailwizard --dry-run` to see the step's problem"))
            continue
        for change in changes:
            if _private(change):
                wanted[change.path] = Wanted(change.path, change.mode, change.owner, change.group,
                                             isinstance(change, EnsureDir))
    return list(wanted.values()), trouble


def supplied_secrets(answers: Answers) -> list[str]:
    """Secret files the administrator gives and the plan only reads."""
    from mailwizard.steps.postfix_tls import cert_paths

    paths = []
    if answers.postfix.mode == "internet-site":
        paths.append(cert_paths(answers)[1])
    auth = answers.auth
    if answers.dovecot_enabled and auth.backend == "ldap":
        paths.append(auth.ldap.dnpass_file)
    if answers.dovecot_enabled and auth.backend == "sql":
        paths.append(auth.sql.password_file)
    if answers.dovecot_enabled and answers.replication.enabled:
        paths.append(answers.replication.password_file)
    return [p for p in paths if p]


def _shown(host: Host, meta: FileMeta) -> str:
    return f"{meta.mode:04o} {host.user_name(meta.uid)}:{host.group_name(meta.gid)}"


def exact_check(host: Host, want: Wanted) -> Check:
    """The path has exactly the owner, group and mode the plan gives it."""
    meta = host.stat(want.path)
    name = want.path if want.is_dir else want.path.rsplit("/", 1)[-1]
    title = f"{name} is {want.mode:04o} {want.owner}:{want.group}"
    uid, gid = host.uid(want.owner), host.gid(want.group)
    good = meta is not None and meta.mode == want.mode and (meta.uid, meta.gid) == (uid, gid) and \
        meta.is_dir == want.is_dir
    evidence = f"{want.path}: {_shown(host, meta) if meta else 'missing'}"
    fix = "" if good else f"chown {want.owner}:{want.group} {want.path}; chmod {want.mode:o} {want.path}"
    if meta is None:
        fix = "run the wizard again: it creates the file"
    return Check(NAME, title, "pass" if good else "fail", evidence, fix)


def supplied_check(host: Host, path: str) -> Check:
    """A secret the administrator supplied: root's, unreadable by others (readable by a group: a warning).

    A symbolic link is judged by the file it leads to (certbot's live/ keys lead into archive/)."""
    meta = host.stat(host.realpath(path))
    title = f"{path.rsplit('/', 1)[-1]} is readable by root alone"
    if meta is None:
        return Check(NAME, title, "fail", f"{path}: missing", f"put the file at {path}")
    fix = f"chown root:root {path}; chmod 600 {path}"
    evidence = f"{path}: {_shown(host, meta)}"
    if meta.uid != 0 or meta.mode & 0o007:
        return Check(NAME, title, "fail", evidence, fix)
    if meta.mode & 0o070:
        return Check(NAME, title, "warn", evidence + " (its group may read it)", fix)
    return Check(NAME, title, "pass", evidence)


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    wanted, checks = planned(answers, host, profile)
    checks += [exact_check(host, w) for w in wanted]
    seen = {w.path for w in wanted}
    checks += [supplied_check(host, p) for p in dict.fromkeys(supplied_secrets(answers)) if p not in seen]
    return checks


STEP = Step(NAME, "Files", "1.1.2, 1.1.3, 1.2.4, 1.3.4, 1.4", verify=verify)
