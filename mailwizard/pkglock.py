"""The package manager's lock: who holds it, and waiting for it to be free.

An apt-get left running by a killed wizard (an OOM kill, a closed SSH session
that took the wizard but not its child) keeps dpkg's frontend lock until it
has finished. apt-get waits for that lock itself when told to
(`-o Dpkg::Lock::Timeout=SECONDS`, in the platform's install argv), but
`dpkg --configure -a` and `debconf-set-selections`, which the plan may run
before it, fail at once: the install (steps/install.PackageCommand) waits
here for dpkg's locks to be free before each of them, saying every few
seconds whom it waits for.

dnf needs none of this: it waits for its own lock by default ("Waiting for
process with pid N to finish."), and RHEL's rpm database (SQLite) needs no
repair after a killed dnf: the transaction is either in it or not, and the
next `dnf install` installs what is missing.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time

DPKG_FRONTEND_LOCK = "/var/lib/dpkg/lock-frontend"
WAIT_SECONDS = 600  # how long the install waits for another package manager (apt-get's Dpkg::Lock::Timeout)
_FLOCK = "hhqqi"  # struct flock on Linux: l_type, l_whence, l_start, l_len, l_pid


def holder(path: str) -> tuple[int, str] | None:
    """(pid, command name) of the process holding a write lock on `path` (pid -1: an open-file lock of a
    process that cannot be named), or None when the lock is free or the file does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    except OSError:
        return None
    finally:
        os.close(fd)
    kind, _whence, _start, _len, pid = struct.unpack(_FLOCK, answer)
    if kind == fcntl.F_UNLCK:
        return None
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            name = fh.read().strip()
    except OSError:
        name = "?"
    return pid, name


def describe(held: tuple[int, str]) -> str:
    pid, name = held
    return f"process {pid} ({name})" if pid > 0 else "another process"


def wait(path: str, seconds: float, say=print, every: float = 5.0, poll: float = 0.5) -> bool:
    """Wait until nobody holds the lock on `path`, at most `seconds`; True when it is free."""
    started = time.monotonic()
    last_said = None
    while (held := holder(path)) is not None:
        waited = time.monotonic() - started
        if waited >= seconds:
            say(f"the package lock {path} is still held by {describe(held)} after {int(waited)} s: giving up")
            return False
        if last_said is None or waited - last_said >= every:
            say(f"waiting for the package lock {path}, held by {describe(held)} "
                f"({int(waited)} s of at most {int(seconds)} s)")
            last_said = waited
        time.sleep(poll)
    if last_said is not None:
        say(f"the package lock {path} is free after {int(time.monotonic() - started)} s")
    return True

