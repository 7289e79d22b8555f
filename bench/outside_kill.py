#!/usr/bin/env python3
"""Outside kills: SIGKILL the wizard's whole process group at a random instant, as a dropped session would.

Not the engine's own kill points (bench/kill_points.py): the instant is chosen by the clock. In
throwaway hosts (root needed), for pam.toml adapted to Debian:
  apply:    kill the unattended apply, `--resume --unattended`, compare /etc, /srv and /var/mail with an
            uninterrupted run (bytes, owner, mode) and the report's statuses;
  rollback: after a full apply, kill `mailwizard rollback`, run it again, compare with the untouched host.
Prints tried / survived and each difference.  Usage: python3 bench/outside_kill.py [--kills N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "e2e")]

from helpers import WIZARD, diff_snapshots, prepare, snapshot, statuses  # noqa: E402
from throwaway import ThrowawayHost  # noqa: E402

TREES = ("/etc", "/srv", "/var/mail")
ENV = {"PYTHONPATH": str(REPO)}


def trees(host) -> dict:
    return {top: snapshot(host, top) for top in TREES}


def differences(a: dict, b: dict) -> list[str]:
    return [f"{top}/{line}" for top in TREES for line in diff_snapshots(a[top], b[top])]


def run(host, *args: str):
    return host.run([*WIZARD, *args], env=ENV, timeout=600)


def kill_group_after(host, args: list[str], delay: float) -> bool:
    """Start the wizard, SIGKILL its process group after `delay` s; whether it was still running then."""
    proc = host.popen([*WIZARD, *args], env=ENV)
    time.sleep(delay)
    alive = proc.poll() is None
    wizard = [p for p in host.processes() if "-m mailwizard" in " ".join(p.argv)]
    for p in wizard:
        try:
            os.killpg(os.getpgid(p.outer_pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)
    return alive and bool(wizard)


def reference() -> tuple[dict, dict, dict, float, float]:
    with ThrowawayHost(hostname="mail.example.com") as host:
        answers = prepare(host, "pam.toml")
        before = trees(host)
        t = time.monotonic()
        out = run(host, "--answers", answers, "--unattended")
        took = time.monotonic() - t
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        report = statuses(json.loads(run(host, "verify", "--json").stdout))
        after = trees(host)
        t = time.monotonic()
        assert run(host, "rollback").returncode == 0
        return before, after, report, took, time.monotonic() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=6, help="kills of each kind (apply, rollback)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    before, after, report, apply_s, rollback_s = reference()
    print(f"seed {args.seed}; uninterrupted apply {apply_s:.1f} s, rollback {rollback_s:.1f} s", flush=True)
    tried = survived = 0
    for kind in ("apply", "rollback"):
        for _ in range(args.kills):
            span = apply_s if kind == "apply" else rollback_s
            delay = rng.uniform(0.2, span)
            with ThrowawayHost(hostname="mail.example.com") as host:
                answers = prepare(host, "pam.toml")
                problems: list[str] = []
                if kind == "apply":
                    hit = kill_group_after(host, ["--answers", answers, "--unattended"], delay)
                    # killed before the journal had the answers (still validating): nothing happened, run it again
                    started = host.path("/var/lib/mailwizard/answers.toml").exists()
                    out = run(host, "--resume", "--unattended") if started else \
                        run(host, "--answers", answers, "--unattended")
                    if out.returncode != 0:
                        problems.append(f"resume exit {out.returncode}: {(out.stdout + out.stderr)[-600:]}")
                    problems += differences(after, trees(host))
                    verify = run(host, "verify", "--json")
                    try:
                        got = statuses(json.loads(verify.stdout))
                    except ValueError:
                        problems.append(f"verify exit {verify.returncode}: {verify.stderr[-600:]}")
                        got = {}
                    problems += [f"check {k}: {v} (uninterrupted: {report.get(k)})"
                                 for k, v in got.items() if v != report.get(k)]
                else:
                    assert run(host, "--answers", answers, "--unattended").returncode == 0
                    hit = kill_group_after(host, ["rollback"], delay)
                    out = run(host, "rollback")
                    if out.returncode != 0:
                        problems.append(f"rollback again exit {out.returncode}: {(out.stdout + out.stderr)[-600:]}")
                    problems += differences(before, trees(host))
            tried += 1
            survived += not problems
            print(f"{kind} killed at {delay:.2f} s ({'mid-run' if hit else 'after it ended'}): "
                  + ("same end state" if not problems else "DIFFERS\n    " + "\n    ".join(problems[:15])),
                  flush=True)
    print(f"tried {tried}, survived {survived}")
    return 0 if tried == survived else 1


if __name__ == "__main__":
    sys.exit(main())
