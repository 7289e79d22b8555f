"""The journal in /var/lib/mailwizard: answers, applied changes, backups, the lock.

Every file is backed up (bytes, owner, mode, or "did not exist") before the
wizard first changes it, and every change is recorded before and after it is
applied. Because a plan is recomputed from the host's facts, a run killed at
any instant resumes by planning again: finished changes are then no-ops and
the pending service reloads are remembered here. Rollback puts the backups
back (a file the administrator edited since is theirs to decide: conflicts.py)
and then removes the journal itself. Secrets never enter the journal.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailwizard.conflicts import KEEP, STOP, Conflict, ConflictStop, derived_source, edited
from mailwizard.host import TMP_SUFFIX, Host
from mailwizard.plan import Effects, sha

DEFAULT_DIR = "/var/lib/mailwizard"
ORIG_SUFFIX = ".mailwizard-orig"


class JournalLocked(Exception):
    """Another mailwizard holds the journal."""


def _write_private(path: Path, data: bytes, durable: bool = True) -> None:
    """Atomically write one of the journal's own files, 0600 from the start."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass
class RollbackReport:
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed by the admin since: left alone
    irreversible: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)  # the commands run to undo the wizard's commands

    def render(self) -> str:
        out = []
        out += [f"restored {p}" for p in self.restored]
        out += [f"removed {p}" for p in self.removed]
        out += [f"left {p}: changed since mailwizard wrote it (your edit is kept)" for p in self.kept]
        out += [f"service: {s}" for s in self.services]
        out += [f"undone: {s}" for s in self.undone]
        if self.irreversible:
            out.append("not undone (do it by hand if you want it gone):")
            out += [f"  - {s}" for s in self.irreversible]
        if not out:
            out.append("nothing to roll back")
        return "\n".join(out) + "\n"


