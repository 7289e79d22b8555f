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
  small Python *init*, PID 1 of the new PID namespace.  Before it chroots,
  the init mounts, in its private mount namespace only:

  - a tmpfs (``size``) holding the overlay's upper and work directories;
  - an overlayfs whose lower layer is this machine's ``/``: everything
    installed here (packages, ``/work/main``, site-packages) is visible, and
    every write lands in the tmpfs;
  - a fresh ``/proc`` (``/proc/sys`` read-only except ``/proc/sys/net``), a
    read-only ``/sys``, a fresh ``/dev`` tmpfs with the usual character
    devices, its own ``devpts`` and ``/dev/shm``, fresh tmpfs on ``/run``
    and ``/tmp``;

  brings ``lo`` up, sets the hostname, chroots into the overlay and writes
  ``/etc/hostname`` and ``/etc/hosts`` there.
* The init then serves a control socket (outside the chroot, so nothing
  inside sees it).  :meth:`ThrowawayHost.popen` starts a tiny helper process
  -- the :class:`subprocess.Popen` you get back -- which hands its stdin,
  stdout and stderr to the init; the init forks the command (new session,
  cwd ``/root``, clean environment) and the helper relays the exit status.
  Signals sent to the helper (TERM, INT, HUP, QUIT, USR1, USR2, WINCH, CONT,
  ALRM) are forwarded; if the helper dies -- ``kill()``, even a raw
  ``os.kill(pid, SIGKILL)`` -- the init SIGKILLs the command.  Commands are
  children of the init, so it reaps them and every orphaned daemon.
* The init also reads its stdin, a pipe held by this process.  When the host
  is closed -- or this Python process dies -- it sees end of file and
  exits; the kernel SIGKILLs everything left in the PID namespace, and the
  mount and network namespaces, with all their tmpfs and overlay mounts,
  vanish with their last process.  Nothing is ever mounted in, or written
  to, this machine's own mount namespace, network namespace or ``/etc``.
* :meth:`ThrowawayHost.add_peer` starts a second, smaller set of namespaces
  (a client: network, UTS, PID, mount, IPC) whose ``/`` is this machine's
  root re-mounted read-only, with a private tmpfs ``/tmp``, linked to the
  host by a veth pair numbered in TEST-NET-2 (198.51.100.0/24) only.  The
  veth pair is created inside the throwaway's network namespace.

Traps worth knowing:

* :meth:`ThrowawayHost.path` resolves symbolic links *inside* the
  throwaway: ``/proc/PID/root/var/run/...`` would otherwise follow Debian's
  absolute ``/var/run -> /run`` link to this machine's own ``/run``.
* Commands get a small, clean environment (:meth:`ThrowawayHost.base_env`);
  ``PATH`` starts with the directory of the running interpreter, so
  ``python3`` inside is the interpreter running the tests, with its
  site-packages.  ``env=`` is merged over it; ``None`` removes a variable.
* A command that cannot be executed gives exit status 127 (126 if not
  executable) and a message on its stderr, like a shell -- not an
  ``OSError`` as :mod:`subprocess` would raise.
* Daemons may keep the stdout/stderr they inherited: ``service dovecot
  start`` leaves Dovecot's processes holding them.  ``run()`` therefore
  captures into memory files (``memfd``) rather than pipes and returns when
  the command exits; with ``popen(stdout=PIPE)`` reading to end of file
  would wait for the daemons to die.
* Nothing inside can reach the network beyond the peers: install packages on
  the real machine before the test.
