"""Pilot tests of what keeps the screen responsive (issue 12): the Review lays its plan out a piece at
a time, the Apply screen takes a flood of output in slices, the first screen is chosen (and planned)
before anything is mounted. What is checked here is what is shown, never how fast (bench/ui.py
measures that)."""

from __future__ import annotations

import io
import time

from rich.console import Console

from mailwizard import answers as answers_mod
from mailwizard.app import create_app
from mailwizard.engine import (
    ApplyResult,
    ChangeDone,
    ChangeStarted,
    OutputLine,
    Session,
)
from mailwizard.platform import profile_for
from mailwizard.screens.apply import ApplyScreen
from mailwizard.screens.review import PlanView, ReviewScreen
from mailwizard.simulated import FakeHost
from tui_support import ANSWERS, JOURNAL, settle

SIZE = (80, 24)


def full_review(tmp_path) -> tuple:
    """`mailwizard --dry-run --platform rhel10 --answers full.toml`: it opens at the Review."""
    answers, structural = answers_mod.parse((ANSWERS / "full.toml").read_text())
    profile = profile_for("rhel10")
    host = FakeHost.from_profile(profile, tmp_path / "root", hostname=answers.server.hostname)
    session = Session(answers, host, profile, offline=True, dry_run=True, journal_dir=JOURNAL)
    return create_app(session, structural, answers_file=True), session


def drawn(view: PlanView) -> list[str]:
    return [strip.text.rstrip() for strip in view._lines]


def printed(view: PlanView) -> list[str]:
    """The whole plan (the view's content) as Rich prints it at the view's width."""
    console = Console(width=view.size.width, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(view.content)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


async def test_the_review_draws_every_line_of_the_plan_and_again_at_a_new_width(tmp_path):
    app, _ = full_review(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        review = app.screen
        assert isinstance(review, ReviewScreen)
        view = review.query_one("#plan", PlanView)
        assert view.complete
        assert len(drawn(view)) < 30  # each section folded to its line (issue 15)
        view.focus()
        await pilot.press("o")  # every section and diff opened
        await settle(pilot)
        assert len(drawn(view)) > 300  # full.toml's plan, much more than a screenful
        assert drawn(view) == printed(view)
        assert view.size.height == len(drawn(view))
        await pilot.resize_terminal(100, 30)
        await settle(pilot)
        assert view.complete and view.size.width > 80 - 6
        assert drawn(view) == printed(view)


async def test_the_first_screen_waits_for_a_slow_plan_with_a_word_then_shows_the_review_planned(tmp_path):
    app, session = full_review(tmp_path)
    plan = Session.plan

    def slow_plan(self, problems=None):
        time.sleep(3 * app.WAIT)
        return plan(self, problems)

    session.plan = slow_plan.__get__(session)
    seen: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            name = type(app.screen).__name__
            if name == "Waiting":
                name += ": " + str(app.screen.query_one("#waiting").content)
            if not seen or seen[-1] != name:
                seen.append(name)
            if name == "ReviewScreen":
                break
            await pilot.pause(0.02)
        await settle(pilot)
        assert seen[-2:] == ["Waiting: Planning...", "ReviewScreen"], seen
        assert app.screen.plan is not None  # planned by the worker that chose it: shown at once
        assert len(app.screen_stack) == 2


async def test_a_flood_of_output_reaches_the_log_whole_and_in_order(tmp_path):
    app, session = full_review(tmp_path)
    lines = 3000

    def flood(plan, on_event, cancel=None):
        changes = plan.active()[:3]
        for i, change in enumerate(changes):
            on_event(ChangeStarted(i, len(changes), change))
            for n in range(lines // len(changes)):
                on_event(OutputLine(f"line {i}.{n}"))
            on_event(ChangeDone(i, len(changes), change))
        return ApplyResult("applied", len(changes))

    async with app.run_test(size=(200, 50)) as pilot:  # wide: no output line of the log wraps
        await settle(pilot)
        session.apply = flood
        app.switch_screen(ApplyScreen())
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ApplyScreen) and screen.result is not None and screen.result.status == "applied"
        log = [strip.text.rstrip() for strip in screen.query_one("#log").lines]
        expected = []
        for i in range(3):
            expected.append(f"[{i + 1}/3]")  # the change's description follows (a long one wraps)
            expected += [f"line {i}.{n}" for n in range(lines // 3)]
        expected.append("DONE: 3 change(s) made")
        starts = [line.split(" ", 1)[0] if line.startswith("[") else line for line in log
                  if line.startswith(("[", "line ", "DONE"))]
        assert starts == expected
        assert screen.query_one("#progress").percentage == 1
