"""Virtual users (guide 1.1.3): one local user owns every mailbox under one root directory.

The plan is the guide's procedure: `useradd --home-dir ROOT --shell
/usr/sbin/nologin vmail`, ROOT owned vmail:vmail with mode 0700 (`chown` and
`chmod`), on SELinux platforms the `mail_spool_t` label for a ROOT other than
/var/mail (`semanage fcontext -a` and `restorecon -Rv`), and `mail_location`
in conf.d/10-mail.conf. Debian's /var/mail carries the set-group-ID bit, which
GNU `chmod 700` keeps on a directory: `chmod 00700` clears it first, so the
directory really is 0700.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailwizard.answers import Answers, Problem, check_path
from mailwizard.dovecot_conf import edit_dovecot
from mailwizard.host import Host, LineSink
from mailwizard.plan import Change, Check, Command, EnsureDir, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step

FORMATS = ("sdbox", "mdbox", "maildir")
DEFAULT_ROOT = "/var/mail"  # already labelled mail_spool_t by the SELinux policy
RESERVED = {"root": "it is the superuser",
            "dovecot": "Dovecot's own unprivileged user must not own mail (guide 1.1.3)",
            "dovenull": "Dovecot's login processes run as it and must not reach mail (guide 1.1.3)",
            "postfix": "it is Postfix's user", "nobody": "it is shared by unrelated daemons"}
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# a mail root there would mix mail with the system or vanish at reboot
_SYSTEM_TREES = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/boot", "/proc", "/sys", "/dev",
                 "/run", "/tmp")
_TOO_WIDE = {"/", "/var", "/home", "/srv", "/opt", "/root", "/var/spool", "/var/lib"}


def mail_root(answers: Answers) -> str:
    """The mail root without a trailing slash."""
    return answers.mailbox.root.rstrip("/") or "/"


def mail_location(answers: Answers) -> str:
    root, fmt = mail_root(answers), answers.mailbox.format
    if fmt == "maildir":
        return f"maildir:{root}/%n/Maildir"
    return f"{fmt}:{root}/%n/"


def mail_conf(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/conf.d/10-mail.conf"


def fcontext_spec(root: str) -> str:
    return f"{root}(/.*)?"


def needs_label(answers: Answers, profile: Profile) -> bool:
    return profile.selinux and mail_root(answers) != DEFAULT_ROOT


def fcontext_present(ctx: PlanContext, spec: str, type_: str = "mail_spool_t") -> bool:
    """Whether the local SELinux file-context rules already give `spec` this type."""
    listing = ctx.fact("semanage:fcontext", lambda: ctx.host.run(["semanage", "fcontext", "-l", "-C"]))
    return listing.ok and any(line.split()[:1] == [spec] and f":{type_}:" in line
                              for line in listing.output.splitlines())


# what useradd changes: kept in the journal like every file the wizard writes, so rollback puts them
# back byte for byte (and keeps any an administrator changed since)
ACCOUNT_FILES = tuple(f"/etc/{name}{suffix}" for name in ("passwd", "group", "shadow", "gshadow", "subuid", "subgid")
                      for suffix in ("", "-"))


@dataclass(eq=False)
class CreateUser(Command):
    """The guide's `useradd`, undone by rollback through the account files it changes."""

    reversible: bool = True

    def apply(self, host: Host, journal, on_line: LineSink) -> None:
        for path in ACCOUNT_FILES:
            journal.backup(path, secret="shadow" in path)  # password hashes stay out of the journal
        super().apply(host, journal, on_line)
        for path in ACCOUNT_FILES:
            journal.written(path)


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    store = answers.mailbox
    problems: list[Problem] = []
    if store.user in RESERVED:
        problems.append(Problem("mailbox.user", f"{store.user!r} cannot own the mailboxes: "
                                f"{RESERVED[store.user]}; use a dedicated user such as vmail"))
    elif not _USER.match(store.user):
        problems.append(Problem("mailbox.user", f"{store.user!r} is not a valid user name: lower-case letters, "
                                "digits, _ and -, starting with a letter, e.g. vmail"))
    root = mail_root(answers)
    if msg := check_path(store.root, "mail root directory", DEFAULT_ROOT):
        problems.append(Problem("mailbox.root", msg))
    elif root in _TOO_WIDE:
        problems.append(Problem("mailbox.root", f"{root} would give the mail user the whole directory: "
                                f"use a directory of its own, e.g. {DEFAULT_ROOT} or /srv/vmail"))
    elif any(root == t or root.startswith(t + "/") for t in _SYSTEM_TREES):
        problems.append(Problem("mailbox.root", f"{root} is in a system directory: use e.g. "
                                f"{DEFAULT_ROOT} or /srv/vmail"))
    else:
        meta = ctx.stat(root)
        if meta is not None and not meta.is_dir:
            problems.append(Problem("mailbox.root", f"{root} exists and is not a directory"))
    if store.format not in FORMATS:
        problems.append(Problem("mailbox.format", f"{store.format!r} is not one of {', '.join(FORMATS)} "
                                "(sdbox is the guide's choice)"))
    return problems


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled:
        return []
    user, root, host = answers.mailbox.user, mail_root(answers), ctx.host
    changes: list[Change] = []
    uid = host.uid(user)
    changes.append(CreateUser(
        argv=["useradd", "--home-dir", root, "--shell", "/usr/sbin/nologin", user],
        summary=f"create the user {user} that owns all mailboxes (no login shell)",
        noop_reason=f"user {user} already exists (uid {uid})" if uid is not None else None,
        undo_hint="rollback restores the account files (/etc/passwd, /etc/group, ...)"))
    meta = ctx.stat(root)
    if meta is not None and meta.is_dir and meta.mode & 0o6000:
        changes.append(Command(
            argv=["chmod", "00700", root],  # the extra 0 clears set-group-ID, which `chmod 700` keeps
            summary=f"clear the set-group-ID bit of {root} ({meta.mode:o}): `chmod 700` alone keeps it",
            undo_hint=f"chmod {meta.mode:o} {root}"))
    existed = meta is not None and meta.is_dir
    changes.append(EnsureDir(root, 0o700, user, user, service="dovecot"))
    if needs_label(answers, ctx.profile):
        spec = fcontext_spec(root)
        labelled = fcontext_present(ctx, spec)
        changes.append(Command(
            argv=["semanage", "fcontext", "-a", "-t", "mail_spool_t", spec],
            summary=f"label {root} mail_spool_t for SELinux, so Dovecot may store mail there",
            noop_reason=f"SELinux already labels {spec} mail_spool_t" if labelled else None,
            undo_hint=f"semanage fcontext -d {spec!r}"))
        changes.append(Command(
            argv=["restorecon", "-Rv", root],
            summary=f"apply the SELinux label to {root}",
            noop_reason=f"{root} existed and its label rule was already in place" if labelled and existed else None,
            undo_hint="nothing to undo: restorecon only applies the policy's labels"))
    location = mail_location(answers)
    changes.append(edit_dovecot(ctx, mail_conf(ctx.profile), [((), "mail_location", location)],
                                summary=f"set mail_location = {location}",
                                noop_reason=f"mail_location = {location} already set"))
    return changes


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled:
        return []
    user, root = answers.mailbox.user, mail_root(answers)
    checks: list[Check] = []
    uid = host.uid(user)  # the root's owner and mode are checked with the private files (steps/files.py)
    checks.append(Check("vmail", f"user {user} exists", "pass" if uid is not None else "fail",
                        f"uid {uid}" if uid is not None else "no such user",
                        "" if uid is not None else f"useradd --home-dir {root} --shell /usr/sbin/nologin {user}"))
    want = mail_location(answers)
    result = host.run(["doveconf", "-h", "mail_location"])
    got = result.output.strip()
    checks.append(Check("vmail", "doveconf shows mail_location", "pass" if result.ok and got == want else "fail",
                        f"mail_location = {got}" if result.ok else got[-300:],
                        "" if got == want else f"set mail_location = {want} in {mail_conf(profile)}"))
    return checks


STEP = Step("vmail", "Virtual users", "1.1.3", plan=plan, verify=verify, validate=validate,
            applies=lambda a: a.dovecot_enabled)