"""

from __future__ import annotations

import errno
import functools
import io
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "TEST_NET_2",
    "HostProcess",
    "InnerProcess",
    "Peer",
    "ThrowawayError",
    "ThrowawayHost",
]

#: The only addresses peers may use (RFC 5737 TEST-NET-2).
TEST_NET_2 = ipaddress.ip_network("198.51.100.0/24")

_STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NAMESPACES = ("mount", "pid", "net", "uts", "ipc")
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 15.0
_CTL = "/tmp/.mw-throwaway-ctl"      # in the init's mount namespace, outside any chroot


class ThrowawayError(RuntimeError):
    """A throwaway host could not be set up or used."""


class HostGone(ThrowawayError):
    """A throwaway host died under a command: its init ended (the message says how)."""


def _said_gone(message: str) -> str:
    """`message`, also kept in $MAILWIZARD_HOST_DEATHS (the end-to-end tier prints them at its end, so that a
    host's death is seen even where a test made its host again)."""
    path = os.environ.get("MAILWIZARD_HOST_DEATHS")
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        with open(path, "a") as f:
            f.write(f"{test}: {message}".replace("\n", " ") + "\n")
    return message


# --------------------------------------------------------------------------
# Code that runs in other processes.
# --------------------------------------------------------------------------

_INIT_COMMON = r'''
import array, json, os, selectors, signal, socket, stat, subprocess, sys

cfg = json.loads(sys.argv[-1])
os.umask(0o022)

def sh(*argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stderr.write("throwaway init: %s failed (%d): %s\n"
                         % (" ".join(argv), r.returncode, r.stdout.strip()))
        sys.exit(1)

# Our pid as this machine sees it (/proc is still this machine's here).
outer_pid = int(os.readlink("/proc/self"))
sh("mount", "--make-rprivate", "/")
'''

# Mounts, then chroots into, the host's new root.
_KEEP = r'''
# Paths of this run that a fresh /tmp or /run would hide (a checkout or a
# virtualenv under /tmp, as CI may have): held open now, bound back later.
KEEP = []
for p in cfg.get("keep", []):
    try:
        KEEP.append((p, os.open(p, os.O_PATH | os.O_DIRECTORY)))
    except OSError:
        pass


def bind_kept(root):
    for p, fd in KEEP:
        os.makedirs(root + p, exist_ok=True)
        # the fd is handed to mount itself: /proc here is the outer one, where our pid differs; and mount
        # must not canonicalize it to its path name, which a fresh /tmp may already hide (the peer's)
        r = subprocess.run(["mount", "--no-canonicalize", "--rbind", "/proc/self/fd/%d" % fd, root + p],
                           pass_fds=(fd,),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode:
            die("mount --rbind %s failed: %s" % (p, r.stdout.decode(errors="replace")), 1)
        sh("mount", "-o", "remount,bind,ro", root + p)

'''

_HOST_SETUP = _KEEP + r'''
S = "/tmp"
R = S + "/root"
sh("mount", "-t", "tmpfs", "-o", "mode=0700,size=" + cfg["size"], "mw-throwaway", S)
for d in ("upper", "work", "root"):
    os.mkdir(S + "/" + d, 0o755)
# Layers (prepared trees, e.g. packages installed once for many hosts) lie over this machine's /.
sh("mount", "-t", "overlay", "-o",
   "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (":".join(cfg.get("layers", []) + ["/"]), S, S),
   "mw-throwaway", R)

# An overlay does not show the mounts under its lower directory: give every
# other real file system mounted on this machine (a checkout on its own
# volume, say) an overlay of its own, shallowest first.
PSEUDO = {"proc", "sysfs", "cgroup", "cgroup2", "devtmpfs", "devpts", "mqueue", "debugfs",
          "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs",
          "binfmt_misc", "autofs", "efivarfs", "nsfs", "rpc_pipefs", "selinuxfs"}
submounts = {}
with open("/proc/self/mountinfo") as f:
    for line in f:
        left, right = line.split(" - ", 1)
        mp = left.split()[4]
        mp = __import__("re").sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), mp)
        if (mp == "/" or right.split()[0] in PSEUDO or "," in mp or ":" in mp
                or any(mp == p or mp.startswith(p + "/") for p in ("/proc", "/sys", "/dev", "/run", "/tmp"))):
            continue
        submounts[mp] = True
for i, mp in enumerate(sorted(submounts, key=lambda m: m.count("/"))):
    if not (os.path.isdir(mp) and not os.path.islink(R + mp) and os.path.isdir(R + mp)):
        continue
    up, wk = "%s/upper.%d" % (S, i), "%s/work.%d" % (S, i)
    os.mkdir(up)
    os.mkdir(wk)
    r = subprocess.run(["mount", "-t", "overlay", "-o",
                        "lowerdir=%s,upperdir=%s,workdir=%s" % (mp, up, wk), "mw-throwaway", R + mp],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode:                   # e.g. a lower file system overlayfs refuses
        sh("mount", "--rbind", mp, R + mp)
        sh("mount", "-o", "remount,bind,ro", R + mp)

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
sh("mount", "-t", "tmpfs", "-o", "mode=1777,size=%s,nosuid,nodev" % cfg["shm_size"],
   "shm", R + "/dev/shm")
for src, dst in (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"),
                 ("/proc/self/fd/1", "stdout"), ("/proc/self/fd/2", "stderr")):
    os.symlink(src, R + "/dev/" + dst)

sh("mount", "-t", "tmpfs", "-o", "mode=0755,size=%s,nosuid,nodev" % cfg["run_size"],
   "mw-run", R + "/run")
os.mkdir(R + "/run/lock")
os.chmod(R + "/run/lock", 0o1777)
sh("mount", "-t", "tmpfs", "-o", "mode=1777,size=%s,nosuid,nodev" % cfg["tmp_size"],
   "mw-tmp", R + "/tmp")
bind_kept(R)

sh("ip", "link", "set", "lo", "up")
socket.sethostname(cfg["hostname"])

listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
listener.bind(cfg["ctl"])
os.chmod(cfg["ctl"], 0o600)

os.chroot(R)
os.chdir("/")
# Written after the chroot, so that a symlinked /etc/hosts cannot lead out.
fqdn = cfg["hostname"]
short = fqdn.split(".")[0]
names = fqdn if short == fqdn else fqdn + " " + short
with open("/etc/hostname", "w") as f:
    f.write(fqdn + "\n")
with open("/etc/hosts", "w") as f:
    f.write("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" % names)
'''

# A client: this machine's files read-only, a private /tmp.
_PEER_SETUP = _KEEP + r'''
sh("mount", "-o", "remount,bind,ro", "/")
sh("mount", "-t", "tmpfs", "-o", "mode=1777,size=256m,nosuid,nodev", "mw-peer-tmp", "/tmp")
bind_kept("")
sh("ip", "link", "set", "lo", "up")
socket.sethostname(cfg["hostname"])
listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
listener.bind(cfg["ctl"])
os.chmod(cfg["ctl"], 0o600)
os.chdir("/")
'''

# PID 1's service loop: spawn commands for helpers, reap everything, and exit
# (killing the whole PID namespace) when stdin reaches end of file.
_INIT_LOOP = r'''
sys.stdout.write("READY %d\n" % outer_pid)
sys.stdout.flush()
devnull = os.open("/dev/null", os.O_RDWR)
os.dup2(devnull, 1)
os.close(devnull)
# stderr stays the pipe this machine holds: what the init says before it dies is read back there.

ALL_SIGNALS = [s for s in range(1, signal.NSIG)
               if s not in (signal.SIGKILL, signal.SIGSTOP)]
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
          signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)

listener.listen(64)
listener.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ, "life")
sel.register(wake_r, selectors.EVENT_READ, "wake")
sel.register(listener, selectors.EVENT_READ, "accept")
owner = {}      # connection -> pid of its command (None before the spawn)
running = {}    # pid -> connection

def send(conn, obj):
    try:
        conn.send(json.dumps(obj).encode())
    except OSError:
        pass

def drop(conn):
    pid = owner.pop(conn, None)
    if pid is not None and running.pop(pid, None) is conn:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        sel.unregister(conn)
    except (KeyError, ValueError):
        pass
    conn.close()

def spawn(conn, req, fds):
    try:
        errr, errw = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
        except OSError:
            os.close(errr)
            os.close(errw)
            raise
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    if pid == 0:
        try:
            os.setsid()
            for i, fd in enumerate(fds):
                os.dup2(fd, i)
            for fd in fds:
                if fd > 2 and fd not in (0, 1, 2):
                    os.close(fd)
            for s in ALL_SIGNALS:
                try:
                    signal.signal(s, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            os.chdir(req["cwd"])
            os.execvpe(req["argv"][0], req["argv"], req["env"])
        except OSError as e:
            what = req["cwd"] if e.filename == req["cwd"] else req["argv"][0]
            os.write(errw, json.dumps([e.errno, "%s: %s" % (what, e.strerror)]).encode())
        except BaseException as e:
            os.write(errw, json.dumps([0, repr(e)]).encode())
        os._exit(127)
    os.close(errw)
    for fd in fds:
        os.close(fd)
    err = b""
    while True:
        chunk = os.read(errr, 4096)
        if not chunk:
            break
        err += chunk
    os.close(errr)
    if err:
        os.waitpid(pid, 0)
        no, msg = json.loads(err)
        send(conn, {"error": msg, "code": 127 if no == 2 else 126})
        return
    owner[conn] = pid
    running[pid] = conn
    send(conn, {"pid": pid})

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = running.pop(pid, None)
        if conn is not None:
            owner[conn] = None
            send(conn, {"status": status})

def receive(conn):
    fds = array.array("i")
    try:
        data, anc, flags, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * fds.itemsize))
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        data, anc = b"", []
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if not data:
        for fd in fds:
            os.close(fd)
        drop(conn)
        return
    try:
        req = json.loads(data)
    except ValueError:
        req = {}
    op = req.get("op")
    if op == "spawn" and conn not in owner and len(fds) == 3:
        spawn(conn, req, list(fds))
        return
    for fd in fds:
        os.close(fd)
    if op == "signal":
        pid = owner.get(conn)
        if pid is not None and running.get(pid) is conn:
            try:
                os.kill(pid, int(req["sig"]))
            except (ProcessLookupError, ValueError):
                pass
    else:
        drop(conn)

def serve(tag):
    if tag == "life":
        if not os.read(0, 4096):
            os._exit(0)
    elif tag == "wake":
        try:
            while os.read(wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        reap()
    elif tag == "accept":
        try:
            conn, _ = listener.accept()
        except OSError:         # the caller gave up, or no descriptor left: it is told by its connect
            return
        conn.setblocking(False)
        sel.register(conn, selectors.EVENT_READ, conn)
    else:
        try:
            receive(tag)
        except OSError as e:    # e.g. fork or pipe refused under load: that command fails, the host lives
            send(tag, {"error": "the throwaway init could not start it: %s" % e, "code": 126})
            drop(tag)

reap()
while True:
    for key, _ in sel.select():
        try:
            serve(key.data)
        except Exception:       # never a silent death of the whole host: say why, and serve on
            import traceback
            try:
                os.write(2, traceback.format_exc()[-4000:].encode())
            except OSError:
                pass
'''

# The helper behind each HostProcess: hands its stdio to the init, forwards
# signals, and exits the way the command exits.
_HELPER = r'''
import array, json, os, signal, socket, sys

spec = json.loads(sys.argv[1])

def die(msg, code):
    try:
        os.write(2, ("throwaway: %s\n" % msg).encode())
    finally:
        os._exit(code)

def exit_like(status):
    if os.WIFEXITED(status):
        os._exit(os.WEXITSTATUS(status))
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else signal.SIGKILL
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)

for fd in (0, 1, 2):
    try:
        os.fstat(fd)
    except OSError:
        os.dup2(os.open("/dev/null", os.O_RDWR), fd)

s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(spec["ctl"])
except OSError as e:
    die("the throwaway host is gone (%s)" % e.strerror, 125)
req = {"op": "spawn", "argv": spec["argv"], "env": spec["env"], "cwd": spec["cwd"]}
s.sendmsg([json.dumps(req).encode()],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
# From now on the command alone holds the pipes.
err = os.dup(2)
null = os.open("/dev/null", os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
os.close(null)

def forward(signum, frame):
    try:
        s.send(json.dumps({"op": "signal", "sig": signum}).encode())
    except OSError:
        pass

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
            signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT, signal.SIGALRM):
    signal.signal(sig, forward)

info = spec.get("info_fd")
while True:
    try:
        data = s.recv(65536)
    except OSError:
        data = b""
    if not data:            # the host is gone: so is the command
        exit_like(signal.SIGKILL)
    msg = json.loads(data)
    if "error" in msg:
        os.write(err, ("throwaway: %s\n" % msg["error"]).encode())
        os._exit(msg["code"])
    if "pid" in msg:
        os.close(err)
        if info is not None:
            try:
                os.write(info, b"%d\n" % msg["pid"])
                os.close(info)
            except OSError:
                pass
            info = None
    if "status" in msg:
        exit_like(msg["status"])
'''


# --------------------------------------------------------------------------
# This side.
# --------------------------------------------------------------------------

def _proc_session(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2:].split()[3])


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _kill(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _processes_in(pidns: str, exclude: int) -> list[InnerProcess]:
    out = []
    for pid in _all_pids():
        if pid == exclude:
            continue
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") != pidns:
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


class _Init:
    """An init started under unshare, and how to reach and stop it."""

    def __init__(self, setup: str, cfg: dict):
        cfg = dict(cfg, ctl=_CTL)
        source_r, source_w = os.pipe()
        # The source comes through a pipe: ps inside shows a short command line.
        argv = ["unshare", *(f"--{n}" for n in _NAMESPACES), "--fork", "--kill-child",
                "--propagation", "private", "--",
                sys.executable, "-I", "-S", "-c", f"exec(open({source_r}).read())",
                "mw-throwaway-init", json.dumps(cfg)]
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, pass_fds=(source_r,))
        except BaseException:
            os.close(source_w)
            raise
        finally:
            os.close(source_r)
        self.pid = None
        try:
            with os.fdopen(source_w, "w") as f:
                f.write(_INIT_COMMON + setup + _INIT_LOOP)
            self.pid = self._wait_ready()
            self.pidns = os.readlink(f"/proc/{self.pid}/ns/pid")
            # The unshare process is in the new mount namespace, unchrooted.
            self.ctl = f"/proc/{self.proc.pid}/root{_CTL}"
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> int:
        line = b""
        deadline = time.monotonic() + _START_TIMEOUT
        out = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise ThrowawayError("the throwaway init did not get ready in time")
            chunk = os.read(out, 1)
            if not chunk:
                break
            line += chunk
        if line.startswith(b"READY "):
            return int(line.split()[1])
        self.proc.stdin.close()
        try:
            _, err = self.proc.communicate(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        raise ThrowawayError("could not set up the throwaway: "
                             + (err or b"").decode(errors="replace").strip())

    def death(self) -> str:
        """Why the init is gone, as far as this machine can tell: its status and its last words."""
        try:
            status = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "its init still runs, but its control socket does not answer"
        said = b""
        err = self.proc.stderr.fileno()
        while select.select([err], [], [], 1)[0]:
            chunk = os.read(err, 65536)
            if not chunk:
                break
            said += chunk
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        return f"its init ended ({how})" + (": " + said.decode(errors="replace").strip()[-2000:] if said else "")

    def stop(self) -> None:
        proc = self.proc
        try:
            proc.stdin.close()          # end of file: the init exits
        except OSError:
            pass
        try:
            proc.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            if self.pid is not None:
                _kill(self.pid, signal.SIGKILL)
            proc.kill()
            proc.wait()
        for f in (proc.stdout, proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def _check_test_net(*addrs: str) -> None:
    for a in addrs:
        ip = ipaddress.ip_address(a)
        if ip not in TEST_NET_2 or ip in (TEST_NET_2.network_address, TEST_NET_2.broadcast_address):
            raise ValueError(f"{a} is not a host address in {TEST_NET_2} (TEST-NET-2)")


class HostProcess(subprocess.Popen):
    """A command inside a throwaway host or a peer.

    ``pid`` is the helper on this machine.  Signals sent to it are forwarded
    to the command; ``kill()`` (or any death of the helper) SIGKILLs the
    command.  :meth:`kill_all` also signals everything else in the
    command's session (daemons that left it are not touched).
    """

    _info_fd: int | None = None
    _inner: int | None = None
    _pidns: str | None = None
    _init: _Init | None = None

    def inner_pid(self, timeout: float = 10) -> int | None:
        """The command's pid inside its PID namespace (None if it never ran)."""
        if self._inner is None and self._info_fd is not None:
            data = b""
            deadline = time.monotonic() + timeout
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._info_fd], [], [], left)[0]:
                    break
                chunk = os.read(self._info_fd, 64)
                if not chunk:
                    break
                data += chunk
            os.close(self._info_fd)
            self._info_fd = None
            if data.endswith(b"\n"):
                self._inner = int(data)
        return self._inner

    def kill_all(self, sig: int = signal.SIGKILL) -> list[int]:
        """Send ``sig`` to the command and every process in its session;
        returns their inner pids."""
        inner = self.inner_pid(timeout=2)
        if inner is None or self._pidns is None:
            return []
        procs = _processes_in(self._pidns, exclude=-1)
        leader = next((p.outer_pid for p in procs if p.pid == inner), None)
        if leader is None:
            return []
        hit = [p for p in procs if _proc_session(p.outer_pid) == leader]
        for p in hit:
            _kill(p.outer_pid, sig)
        return [p.pid for p in hit]

    def __del__(self, *args, **kwargs):
        if self._info_fd is not None:
            try:
                os.close(self._info_fd)
            except OSError:
                pass
            self._info_fd = None
        super().__del__(*args, **kwargs)


