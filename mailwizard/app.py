"""The Textual wizard: Welcome/preflight -> Install -> TLS -> Mail store -> Authentication ->
PAM, LDAP or MariaDB -> Protocols -> Mailboxes -> LMTP -> Sieve -> Replication -> Postfix (mode) ->
Postfix TLS -> Aliases -> Delivery -> Submission -> Limits (with the hardening notes) -> Review ->
Apply -> Report.

Screens whose steps do not apply are left out (all of Dovecot's when it is
disabled, LMTP when the protocol is off), and of the three authentication
forms only the chosen backend's is shown. A Postfix null client has no Dovecot
screens, and no Postfix TLS, Aliases, Delivery or Submission screens
(SCREEN_WHEN): it receives no mail.

A new run (no answers file, no --resume: `short_path`) takes the short path
(issue 15): Welcome (the host's names prefilled), TLS, Authentication (and an
LDAP or SQL server's form), Postfix, then "Everything else" (screens/more.py),
a line per remaining screen with a button into it (whose Back and Next come
back there), then Review: the screens no default can answer are asked
(asked_on_the_short_path), the others summed up. Such a run turns submission
on, as an administrator expects of a new mail server.

`create_app(session, structural, resume=False, answers_file=False, start=None, short_path=False)` builds
the app for the command line and for the tests alike (as Posting's app factory
serves its CLI and its snapshot tests): the session carries the configured
state (answers, host, dry run) and `start` names the screen (a key of SCREENS)
to open at, so a test of one screen opens there instead of walking to it;
`app.run()` returns the exit code:

- 0: nothing was changed (quit before applying, or a dry run reviewed), or
  the plan was applied and no check failed (warnings allowed);
- 1: applying failed or was stopped (`sudo mailwizard --resume` continues),
  or a check on the Report failed.

Keys (shown in the footer): ctrl+n Next, Esc Back, F1 help (also `?` when the
focus is not in a text field), Tab/Shift+Tab move between fields, ctrl+q quit,
ctrl+c asks before quitting and, while applying, asks whether to stop after the
current change (in a dialog with text to copy, it copies). Screens add their
own: ctrl+t Test connection (LDAP, MariaDB), F7/F8 add and remove a mailbox
(Mailboxes) or an alias (Aliases), t Test account, d DNS records (c copies
them) and s Save answers (Report).

Prefilled from an answers file (`mailwizard --answers FILE`), the wizard asks
only for what is missing or invalid: it opens at the first screen (in SCREENS
order) whose answers have an error, whose key the file held with a wrong type,
or which lacks a key the file must hold itself (screens/base.py REQUIRED); Next
goes on to the next such screen, and Review follows when none is left. The
screens passed over are still there with Back. A complete, valid file opens at
Review, where the plan is shown before anything is done.

The screens own no logic: they edit `session.answers` and show what the
session plans, does and checks; long work runs in thread workers that post
messages (see screens/). On a terminal with 8/16 colours (the Linux console)
the ANSI theme is used, so the terminal's own palette draws every colour.
"""

from __future__ import annotations

import gc
import threading
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Static

from mailwizard.answers import Problem
from mailwizard.engine import ApplyResult
from mailwizard.plan import Check, Plan

if TYPE_CHECKING:
    from mailwizard.engine import Session
    from mailwizard.screens.base import WizardScreen
    from mailwizard.screens.review import PlanReady

EXIT_OK, EXIT_FAILED = 0, 1

SCREENS: list[tuple[str, str]] = [
    ("welcome", "Welcome"), ("install", "Install"), ("tls", "TLS"),
    ("mailstore", "Mail store"), ("auth", "Authentication"),
    ("auth_pam", "PAM"), ("auth_ldap", "LDAP"), ("auth_sql", "MariaDB"),
    ("protocols", "Protocols"), ("mailboxes", "Mailboxes"), ("lmtp", "LMTP"),
    ("sieve", "Sieve"), ("replication", "Replication"),
    ("postfix_mode", "Postfix"), ("postfix_tls", "Postfix TLS"), ("postfix_aliases", "Aliases"),
    ("postfix_delivery", "Delivery"), ("postfix_submission", "Submission"), ("postfix_limits", "Limits"),
    ("outbound", "Outbound"),
    ("more", "Everything else"), ("review", "Review"), ("apply", "Apply"), ("report", "Report"),
]
# a screen that edits a step's answers is shown only while one of its steps applies
# (none of them when Dovecot is disabled, LMTP only while the protocol is on)
SCREEN_STEPS = {"tls": ("tls",), "mailstore": ("vmail",), "auth": ("auth",), "auth_pam": ("auth",),
                "auth_ldap": ("auth",), "auth_sql": ("auth",), "protocols": ("protocols", "firewall"),
                "mailboxes": ("mailboxes",), "lmtp": ("lmtp",),
                "sieve": ("sieve",), "replication": ("replication",)}
