#!/usr/bin/env python3
"""Benchmarks of issue 2: median wall time of the things an administrator waits for.

  (a) mailwizard --version
  (b) --unattended --dry-run --platform rhel10 --answers full.toml
  (c) the TUI's first screen painted (headless): the Review with its plan (bench/ui.py)
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
    """The Review with full.toml's plan painted, as bench/ui.py measures it (which also compares it with a
    bare Textual app, and measures the event loop's stalls)."""
    sys.path.insert(0, str(REPO / "bench"))
    from ui import first_paint as review_painted

    return review_painted("review")[0]


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
