"""Probes shared by the LDAP and MariaDB end-to-end tests: IMAPS logins from a peer,
Test connection run inside the throwaway, and a search for leaked secrets."""

from __future__ import annotations

import json
import os

from helpers import REPO, prepare

IMAP_LOGIN = r"""
import imaplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    m = imaplib.IMAP4_SSL(sys.argv[1], 993, ssl_context=ctx, timeout=30)
except OSError as exc:
    print("CONNECT", exc); sys.exit(2)
try:
    m.login(sys.argv[2], sys.argv[3])
except imaplib.IMAP4.error as exc:
    print("NO", exc); sys.exit(1)
typ, data = m.select("INBOX")
print("OK", typ, data[0].decode())
m.logout()
"""

TEST_CONNECTION = r"""
import json, sys
from mailwizard import answers, backends
spec = json.loads(sys.argv[1])
a, _ = answers.load("/root/answers.toml")
section = getattr(a.auth, spec["backend"])
for key, value in spec.get("set", {}).items():
    setattr(section, key, value)
if spec["backend"] == "ldap":
    r = backends.test_ldap(section, spec.get("secret"), spec.get("user"), spec.get("password"), timeout=5)
else:
    r = backends.test_sql(section, spec.get("secret"), user=spec.get("user", "test@example.com"), timeout=5)
print(json.dumps({"ok": r.ok, "lines": r.lines}))
"""


def answers_with(host, name: str, additions: dict[str, list[str]]) -> str:
    """Put the reference answers file `name` into the host, with lines added below section headers."""
    path = prepare(host, name)
    real = host.path(path)
    text = real.read_text()
    for header, new_lines in additions.items():
        assert header + "\n" in text, header
        text = text.replace(header + "\n", header + "\n" + "".join(line + "\n" for line in new_lines), 1)
    real.write_text(text)
    return path


def imap_login(host, user: str, password: str) -> tuple[bool, str]:
    """Log in over IMAPS from the peer (Dovecot trusts loopback; the peer is 'the network')."""
    if not host._peers:
        host.add_peer()
    out = host.run_peer(["python3", "-c", IMAP_LOGIN, "198.51.100.1", user, password], timeout=60)
    return out.returncode == 0, (out.stdout + out.stderr).strip()


def test_connection(host, backend: str, **spec) -> dict:
    """backends.test_ldap / test_sql run inside the host, as root, as the screen would."""
    out = host.run(["python3", "-c", TEST_CONNECTION, json.dumps({"backend": backend, **spec})], timeout=120,
                   env={"PYTHONPATH": REPO})
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["text"] = "\n".join(result["lines"])
    return result


test_connection.__test__ = False


def files_containing(host, top: str, secret: str) -> list[str]:
    """Every file under `top` in the host whose bytes contain `secret`."""
    base = host.path(top)
    hits = []
    for dirpath, _dirs, files in os.walk(base):
        for name in files:
            real = os.path.join(dirpath, name)
            try:
                with open(real, "rb") as fh:
                    if secret.encode() in fh.read():
                        hits.append(os.path.relpath(real, base))
            except OSError:
                pass
    return hits


def mode_owner(host, path: str) -> tuple[int, int, int]:
    st = host.path(path).stat()
    return st.st_mode & 0o777, st.st_uid, st.st_gid
