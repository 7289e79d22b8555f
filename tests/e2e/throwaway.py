"""Throwaway hosts for the end-to-end tier (DESIGN.md, "Testing, in four tiers").

A :class:`ThrowawayHost` is a fresh copy of this machine that lives only as
long as its ``with`` block::

    with ThrowawayHost(hostname="mail.example.com") as host:
        host.run(["service", "dovecot", "start"], check=True)
        host.add_peer()                       # a "client" on 198.51.100.2
        host.run_peer(["openssl", "s_client", "-connect", "198.51.100.1:993"])
        conf = host.path("/etc/dovecot/dovecot.conf").read_text()

How it is built (stdlib only, needs root):

* ``unshare --mount --pid --net --uts --ipc --fork --kill-child`` starts a
  small Python *init* (PID 1 of the new PID namespace).  Before it chroots,
  the init mounts, inside its private mount namespace only:

  - a tmpfs (``size``) holding the overlay's upper and work directories;
  - an overlayfs whose lower layer is this machine's ``/``: everything
    installed here (packages, ``/work/main``, site-packages) is visible, and
    every write lands in the tmpfs;
  - a fresh ``/proc`` (``/proc/sys`` read-only except ``/proc/sys/net``), a
    read-only ``/sys``, a fresh ``/dev`` tmpfs with the usual character
    devices, its own ``devpts`` and ``/dev/shm``, and fresh tmpfs on ``/run``
    and ``/tmp``;

  then it brings ``lo`` up, sets the hostname, writes ``/etc/hostname`` and
  ``/etc/hosts`` (inside the overlay) and chroots into the overlay.
* Every command (:meth:`ThrowawayHost.run`, :meth:`ThrowawayHost.popen`) is
  started by a tiny helper that ``setns()``-es into the init's namespaces,
  chroots to its root and forks the command as a child with
  ``PR_SET_PDEATHSIG=SIGKILL`` in a new session.  The helper is the
  :class:`subprocess.Popen` you get back: it relays the exit status and
  forwards TERM/INT/HUP/QUIT/USR1/USR2/WINCH/CONT/ALRM; SIGKILL-ing it kills
  the command inside too.
* The init keeps reading its stdin, a pipe held by this process.  When the
  host is closed -- or this Python process dies -- it sees end of file and
  exits; the kernel then SIGKILLs everything left in the PID namespace, and
  the mount/network namespaces with all their tmpfs and overlay mounts vanish
  with their last process.  Nothing is ever mounted in, or written to, this
  machine's own mount namespace or ``/etc``.
* :meth:`ThrowawayHost.add_peer` starts a second, smaller namespace set (a
  client "host": network, UTS, PID, mount) whose ``/`` is this machine's root
  re-mounted read-only, with a private tmpfs ``/tmp``, linked to the host by
  a veth pair numbered in TEST-NET-2 (198.51.100.0/24) only.  The veth pair
  is created inside the throwaway's network namespace, never in this
  machine's.

Traps worth knowing:

* :meth:`ThrowawayHost.path` resolves symbolic links *inside* the
  throwaway.  ``/proc/PID/root/var/run`` would otherwise follow Debian's
  absolute ``/var/run -> /run`` link to this machine's ``/run``.
* Commands get a small, clean environment (:meth:`ThrowawayHost.base_env`):
  ``PATH`` starts with the directory of the running interpreter, so
  ``python3`` inside is the interpreter running the tests (with its
  site-packages).  ``env=`` is merged over it; a value of ``None`` removes a
  variable.
* ``run()`` captures output through pipes: a daemon that keeps its
  stdout/stderr open keeps ``run()`` waiting until ``timeout``.  Start such
  daemons with output redirected, or with :meth:`ThrowawayHost.popen`.
* Nothing inside can reach the network beyond the peers: install packages on
  the real machine before the test.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

__all__ = [
    "HostProcess",
    "InnerProcess",
    "Peer",
    "ThrowawayError",
    "ThrowawayHost",
    "TEST_NET_2",
]

#: The only addresses peers may use (RFC 5737 TEST-NET-2).
TEST_NET_2 = ipaddress.ip_network("198.51.100.0/24")

_STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOST_NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 15.0


class ThrowawayError(RuntimeError):
    """A throwaway host could not be set up or used."""


# --------------------------------------------------------------------------
# Code that runs in other processes (python3 -I -S -c SOURCE JSON).
# --------------------------------------------------------------------------

# PID 1 of the throwaway host.  argv[1] is a JSON configuration.
_HOST_INIT = r'''
import json, os, signal, socket, stat, subprocess, sys

cfg = json.loads(sys.argv[1])
os.umask(0o022)

def sh(*argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stderr.write("throwaway init: %s failed (%d): %s\n"
                         % (" ".join(argv), r.returncode, r.stdout.strip()))
        sys.exit(1)

# Our pid as this machine sees it: /proc is still this machine's here.
outer_pid = int(os.readlink("/proc/self"))

S = "/tmp"          # in our private mount namespace only
R = S + "/root"
sh("mount", "--make-rprivate", "/")
sh("mount", "-t", "tmpfs", "-o", "mode=0700,size=" + cfg["size"], "mw-throwaway", S)
for d in ("upper", "work", "root"):
    os.mkdir(S + "/" + d, 0o755)
sh("mount", "-t", "overlay", "-o",
   "lowerdir=/,upperdir=%s/upper,workdir=%s/work" % (S, S), "mw-throwaway", R)

sh("mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", R + "/proc")
sh("mount", "--bind", R + "/proc/sys", R + "/proc/sys")
sh("mount", "-o", "remount,bind,ro,nosuid,nodev,noexec", R + "/proc/sys")
sh("mount", "--bind", R + "/proc/sys/net", R + "/proc/sys/net")
sh("mount", "-o", "remount,bind,rw,nosuid,nodev,noexec", R + "/proc/sys/net")
sh("mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", R + "/sys")

sh("mount", "-t", "tmpfs", "-o", "mode=0755,size=1m,nosuid,noexec", "mw-dev", R + "/dev")
for name in ("null", "zero", "full", "random", "urandom", "tty"):
    node = R + "/dev/" + name
    os.mknod(node, stat.S_IFCHR | 0o666, os.stat("/dev/" + name).st_rdev)
    os.chmod(node, 0o666)
os.mkdir(R + "/dev/pts", 0o755)
sh("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec",
   "devpts", R + "/dev/pts")
os.symlink("pts/ptmx", R + "/dev/ptmx")
os.mkdir(R + "/dev/shm")
sh("mount", "-t", "tmpfs", "-o", "mode=1777,size=%s,nosuid,nodev" % cfg["shm_size"], "shm", R + "/dev/shm")
for src, dst in (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"),
                 ("/proc/self/fd/1", "stdout"), ("/proc/self/fd/2", "stderr")):
    os.symlink(src, R + "/dev/" + dst)

sh("mount", "-t", "tmpfs", "-o", "mode=0755,size=%s,nosuid,nodev" % cfg["run_size"], "mw-run", R + "/run")
os.mkdir(R + "/run/lock")
os.chmod(R + "/run/lock", 0o1777)
sh("mount", "-t", "tmpfs", "-o", "mode=1777,size=%s,nosuid,nodev" % cfg["tmp_size"], "mw-tmp", R + "/tmp")

sh("ip", "link", "set", "lo", "up")
socket.sethostname(cfg["hostname"])

os.chroot(R)
os.chdir("/")
# Written after the chroot so that a symlinked /etc/hosts cannot lead outside.
fqdn = cfg["hostname"]
short = fqdn.split(".")[0]
names = fqdn if short == fqdn else fqdn + " " + short
with open("/etc/hostname", "w") as f:
    f.write(fqdn + "\n")
with open("/etc/hosts", "w") as f:
    f.write("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" % names)

sys.stdout.write("READY %d\n" % outer_pid)
sys.stdout.flush()
devnull = os.open("/dev/null", os.O_RDWR)
os.dup2(devnull, 1)
os.dup2(devnull, 2)

def reap(*_):
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
signal.signal(signal.SIGINT, lambda *_: os._exit(0))
reap()
while os.read(0, 4096):     # end of file: our owner closed us or died
    pass
os._exit(0)
'''

# PID 1 of a peer ("client") namespace set.
_PEER_INIT = r'''
import json, os, signal, socket, subprocess, sys

cfg = json.loads(sys.argv[1])

def sh(*argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stderr.write("peer init: %s failed (%d): %s\n"
                         % (" ".join(argv), r.returncode, r.stdout.strip()))
        sys.exit(1)

outer_pid = int(os.readlink("/proc/self"))
sh("mount", "--make-rprivate", "/")
sh("mount", "-o", "remount,bind,ro", "/")
sh("mount", "-t", "tmpfs", "-o", "mode=1777,size=256m,nosuid,nodev", "mw-peer-tmp", "/tmp")
sh("ip", "link", "set", "lo", "up")
socket.sethostname(cfg["hostname"])
sys.stdout.write("READY %d\n" % outer_pid)
sys.stdout.flush()
devnull = os.open("/dev/null", os.O_RDWR)
os.dup2(devnull, 1)
os.dup2(devnull, 2)

def reap(*_):
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
signal.signal(signal.SIGINT, lambda *_: os._exit(0))
reap()
while os.read(0, 4096):
    pass
os._exit(0)
'''

# Enters the namespaces and root of a running init, then runs a command as
# its child.  argv[1] is a JSON spec: pid, ns, cwd, argv, env.
_ENTER = r'''
import ctypes, json, os, signal, sys

spec = json.loads(sys.argv[1])

def die(msg, code):
    try:
        os.write(2, ("throwaway: %s\n" % msg).encode())
    finally:
        os._exit(code)

libc = ctypes.CDLL(None, use_errno=True)
pid = spec["pid"]
try:
    nsfds = [os.open("/proc/%d/ns/%s" % (pid, n), os.O_RDONLY | os.O_CLOEXEC)
             for n in spec["ns"]]
    rootfd = os.open("/proc/%d/root" % pid, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
except OSError as e:
    die("the throwaway host is gone (%s)" % e, 125)
for fd in nsfds:
    if libc.setns(fd, 0) != 0:
        die("setns: " + os.strerror(ctypes.get_errno()), 125)
    os.close(fd)
os.fchdir(rootfd)
os.chroot(".")
os.close(rootfd)
try:
    os.chdir(spec["cwd"])
except OSError as e:
    die("cannot chdir to %s: %s" % (spec["cwd"], e.strerror), 125)

argv, env = spec["argv"], spec["env"]
expected_ppid = 0 if "pid" in spec["ns"] else os.getpid()
FORWARD = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
           signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT,
           signal.SIGALRM)
child = os.fork()
if child == 0:
    try:
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)      # PR_SET_PDEATHSIG
        if os.getppid() != expected_ppid:          # helper died already
            os._exit(137)
        os.setsid()
        for s in FORWARD + (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(s, signal.SIG_DFL)
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        try:
            os.write(2, ("throwaway: %s: %s\n" % (argv[0], e.strerror)).encode())
        finally:
            os._exit(127 if e.errno == 2 else 126)
    except BaseException:
        os._exit(127)

def forward(signum, frame):
    try:
        os.kill(child, signum)
    except ProcessLookupError:
        pass

for s in FORWARD:
    signal.signal(s, forward)
while True:
    try:
        _, status = os.waitpid(child, 0)
        break
    except InterruptedError:
        continue
    except ChildProcessError:
        os._exit(255)
if os.WIFEXITED(status):
    os._exit(os.WEXITSTATUS(status))
sig = os.WTERMSIG(status)
try:
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
except (OSError, ValueError):
    pass
os.kill(os.getpid(), sig)
os._exit(128 + sig)
'''


# --------------------------------------------------------------------------
# Helpers on this side.
# --------------------------------------------------------------------------

def _python_cmd(source: str, arg: object) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", source, json.dumps(arg)]


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, session) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[3])


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _start_init(source: str, cfg: dict, namespaces: Sequence[str]) -> tuple[subprocess.Popen, int]:
    """Start an init under unshare; return (unshare Popen, init's outer pid)."""
    argv = ["unshare", *(f"--{n}" for n in namespaces), "--fork", "--kill-child",
            "--propagation", "private", "--", *_python_cmd(source, cfg)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, close_fds=True)
    line = b""
    deadline = time.monotonic() + _START_TIMEOUT
    try:
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                raise ThrowawayError("the throwaway init did not get ready in time")
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                break
            line += chunk
        if not line.startswith(b"READY "):
            proc.stdin.close()
            try:
                _, err = proc.communicate(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            raise ThrowawayError("could not set up the throwaway: "
                                 + (err or b"").decode(errors="replace").strip())
        return proc, int(line.split()[1])
    except BaseException:
        _stop_init(proc, None)
        raise


def _stop_init(proc: subprocess.Popen, init_pid: int | None) -> None:
    """Make the init exit (its namespaces die with it) and reap unshare."""
    for f in (proc.stdin,):
        try:
            if f:
                f.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        if init_pid is not None:
            _kill(init_pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
    for f in (proc.stdout, proc.stderr):
        try:
            if f:
                f.close()
        except OSError:
            pass


def _check_test_net(*addrs: str) -> None:
    for a in addrs:
        ip = ipaddress.ip_address(a)
        if ip not in TEST_NET_2 or ip in (TEST_NET_2.network_address, TEST_NET_2.broadcast_address):
            raise ValueError(f"{a} is not a host address in {TEST_NET_2} (TEST-NET-2)")


class HostProcess(subprocess.Popen):
    """A command inside a throwaway host (or a peer).

    ``pid`` is the helper outside; killing it (even with SIGKILL) kills the
    command inside.  :meth:`kill_all` also kills everything the command
    started in its session (daemons that left the session survive).
    """

    def inner_pid(self) -> int | None:
        """The command's pid as seen inside its PID namespace."""
        for child in _children(self.pid):
            try:
                with open(f"/proc/{child}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            return int(line.split()[-1])
            except OSError:
                pass
        return None

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the command, its whole session, then the helper."""
        sessions = set(_children(self.pid))
        if sessions:
            for pid in _all_pids():
                st = _proc_stat(pid)
                if st and st[2] in sessions:
                    _kill(pid, sig)
        if self.returncode is None:
            try:
                self.send_signal(sig)
            except ProcessLookupError:
                pass


class InnerProcess(NamedTuple):
    pid: int            # as seen inside the throwaway
    outer_pid: int      # as seen on this machine
    argv: list[str]


@dataclass
class Peer:
    """A client host: its own network, UTS, PID and mount namespaces."""

    name: str
    host_addr: str
    peer_addr: str
    prefixlen: int
    host_ifname: str        # the veth end inside the throwaway
    peer_ifname: str        # the veth end inside the peer
    init_pid: int = 0
    _proc: subprocess.Popen | None = field(default=None, repr=False)


class ThrowawayHost:
    """A fresh, disposable copy of this machine; see the module docstring.

    :param hostname: the FQDN set in the UTS namespace, ``/etc/hostname`` and
        ``/etc/hosts`` (``127.0.1.1 FQDN SHORT``), so ``hostname -f`` gives it.
    :param size: tmpfs size for everything written to the overlay.
    :param tmp_size, run_size, shm_size: sizes of ``/tmp``, ``/run`` and
        ``/dev/shm`` inside.
    """

    def __init__(self, hostname: str = "mail.example.com", *, size: str = "2g",
                 tmp_size: str = "1g", run_size: str = "256m", shm_size: str = "256m"):
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", hostname):
            raise ValueError(f"bad hostname {hostname!r}")
        self.hostname = hostname
        self._cfg = {"hostname": hostname, "size": size, "tmp_size": tmp_size,
                     "run_size": run_size, "shm_size": shm_size}
        self._proc: subprocess.Popen | None = None
        self._init_pid: int | None = None
        self._pidns: str | None = None
        self._peers: dict[str, Peer] = {}
        self._helpers: list[HostProcess] = []
        self._state = "new"
        self._finalizer = None

    # -- life cycle --------------------------------------------------------

    def start(self) -> "ThrowawayHost":
        if self._state != "new":
            raise ThrowawayError("a ThrowawayHost can be started only once")
        if os.geteuid() != 0:
            raise ThrowawayError("a throwaway host needs root")
        self._state = "starting"
        try:
            self._proc, self._init_pid = _start_init(
                _HOST_INIT, self._cfg, ("mount", "pid", "net", "uts", "ipc"))
            self._pidns = os.readlink(f"/proc/{self._init_pid}/ns/pid")
        except BaseException:
            self._state = "closed"
            raise
        self._finalizer = weakref.finalize(
            self, ThrowawayHost._teardown, self._proc, self._init_pid, self._peers, self._helpers)
        self._state = "running"
        return self

    def close(self) -> None:
        """Kill everything inside and release all namespaces and mounts."""
        if self._state == "running" and self._finalizer is not None:
            self._state = "closed"
            self._finalizer()
        self._state = "closed"

    def __enter__(self) -> "ThrowawayHost":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _teardown(proc, init_pid, peers, helpers) -> None:
        for peer in list(peers.values()):
            if peer._proc is not None:
                _stop_init(peer._proc, peer.init_pid)
        _stop_init(proc, init_pid)
        # Helpers exit as soon as their command (inside) has been killed.
        for h in helpers:
            try:
                h.wait(timeout=5)
            except subprocess.TimeoutExpired:
                h.kill()
                h.wait()
            for f in (h.stdin, h.stdout, h.stderr):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass
        helpers.clear()

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def init_pid(self) -> int:
        """The throwaway's PID 1, as this machine sees it."""
        self._check()
        return self._init_pid

    def _check(self) -> None:
        if self._state != "running":
            raise ThrowawayError(f"the throwaway host is {self._state}, not running")

    # -- files -------------------------------------------------------------

    def path(self, p: str, *, follow_symlinks: bool = True) -> Path:
        """Where the throwaway's file ``p`` can be read or written from here.

        Symbolic links are resolved inside the throwaway (an absolute link
        such as ``/var/run -> /run`` must not lead to this machine's files).
        With ``follow_symlinks=False`` a link in the last component is left
        as is (for ``lstat``/``readlink``).  The path is valid only while the
        host runs.
        """
        self._check()
        if not p.startswith("/"):
            raise ValueError(f"not an absolute path: {p!r}")
        base = f"/proc/{self._init_pid}/root"
        todo = [c for c in p.split("/") if c]
        done: list[str] = []
        links = 0
        while todo:
            c = todo.pop(0)
            if c == ".":
                continue
            if c == "..":
                if done:
                    done.pop()
                continue
            candidate = done + [c]
            if not todo and not follow_symlinks:
                done = candidate
                break
            try:
                target = os.readlink(base + "/" + "/".join(candidate))
            except OSError:          # not a link, or does not exist (yet)
                done = candidate
                continue
            links += 1
            if links > 40:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), p)
            if target.startswith("/"):
                done = []
            todo = [t for t in target.split("/") if t] + todo
        return Path(base + ("/" + "/".join(done) if done else ""))

    # -- commands ----------------------------------------------------------

    def base_env(self, **extra: str) -> dict[str, str]:
        """The environment commands get unless ``env=`` changes it."""
        path = _STD_PATH
        pydir = os.path.dirname(sys.executable)
        if pydir and pydir not in path.split(":"):
            path = pydir + ":" + path
        env = {"PATH": path, "HOME": "/root", "USER": "root", "LOGNAME": "root",
               "SHELL": "/bin/sh", "LANG": "C.UTF-8"}
        env.update(extra)
        return env

    def popen(self, args: str | Sequence[str], *, stdin=None, stdout=None, stderr=None,
              env: Mapping[str, str | None] | None = None, cwd: str = "/root",
              text: bool = True, **kwargs) -> HostProcess:
        """Start a command inside the host; ``args`` as a string runs ``/bin/sh -c``."""
        self._check()
        return self._spawn(self._init_pid, _HOST_NAMESPACES, args, cwd, self._env(env),
                           stdin=stdin, stdout=stdout, stderr=stderr, text=text, **kwargs)

    def run(self, args: str | Sequence[str], *, input: str | bytes | None = None,
            timeout: float | None = 120, check: bool = False,
            env: Mapping[str, str | None] | None = None, cwd: str = "/root",
            text: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside the host and capture its output.

        On timeout the command and its whole session are SIGKILLed and
        :class:`subprocess.TimeoutExpired` is raised.
        """
        proc = self.popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, cwd=cwd, text=text)
        return self._finish(proc, input, timeout, check)

    def kill_matching(self, pattern: str, sig: int = signal.SIGKILL) -> list[int]:
        """Signal every process inside whose command line matches the regex
        ``pattern`` (``re.search`` on the space-joined argv).  Returns the
        inner pids signalled."""
        hits = [p for p in self.processes() if re.search(pattern, " ".join(p.argv))]
        for p in hits:
            _kill(p.outer_pid, sig)
        return [p.pid for p in hits]

    def processes(self) -> list[InnerProcess]:
        """The processes inside the host (without its init), zombies included."""
        self._check()
        out = []
        for pid in _all_pids():
            if pid == self._init_pid:
                continue
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") != self._pidns:
                    continue
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
                inner = None
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            inner = int(line.split()[-1])
            except OSError:
                continue
            if inner is not None:
                out.append(InnerProcess(inner, pid, argv))
        return out

    # -- peers -------------------------------------------------------------

    def add_peer(self, name: str = "client", host_addr: str = "198.51.100.1",
                 peer_addr: str = "198.51.100.2", *, prefixlen: int = 24) -> Peer:
        """Start a client host linked to this one by a veth pair.

        The throwaway gets ``host_addr`` on interface ``mw-<name>``, the peer
        ``peer_addr`` on ``eth0``; both must be in 198.51.100.0/24.  With
        ``prefixlen=32`` the link is point-to-point (needed to add several
        peers that share ``host_addr``).
        """
        self._check()
        if name in self._peers:
            raise ValueError(f"peer {name!r} exists already")
        if prefixlen not in (24, 32):
            raise ValueError("prefixlen must be 24 or 32")
        _check_test_net(host_addr, peer_addr)
        if host_addr == peer_addr:
            raise ValueError("host_addr and peer_addr must differ")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,11}", name):
            raise ValueError(f"bad peer name {name!r} (lower case, up to 12 characters)")
        peer = Peer(name, host_addr, peer_addr, prefixlen, f"mw-{name}", "eth0")
        peer._proc, peer.init_pid = _start_init(_PEER_INIT, {"hostname": name},
                                                ("mount", "pid", "net", "uts", "ipc"))
        self._peers[name] = peer
        try:
            def ip_in(pid: int, *cmds: list[str]) -> None:
                for cmd in cmds:
                    r = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "--", "ip", *cmd],
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                       timeout=30)
                    if r.returncode:
                        raise ThrowawayError(f"ip {' '.join(cmd)}: {r.stderr.strip()}")

            if prefixlen == 24:
                host_a, peer_a = [f"{host_addr}/24"], [f"{peer_addr}/24"]
            else:
                host_a, peer_a = [host_addr, "peer", peer_addr], [peer_addr, "peer", host_addr]
            # Created inside the throwaway's network namespace, never in ours.
            ip_in(self._init_pid,
                  ["link", "add", peer.host_ifname, "type", "veth",
                   "peer", "name", peer.peer_ifname, "netns", str(peer.init_pid)],
                  ["addr", "add", *host_a, "dev", peer.host_ifname],
                  ["link", "set", peer.host_ifname, "up"])
            ip_in(peer.init_pid,
                  ["addr", "add", *peer_a, "dev", peer.peer_ifname],
                  ["link", "set", peer.peer_ifname, "up"])
            self._wait_link(peer)
        except BaseException:
            del self._peers[name]
            _stop_init(peer._proc, peer.init_pid)
            raise
        return peer

    def _wait_link(self, peer: Peer) -> None:
        """Wait until both veth ends are up (carrier, no tentative state)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = []
            for pid, ifname in ((self._init_pid, peer.host_ifname), (peer.init_pid, peer.peer_ifname)):
                r = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "--", "ip", "-o", "link",
                                    "show", ifname], capture_output=True, text=True)
                states.append("LOWER_UP" in r.stdout)
            if all(states):
                return
            time.sleep(0.02)
        raise ThrowawayError(f"veth link to peer {peer.name!r} did not come up")

    def peer(self, name: str | None = None) -> Peer:
        self._check()
        if name is None:
            if len(self._peers) != 1:
                raise ThrowawayError(f"name a peer: there are {len(self._peers)}")
            return next(iter(self._peers.values()))
        return self._peers[name]

    def popen_peer(self, args: str | Sequence[str], *, peer: str | None = None, stdin=None,
                   stdout=None, stderr=None, env: Mapping[str, str | None] | None = None,
                   cwd: str = "/tmp", text: bool = True, **kwargs) -> HostProcess:
        """Start a command in a peer; it sees this machine's files read-only
        (with a private ``/tmp``, which is also ``HOME``)."""
        p = self.peer(peer)
        return self._spawn(p.init_pid, _HOST_NAMESPACES, args, cwd,
                           self._env(env, HOME="/tmp"), stdin=stdin, stdout=stdout,
                           stderr=stderr, text=text, **kwargs)

    def run_peer(self, args: str | Sequence[str], *, peer: str | None = None,
                 input: str | bytes | None = None, timeout: float | None = 120,
                 check: bool = False, env: Mapping[str, str | None] | None = None,
                 cwd: str = "/tmp", text: bool = True) -> subprocess.CompletedProcess:
        """Like :meth:`run`, in a peer (the only one unless ``peer`` names one)."""
        proc = self.popen_peer(args, peer=peer,
                               stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=cwd, text=text)
        return self._finish(proc, input, timeout, check)

    # -- internals ---------------------------------------------------------

    def _env(self, env: Mapping[str, str | None] | None, **extra: str) -> dict[str, str]:
        merged = self.base_env(**extra)
        for k, v in (env or {}).items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return merged

    def _spawn(self, target_pid: int, namespaces, args, cwd, env, **kwargs) -> HostProcess:
        argv = ["/bin/sh", "-c", args] if isinstance(args, str) else [os.fspath(a) for a in args]
        if not argv:
            raise ValueError("empty command")
        spec = {"pid": target_pid, "ns": list(namespaces), "cwd": cwd, "argv": argv, "env": env}
        proc = HostProcess(_python_cmd(_ENTER, spec), close_fds=True, **kwargs)
        proc.args = args
        self._helpers[:] = [h for h in self._helpers if h.poll() is None]
        self._helpers.append(proc)
        return proc

    @staticmethod
    def _finish(proc: HostProcess, input, timeout, check) -> subprocess.CompletedProcess:
        with proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                proc.kill_all(signal.SIGKILL)
                try:
                    out, err = proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    # Something that left the session holds our pipes.
                    out, err = exc.output, exc.stderr
                    proc.kill()
                raise subprocess.TimeoutExpired(proc.args, timeout, output=out, stderr=err) from None
            except BaseException:
                proc.kill_all(signal.SIGKILL)
                raise
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check:
            result.check_returncode()
        return result
