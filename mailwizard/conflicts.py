"""An administrator's own edits, made after mailwizard wrote a file: found, shown as a diff, decided.

As dpkg does for a changed configuration file, neither a re-run nor a rollback
overwrites such a file silently. Each edited file becomes a Conflict holding
the administrator's current bytes and what mailwizard would put there instead
(the plan's new content on a re-run; the original, or nothing, on a rollback).
The administrator decides per file: KEEP theirs, TAKE mailwizard's, or STOP
(nothing is changed). A file the wizard recorded having written (its
`wizard_sha` in the journal) is "edited" when its bytes now differ from that.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from mailwizard.plan import Plan, sha

if TYPE_CHECKING:
    from mailwizard.host import Host
    from mailwizard.journal import Journal

KEEP, TAKE, STOP = "keep", "take", "stop"
CHOICES = (KEEP, TAKE, STOP)
# postmap/postalias output is rebuilt from its source (with nondeterministic bytes): it follows its source
DERIVED_SUFFIXES = (".db", ".lmdb", ".cdb")


class ConflictStop(Exception):
    """The administrator chose to stop: nothing was changed."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__("stopped: " + ", ".join(c.path for c in conflicts))
        self.conflicts = conflicts


@dataclass
class Conflict:
    path: str
    current: bytes | None  # the administrator's file now (None: they removed it)
    proposed: bytes | None  # what mailwizard would put there (None: remove it)
    theirs: str  # what TAKE does, in words: "restore the original", "apply the planned change"
    secret: bool = False

    def diff(self) -> str:
        """The administrator's file against mailwizard's, as a unified diff (secrets never shown)."""
        yours = f"{self.path} (yours)"
        wizard = f"{self.path} (mailwizard's)"
        if self.secret:
            return (f"--- {yours}\n+++ {wizard}\n"
                    "(secret-bearing file: content not shown; compare it yourself as root)\n")
        old = _lines(self.current)
        new = _lines(self.proposed)
        text = "".join(difflib.unified_diff(old, new, "/dev/null" if self.current is None else yours,
                                            "/dev/null" if self.proposed is None else wizard))
        return text or f"--- {yours}\n+++ {wizard}\n(same text; owner or mode differ)\n"

    def to_json(self) -> dict:
        return {"path": self.path, "take": self.theirs, "diff": self.diff()}


def _lines(data: bytes | None) -> list[str]:
    return [] if data is None else data.decode("utf-8", "replace").splitlines(keepends=True)


def derived_source(path: str, known: dict) -> str | None:
    """The map source `path` is built from (FILE for FILE.db), when the journal knows that source."""
    for suffix in DERIVED_SUFFIXES:
        if path.endswith(suffix) and path[: -len(suffix)] in known:
            return path[: -len(suffix)]
    return None


def edited(entry: dict, current: bytes | None) -> bool:
    """The file differs from what the wizard last wrote there (or was writing when a run was killed)."""
    if "wizard_sha" not in entry or entry.get("in_flight"):  # never written, or killed while the wizard wrote it
        return False
    return sha(current) not in (entry["wizard_sha"], entry.get("pending_sha"))


# --- a re-run's plan ---------------------------------------------------------

def change_paths(change) -> list[str]:
    """The files a change writes whole or edits (derived maps left out)."""
    if change.kind in ("file", "remove"):
        return [change.path]
    if change.kind in ("postconf", "master.cf"):
        return [change.path(name) for name in change.files]
    return []


def _proposed(change, path: str) -> bytes | None:
    if change.kind == "file":
        return change.content
    if change.kind == "remove":
        return None
    return change.after[path.rsplit("/", 1)[1]].encode("utf-8", "surrogateescape")


