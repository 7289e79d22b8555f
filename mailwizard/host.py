"""The machine being configured: run commands, read and write files, learn facts.

`Host` is the real machine. The simulated host that `--platform` and the tests
use is a `Host` too, in its own package (mailwizard/simulated/): the product asks a
host what it can do (`runs_real_tools`, `can_probe_network`, `command_path`),
never which kind of host it is.

Commands are always argv lists run without a shell: nothing typed by an
administrator ever becomes shell syntax.
"""

from __future__ import annotations

import glob
import grp
import os
import posixpath
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LineSink = Callable[[str], object]  # whatever it returns is ignored
TMP_SUFFIX = ".mailwizard-tmp"
# how far back Host.age dates a file: Postfix rereads a main.cf-style file while its mtime is within
# about a second of the clock (util/dict.c, dict_load_file_xt)
COOL_DOWN_S = 3


@dataclass
class Result:
    argv: list[str]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class FileMeta:
    mode: int
    uid: int
    gid: int
    is_dir: bool = False


class CommandFailed(Exception):
    def __init__(self, result: Result):
        self.result = result
        tail = "\n".join(result.output.strip().splitlines()[-5:])
        super().__init__(f"`{' '.join(result.argv)}` exited with {result.returncode}"
                         + (f":\n{tail}" if tail else ""))


def _stream(proc: subprocess.Popen, on_line: LineSink | None, timeout: float | None) -> str:
    """Collect a process's output until it exits (and its buffered output is read)."""
    import select
    import time

    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    pending = b""
    deadline = None if timeout is None else time.monotonic() + timeout
    exited_at = None
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        data = b""
        if ready:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                data = b""
            if data == b"" and ready:
                break  # end of output: every writer has closed it
            chunks.append(data)
            pending += data
            *lines, pending = pending.split(b"\n")
            if on_line:
                for line in lines:
                    on_line(line.decode("utf-8", "replace"))
        if proc.poll() is not None:
            exited_at = exited_at or time.monotonic()
            if not data and time.monotonic() - exited_at > 0.2:
                break  # exited; a daemon it started may hold the output open
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            break
    if pending and on_line:
        on_line(pending.decode("utf-8", "replace"))
    proc.stdout.close()
    proc.wait()
    return b"".join(chunks).decode("utf-8", "replace")


def readable_text(host: Host, path: str) -> str | None:
    """A file's text, or None when it is missing or this user may not read it (a --dry-run without root):
    what reading a configured host back (existing.py and the steps' read_back) makes do with."""
    try:
        return host.read_text(path)
    except OSError:
        return None


