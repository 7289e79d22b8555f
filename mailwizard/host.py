"""The machine being configured: run commands, read and write files, learn facts.

`Host` is the real machine. `FakeHost` keeps its files under a temporary root,
records every command and simulates the few system tools the plans use
(package manager, services, chmod/chown, useradd), so plans can be tested and
reviewed for another platform without touching anything.

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
from dataclasses import dataclass, field
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


class Host:
    """The local machine, rooted at `root` (normally /)."""

    fake = False
    durable = True  # fsync what is written; a simulated host's files vanish with it, so it skips that
    before_rename: Callable[[str], None] | None = None  # the interruption harness's kill point (engine.py)

    def __init__(self, root: str | Path = "/"):
        self.root = Path(root)

    # --- paths -------------------------------------------------------------
    def real(self, path: str) -> Path:
        """The path on this machine that holds the host's `path`."""
        if str(self.root) == "/":
            return Path(path)
        return self.root / path.lstrip("/")

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

# firewalld services the simulated firewall knows, in every firewalld version the platforms ship (1.x on
# RHEL 9 and Debian 12, 2.x on RHEL 10; checked in Debian's firewalld 1.3.3), and those added later
FIREWALLD_SERVICES = {"ssh", "dhcpv6-client", "cockpit", "http", "https", "smtp", "smtps", "smtp-submission",
                      "imap", "imaps", "pop3", "pop3s", "managesieve", "mysql", "ldap", "ldaps"}
FIREWALLD_LATER_SERVICES = {"submission": (2, 1)}


def firewalld_has_service(version: str, service: str) -> bool:
    """Whether firewalld `version` ships the service `service` ("" for the version: any name is taken)."""
    if not version:
        return True
    if service in FIREWALLD_SERVICES:
        return True
    since = FIREWALLD_LATER_SERVICES.get(service)
    have = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    return since is not None and have >= since


@dataclass
class FakeState:
    installed: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    enabled: set[str] = field(default_factory=set)
    users: dict[str, int] = field(default_factory=lambda: {"root": 0, "dovecot": 97, "dovenull": 976,
                                                           "postfix": 89, "mail": 8})
    groups: dict[str, int] = field(default_factory=lambda: {"root": 0, "dovecot": 97, "dovenull": 976,
                                                            "postfix": 89, "mail": 12})
    owners: dict[str, tuple[int, int]] = field(default_factory=dict)
    hostname: str = ""
    dovecot_version: str = "2.3.21"
    default_database_type: str = "hash"
    listening: dict[int, str] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1", "192.0.2.10"])
    failing: set[str] = field(default_factory=set)  # argv[0]s that fail
    firewall_services: set[str] = field(default_factory=set)
    firewall_rich_rules: set[str] = field(default_factory=set)
    firewall_ports: set[str] = field(default_factory=set)
    # the running firewall where it differs from the permanent sets above (None: the permanent rules are loaded)
    firewall_running: dict[str, set[str]] | None = None
    selinux_fcontexts: dict[str, str] = field(default_factory=dict)  # spec -> type
    selinux_ports: dict[str, str] = field(default_factory=dict)  # "tcp/24" -> type
    selinux_booleans: dict[str, bool] = field(default_factory=dict)
    selinux_mode: str = "Enforcing"  # what getenforce says
    selinux_labels: dict[str, str] = field(default_factory=dict)  # path -> type it carries, when set by hand
    # firewalld's version ("" accepts any service name): which services exist depends on it
    firewalld_version: str = ""
    # packages an interrupted dpkg left half-configured (a killed apt-get): apt-get refuses until repaired
    dpkg_interrupted: list[str] = field(default_factory=list)
    crypto_policy: str = ""  # what `update-crypto-policies --show` says ("": the command is absent)
    # commands that exist only once their package is installed (a minimal RHEL has no semanage)
    command_packages: dict[str, str] = field(default_factory=dict)


