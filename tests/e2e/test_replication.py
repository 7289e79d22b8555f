"""End to end, issue 5 (guide 1.4): two real Dovecot servers replicate each other's mail.

Two throwaway copies of this machine, server1.example.com (198.51.100.11) and
server2.example.com (198.51.100.12), linked by a veth pair. The same system
user alice (same name and uid) exists on both. The wizard configures server1
from full.toml (adapted: server1's name, the partner server2 and its address)
and writes server2's answers file; the test copies that file and the doveadm
password file to server2 and runs the wizard there with them. Then:

- a message delivered over LMTP on server1 appears in alice's INBOX on server2;
- a flag set and a message deleted over IMAP on server2 reach server1;

each within a bounded wait (polling). A second run on either server plans no
change; `mailwizard verify` shows both replicators' tables (`doveadm
replicator status`, `'*'` and one user's). The doveadm password never appears in
the wizard's output, the journal, a log or any file written, other than the
password file itself.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import ANSWERS_DIR, CA, CERT, KEY, WIZARD, cached_cert, put
from throwaway import ThrowawayHost, _kept_paths

pytestmark = pytest.mark.e2e

ADDRS = {"server1.example.com": "198.51.100.11", "server2.example.com": "198.51.100.12"}
USER, UID, PASSWORD = "alice", 1501, "Alice-repl1cates"
SECRET = "D0veadm-shared-s3cret-for-both"
PASSFILE = "/root/doveadm.pass"
COPY = "/etc/dovecot/private/doveadm.pass"
PARTNER_FILE = "/var/lib/mailwizard/partner.toml"
WAIT = 120  # seconds: a generous bound for one change to travel
REPO = str(Path(__file__).resolve().parents[2])

ANSWERS = (ANSWERS_DIR / "full.toml").read_text().replace(
    'hostname = "mail.example.com"', 'hostname = "server1.example.com"').replace(
    'partner_addresses = ["192.0.2.1/32", "2001:db8:2::1/128"]', 'partner_addresses = ["198.51.100.12/32"]').replace(
    'backend = "pam"', 'backend = "pam"\ntest_user = "alice"')  # whose replicator status verify shows
# where the written files are looked for the password (the lower layer is this machine's own)
# (/root only its own files: below it lie this machine's big trees, such as a Python installation)
SEARCHED = ("/etc", "/var/lib/mailwizard", "/var/log", "/var/spool/postfix/etc", "/srv", "/run/dovecot", "/tmp")

DELIVER = r'''
import smtplib, sys
subject = sys.argv[1]
c = smtplib.LMTP("/run/dovecot/lmtp")
msg = f"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\n\r\nOn server1.\r\n"
print(c.sendmail("bob@example.org", ["alice@example.com"], msg))
c.quit()
'''

# on the host itself: loopback counts as secure, so the plain login is allowed (the IMAP client alice uses)
IMAP = r'''
import imaplib, sys
action, subject, password = sys.argv[1], sys.argv[2], sys.stdin.read()
c = imaplib.IMAP4("127.0.0.1", 143)
c.login("alice", password)
c.select("INBOX")
found = c.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
assert len(found) == 1, found
if action == "flag":
    print(c.store(found[0], "+FLAGS", "(\\Flagged)"))
else:
    c.store(found[0], "+FLAGS", "(\\Deleted)")
    print(c.expunge())
c.logout()
'''


def prepare_server(host: ThrowawayHost) -> None:
    key, cert = cached_cert(host.hostname)
    put(host, CERT, cert)
    put(host, CA, cert)
    put(host, KEY, key, 0o600)
    for argv, stdin in ((["useradd", "-u", str(UID), "-m", "-s", "/usr/sbin/nologin", USER], None),
                        (["chpasswd"], f"{USER}:{PASSWORD}\n")):
        out = host.run(argv, input=stdin)
        assert out.returncode == 0, out.stderr
    # Dovecot's log, for a failing test's message (no syslog runs here)
    put(host, "/etc/dovecot/conf.d/99-test-log.conf", b"log_path = /var/log/dovecot.log\n")


def wizard(host: ThrowawayHost, *args: str, timeout: float = 600):
    """The wizard of this checkout (an installed mailwizard may be another's)."""
    return host.run([*WIZARD, *args], timeout=timeout, env={"PYTHONPATH": REPO})


def run_wizard(host: ThrowawayHost, answers: str) -> str:
    out = wizard(host, "--answers", answers, "--unattended")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:] + log(host)
    assert "0 failed" in out.stdout, out.stdout[-4000:]
    return text


def log(host: ThrowawayHost) -> str:
    """Dovecot's errors and warnings (TLS probes of the verify step left out), for a failure's message."""
    path = host.path("/var/log/dovecot.log")
    if not path.exists():
        return ""
    lines = [line for line in path.read_text().splitlines()
             if ("rror" in line or "arn" in line) and "SSL_accept" not in line]
    return "\n--- dovecot.log\n" + "\n".join(lines)[-3000:]


