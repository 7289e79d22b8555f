#!/usr/bin/env python3
"""Benchmarks of issue 12: how soon the wizard's first screen is painted, and how long its event loop stalls.

  first paint (median of --runs fresh processes, from the moment the process is started):
    bare      a bare Textual app (one Static)
    welcome   `mailwizard --dry-run --platform rhel10` (no answers): the Welcome screen
    review    `mailwizard --dry-run --platform rhel10 --answers full.toml`: the Review with its plan
  and each wizard figure as a ratio of the bare app's (target: <= 1.7).

  longest event-loop stall (the largest gap between the ticks of a 10 ms asyncio loop running
  beside the app, headless at 80x24; target: <= 100 ms):
    review    from the app's start until the Review has laid out all of full.toml's plan, then End,
              Home and PgDn through it
    apply     the Apply screen while the apply posts 3,000 output lines as fast as it can

"Painted" is the compositor's update of that screen handed to the driver, turned into the bytes a
terminal would get (the headless driver itself writes nothing). Figures, not assertions: the tests
never time anything.
Usage: python3 bench/ui.py [--runs N] [--only paint|stall]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FULL = REPO.parent / "shared" / "answers" / "full.toml"
sys.path.insert(0, str(REPO))

# run in a fresh interpreter: argv = start time (time.time() in the parent), what, answers file
PAINT = r"""
import asyncio, sys, time
start, what = float(sys.argv[1]), sys.argv[2]
if what != "bare" and "gc.disable()" in open("mailwizard/cli.py").read():
    import gc
    gc.disable()  # as cli.main does for the TUI (the app collects again once its first screen is painted)
from textual.app import App

painted = []
display = App._display

def _display(self, screen, renderable):
    if renderable is not None and not painted and ready(screen):
        if hasattr(renderable, "render_segments"):
            renderable.render_segments(self.console)  # the bytes a real terminal would be sent
        painted.append((time.time() - start, time.process_time()))
    return display(self, screen, renderable)

App._display = _display
if what == "bare":
    from textual.widgets import Static

    class Bare(App):
        def compose(self):
            yield Static("Hello")

    app = Bare()
    ready = lambda screen: True
else:
    from mailwizard.cli import build_session, parser
    from mailwizard.app import create_app
    import inspect

    argv = ["--dry-run", "--platform", "rhel10"] + (["--answers", sys.argv[3]] if what == "review" else [])
    args = parser().parse_args(argv)
    session, structural = build_session(args)
    # as cli.main runs it (a tree from before freeze_gc: without it)
    freeze = {"freeze_gc": True} if "freeze_gc" in inspect.signature(create_app).parameters else {}
    app = create_app(session, structural, answers_file=bool(args.answers), **freeze)
    if what == "review":
        # the plan shown: its summary and (the first lines of) the plan itself
        ready = lambda screen: type(screen).__name__ == "ReviewScreen" and screen.plan is not None \
            and screen.query_one("#plan").size.height > 0
    else:
        ready = lambda screen: type(screen).__name__ == "WelcomeScreen"

async def main():
    async with app.run_test(size=(80, 24)):
        while not painted:
            await asyncio.sleep(0.002)
asyncio.run(main())
print(*painted[0])
"""


# Every process runs with byte-code, as an installed package has it (pip compiles on install): this
# machine's PYTHONDONTWRITEBYTECODE would otherwise add ~0.2 s of compiling mailwizard's sources to
# each start. The cache is kept outside the repository.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mailwizard-bench-pycache")


def first_paint(what: str) -> tuple[float, float]:
    """Seconds from the process's start to the paint, and the CPU seconds the process had used by then."""
    out = subprocess.run([sys.executable, "-c", PAINT, repr(time.time()), what, str(FULL)],
                         capture_output=True, text=True, cwd=REPO, env=ENV, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


class Stalls:
    """The gaps between the ticks of a 10 ms loop on the app's event loop: each with when it ended, how
    long it was, and how much of it the main thread spent computing (its CPU time: the rest it waited for
    the GIL, held by a worker thread, or for a core, on a loaded machine)."""

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float, float]] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        last, last_cpu = time.perf_counter(), time.thread_time()
        while True:
            await asyncio.sleep(0.01)
            now, cpu = time.perf_counter(), time.thread_time()
            self.gaps.append((now, max(0.0, now - last - 0.01), cpu - last_cpu))
            last, last_cpu = now, cpu

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def longest(self, since: float = 0.0) -> tuple[float, float]:
        """The longest gap since `since` (wall seconds), and the most CPU the main thread spent in one gap."""
        gaps = [(gap, cpu) for end, gap, cpu in self.gaps if end - gap >= since]
        return max((g for g, _ in gaps), default=0.0), max((c for _, c in gaps), default=0.0)