# a Postfix screen shown only in some modes (its step may not apply yet: the screen is where it is chosen)
SCREEN_WHEN = {key: lambda a: a.postfix.mode == "internet-site"
               for key in ("postfix_tls", "postfix_aliases", "postfix_delivery", "postfix_submission")}
# the form of the authentication backend chosen on the Authentication screen
BACKEND_SCREENS = {"auth_pam": "pam", "auth_ldap": "ldap", "auth_sql": "sql"}
# where a resumed wizard opens: the screen of the first step not yet verified (an apply that did not end
# opens at the Review: every screen had been answered)
RESUME_AT = {"preflight": "welcome", "install": "install", "acme": "tls", "tls": "tls", "vmail": "mailstore",
             "auth": "auth", "protocols": "protocols", "mailboxes": "mailboxes", "lmtp": "lmtp",
             "sieve": "sieve", "replication": "replication", "firewall": "protocols", "services": "review",
             "postfix": "postfix_mode", "postfix_tls": "postfix_tls", "postfix_aliases": "postfix_aliases",
             "postfix_delivery": "postfix_delivery", "postfix_submission": "postfix_submission",
             "postfix_limits": "postfix_limits", "postfix_hardening": "review",
             "postfix_relay": "outbound", "dkim": "outbound"}


SCREEN_CLASSES = {"welcome": "WelcomeScreen", "install": "InstallScreen", "tls": "TLSScreen",
                  "mailstore": "MailStoreScreen", "auth": "AuthScreen", "auth_pam": "PamScreen",
                  "auth_ldap": "LdapScreen", "auth_sql": "SqlScreen", "protocols": "ProtocolsScreen",
                  "mailboxes": "MailboxesScreen", "lmtp": "LmtpScreen",
                  "sieve": "SieveScreen", "replication": "ReplicationScreen",
                  "postfix_mode": "PostfixModeScreen", "postfix_tls": "PostfixTlsScreen",
                  "postfix_aliases": "PostfixAliasesScreen", "postfix_delivery": "PostfixDeliveryScreen",
                  "postfix_submission": "PostfixSubmissionScreen", "postfix_limits": "PostfixLimitsScreen",
                  "outbound": "OutboundScreen",
                  "more": "MoreScreen", "review": "ReviewScreen", "apply": "ApplyScreen", "report": "ReportScreen"}


def make_screen_class(key: str) -> "type[WizardScreen]":
    """The screen class of `key`; each screen's module is imported when first needed (a faster start)."""
    import importlib

    module = importlib.import_module(f"mailwizard.screens.{key}")
    return getattr(module, SCREEN_CLASSES[key])


def make_screen(key: str) -> "WizardScreen":
    """A new screen for `key`."""
    return make_screen_class(key)()


def asked_on_the_short_path(key: str) -> bool:
    """Whether the short path asks screen `key` itself: the screens whose answers no default can give
    (screens/base.py REQUIRED: host name, certificate, backend, Postfix's mode), an LDAP or SQL
    server's form, and the pages around them; every other screen is a line of "Everything else"."""
    from mailwizard.screens.base import REQUIRED

    return key in REQUIRED or key in ("auth_ldap", "auth_sql", "more", "review", "apply", "report")


class DhProgress(Message):
    """Background DH generation made progress (posted from its thread worker)."""

    def __init__(self, line: str, done: bool | None = None) -> None:
        super().__init__()
        self.line = line
        self.done = done  # None while running, then True (ready) or False (failed)


class ScreenChosen(Message):
    """The screen to show next, chosen by a thread worker from the answers (a wizard started with --answers);
    `made`: for the Review, its plan, made by that worker too."""

    def __init__(self, key: str, made: PlanReady | None = None) -> None:
        super().__init__()
        self.key = key
        self.made = made


class Planning(Message):
    """The worker choosing the first screen chose the Review and plans for it."""


class Waiting(Screen):
    """What the wizard is doing before its first screen, shown only when that takes a while
    (WAIT seconds): checking the answers file on a real host, planning."""

    def __init__(self, doing: str) -> None:
        super().__init__()
        self.doing = doing

    def compose(self):
        yield Static(self.doing, id="waiting")

    def say(self, doing: str) -> None:
        self.query_one("#waiting", Static).update(doing)


