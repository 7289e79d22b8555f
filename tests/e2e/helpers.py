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
from support import ANSWERS_DIR, cached_cert  # noqa: E402

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
    return host.run([*WIZARD, *args], timeout=timeout)


def snapshot(host, top: str = "/etc") -> dict[str, tuple]:
    """Every entry under `top`: content hash (or link target), mode, owner."""
    base = host.path(top)
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(base):
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
