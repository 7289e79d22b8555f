"""End to end, issue 7: a run SIGKILLed after any change, or inside a file write, resumes to the same end.

The harness: an uninterrupted reference run of full.toml (as `prepare` adapts
it to this machine) on a throwaway host gives the end state (`end_state`:
every file under /etc and /srv, the paths the journal backed up, the journal's
state and backups -- bytes, owner, mode) and the verify result (status per
check). Then, for a kill point, a fresh throwaway host runs the same apply with
the engine's fault injection set (engine.py: MAILWIZARD_KILL_AFTER=K kills the
process right after change K is journalled done; MAILWIZARD_KILL_IN_WRITE=K
between the temp file and its rename), then `--resume --unattended`; its end
state and verify result must equal the reference's.

Every kill point costs a throwaway host, a partial run and a resumed one
(about 30 s here): this test runs a deterministic spread -- the first change
of every kind in the plan (attrs, file, command, directory, postconf, postmap,
master.cf, service) and one kill inside a write -- and bench/kill_points.py
runs every kill point.

Left out of the comparison, as nondeterministic by design: indexed maps
(.db/.lmdb, compared by presence, mode and owner: Berkeley DB pages hold stray
bytes), and the journal's log and lock (timestamps, the kill's own records,
a pid). The reference's other files -- dh.pem is RFC 7919's fixed ffdhe4096,
the certificate is the test's -- are compared byte for byte.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import JOURNAL, diff_snapshots, end_state, journal_events, prepare, statuses, wizard_here
from throwaway import ThrowawayHost

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("kill_resume")]  # one reference run for the module

ANSWERS = "full.toml"
MID_WRITE = "file:/etc/dovecot/conf.d/10-ssl.conf"  # an existing distribution file, replaced and validated
KILLED = (-signal.SIGKILL, 128 + signal.SIGKILL)  # as the throwaway relays a death by signal


@dataclass
class Reference:
    keys: list[str]  # the applied changes, in order
    kinds: list[str]
    state: dict
    checks: dict[str, str]


@dataclass
class Outcome:
    point: str
    ok: bool
    problems: list[str] = field(default_factory=list)


def reference_run() -> Reference:
    """The uninterrupted run: its plan, end state and verify result."""
    with ThrowawayHost(hostname="mail.example.com") as host:
        answers = prepare(host, ANSWERS)
        out = wizard_here(host, "--answers", answers, "--unattended", "--json")
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        data = json.loads(out.stdout)
        active = [c for c in data["plan"]["changes"] if not c["noop"]]
        return Reference([c["key"] for c in active], [c["kind"] for c in active], end_state(host),
                         statuses(data["report"]))


def spread(ref: Reference) -> list[int]:
    """The first change of every kind, in plan order."""
    first: dict[str, int] = {}
    for index, kind in enumerate(ref.kinds):
        first.setdefault(kind, index)
    return sorted(first.values())


def killed_run(ref: Reference, index: int, in_write: bool = False) -> Outcome:
    """Kill the apply at one point on a fresh host, resume it, and compare with the reference."""
    variable = "MAILWIZARD_KILL_IN_WRITE" if in_write else "MAILWIZARD_KILL_AFTER"
    point = f"{'in the write of' if in_write else 'after'} change {index} ({ref.keys[index]})"
    problems: list[str] = []
    with ThrowawayHost(hostname="mail.example.com") as host:
        answers = prepare(host, ANSWERS)
        first = wizard_here(host, "--answers", answers, "--unattended", env={variable: str(index)})
        if first.returncode not in KILLED:
            return Outcome(point, False, [f"the first run was not killed: exit {first.returncode}\n"
                                          + first.stderr[-2000:]])
        events = [(e["event"], e.get("key")) for e in journal_events(host)]
        if in_write:
            # killed inside change `index`: begun, never done, and its temp file left behind
            if events[-1] != ("begin", ref.keys[index]):
                problems.append(f"last journal record {events[-1]}, not the begin of {ref.keys[index]}")
            target = ref.keys[index].split(":", 1)[1]
            parent, name = target.rsplit("/", 1)
            if not list(host.path(parent).glob(f".{name}.*.mailwizard-tmp")):
                problems.append(f"no temp file of {target} left: the kill did not happen mid-write")
        else:
            done = [key for event, key in events if event == "done"]
            if done != ref.keys[:index + 1]:
                problems.append(f"journal shows {len(done)} changes done, expected {index + 1}")
        resumed = wizard_here(host, "--resume", "--unattended", "--json")
        if resumed.returncode != 0:
            return Outcome(point, False, problems + [f"--resume exited {resumed.returncode}: "
                                                     + resumed.stderr[-2000:] + resumed.stdout[-2000:]])
        data = json.loads(resumed.stdout)
        redone = data["plan"]["summary"]["changes"]
        if redone > len(ref.keys) - index:
            problems.append(f"--resume applied {redone} changes: finished ones were done again")
        problems += diff_snapshots(ref.state, end_state(host))
        problems += [f"check {name}: {ref.checks.get(name)} != {status}"
                     for name, status in sorted(statuses(data["report"]).items())
                     if ref.checks.get(name) != status]
        problems += [f"check {name} missing after resume" for name in ref.checks
                     if name not in statuses(data["report"])]
        leftovers = [str(p) for p in host.path("/etc").rglob("*.mailwizard-tmp")]
        problems += [f"temp file left: {p}" for p in leftovers]
        if host.path(f"{JOURNAL}/scratch").exists() and any(host.path(f"{JOURNAL}/scratch").iterdir()):
            problems.append("scratch copies left in the journal")
    return Outcome(point, not problems, problems)


@pytest.fixture(scope="module")
def reference() -> Reference:
    import os
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    return reference_run()


def test_every_kind_of_change_survives_a_kill_after_it(reference):
    points = spread(reference)
    kinds = {reference.kinds[i] for i in points}
    assert {"attrs", "file", "command", "directory", "service"} <= kinds, kinds
    outcomes = [killed_run(reference, index) for index in points]
    failed = [f"{o.point}:\n  " + "\n  ".join(o.problems[:20]) for o in outcomes if not o.ok]
    assert not failed, f"{len(failed)} of {len(outcomes)} kill points differ:\n" + "\n".join(failed)


def test_a_kill_inside_a_file_write_resumes_to_the_same_end(reference):
    index = reference.keys.index(MID_WRITE)
    outcome = killed_run(reference, index, in_write=True)
    assert outcome.ok, outcome.point + ":\n" + "\n".join(outcome.problems[:40])
