"""The throwaway host itself: isolation, clean-up, networking."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from throwaway import HostGone, ThrowawayHost

pytestmark = pytest.mark.e2e


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")


def real_mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split(" - ")[0].split(" ", 4)[4] + " " + line.split(" - ")[1]
                      for line in f)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def pids_running(argv: list[str]) -> list[int]:
    """Pids on this whole machine whose command line is exactly ``argv``."""
    want = "\0".join(argv).encode() + b"\0"
    found = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if d.isdigit() and f.read() == want:
                    found.append(int(d))
        except OSError:
            pass
    return found


def wait_until(predicate, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def assert_gone(host: ThrowawayHost, init_pid: int, pids: list[int], mounts_before: list[str]):
    assert not host.running
    assert not alive(init_pid), "the throwaway's init survived"
    assert [p for p in pids if alive(p)] == [], "processes from inside survived"
    assert real_mounts() == mounts_before, "the real machine's mount table changed"


def test_etc_write_stays_inside(throwaway):
    name = f"/etc/mw-throwaway-probe-{os.getpid()}"
    r = throwaway.run(f"echo inside > {name} && chown nobody:nogroup {name} && chmod 640 {name}")
    assert r.returncode == 0, r.stderr
    p = throwaway.path(name)
    assert p.read_text() == "inside\n"
    st = p.stat()
    assert (st.st_mode & 0o777, st.st_uid) == (0o640, 65534)
    assert not os.path.exists(name), "a write inside reached the real /etc"

    # Writes from outside through path() show up inside.
    throwaway.path("/etc/mailname").write_text("mail.example.com\n")
    assert throwaway.run(["cat", "/etc/mailname"]).stdout == "mail.example.com\n"

    # /var/run -> /run is an absolute link: path() must resolve it inside.
    outside = throwaway.path("/var/run/mw-probe")
    assert outside == throwaway.path("/run/mw-probe")
    assert str(outside).startswith(f"/proc/{throwaway.init_pid}/root/")
    outside.write_text("x")
    assert throwaway.run(["cat", "/run/mw-probe"]).stdout == "x"
    assert not os.path.exists("/run/mw-probe")


def test_sequential_hosts_do_not_share_files():
    needs_root()
    with ThrowawayHost() as first:
        first.run(["sh", "-c", "echo one > /root/mw-marker"], check=True)
        assert first.path("/root/mw-marker").read_text() == "one\n"
    with ThrowawayHost() as second:
        r = second.run(["test", "-e", "/root/mw-marker"])
        assert r.returncode == 1
        assert not second.path("/root/mw-marker").exists()
    assert not os.path.exists("/root/mw-marker")


def test_everything_inside_dies_with_the_host():
    needs_root()
    mounts_before = real_mounts()
    host = ThrowawayHost()
    with host:
        init_pid = host.init_pid
        fg = host.popen(["sleep", "1001"], stdout=subprocess.DEVNULL)
        # A daemon: detached, re-parented to the throwaway's init.
        host.run("setsid sleep 1002 </dev/null >/dev/null 2>&1 &", check=True)
        host.add_peer()
        host.popen_peer(["sleep", "1003"], stdout=subprocess.DEVNULL)
        assert wait_until(lambda: {"sleep 1001", "sleep 1002"}
                          <= {" ".join(p.argv) for p in host.processes()})
        assert wait_until(lambda: pids_running(["sleep", "1003"]))
        pids = [p.outer_pid for p in host.processes()] + [fg.pid] + pids_running(["sleep", "1003"])
        assert all(alive(p) for p in pids)
        hostname_before = socket.gethostname()
    assert fg.returncode == -signal.SIGKILL
    assert_gone(host, init_pid, pids, mounts_before)
    assert socket.gethostname() == hostname_before
    with pytest.raises(RuntimeError):
        host.run(["true"])


def test_hostname_is_the_fqdn(throwaway):
    assert throwaway.run(["hostname", "-f"]).stdout.strip() == "mail.example.com"
    assert throwaway.run(["hostname"]).stdout.strip() == "mail.example.com"
    assert throwaway.path("/etc/hostname").read_text() == "mail.example.com\n"
    assert socket.gethostname() != "mail.example.com"


def test_installed_packages_and_checkout_are_visible(throwaway):
    r = throwaway.run(["dpkg", "-s", "dovecot-core"])
    assert r.returncode == 0, r.stderr
    assert "Status: install ok installed" in r.stdout
    here = os.path.abspath(__file__)
    assert throwaway.run(["test", "-f", here]).returncode == 0
    r = throwaway.run(["python3", "-c", "import sys; print(sys.executable)"])
    assert r.stdout.strip() == sys.executable
    # a peer sees them too, with this run's Python environment (even when it lives under /tmp)
    throwaway.add_peer()
    for argv in (["test", "-f", here], ["python3", "-c", "import sys, pytest; print(sys.prefix)"]):
        r = throwaway.run_peer(argv)
        assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == sys.prefix


def test_peer_reaches_a_server_on_test_net(throwaway):
    peer = throwaway.add_peer(name="client", host_addr="198.51.100.1", peer_addr="198.51.100.2")
    assert throwaway.run_peer(["hostname"]).stdout.strip() == "client"
    server = throwaway.popen(
        ["python3", "-c",
         "import socket\n"
         "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind(('198.51.100.1', 2525)); s.listen(); print('ready', flush=True)\n"
         "c, a = s.accept(); c.sendall(('hello ' + a[0]).encode()); c.close()\n"],
        stdout=subprocess.PIPE)
    assert server.stdout.readline() == "ready\n"
    r = throwaway.run_peer(
        ["python3", "-c",
         "import socket\n"
         "s = socket.create_connection(('198.51.100.1', 2525), timeout=5)\n"
         "print(s.recv(100).decode())\n"], timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hello 198.51.100.2"
    assert server.wait(timeout=5) == 0
    # The link lives in the throwaway's namespaces, not in this machine's.
    real = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert "198.51.100." not in real and peer.host_ifname not in real
    with pytest.raises(ValueError):
        throwaway.add_peer(name="other", host_addr="10.0.0.1", peer_addr="10.0.0.2")


def test_loopback_is_isolated(throwaway):
    outside = socket.socket()
    outside.bind(("127.0.0.1", 0))
    outside.listen()
    port = outside.getsockname()[1]
    try:
        probe = ("import socket, sys\n"
                 "try:\n"
                 f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                 "except ConnectionRefusedError:\n"
                 "    sys.exit(7)\n")
        assert throwaway.run(["python3", "-c", probe]).returncode == 7
    finally:
        outside.close()

    inside = throwaway.popen(
        ["python3", "-c",
         "import socket, time\n"
         "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
         "print(s.getsockname()[1], flush=True); time.sleep(60)\n"],
        stdout=subprocess.PIPE)
    inner_port = int(inside.stdout.readline())
    assert throwaway.run(["python3", "-c", f"import socket; socket.create_connection("
                          f"('127.0.0.1', {inner_port}), timeout=3)"]).returncode == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", inner_port), timeout=3).close()
    inside.kill()
    inside.wait()


def test_killing_the_popen_kills_the_command_inside(throwaway):
    proc = throwaway.popen(["sleep", "1004"])
    inner = proc.inner_pid()
    assert inner is not None
    assert [p.pid for p in throwaway.processes() if p.argv == ["sleep", "1004"]] == [inner]
    os.kill(proc.pid, signal.SIGKILL)           # a raw kill of the returned pid
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert wait_until(lambda: not any(p.argv[:1] == ["sleep"] for p in throwaway.processes()))

    throwaway.run("setsid sleep 1005 </dev/null >/dev/null 2>&1 &", check=True)
    assert wait_until(lambda: any(p.argv == ["sleep", "1005"] for p in throwaway.processes()))
    assert len(throwaway.kill_matching(r"^sleep 1005$")) == 1
    assert wait_until(lambda: not any(p.argv[:1] == ["sleep"] for p in throwaway.processes()))


def test_run_returns_when_the_command_exits_even_if_a_daemon_keeps_its_output(throwaway):
    started = time.monotonic()
    r = throwaway.run("sleep 1008 & echo started; echo oops >&2", timeout=20)
    assert time.monotonic() - started < 5
    assert (r.returncode, r.stdout, r.stderr) == (0, "started\n", "oops\n")
    assert any(p.argv == ["sleep", "1008"] for p in throwaway.processes())

    r = throwaway.run(["no-such-command-mw"])
    assert r.returncode == 127 and "no-such-command-mw" in r.stderr
    proc = throwaway.popen(["sleep", "1009"])
    assert proc.inner_pid() is not None
    proc.terminate()                            # forwarded to the command
    assert proc.wait(timeout=5) == -signal.SIGTERM


def test_a_host_whose_init_died_says_how_at_the_next_command(tmp_path, monkeypatch):
    # CI once saw only "the throwaway host is gone (Connection refused)": now the init's end is named,
    # and kept for the tier's summary
    needs_root()
    monkeypatch.setenv("MAILWIZARD_HOST_DEATHS", str(tmp_path / "deaths"))
    with ThrowawayHost() as host:
        assert host.run(["true"]).returncode == 0
        os.kill(host.init_pid, signal.SIGKILL)
        with pytest.raises(HostGone, match=r"the throwaway host is gone: its init ended \("):
            host.run(["true"])
    (line,) = (tmp_path / "deaths").read_text().splitlines()
    assert line.startswith("tests/e2e/test_throwaway.py::test_a_host_whose_init_died_says_how_at_the_next_command:")
    assert "its init ended" in line


def test_timeout_and_full_tmpfs_still_clean_up():
    needs_root()
    mounts_before = real_mounts()
    host = ThrowawayHost(size="16m")
    with host:
        init_pid = host.init_pid
        r = host.run(["dd", "if=/dev/zero", "of=/root/fill", "bs=1M", "count=64"])
        assert r.returncode != 0
        assert "No space left" in r.stderr
        started = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            host.run("sleep 1006; true", timeout=1)
        assert time.monotonic() - started < 8
        assert wait_until(lambda: not any("sleep" in " ".join(p.argv) for p in host.processes()))
        host.popen(["sleep", "1007"], stdout=subprocess.DEVNULL)
        pids = [p.outer_pid for p in host.processes()]
    assert_gone(host, init_pid, pids, mounts_before)


def test_two_linked_hosts_reach_each_other_by_name():
    needs_root()
    with ThrowawayHost("server1.example.com") as one, ThrowawayHost("server2.example.com") as two:
        one.link(two, "198.51.100.11", "198.51.100.12")
        server = two.popen(
            ["python3", "-c",
             "import socket\n"
             "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             "s.bind(('198.51.100.12', 2526)); s.listen(); print('ready', flush=True)\n"
             "c, a = s.accept(); c.sendall(('hello ' + a[0]).encode()); c.close()\n"],
            stdout=subprocess.PIPE)
        assert server.stdout.readline() == "ready\n"
        r = one.run(["python3", "-c",
                     "import socket\n"
                     "s = socket.create_connection(('server2.example.com', 2526), timeout=5)\n"
                     "print(s.recv(100).decode())\n"], timeout=20)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "hello 198.51.100.11"
        assert server.wait(timeout=5) == 0
        for host, other, addr in ((one, "server2", "198.51.100.12"), (two, "server1", "198.51.100.11")):
            got = host.run(["getent", "hosts", other]).stdout.split()
            assert got[:1] == [addr] and f"{other}.example.com" in got
        # the pair lives in the throwaways' namespaces only
        real = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
        assert "198.51.100." not in real and "mw-link" not in real
        with pytest.raises(ValueError):
            one.link(two, "10.0.0.1", "10.0.0.2", ifname="mw-other")