class FakeHost(Host):
    """A host whose files live under a temporary root and whose commands are simulated."""

    fake = True
    durable = False

    def __init__(self, root: str | Path, state: FakeState | None = None):
        super().__init__(root)
        self.state = state or FakeState()
        self.commands: list[list[str]] = []

    @classmethod
    def from_profile(cls, profile, root: str | Path, hostname: str = "") -> FakeHost:
        """A fresh minimal install of `profile`: no mail packages, their files arrive with `install`."""
        import tomllib

        fresh = profile.fresh_root()
        facts_file = fresh / "facts.toml"
        facts = tomllib.loads(facts_file.read_text()) if facts_file.exists() else {}
        state = FakeState(hostname=hostname)
        state.installed = set(facts.get("installed_packages", []))
        state.dovecot_version = str(facts.get("dovecot_version", profile.dovecot_versions[0] + ".0"))
        state.default_database_type = str(facts.get("default_database_type", profile.map_type))
        state.firewalld_version = str(facts.get("firewalld_version", ""))
        state.crypto_policy = str(facts.get("crypto_policy", ""))
        state.command_packages = dict(facts.get("command_packages", {}))
        host = cls(root, state)
        host.fresh = fresh
        host._lay_out(fresh / "layout.txt")
        if facts.get("postfix_main_cf_shipped") is False:  # Debian's "No configuration": no main.cf
            host.unshipped = {"etc/postfix/main.cf"}
        return host

    def _lay_out(self, layout: Path) -> None:
        """The fresh root's directories and symlinks (`PATH d|l MODE OWNER:GROUP [-> TARGET]` a line)."""
        if not layout.exists():
            return
        for line in layout.read_text().splitlines():
            fields = line.split()
            if not fields or line.startswith("#"):
                continue
            path, kind, mode, ids = fields[:4]
            real = self.root / path.lstrip("/")
            if kind == "l":
                real.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(fields[5], real)
                continue
            real.mkdir(parents=True, exist_ok=True)
            os.chmod(real, int(mode, 8))
            user, _, group = ids.partition(":")
            self.state.owners[path] = (int(user) if user.isdigit() else self.state.users[user],
                                       int(group) if group.isdigit() else self.state.groups[group])

    fresh: Path | None = None
    unshipped: set[str] = set()  # fixture files the real package does not install
    # package -> the directories it ships (simulated from the fresh-install copy)
    SHIPS = {"dovecot": ("etc/dovecot",), "dovecot-core": ("etc/dovecot",),
             "postfix": ("etc/postfix", "usr/share/postfix")}

    def _unpack(self, package: str) -> None:
        for rel in self.SHIPS.get(package, ()):
            self._unpack_dir(rel)

    def _unpack_dir(self, rel: str) -> None:
        if self.fresh is None or not (self.fresh / rel).is_dir():
            return
        for src in (self.fresh / rel).rglob("*"):
            if str(src.relative_to(self.fresh)) in self.unshipped:
                continue
            dst = self.root / src.relative_to(self.fresh)
            if src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            elif not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)  # with its mtime, as dpkg and rpm install a package's files
                os.chmod(dst, 0o644)

    def run(self, argv, *, input=None, env=None, on_line=None, check=False, timeout=None) -> Result:
        argv = list(argv)
        self.commands.append(argv)
        rc, out = self._simulate(argv, input)
        if on_line:
            for line in out.splitlines():
                on_line(line)
        result = Result(argv, rc, out)
        if check and rc != 0:
            raise CommandFailed(result)
        return result

    def _simulate(self, argv: list[str], input: str | None) -> tuple[int, str]:
        s = self.state
        cmd = argv[0]
        if cmd in s.failing:
            return 1, f"{cmd}: simulated failure"
        package = s.command_packages.get(cmd)
        if package and package not in s.installed:
            return 127, f"{cmd}: No such file or directory (it comes with {package})"
        if cmd == "update-crypto-policies":
            return (0, s.crypto_policy + "\n") if s.crypto_policy else (127, f"{cmd}: No such file or directory")
        if cmd == "dpkg" and argv[1:] == ["--audit"]:
            return 0, "".join(f" {p}  (half-configured)\n" for p in s.dpkg_interrupted)
        if cmd == "dpkg" and argv[1:] == ["--configure", "-a"]:
            s.dpkg_interrupted.clear()
            return 0, ""
        if cmd == "apt-get" and s.dpkg_interrupted:
            return 100, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem."
        if cmd in ("dnf", "apt-get"):
            pkgs = [a for a in argv[2:] if not a.startswith("-") and not a.startswith("Dpkg::")]
            if argv[1] == "install":
                s.installed.update(pkgs)
                for pkg in pkgs:
                    self._unpack(pkg)
            elif argv[1] == "remove":
                s.installed.difference_update(pkgs)
            return 0, ""
        if cmd == "rpm" or cmd == "dpkg-query":
            name = argv[-1]
            if name in s.installed:
                return 0, "install ok installed" if cmd == "dpkg-query" else name
            return 1, f"package {name} is not installed"
        if cmd == "debconf-set-selections":
            return 0, ""
        if cmd == "systemctl":
            verb, name = argv[1], argv[-1]
            if verb == "is-active":
                return (0, "active") if name in s.running else (3, "inactive")
            if verb == "is-enabled":
                return (0, "enabled") if name in s.enabled else (1, "disabled")
            if verb == "enable":
                s.enabled.add(name)
                if "--now" in argv:
                    s.running.add(name)
            elif verb in ("start", "restart", "reload"):
                s.running.add(name)
            elif verb == "stop":
                s.running.discard(name)
            return 0, ""
        if cmd == "service":
            name, verb = argv[1], argv[2]
            if verb == "status":
                return (0, f"{name} is running") if name in s.running else (3, f"{name} is not running")
            if verb in ("start", "restart", "reload"):
                s.running.add(name)
            elif verb == "stop":
                s.running.discard(name)
            return 0, ""
        if cmd == "update-rc.d":
            s.enabled.add(argv[1])
            return 0, ""
        if cmd == "chmod":
            self.chmod(argv[2], int(argv[1], 8))
            return 0, ""
        if cmd == "chown":
            user, _, group = argv[1].partition(":")
            self.chown(argv[2], s.users[user], s.groups[group or user])
            return 0, ""
        if cmd == "useradd":
            name = argv[-1]
            if name in s.users:
                return 9, f"useradd: user '{name}' already exists"
            s.users[name] = max(list(s.users.values()) + [999]) + 1
            s.groups.setdefault(name, s.users[name])
            return 0, ""
        if cmd == "firewall-cmd":
            return self._firewall(argv[1:])
        if cmd == "semanage":
            kind, args = argv[1], argv[2:]
            if kind == "fcontext" and "-a" in args:
                s.selinux_fcontexts[args[-1]] = args[args.index("-t") + 1]
            elif kind == "port" and ("-a" in args or "-m" in args):
                s.selinux_ports[f"{args[args.index('-p') + 1]}/{args[-1]}"] = args[args.index("-t") + 1]
            elif kind == "fcontext" and "-d" in args:
                if s.selinux_fcontexts.pop(args[-1], None) is None:
                    return 1, f"ValueError: File context for {args[-1]} is not defined\n"
            elif kind == "port" and "-d" in args:
                if s.selinux_ports.pop(f"{args[args.index('-p') + 1]}/{args[-1]}", None) is None:
                    return 1, f"ValueError: Port tcp/{args[-1]} is not defined\n"
            elif kind == "fcontext" and "-l" in args:
                return 0, "".join(f"{k}  all files  system_u:object_r:{v}:s0\n"
                                  for k, v in s.selinux_fcontexts.items())
            elif kind == "boolean" and "-l" in args:  # the policy store's values: (current , default)
                return 0, "".join(f"{k:30} ({'on' if v else 'off'}  ,  off)  {k}\n"
                                  for k, v in s.selinux_booleans.items())
            elif kind == "port" and "-l" in args:
                return 0, "".join(f"{v}  {k.split('/')[0]}  {k.split('/')[1]}\n" for k, v in s.selinux_ports.items())
            return 0, ""
        if cmd == "setsebool":
            s.selinux_booleans[argv[-2]] = argv[-1] in ("on", "1", "true")
            from mailwizard.steps.selinux import booleans_local
            local = self.real(booleans_local(self))
            if "-P" in argv and local.parent.is_dir():  # the store's local settings (`semodule -B` reads them)
                old = dict(line.split("=") for line in local.read_text().split()) if local.exists() else {}
                old[argv[-2]] = "1" if s.selinux_booleans[argv[-2]] else "0"
                local.write_text("".join(f"{k}={v}\n" for k, v in old.items()))
            return 0, ""
        if argv[:2] == ["semodule", "-B"]:  # the policy rebuilt: the booleans as the store says
            from mailwizard.steps.selinux import booleans_local
            local = self.real(booleans_local(self))
            s.selinux_booleans = {k: v == "1" for k, v in (line.split("=") for line in
                                                           (local.read_text().split() if local.exists() else []))}
            return 0, ""
        if cmd == "getsebool":
            if s.selinux_mode == "Disabled":  # the kernel has no SELinux to ask
                return 1, "getsebool:  SELinux is disabled\n"
            on = s.selinux_booleans.get(argv[-1], False)
            return 0, f"{argv[-1]} --> {'on' if on else 'off'}\n"
        if cmd in ("postmap", "postalias"):
            return self._postmap(argv)
        if cmd == "sievec" and len(argv) == 2:  # SCRIPT.sieve -> SCRIPT.svbin beside it
            self.real(argv[1].removesuffix(".sieve") + ".svbin").write_bytes(b"(compiled sieve script)")
            return 0, ""
        if cmd == "getenforce":
            return 0, s.selinux_mode + "\n"
        if cmd == "matchpathcon":
            return 0, "".join(f"{p}\tsystem_u:object_r:{self._policy_type(p)}:s0\n" for p in argv[1:])
        if cmd == "restorecon":
            return self._restorecon(argv[1:])
        if cmd in ("mkdir", "newaliases", "sievec"):
            return 0, ""
        if cmd == "dovecot" and argv[1:] == ["--version"]:
            return 0, s.dovecot_version
        if cmd == "postconf" and argv[1:] == ["-h", "default_database_type"]:
            return 0, s.default_database_type + "\n"
        if cmd == "postconf":
            return self._postconf(argv)
        if cmd == "openssl" and argv[1] == "dhparam" and "-out" in argv:
            out = argv[argv.index("-out") + 1]
            self.real(out).parent.mkdir(parents=True, exist_ok=True)
            self.real(out).write_bytes(b"-----BEGIN DH PARAMETERS-----\nFAKE\n-----END DH PARAMETERS-----\n")
            return 0, "Generating DH parameters, 4096 bit long safe prime\n"
        return 0, ""

    def _postconf(self, argv: list[str]) -> tuple[int, str]:
        """postconf's edits (-e -X -# -M -P) done by mailwizard's emulation; queries read main.cf."""
        from mailwizard import postfix_conf

        directory = self.real("/etc/postfix")
        files = {n: (directory / n).read_text() if (directory / n).exists() else "" for n in ("main.cf", "master.cf")}
        args = list(argv[1:])
        if args and args[0] in ("-e", "-X", "-#", "-M", "-P") and len(args) > 1:
            try:
                new = postfix_conf.emulate(files, argv)
            except postfix_conf.PostconfError as exc:
                return 1, f"postconf: fatal: {exc}"
            for name, text in new.items():
                if text != files[name]:
                    (directory / name).write_text(text)
            return 0, ""
        if args == ["-M"]:
            return 0, "".join(" ".join(e) + "\n" for e in postfix_conf.master_entries(files["master.cf"]).values())
        values = postfix_conf.main_values(files["main.cf"])
        if args[:1] == ["-n"]:
            return 0, "".join(f"{k} = {v}\n" for k, v in sorted(values.items()))
        hide = args[:1] == ["-h"]
        names = [a for a in args if not a.startswith("-")]
        return 0, "".join((f"{values.get(n, '')}\n" if hide else f"{n} = {values.get(n, '')}\n") for n in names)

    def _postmap(self, argv: list[str]) -> tuple[int, str]:
        """postmap/postalias TYPE:FILE makes FILE's indexed copy; -q looks a key up in the source."""
        from mailwizard import postfix_conf

        args = argv[1:]
        if args[:1] == ["-q"]:
            key, table = args[1], args[2]
            kind, _, path = table.partition(":")
            text = self.read_text(path) or ""
            for line in text.splitlines():
                fields = line.split(None, 1)
                if len(fields) == 2 and not line.startswith(("#", " ")) and fields[0] == key:
                    return 0, fields[1] + "\n"
            return 1, ""
        table = args[-1]
        kind, _, path = table.rpartition(":")
        kind = kind or self.state.default_database_type
        if self.read(path) is None:
            return 1, f"{argv[0]}: fatal: open {path}: No such file or directory"
        self.real(path + postfix_conf.map_suffix(kind)).write_bytes(b"(indexed map)")
        return 0, ""

    # the policy's types for the trees a fresh RHEL labels (the rest is default_t), before local fcontext rules
    POLICY = {"/var/mail": "mail_spool_t", "/var/spool/mail": "mail_spool_t", "/etc/pki": "cert_t",
              "/etc/dovecot": "dovecot_etc_t", "/root": "admin_home_t", "/srv": "var_t", "/var": "var_t"}

    def _policy_type(self, path: str) -> str:
        """The type `matchpathcon` gives: a local `semanage fcontext` rule, else the closest labelled tree."""
        import re

        for spec, type_ in self.state.selinux_fcontexts.items():
            if re.fullmatch(spec, path):
                return type_
        tree = max((t for t in self.POLICY if path == t or path.startswith(t + "/")), key=len, default=None)
        return self.POLICY[tree] if tree else "default_t"

    def _restorecon(self, args: list[str]) -> tuple[int, str]:
        """Labels set by hand (state.selinux_labels) differ from the policy: -n says so, otherwise they are reset."""
        paths = [a for a in args if not a.startswith("-")]
        recursive, dry = "-R" in args or any(a.startswith("-") and "R" in a for a in args), "-n" in args
        lines = []
        for path, actual in sorted(self.state.selinux_labels.items()):
            under = any(path == p or (recursive and path.startswith(p.rstrip("/") + "/")) for p in paths)
            want = self._policy_type(path)
            if not under or actual == want:
                continue
            lines.append(f"{'Would relabel' if dry else 'Relabeled'} {path} from system_u:object_r:{actual}:s0 "
                         f"to system_u:object_r:{want}:s0\n")
            if not dry:
                self.state.selinux_labels[path] = want
        return 0, "".join(lines) if "-v" in args or any(a.startswith("-") and "v" in a for a in args) else ""

    def _firewall(self, args: list[str]) -> tuple[int, str]:
        s = self.state
        if args == ["--reload"]:
            s.firewall_running = None
            return 0, "success"
        if args == ["--state"]:
            return 0, "running"
        kinds = {"service": s.firewall_services, "rich-rule": s.firewall_rich_rules, "port": s.firewall_ports}
        if any(a.startswith(("--add-", "--remove-")) for a in args) and s.firewall_running is None:
            s.firewall_running = {kind: set(rules) for kind, rules in kinds.items()}  # from now on they differ
        if "--permanent" not in args and s.firewall_running is not None:
            kinds = s.firewall_running
        rc, invalid = 0, []
        for arg in args:
            opt, _, value = arg.partition("=")
            if opt == "--list-services":
                return 0, " ".join(sorted(s.firewall_services)) + "\n"
            verb, _, kind = opt.removeprefix("--").partition("-")
            if kind not in kinds:
                continue
            if kind == "service" and not firewalld_has_service(s.firewalld_version, value):
                invalid.append(value)
                continue
            if verb == "add":
                kinds[kind].add(value)
            elif verb == "remove":
                kinds[kind].discard(value)
            elif verb == "query":
                rc = 0 if value in kinds[kind] else 1
        if invalid:  # firewall-cmd: one bad service alone fails; among others, a warning and exit 0
            said = "".join(f"Error: INVALID_SERVICE: '{v}' not among existing services\n" for v in invalid)
            ops = [a for a in args if a.startswith(("--add-", "--remove-", "--query-"))]
            if len(ops) == len(invalid):
                return 101, said
            return rc, said.replace("Error:", "Warning:") + "success"
        return rc, "yes" if rc == 0 else "no"

    def which(self, name: str) -> str | None:
        package = self.state.command_packages.get(name)
        return None if package and package not in self.state.installed else f"/usr/bin/{name}"

    def _set_owner(self, real_path: str, uid: int, gid: int) -> None:
        pass  # ownership is kept in state.owners (tests need not run as root)

    def write_atomic(self, path, data, *, mode, uid, gid):
        super().write_atomic(path, data, mode=mode, uid=uid, gid=gid)
        self.state.owners[path] = (uid, gid)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self.state.owners[path] = (uid, gid)

    def stat(self, path: str) -> FileMeta | None:
        meta = super().stat(path)
        if meta is None:
            return None
        meta.uid, meta.gid = self.state.owners.get(path, (0, 0))
        return meta

    def remove(self, path: str) -> None:
        super().remove(path)
        self.state.owners.pop(path, None)

    def uid(self, user: str) -> int | None:
        return self.state.users.get(user)

    def gid(self, group: str) -> int | None:
        return self.state.groups.get(group)

    def user_name(self, uid: int) -> str:
        return next((n for n, u in self.state.users.items() if u == uid), str(uid))

    def group_name(self, gid: int) -> str:
        return next((n for n, g in self.state.groups.items() if g == gid), str(gid))

    def fqdn(self) -> str:
        return self.state.hostname

    def is_root(self) -> bool:
        return True

    def listening(self) -> dict[int, str]:
        return dict(self.state.listening)

    def addresses(self) -> list[str]:
        return list(self.state.addresses)

    def free_bytes(self, path: str) -> int:
        return 50 * 2**30
