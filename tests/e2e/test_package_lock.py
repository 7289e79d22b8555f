"""End to end, issue 13: another package manager holding dpkg's lock is waited for, not failed on.

What a killed wizard leaves behind: its apt-get, orphaned, still installing and holding
/var/lib/dpkg/lock-frontend (and dpkg's /var/lib/dpkg/lock). A stand-in holds both locks as apt-get
does (fcntl write locks) for a few seconds, in a throwaway host with dovecot-pop3d removed (its .deb
still in apt's cache: there is no network inside):

- the install argv alone (Debian's profile) waits for the lock, says so, then installs;
- the whole unattended wizard, planned while the lock is held, waits first (its own wait names the
  holder), then installs and finishes: exit 0, the package installed, nothing failed;
- on a RHEL-flavoured host (real dnf 4), the install argv waits for a running dnf's lock and takes over
  the lock of a killed one, which is why the RHEL plan adds nothing (no rpm --rebuilddb).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import prepare, put, wizard_here
from mailwizard.platform import profile_for

pytestmark = pytest.mark.e2e

HOLD = """
import fcntl, os, sys, time
fds = []
for path in ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    fds.append(fd)
print("held", flush=True)
time.sleep(float(sys.argv[1]))
"""
SECONDS = 8


def remove_pop3d(host) -> None:
    cached = sorted(Path("/var/cache/apt/archives").glob("dovecot-pop3d_*.deb"))
    if not cached:
        pytest.fail("dovecot-pop3d's .deb is not in apt's cache (run-tests downloads it)")
    removed = host.run(["dpkg", "--remove", "--force-depends", "dovecot-pop3d"])
    assert removed.returncode == 0, removed.stdout + removed.stderr


def hold_package_lock(host, seconds: float):
    put(host, "/root/hold-lock.py", HOLD.encode())
    holder = host.popen(["python3", "/root/hold-lock.py", str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    return holder


def installed(host, package: str) -> bool:
    return "install ok installed" in host.run(["dpkg-query", "-W", "-f=${Status}", package]).stdout


def test_the_install_argv_waits_for_another_apt_get(throwaway):
    host = throwaway
    remove_pop3d(host)
    holder = hold_package_lock(host, SECONDS)
    started = time.monotonic()
    out = host.run([*profile_for("debian12").install_argv, "dovecot-pop3d"], timeout=300,
                   env={"DEBIAN_FRONTEND": "noninteractive"})
    waited = time.monotonic() - started
    holder.wait()
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process" \
        in out.stdout, out.stdout[-2000:]
    assert waited >= SECONDS - 1
    assert installed(host, "dovecot-pop3d")


def test_the_wizard_waits_for_a_package_lock_held_while_it_plans(throwaway):
    host = throwaway
    answers = prepare(host, "pam.toml")
    remove_pop3d(host)
    holder = hold_package_lock(host, SECONDS)
    started = time.monotonic()
    out = wizard_here(host, "--answers", answers, "--unattended")
    waited = time.monotonic() - started
    holder.wait()
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    assert "warning: packages: the package lock is held by process" in text, text[-3000:]  # said in the plan
    assert "waiting for the package lock /var/lib/dpkg/lock-frontend, held by process" in text, text[-3000:]
    assert "the package lock /var/lib/dpkg/lock-frontend is free after" in text
    assert waited >= SECONDS - 1
    assert installed(host, "dovecot-pop3d")


# --- RHEL: dnf waits for its own lock, and a lock left by a killed dnf is no obstacle ---------------------------
#
# dnf 4 (RHEL 9 and 10; Debian's 4.14 in the RHEL-flavoured host) keeps its pid in
# /var/lib/dnf/rpmdb_lock.pid while it runs: another dnf finds a live pid there and waits ("Waiting for
# process with pid N to finish."), and takes the lock over when that process is gone. So the wizard's dnf
# argv needs no option, and after a killed dnf nothing is to be repaired: the plan adds nothing.

DNF_LOCK = "/var/lib/dnf/rpmdb_lock.pid"


@pytest.fixture
def rhel10():
    import os

    from rhel import RhelHost

    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    with RhelHost("rhel10", firewall=False) as host:
        yield host


def test_dnf_waits_for_a_running_dnf_and_takes_over_a_killed_ones_lock(rhel10):
    host = rhel10
    argv = [*profile_for("rhel10").install_argv, "postfix"]
    # a killed dnf: its pid is in the lock file, the process is gone
    put(host, DNF_LOCK, b"999999")
    out = host.run(argv, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Waiting for process" not in out.stdout + out.stderr
    host.run([*profile_for("rhel10").remove_argv, "postfix"], timeout=300)
    # a running one (a stand-in process whose pid is in the lock file, as dnf leaves it)
    holder = host.popen(["sleep", str(SECONDS)])
    pid = holder.inner_pid()
    assert pid
    put(host, DNF_LOCK, str(pid).encode())
    started = time.monotonic()
    out = host.run(argv, timeout=300)
    waited = time.monotonic() - started
    holder.wait()
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"Waiting for process with pid {pid} to finish." in out.stdout + out.stderr
    assert waited >= SECONDS - 2
    assert host.run(["rpm", "-q", "postfix"]).returncode == 0
