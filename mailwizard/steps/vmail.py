"""Virtual users (guide 1.1.3): one local user owns every mailbox under one root directory.

The plan is the guide's procedure: `useradd --home-dir ROOT --shell
/usr/sbin/nologin vmail`, ROOT owned vmail:vmail with mode 0700 (`chown` and
`chmod`), on SELinux platforms the `mail_spool_t` label for a ROOT other than
/var/mail (`semanage fcontext -a` and `restorecon -Rv`), and `mail_location`
in conf.d/10-mail.conf. Debian's /var/mail carries the set-group-ID bit, which
GNU `chmod 700` keeps on a directory: `chmod 00700` clears it first, so the
directory really is 0700 (rollback puts 2775 back). On RHEL /var/mail is a
symlink to spool/mail: owner, mode and label go to /var/spool/mail (the
directory the guide's `chown vmail:vmail /var/mail/` reaches), the symlink
stays as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailwizard.answers import Answers, Problem, as_written, check_path, normalise_path
from mailwizard.dovecot_conf import edit_dovecot
from mailwizard.host import Host
from mailwizard.plan import Change, Check, Command, Effects, EnsureDir, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step

FORMATS = ("sdbox", "mdbox", "maildir")
DEFAULT_ROOT = "/var/mail"  # already labelled mail_spool_t by the SELinux policy
RESERVED = {"root": "it is the superuser",
            "dovecot": "Dovecot's own unprivileged user must not own mail (guide 1.1.3)",
            "dovenull": "Dovecot's login processes run as it and must not reach mail (guide 1.1.3)",
            "postfix": "it is Postfix's user", "nobody": "it is shared by unrelated daemons"}
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Directories that are the system's, a daemon's or mailwizard's own: the plan makes the mail root owned by
# the mail user with mode 0700, so these are refused themselves and everything under them (mail would
# mix with the system, lock out its daemons, or vanish at reboot).
_SYSTEM_TREES = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/proc", "/sys",
                 "/dev", "/run", "/tmp", "/root", "/var/tmp", "/var/run", "/var/lock", "/var/log", "/var/cache",
                 "/var/backups", "/var/spool/postfix", "/var/spool/cron", "/var/www", "/lost+found",
                 "/var/lib/mailwizard", "/var/lib/dovecot", "/var/lib/postfix", "/var/lib/dpkg", "/var/lib/apt",
                 "/var/lib/rpm", "/var/lib/dnf", "/var/lib/systemd", "/var/lib/selinux", "/var/lib/mysql",
                 "/var/lib/ldap", "/var/lib/openldap")
# Directories that hold other things: a mail root of its own below them is fine, the directory itself not
# (it would hand every sibling to the mail user)
_TOO_WIDE = {"/", "/var", "/home", "/srv", "/opt", "/mnt", "/media", "/var/spool", "/var/lib", "/var/opt",
             "/var/local", "/usr/local"}
_SANE = "/var/mail, /var/vmail, /var/mail/vhosts or /srv/mail"


def root_problem(root: str) -> str | None:
    """Why the (normalised) directory `root` must not be the mail root, or None."""
    if root in _TOO_WIDE:
        return (f"would give the mail user the whole directory {root}, which holds other things: use a directory "
                f"of its own, e.g. {_SANE}")
    for tree in _SYSTEM_TREES:
        if root == tree or root.startswith(tree + "/"):
            whose = "mailwizard's own state" if tree == "/var/lib/mailwizard" else \
                "a daemon's own" if tree.startswith(("/var/lib/", "/var/spool/")) else "a system directory"
            where = "is" if root == tree else f"is under {tree},"
            return (f"{where} {whose}: the wizard would make it owned by the mail user, mode 0700; "
                    f"use a directory of its own, e.g. {_SANE}")
    return None


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


def store_dir(answers: Answers, ctx: PlanContext) -> str:
    """The directory that really holds the mail: the mail root with its symlinks resolved.

    RHEL's `filesystem` package makes /var/mail a symlink to spool/mail (/var/spool/mail, 0775
    root:mail): the guide's `chown vmail:vmail /var/mail/` follows it, and an SELinux label rule
    only applies to the real path (restorecon does not follow a symlink), so owner, mode and label
    are planned for /var/spool/mail and the symlink is left alone.
    """
    root = mail_root(answers)
    return ctx.fact(f"realpath:{root}", lambda: ctx.host.realpath(root))


def needs_label(store: str, profile: Profile) -> bool:
    """Whether the directory holding the mail needs a local SELinux rule (the policy labels only these)."""
    return profile.selinux and store not in POLICY_MAIL_DIRS


POLICY_MAIL_DIRS = (DEFAULT_ROOT, "/var/spool/mail")  # mail_spool_t in the targeted policy


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

    def effects(self, host: Host, work) -> Effects:
        effects = super().effects(host, work)
        for path in ACCOUNT_FILES:
            effects.write(path, None, secret="shadow" in path)  # password hashes stay out of the journal
        return effects


@dataclass(eq=False)
class ClearSetgid(Command):
    """`chmod 00700 DIR`, with DIR's owner and mode (set-group-ID bit included) kept first for rollback."""

    reversible: bool = True

    def effects(self, host: Host, work) -> Effects:
        return super().effects(host, work) | Effects(attrs=[self.argv[-1]])


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    store = answers.mailbox
    problems: list[Problem] = []
    if store.user in RESERVED:
        problems.append(Problem("mailbox.user", f"{store.user!r} cannot own the mailboxes: "
                                f"{RESERVED[store.user]}; use a dedicated user such as vmail"))
    elif not _USER.match(store.user):
        problems.append(Problem("mailbox.user", f"{store.user!r} is not a valid user name: lower-case letters, "
                                "digits, _ and -, starting with a letter, e.g. vmail"))
    store.root = normalise_path(store.root)  # //etc, /srv/../etc and /var/mail/. are validated as used
    root = mail_root(answers)
    shown = as_written(answers, "mailbox.root", root)
    real = store_dir(answers, ctx)  # RHEL's /var/mail is a symlink: the directory it leads to holds the mail
    if msg := check_path(store.root, "mail root directory", DEFAULT_ROOT):
        problems.append(Problem("mailbox.root", msg))
    elif msg := root_problem(root):
        problems.append(Problem("mailbox.root", f"{shown} {msg}"))
    elif real != root and (msg := root_problem(real)):
        problems.append(Problem("mailbox.root", f"{shown} leads through a symbolic link to {real}, which {msg}"))
    else:
        meta = ctx.stat(real)
        if meta is None and real != root and ctx.stat(root) is not None:
            problems.append(Problem("mailbox.root", f"{shown} is a symbolic link to {real}, which does not exist: "
                                    f"create {real} or give another root"))
        elif meta is not None and not meta.is_dir:
            via = f" ({shown} leads to it)" if real != root else ""
            problems.append(Problem("mailbox.root", f"{real}{via} exists and is not a directory"))
        elif meta is not None and meta.uid not in (0, ctx.host.uid(store.user)):
            owner = ctx.host.user_name(meta.uid) or f"uid {meta.uid}"
            problems.append(Problem("mailbox.root", f"{shown} belongs to {owner}: the wizard would give it to "
                                    f"{store.user}, mode 0700; use a directory of its own, e.g. {_SANE}"))
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
    store = store_dir(answers, ctx)  # RHEL: /var/mail -> /var/spool/mail; the symlink itself is left alone
    via = f" (where the symlink {root} leads)" if store != root else ""
    meta = ctx.stat(store)
    if meta is not None and meta.is_dir and meta.mode & 0o6000:
        changes.append(ClearSetgid(
            argv=["chmod", "00700", store],  # the extra 0 clears set-group-ID, which `chmod 700` keeps
            summary=f"clear the set-group-ID bit of {store} ({meta.mode:o}){via}: `chmod 700` alone keeps it"))
    existed = meta is not None and meta.is_dir
    changes.append(EnsureDir(store, 0o700, user, user, service="dovecot"))
    if needs_label(store, ctx.profile):
        spec = fcontext_spec(store)
        labelled = fcontext_present(ctx, spec)
        changes.append(Command(
            argv=["semanage", "fcontext", "-a", "-t", "mail_spool_t", spec],
            summary=f"label {store}{via} mail_spool_t for SELinux, so Dovecot may store mail there",
            noop_reason=f"SELinux already labels {spec} mail_spool_t" if labelled else None,
            undo=[["semanage", "fcontext", "-d", spec]]))
        changes.append(Command(
            argv=["restorecon", "-Rv", store],
            summary=f"apply the SELinux label to {store}",
            noop_reason=f"{store} existed and its label rule was already in place" if labelled and existed else None,
            reversible=True))  # nothing to undo: restorecon only applies the policy's labels
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
