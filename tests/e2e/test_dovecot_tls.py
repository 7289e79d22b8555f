"""End to end, in a throwaway copy of this machine: the wizard really configures and starts Dovecot.

Covers issue 2's slice: unattended apply with a certificate, TLS 1.2 accepted
and TLS 1.1 refused on 993 from another host, a second run planning nothing,
a dry run changing nothing, SIGKILL mid-apply then --resume, and rollback.
"""

from __future__ import annotations

import json
import signal

import pytest

from helpers import KEY, REPO, WIZARD, diff_snapshots, journal_events, prepare, snapshot, wait_for_event, wizard

pytestmark = pytest.mark.e2e


def openssl_from_peer(host, version_flag: str):
    return host.run_peer(["openssl", "s_client", "-connect", "198.51.100.1:993", version_flag,
                          "-servername", "mail.example.com"], input="Q\n", timeout=30)


def test_unattended_apply_starts_dovecot_with_tls(throwaway):
    host = throwaway
    answers = prepare(host)
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 failed" in out.stdout and "PASS  TLS 1.1 refused on 993" in out.stdout
    key = host.path(KEY).stat()
    assert oct(key.st_mode & 0o777) == "0o600" and key.st_uid == 0
    ssl_conf = host.path("/etc/dovecot/conf.d/10-ssl.conf").read_text()
    assert f"ssl_key = <{KEY}\n" in ssl_conf and "ssl_min_protocol = TLSv1.2\n" in ssl_conf
    # a client on another host: TLS 1.2 works, TLS 1.1 is refused
    host.add_peer()
    modern = openssl_from_peer(host, "-tls1_2")
    assert "Protocol  : TLSv1.2" in modern.stdout or "TLSv1.2" in modern.stdout, modern.stdout + modern.stderr
    assert "BEGIN CERTIFICATE" in modern.stdout or "Server certificate" in modern.stdout
    old = openssl_from_peer(host, "-tls1_1")
    assert old.returncode != 0
    assert "Cipher is (NONE)" in old.stdout or "alert" in (old.stdout + old.stderr).lower()
    # a second run has nothing to do
    again = wizard(host, "--answers", answers, "--unattended", "--dry-run", "--json")
    plan = json.loads(again.stdout)["plan"]
    assert plan["summary"]["changes"] == 0, [c["description"] for c in plan["changes"] if not c["noop"]]
    # verify re-runs the checks against the running server
    verify = wizard(host, "verify")
    assert verify.returncode == 0 and "dovecot running" in verify.stdout
    # and shows the DNS records to publish; with no DNS server reachable that is a warning, not a failure
    assert "example.com.                             IN MX    10 mail.example.com." in verify.stdout
    assert "WARN  DNS records published: not checked" in verify.stdout


def test_dry_run_changes_nothing(throwaway):
    host = throwaway
    answers = prepare(host)
    before = snapshot(host, "/etc")
    for args in (["--dry-run", "--unattended"], ["--dry-run", "--unattended", "--json"]):
        out = wizard(host, "--answers", answers, *args)
        assert out.returncode == 0, out.stderr
    assert "chmod 600 " + KEY in wizard(host, "--answers", answers, "--dry-run", "--unattended").stdout
    assert diff_snapshots(before, snapshot(host, "/etc")) == []
    assert not host.path("/var/lib/mailwizard").exists()


def _uninterrupted_end_state(answers_extra: str = ""):
    from throwaway import ThrowawayHost
    with ThrowawayHost(hostname="mail.example.com") as other:
        answers = prepare(other, extra=answers_extra)
        out = wizard(other, "--answers", answers, "--unattended")
        assert out.returncode == 0, out.stdout + out.stderr
        return snapshot(other, "/etc"), out.stdout.splitlines()[-1]


def test_sigkill_mid_apply_resumes_to_the_same_end_state(throwaway):
    host = throwaway
    answers = prepare(host)
    proc = host.popen([*WIZARD, "--answers", answers, "--unattended"], env={"PYTHONPATH": REPO})
    hit = wait_for_event(host, proc, lambda e: e.get("event") == "begin"
                         and e.get("key") == "file:/etc/dovecot/conf.d/10-ssl.conf")
    assert hit is not None, "the run ended before the kill point"
    assert host.kill_matching(r"-m mailwizard", signal.SIGKILL)
    proc.wait(timeout=30)
    events = [(e["event"], e.get("key")) for e in journal_events(host)]
    assert ("done", "file:/etc/dovecot/conf.d/10-ssl.conf") not in events  # really killed mid-change
    resumed = wizard(host, "--resume", "--unattended")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    expected, summary = _uninterrupted_end_state()
    assert diff_snapshots(expected, snapshot(host, "/etc")) == []
    assert resumed.stdout.splitlines()[-1] == summary


def test_rollback_restores_the_original_files(throwaway):
    host = throwaway
    answers = prepare(host)
    before = snapshot(host, "/etc")
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout + out.stderr
    assert diff_snapshots(before, snapshot(host, "/etc")) != []
    back = wizard(host, "rollback")
    assert back.returncode == 0, back.stderr
    assert "restored /etc/dovecot/conf.d/10-ssl.conf" in back.stdout
    assert "removed /etc/dovecot/dh.pem" in back.stdout
    assert "stopped dovecot" in back.stdout
    assert diff_snapshots(before, snapshot(host, "/etc")) == []
