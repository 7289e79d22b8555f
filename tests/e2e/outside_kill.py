"""Outside kills (issue 13): the wizard stopped from outside at an instant chosen by the clock, as a dropped
SSH session, an OOM kill or a power loss would stop it -- never at a point the code chooses.

Shared by the exhaustive sweep (bench/outside_kill.py) and the suite's seeded sample
(tests/e2e/test_outside_kill.py). Each kill runs in a fresh throwaway host:

  apply     SIGKILL the process group of `--answers FILE --unattended`, then `--resume --unattended`;
  resume    the same, then SIGKILL the `--resume` itself, then `--resume` again;
  rollback  after a full apply, SIGKILL `rollback`, then `rollback` again;
  install   Postfix and Dovecot purged first (dpkg --purge), so apt-get really installs them from the
            package cache; SIGKILL the apply while the install runs (apt-get, dpkg and its maintainer
            scripts die with it), then `--resume`;
  sighup    the interactive wizard in tmux; once Apply runs, SIGHUP to its process group (the SSH
            session closing), then `--resume --unattended`.

The end state is compared with an uninterrupted run of the same answers on the same kind of host
(`Reference`): /etc, /srv and /var/mail (bytes, owner, mode: accounts are /etc/passwd and /etc/group),
every other path the journal backed up, the journal's state, backups and index, which of Postfix and
Dovecot run, the packages' dpkg status, and verify's status per check. After a rollback: the trees, the
services, the packages and the journal's absence, compared with an uninterrupted rollback (which, on a
host whose packages were installed, equals the untouched host: tests/e2e/test_rollback.py).

Each instant is drawn uniformly over the phase's duration as the reference measured it (for the
install: from the start of apt-get to its end, read from the reference's journal; for a resume: the
planning time plus what the first kill left of the apply).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import time
import tomllib
from dataclasses import dataclass, field

from helpers import (
    INDEXED,
    JOURNAL,
    WIZARD,
    _entry,
    diff_snapshots,
    end_state,
    journal_events,
    prepare,
    snapshot,
    statuses,
)
from support import ANSWERS_DIR
from throwaway import HostGone, ThrowawayHost

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {"PYTHONPATH": REPO}
HOSTNAME = "mail.example.com"


def host_name(answers: str) -> str:
    """The name the throwaway host has: the answers' own server name (null-client.toml's is app1.example.com)."""
    return tomllib.loads((ANSWERS_DIR / answers).read_text()).get("server", {}).get("hostname") or HOSTNAME
PHASES = ("apply", "resume", "rollback", "install", "sighup")
# every Postfix and Dovecot package this machine has: the wizard installs again what the answers need
PURGE = ("dpkg-query -W -f='${Package} ${Status}\\n' 'dovecot-*' 'postfix*' 2>/dev/null "
         "| awk '/ installed$/ {print $1}' | xargs -r dpkg --purge")
PACKAGES = "dpkg-query -W -f='${Package} ${Status}\\n' 'dovecot-*' 'postfix*' 2>/dev/null; true"
TUI_SIZE = ("100", "32")
TMUX = ["tmux", "-S", "/tmp/mw-tmux"]


class Drift(Exception):
    """This machine -- every throwaway's lower layer -- changed (packages installed, accounts added) since the
    reference was made or during the kill: the end states are no longer comparable. Make the reference again."""


def machine() -> tuple[int, ...]:
    """When this machine's packages, accounts and /etc last changed: a throwaway host starts as a copy of them."""
    return tuple(os.stat(p).st_mtime_ns for p in ("/var/lib/dpkg/status", "/etc/passwd", "/etc/group", "/etc"))


# --- the host -----------------------------------------------------------------------------

def fresh(host, answers: str, purge: bool) -> str:
    """The answers (and certificate) in place; with `purge`, no Postfix nor Dovecot package left."""
    path = prepare(host, answers)
    if purge:
        out = host.run(PURGE, timeout=300)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return path


def run(host, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return host.run([*WIZARD, *args], env=ENV, timeout=timeout)


def services(host) -> dict[str, int]:
    """How many Postfix masters and Dovecot masters run (a daemon started twice would show)."""
    counts = {"postfix master": 0, "dovecot": 0}
    for p in host.processes():
        exe = p.argv[0] if p.argv else ""
        if exe.endswith("/postfix/sbin/master"):
            counts["postfix master"] += 1
        elif exe.endswith("/sbin/dovecot"):
            counts["dovecot"] += 1
    return counts


def packages(host) -> dict[str, str]:
    lines = host.run(PACKAGES).stdout.splitlines()
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines if " " in line}