def fetch(host: ThrowawayHost, subject: str) -> str:
    """alice's INBOX messages with this subject, as `doveadm fetch` shows their flags ('' if none)."""
    out = host.run(["doveadm", "fetch", "-u", USER, "flags", "mailbox", "INBOX", "subject", subject],
                   timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def poll(what, done, timeout: float = WAIT) -> str:
    """Call `what()` until `done(result)`; the last result either way."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def files_holding(host: ThrowawayHost, secret: bytes) -> list[str]:
    """Files inside the host holding `secret`; this run's checkout and Python (bound in under /tmp) left out."""
    kept = tuple(str(host.path(k)) + "/" for k in _kept_paths())
    found = []
    walks = [os.walk(host.path(top)) for top in SEARCHED]
    root = host.path("/root")
    walks.append([(str(root), [], [p.name for p in root.iterdir() if p.is_file()])])
    for walk in walks:
        for dirpath, _, names in walk:
            for name in names:
                real = os.path.join(dirpath, name)
                if real.startswith(kept):
                    continue
                try:
                    if os.path.isfile(real) and not os.path.islink(real) and secret in Path(real).read_bytes():
                        found.append("/" + os.path.relpath(real, host.path("/")))
                except OSError:
                    pass
    return sorted(found)


def test_two_servers_replicate_both_ways():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    with ThrowawayHost("server1.example.com") as one, ThrowawayHost("server2.example.com") as two:
        one.link(two, ADDRS[one.hostname], ADDRS[two.hostname])
        for host in (one, two):
            prepare_server(host)
        put(one, "/root/answers.toml", ANSWERS.encode(), 0o600)
        put(one, PASSFILE, (SECRET + "\n").encode(), 0o600)
        outputs = [run_wizard(one, "/root/answers.toml")]

        # server2 gets the answers server1 wrote for it, and the same password file
        partner = one.path(PARTNER_FILE)
        assert oct(partner.stat().st_mode & 0o777) == "0o600"
        text = partner.read_text()
        assert 'partner = "server1.example.com"' in text and 'hostname = "server2.example.com"' in text
        assert 'partner_addresses = [\n    "198.51.100.11/32",\n]' in text, text
        put(two, "/root/partner.toml", text.encode(), 0o600)
        put(two, PASSFILE, one.path(PASSFILE).read_bytes(), 0o600)
        outputs.append(run_wizard(two, "/root/partner.toml"))

        # a second run plans nothing more, its prerequisites now checked with the running Dovecot's doveadm
        for host, answers in ((one, "/root/answers.toml"), (two, "/root/partner.toml")):
            again = wizard(host, "--answers", answers, "--unattended", "--dry-run", "--json")
            assert again.returncode == 0, again.stdout[-2000:] + again.stderr
            data = json.loads(again.stdout)
            assert data["plan"]["summary"]["changes"] == 0, \
                [c["description"] for c in data["plan"]["changes"] if not c["noop"]]
            said = [p["message"] for p in data["problems"] if p["key"] == "replication.prerequisites"]
            assert said and all("same user database" in m for m in said), data["problems"]
            outputs.append(again.stdout + again.stderr)

        # delivered on server1 -> in alice's INBOX on server2
        for subject in ("replicated-one", "replicated-two"):
            sent = one.run(["python3", "-c", DELIVER, subject], timeout=60)
            assert sent.returncode == 0 and sent.stdout.strip() == "{}", sent.stdout + sent.stderr + log(one)
        for subject in ("replicated-one", "replicated-two"):
            got = poll(lambda subject=subject: fetch(two, subject), lambda out: "flags:" in out)
            assert "flags:" in got, f"{subject} did not reach server2" + log(one) + log(two)

        # a flag set on server2 over IMAP -> on server1
        out = two.run(["python3", "-c", IMAP, "flag", "replicated-one"], input=PASSWORD, timeout=60)
        assert out.returncode == 0, out.stderr
        got = poll(lambda: fetch(one, "replicated-one"), lambda out: "\\Flagged" in out)
        assert "\\Flagged" in got, "the flag did not reach server1" + got + log(one) + log(two)

        # a message deleted on server2 over IMAP -> gone from server1
        assert "flags:" in fetch(one, "replicated-two")
        out = two.run(["python3", "-c", IMAP, "delete", "replicated-two"], input=PASSWORD, timeout=60)
        assert out.returncode == 0, out.stderr
        got = poll(lambda: fetch(one, "replicated-two"), lambda out: out.strip() == "")
        assert got.strip() == "", "the deletion did not reach server1" + log(one) + log(two)
        assert "flags:" in fetch(one, "replicated-one")  # only the one deleted went

        # the wizard's own verification shows both replicators' tables, alice synced on each
        for host, answers in ((one, "/root/answers.toml"), (two, "/root/partner.toml")):
            out = wizard(host, "verify", "--answers", answers, timeout=300)
            outputs.append(out.stdout + out.stderr)
            section = out.stdout.split("== replication")[-1].split("\n== ")[0]
            assert "PASS  doveadm replicator status: Queued 'sync' requests" in section, section
            # users nobody changed may still show the failures from before the partner was set up
            table = section.split("doveadm replicator status '*': ")[1]
            assert table.startswith("username ") and "success sync" in table, section
            alice = next(line.split() for line in table.splitlines() if line.startswith(USER + " "))
            assert alice[-1] == "-" and alice[-2] != "-", section  # not failed, synced at least once
            # one user's table: [auth] test_user's (server1's answers name alice), else the first user listed
            who = USER if host is one else r"\w+"
            assert re.search(rf"PASS  doveadm replicator status {who}: username ", section), section
        secret = SECRET.encode()
        assert not any(SECRET in text for text in outputs)
        for host in (one, two):
            # the admin's file and the copy Dovecot reads (dovecot_t under SELinux may not read /root)
            assert files_holding(host, secret) == [COPY, PASSFILE], host.hostname
            assert oct(host.path(COPY).stat().st_mode & 0o777) == "0o600"
            assert host.run(["grep", "-r", "-l", SECRET, "/var/lib/mailwizard"]).returncode == 1
            conf = host.path("/etc/dovecot/conf.d/10-replication.conf")
            assert oct(conf.stat().st_mode & 0o777) == "0o600" and conf.stat().st_uid == 0
            assert f"doveadm_password = <{COPY}" in conf.read_text()