class Host:
    """The local machine, rooted at `root` (normally /)."""

    durable = True  # fsync what is written; a simulated host's files vanish with it, so it skips that
    before_rename: Callable[[str], None] | None = None  # the interruption harness's kill point (engine.py)

    # --- what this host can do -------------------------------------------------
    # The product asks a host these, never which kind of host it is; the simulated host
    # (mailwizard/simulated/) answers False.

    runs_real_tools: bool = True
    """Its commands are the real programs, run on this machine: what `doveconf -n`, `postconf` or
    `postfix check` say is the tool's own verdict on a configuration, and they can be pointed at a copy
    in this machine's temporary directory. False where the commands are stand-ins that keep the host's
    state consistent but judge nothing (a configuration they would refuse is not noticed)."""

    can_probe_network: bool = True
    """Its servers run and can be reached from this process: the ports they listen on, a TLS handshake
    with 127.0.0.1, its LDAP and SQL servers, a SASL port, the DNS records published for it. False where
    nothing of it runs (a probe would reach the machine running the simulation instead): such a check
    is reported as not checked (steps.not_checkable), never as passed."""

    def __init__(self, root: str | Path = "/"):
        self.root = Path(root)

    # --- paths -------------------------------------------------------------
    def real(self, path: str) -> Path:
        """The path on this machine that holds the host's `path`."""
        if str(self.root) == "/":
            return Path(path)
        return self.root / path.lstrip("/")

    def command_path(self, path: str) -> str:
        """`path` as this host's commands must name it: its place on this machine, where they run."""
        return str(self.real(path))

    # --- commands ----------------------------------------------------------
    def run(self, argv: list[str], *, input: str | None = None,
            env: dict[str, str] | None = None, on_line: LineSink | None = None,
            check: bool = False, timeout: float | None = None) -> Result:
        """Run argv (no shell), streaming each output line to on_line.

        The command is finished when it exits, not when its output closes: a
        daemon started by `service x start` keeps the inherited output open
        for as long as it runs, so after the exit only what is already
        buffered is read.
        """
        full_env = dict(os.environ)
        full_env.setdefault("LC_ALL", "C")
        if env:
            full_env.update(env)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env)
        except (FileNotFoundError, PermissionError) as exc:
            result = Result(list(argv), 127, f"{argv[0]}: {exc.strerror}")
            if check:
                raise CommandFailed(result) from None
            return result
        if input is not None:
            assert proc.stdin is not None
            try:
                proc.stdin.write(input.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
        output = _stream(proc, on_line, timeout)
        result = Result(list(argv), proc.returncode, output)
        if check and proc.returncode != 0:
            raise CommandFailed(result)
        return result

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    # --- files -------------------------------------------------------------
    def read(self, path: str) -> bytes | None:
        """The bytes of a regular file (None when absent or a directory); a FIFO or a device raises
        safe_read.UnsafeFile (an OSError) instead of blocking or reading without end."""
        from mailwizard.safe_read import MAX_HOST_FILE, UnsafeFile, read_regular

        try:
            return read_regular(self.real(path), MAX_HOST_FILE, shown=path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except UnsafeFile:
            if self.real(path).is_dir():
                return None
            raise

    def read_text(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.real(path))

    def stat(self, path: str) -> FileMeta | None:
        try:
            st = os.lstat(self.real(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileMeta(stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, stat.S_ISDIR(st.st_mode))

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(self.real(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(self.real(path), uid, gid)

    def missing_dirs(self, path: str) -> list[str]:
        """The directories makedirs(path) would create, outermost first."""
        p = Path(path)
        missing = []
        while not self.exists(str(p)) and str(p) != "/":
            missing.append(str(p))
            p = p.parent
        return missing[::-1]

    def makedirs(self, path: str, mode: int = 0o755) -> list[str]:
        """Create missing directories; return those created (outermost first)."""
        created: list[str] = []
        for d in self.missing_dirs(path):
            os.mkdir(self.real(d), mode)
            self.chmod(d, mode)  # umask-independent
            created.append(d)
        return created

    def write_atomic(self, path: str, data: bytes, *, mode: int, uid: int, gid: int) -> None:
        """Write via a temp file in the same directory: fsync, owner, mode, then rename.

        The temp file is created 0600, so a secret is never readable by others
        even for an instant; the SELinux context of the file being replaced is
        copied to the new one before the rename.
        """
        target = self.real(path)
        directory = target.parent
        # a temp file of this very path left by a killed run (the journal's lock keeps other writers out)
        for stale in directory.glob(f".{glob.escape(target.name)}.*{TMP_SUFFIX}"):
            stale.unlink(missing_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=directory)
        except OSError as exc:  # named after the file being written, not the temp file
            raise OSError(exc.errno, exc.strerror, path) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if self.durable:
                    os.fsync(fh.fileno())
            self._set_owner(tmp, uid, gid)
            os.chmod(tmp, mode)
            self._copy_selinux_context(target, Path(tmp))
            hook = self.before_rename
            if hook is not None:
                hook(tmp)
            os.replace(tmp, target)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            if isinstance(exc, OSError) and exc.filename in (None, tmp):  # e.g. a full disk: name the file
                raise OSError(exc.errno, exc.strerror, path) from exc
            raise
        if self.durable:
            dfd = os.open(directory, os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def age(self, path: str, seconds: float = COOL_DOWN_S) -> None:
        """Date `path`'s modification time `seconds` back (never forward); its content is untouched.

        Postfix reads main.cf and its LDAP/SQL table files through dict_load_file_xt, which
        sleeps in 300 ms steps while the file's mtime is within a second of now, in case an
        editor is still writing it: `postfix check` or a reload right after an edit waits about
        2 s. The files the wizard writes are complete (renamed into place whole), so dating them
        back lets Postfix read them at once.
        """
        real = self.real(path)
        st = os.stat(real)
        os.utime(real, ns=(st.st_atime_ns, min(st.st_mtime_ns, int((time.time() - seconds) * 1e9))))

    def _set_owner(self, real_path: str, uid: int, gid: int) -> None:
        os.chown(real_path, uid, gid)

    @staticmethod
    def _copy_selinux_context(src: Path, dst: Path) -> None:
        try:
            ctx = os.getxattr(src, "security.selinux")
        except OSError:
            return
        try:
            os.setxattr(dst, "security.selinux", ctx)
        except OSError:
            pass

    def remove(self, path: str) -> None:
        p = self.real(path)
        if p.is_dir() and not p.is_symlink():
            p.rmdir()
        else:
            p.unlink(missing_ok=True)

    def realpath(self, path: str) -> str:
        """`path` with every symlink resolved, as this host sees it (RHEL's /var/mail -> /var/spool/mail).

        A missing part ends the resolution there: the rest is kept as given.
        """
        resolved, todo, hops = "/", [p for p in path.split("/") if p], 0
        while todo:
            name = todo.pop(0)
            if name == ".":
                continue
            if name == "..":
                resolved = posixpath.dirname(resolved)
                continue
            candidate = posixpath.join(resolved, name)
            real = self.real(candidate)
            if not os.path.islink(real) or hops > 40:
                resolved = candidate
                continue
            hops += 1
            target = os.readlink(real)
            todo = [p for p in target.split("/") if p] + todo
            if target.startswith("/"):
                resolved = "/"
        return resolved

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.real(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    # --- identities --------------------------------------------------------
    def uid(self, user: str) -> int | None:
        try:
            return pwd.getpwnam(user).pw_uid
        except KeyError:
            return None

    def gid(self, group: str) -> int | None:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return None

    def user_name(self, uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    def group_name(self, gid: int) -> str:
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)

    # --- facts -------------------------------------------------------------
    def fqdn(self) -> str:
        name = socket.gethostname()
        if "." in name:
            return name
        try:
            full = socket.getfqdn(name)
        except OSError:
            full = name
        return full

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def listening(self) -> dict[int, str]:
        """TCP ports in LISTEN state, mapped to the name of the process holding them."""
        import psutil

        ports: dict[int, str] = {}
        try:
            conns = psutil.net_connections(kind="inet")
        except (psutil.AccessDenied, PermissionError):
            return ports
        for c in conns:
            if c.status != psutil.CONN_LISTEN or not c.laddr:
                continue
            name = "?"
            if c.pid:
                try:
                    proc = psutil.Process(c.pid)
                    # Dovecot's and Postfix's masters pass their listening sockets to the children that
                    # serve them (imap-login, lmtp, smtpd), and psutil may list only the child: name the
                    # master it descends from
                    name = next((p.name() for p in [proc, *proc.parents()] if p.name() in MASTERS),
                                proc.name())
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            if ports.get(c.laddr.port) not in MASTERS:
                ports[c.laddr.port] = name
        return ports

    def addresses(self) -> list[str]:
        """Every IP address on this host's interfaces (loopback included; callers filter)."""
        import socket

        import psutil

        return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                if a.family in (socket.AF_INET, socket.AF_INET6)]

    def free_bytes(self, path: str) -> int:
        p = self.real(path)
        while not p.exists():
            p = p.parent
        return shutil.disk_usage(p).free


MASTERS = ("dovecot", "master")  # the daemons that own the mail ports
