"""Helpers for the TUI tests: sessions on a fake host, a slow host, Pilot helpers."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from rich.console import Console
from textual.widgets import Input

from mailwizard import answers as answers_mod
from mailwizard.engine import Session
from mailwizard.platform import profile_for
from mailwizard.simulated import FakeHost
from mailwizard.widgets import FieldMessages, field_id

REPO = Path(__file__).resolve().parents[2]
ANSWERS = REPO.parent / "shared" / "answers"
JOURNAL = "/var/lib/mailwizard"


# --- sessions on a fake host -------------------------------------------------------------

def load_answers(name: str = "pam.toml") -> answers_mod.Answers:
    answers, problems = answers_mod.parse((ANSWERS / name).read_text())
    assert problems == [], problems
    return answers


class SlowHost(FakeHost):
    """A fake host whose package install waits until the test opens `gate`."""

    gate: threading.Event
    started: threading.Event

    def run(self, argv, **kwargs):
        if argv[:2] in (["apt-get", "install"], ["dnf", "install"]):
            self.started.set()
            self.gate.wait(timeout=30)
        return super().run(argv, **kwargs)


def make_session(root: Path, *, dry_run: bool = False, platform: str = "debian12",
                 answers: str = "pam.toml", host_class: type[FakeHost] = FakeHost,
                 self_signed: bool = True) -> Session:
    profile = profile_for(platform)
    a = load_answers(answers)
    a.tls.self_signed = self_signed
    host = host_class.from_profile(profile, root, hostname=a.server.hostname)
    if a.replication.enabled and a.replication.password_file:  # copied there first, as guide 1.4 asks
        secret = host.real(a.replication.password_file)
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text("doveadm-secret\n")
        secret.chmod(0o600)
    return Session(a, host, profile, dry_run=dry_run, journal_dir=JOURNAL)


def applied(session: Session) -> Session:
    """The session with its plan applied to its host, as the Apply screen leaves it: for a test that opens
    the wizard at the Report (create_app(session, [], start="report"))."""
    assert session.apply(session.plan()).status == "applied"
    return session


# --- Pilot helpers ---------------------------------------------------------------------------

async def settle(pilot, rounds: int = 100) -> None:
    """Let workers finish and their messages be handled (screens start new workers on mount)."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return


async def press(pilot, *keys: str) -> None:
    """Press keys one by one, settling after each."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def text_of(widget) -> str:
    """The plain text a Static (or Label) shows, without line wrapping."""
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=400, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(content)
    return capture.get()


def field_message(app, key: str) -> str:
    field = app.screen.query_one(f"#field-{field_id(key)}")
    return text_of(field.query_one(FieldMessages))


async def replace_input(pilot, selector: str, value: str) -> None:
    """Focus an Input by keyboard-equivalent focus, clear it and type `value`."""
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    await pilot.press("end", "ctrl+u")
    await pilot.press(*value)


def screen_name(app) -> str:
    return type(app.screen).__name__


async def walk_to(pilot, name: str, limit: int = 20) -> list[str]:
    """Press ctrl+n until the screen named `name` (a class name) is shown; returns the screens passed.

    Fails when a screen refuses to move on (a problem on it) or `name` never comes.
    """
    passed = [screen_name(pilot.app)]
    while passed[-1] != name:
        assert len(passed) <= limit, f"{name} never came: {passed}"
        await press(pilot, "ctrl+n")
        here = screen_name(pilot.app)
        assert here != passed[-1], f"{here} refused to move on towards {name}"
        passed.append(here)
    return passed


async def jump(pilot, key: str) -> None:
    """Show the screen of `key` (a key of app.SCREENS) now, with the answers as they stand, as if Next had
    been pressed on every screen between: for a test of what a screen's answers do further on (the plan
    on Review), whose subject is not the way there (test_tui_wizard walks it)."""
    from mailwizard.app import make_screen

    pilot.app.switch_screen(make_screen(key))
    await settle(pilot)


async def choose(pilot, selector: str, moves: int) -> None:
    """In a radio set: focus it, move the cursor `moves` down (or up when negative) and choose."""
    from textual.widgets import RadioSet

    pilot.app.screen.query_one(selector, RadioSet).focus()
    await pilot.pause()
    await pilot.press(*(["down"] * moves if moves >= 0 else ["up"] * -moves), "enter")
    await settle(pilot)


async def tick(pilot, selector: str) -> None:
    """Focus a checkbox and toggle it with the space bar."""
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()
    await press(pilot, "space")


async def forward(pilot, expected: str) -> None:
    """ctrl+n, and the screen that is then shown: the next one, or the same one when it refused."""
    await press(pilot, "ctrl+n")
    assert screen_name(pilot.app) == expected

