"""The session: validate, plan, apply exactly the plan, verify — shared by the TUI and --unattended.

Progress is reported through plain event objects passed to a callback, so a
TUI worker can turn them into messages and the command line can print them;
a threading.Event passed to apply() stops the run between two changes. Each
change goes through the one executor (executor.py), which journals its
effects before and after it; what a killed run left in flight is settled
when the journal next opens.

Fault injection for the interruption harness (tests/e2e/test_kill_resume.py,
bench/kill_points.py) and nothing else: MAILWIZARD_KILL_AFTER=K makes the
process SIGKILL itself right after change K (0-based, among the applied ones)
is journalled done; MAILWIZARD_KILL_IN_WRITE=K kills it inside change K's
file write, after the temp file is written and before it is renamed. Unset,
they cost one dictionary lookup per run.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from mailwizard.answers import Answers, Problem, validate
from mailwizard.executor import execute
from mailwizard.host import Host
from mailwizard.journal import DEFAULT_DIR, Journal
from mailwizard.plan import Change, Check, Plan, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step, all_steps


@dataclass
class ChangeStarted:
    index: int
    total: int
    change: Change


@dataclass
class OutputLine:
    line: str


@dataclass
class ChangeDone:
    index: int
    total: int
    change: Change


@dataclass
class ChangeFailed:
    change: Change
    error: str


@dataclass
class ApplyResult:
    status: str  # "applied", "failed", "stopped"
    done: int = 0
    error: str = ""
    failed_change: str = ""


Events = Callable[[object], None]

KILL_AFTER = "MAILWIZARD_KILL_AFTER"
KILL_IN_WRITE = "MAILWIZARD_KILL_IN_WRITE"


def _kill_point(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


def _die(*_args) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def describe_os_error(exc: OSError) -> str:
    """`PATH: reason` (e.g. "No space left on device"), the way an administrator reads it."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        src, dst, why = exc.args[0][0]  # copytree's list of (source, destination, error text)
        return f"cannot copy {src} to {dst}: {why}"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _ignore(event: object) -> None:
    pass


def batch(changes: list[Change]) -> None:
    """Mark runs of consecutive changes with one batch_key(): they share a dict, the last one validates them."""
    shared: dict | None = None
    for change, after in zip(changes, [*changes[1:], None]):
        key = change.batch_key()
        if key is not None and shared is None:
            shared = {}
        change.batch = shared if key is not None else None
        change.batch_end = after is None or key is None or after.batch_key() != key
        if change.batch_end:
            shared = None