def in_plan(plan: Plan, journal: Journal, host: Host) -> list[Conflict]:
    """Files the plan would change that the administrator edited since mailwizard wrote them.

    Marks each such change (`change.conflict`), so the review and the printed plan show it.
    """
    files = journal.index["files"]
    found: dict[str, Conflict] = {}
    for change in plan.active():
        for path in change_paths(change):
            entry = files.get(path)
            if entry is None or entry.get("kind") != "file":
                continue
            current = host.read(path)
            if not edited(entry, current):
                continue
            if path not in found:
                found[path] = Conflict(path, current, None, "apply the planned change",
                                       secret="beside" in entry or getattr(change, "secret", False))
            found[path].proposed = _proposed(change, path)  # the last change to the file: its end state
            change.conflict = f"{path} was edited since mailwizard wrote it"
    return list(found.values())


def in_session(session, plan: Plan) -> list[Conflict]:
    """in_plan() for a session on this host (a plan for another platform has no journal to ask)."""
    if session.offline:
        return []
    journal = session.journal()
    return in_plan(plan, journal, session.host) if journal.exists() else []


def resolve_plan(plan: Plan, conflicts: list[Conflict], decide: Callable[[Conflict], str]) -> list[str]:
    """Ask about each conflict; KEEP skips every change to that file (with the reason).

    Raises ConflictStop (the plan untouched) when any answer is STOP. Returns the kept paths.
    """
    decisions = {c.path: decide(c) for c in conflicts}
    stopped = [c for c in conflicts if decisions[c.path] == STOP]
    if stopped:
        raise ConflictStop(stopped)
    kept = [p for p, d in decisions.items() if d == KEEP]
    for change in plan.active():
        touched = [p for p in change_paths(change) if p in kept]
        if touched:
            change.noop = f"your edit of {', '.join(touched)} is kept (you chose: keep mine)"
    for change in plan.changes:
        if change.noop is None and change.conflict:
            change.conflict = None  # taken: the change goes ahead as planned, on the edited file
            change.merges = tuple(p for p in change_paths(change) if p in decisions)
    return kept


# --- deciders ------------------------------------------------------------------

def fixed(choice: str) -> Callable[[Conflict], str]:
    """The same answer for every file (--on-conflict keep|take|stop)."""
    if choice not in CHOICES:
        raise ValueError(f"--on-conflict: {choice!r} is not one of {', '.join(CHOICES)}")
    return lambda conflict: choice


def ask_terminal(stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> Callable[[Conflict], str]:
    """Ask on the terminal, as dpkg does: the diff, then k/t/s (d shows the diff again)."""
    def decide(conflict: Conflict) -> str:
        stdout.write(f"\nConfiguration file {conflict.path}\n"
                     "  ==> Modified (by you or by a script) since mailwizard wrote it.\n"
                     f"  ==> mailwizard would {conflict.theirs}.\n\n{conflict.diff()}\n")
        while True:
            stdout.write(f"  k : keep your version\n  t : take mailwizard's ({conflict.theirs})\n"
                         "  s : stop here, change nothing\n  d : show the differences again\n"
                         f"*** {conflict.path} (k/t/s/d) [s] ? ")
            stdout.flush()
            line = stdin.readline()
            answer = line.strip().lower()[:1] or "s"
            if not line:  # end of input: the safe answer
                return STOP
            if answer == "d":
                stdout.write(conflict.diff() + "\n")
                continue
            picked = {"k": KEEP, "t": TAKE, "s": STOP}.get(answer)
            if picked:
                return picked
    return decide


def advice(conflicts: list[Conflict], command: str) -> str:
    """What to tell an administrator when an unattended run stopped on their edits."""
    lines = [f"stopped: {len(conflicts)} file(s) were edited since mailwizard wrote them; nothing was changed:"]
    lines += [f"  {c.path}" for c in conflicts]
    lines += ["decide, then run again:",
              f"  {command} --on-conflict keep   keep your edits (those files are left as they are)",
              f"  {command} --on-conflict take   take mailwizard's ({conflicts[0].theirs})",
              "  (or run it on a terminal without --on-conflict to decide file by file)"]
    return "\n".join(lines)
