"""Install (guide 1.1.1, 2.1 step 2): the packages the chosen features need, and which are there."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from mailwizard.answers import Answers
from mailwizard.screens.base import WizardScreen
from mailwizard.steps import install

HELP = """\
The packages that provide the services you chose, for this platform
(guide 1.1.1 *Installing Dovecot*, and 2.1 step 2 for Postfix).

- RHEL: `dnf install -y dovecot postfix ...` (RHEL 10 adds `postfix-lmdb`,
  its map type).
- Debian: `apt-get install` without questions; Postfix's debconf question is
  answered *No configuration*, so the wizard writes `main.cf` itself.

A package already installed is a no-op. Its configuration files are kept:
the Review screen shows exactly what the wizard would change in them
(to start from clean files, remove `/etc/dovecot/` and reinstall, as the
guide's note says).

The install runs on the Apply screen, with its output as a live log.
The list follows your choices on the later screens (protocols, the
authentication backend, Postfix's LDAP lookups): going back here after
changing them shows the new list.
"""


class PackagesFound(Message):
    def __init__(self, packages: list[tuple[str, bool]], error: str = "") -> None:
        super().__init__()
        self.packages = packages
        self.error = error


class InstallScreen(WizardScreen):
    KEY = "install"
    HEADING = "Install: packages"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        return "the packages for " + ", ".join(answers.features())

    def compose_body(self) -> ComposeResult:
        yield Static("Looking at the installed packages...", id="packages")
        yield Static("", id="install-note")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#next").focus()
        self.find_packages()

    @work(thread=True, exclusive=True, group="install")
    def find_packages(self) -> None:
        session = self.session
        try:
            wanted = install.packages(session.answers, session.profile)
            found = [(pkg, install.is_installed(session.host, session.profile, pkg)) for pkg in wanted]
        except Exception as exc:  # shown on the screen, never a traceback
            self.post_message(PackagesFound([], f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(PackagesFound(found))

    @on(PackagesFound)
    def _found(self, message: PackagesFound) -> None:
        text = Text()
        if message.error:
            text.append("ERROR ", style="bold red")
            text.append(f"cannot list the packages: {message.error}")
            self.query_one("#packages", Static).update(text)
            return
        missing = [p for p, there in message.packages if not there]
        for pkg, there in message.packages:
            if there:
                text.append("  =  ", style="bold")
                text.append(f"{pkg:<28}")
                text.append("already installed (no-op)")
            else:
                text.append("  +  ", style="bold green")
                text.append(f"{pkg:<28}", style="bold")
                text.append("will be installed")
            text.append("\n")
        profile = self.session.profile
        note = Text()
        note.append("For: ", style="bold")
        note.append(", ".join(self.session.answers.features()) + "\n")
        if missing:
            tool = profile.install_argv[0]
            if self.session.dry_run:
                note.append(f"A real run installs them with {tool} (this dry run does not); ")
            else:
                note.append(f"On Apply they are installed with {tool}, its output shown as a live log; ")
            note.append("the Review screen shows the exact command.")
        else:
            note.append("Everything is installed already: nothing to do here.")
        self.query_one("#packages", Static).update(text)
        self.query_one("#install-note", Static).update(note)
        self.set_status(f"{len(missing)} to install, {len(message.packages) - len(missing)} installed")
