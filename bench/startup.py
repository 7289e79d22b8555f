#!/usr/bin/env python3
"""Benchmarks of issue 2: median wall time of the things an administrator waits for.

  (a) mailwizard --version
  (b) --unattended --dry-run --platform rhel10 --answers full.toml
  (c) the TUI's first screen painted (headless)
  (d) a re-run with nothing to do (unattended, in a throwaway host; needs root)

Targets on the project's 2-core machines: (b) < 1 s, (c) < 1 s, (d) < 5 s.
Usage: python3 bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSWERS = REPO.parent / "shared" / "answers"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

FIRST_PAINT = r"""
import asyncio, sys, time
start = float(sys.argv[1])
from mailwizard.cli import build_session, parser
from mailwizard.app import create_app
args = parser().parse_args(["--platform", "rhel10", "--answers", sys.argv[2], "--dry-run"])
session, structural = build_session(args)
app = create_app(session, structural)
async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        # run_test yields once the first screen is mounted and drawn; the preflight
        # checks it starts run on in a worker and are not part of the first paint
        print(time.time() - start)
asyncio.run(main())
"""


def median_of(runs: int, fn) -> float:
    return statistics.median(fn() for _ in range(runs))


def timed(argv: list[str], **kw) -> float:
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, **kw)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return elapsed


def first_paint() -> float:
    out = subprocess.run([sys.executable, "-c", FIRST_PAINT, repr(time.time()), str(ANSWERS / "full.toml")],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def rerun_nothing_to_do(runs: int) -> float | None:
    if os.geteuid() != 0:
        return None
    from helpers import prepare, wizard
    from throwaway import ThrowawayHost

    with ThrowawayHost(hostname="mail.example.com") as host:
        answers = prepare(host)
        first = wizard(host, "--answers", answers, "--unattended")
        if first.returncode != 0:
            raise SystemExit(first.stdout + first.stderr)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            out = wizard(host, "--answers", answers, "--unattended")
            times.append(time.perf_counter() - start)
            if out.returncode != 0 or "Plan for debian12: 0 change(s)" not in out.stdout:
                raise SystemExit("the re-run was not a no-op:\n" + out.stdout[-3000:])
        return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    mw = [sys.executable, "-m", "mailwizard"]
    rows = [
        ("(a) mailwizard --version", median_of(args.runs, lambda: timed([*mw, "--version"])), None),
        ("(b) dry-run plan, rhel10, full.toml", median_of(args.runs, lambda: timed(
            [*mw, "--unattended", "--dry-run", "--platform", "rhel10", "--answers", str(ANSWERS / "full.toml")])), 1.0),
        ("(c) TUI first screen painted", median_of(args.runs, first_paint), 1.0),
        ("(d) re-run with nothing to do", rerun_nothing_to_do(args.runs), 5.0),
    ]
    print(f"median of {args.runs} runs, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name, value, target in rows:
        shown = "skipped (needs root)" if value is None else f"{value:6.3f} s"
        verdict = "" if target is None or value is None else ("  ok" if value < target else f"  OVER {target} s")
        print(f"{name:40} {shown}{'' if target is None else f'  (target < {target} s)'}{verdict}")


if __name__ == "__main__":
    main()
