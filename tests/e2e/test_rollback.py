"""End to end, issue 7: rollback puts a fully configured host back, and never silently overwrites an admin's edit.

In a throwaway copy of this machine:

- after applying full.toml (every step), `mailwizard rollback` restores every
  file under /etc (Postfix, Dovecot, Sieve, the TLS key's mode, the account
  files useradd changed), /srv (the vmail root), /var/mail, /root to its exact
  bytes, owner and mode, removes every file and directory the wizard created
  (the journal in /var/lib/mailwizard too), stops the services it started, and
  lists what it cannot undo exactly as the journal recorded it; a `--dry-run
  --json` afterwards plans the same changes as on the untouched host;
- the same after applying twice (the second run plans only no-ops);
- a file edited by hand after the wizard ran: a re-run with the default
  (stop) exits non-zero and changes nothing; rollback stops too unless told,
  keeps the edit with `--on-conflict keep` and restores the original with
  `--on-conflict take`.

Not compared: what the daemons themselves make while they run, which is no
file the wizard wrote and which a stopped service leaves behind on any host —
/var/spool/postfix (pid files, sockets, the copies of /etc files Debian's
init script puts in Postfix's chroot) and /var/lib/dovecot (`instances`,
`replicator.db`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import diff_snapshots, prepare, snapshot, wizard

pytestmark = pytest.mark.e2e

TREES = ("/etc", "/srv", "/var/mail", "/var/lib/mailwizard", "/root")
SSL = "/etc/dovecot/conf.d/10-ssl.conf"


def state(host) -> dict:
    return {top: snapshot(host, top) for top in TREES}


def differences(before: dict, after: dict) -> list[str]:
    return [f"{top}/{line}" for top in TREES for line in diff_snapshots(before[top], after[top])]


def changed_by_stopped_run(before: dict, after: dict) -> list[str]:
    """differences(), but for the journal's lock file, which holds the pid of the last run that took it."""
    return [line for line in differences(before, after) if not line.startswith("/var/lib/mailwizard/lock:")]


def planned(host, answers: str) -> list[tuple]:
    """The dry run's changes as (step, kind, key, no-op or not, commands, diff)."""
    out = wizard(host, "--answers", answers, "--unattended", "--dry-run", "--json")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    changes = json.loads(out.stdout)["plan"]["changes"]
    return [(c["step"], c["kind"], c["key"], c["noop"] is None, c["commands"], c["diff"]) for c in changes]


def apply(host, answers: str) -> None:
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 failed" in out.stdout


DAEMONS = {"postfix": "master", "dovecot": "dovecot"}  # the service and its main process


def running(host, service: str) -> bool:
    """By the process list: `service postfix status` says 0 on Debian whenever main.cf is missing."""
    return any(p.argv and p.argv[0].rsplit("/", 1)[-1] == DAEMONS[service] for p in host.processes())


def gone(host, service: str, bound: float = 60) -> bool:
    """Whether the service's processes end within `bound` seconds (a stop returns before they exit)."""
    deadline = time.monotonic() + bound
    while running(host, service):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def journal_state(host) -> dict:
    return json.loads(host.path("/var/lib/mailwizard/state.json").read_text())


def roll_back_and_compare(host, answers: str, before: dict, plan_before: list) -> str:
    recorded = journal_state(host)
    assert sorted(recorded["started"]) == ["dovecot", "postfix"]  # neither ran before the wizard
    back = wizard(host, "rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert differences(before, state(host)) == []
    assert not host.path("/var/lib/mailwizard").exists()
    assert host.run(["getent", "passwd", "vmail"]).returncode == 2  # useradd undone: account files restored
    for name in recorded["started"]:
        assert f"stopped {name} (started by mailwizard)" in back.stdout
        assert gone(host, name), f"{name} still runs after rollback"
    if recorded["irreversible"]:
        listed = back.stdout.split("not undone (do it by hand if you want it gone):\n")[1].splitlines()
        assert listed == [f"  - {item}" for item in recorded["irreversible"]]
    else:  # this machine has the packages already: the journal recorded nothing it cannot undo
        assert "not undone" not in back.stdout
    after = planned(host, answers)
    assert after == plan_before, "\n".join(f"before: {a}\nafter:  {b}" for a, b in zip(plan_before, after) if a != b)
    return back.stdout


def test_rollback_after_a_full_apply_gives_back_the_untouched_host(throwaway):
    host = throwaway
    answers = prepare(host, "full.toml")
    assert not running(host, "dovecot") and not running(host, "postfix")
    before, plan_before = state(host), planned(host, answers)
    apply(host, answers)
    assert differences(before, state(host)) != []
    said = roll_back_and_compare(host, answers, before, plan_before)
    for line in ("restored /etc/postfix/master.cf", "removed /etc/postfix/main.cf", "restored /etc/passwd",
                 "removed /etc/dovecot/sieve", "removed /srv/vmail", "restored " + SSL):
        assert line in said.splitlines()


def test_rollback_after_two_runs_gives_back_the_untouched_host(throwaway):
    host = throwaway
    answers = prepare(host, "full.toml")
    before, plan_before = state(host), planned(host, answers)
    apply(host, answers)
    assert not [change for change in planned(host, answers) if change[3]]  # the second run: only no-ops
    apply(host, answers)
    roll_back_and_compare(host, answers, before, plan_before)


def edit_ssl(host, old: str, new: str) -> bytes:
    path = host.path(SSL)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path.read_bytes()


def test_an_admins_edit_is_never_overwritten_silently(throwaway):
    host = throwaway
    answers = prepare(host, "pam.toml")
    untouched = host.path(SSL).read_bytes()
    apply(host, answers)
    mine = edit_ssl(host, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
    edited = state(host)

    rerun = wizard(host, "--answers", answers, "--unattended")  # default: stop
    assert rerun.returncode == 1, rerun.stdout[-2000:] + rerun.stderr
    assert "were edited since mailwizard wrote them; nothing was changed" in rerun.stderr
    assert f"  {SSL}\n" in rerun.stderr
    assert differences(edited, state(host)) == []

    stopped = wizard(host, "rollback")  # no terminal, no --on-conflict: stop, with the way out
    assert stopped.returncode == 1 and "--on-conflict keep" in stopped.stderr
    assert changed_by_stopped_run(edited, state(host)) == []

    kept = wizard(host, "rollback", "--on-conflict", "keep")
    assert kept.returncode == 0, kept.stderr
    assert f"left {SSL}: changed since mailwizard wrote it (your edit is kept)" in kept.stdout
    assert host.path(SSL).read_bytes() == mine
    assert "restored /etc/dovecot/conf.d/10-mail.conf" in kept.stdout

    # again from here: the wizard's second run takes the edited file as the original it backs up
    apply(host, answers)
    assert host.path(SSL).read_bytes() not in (mine, untouched)
    edit_ssl(host, "ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1.3")
    taken = wizard(host, "rollback", "--on-conflict", "take")
    assert taken.returncode == 0, taken.stderr
    assert f"restored {SSL}" in taken.stdout
    assert host.path(SSL).read_bytes() == mine
