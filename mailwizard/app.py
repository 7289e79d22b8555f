"""The Textual wizard: the face of the core (wizard.py) that asks. Its pages are the sections of
sections.py, in their order: Welcome/preflight -> Install -> TLS -> Mail store -> Authentication ->
PAM, LDAP or MariaDB -> Protocols -> Mailboxes -> LMTP -> Sieve -> Replication -> Postfix (mode) ->
Postfix TLS -> Aliases -> Delivery -> Submission -> Limits -> Outbound -> Review -> Apply -> Report.
Which of them a run shows, and in what order (the short path, `--answers`, `--resume`), the core says.

`create_app(session, structural, resume=False, answers_file=False, start=None, short_path=False)` builds
the app for the command line and for the tests alike (as Posting's app factory
serves its CLI and its snapshot tests): the session carries the configured
state (answers, host, dry run) and `start` names the screen (a key of sections.py)
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
only for what is missing or invalid (wizard.py says which page); the screens
passed over are still there with Back. A complete, valid file opens at Review,
where the plan is shown before anything is done.

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
from mailwizard.sections import BY_KEY, section
from mailwizard.wizard import Wizard

if TYPE_CHECKING:
    from mailwizard.engine import Session
    from mailwizard.screens.base import WizardScreen
    from mailwizard.screens.review import PlanReady

EXIT_OK, EXIT_FAILED = 0, 1

def make_screen_class(key: str) -> "type[WizardScreen]":
    """The screen class of page `key` (sections.py); each screen's module is imported when first needed (a
    faster start)."""
    import importlib

    module = importlib.import_module(f"mailwizard.screens.{key}")
    return getattr(module, section(key).view)


def make_screen(key: str) -> "WizardScreen":
    """A new screen for `key`."""
    return make_screen_class(key)()


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
        if start is not None and start not in BY_KEY:
            raise ValueError(f"no screen {start!r}: one of {', '.join(BY_KEY)}")
        self.freeze_gc = freeze_gc
        self.session = session
        self.start = start  # the screen to open at, else Welcome (or where --resume/--answers lead)
        # the pages, their order and the pipeline: the core the command line drives too
        self.core = Wizard(session, structural, resume=resume, answers_file=answers_file, short_path=short_path)
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

    # --- the order of the screens: the core's pages -------------------------------------
    def screen_keys(self) -> list[str]:
        """The screens Next walks through: on the short path, the asked ones and "Everything else"."""
        return self.core.pages()

    def summarised(self) -> list[str]:
        """The screens "Everything else" sums up (none off the short path)."""
        return self.core.summarised()

    def open_summarised(self, key: str) -> None:
        """Show a screen of "Everything else"; its Back and Next lead back there."""
        if key in self.summarised():
            self.switch_screen(make_screen(key))

    def step_titles(self, current: str | None = None) -> list[tuple[str, str]]:
        """The step bar's screens; a screen opened from "Everything else" follows it."""
        return self.core.titles(current)

    def previous(self, key: str) -> str | None:
        return self.core.previous(key)

    def following(self, key: str) -> str | None:
        return self.core.following(key)

    def forward(self, key: str) -> None:
        if self.core.asks_only_what_is_open(key):
            self.core.answered.add(key)
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
        return self.start if self.start is not None else self.core.start()

    def unanswered(self, key: str) -> list[str]:
        """The keys the answers file should have held for screen `key`, until the admin moves on from it."""
        return self.core.unanswered(key)

    @work(thread=True, exclusive=True, group="prefill", exit_on_error=False)
    def _choose_screen(self, after: str | None) -> None:
        everything = None
        try:
            everything = self.core.checked()
            key = self.core.first_to_ask(after, everything)
        except Exception:  # the checks themselves failed: go on in order, each screen shows its problems
            key = (self.following(after) if after else None) or "welcome"
        if key == "review" and after is None:
            # the wizard's first screen: planned here, with the problems just checked, so that it is shown
            # once, with its plan (Waiting says "Planning..." if that takes a while)
            from mailwizard.screens.review import planned

            self.post_message(Planning())
            self.post_message(ScreenChosen(key, planned(self.core, everything)))
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
        if self.core.answers_file and self.start is None:
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
