"""The simulated host's file tree: real files under a temporary root.

A fresh install's directories and symlinks are laid out from the platform's
layout.txt; installing a package copies the files it ships from the platform's
fresh-install copy; owners are kept in the state (the tests need not run as
root), modes on the files themselves.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mailwizard.host import FileMeta, Host
from mailwizard.simulated.state import FakeState


class FileTree(Host):
    """Files under a temporary root, their owners in `state`, packages unpacked from a fresh-install copy."""

    durable = False
    state: FakeState

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
    # package -> the directories or files it ships (simulated from the fresh-install copy)
    SHIPS = {"dovecot": ("etc/dovecot",), "dovecot-core": ("etc/dovecot",),
             "postfix": ("etc/postfix", "usr/share/postfix"), "opendkim": ("etc/opendkim.conf",)}
    ACCOUNTS = {"opendkim": "opendkim"}  # package -> the system account its postinst makes

    def _unpack(self, package: str) -> None:
        for rel in self.SHIPS.get(package, ()):
            self._unpack_dir(rel)
        if (account := self.ACCOUNTS.get(package)) and account not in self.state.users:
            self.state.users[account] = self.state.groups[account] = max(self.state.users.values()) + 1
        for path, mode, owner in self.state.package_dirs.get(package, ()):
            if not self.exists(path):
                self.makedirs(path, int(mode, 8))
                self.state.owners[path] = (self.state.users[owner], self.state.groups[owner])

    def _unpack_dir(self, rel: str) -> None:
        if self.fresh is None or not (self.fresh / rel).exists():
            return
        top = self.fresh / rel
        for src in [top] if top.is_file() else top.rglob("*"):
            if str(src.relative_to(self.fresh)) in self.unshipped:
                continue
            dst = self.root / src.relative_to(self.fresh)
            if src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            elif not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)  # with its mtime, as dpkg and rpm install a package's files
                os.chmod(dst, 0o644)

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
