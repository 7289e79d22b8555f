"""Reading a file an administrator named: a regular file only, and only so much of it.

A FIFO given as a certificate would block the wizard forever on open(); a
character device such as /dev/zero or /dev/urandom would be read until memory
runs out. So the path is stat()ed first (a symbolic link to a regular file is
followed and fine), opened with O_NONBLOCK (a FIFO swapped in after the stat
cannot block the open), checked again with fstat() on what was really opened,
and read up to a limit.
"""

from __future__ import annotations

import errno
import os
import stat

MAX_FILE = 1 << 20  # certificates, keys, CA bundles, DH parameters, password files: 1 MiB is plenty
MAX_ANSWERS = 4 << 20  # an answers file
MAX_HOST_FILE = 256 << 20  # any file the wizard reads on the host (configuration, maps, backups)


class UnsafeFile(OSError):
    """The path is not a regular file, or is larger than the limit; strerror says which, plainly."""


def kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(path: str, mode: int) -> UnsafeFile:
    return UnsafeFile(errno.EINVAL, f"is {kind(mode)}, not a regular file", path)


def regular_file_problem(real_path: str) -> str | None:
    """Why `real_path` is not a regular file one may read (None when it is, or does not exist)."""
    try:
        st = os.stat(real_path)
    except OSError:
        return None
    return None if stat.S_ISREG(st.st_mode) else f"is {kind(st.st_mode)}, not a regular file"


def read_regular(real_path: str | os.PathLike, limit: int = MAX_FILE, shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Raises FileNotFoundError (and the other OSErrors of open), or UnsafeFile for
    a FIFO, a device, a socket, a directory or a file larger than `limit`. `shown`
    is the path named in the error (the host's path, where `real_path` is below a
    simulated host's root).
    """
    path = os.fspath(real_path)
    name = shown or path
    try:
        st = os.stat(path)  # follows symbolic links: a link to a regular file is fine
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, name) from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(name, st.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, name) from None
    try:
        st = os.fstat(fd)  # what was opened, should the path have been replaced since the stat
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(name, st.st_mode)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise UnsafeFile(errno.EFBIG, f"is larger than {_size(limit)}: this is not the file meant", name)
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"


def read_named(host, path: str, limit: int = MAX_FILE) -> bytes | None:
    """`path` on `host` (a mailwizard Host, real or simulated): None when absent; UnsafeFile when not
    a regular file of at most `limit` bytes."""
    try:
        return read_regular(host.real(path), limit, shown=path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def describe(exc: OSError) -> str:
    """`what is wrong`, without the path (the caller names the key and the path)."""
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied): run the wizard as root"
    return exc.strerror or str(exc)


def bounded(ctx, limit: int = MAX_FILE):
    """read(path) for the files answers name, on a PlanContext (a file an earlier change writes, else the
    host's) or a Host: bytes, None when absent, UnsafeFile for a special or oversized file."""
    files = getattr(ctx, "files", {})
    host = getattr(ctx, "host", ctx)

    def read(path: str) -> bytes | None:
        if path in files:
            return files[path]
        return read_named(host, path, limit)

    return read


def read_for(ctx, path: str, limit: int = MAX_FILE) -> tuple[bytes | None, str | None]:
    """(the bytes of the file an answer names or None when absent, None), or (None, `PATH is a FIFO (named
    pipe), not a regular file`)."""
    try:
        return bounded(ctx, limit)(path), None
    except OSError as exc:
        return None, f"{path} {describe(exc)}"


# trees that hold no files of one's own: a file written there replaces a device node or fails
_NO_FILES_HERE = ("/proc", "/sys", "/dev")


def destination_problem(host, path: str, own_dir: str, allowed: tuple[str, ...] = ()) -> str | None:
    """Why the wizard must not write a file of its own (the partner's answers, a copy of the answers) at the
    normalised absolute `path`, or None: under /proc, /sys or /dev (saving to /dev/null would replace the
    device with a regular file), inside mailwizard's own state directory `own_dir` (but for `allowed`), or
    where something that is not a regular file is (a directory, a FIFO, a device, a socket; a symbolic
    link is judged by what it leads to)."""
    for tree in _NO_FILES_HERE:
        if path == tree or path.startswith(tree + "/"):
            return (f"{path} is under {tree}, which holds no files of one's own (writing there would replace a "
                    "device or fail): give a path such as /root/mailwizard-answers.toml")
    if (path == own_dir or path.startswith(own_dir.rstrip("/") + "/")) and path not in allowed:
        return (f"{path} is in mailwizard's own state directory {own_dir}, where it keeps its journal and "
                "backups: give a path outside it")
    if msg := regular_file_problem(str(host.real(path))):
        return f"{path} {msg}: give a file name"
    return None
