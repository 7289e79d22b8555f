"""Mailboxes (guide 1.5): special-use mailboxes and their auto-creation in the inbox namespace.

Every mailbox of the answers becomes (or updates) a `mailbox NAME {}` block
inside `namespace inbox {}` of conf.d/15-mailboxes.conf, with `special_use`
(RFC 6154) and `auto = subscribe|create|no`. The blocks Dovecot ships for
Drafts, Junk, Trash and Sent are edited in place; a name with a space is
quoted (`mailbox "Important Emails" {`).
"""

from __future__ import annotations

import re

from mailwizard.answers import Answers, MailboxDef, Problem
from mailwizard.dovecot_conf import Document, Setting, doveconf_n, edit_dovecot
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step

SPECIAL_USE = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
AUTO = ("subscribe", "create", "no")
NAMESPACE = "namespace inbox"
_BARE = re.compile(r"^[A-Za-z0-9_.-]+$")
_FORBIDDEN = set('"{}\\*%#') | {"\n", "\r", "\t"}


def mailboxes_conf(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/conf.d/15-mailboxes.conf"


def section(name: str) -> tuple[str, str]:
    """The block path of a mailbox, as the config file (and `doveconf -n`) writes its header."""
    return (NAMESPACE, f"mailbox {name}" if _BARE.match(name) else f'mailbox "{name}"')


def check_mailbox(box: MailboxDef) -> list[Problem]:
    key = f"mailboxes.{box.name}"
    problems: list[Problem] = []
    bad = sorted(_FORBIDDEN & set(box.name))
    if not box.name.strip():
        problems.append(Problem("mailboxes", "a mailbox has an empty name"))
    elif bad or box.name != box.name.strip():
        shown = " ".join(repr(c) for c in bad) if bad else "spaces at either end"
        problems.append(Problem(key, f"the name {box.name!r} cannot be written into the configuration "
                                f"({shown}): use letters, digits, spaces, . _ -"))
    elif box.name.upper() == "INBOX":
        problems.append(Problem(key, "INBOX always exists; it needs no entry"))
    uses = box.special_use.split()
    for use in uses:
        if use not in SPECIAL_USE:
            problems.append(Problem(f"{key}.special_use", f"{use!r} is not a special-use flag of RFC 6154: "
                                    f"one of {' '.join(SPECIAL_USE)}, or empty"))
    if box.auto not in AUTO:
        problems.append(Problem(f"{key}.auto", f"{box.auto!r} is not one of subscribe (create and subscribe), "
                                "create, no"))
    return problems


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for box in answers.mailboxes:
        problems += check_mailbox(box)
        if box.name in seen:
            problems.append(Problem(f"mailboxes.{box.name}", "is listed twice"))
        seen.add(box.name)
    return problems


def settings(answers: Answers, current: str) -> list[Setting]:
    out: list[Setting] = []
    doc = Document(current)
    for box in answers.mailboxes:
        where = section(box.name)
        use = " ".join(box.special_use.split())
        if use or doc.get("special_use", where):
            out.append((where, "special_use", use))
        out.append((where, "auto", box.auto))
    return out


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled or not answers.mailboxes:
        return []
    path = mailboxes_conf(ctx.profile)
    current = ctx.read_text(path) or ""
    names = ", ".join(box.name for box in answers.mailboxes)
    return [edit_dovecot(ctx, path, settings(answers, current),
                         summary=f"mailboxes {names} in the inbox namespace",
                         noop_reason=f"mailboxes {names} already configured")]


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled or not answers.mailboxes:
        return []
    ok, text = doveconf_n(host)
    wrong = []
    doc = Document(text)
    for box in answers.mailboxes:
        where = section(box.name)
        use = doc.get("special_use", where) or ""
        auto = doc.get("auto", where) or "no"  # doveconf -n leaves out the default
        if use.split() != box.special_use.split() or auto != box.auto:
            wrong.append(f"{box.name}: special_use = {use or '(none)'}, auto = {auto}")
    shown = ", ".join(f"{b.name} ({' '.join(filter(None, [b.special_use, b.auto]))})" for b in answers.mailboxes)
    good = ok and not wrong
    return [Check("mailboxes", "doveconf shows the mailboxes", "pass" if good else "fail",
                  shown if good else ("; ".join(wrong) if ok else text.strip()[-300:]),
                  "" if good else f"see namespace inbox in {mailboxes_conf(profile)}")]


STEP = Step("mailboxes", "Mailboxes", "1.5", plan=plan, verify=verify, validate=validate,
            applies=lambda a: a.dovecot_enabled)
