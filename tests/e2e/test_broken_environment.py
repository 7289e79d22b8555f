"""End to end, issue 7: a broken environment stops the wizard cleanly, and --resume finishes once it is fixed.

Each case runs pam.toml on a fresh throwaway host with one thing broken:

- the certificate unreadable: a dangling symbolic link where the certificate
  should be (what a certbot `live/` link looks like once its `archive/` is
  gone, or a certificate on a file system that is not mounted) -- refused
  before anything changes, also when it breaks between a killed run and its
  --resume;
- the disk full during a write: a 256 KiB tmpfs over /etc/dovecot/conf.d,
  holding the distribution's files and filled up;
- the journal's disk full: the same over /var/lib/mailwizard;
- a package install failing: dovecot-pop3d removed and its package
  unreachable (no network in the throwaway, the .deb moved out of apt's
  cache), so the plan's `apt-get install` fails; fixed by putting the .deb
  back, as a mirror coming back would;
- a service failing to start: a log_path (doveconf accepts it) in a directory
  that is gone, so Dovecot cannot start (a port held by another process is
  refused earlier, by the ports check of the answers).

Every time: the CLI exits non-zero with a clear one-line reason and no
traceback; the journal is intact (every record, the state and the backups
index parse); every file the journal knows is either its original or
exactly what the wizard wrote (no half-written file) and no temp file is
left; after the fix, `--resume --unattended` (or, when nothing was applied,
the same command again) completes and verify passes.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import CERT, JOURNAL, diff_snapshots, prepare, put, snapshot, wizard_here

pytestmark = pytest.mark.e2e

ANSWERS = "pam.toml"
CONF_D = "/etc/dovecot/conf.d"
LOG_DIR = "/var/log/mail-gone"
GONE = "/etc/pki/dovecot/archive/server.example.com-1.crt"  # where a dangling certificate link points


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reason_line(out) -> str:
    """The one line that says why the run stopped; no traceback anywhere."""
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[-3000:]
    lines = [line for line in out.stderr.splitlines()
             if line.startswith(("apply failed:", "error:", "mailwizard:"))]
    assert lines, out.stderr[-3000:]
    return lines[0]


def assert_journal_intact(host) -> list[dict]:
    """Every record, the state and the backups index parse; returns the records."""
    journal = host.path(JOURNAL)
    records = [json.loads(line) for line in (journal / "journal.jsonl").read_text().splitlines()]
    json.loads((journal / "state.json").read_text())
    index = journal / "backups" / "index.json"
    if index.exists() or any(r["event"] == "done" for r in records):  # absent only while nothing was backed up
        json.loads(index.read_text())
    return records


def assert_files_whole(host) -> None:
    """Each file the journal backed up is its original or what the wizard last wrote; no temp file anywhere."""
    index_file = host.path(f"{JOURNAL}/backups/index.json")
    index = json.loads(index_file.read_text()) if index_file.exists() else {"files": {}}
    for path, entry in index["files"].items():
        if entry["kind"] != "file" or ("sha" not in entry and entry["existed"]):
            continue  # a directory, or an owner/mode change whose bytes the journal does not keep
        real = host.path(path)
        current = sha(real.read_bytes()) if real.is_file() else "absent"
        whole = {entry.get("sha", "absent"), entry.get("wizard_sha")}
        assert current in whole, f"{path} is neither its original nor what the wizard wrote"
    leftovers = [str(p) for top in ("/etc", "/srv", JOURNAL) for p in host.path(top).rglob("*.mailwizard-tmp")]
    assert leftovers == []


def resume_and_verify(host, *args: str) -> None:
    out = wizard_here(host, *(args or ("--resume", "--unattended")))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 failed" in out.stdout, out.stdout[-3000:]
    assert_files_whole(host)
    verify = wizard_here(host, "verify")
    assert verify.returncode == 0 and "0 failed" in verify.stdout, verify.stdout[-3000:]


def full_tmpfs_over(host, directory: str) -> None:
    """A 256 KiB tmpfs over `directory` holding what it held, then filled to the last block."""
    script = (f"set -e; mkdir -p /run/keep; cp -a {directory}/. /run/keep/; "
              f"mount -t tmpfs -o size=256k,mode=0755 tmpfs {directory}; cp -a /run/keep/. {directory}/; "
              f"rm -rf /run/keep; dd if=/dev/zero of={directory}/filler bs=1k 2>/dev/null || true")
    out = host.run(["sh", "-c", script])
    assert out.returncode == 0, out.stderr
    assert host.run(["sh", "-c", f"echo x > {directory}/probe"]).returncode != 0, "the tmpfs is not full"


def test_an_unreadable_certificate_is_refused_before_anything_changes(throwaway):
    host = throwaway
    answers = prepare(host, ANSWERS)
    cert = host.path(CERT).read_bytes()
    link = host.path(CERT, follow_symlinks=False)
    link.unlink()
    link.symlink_to(GONE)
    before = snapshot(host, "/etc")
    out = wizard_here(host, "--answers", answers, "--unattended")
    assert out.returncode == 2
    assert reason_line(out).startswith("error: tls.cert: "), out.stderr
    assert "nothing was changed" in out.stderr
    assert diff_snapshots(before, snapshot(host, "/etc")) == []
    assert not host.path(JOURNAL).exists()

    # it breaks again between a killed run and its --resume: refused, the journal and files left as they were
    link.unlink()
    put(host, CERT, cert)
    killed = wizard_here(host, "--answers", answers, "--unattended", env={"MAILWIZARD_KILL_AFTER": "5"})
    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), killed.stderr[-2000:]
    link.unlink()
    link.symlink_to(GONE)
    before, journal_before = snapshot(host, "/etc"), snapshot(host, JOURNAL)
    out = wizard_here(host, "--resume", "--unattended")
    assert out.returncode == 2 and reason_line(out).startswith("error: tls.cert: "), out.stderr
    assert diff_snapshots(before, snapshot(host, "/etc")) == []
    assert diff_snapshots(journal_before, snapshot(host, JOURNAL)) == []
    assert_journal_intact(host)
    assert_files_whole(host)

    link.unlink()
    put(host, CERT, cert)
    resume_and_verify(host)


def test_a_full_disk_during_a_write_fails_cleanly_and_resumes(throwaway):
    host = throwaway
    answers = prepare(host, ANSWERS)
    full_tmpfs_over(host, CONF_D)
    before = {p.name: p.read_bytes() for p in host.path(CONF_D).iterdir() if p.name != "filler"}
    out = wizard_here(host, "--answers", answers, "--unattended")
    assert out.returncode == 1
    line = reason_line(out)
    assert line.startswith(f"apply failed: {CONF_D}/") and line.endswith(": No space left on device"), line
    records = assert_journal_intact(host)
    assert records[-1]["event"] == "failed" and records[-1]["key"].startswith(f"file:{CONF_D}/")
    after = {p.name: p.read_bytes() for p in host.path(CONF_D).iterdir() if p.name != "filler"}
    assert after == before  # nothing in the full directory was touched, not even by half
    assert_files_whole(host)

    host.path(f"{CONF_D}/filler").unlink()  # room again
    resume_and_verify(host)


def test_a_full_journal_disk_stops_the_run_before_any_change(throwaway):
    host = throwaway
    answers = prepare(host, ANSWERS)
    host.path(JOURNAL).mkdir(parents=True)
    full_tmpfs_over(host, JOURNAL)
    before = snapshot(host, "/etc")
    out = wizard_here(host, "--answers", answers, "--unattended")
    assert out.returncode == 1
    line = reason_line(out)
    assert line.startswith(f"apply failed: cannot keep the journal in {JOURNAL}: "), line
    assert line.endswith("No space left on device"), line
    assert diff_snapshots(before, snapshot(host, "/etc")) == []

    # room again: the small file system goes (the validation's scratch copies need more than 256 KiB)
    assert host.run(["umount", JOURNAL]).returncode == 0
    resume_and_verify(host, "--answers", answers, "--unattended")  # nothing was applied: the same run again


def _pop3d_deb() -> Path:
    """Debian's dovecot-pop3d package file: from apt's cache here, else fetched (as run-tests installs it)."""
    cached = sorted(Path("/var/cache/apt/archives").glob("dovecot-pop3d_*.deb"))
    if cached:
        return cached[-1]
    where = Path(tempfile.mkdtemp(prefix="mailwizard-deb-"))
    subprocess.run(["apt-get", "download", "dovecot-pop3d"], cwd=where, check=True, capture_output=True)
    return next(where.glob("dovecot-pop3d_*.deb"))


def test_a_failing_package_install_is_reported_and_resumes_once_the_package_is_reachable(throwaway):
    host = throwaway
    deb = _pop3d_deb()
    answers = prepare(host, ANSWERS)
    removed = host.run(["dpkg", "--remove", "--force-depends", "dovecot-pop3d"])
    assert removed.returncode == 0, removed.stdout + removed.stderr
    host.run(["sh", "-c", "rm -f /var/cache/apt/archives/dovecot-pop3d_*.deb"])  # and no network: unreachable
    before = snapshot(host, "/etc")
    out = wizard_here(host, "--answers", answers, "--unattended")
    assert out.returncode == 1
    line = reason_line(out)
    assert line.startswith("apply failed: `apt-get install") and "dovecot-pop3d` exited with 100" in line, line
    records = assert_journal_intact(host)
    assert records[-1]["event"] == "failed" and "dovecot-pop3d" in records[-1]["key"]
    assert diff_snapshots(before, snapshot(host, "/etc")) == []  # the install comes first: nothing else done

    put(host, f"/var/cache/apt/archives/{deb.name}", deb.read_bytes())  # the mirror is back
    resume_and_verify(host)
    assert "install ok installed" in host.run(["dpkg-query", "-W", "-f=${Status}", "dovecot-pop3d"]).stdout


def test_a_service_that_cannot_start_is_reported_and_resumes_once_fixed(throwaway):
    host = throwaway
    answers = prepare(host, ANSWERS)
    # a setting doveconf accepts but the starting Dovecot cannot honour (its log directory is gone)
    put(host, "/etc/dovecot/conf.d/99-log.conf", f"log_path = {LOG_DIR}/dovecot.log\n".encode())
    out = wizard_here(host, "--answers", answers, "--unattended")
    assert out.returncode == 1
    line = reason_line(out)
    assert line.startswith("apply failed: `service dovecot start` exited with 1"), line
    assert f"Can't open log file {LOG_DIR}/dovecot.log" in out.stderr
    records = assert_journal_intact(host)
    assert records[-1]["event"] == "failed" and records[-1]["key"] == "service:dovecot"
    assert_files_whole(host)  # every configuration change before it is done, wholly
    done = {r["key"] for r in records if r["event"] == "done"}
    assert "file:/etc/dovecot/conf.d/10-ssl.conf" in done

    host.path(LOG_DIR).mkdir()
    resume_and_verify(host)
