"""The wizard without its screens: which pages a run shows, in what order, where it starts, what each page
asks, and the pipeline from answers to a verified server (problems -> plan -> conflicts -> apply -> verify).

Both faces drive this one core: the TUI (app.py and its screens, which differ
only in asking: fields, dialogs, workers) and the command line (cli.py's
`--unattended`, which asks nothing). Pages are the sections of sections.py.

- A new run (no answers given) takes the **short path**: the pages no default
  can answer (sections.Section.on_short_path), then "Everything else" (a line
  per remaining page, each one openable), then the Review.
- Started with `--answers FILE`, the wizard asks only what the file leaves
  open: the first page (in order) whose answers have an error, whose key the
  file held with a wrong type, or which lacks a key the file must hold itself
  (Section.required); each Next goes on to the next such page.
- `--resume` opens at the page of the first step not yet verified, or at the
  Review when the apply itself did not end.

Host checks run here: call the checking methods from a worker, never from a
UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailwizard.answers import Problem, in_file, validate
from mailwizard.sections import SECTIONS, Section, key_matches, owner, resume_at, section

if TYPE_CHECKING:
    import threading

    from mailwizard.conflicts import Conflict
    from mailwizard.engine import ApplyResult, Events, Session
    from mailwizard.plan import Check, Plan


def problems_of(session: Session, page: Section) -> list[Problem]:
    """The problems page `page` shows: those whose key it owns, errors first.

    `Session.problems()` runs the host checks only when all the answers are
    valid; so that a page can still show its own host checks while another
    page's answer is invalid, the page's own steps are then asked directly.
    """
    basic = validate(session.answers)
    if not any(p.severity == "error" for p in basic):
        return [p for p in session.problems() if key_matches(p.key, page.answers)]
    mine = [p for p in basic if key_matches(p.key, page.answers)]
    if not any(p.severity == "error" for p in mine):
        ctx = session.context()
        for step in session.active_steps():
            if step.name in page.checks:
                mine += [p for p in step.validate(session.answers, ctx) if key_matches(p.key, page.answers)]
    return sorted(mine, key=lambda p: p.severity != "error")


def missing_from_file(key: str, raw: dict) -> list[str]:
    """The keys page `key` needs that the answers file does not hold."""
    return [alternatives[0] for alternatives in section(key).required
            if not any(in_file(raw, k) for k in alternatives)]


def from_answers_file(problems: list[Problem]) -> list[Problem]:
    """Structural problems of the answers file, as warnings: the default replaced the value. A warning of
    the file (an unknown key, with the nearest known one) is shown as it is."""
    return [p if p.severity == "warning" else
            Problem(p.key, f"the answers file's value was ignored ({p.message}); the default is used", "warning")
            for p in problems]


def owner_title(key: str) -> str | None:
    """The title of the page where the administrator fixes answers key `key`, or None (answers file only)."""
    page = owner(key)
    return page.title if page else None


@dataclass
class Reviewed:
    """What the Review shows and `--unattended` acts on: the problems, else the plan and its conflicts."""

    problems: list[Problem]
    plan: Plan | None = None
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class Wizard:
    """One run of the wizard over `session`: its pages and its pipeline."""

    def __init__(self, session: Session, structural: list[Problem] | None = None, resume: bool = False,
                 answers_file: bool = False, short_path: bool = False) -> None:
        self.session = session
        self.structural = list(structural or [])  # the answers file's type problems (shown as warnings)
        self.resume = resume
        self.answers_file = answers_file and not resume  # started with --answers: ask only what it lacks
        self.short_path = short_path and not self.answers_file and not resume
        if self.short_path and not any(k.startswith("postfix.") for k in session.prefilled):
            # what an administrator expects of a new mail server: its users send mail through it
            # (submission on 587 and 465; an answers file without the key keeps Postfix's off)
            session.answers.postfix.submission = True
        self.answered: set[str] = set()  # pages the administrator moved on from with Next

    # --- the pages -------------------------------------------------------------------
    def all_pages(self) -> list[str]:
        """Every page the answers call for, in order ("Everything else" left out)."""
        active = {s.name for s in self.session.active_steps()}
        keys = [s.key for s in SECTIONS if s.key != "more" and s.shown(self.session.answers, active)]
        if self.session.dry_run:
            keys = keys[: keys.index("review") + 1]
        return keys

    def pages(self) -> list[str]:
        """The pages Next walks through: on the short path, the asked ones and "Everything else"."""
        keys = self.all_pages()
        if self.short_path:
            keys = [k for k in keys if section(k).on_short_path]
            keys.insert(keys.index("review"), "more")
        return keys

    def summarised(self) -> list[str]:
        """The pages "Everything else" sums up (none off the short path)."""
        if not self.short_path:
            return []
        return [k for k in self.all_pages() if not section(k).on_short_path]

    def titles(self, current: str | None = None) -> list[tuple[str, str]]:
        """The step bar's pages; a page opened from "Everything else" follows it."""
        keys = self.pages()
        if current is not None and current not in keys and "more" in keys:
            keys.insert(keys.index("more") + 1, current)
        return [(k, section(k).title) for k in keys]

    def previous(self, key: str) -> str | None:
        if key in self.summarised():
            return "more"
        keys = self.pages()
        i = keys.index(key) if key in keys else 0
        return keys[i - 1] if i > 0 else None

    def following(self, key: str) -> str | None:
        if key in self.summarised():
            return "more"
        keys = self.pages()
        i = keys.index(key) if key in keys else -1
        return keys[i + 1] if 0 <= i < len(keys) - 1 else None

    def asks_only_what_is_open(self, key: str) -> bool:
        """Whether Next from page `key` goes to the next page that needs an answer (an answers file's run,
        before the Review), rather than to the following page."""
        keys = self.pages()
        return self.answers_file and key in keys and "review" in keys and keys.index(key) < keys.index("review")

    def start(self) -> str:
        """The first page: Welcome, or where `--resume` leads (`--answers`: first_to_ask, from a worker)."""
        if not self.resume:
            return "welcome"
        try:
            if self.session.journal().state.get("status") in ("applying", "stopped", "failed"):
                # the apply did not end: every page had been answered; what is left is on the Review
                return "review"
            step = self.session.first_unverified()
        except Exception:  # an unreadable journal: start from the beginning
            return "welcome"
        key = resume_at(step)
        return key if key in self.pages() else "review"

    # --- what a page asks ------------------------------------------------------------
    def unanswered(self, key: str) -> list[str]:
        """The keys the answers file should have held for page `key`, until the admin moves on from it."""
        if not self.answers_file or key in self.answered:
            return []
        return missing_from_file(key, self.session.answers.raw)

    def checked(self) -> list[Problem] | None:
        """Every problem of the answers, host checks too; None while an answer is invalid (the host checks
        then wait)."""
        return None if any(p.severity == "error" for p in validate(self.session.answers)) else self.session.problems()

    def first_to_ask(self, after: str | None = None, everything: list[Problem] | None = None) -> str:
        """The first page after `after` (from the start when None) that needs an answer, else Review.
        `everything`: what checked() said, when the caller has asked it; else it is asked here."""
        keys = self.pages()
        end = keys.index("review")
        begin = keys.index(after) + 1 if after in keys else 0
        if everything is None:
            everything = self.checked()
        for key in keys[begin:end]:
            page = section(key)
            if not page.answers:  # nothing to answer there (Install)
                continue
            if self.unanswered(key):
                return key
            if key not in self.answered and any(key_matches(p.key, page.answers) for p in self.structural):
                return key  # the file's value had the wrong type: the default replaced it
            problems = [p for p in everything if key_matches(p.key, page.answers)] if everything is not None \
                else problems_of(self.session, page)
            if any(p.severity == "error" for p in problems):
                return key
        return "review"

    # --- the pipeline ----------------------------------------------------------------
    def check(self) -> list[Problem]:
        """Every problem of the answers, host checks included (the plan needs them all)."""
        return self.session.problems()

    def review(self, problems: list[Problem]) -> Reviewed:
        """Given the answers' `problems` (check()), the plan and the files an administrator edited since
        mailwizard wrote them; none while an answer is wrong."""
        from mailwizard.conflicts import in_session

        if any(p.severity == "error" for p in problems):
            return Reviewed(problems)
        plan = self.session.plan(problems)
        return Reviewed(problems, plan, in_session(self.session, plan))

    def decide(self, plan: Plan, conflicts: list[Conflict], decide: Callable[[Conflict], str]) -> list[str]:
        """Each conflict decided (keep, take, or stop: ConflictStop, the plan untouched) and the plan changed
        to match: the TUI asks file by file, --unattended takes --on-conflict. Returns the kept paths."""
        from mailwizard.conflicts import resolve_plan

        return resolve_plan(plan, conflicts, decide)

    def apply(self, plan: Plan, on_event: Events, cancel: threading.Event | None = None) -> ApplyResult:
        """Apply the reviewed plan (its conflicts decided), telling `on_event` of each change."""
        return self.session.apply(plan, on_event, cancel)

    def verify(self, previous: list[Check] | None = None, only: tuple[str, ...] | None = None,
               on_step: Callable[[str, int, int], object] | None = None) -> list[Check]:
        """The live checks of the result, a step at a time (`on_step(title, index, total)` before each);
        with `only`, just those steps' checks, which replace their rows in `previous` in the same place."""
        from dataclasses import replace

        session = self.session
        steps = [s for s in session.active_steps() if only is None or s.name in only]
        fresh: list[Check] = []
        for index, step in enumerate(steps):
            if on_step is not None:
                on_step(step.title, index, len(steps))
            fresh += replace(session, steps=[step]).verify()  # Session.verify: a broken probe is a failed check
        if only is None:
            return fresh
        checks: list[Check] = []
        done: set[str] = set()
        for check in previous or []:
            if check.step not in only:
                checks.append(check)
            elif check.step not in done:
                done.add(check.step)
                checks += [c for c in fresh if c.step == check.step]
        return checks + [c for c in fresh if c.step not in done]

    def record(self, checks: list[Check]) -> None:
        """The checks' outcome in the journal, as the run's end (a dry run keeps no journal)."""
        if not self.session.dry_run:
            self.session.record_verified(checks)
