#!/usr/bin/env python3
"""Benchmark of issue 12: plan time against the size of the answers.

Answers files are made from the reference full.toml with N mailboxes
(`[mailboxes]`) or N virtual aliases (`[postfix.virtual_aliases]`), for
N = 100, 1000, 3000, and planned
  - in process: Session.plan() on a session built as the command line builds it,
  - by the command line: `mailwizard --platform P --answers F --unattended --dry-run`,
for P = rhel10 and debian12. The growth ratio is time(3000) / time(1000): about
3 when planning is linear in the answers, about 9 when it is quadratic.

Target on the project's 2-core machines: 3,000 mailboxes or aliases plan in < 1 s
by the command line.
Usage: python3 bench/plan_scale.py [--runs N] [--sizes 100,1000,3000] [--write DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSWERS = REPO.parent / "shared" / "answers"
sys.path.insert(0, str(REPO))

KINDS = ("mailboxes", "aliases")
PLATFORMS = ("rhel10", "debian12")
TARGET = 1.0  # seconds, for the largest N by the command line
AUTOS = ("subscribe", "create", "no")


def _without_sections(text: str, names: tuple[str, ...]) -> str:
    """The TOML text with the tables `names` (header and body) taken out."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        if header:
            skipping = header.group(1) in names
        if not skipping:
            out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"


def mailboxes_section(n: int) -> str:
    lines = ["[mailboxes]"]
    for i in range(1, n + 1):
        name = f'"Project {i}"' if i % 10 == 0 else f"Box{i}"  # every tenth one quoted, with a space
        lines.append(f'{name} = {{ auto = "{AUTOS[i % len(AUTOS)]}" }}')
    return "\n".join(lines) + "\n"


def aliases_section(n: int) -> str:
    lines = ["[postfix.virtual_aliases]"]
    for i in range(1, n + 1):
        domain = "example.com" if i % 2 else f"dept{i % 10}.example.org"  # half of them in alias domains
        lines.append(f'"alias{i}@{domain}" = "user{i}@example.net"')
    return "\n".join(lines) + "\n"


def answers_text(kind: str, n: int) -> str:
    """full.toml with `n` mailboxes (kind "mailboxes") or `n` virtual aliases (kind "aliases")."""
    base = (ANSWERS / "full.toml").read_text(encoding="utf-8")
    if kind == "mailboxes":
        return _without_sections(base, ("mailboxes",)) + "\n" + mailboxes_section(n)
    return _without_sections(base, ("postfix.virtual_aliases",)) + "\n" + aliases_section(n)


def write_answers(directory: Path, kind: str, n: int) -> Path:
    path = directory / f"{kind}-{n}.toml"
    path.write_text(answers_text(kind, n), encoding="utf-8")
    return path


def in_process(platform: str, answers: Path) -> float:
    from mailwizard.cli import build_session, parser

    args = parser().parse_args(["--platform", platform, "--answers", str(answers), "--unattended", "--dry-run"])
    session, structural = build_session(args)
    if any(p.severity == "error" for p in structural):
        raise SystemExit(f"{answers}: {structural}")
    start = time.perf_counter()
    plan = session.plan()
    elapsed = time.perf_counter() - start
    if not plan.changes:
        raise SystemExit(f"{answers}: empty plan")
    return elapsed


def by_cli(platform: str, answers: Path) -> float:
    argv = [sys.executable, "-m", "mailwizard", "--platform", platform, "--answers", str(answers),
            "--unattended", "--dry-run"]
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="median of this many runs (default 3)")
    p.add_argument("--sizes", default="100,1000,3000", help="the values of N, comma-separated")
    p.add_argument("--platforms", default=",".join(PLATFORMS))
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--write", metavar="DIR", help="keep the generated answers files in DIR")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    directory = Path(args.write or tempfile.mkdtemp(prefix="mailwizard-plan-scale-"))
    directory.mkdir(parents=True, exist_ok=True)
    in_process(PLATFORMS[0], write_answers(directory, "mailboxes", 10))  # imports and caches warmed up
    print(f"median of {args.runs} run(s), {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'answers':18} {'platform':9} {'Session.plan()':>15} {'CLI dry-run':>12}")
    for kind in args.kinds.split(","):
        for platform in args.platforms.split(","):
            figures: dict[int, tuple[float, float]] = {}
            for n in sizes:
                answers = write_answers(directory, kind, n)
                plan_s = statistics.median(in_process(platform, answers) for _ in range(args.runs))
                cli_s = statistics.median(by_cli(platform, answers) for _ in range(args.runs))
                figures[n] = (plan_s, cli_s)
                over = "  OVER" if n == max(sizes) and n >= 3000 and cli_s >= TARGET else ""
                print(f"{f'{n} {kind}':18} {platform:9} {plan_s:13.3f} s {cli_s:10.3f} s{over}", flush=True)
            if len(sizes) >= 2:
                lo, hi = sizes[-2], sizes[-1]
                ratio = [figures[hi][i] / figures[lo][i] if figures[lo][i] else float("nan") for i in (0, 1)]
                print(f"{'  growth ' + f'{lo}->{hi}':18} {platform:9} {ratio[0]:13.1f} x {ratio[1]:10.1f} x"
                      f"   (linear: {hi / lo:.1f} x)")
    if not args.write:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()
    print(f"target: {max(sizes)} mailboxes or aliases by the command line < {TARGET} s")


if __name__ == "__main__":
    main()