def accounts(host) -> dict[str, str]:
    """The account files' entries one by one (their hashes are compared as files: this says which entry
    differs), passwords masked."""
    out = {}
    for name in ("passwd", "group", "shadow", "gshadow"):
        for suffix in ("", "-"):
            real = host.path(f"/etc/{name}{suffix}")
            for line in real.read_text().splitlines() if real.exists() else []:
                fields = line.split(":")
                if "shadow" in name and len(fields) > 1:
                    fields[1] = "*" if fields[1] in ("*", "!", "!*", "") else "(hash)"
                out[f"account /etc/{name}{suffix} {fields[0]}"] = ":".join(fields)
    return out


ACCOUNT_FILES = tuple(f"/etc/{name}{suffix}" for name in ("passwd", "group", "shadow", "gshadow")
                      for suffix in ("", "-"))


def system_ids_by_name(host, state: dict) -> dict:
    """`state` with the system accounts' numbers (below 1000) written as names.

    Purging Postfix and Dovecot removes their system users; the install makes them again, numbered in the
    order their maintainer scripts run: apt-get's order uninterrupted, dpkg's own when `dpkg --configure -a`
    finishes what a kill left (dovecot 103 instead of postfix 103). That is the packages' doing, not the
    wizard's: after a purge, accounts and owners are compared by name, the account files entry by entry
    (their bytes, their backups and the journal's hashes of them then differ by those numbers alone).
    """
    def ids(path: str) -> dict[int, str]:
        real = host.path(path)
        lines = real.read_text().splitlines() if real.exists() else []
        return {int(f[2]): f[0] for f in (line.split(":") for line in lines) if len(f) > 2 and f[2].isdigit()}

    users, groups = ids("/etc/passwd"), ids("/etc/group")

    def name(table: dict[int, str], value):
        number = int(value) if isinstance(value, int) or str(value).isdigit() else None
        return table.get(number, value) if number is not None and number < 1000 else value

    index = host.path(f"{JOURNAL}/backups/index.json")
    files = json.loads(index.read_text())["files"] if index.exists() else {}
    skipped = {f"file {JOURNAL}/backups/index.json"}
    for path in ACCOUNT_FILES:
        skipped |= {f"file {path}", f"file {path}.mailwizard-orig", f"journal backup {path}"}
        if "backup" in files.get(path, {}):
            skipped.add(f"file {JOURNAL}/backups/{files[path]['backup']}")
    out = {}
    for key, value in state.items():
        if key in skipped:
            continue
        if key.startswith("file ") and isinstance(value, tuple) and len(value) == 4:
            value = (value[0], value[1], name(users, value[2]), name(groups, value[3]))
        elif key.startswith("journal backup "):
            entry = json.loads(value)
            for field, table in (("uid", users), ("gid", groups)):
                if field in entry:
                    entry[field] = name(table, entry[field])
            value = json.dumps(entry, sort_keys=True)
        elif key.startswith("account "):
            fields = value.split(":")
            if key.startswith("account /etc/passwd") and len(fields) > 3:
                fields[2], fields[3] = str(name(users, fields[2])), str(name(groups, fields[3]))
            elif key.startswith("account /etc/group") and len(fields) > 2:
                fields[2] = str(name(groups, fields[2]))
            value = ":".join(fields)
        out[key] = value
    return out


def applied_state(host, purged: bool = False) -> dict:
    """What an apply leaves, as comparable entries (`purged`: system accounts by name, see above)."""
    state = _applied_state(host)
    return system_ids_by_name(host, state) if purged else state


def _applied_state(host) -> dict:
    state = {f"file {k}": v for k, v in end_state(host).items()}
    state.update(accounts(host))
    state.update({f"file /var/mail/{k}": v for k, v in snapshot(host, "/var/mail").items()})
    state.update({f"service {k}": v for k, v in services(host).items()})
    state.update({f"package {k}": v for k, v in packages(host).items()})
    journal = host.path(f"{JOURNAL}/state.json")
    if journal.exists():  # its hash is above; each key too, to say what differs
        state.update({f"journal state {k}": json.dumps(v, sort_keys=True)
                      for k, v in json.loads(journal.read_text()).items()})
    index = host.path(f"{JOURNAL}/backups/index.json")
    if index.exists():  # the same for each file the journal backed up (an indexed map's bytes aside)
        for path, entry in json.loads(index.read_text())["files"].items():
            if path.endswith(INDEXED) and "wizard_sha" in entry:
                entry["wizard_sha"] = "indexed map"
            state[f"journal backup {path}"] = json.dumps(entry, sort_keys=True)
    return state