def _names(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


class Journal:
    def __init__(self, host: Host, directory: str = DEFAULT_DIR):
        self.host = host
        self.directory = directory
        self.dir = host.real(directory)
        self._lock_fd: int | None = None
        self._index: dict | None = None
        self._state: dict | None = None

    # --- lifetime ----------------------------------------------------------
    def exists(self) -> bool:
        return (self.dir / "state.json").exists()

    def open(self) -> Journal:
        """Create the directory (0700) and take the lock."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        (self.dir / "backups").mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise JournalLocked(
                f"another mailwizard is running (pid {holder}) and holds {self.directory}/lock; "
                "wait for it to finish") from None
        # a lock left by a killed run is released by the kernel, so holding it means it is ours
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd
        self._clean_leftovers()
        self._settle_killed()
        return self

    def scratch(self) -> Path:
        """A private directory for temporary copies (validation), emptied at every open."""
        path = self.dir / "scratch"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def _clean_leftovers(self) -> None:
        """Remove what a killed run may have left: our temp files and scratch copies."""
        for stale in self.dir.glob("*.tmp"):
            stale.unlink()
        shutil.rmtree(self.dir / "scratch", ignore_errors=True)
        for path in self.index["order"]:
            parent, _, name = path.rpartition("/")
            for stale in self.host.real(parent or "/").glob(f".{name}.*{TMP_SUFFIX}"):
                stale.unlink()

    def _settle_killed(self) -> None:
        """Files a killed run backed up and was changing but never recorded as written: what they hold now is
        the wizard's (a write that completed, Postfix's tools or useradd cut off, or nothing done yet), not an
        administrator's edit, and is recorded as written, as after an uninterrupted run. A resumed plan often
        finds nothing left to do there (the map is up to date, the user exists), so no written() would follow:
        rollback would then take a later edit of the administrator's for nothing to ask about."""
        left = []
        for path, entry in self.index["files"].items():
            content_kept = "sha" in entry or not entry["existed"]  # an owner/mode backup keeps no bytes
            if entry["kind"] != "file" or not content_kept:
                continue
            if entry.get("in_flight") or "wizard_sha" not in entry or \
                    entry.get("pending_sha") == sha(self.host.read(path)):
                left.append(path)
        if left:
            self._settle(left)
            self._save_index()

    def close(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, path: Path, data: bytes) -> None:
        _write_private(path, data, durable=self.host.durable)

    # --- records -----------------------------------------------------------
    def record(self, event: str, **data) -> None:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "event": event, **data}
        fd = os.open(self.dir / "journal.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
            if self.host.durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def unfinished(self) -> set[str]:
        """The keys of the changes a run began and never finished (killed, or failed): a resumed plan can redo
        them as they were planned (the install names again the packages the killed apt-get was installing)."""
        begun: set[str] = set()
        for entry in self.records():
            if entry.get("event") == "begin":
                begun.add(entry.get("key", ""))
            elif entry.get("event") == "done":
                begun.discard(entry.get("key", ""))
        return begun

    def records(self) -> list[dict]:
        try:
            lines = (self.dir / "journal.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
        return out

    @property
    def state(self) -> dict:
        if self._state is None:
            try:
                self._state = json.loads((self.dir / "state.json").read_text())
            except (FileNotFoundError, PermissionError, json.JSONDecodeError):
                self._state = {}
            self._state.setdefault("pending_reloads", [])
            self._state.setdefault("irreversible", [])
            self._state.setdefault("undo", [])
            self._state.setdefault("started", [])
            self._state.setdefault("stopped", [])
            self._state.setdefault("verified", [])
        return self._state

    def save_state(self, **updates) -> None:
        self.state.update(updates)
        self._write(self.dir / "state.json", json.dumps(self.state, indent=1).encode())

    def save_answers(self, toml_text: str) -> None:
        self._write(self.dir / "answers.toml", toml_text.encode())

    def load_answers(self) -> str | None:
        try:
            return (self.dir / "answers.toml").read_text()
        except FileNotFoundError:
            return None

    # --- the change transaction (executor.execute) -----------------------------
    def intend(self, key: str, effects: Effects, service: str | None = None) -> None:
        """Before a change touches the host: its service marked pending, its inverse commands, the first
        original of every file it touches, the directories it creates, its files marked in flight, the
        services it starts, and what it cannot undo.

        After this, a kill at any instant is recognised the same way for every kind of change: until
        completed(), whatever its files hold is the wizard's doing, never an administrator's edit.
        """
        updates: dict = {}
        if service and service not in self.state["pending_reloads"]:
            updates["pending_reloads"] = self.state["pending_reloads"] + [service]
        if effects.undo and not any(entry["key"] == key for entry in self.state["undo"]):
            updates["undo"] = [*self.state["undo"], {"key": key, "argvs": effects.undo}]
        # a run killed once the daemon runs (its resumed plan then only reloads it) still has rollback stop it
        if started := [name for name in effects.started if name not in self.state["started"]]:
            updates["started"] = self.state["started"] + started
        # one it stops that ran before the wizard (it did not start it): rollback starts it again
        if stopped := [name for name in effects.stopped if name not in self.state["started"] + self.state["stopped"]]:
            updates["stopped"] = self.state["stopped"] + stopped
        # a package install killed half-way and rolled back without resuming is still listed as not undone
        if effects.irreversible and effects.irreversible not in self.state["irreversible"]:
            updates["irreversible"] = self.state["irreversible"] + [effects.irreversible]
        if updates:
            self.save_state(**updates)
        for path in effects.dirs:
            self._remember(path, {"kind": "dir", "existed": False})
        for path in effects.attrs:
            self._backup(path, content=False)
        for path, data in effects.files.items():
            self._backup(path, secret=path in effects.secret)
            entry = self.index["files"][path]
            if data is None:
                entry["in_flight"] = True
            else:
                entry["pending_sha"] = sha(data)
        self._save_index()

    def completed(self, effects: Effects, merges: tuple[str, ...] = ()) -> None:
        """After the change: what its files now hold is the wizard's; its services settled.

        `merges`: files taken as the plan has them that carry an administrator's edit: rollback asks first.
        """
        self._settle(list(effects.files))
        for path in merges:
            if (entry := self.index["files"].get(path)) is not None:
                entry["admin_edit"] = True
        self._save_index()
        updates: dict = {}
        if effects.settles:
            updates["pending_reloads"] = [s for s in self.state["pending_reloads"] if s not in effects.settles]
        if updates:
            self.save_state(**updates)

    def failed(self, paths: list[str]) -> None:
        """A change failed or was refused: its files hold what they hold now (put back, or partly changed)."""
        self._settle(paths)
        self._save_index()

    def _settle(self, paths: list[str]) -> None:
        """What these files hold now is the wizard's: its own bytes, or the original put back by it."""
        for path in paths:
            entry = self.index["files"].get(path)
            if entry is not None:
                entry["wizard_sha"] = sha(self.host.read(path))
                entry.pop("pending_sha", None)
                entry.pop("in_flight", None)

    # --- backups -----------------------------------------------------------
    @property
    def index(self) -> dict:
        if self._index is None:
            try:
                self._index = json.loads((self.dir / "backups" / "index.json").read_text())
            except (FileNotFoundError, PermissionError, json.JSONDecodeError):
                self._index = {"order": [], "files": {}}
        return self._index

    def _save_index(self) -> None:
        self._write(self.dir / "backups" / "index.json", json.dumps(self.index, indent=1).encode())

    def _remember(self, path: str, entry: dict) -> None:
        if path not in self.index["files"]:
            self.index["files"][path] = entry
            self.index["order"].append(path)

    def _backup(self, path: str, *, secret: bool = False, content: bool = True) -> None:
        """Keep the original of `path` (first time only): bytes, owner and mode, or its absence.

        Secrets never enter the journal: a secret-bearing original is kept beside
        itself as PATH.mailwizard-orig (0600 root:root), where the secret already
        was; `content=False` (an owner/mode change) keeps no bytes at all.
        """
        if path in self.index["files"]:
            return
        meta = self.host.stat(path)
        data = self.host.read(path) if content and meta is not None and not meta.is_dir else None
        entry: dict = {"kind": "file", "existed": meta is not None}
        if secret:
            entry["secret"] = True  # a conflict's diff never shows it
        if meta is not None:
            entry.update(mode=meta.mode, uid=meta.uid, gid=meta.gid)
        if data is not None:
            entry["sha"] = sha(data)
            if secret:
                beside = path + ORIG_SUFFIX
                self.host.write_atomic(beside, data, mode=0o600, uid=0, gid=0)
                entry["beside"] = beside
            else:
                name = f"{len(self.index['order']):04d}.orig"
                self._write(self.dir / "backups" / name, data)
                entry["backup"] = name
        self._remember(path, entry)

    def original(self, path: str) -> bytes | None:
        entry = self.index["files"].get(path)
        if not entry:
            return None
        if "beside" in entry:
            return self.host.read(entry["beside"])
        if "backup" in entry:
            return (self.dir / "backups" / entry["backup"]).read_bytes()
        return None

    # --- rollback ----------------------------------------------------------
    def rollback_conflicts(self) -> list[Conflict]:
        """Files edited by the administrator since mailwizard wrote them, which rollback would change."""
        files = self.index["files"]
        out = []
        for path in reversed(self.index["order"]):
            entry = files[path]
            if entry["kind"] != "file" or derived_source(path, files):
                continue
            current = self.host.read(path)
            if not edited(entry, current) and not entry.get("admin_edit"):
                continue
            target = self.original(path) if entry["existed"] else None
            if current == target:
                continue  # already back to the original: nothing to decide
            out.append(Conflict(path, current, target,
                                "restore the original" if entry["existed"] else "remove it (it created it)",
                                secret=bool(entry.get("secret") or "beside" in entry)))
        return out

    def rollback(self, profile, on_line=lambda line: None,
                 decide: Callable[[Conflict], str] | None = None) -> RollbackReport:
        """Put every file back; an administrator's later edit is kept unless `decide` says TAKE.

        `decide` answers each conflict (conflicts.KEEP/TAKE/STOP); any STOP raises
        ConflictStop before anything is changed. Without it, every edit is kept.
        """
        conflicts = self.rollback_conflicts()
        decisions = {c.path: decide(c) if decide else KEEP for c in conflicts}
        stopped = [c for c in conflicts if decisions[c.path] == STOP]
        if stopped:
            raise ConflictStop(stopped)
        kept = {path for path, choice in decisions.items() if choice == KEEP}
        report = RollbackReport()
        host = self.host
        # first, while their configuration is still there: Debian's init scripts do nothing without it
        for name in self.state["started"]:
            result = host.run(profile.service_argv("stop", name), on_line=on_line)
            report.services.append(f"stopped {name} (started by mailwizard)" if result.ok else
                                   f"could not stop {name}: {result.output.strip()[-200:]}")
        files = self.index["files"]
        order = list(reversed(self.index["order"]))
        for path in order:
            entry = files[path]
            if entry["kind"] == "dir":
                continue
            if path in kept or derived_source(path, files) in kept:
                report.kept.append(path)
                continue
            current = host.read(path)
            if not entry["existed"]:
                if host.exists(path):
                    host.remove(path)
                    report.removed.append(path)
                    on_line(f"removed {path}")
                continue
            original = self.original(path)
            if original is not None and current != original:
                host.write_atomic(path, original, mode=entry["mode"], uid=entry["uid"], gid=entry["gid"])
            else:
                host.chown(path, entry["uid"], entry["gid"])
                host.chmod(path, entry["mode"])
            report.restored.append(path)
            on_line(f"restored {path}")
        left: set[str] = set()
        notes: list[str] = []
        for path in order:  # directories it created, innermost first, once emptied
            if files[path]["kind"] != "dir" or not host.exists(path):
                continue
            inside = host.listdir(path)
            if not inside:
                host.remove(path)
                report.removed.append(path)
                continue
            if not all(f"{path.rstrip('/')}/{name}" in left for name in inside):  # else told below it
                notes.append(f"{path} (created by mailwizard) is left: it holds what came since "
                             f"({_names(inside)}){self._orphaned(path)}; remove it by hand if you want it gone")
            left.add(path)
        for path in report.restored:  # a directory it only owned: what came since, owned by an account now gone
            meta = host.stat(path)
            inside = [f"{path.rstrip('/')}/{n}" for n in host.listdir(path)] if meta is not None and meta.is_dir else []
            strays = [p for p in inside if self._orphaned(p)]
            if strays:
                notes.append(f"left in {path}: {_names([p.rsplit('/', 1)[1] for p in strays])}"
                             f"{self._orphaned(strays[0])}; remove or chown them by hand")
        for entry in files.values():
            if "beside" in entry and self.host.exists(entry["beside"]):
                self.host.remove(entry["beside"])
        report.irreversible = list(self.state["irreversible"]) + notes
        self._undo_commands(report, on_line)
        for name in self.state["stopped"]:  # last, with its configuration and boot state back
            result = host.run(profile.service_argv("start", name), on_line=on_line)
            report.services.append(f"started {name} again (it ran before mailwizard stopped it)" if result.ok else
                                   f"could not start {name}: {result.output.strip()[-200:]}")
        self._remove_own_files()
        self._index = None
        self._state = None
        return report

    def _orphaned(self, path: str) -> str:
        """", owned by uid N, which no account has any more" when the rollback removed `path`'s owner, else ""."""
        meta = self.host.stat(path)
        if meta is None or self.host.user_name(meta.uid) != str(meta.uid):
            return ""
        return f", owned by uid {meta.uid}, which no account has any more"

    def _undo_commands(self, report: RollbackReport, on_line: Callable[[str], object]) -> None:
        """Run the recorded inverses of the wizard's commands, the last first; reload firewalld once after."""
        ran_firewall = False
        for entry in reversed(self.state["undo"]):
            for argv in entry["argvs"]:
                result = self.host.run(argv, on_line=on_line)
                text = shlex.join(argv)
                if result.ok:
                    report.undone.append(text)
                else:
                    report.irreversible.append(f"could not undo with `{text}` (exit {result.returncode}): "
                                               f"{result.output.strip()[-200:]}")
                ran_firewall |= argv[0] == "firewall-cmd" and result.ok
        if ran_firewall:
            result = self.host.run(["firewall-cmd", "--reload"], on_line=on_line)
            if result.ok:
                report.undone.append("firewall-cmd --reload")

    def _remove_own_files(self) -> None:
        """After a rollback the journal itself goes too: the last thing the wizard created.

        Only its own files are removed, then the directory if that left it empty
        (the lock file goes while held: the lock dies with its descriptor anyway).
        """
        for sub in ("backups", "scratch"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        for name in ("state.json", "answers.toml", "journal.jsonl", "lock"):
            (self.dir / name).unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass  # something else lives there: left alone
