#!/usr/bin/env python3
"""Issue 7: SIGKILL the unattended apply of full.toml at every kill point, resume, compare (needs root).

An uninterrupted reference run gives the end state and verify result; then,
each on a fresh throwaway host, the apply is killed right after change K is
journalled done (every K), and inside the write of every file change
(between the temp file and its rename), and `--resume --unattended` must end
with the reference's files (bytes, owner, mode) and verify statuses. The
harness is tests/e2e/test_kill_resume.py's; the test runs a spread of it.

Prints one line per kill point and the counts: tried / survived / mismatches,
with the differing paths or checks.
Usage: sudo python3 bench/kill_points.py [--jobs N] [--only-after | --only-writes] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from test_kill_resume import killed_run, reference_run  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=2, help="throwaway hosts at once (default 2)")
    p.add_argument("--only-after", action="store_true", help="only the kills after each change")
    p.add_argument("--only-writes", action="store_true", help="only the kills inside file writes")
    p.add_argument("--limit", type=int, default=0, help="at most N kill points (0: all)")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("kill_points: throwaway hosts need root", file=sys.stderr)
        return 2
    start = time.monotonic()
    ref = reference_run()
    print(f"reference run: {len(ref.keys)} changes, {len(ref.checks)} checks, "
          f"{len(ref.state)} paths compared ({time.monotonic() - start:.0f} s)", flush=True)
    points = []
    if not args.only_writes:
        points += [(k, False) for k in range(len(ref.keys))]
    if not args.only_after:
        points += [(k, True) for k, kind in enumerate(ref.kinds) if kind == "file"]
    if args.limit:
        points = points[:args.limit]

    def one(point):
        t0 = time.monotonic()
        outcome = killed_run(ref, *point)
        status = "survived" if outcome.ok else "MISMATCH"
        print(f"{status:8}  {outcome.point}  ({time.monotonic() - t0:.0f} s)", flush=True)
        for line in outcome.problems[:30]:
            print(f"          {line}", flush=True)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(one, points))
    bad = [o for o in outcomes if not o.ok]
    after = sum(1 for k, w in points if not w)
    print(f"\nkill points tried: {len(outcomes)} ({after} after a change, {len(outcomes) - after} inside a "
          f"file write); survived: {len(outcomes) - len(bad)}; mismatches: {len(bad)}; "
          f"{time.monotonic() - start:.0f} s with {args.jobs} job(s)")
    for o in bad:
        print(f"  {o.point}: " + "; ".join(o.problems[:10]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