async def until(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        await asyncio.sleep(0.01)


async def quiet(seconds: float) -> None:
    await asyncio.sleep(seconds)


def make_app(create_app, session, structural, answers_file: bool):
    """The app as `mailwizard` runs it (cli.main); on a tree from before freeze_gc, without it (a figure
    to compare with)."""
    import inspect

    if "freeze_gc" in inspect.signature(create_app).parameters:
        return create_app(session, structural, answers_file=answers_file, freeze_gc=True)
    return create_app(session, structural, answers_file=answers_file)


def wizard(answers: Path | None):
    import gc

    import mailwizard.cli
    from mailwizard.app import create_app
    from mailwizard.cli import build_session, parser

    if "gc.disable()" in Path(mailwizard.cli.__file__).read_text():
        gc.disable()  # as cli.main does for the TUI (the app collects again once its first screen is painted)

    argv = ["--dry-run", "--platform", "rhel10"] + (["--answers", str(answers)] if answers else [])
    args = parser().parse_args(argv)
    session, structural = build_session(args)
    return make_app(create_app, session, structural, bool(answers))


def plan_laid_out(app) -> bool:
    screen = app.screen
    return type(screen).__name__ == "ReviewScreen" and screen.plan is not None and \
        getattr(screen.query_one("#plan"), "complete", True)


async def review_stall() -> dict[str, float]:
    app = wizard(FULL)
    stalls = Stalls()
    async with app.run_test(size=(80, 24)) as pilot:
        stalls.start()
        started = time.perf_counter()
        await until(lambda: plan_laid_out(app))
        await quiet(0.5)
        opened = stalls.longest(started)
        scrolled_from = time.perf_counter()
        for key in ("end", "home", "pagedown", "pagedown", "end"):
            await pilot.press(key)
            await quiet(0.2)
        return {"review: opened, plan laid out": opened, "review: End/Home/PgDn": stalls.longest(scrolled_from)}


async def apply_stall(lines: int = 3000) -> dict[str, float]:
    from mailwizard.engine import ApplyResult, ChangeDone, ChangeStarted, OutputLine

    app = wizard(FULL)
    done = []

    def flood(plan, on_event, cancel=None):
        changes = plan.active()[:3]
        for i, change in enumerate(changes):
            on_event(ChangeStarted(i, len(changes), change))
            for n in range(lines // len(changes)):
                on_event(OutputLine(f"Installing package {n} of {lines}: libsomething-{n}.x86_64 "
                                    "(a line as long as dnf's)"))
            on_event(ChangeDone(i, len(changes), change))
        done.append(time.perf_counter())
        return ApplyResult("applied", len(changes))

    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: plan_laid_out(app))
        app.session.apply = flood
        app.session.dry_run = False
        stalls = Stalls()
        stalls.start()
        started = time.perf_counter()
        from mailwizard.screens.apply import ApplyScreen

        app.switch_screen(ApplyScreen())
        await until(lambda: done and not app.screen.running)
        await quiet(0.3)
        log = app.screen.query_one("#log")
        assert len(log.lines) >= lines, len(log.lines)
        del pilot
        return {f"apply: {lines} output lines": stalls.longest(started)}


def stall_in_child(which: str) -> dict[str, float]:
    """Each measured in its own process (nothing warmed up by the one before)."""
    code = (f"import asyncio, sys; sys.path.insert(0, {str(REPO)!r}); from bench import ui; "
            f"print(repr(asyncio.run(ui.{which}())))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=ENV, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    import ast
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--only", choices=["paint", "stall"])
    args = p.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}")
    if args.only != "stall":
        for what in ("bare", "welcome", "review"):
            first_paint(what)  # fills the byte-code cache
        times: dict[str, list[tuple[float, float]]] = {"bare": [], "welcome": [], "review": []}
        for _ in range(args.runs):  # interleaved, so that a change in the machine's load touches all alike
            for what, values in times.items():
                values.append(first_paint(what))
        wall = {what: statistics.median(v[0] for v in values) for what, values in times.items()}
        cpu = {what: statistics.median(v[1] for v in values) for what, values in times.items()}
        print(f"first paint, median of {args.runs} runs (target <= 1.7x bare); CPU used by then, all threads:")
        for what in times:
            ratio = "" if what == "bare" else f"  {wall[what] / wall['bare']:.2f}x bare" + \
                ("" if wall[what] / wall["bare"] <= 1.7 else "  OVER")
            cpu_ratio = "" if what == "bare" else f"  {cpu[what] / cpu['bare']:.2f}x"
            print(f"  {what:10} {wall[what]:6.3f} s{ratio:18}   (CPU {cpu[what]:5.3f} s{cpu_ratio})")
    if args.only != "paint":
        runs = max(1, args.runs // 3)
        print(f"longest event-loop stall, worst of {runs} runs (target <= 100 ms); main thread's CPU in one gap:")
        results: dict[str, list[tuple[float, float]]] = {}
        for _ in range(runs):
            for which in ("review_stall", "apply_stall"):
                for name, value in stall_in_child(which).items():
                    results.setdefault(name, []).append(value)
        for name, values in results.items():
            wall, cpu = max(v[0] for v in values), max(v[1] for v in values)
            print(f"  {name:34} {wall * 1000:6.0f} ms{'' if wall <= 0.1 else '  OVER'}   (CPU {cpu * 1000:4.0f} ms)")


if __name__ == "__main__":
    main()