def rolled_back_state(host) -> dict:
    """What a rollback leaves: the trees, the journal gone, services, packages."""
    state = {}
    for top in ("/etc", "/srv", "/var/mail"):
        state.update({f"file {top}/{k}": v for k, v in snapshot(host, top).items()})
    state.update({f"file {k}": v for k, v in _entry(host, JOURNAL).items()})
    state.update({f"service {k}": v for k, v in services(host).items()})
    state.update({f"package {k}": v for k, v in packages(host).items()})
    return state


# --- killing from outside --------------------------------------------------------------------

def wizard_groups(host) -> list[int]:
    """The process groups (as this machine numbers them) of every wizard running in the host."""
    groups = set()
    for p in host.processes():
        if "-m mailwizard" in " ".join(p.argv):
            group = _group_in(host, p.outer_pid)
            if group is not None:
                groups.add(group)
    return sorted(groups)


def _group_in(host, pid: int) -> int | None:
    """The process group of `pid` if that pid is still the host's process when asked: pinned by a pidfd, so
    that a pid this machine reused meanwhile (pid_max is 32768 here) never names another host's group."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        if os.readlink(f"/proc/{pid}/ns/pid") != host.pidns:
            return None
        group = os.getpgid(pid)
        return None if select.select([fd], [], [], 0)[0] else group  # readable: it ended meanwhile
    except OSError:
        return None
    finally:
        os.close(fd)


def signal_groups(host, sig: int) -> bool:
    """Send `sig` to the wizard's whole process group (its commands too); whether one was running."""
    groups = wizard_groups(host)
    for group in groups:
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            pass
    return bool(groups)


