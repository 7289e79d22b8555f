"""End to end, issue 6: the answers a run saves rebuild the same server on a new host.

Host A applies full.toml (every step). The answers it keeps in
/var/lib/mailwizard/answers.toml are 0600 root, name secrets only as files and
parse without a problem. A fresh host B, given the same secret and certificate
files, applies that file with `--unattended`: the configuration trees of A and
B are the same, byte for byte, with the same owners and modes, and both verify
the same way. What may legitimately differ is left out of the comparison:
indexed maps (the aliases database: Berkeley DB pages hold stray bytes, two
builds of one map differ; helpers.snapshot compares them by presence, mode and
owner only). The certificate and key are the same bytes on both hosts here
(one cached test certificate), so they are compared too.
"""

from __future__ import annotations

import json
import tomllib

import pytest

from helpers import diff_snapshots, prepare, put, snapshot, wizard
from mailwizard.answers import SECRET_KEYS, parse
from throwaway import ThrowawayHost

pytestmark = pytest.mark.e2e

SAVED = "/var/lib/mailwizard/answers.toml"
SECRET = b"Replication-s3cret"  # what helpers.prepare writes into full.toml's password_file
TREES = ("/etc/postfix", "/etc/dovecot", "/etc/pki/dovecot", "/srv/vmail", "/var/spool/postfix/private")
FILES = ("/etc/aliases", "/etc/passwd", "/etc/group", "/var/lib/mailwizard/partner.toml")


def apply(host, answers: str) -> str:
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 failed" in out.stdout, out.stdout[-3000:]
    assert SECRET.decode() not in out.stdout + out.stderr
    return out.stdout


def state(host) -> dict:
    """The configuration the wizard manages: trees and single files, by content, mode and owner."""
    out: dict = {}
    for top in TREES:
        out.update({f"{top}/{k}": v for k, v in snapshot(host, top).items()})
    for path in FILES:
        real = host.path(path)
        st = real.stat()
        out[path] = (real.read_bytes(), st.st_mode & 0o7777, st.st_uid, st.st_gid)
    return out


def text_diffs(a, b, differences: list[str]) -> list[str]:
    """Unified diffs of the differing files, for the failure message."""
    import difflib

    out = []
    for line in differences:
        path = line.split(":", 1)[0]
        if not path.startswith("/"):
            continue
        try:
            left, right = a.path(path).read_text(), b.path(path).read_text()
        except (OSError, UnicodeDecodeError):
            continue
        out += difflib.unified_diff(left.splitlines(), right.splitlines(), f"A{path}", f"B{path}", lineterm="")
    return out


def verified(host) -> list[tuple[str, str, str]]:
    out = wizard(host, "verify", "--json")
    checks = json.loads(out.stdout)
    return sorted((c["step"], c["name"], c["status"]) for c in checks)


def test_saved_answers_on_a_new_host_reproduce_the_server(throwaway):
    a = throwaway
    apply(a, prepare(a, "full.toml"))

    saved = a.path(SAVED)
    st = saved.stat()
    assert st.st_mode & 0o777 == 0o600 and (st.st_uid, st.st_gid) == (0, 0)
    text = saved.read_text()
    assert SECRET.decode() not in text
    data = tomllib.loads(text)

    def keys(node, prefix=""):
        for k, v in node.items():
            yield k
            if isinstance(v, dict):
                yield from keys(v)
    assert not set(keys(data)) & SECRET_KEYS
    assert data["replication"]["password_file"] == "/root/doveadm.pass"  # the secret as a file reference
    answers, problems = parse(text)
    assert problems == []
    assert parse(answers.to_toml())[0].to_toml() == text  # saved as it reads back

    with ThrowawayHost(hostname="mail.example.com") as b:
        prepare(b, "full.toml")  # the same certificate, key, CA and doveadm password file as on A
        put(b, "/root/saved-answers.toml", text.encode(), 0o600)
        apply(b, "/root/saved-answers.toml")
        assert b.path(SAVED).read_text() == text

        differences = diff_snapshots(state(a), state(b))
        assert differences == [], "\n".join(differences + text_diffs(a, b, differences))
        assert verified(a) == verified(b)
        assert not [c for c in verified(b) if c[2] == "fail"]