@dataclass
class Session:
    answers: Answers
    host: Host
    profile: Profile
    offline: bool = False
    dry_run: bool = False
    journal_dir: str = DEFAULT_DIR
    steps: list[Step] = field(default_factory=all_steps)
    prefilled: list[str] = field(default_factory=list)  # answers keys read from this host (existing.py)

    def active_steps(self) -> list[Step]:
        return [s for s in self.steps if s.applies(self.answers)]

    def journal(self) -> Journal:
        return Journal(self.host, self.journal_dir)

    def context(self) -> PlanContext:
        journal = self.journal()
        pending = set() if self.offline else set(journal.state["pending_reloads"])
        unfinished = set() if self.offline else journal.unfinished()
        own: dict[str, set[str] | None] = {}
        if not self.offline:
            for path, entry in journal.index["files"].items():
                shas = {entry[k] for k in ("wizard_sha", "pending_sha") if k in entry}
                own[path] = None if entry.get("in_flight") else shas

        def original(path: str) -> bytes | None:
            try:
                return None if self.offline else journal.original(path)
            except OSError:  # not root (a dry run): the journal's backups cannot be read
                return None

        return PlanContext(self.host, self.profile, offline=self.offline, dry_run=self.dry_run,
                           pending_reloads=pending, unfinished=unfinished, own_files=own, originals=original)

    def problems(self) -> list[Problem]:
        """Everything wrong with the answers, on this host; errors first."""
        problems = validate(self.answers)
        if not any(p.severity == "error" for p in problems):
            ctx = self.context()
            for step in self.active_steps():
                problems += step.validate(self.answers, ctx)
        return sorted(problems, key=lambda p: p.severity != "error")

    def errors(self) -> list[Problem]:
        return [p for p in self.problems() if p.severity == "error"]

    def plan(self, problems: list[Problem] | None = None) -> Plan:
        """The changes of every active step; `problems`: what problems() has just said (its warnings go
        with the plan), when the caller asked already."""
        ctx = self.context()
        changes: list[Change] = []
        for step in self.active_steps():
            for change in step.plan(self.answers, ctx):
                change.step = step.name
                change.noop = change.check(ctx)
                if change.noop is None and change.service:
                    ctx.dirty.add(change.service)
                changes.append(change)
        if problems is None:
            problems = self.problems()
        warnings = [str(p) for p in problems if p.severity == "warning"]
        return Plan(self.profile.name, changes, warnings)

    def keep_answers(self) -> str | None:
        """Put the answers in the journal (never a secret), where `--resume` finds them; why it could not, or None."""
        text = self.answers.to_toml()
        try:
            if self.journal().load_answers() == text:
                return None  # already there: the journal (its lock included) stays untouched
            with self.journal() as journal:
                journal.save_answers(text)
        except OSError as exc:  # disk full, read-only: the run stops before any change, with the reason
            return f"cannot keep the journal in {self.journal_dir}: {describe_os_error(exc)}"
        return None

    def apply(self, plan: Plan, on_event: Events = _ignore,
              cancel: threading.Event | None = None) -> ApplyResult:
        """Apply the plan's changes in order, journalled; stop between changes when cancelled."""
        done = [0]
        try:
            return self._apply(plan, on_event, cancel, done)
        except OSError as exc:  # the journal itself cannot be written (disk full, read-only): say so, no traceback
            error = f"cannot keep the journal in {self.journal_dir}: {describe_os_error(exc)}"
            return ApplyResult("failed", done[0], error, "journal")

    def _apply(self, plan: Plan, on_event: Events, cancel: threading.Event | None,
               done: list[int]) -> ApplyResult:
        active = plan.active()
        total = len(active)
        batch(active)
        kill_after, kill_in_write = _kill_point(KILL_AFTER), _kill_point(KILL_IN_WRITE)
        with self.journal() as journal:
            journal.save_answers(self.answers.to_toml())
            journal.save_state(status="applying", platform=self.profile.name, verified=[])
            journal.record("apply", changes=total)
            for index, change in enumerate(active):
                in_batch = index > 0 and not active[index - 1].batch_end  # stopped only once it is validated
                if cancel is not None and cancel.is_set() and not in_batch:
                    journal.save_state(status="stopped")
                    journal.record("stopped", before=change.key())
                    return ApplyResult("stopped", index)
                on_event(ChangeStarted(index, total, change))
                journal.record("begin", key=change.key(), step=change.step)
                if index == kill_in_write:
                    self.host.before_rename = _die
                try:
                    execute(change, self.host, journal, lambda line: on_event(OutputLine(line)))
                except Exception as exc:  # reported to the admin, journal kept for --resume
                    error = describe_os_error(exc) if isinstance(exc, OSError) else str(exc) or type(exc).__name__
                    journal.record("failed", key=change.key(), error=error[-2000:])
                    journal.save_state(status="failed")
                    on_event(ChangeFailed(change, error))
                    return ApplyResult("failed", index, error, change.describe())
                self.host.before_rename = None
                journal.record("done", key=change.key())
                done[0] = index + 1
                if index == kill_after:
                    _die()
                on_event(ChangeDone(index, total, change))
            journal.save_state(status="applied")
        return ApplyResult("applied", total)

    def verify(self) -> list[Check]:
        checks: list[Check] = []
        for step in self.active_steps():
            try:
                checks += step.verify(self.answers, self.host, self.profile)
            except Exception as exc:  # a broken probe is a failed check, not a crash
                checks.append(Check(step.name, "verify ran", "fail", f"{type(exc).__name__}: {exc}"))
        return checks

    def record_verified(self, checks: list[Check]) -> None:
        failed = {c.step for c in checks if c.status == "fail"}
        verified = [s.name for s in self.active_steps() if s.name not in failed]
        with self.journal() as journal:
            journal.save_state(verified=verified, status="verified" if not failed else "applied")

    def answers_copy_problem(self, path: str, here: bool = False) -> str | None:
        """Why a copy of the answers must not be written at `path` (asked before "Replace the file?"), or None.

        `here`: on this machine's files (a dry run: it needs no root, and --platform's host is a simulated
        one that goes when the run ends)."""
        import posixpath

        from mailwizard.answers import check_path, normalise_path
        from mailwizard.safe_read import destination_problem

        path = normalise_path(path)
        if msg := check_path(path, "answers file", "/root/mailwizard-answers.toml"):
            return msg
        host = Host("/") if here else self.host
        if msg := destination_problem(host, path, self.journal_dir):
            return msg
        parent = posixpath.dirname(path)
        directory = host.stat(parent)
        if directory is None or not directory.is_dir:
            return f"the directory {parent} does not exist"
        return None

    def save_answers_copy(self, path: str, here: bool = False) -> str | None:
        """Write the answers (secrets left out) to `path`, 0600, owned by root (`here`: by whoever runs the
        wizard, on this machine's files); an error message, or None when saved."""
        from mailwizard.answers import normalise_path

        if msg := self.answers_copy_problem(path, here):
            return msg
        path = normalise_path(path)
        host, uid, gid = (Host("/"), os.getuid(), os.getgid()) if here else (self.host, 0, 0)
        try:
            host.write_atomic(path, self.answers.to_toml().encode(), mode=0o600, uid=uid, gid=gid)
        except OSError as exc:
            return f"could not write {path}: {exc.strerror or exc}"
        return None

    def first_unverified(self) -> str | None:
        """The first step a resumed wizard should open at."""
        verified = set(self.journal().state["verified"])
        for step in self.active_steps():
            if step.name not in verified:
                return step.name
        return None
