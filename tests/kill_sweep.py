"""Kill-and-resume on a fake host at chosen changes: shared by the suite and bench/kill_sweep.py.

The engine's kill point (engine.KILL_AFTER) stops a run right after change K
is journalled done; a session built the way `--resume` builds it then plans
and applies again. The end state (every file with owner and mode, simulated
packages, services and users) must equal an uninterrupted run's. The suite
kills after the first change of each kind; the benchmark after every change.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

from mailwizard import answers as answers_mod, engine
from support import fake_session


class Killed(BaseException):
    """Stands in for SIGKILL inside this process: nothing after the kill point runs."""


def fake_state(session) -> dict:
    """Every file of a fake host (bytes, owner, mode) plus its simulated packages, services and users."""
    root = session.host.root
    files = {}
    for real in sorted(root.rglob("*")):
        path = "/" + str(real.relative_to(root))
        if path.startswith("/var/lib/mailwizard/"):
            continue  # the journal's own records hold timestamps; its backups are compared by rollback tests
        meta = session.host.stat(path)
        files[path] = (None if real.is_dir() else real.read_bytes(), meta.mode, meta.uid, meta.gid)
    st = session.host.state
    return {"files": files, "installed": sorted(st.installed), "running": sorted(st.running),
            "enabled": sorted(st.enabled), "users": dict(st.users)}


def resumed(session):
    """The session `--resume` builds: the answers the journal kept, on the same host."""
    answers, problems = answers_mod.parse(session.journal().load_answers())
    assert problems == []
    return engine.Session(answers, session.host, session.profile)


def reference(tmp_path: Path, platform: str, answers_name: str):
    """(the active changes of a fresh run, the end state of that run uninterrupted)."""
    session = fake_session(tmp_path / "ref", platform, answers_name)
    active = session.plan().active()
    assert session.apply(session.plan()).status == "applied"
    return active, fake_state(session)


def kind_of(change) -> str:
    """The change's kind; a command's also names its program (useradd, firewall-cmd, setsebool...)."""
    argvs = change.commands()
    return f"{change.kind}:{argvs[0][0]}" if change.kind == "command" and argvs else change.kind


def first_of_each_kind(active) -> list[int]:
    """The index of the first change of each kind."""
    firsts: dict[str, int] = {}
    for index, change in enumerate(active):
        firsts.setdefault(kind_of(change), index)
    return sorted(firsts.values())


def kill_after(tmp_path: Path, platform: str, answers_name: str, k: int, total: int, expected: dict) -> str | None:
    """Kill a fresh run right after change k, resume it; what went wrong, or None."""
    def die(*_args):
        raise Killed

    session = fake_session(tmp_path / str(k), platform, answers_name)
    with mock.patch.object(engine, "_die", die), mock.patch.dict(os.environ, {engine.KILL_AFTER: str(k)}):
        try:
            session.apply(session.plan())
        except Killed:
            pass
        else:
            return f"kill after {k}: the run was not killed"
    done = [r for r in session.journal().records() if r["event"] == "done"]
    if len(done) != k + 1:
        return f"kill after {k}: {len(done)} changes journalled done"
    again = resumed(session)
    plan = again.plan()
    if len(plan.active()) >= total - k + 2:
        return f"kill after {k}: finished changes planned again"
    result = again.apply(plan)
    if result.status != "applied":
        return f"kill after {k}: resume {result.status}: {result.error}"
    if again.plan().active():
        return f"kill after {k}: a third run still has work"
    if fake_state(again) != expected:
        return f"kill after {k}: the end state differs from an uninterrupted run's"
    return None