class InnerProcess(NamedTuple):
    pid: int            # as seen inside the throwaway
    outer_pid: int      # as seen on this machine
    argv: list[str]


@dataclass
class Peer:
    """A client host: its own network, UTS, PID, mount and IPC namespaces."""

    name: str
    host_addr: str
    peer_addr: str
    prefixlen: int
    host_ifname: str        # the veth end inside the throwaway
    peer_ifname: str        # the veth end inside the peer
    _init: _Init | None = field(default=None, repr=False)

    @property
    def init_pid(self) -> int:
        return self._init.pid


def _kept_paths() -> list[str]:
    """This run's checkout, shared/ and Python environment, where a fresh /tmp or /run would hide them."""
    import site

    repo = Path(__file__).resolve().parents[2]
    candidates = {str(repo), str(repo.parent / "shared"), sys.prefix, *site.getsitepackages()}
    masked = ("/tmp", "/run")
    hidden = sorted(c for c in candidates
                    if os.path.isdir(c) and any(c == m or c.startswith(m + "/") for m in masked))
    # a path inside another kept one comes along with it (rbind)
    return [c for c in hidden if not any(c.startswith(o + "/") for o in hidden)]


class ThrowawayHost:
    """A fresh, disposable copy of this machine; see the module docstring.

    :param hostname: the FQDN set in the UTS namespace, ``/etc/hostname`` and
        ``/etc/hosts`` (``127.0.1.1 FQDN SHORT``), so ``hostname -f`` gives it.
    :param size: tmpfs size for everything written to the overlay.
    :param tmp_size, run_size, shm_size: sizes of ``/tmp``, ``/run`` and
        ``/dev/shm`` inside.
    :param layers: directories laid over this machine's ``/``, topmost first
        (overlayfs lower layers: their whiteouts hide files).  Each must be on
        another file system than ``/`` (overlayfs refuses overlapping layers),
        e.g. under ``/dev/shm``.
    """

    def __init__(self, hostname: str = "mail.example.com", *, size: str = "2g",
                 tmp_size: str = "1g", run_size: str = "256m", shm_size: str = "256m",
                 layers: Sequence[str] = ()):
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", hostname):
            raise ValueError(f"bad hostname {hostname!r}")
        self.hostname = hostname
        self._cfg = {"hostname": hostname, "keep": _kept_paths(), "size": size, "tmp_size": tmp_size,
                     "run_size": run_size, "shm_size": shm_size, "layers": [os.fspath(p) for p in layers]}
        self._init: _Init | None = None
        self._peers: dict[str, Peer] = {}
        self._helpers: list[HostProcess] = []
        self._state = "new"
        self._finalizer = None

    # -- life cycle --------------------------------------------------------

    def start(self) -> ThrowawayHost:
        """Build the host (``with`` does this)."""
        if self._state != "new":
            raise ThrowawayError("a ThrowawayHost can be started only once")
        if os.geteuid() != 0:
            raise ThrowawayError("a throwaway host needs root")
        self._state = "closed"
        self._init = _Init(_HOST_SETUP, self._cfg)
        self._finalizer = weakref.finalize(self, ThrowawayHost._teardown,
                                           self._init, self._peers, self._helpers)
        self._state = "running"
        return self

    def close(self) -> None:
        """Kill everything inside and release all namespaces and mounts."""
        self._state = "closed"
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> ThrowawayHost:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _teardown(init: _Init, peers: dict, helpers: list) -> None:
        for peer in list(peers.values()):
            peer._init.stop()
        init.stop()
        # Each helper exits as soon as its init is gone.
        for h in helpers:
            try:
                h.wait(timeout=5)
            except subprocess.TimeoutExpired:
                h.kill()
                h.wait()
        helpers.clear()

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def init_pid(self) -> int:
        """The throwaway's PID 1, as this machine sees it."""
        self._check()
        return self._init.pid

    @property
    def pidns(self) -> str:
        """The throwaway's PID namespace, as ``/proc/PID/ns/pid`` names it here."""
        self._check()
        return self._init.pidns

    def _check(self) -> None:
        if self._state != "running":
            raise ThrowawayError(f"the throwaway host is {self._state}, not running")

    # -- files -------------------------------------------------------------

    def path(self, p: str, *, follow_symlinks: bool = True) -> Path:
        """Where the throwaway's file ``p`` can be read or written from here.

        Symbolic links are resolved inside the throwaway (an absolute link
        such as ``/var/run -> /run`` must not lead to this machine's files).
        With ``follow_symlinks=False`` a link in the last component is left
        as is (for ``lstat``/``readlink``).  Valid only while the host runs.
        """
        self._check()
        if not p.startswith("/"):
            raise ValueError(f"not an absolute path: {p!r}")
        base = f"/proc/{self._init.pid}/root"
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
        """Start a command inside the host; a string runs with ``/bin/sh -c``.
        ``stdin``/``stdout``/``stderr`` and other keywords are Popen's."""
        self._check()
        return self._spawn(self._init, args, cwd, self._env(env), stdin=stdin, stdout=stdout,
                           stderr=stderr, text=text, **kwargs)

    def run(self, args: str | Sequence[str], *, input: str | bytes | None = None,
            timeout: float | None = 120, check: bool = False,
            env: Mapping[str, str | None] | None = None, cwd: str = "/root",
            text: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside the host and capture its output.

        Output is captured in memory files, not pipes: ``run()`` returns
        when the command exits, even if daemons it started (Dovecot does)
        keep its stdout/stderr open.  On timeout the command and its session
        are SIGKILLed and :class:`subprocess.TimeoutExpired` is raised.
        """
        return self._run(self.popen, args, input=input, timeout=timeout, check=check,
                         env=env, cwd=cwd, text=text)

    def processes(self) -> list[InnerProcess]:
        """The processes inside the host, except its init; zombies included."""
        self._check()
        return _processes_in(self._init.pidns, exclude=self._init.pid)

    def kill_matching(self, pattern: str, sig: int = signal.SIGKILL) -> list[int]:
        """Signal every process inside whose command line (argv joined by
        spaces) matches the regular expression ``pattern``; returns their
        inner pids."""
        hits = [p for p in self.processes() if re.search(pattern, " ".join(p.argv))]
        return [p.pid for p in hits if _kill(p.outer_pid, sig)]

    # -- peers -------------------------------------------------------------

    def add_peer(self, name: str = "client", host_addr: str = "198.51.100.1",
                 peer_addr: str = "198.51.100.2", *, prefixlen: int = 24) -> Peer:
        """Start a client host linked to this one by a veth pair.

        The throwaway gets ``host_addr`` on interface ``mw-<name>``, the peer
        ``peer_addr`` on ``eth0``; both must be in 198.51.100.0/24.  With
        ``prefixlen=32`` the link is point-to-point (for several peers that
        share ``host_addr``).
        """
        self._check()
        if name in self._peers:
            raise ValueError(f"peer {name!r} exists already")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,11}", name):
            raise ValueError(f"bad peer name {name!r} (a-z, 0-9, '-', up to 12 characters)")
        if prefixlen not in (24, 32):
            raise ValueError("prefixlen must be 24 or 32")
        _check_test_net(host_addr, peer_addr)
        if host_addr == peer_addr:
            raise ValueError("host_addr and peer_addr must differ")
        peer = Peer(name, host_addr, peer_addr, prefixlen, f"mw-{name}", "eth0")
        peer._init = _Init(_PEER_SETUP, {"hostname": name, "keep": _kept_paths()})
        self._peers[name] = peer
        try:
            if prefixlen == 24:
                host_a, peer_a = [f"{host_addr}/24"], [f"{peer_addr}/24"]
            else:
                host_a, peer_a = [host_addr, "peer", peer_addr], [peer_addr, "peer", host_addr]
            # Created inside the throwaway's network namespace, never in ours.
            self._ip(self._init.pid,
                     ["link", "add", peer.host_ifname, "type", "veth",
                      "peer", "name", peer.peer_ifname, "netns", str(peer.init_pid)],
                     ["addr", "add", *host_a, "dev", peer.host_ifname],
                     ["link", "set", peer.host_ifname, "up"])
            self._ip(peer.init_pid,
                     ["addr", "add", *peer_a, "dev", peer.peer_ifname],
                     ["link", "set", peer.peer_ifname, "up"])
            self._wait_link(peer)
        except BaseException:
            del self._peers[name]
            peer._init.stop()
            raise
        return peer

    @staticmethod
    def _ip(pid: int, *cmds: list[str]) -> list[str]:
        outs = []
        for cmd in cmds:
            r = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "--", "ip", *cmd],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=30)
            if r.returncode:
                raise ThrowawayError(f"ip {' '.join(cmd)}: {r.stderr.strip()}")
            outs.append(r.stdout)
        return outs

    def _wait_link(self, peer: Peer) -> None:
        deadline = time.monotonic() + 10
        while True:
            (a,) = self._ip(self._init.pid, ["-o", "link", "show", peer.host_ifname])
            (b,) = self._ip(peer.init_pid, ["-o", "link", "show", peer.peer_ifname])
            if "LOWER_UP" in a and "LOWER_UP" in b:
                return
            if time.monotonic() > deadline:
                raise ThrowawayError(f"the veth link to peer {peer.name!r} did not come up")
            time.sleep(0.02)

    def link(self, other: ThrowawayHost, host_addr: str = "198.51.100.11",
             other_addr: str = "198.51.100.12", *, ifname: str = "mw-link") -> None:
        """Link this throwaway host to ``other`` by a veth pair: two servers that reach each other.

        This host gets ``host_addr``/24 and ``other`` gets ``other_addr``/24 on
        an interface called ``ifname`` on both sides; both addresses must be in
        198.51.100.0/24.  Each host's name (and its first label) goes into both
        hosts' ``/etc/hosts``, so ``server2.example.com`` resolves on server1
        and the other way round.  The pair goes when either host closes.
        """
        self._check()
        other._check()
        if other is self:
            raise ValueError("a host cannot be linked to itself")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,14}", ifname):
            raise ValueError(f"bad interface name {ifname!r}")
        _check_test_net(host_addr, other_addr)
        if host_addr == other_addr:
            raise ValueError("host_addr and other_addr must differ")
        # Created inside this throwaway's network namespace, its peer end moved into the other's.
        self._ip(self._init.pid,
                 ["link", "add", ifname, "type", "veth", "peer", "name", ifname, "netns", str(other.init_pid)],
                 ["addr", "add", f"{host_addr}/24", "dev", ifname], ["link", "set", ifname, "up"])
        self._ip(other.init_pid, ["addr", "add", f"{other_addr}/24", "dev", ifname], ["link", "set", ifname, "up"])
        deadline = time.monotonic() + 10
        while not all("LOWER_UP" in self._ip(pid, ["-o", "link", "show", ifname])[0]
                      for pid in (self.init_pid, other.init_pid)):
            if time.monotonic() > deadline:
                raise ThrowawayError(f"the veth link {ifname} between the two hosts did not come up")
            time.sleep(0.02)
        lines = "".join(f"{addr}\t{name} {name.split('.')[0]}\n" if "." in name else f"{addr}\t{name}\n"
                        for addr, name in ((host_addr, self.hostname), (other_addr, other.hostname)))
        for host in (self, other):
            with open(host.path("/etc/hosts"), "a") as f:
                f.write(lines)

    def peer(self, name: str | None = None) -> Peer:
        """The peer called ``name``, or the only one."""
        self._check()
        if name is None:
            if len(self._peers) != 1:
                raise ThrowawayError(f"name the peer: there are {len(self._peers)}")
            return next(iter(self._peers.values()))
        return self._peers[name]

    def popen_peer(self, args: str | Sequence[str], *, peer: str | None = None, stdin=None,
                   stdout=None, stderr=None, env: Mapping[str, str | None] | None = None,
                   cwd: str = "/tmp", text: bool = True, **kwargs) -> HostProcess:
        """Start a command in a peer.  It sees this machine's files read-only,
        with a private ``/tmp`` (also ``HOME``)."""
        p = self.peer(peer)
        return self._spawn(p._init, args, cwd, self._env(env, HOME="/tmp"), stdin=stdin,
                           stdout=stdout, stderr=stderr, text=text, **kwargs)

    def run_peer(self, args: str | Sequence[str], *, peer: str | None = None,
                 input: str | bytes | None = None, timeout: float | None = 120,
                 check: bool = False, env: Mapping[str, str | None] | None = None,
                 cwd: str = "/tmp", text: bool = True) -> subprocess.CompletedProcess:
        """Like :meth:`run`, in a peer (the only one unless ``peer`` names one)."""
        return self._run(functools.partial(self.popen_peer, peer=peer), args, input=input,
                         timeout=timeout, check=check, env=env, cwd=cwd, text=text)

    # -- internals ---------------------------------------------------------

    def _env(self, env: Mapping[str, str | None] | None, **extra: str) -> dict[str, str]:
        merged = self.base_env(**extra)
        for k, v in (env or {}).items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return merged

    def _spawn(self, init: _Init, args, cwd, env, **kwargs) -> HostProcess:
        argv = ["/bin/sh", "-c", args] if isinstance(args, str) else [os.fspath(a) for a in args]
        if not argv:
            raise ValueError("empty command")
        info_r, info_w = os.pipe()
        spec = {"ctl": init.ctl, "argv": argv, "env": env, "cwd": cwd, "info_fd": info_w}
        try:
            proc = HostProcess([sys.executable, "-I", "-S", "-c", _HELPER, json.dumps(spec)],
                               pass_fds=(info_w,), **kwargs)
        except BaseException:
            os.close(info_r)
            raise
        finally:
            os.close(info_w)
        proc._info_fd = info_r
        proc._pidns = init.pidns
        proc._init = init
        proc.args = args
        self._helpers[:] = [h for h in self._helpers if h.poll() is None]
        self._helpers.append(proc)
        return proc

    @staticmethod
    def _run(popen, args, *, input, timeout, check, env, cwd, text) -> subprocess.CompletedProcess:
        out_fd = os.memfd_create("mw-throwaway-stdout")
        err_fd = os.memfd_create("mw-throwaway-stderr")
        try:
            if text and isinstance(input, str):
                input = input.encode()
            proc = popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=out_fd, stderr=err_fd, env=env, cwd=cwd, text=False)
            with proc:
                try:
                    proc.communicate(input, timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill_all(signal.SIGKILL)
                    proc.kill()
                    proc.wait()
                    raise subprocess.TimeoutExpired(
                        args, timeout, output=_read_back(out_fd, text),
                        stderr=_read_back(err_fd, text)) from None
                except BaseException:
                    proc.kill_all(signal.SIGKILL)
                    proc.kill()
                    raise
            result = subprocess.CompletedProcess(args, proc.returncode, _read_back(out_fd, text),
                                                 _read_back(err_fd, text))
            if result.returncode == 125 and b"the throwaway host is gone" in _read_back(err_fd, False):
                raise HostGone(_said_gone(f"the throwaway host is gone: {proc._init.death()}"))
        finally:
            os.close(out_fd)
            os.close(err_fd)
        if check:
            result.check_returncode()
        return result


def _read_back(fd: int, text: bool) -> str | bytes:
    """Everything written so far to a memory file, as subprocess would give it."""
    chunks = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    data = b"".join(chunks)
    if not text:
        return data
    return io.TextIOWrapper(io.BytesIO(data)).read()
