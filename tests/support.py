"""Test support: the reference answers files, a cached certificate, sessions on fake hosts."""

from __future__ import annotations

import contextlib
import functools
import socket
import subprocess
import time
from pathlib import Path

from mailwizard import answers as answers_mod, certs
from mailwizard.engine import Session
from mailwizard.host import Host
from mailwizard.platform import profile_for
from mailwizard.simulated import FakeHost

REPO = Path(__file__).resolve().parents[1]
ANSWERS_DIR = REPO.parent / "shared" / "answers"
ANSWER_FILES = sorted(p.name for p in ANSWERS_DIR.glob("*.toml"))


@functools.cache
def cached_cert(fqdn: str) -> tuple[bytes, bytes]:
    """One self-signed key and certificate per name for the whole test run (RSA keys are slow)."""
    return certs.self_signed(fqdn)


def aged(*paths: Path | str) -> None:
    """Date back files a test has just written (a directory: every file under it) before Postfix reads them.

    Postfix sleeps up to ~2 s on a main.cf (or LDAP/SQL table file) younger than about a second,
    in `postconf -n/-M/-P`, `postfix check`, postmap and a reload; the product dates its own
    writes back the same way (mailwizard.host.Host.age).
    """
    host = Host("/")
    for path in map(Path, paths):
        for file in (p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
            host.age(str(file))


def key_parses(monkeypatch) -> list[bytes]:
    """Start a fresh session's certificate facts (certs.py) and record every private key parsed from now on:
    the list of their bytes, in order."""
    import collections

    from cryptography.hazmat.primitives import serialization

    monkeypatch.setattr(certs, "_facts", collections.OrderedDict())
    parsed: list[bytes] = []
    load = serialization.load_pem_private_key

    def counted(data, password=None, **kwargs):
        parsed.append(data)
        return load(data, password=password, **kwargs)

    monkeypatch.setattr(serialization, "load_pem_private_key", counted)
    return parsed


def load_answers(name: str):
    answers, problems = answers_mod.parse((ANSWERS_DIR / name).read_text())
    assert problems == [], problems
    return answers


def fake_session(tmp_path: Path, platform: str, answers_name: str = "pam.toml",
                 with_certs: bool = True, offline: bool = False) -> Session:
    """A session on a fresh fake host of `platform`; with_certs puts a valid cert/key/CA in place (and, on
    this host, the replication password file the answers name)."""
    answers = load_answers(answers_name)
    profile = profile_for(platform)
    host = FakeHost.from_profile(profile, tmp_path / "root", hostname=answers.server.hostname)
    if with_certs and answers.dovecot_enabled:
        key, cert = cached_cert(answers.server.hostname)
        for path, data, mode in ((answers.tls.cert, cert, 0o644), (answers.tls.key, key, 0o640)):
            real = host.real(path)
            real.parent.mkdir(parents=True, exist_ok=True)
            real.write_bytes(data)
            real.chmod(mode)
        if answers.tls.ca:
            host.real(answers.tls.ca).write_bytes(cert)
    r = answers.replication
    if with_certs and not offline and r.enabled and r.password_file and answers.dovecot_enabled:
        secret = host.real(r.password_file)  # put there first, as guide 1.4 asks (the wizard copies it)
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_bytes(b"doveadm-Secret-of-the-fake-host\n")
        secret.chmod(0o600)
    return Session(answers, host, profile, offline=offline)


def postfix_installed_with(host: FakeHost, *settings: str) -> None:
    """Postfix installed before the wizard, its shipped main.cf carrying `settings` (`name = value` each)."""
    host.state.installed.add("postfix")
    host._unpack("postfix")
    main = host.read("/etc/postfix/main.cf") or b""
    host.write_atomic("/etc/postfix/main.cf", main + "".join(f"{line}\n" for line in settings).encode(),
                      mode=0o644, uid=0, gid=0)


@contextlib.contextmanager
def openssl_server(tmp_path: Path, *flags: str, fqdn: str = "mail.example.com",
                   pair: tuple[bytes, bytes] | None = None):
    """A TLS server (`openssl s_server -www`) on a free loopback port with `pair` (key, certificate), by
    default a cached self-signed pair for `fqdn`; yields the port."""
    key, cert = pair or cached_cert(fqdn)
    (tmp_path / "k.pem").write_bytes(key)
    (tmp_path / "c.pem").write_bytes(cert)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", "c.pem", "-key",
                             "k.pem", *flags, "-www"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.kill()
        proc.wait()
