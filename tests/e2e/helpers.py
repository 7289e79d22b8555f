"""Helpers for the end-to-end tier: prepare a throwaway host, run the wizard in it, compare states."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import ANSWERS_DIR, cached_cert

CERT = "/etc/pki/dovecot/certs/server.example.com.crt"
KEY = "/etc/pki/dovecot/private/server.example.com.key"
CA = "/etc/pki/dovecot/certs/ca.crt"
WIZARD = ["python3", "-m", "mailwizard"]
INDEXED = (".db", ".lmdb")  # postmap/postalias output, compared by presence, mode and owner


def put(host, path: str, data: bytes, mode: int = 0o644) -> None:
    real = host.path(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data)
    os.chmod(real, mode)


def prepare(host, answers: str = "pam.toml", certs: bool = True, extra: str = "") -> str:
    """Put the answers file (and a certificate whose key is still 0644, and a replication password) into the host."""
    text = (ANSWERS_DIR / answers).read_text() + extra
    put(host, "/root/answers.toml", text.encode(), 0o600)
    replication = tomllib.loads(text).get("replication", {})
    if replication.get("enabled") and replication.get("password_file"):  # full.toml's doveadm password
        put(host, replication["password_file"], b"Replication-s3cret\n", 0o600)
    if certs:
        key, cert = cached_cert("mail.example.com")
        put(host, CERT, cert)
        put(host, CA, cert)
        put(host, KEY, key, 0o644)
    return "/root/answers.toml"


def wizard(host, *args: str, timeout: float = 300):
    """The wizard of this checkout (wizard_here): the machine's installed mailwizard may be another checkout's."""
    return wizard_here(host, *args, timeout=timeout)


def snapshot(host, top: str = "/etc", deep: bool = True) -> dict[str, tuple]:
    """Every entry under `top` (only those directly in it unless `deep`): content hash (or link target),
    mode, owner."""
    base = host.path(top)
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        if not deep and dirpath != str(base):
            break
        for name in dirnames + filenames:
            real = os.path.join(dirpath, name)
            st = os.lstat(real)
            rel = os.path.relpath(real, base)
            if stat.S_ISLNK(st.st_mode):
                what = "link:" + os.readlink(real)
            elif stat.S_ISREG(st.st_mode) and name.endswith(INDEXED):
                what = "indexed map"  # Berkeley DB pages hold stray bytes: two builds of one map differ
            elif stat.S_ISREG(st.st_mode):
                what = hashlib.sha256(Path(real).read_bytes()).hexdigest()
            else:
                what = "dir"
            out[rel] = (what, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return out


def diff_snapshots(a: dict, b: dict) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key)} != {b.get(key)}")
    return out


def journal_events(host) -> list[dict]:
    path = host.path("/var/lib/mailwizard/journal.jsonl")
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return events


def wait_for_event(host, proc, predicate, timeout: float = 120) -> dict | None:
    """Poll the journal until an event matches (returns it), or the process ends (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in journal_events(host):
            if predicate(event):
                return event
        if proc.poll() is not None:
            return None
        time.sleep(0.002)
    return None


# --- interruption, broken environments, secrets (issue 7) ------------------------------------------

REPO = str(Path(__file__).resolve().parents[2])
JOURNAL = "/var/lib/mailwizard"
# the journal's files that differ between any two runs by design: timestamps, kill-specific records, the pid
JOURNAL_VOLATILE = ("journal.jsonl", "lock")


def wizard_here(host, *args: str, env: dict | None = None, timeout: float = 600):
    """The wizard of this checkout (the machine's installed mailwizard may point at another)."""
    return host.run([*WIZARD, *args], timeout=timeout, env={"PYTHONPATH": REPO, **(env or {})})


def end_state(host) -> dict[str, tuple]:
    """What a finished run leaves: /etc and /srv, every other path the journal backed up, the journal itself.

    Each entry as `snapshot` has it (content hash, mode, owner); the journal's log
    and lock are left out (JOURNAL_VOLATILE), its state, backups index and backups are not.
    """
    state = {f"/etc/{k}": v for k, v in snapshot(host, "/etc").items()}
    state.update({f"/srv/{k}": v for k, v in snapshot(host, "/srv").items()})
    journal = {f"{JOURNAL}/{k}": v for k, v in snapshot(host, JOURNAL).items()
               if k not in JOURNAL_VOLATILE}
    state.update(journal)
    index = host.path(f"{JOURNAL}/backups/index.json")
    if index.exists():  # what the wizard wrote into an indexed map differs by stray bytes too (see INDEXED)
        data = json.loads(index.read_text())
        for path, entry in data["files"].items():
            if path.endswith(INDEXED) and "wizard_sha" in entry:
                entry["wizard_sha"] = "indexed map"
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        state[f"{JOURNAL}/backups/index.json"] = ("index: " + digest, *state[f"{JOURNAL}/backups/index.json"][1:])
    for path in json.loads(index.read_text())["order"] if index.exists() else []:
        if not path.startswith(("/etc/", "/srv/")):
            state.update(_entry(host, path))
    return state


def _entry(host, path: str) -> dict[str, tuple]:
    """One file outside the snapshotted trees, described as `snapshot` describes its entries."""
    real = host.path(path)
    if not os.path.lexists(real):
        return {path: ("absent",)}
    st = os.lstat(real)
    what = hashlib.sha256(real.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else "not a file"
    return {path: (what, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)}


def statuses(report: list[dict]) -> dict[str, str]:
    """A verify report (the JSON `report` list) as step/check name -> pass, warn or fail."""
    return {f"{c['step']}/{c['name']}": c["status"] for c in report}