def kill_after(host, args: list[str], delay: float) -> bool:
    """Start the wizard, SIGKILL its process group `delay` s later; whether it was still running then."""
    proc = host.popen([*WIZARD, *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    alive = proc.poll() is None
    hit = signal_groups(host, signal.SIGKILL)
    proc.wait(timeout=60)
    return alive and hit


def kill_when(host, args: list[str], seen: str, timeout: float = 120) -> bool:
    """Start the wizard, SIGKILL its process group once a process whose command line holds `seen` runs in the
    host (watched from outside, as an administrator's `ps` would); whether it was seen."""
    proc = host.popen([*WIZARD, *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    found = False
    while not found and proc.poll() is None and time.monotonic() < deadline:
        found = any(seen in " ".join(p.argv) for p in host.processes())
        time.sleep(0 if found else 0.01)
    signal_groups(host, signal.SIGKILL)
    proc.wait(timeout=60)
    return found


def resume(host, answers: str) -> subprocess.CompletedProcess:
    """Continue as the administrator would: `--resume`; if the kill came before the journal had the answers
    (still validating: nothing happened), the same command again."""
    if host.path(f"{JOURNAL}/answers.toml").exists():
        return run(host, "--resume", "--unattended")
    return run(host, "--answers", answers, "--unattended")


# --- the interactive wizard in tmux -----------------------------------------------------------

def screen(host) -> str:
    return host.run([*TMUX, "capture-pane", "-p", "-t", "mw"]).stdout


def wait_screen(host, text: str, timeout: float = 120) -> float:
    """Seconds until the terminal shows `text`."""
    start = time.monotonic()
    while text not in screen(host):
        if time.monotonic() - start > timeout:
            raise AssertionError(f"the wizard never showed {text!r}; the screen:\n{screen(host)}")
        time.sleep(0.05)
    return time.monotonic() - start


def tui_to_apply(host, answers: str) -> float:
    """Start the wizard in tmux with the answers, walk Review -> Apply; the clock (monotonic) at the key."""
    command = (f"cd /root && env PYTHONPATH={REPO} TERM=xterm-256color "
               f"{' '.join(WIZARD)} --answers {answers}; sleep 600")
    out = host.run([*TMUX, "new-session", "-d", "-s", "mw", "-x", TUI_SIZE[0], "-y", TUI_SIZE[1], command],
                   env=ENV)
    assert out.returncode == 0, out.stderr
    wait_screen(host, "change(s)")  # the Review's summary: the answers are complete
    host.run([*TMUX, "send-keys", "-t", "mw", "C-n"])
    wait_screen(host, "Apply the plan?")
    host.run([*TMUX, "send-keys", "-t", "mw", "y"])
    return time.monotonic()


def tui_applied(host) -> None:
    """Stop the terminal (tmux and what still runs in it)."""
    host.run([*TMUX, "kill-server"])


# --- the reference ----------------------------------------------------------------------------

@dataclass
class Reference:
    answers: str
    purge: bool
    applied: dict
    checks: dict[str, str]
    rolled_back: dict
    before: dict
    apply_s: float
    plan_s: float  # until the journal's "apply" record: what a resume costs before its first change
    rollback_s: float
    install: tuple[float, float] = (0.0, 0.0)  # the install change's begin and done, seconds from the start
    tui_apply_s: float = 0.0
    machine: tuple[int, ...] = ()


def timed_apply(host, answers: str) -> tuple[float, dict[str, float]]:
    """An uninterrupted unattended apply: its duration, and when journal records first appeared."""
    seen: dict[str, float] = {}
    start = time.monotonic()
    proc = host.popen([*WIZARD, "--answers", answers, "--unattended"], env=ENV,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        for event in journal_events(host):
            name = event["event"] + ("" if "key" not in event else ":" + event["key"])
            seen.setdefault(name, time.monotonic() - start)
        time.sleep(0.02)
    took = time.monotonic() - start
    assert proc.returncode == 0, f"the uninterrupted apply of {answers} exited {proc.returncode}"
    return took, seen


def tui_apply_time(answers: str, purge: bool = False) -> float:
    """Seconds from the Apply key to the Apply screen's "Done", uninterrupted, in tmux."""
    with ThrowawayHost(hostname=host_name(answers)) as host:
        start = tui_to_apply(host, fresh(host, answers, purge))
        wait_screen(host, "Done", timeout=600)
        took = time.monotonic() - start
        tui_applied(host)
    return took


def reference(answers: str, purge: bool = False, tui: bool = False) -> Reference:
    """The uninterrupted run, made again until this machine stays the same while it is made."""
    died = 0
    for _ in range(5):
        was = machine()
        try:
            ref = _reference(answers, purge, tui)
        except HostGone:
            # a host of the uninterrupted run died under it (said at the tier's end): made again, once
            died += 1
            if died > 1:
                raise
            continue
        if machine() == was:
            ref.machine = was
            return ref
    raise Drift("this machine keeps changing (packages being installed?): no reference could be made")


def _reference(answers: str, purge: bool, tui: bool) -> Reference:
    with ThrowawayHost(hostname=host_name(answers)) as host:
        path = fresh(host, answers, purge)
        before = rolled_back_state(host)
        apply_s, seen = timed_apply(host, path)
        install = [(t, seen.get(f"done:{name[6:]}", apply_s)) for name, t in seen.items()
                   if name.startswith("begin:command:apt-get install")]
        checks = statuses(json.loads(run(host, "verify", "--json").stdout))
        applied = applied_state(host, purge)
        start = time.monotonic()
        out = run(host, "rollback")
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        rollback_s = time.monotonic() - start
        rolled_back = rolled_back_state(host)
    tui_apply_s = tui_apply_time(answers, purge) if tui else 0.0
    return Reference(answers, purge, applied, checks, rolled_back, before, apply_s,
                     seen.get("apply", 1.0), rollback_s, install[0] if install else (0.0, 0.0), tui_apply_s)


# --- one kill ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    phase: str
    answers: str
    delay: float
    mid_run: bool  # the signal found the wizard running (else it had ended: nothing was interrupted)
    problems: list[str] = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return not self.problems

    def line(self) -> str:
        where = "mid-run" if self.mid_run else "after it ended"
        head = f"{self.phase:8} {self.answers:9} at {self.delay:6.2f} s ({where}): "
        return head + ("same end state" if self.survived else "DIFFERS\n    " + "\n    ".join(self.problems[:15]))


def compare_applied(host, ref: Reference, out: subprocess.CompletedProcess) -> list[str]:
    problems = []
    if out.returncode != 0:
        problems.append(f"resume exit {out.returncode}: {(out.stdout + out.stderr)[-800:]}")
    problems += diff_snapshots(ref.applied, applied_state(host, ref.purge))
    verify = run(host, "verify", "--json")
    try:
        got = statuses(json.loads(verify.stdout))
    except ValueError:
        return problems + [f"verify exit {verify.returncode}: {verify.stderr[-600:]}"]
    problems += [f"check {k}: {v} (uninterrupted: {ref.checks.get(k)})" for k, v in sorted(got.items())
                 if v != ref.checks.get(k)]
    problems += [f"check {k} missing" for k in ref.checks if k not in got]
    return problems


def kill_once(ref: Reference, phase: str, rng: random.Random) -> Outcome:
    """One kill of `phase` at an instant drawn from `rng`, on a fresh host; its outcome. Raises Drift when this
    machine changed since the reference was made, or while the kill ran."""
    if machine() != ref.machine:
        raise Drift("this machine changed since the reference run")
    outcome = _kill_once(ref, phase, rng)
    if machine() != ref.machine:
        raise Drift("this machine changed during the kill")
    return outcome


def _kill_once(ref: Reference, phase: str, rng: random.Random) -> Outcome:
    with ThrowawayHost(hostname=host_name(ref.answers)) as host:
        answers = fresh(host, ref.answers, ref.purge)
        if rolled_back_state(host) != ref.before:
            raise Drift("the fresh host differs from the reference's before the run")
        if phase in ("apply", "install"):
            start, end = ref.install if phase == "install" else (0.1, ref.apply_s)
            delay = rng.uniform(start, end)
            hit = kill_after(host, ["--answers", answers, "--unattended"], delay)
            return Outcome(phase, ref.answers, delay, hit, compare_applied(host, ref, resume(host, answers)))
        if phase == "resume":
            first = rng.uniform(ref.plan_s, ref.apply_s)
            kill_after(host, ["--answers", answers, "--unattended"], first)
            delay = rng.uniform(0.1, ref.plan_s + max(ref.apply_s - first, 0.5))
            if host.path(f"{JOURNAL}/answers.toml").exists():
                hit = kill_after(host, ["--resume", "--unattended"], delay)
            else:
                hit = kill_after(host, ["--answers", answers, "--unattended"], delay)
            return Outcome(phase, ref.answers, delay, hit, compare_applied(host, ref, resume(host, answers)))
        if phase == "rollback":
            out = run(host, "--answers", answers, "--unattended")
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
            delay = rng.uniform(0.1, ref.rollback_s)
            hit = kill_after(host, ["rollback"], delay)
            again = run(host, "rollback")
            problems = [] if again.returncode == 0 else \
                [f"rollback again exit {again.returncode}: {(again.stdout + again.stderr)[-800:]}"]
            problems += diff_snapshots(ref.rolled_back, rolled_back_state(host))
            return Outcome(phase, ref.answers, delay, hit, problems)
        if phase == "sighup":
            delay = rng.uniform(0.1, ref.tui_apply_s)
            start = tui_to_apply(host, answers)
            time.sleep(max(0.0, start + delay - time.monotonic()))
            hit = signal_groups(host, signal.SIGHUP)
            problems = []
            deadline = time.monotonic() + 30
            while wizard_groups(host) and time.monotonic() < deadline:
                time.sleep(0.05)
            if wizard_groups(host):
                problems.append("the wizard still runs 30 s after SIGHUP; its screen:\n" + screen(host))
                signal_groups(host, signal.SIGKILL)
            tui_applied(host)
            return Outcome(phase, ref.answers, delay, hit, problems + compare_applied(host, ref, resume(host, answers)))
        raise ValueError(f"no phase {phase!r}: one of {', '.join(PHASES)}")


def killed_at_sight(ref: Reference, seen: str, left: str) -> tuple[str, Outcome]:
    """The apply of `ref`'s answers on a fresh host, SIGKILLed once a process holding `seen` runs, then resumed
    once the orphans of the kill (a dpkg in its own session outlives it) have ended: what the shell command
    `left` said of the host before the resume, and the outcome."""
    if machine() != ref.machine:
        raise Drift("this machine changed since the reference run")
    with ThrowawayHost(hostname=host_name(ref.answers)) as host:
        answers = fresh(host, ref.answers, ref.purge)
        hit = kill_when(host, ["--answers", answers, "--unattended"], seen)
        deadline = time.monotonic() + 60
        while any(p.argv[:1] == ["/usr/bin/dpkg"] for p in host.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        said = host.run(["sh", "-c", left], timeout=60).stdout
        return said, Outcome("install", ref.answers, 0.0, hit, compare_applied(host, ref, resume(host, answers)))


def maker(answers: str, purge: bool = False, tui: bool = False):
    """`make(again=False)`: the reference of these answers, made at the first call, and again when asked."""
    made: dict = {}

    def make(again: bool = False) -> Reference:
        if again or "ref" not in made:
            made["ref"] = reference(answers, purge, tui)
        return made["ref"]
    return make


def sample(make, phase: str, seed: int) -> Outcome:
    """A kill of `phase` that found the wizard running (up to three draws), the reference made again if this
    machine changed meanwhile (another engineer's package install: the hosts are copies of it)."""
    rng = random.Random(f"{seed}-{phase}")
    ref = make()
    outcome = None
    for _ in range(3):
        try:
            outcome = kill_once(ref, phase, rng)
        except Drift:
            ref = make(again=True)
            outcome = kill_once(ref, phase, rng)
        if outcome.mid_run:
            break
    assert outcome is not None and outcome.mid_run, f"three draws found the wizard ended: {outcome}"
    return outcome