def screen_steps(key: str) -> tuple[str, ...]:
    """The steps whose host checks the screen of `key` shows (its class's STEPS)."""
    return getattr(make_screen_class(key), "STEPS", ())


class MailWizard(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "mailwizard"
    WAIT = 0.3  # seconds without a first screen before Waiting says what is going on
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+q", "quit_wizard", "Quit", priority=True),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]

    def __init__(self, session: "Session", structural: list[Problem] | None = None, resume: bool = False,
                 answers_file: bool = False, freeze_gc: bool = False, start: str | None = None,
                 short_path: bool = False):
        super().__init__()
        if start is not None and start not in SCREEN_CLASSES:
            raise ValueError(f"no screen {start!r}: one of {', '.join(SCREEN_CLASSES)}")
        self.freeze_gc = freeze_gc
        self.session = session
        self.start = start  # the screen to open at, else Welcome (or where --resume/--answers lead)
        self.structural = list(structural or [])
        self.resume = resume
        self.answers_file = answers_file and not resume  # started with --answers: ask only what it lacks
        # a new run: only what no default answers, then "Everything else" (screens/more.py)
        self.short_path = short_path and not self.answers_file and not resume
        if self.short_path and not any(k.startswith("postfix.") for k in session.prefilled):
            # what an administrator expects of a new mail server: its users send mail through it
            # (submission on 587 and 465; an answers file without the key keeps Postfix's off)
            session.answers.postfix.submission = True
        self.answered: set[str] = set()  # screens the administrator moved on from with Next
        self.plan: Plan | None = None
        self.result: ApplyResult | None = None
        self.checks: list[Check] | None = None
        self.applying = False
        self.pending_back = 0  # Esc presses that came while the screen shown was not ready (base.action_press_back)
        self.farewell = ""  # a line the command line prints once the wizard has ended (a saved answers file)
        self.dh_status = ""
        # what only an internet site uses, set aside while the Postfix screen says null client
        self.postfix_site_only: dict | None = None
        self._dh_cancel = threading.Event()
        self._dh_started = False
        self._waiting: Timer | None = None  # until the first screen is chosen (see _wait)
        self._shown = False  # a wizard screen was painted (screen_shown)
        self._doing = "Checking the answers file..."

    # --- 4096-bit DH parameters, generated while the admin goes on ----------------
    def start_dh_generation(self) -> bool:
        """Start `openssl dhparam 4096` in the background (real runs as root only); False if not started."""
        s = self.session
        if self._dh_started or s.dry_run or s.offline or not s.host.runs_real_tools or not s.host.is_root():
            return self._dh_started
        self._dh_started = True
        self.dh_status = "generating 4096-bit DH parameters in the background..."
        self._generate_dh()
        return True

    @work(thread=True, exclusive=True, group="dh", exit_on_error=False)
    def _generate_dh(self) -> None:
        from mailwizard.steps.tls import pregenerate_dh

        ok = pregenerate_dh(self.session.host, self.session.journal_dir,
                            lambda line: self.post_message(DhProgress(line)), self._dh_cancel)
        self.post_message(DhProgress("4096-bit DH parameters ready" if ok else
                                     "background generation failed: apply will run openssl dhparam", ok))

    def on_dh_progress(self, message: DhProgress) -> None:
        self.dh_status = message.line
        for screen in self.screen_stack:
            if hasattr(screen, "show_dh_status"):
                screen.show_dh_status(message.line)

    def on_unmount(self) -> None:
        self._dh_cancel.set()

    # --- the order of the screens ------------------------------------------------
    def all_screen_keys(self) -> list[str]:
        """Every screen the answers call for, in order ("Everything else" left out)."""
        active = {s.name for s in self.session.active_steps()}
        backend = self.session.answers.auth.backend
        keys = [k for k, _ in SCREENS
                if (k not in SCREEN_STEPS or active.intersection(SCREEN_STEPS[k]))
                and BACKEND_SCREENS.get(k, backend) == backend
                and SCREEN_WHEN.get(k, lambda a: True)(self.session.answers) and k != "more"]
        if self.session.dry_run:
            keys = keys[: keys.index("review") + 1]
        return keys

    def screen_keys(self) -> list[str]:
        """The screens Next walks through: on the short path, the asked ones and "Everything else"."""
        keys = self.all_screen_keys()
        if self.short_path:
            keys = [k for k in keys if asked_on_the_short_path(k)]
            keys.insert(keys.index("review"), "more")
        return keys

    def summarised(self) -> list[str]:
        """The screens "Everything else" sums up (none off the short path)."""
        if not self.short_path:
            return []
        return [k for k in self.all_screen_keys() if not asked_on_the_short_path(k)]

    def open_summarised(self, key: str) -> None:
        """Show a screen of "Everything else"; its Back and Next lead back there."""
        if key in self.summarised():
            self.switch_screen(make_screen(key))

    def step_titles(self, current: str | None = None) -> list[tuple[str, str]]:
        """The step bar's screens; a screen opened from "Everything else" follows it."""
        titles = dict(SCREENS)
        keys = self.screen_keys()
        if current is not None and current not in keys and "more" in keys:
            keys.insert(keys.index("more") + 1, current)
        return [(k, titles[k]) for k in keys]

    def previous(self, key: str) -> str | None:
        if key in self.summarised():
            return "more"
        keys = self.screen_keys()
        i = keys.index(key) if key in keys else 0
        return keys[i - 1] if i > 0 else None

    def following(self, key: str) -> str | None:
        if key in self.summarised():
            return "more"
        keys = self.screen_keys()
        i = keys.index(key) if key in keys else -1
        return keys[i + 1] if 0 <= i < len(keys) - 1 else None

    def forward(self, key: str) -> None:
        keys = self.screen_keys()
        if self.answers_file and key in keys and "review" in keys and keys.index(key) < keys.index("review"):
            self.answered.add(key)
            self._choose_screen(key)  # the next screen that still needs an answer, else Review
            return
        nxt = self.following(key)
        if nxt is None:
            self.exit(self.exit_code())
        else:
            self.switch_screen(make_screen(nxt))

    def backward(self, key: str) -> None:
        prev = self.previous(key)
        if prev is not None:
            self.switch_screen(make_screen(prev))

    def start_screen(self) -> str:
        if self.start is not None:
            return self.start
        if not self.resume:
            return "welcome"
        try:
            if self.session.journal().state.get("status") in ("applying", "stopped", "failed"):
                # the apply did not end: every screen had been answered; what is left is on the Review
                return "review"
            step = self.session.first_unverified()
        except Exception:  # an unreadable journal: start from the beginning
            return "welcome"
        key = RESUME_AT.get(step or "", "review")
        return key if key in self.screen_keys() else "review"

    # --- started with --answers: only the screens whose answers are missing or invalid ------------
    def unanswered(self, key: str) -> list[str]:
        """The keys the answers file should have held for screen `key`, until the admin moves on from it."""
        from mailwizard.screens.base import missing_from_file

        if not self.answers_file or key in self.answered:
            return []
        return missing_from_file(key, self.session.answers.raw)

    def checked(self) -> list[Problem] | None:
        """Every problem of the answers, host checks too; None while an answer is invalid (the host checks
        then wait). Call it from a thread worker."""
        from mailwizard.answers import validate

        return None if any(p.severity == "error" for p in validate(self.session.answers)) else self.session.problems()

    def first_to_ask(self, after: str | None = None, everything: list[Problem] | None = None) -> str:
        """The first screen after `after` (from the start when None) that needs an answer, else Review.

        `everything`: what checked() said, when the caller has asked it; else it is asked here.
        Runs the answers' checks (host checks too): call it from a thread worker.
        """
        from mailwizard.screens.base import OWNERS, key_matches, problems_for

        keys = self.screen_keys()
        end = keys.index("review")
        start = keys.index(after) + 1 if after in keys else 0
        session = self.session
        if everything is None:
            everything = self.checked()
        for key in keys[start:end]:
            prefixes = OWNERS.get(key)
            if prefixes is None:  # nothing to answer there (Install)
                continue
            if self.unanswered(key):
                return key
            if key not in self.answered and any(key_matches(p.key, prefixes) for p in self.structural):
                return key  # the file's value had the wrong type: the default replaced it
            problems = [p for p in everything if key_matches(p.key, prefixes)] if everything is not None \
                else problems_for(session, prefixes, screen_steps(key))
            if any(p.severity == "error" for p in problems):
                return key
        return "review"

    @work(thread=True, exclusive=True, group="prefill", exit_on_error=False)
    def _choose_screen(self, after: str | None) -> None:
        everything = None
        try:
            everything = self.checked()
            key = self.first_to_ask(after, everything)
        except Exception:  # the checks themselves failed: go on in order, each screen shows its problems
            key = (self.following(after) if after else None) or "welcome"
        if key == "review" and after is None:
            # the wizard's first screen: planned here, with the problems just checked, so that it is shown
            # once, with its plan (Waiting says "Planning..." if that takes a while)
            from mailwizard.screens.review import planned

            self.post_message(Planning())
            self.post_message(ScreenChosen(key, planned(self.session, everything)))
            return
        self.post_message(ScreenChosen(key))

    def on_screen_chosen(self, message: ScreenChosen) -> None:
        if self._waiting is not None:
            self._waiting.stop()
            self._waiting = None
        if message.made is not None:
            from mailwizard.screens.review import ReviewScreen

            screen: Screen = ReviewScreen(message.made)
        else:
            screen = make_screen(message.key)
        if len(self.screen_stack) == 1:  # the first screen: until now the app's own, blank, default screen
            self.push_screen(screen)
        else:
            self.switch_screen(screen)

    def _wait(self) -> None:
        """The first screen is slow to choose (host checks, planning): say so meanwhile."""
        self._waiting = None
        if len(self.screen_stack) == 1:
            self.push_screen(Waiting(self._doing))

    def on_planning(self, message: Planning) -> None:
        self._doing = "Planning..."
        if isinstance(self.screen, Waiting):
            self.screen.say(self._doing)

    # --- life ----------------------------------------------------------------------
    def screen_shown(self) -> None:
        """A wizard screen was painted (WizardScreen.on_mount): the first time, the start is over.

        With freeze_gc (the command line: one app in the process; a test suite running many apps does
        not ask for it), the garbage collector, off since the command line started (cli.main: the start
        allocates much and frees little: 20-40 ms of collections before the first screen), comes back,
        with what exists now (the modules, the app, its stylesheet, the first screen) frozen out of
        its full collections, which would otherwise walk it all: pauses of 40-130 ms on a busy 2-core
        machine while a long plan is laid out or an apply's output pours in.
        """
        if self._shown:
            return
        self._shown = True
        if self.freeze_gc:
            gc.freeze()
            gc.enable()

    def keep_what_is(self) -> None:
        """What exists now lives on (the app, the plan being applied): with freeze_gc, collected once and
        frozen out of the full collections that a flood of output lines would otherwise make walk it."""
        if self.freeze_gc:
            gc.collect()
            gc.freeze()

    def on_mount(self) -> None:
        if self.console.color_system in ("standard", "windows"):
            self.theme = "ansi-dark"
        if self.answers_file and self.start is None:
            # the first screen is the first one the answers leave a question on (the answers' checks, in a
            # worker): nothing is mounted before it unless the checks take longer than WAIT seconds
            self._waiting = self.set_timer(self.WAIT, self._wait)
            self._choose_screen(None)
            return
        self.push_screen(make_screen(self.start_screen()))

    def exit_code(self) -> int:
        if self.result is not None and self.result.status != "applied":
            return EXIT_FAILED
        if self.checks and any(c.status == "fail" for c in self.checks):
            return EXIT_FAILED
        return EXIT_OK

    def _apply_screen(self):
        from mailwizard.screens.apply import ApplyScreen

        for screen in self.screen_stack:
            if isinstance(screen, ApplyScreen) and screen.running:
                return screen
        return None

    def action_quit_wizard(self) -> None:
        if (screen := self._apply_screen()) is not None:
            screen.action_stop()
            return
        self.exit(self.exit_code())

    def action_interrupt(self) -> None:
        """Ctrl+C: while applying, ask to stop after the current change; else ask to quit."""
        if (screen := self._apply_screen()) is not None:
            screen.action_stop()
            return
        if isinstance(self.screen, ModalScreen):
            if (copy := getattr(self.screen, "action_copy", None)) is not None:
                copy()  # a dialog with text to copy (the DNS records): Ctrl+C copies, as in any editor
            return
        from mailwizard.screens.confirm import ConfirmScreen

        if self.result is None:
            text = "Nothing on this host has been changed."
        else:
            text = f"The run ended: {self.result.status}."
        self.push_screen(ConfirmScreen("Quit mailwizard?", text, yes="Quit", no="Stay"),
                         lambda yes: self.exit(self.exit_code()) if yes else None)


def create_app(session: "Session", structural: list[Problem] | None = None, resume: bool = False,
               answers_file: bool = False, freeze_gc: bool = False, start: str | None = None,
               short_path: bool = False) -> MailWizard:
    """The wizard for `session`; `structural` are the answers file's type problems (shown as warnings);
    `answers_file`: the answers came from `--answers FILE`, so only the screens needing an answer are shown;
    `freeze_gc`: the process runs this one app (the command line), see MailWizard.screen_shown;
    `start`: the key of the screen to open at (default: Welcome, or where `resume`/`answers_file` lead);
    `short_path`: a new run (no answers given): the screens no default answers, then "Everything else"."""
    return MailWizard(session, structural, resume=resume, answers_file=answers_file, freeze_gc=freeze_gc,
                      start=start, short_path=short_path)
