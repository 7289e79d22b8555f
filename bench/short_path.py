#!/usr/bin/env python3
"""Issue 15's short path: the screens and keystrokes from `mailwizard --dry-run` to the Review.

Drives the real wizard in tmux at 80x24 (`tmux new -d -x 80 -y 24`, send-keys, capture-pane) on the
simulated fresh host of `--platform rhel10` (a fully-qualified host name, no mail packages, no
certificate), as a new administrator would for the guide's 1.1 + 2.1 setup: PAM users, Postfix as an
internet site, submission (587) on, a self-signed certificate (the fresh host has none).

Each screen is recognised by its heading and answered as it is shown: a field is typed only when it
is empty or refused, a box ticked only when it is not, everything else left as the screen offers it.
Every key sent counts as one keystroke (a typed name is one per character). Prints the screens visited,
the keys pressed on each, and the totals (issue 15's goal: <= 6 screens, <= 20 keystrokes, the Review
included in the screens). Figures, not assertions.

Usage: python3 bench/short_path.py [--term linux] [--keep] [--command "python3 -m mailwizard ..."]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMAND = "python3 -m mailwizard --dry-run --platform rhel10"
HOSTNAME, DOMAIN = "mail.example.com", "example.com"
FOCUS = re.compile(r"\x1b\[1;7m|\x1b\[[0-9;]*48;5;32m|\x1b\[7m")  # a focused field's label or choice


class Driver:
    def __init__(self, name: str, command: str, term: str | None) -> None:
        self.name = name
        self.keys: list[str] = []
        env = dict(os.environ)
        if term:
            env["TERM"] = term
        self.tmux = ["tmux", "-L", name]  # a server of its own: other tmux sessions are left alone
        subprocess.run(self.tmux + ["new", "-d", "-s", name, "-x", "80", "-y", "24", "-c", str(REPO),
                                    command], check=True, env=env)

    def screen(self, escapes: bool = False) -> str:
        argv = self.tmux + ["capture-pane", "-p", "-t", self.name] + (["-e"] if escapes else [])
        return subprocess.run(argv, capture_output=True, text=True).stdout

    def settled(self, timeout: float = 20.0) -> str:
        """The screen once it stops changing and nothing is being checked."""
        end = time.monotonic() + timeout
        last = ""
        while time.monotonic() < end:
            time.sleep(0.25)
            now = self.screen()
            if now == last and now.strip() and "Checking" not in now and "Planning" not in now:
                return now
            last = now
        return last

    def send(self, *keys: str) -> None:
        """Each key on its own (a burst can outrun the app's focus changes), counted."""
        for key in keys:
            literal = len(key) == 1
            subprocess.run(self.tmux + ["send-keys", "-t", self.name] + (["-l"] if literal else []) + [key],
                           check=True)
            self.keys.append(key)
            time.sleep(0.08)

    def type(self, text: str) -> None:
        self.send(*text)

    def focus(self, pattern: str, limit: int = 12) -> bool:
        """Tab until the line matching `pattern` shows the focus; False if it never does."""
        for _ in range(limit):
            lines = [line for line in self.screen(escapes=True).splitlines()
                     if pattern in re.sub(r"\x1b\[[0-9;]*m", "", line)]
            if lines and FOCUS.search(lines[0]):
                return True
            self.send("Tab")
            time.sleep(0.2)
        return False

    def close(self) -> None:
        subprocess.run(self.tmux + ["kill-server"], capture_output=True)  # its own server only


def field_refused(screen: str, label: str) -> bool:
    """Whether the field labelled `label` has an error under it (its next lines, up to the next label)."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\s*{re.escape(label)} ", line):
            return any("error:" in below for below in lines[i + 1:i + 3])
    return False


def heading(screen: str) -> str:
    lines = screen.splitlines()
    return lines[1].strip() if len(lines) > 1 else ""


def answer(d: Driver, screen: str) -> None:
    """What the administrator presses on the screen shown (Next at the end of each)."""
    head = heading(screen)
    if head.startswith("Welcome"):
        if field_refused(screen, "Host name"):
            d.type(HOSTNAME)
        if field_refused(screen, "Mail domain"):
            d.send("Tab")
            d.type(DOMAIN)
    elif head.startswith("TLS for Dovecot") and "[ ] Create a self-signed" in screen \
            and "does not exist" in screen:
        if d.focus("Create a self-signed"):
            d.send("space")
    elif head.startswith("Authentication") and "(*) PAM" not in screen:
        raise SystemExit("the Authentication screen does not offer PAM first: teach the bench")
    elif head.startswith("Submission") and "[ ] port 587" in screen:
        d.send("space")  # the screen focuses the Submission box
    elif ("Submission" in screen and re.search(r"Submission\s+off", screen)):
        raise SystemExit("submission is off on the summary: teach the bench to turn it on")
    d.send("C-n")


def keys_text(keys: list[str]) -> list[str]:
    """The keys as words, a typed run of characters as one quoted word."""
    words: list[str] = []
    run = ""
    for key in keys + [""]:
        if len(key) == 1:
            run += key
            continue
        if run:
            words.append(repr(run))
            run = ""
        if key:
            words.append(key)
    return words


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--command", default=COMMAND)
    ap.add_argument("--term", help="TERM for the wizard (linux: the console's 8 colours)")
    ap.add_argument("--keep", action="store_true", help="leave the tmux session running at the Review "
                    "(on its own server: tmux -L short-path-PID)")
    ap.add_argument("--show", action="store_true", help="print each screen as it was shown")
    args = ap.parse_args()
    d = Driver(f"short-path-{os.getpid()}", args.command, args.term)
    visited: list[tuple[str, list[str]]] = []
    try:
        while True:
            screen = d.settled()
            head = heading(screen)
            if args.show:
                print(screen)
            if head.startswith("Review"):
                visited.append((head, []))
                break
            if len(visited) > 30 or (len(visited) >= 3 and all(h == head for h, _ in visited[-3:])):
                print(screen)
                raise SystemExit(f"stuck on {head!r}")
            before = len(d.keys)
            answer(d, screen)
            visited.append((head, d.keys[before:]))
            end = time.monotonic() + 15  # Next leaves the screen, or it refused (the loop then sees it again)
            while time.monotonic() < end and heading(d.screen()) == head:
                time.sleep(0.1)
    finally:
        if not args.keep:
            d.close()
    print(f"{args.command}  (80x24, TERM={args.term or os.environ.get('TERM', '')})")
    for i, (head, keys) in enumerate(visited, 1):
        shown = " ".join(keys_text(keys))
        typed = sum(1 for k in keys if len(k) == 1)
        print(f"{i:2}. {head[:48]:48} {len(keys):3} keys  {shown}" + (f" ({typed} typed)" if typed else ""))
    print(f"screens: {len(visited)} (the Review included)   keystrokes: {len(d.keys)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
