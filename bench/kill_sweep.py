#!/usr/bin/env python3
"""The exhaustive kill sweep on fake hosts: kill a run after every change, resume, compare.

The suite kills after the first change of each kind (tests/test_journal.py);
this kills after each of the plan's changes, for every platform, and prints
tried / survived with the failures. (bench/kill_points.py does the same with
real daemons in throwaway hosts.)

Usage: python3 bench/kill_sweep.py [--answers full.toml] [--platform rhel10 ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import kill_sweep  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", default="full.toml")
    parser.add_argument("--platform", action="append", choices=["rhel9", "rhel10", "debian12"])
    args = parser.parse_args()
    failures, tried = [], 0
    start = time.monotonic()
    for platform in args.platform or ["rhel9", "rhel10", "debian12"]:
        with tempfile.TemporaryDirectory(prefix="mailwizard-kill-sweep-") as tmp:
            active, expected = kill_sweep.reference(Path(tmp), platform, args.answers)
            for k in range(len(active)):
                tried += 1
                why = kill_sweep.kill_after(Path(tmp), platform, args.answers, k, len(active), expected)
                if why:
                    failures.append(f"{platform}: {why} ({active[k].describe()})")
        print(f"{platform}: {len(active)} kill points", flush=True)
    print(f"tried {tried}, survived {tried - len(failures)}, in {time.monotonic() - start:.1f} s")
    for line in failures:
        print("  " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
