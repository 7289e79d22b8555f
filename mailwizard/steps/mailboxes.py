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


# Dovecot's own rules for a mailbox name (mailbox_verify_name, tried with doveadm mailbox create on
# Dovecot 2.3.19): the hierarchy separator is / for sdbox and mdbox (the fs layout), . for Maildir++;
# a level is a directory name, at most 255 bytes once encoded in modified UTF-7 (Maildir++ puts the
# whole name, after a dot, in one directory name)
SEPARATOR = {"sdbox": "/", "mdbox": "/", "maildir": "."}
NAME_MAX = 255


def utf7_length(text: str) -> int:
    """The length of `text` in IMAP's modified UTF-7 (RFC 3501 5.1.3), as Dovecot names directories."""
    length, run = 0, 0
    for c in text + "\0":
        if " " <= c <= "~" or c == "\0":
            if run:
                length += 2 + -(-run * 16 // 6)  # &...- around the base64 of the UTF-16 units
                run = 0
            length += 2 if c == "&" else (0 if c == "\0" else 1)
        else:
            run += 2 if ord(c) > 0xFFFF else 1
    return length


def dovecot_name_problem(name: str, fmt: str = "sdbox") -> str | None:
    """Why Dovecot would refuse to create the mailbox `name` in this mail format, or None."""
    sep = SEPARATOR.get(fmt, "/")
    if sep == "." and "/" in name:
        return "contains /, which a Maildir mailbox name cannot hold (its levels are separated by .)"
    if name.startswith(sep):
        return f"starts with the hierarchy separator {sep}"
    if name.startswith("~"):
        return "starts with ~, which Dovecot refuses"
    levels = name.rstrip(sep).split(sep)
    if "" in levels:
        return f"has an empty level (two {sep} in a row)"
    if sep == "/" and any(level in (".", "..") for level in levels):
        return "has a level . or .., which Dovecot refuses"
    longest = utf7_length(name) + 1 if sep == "." else max(utf7_length(level) for level in levels)
    if longest > NAME_MAX:
        return f"is too long for Dovecot: {longest} bytes where a directory name holds {NAME_MAX}"
    return None


def check_mailbox(box: MailboxDef, fmt: str = "sdbox") -> list[Problem]:
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
    elif msg := dovecot_name_problem(box.name, fmt):
        problems.append(Problem(key, f"the name {box.name!r} {msg}"))
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
        problems += check_mailbox(box, answers.mailbox.format)
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
