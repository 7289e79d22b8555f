"""Changes: what a step wants done, each able to describe, diff, check, and say and do its effects.

A step's plan is a list of Changes computed from facts without side effects.
The planner asks every Change whether it is already satisfied (then it is a
no-op with its reason) against a PlanContext, which also carries the contents
files *will* have after the earlier changes in the plan, so two steps editing
the same file compose instead of overwriting each other.

Applying is split in two, for the one executor (executor.py): `effects()`
reads the host and says what the change is about to do (files written or
edited, owners and modes changed, directories created, inverse commands,
what cannot be undone) without changing anything; the executor journals that
intent, then `perform()` does it, then the executor journals its completion.
No change touches the journal itself.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mailwizard.host import FileMeta, Host, LineSink

if TYPE_CHECKING:
    from mailwizard.platform import Profile


class ChangedSincePlan(Exception):
    """A file differs from what the plan was computed from; re-plan before applying."""


class PutBack(RuntimeError):
    """A change refused after it began: `paths` were put back as they were before it (or its batch)."""

    def __init__(self, message: str, paths: list[str]):
        super().__init__(message)
        self.paths = paths


@dataclass
class Effects:
    """What a change is about to do to the host, journalled before it starts (executor.execute).

    `files`: every file it writes, edits or removes, with the bytes it will hold, or None when a
    tool edits it in steps or removes it; `secret`: those whose originals are secrets (kept beside
    themselves, never in the journal); `attrs`: files whose owner and mode only change (no bytes
    kept); `dirs`: directories it creates, outermost first; `undo`: the commands that undo it,
    replayed by rollback; `irreversible`: what rollback cannot undo, said in its report;
    `settles`: pending service reloads it completes; `started`: services it starts (rollback stops
    them); `stopped`: services it stops (rollback starts again those it had not started itself).
    """

    files: dict[str, bytes | None] = field(default_factory=dict)
    secret: set[str] = field(default_factory=set)
    attrs: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    undo: list[list[str]] = field(default_factory=list)
    irreversible: str = ""
    settles: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def write(self, path: str, data: bytes | None, *, secret: bool = False) -> Effects:
        self.files[path] = data
        if secret:
            self.secret.add(path)
        return self

    def __or__(self, other: Effects) -> Effects:
        """Both changes' effects: a subclass's added to its base's."""
        return Effects({**self.files, **other.files}, self.secret | other.secret, self.attrs + other.attrs,
                       self.dirs + [d for d in other.dirs if d not in self.dirs], self.undo + other.undo,
                       self.irreversible or other.irreversible, self.settles + other.settles,
                       self.started + other.started, self.stopped + other.stopped)


@dataclass
class Work:
    """What a change is given to work with: where its output lines go, and a private scratch directory."""

    on_line: LineSink
    journal_dir: str  # the journal's directory on the host; its scratch/ is emptied at every open
    scratch: Callable[[], Path]  # creates the scratch directory and gives its real path

    def scratch_path(self, name: str) -> str:
        """`name` in the scratch directory, as a path on the host."""
        self.scratch()
        return f"{self.journal_dir}/scratch/{name}"


def sha(data: bytes | None) -> str:
    return "absent" if data is None else hashlib.sha256(data).hexdigest()


@dataclass
class PlanContext:
    host: Host
    profile: "Profile"
    offline: bool = False  # planning for another platform: target-only facts are unknown
    dry_run: bool = False  # nothing will be applied: a host fact to fix first is a warning
    pending_reloads: set[str] = field(default_factory=set)
    unfinished: set[str] = field(default_factory=set)  # keys of changes the journal shows begun, never done
    # files the wizard wrote (its journal): path -> the sha of each content it wrote or was writing, or
    # None for a file its tools were changing in steps when the run stopped (whatever it holds is its own)
    own_files: dict[str, set[str] | None] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # services whose config this plan changes
    predicted: set[str] = field(default_factory=set)  # files a planned package install will create
    files: dict[str, bytes | None] = field(default_factory=dict)
    metas: dict[str, FileMeta | None] = field(default_factory=dict)
    # the journal's copy of a file as it was before the wizard first changed it (None: absent then, or not kept)
    originals: Callable[[str], bytes | None] = lambda path: None
    _cache: dict = field(default_factory=dict)
    _parsed: dict = field(default_factory=dict)  # (kind, path) -> (the content, its parse)

    def read(self, path: str) -> bytes | None:
        if path in self.files:
            return self.files[path]
        return self.host.read(path)

    def read_text(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def stat(self, path: str) -> FileMeta | None:
        if path in self.metas:
            return self.metas[path]
        return self.host.stat(path)

    def exists(self, path: str) -> bool:
        if path in self.files:
            return self.files[path] is not None
        return self.host.exists(path)

    def stage(self, path: str, content: bytes | None, meta: FileMeta | None) -> None:
        self.files[path] = content
        self.metas[path] = meta

    def predict(self, directory: str) -> None:
        """Files a package about to be installed will ship: taken from the platform's fresh install."""
        fresh = self.profile.fresh_root()
        base = fresh / directory.lstrip("/")
        if not base.is_dir():
            return
        for src in sorted(base.rglob("*")):
            path = "/" + str(src.relative_to(fresh))
            if src.is_file() and not self.exists(path):
                self.stage(path, src.read_bytes(), FileMeta(0o644, 0, 0))
                self.predicted.add(path)

    def parsed(self, path: str, kind: str, parse: Callable[[str], object]):
        """`parse` of the file's text as planned so far: made once per content, then kept by `keep_parsed`."""
        data = self.read(path)
        hit = self._parsed.get((kind, path))
        if hit is None or (hit[0] is not data and hit[0] != data):
            text = "" if data is None else data.decode("utf-8", "surrogateescape")
            hit = self._parsed[(kind, path)] = (data, parse(text))
        return hit[1]

    def keep_parsed(self, path: str, kind: str, content: bytes, value: object | None) -> None:
        """The parse of the `content` just staged for `path`, edited along with it (None: parse it again)."""
        if value is None:
            self._parsed.pop((kind, path), None)
        else:
            self._parsed[(kind, path)] = (content, value)

    def fact(self, name: str, compute: Callable[[], object]):
        """A host fact, computed once per plan (package state, versions...)."""
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def ids(self, owner: str, group: str) -> tuple[int, int]:
        uid = self.host.uid(owner)
        gid = self.host.gid(group)
        return (uid if uid is not None else -1, gid if gid is not None else -1)


class Change:
    """One thing the wizard does. Subclasses fill in the verbs."""

    kind = "change"
    step = ""
    noop: str | None = None
    conflict: str | None = None  # the administrator edited a file this change rewrites (conflicts.py)
    merges: tuple[str, ...] = ()  # such files, taken as the plan has them: they keep the administrator's edit
    service: str | None = None  # the service that must reload after this change
    reversible = True
    # set by the engine for consecutive changes with the same batch_key(): what they share (the files
    # as they were before the batch) and whether this change is the batch's last, which validates it
    batch: dict | None = None
    batch_end = True

    def key(self) -> str:
        raise NotImplementedError

    def batch_key(self) -> str | None:
        """Changes validated together when consecutive in a plan (Postfix's edits of one directory)."""
        return None

    def describe(self) -> str:
        raise NotImplementedError

    def commands(self) -> list[list[str]]:
        return []

    def diff(self) -> str:
        return ""

    def check(self, ctx: PlanContext) -> str | None:
        """The reason this change has nothing to do, or None."""
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        """What applying will do to this host, found before anything changes: reads and refusals only."""
        return Effects()

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        """Do it; the executor has journalled `effects` already and journals the completion."""
        raise NotImplementedError

    def stdin(self) -> str:
        """What is fed to the commands' standard input, shown in the review."""
        return ""

    def to_json(self) -> dict:
        return {"step": self.step, "kind": self.kind, "key": self.key(),
                "description": self.describe(), "commands": self.commands(), "stdin": self.stdin(),
                "diff": self.diff(), "noop": self.noop, "reversible": self.reversible,
                "conflict": self.conflict}


def _mode_str(mode: int) -> str:
    return f"{mode:o}"


@dataclass(eq=False)
class WriteFile(Change):
    """The whole content of a file (created, or edited by the step into this content)."""

    path: str
    content: bytes
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"
    secret: bool = False
    noop_reason: str = ""
    service: str | None = None
    summary: str = ""
    validate_with: str | None = None  # "dovecot": the config dir checked with doveconf -n
    # how the content was made from the file, to redo it on the file a package really installed
    transform: Callable[[bytes], bytes] | None = None
    # Postfix loads it as it loads main.cf (an ldap:/mysql: table's file): dated back once written (Host.age)
    postfix_reads: bool = False
    base: bytes | None = field(default=None, init=False)
    predicted: bool = field(default=False, init=False)

    kind = "file"

    def key(self) -> str:
        return f"file:{self.path}"

    def describe(self) -> str:
        verb = "create" if self.base is None else "update"
        text = f"{verb} {self.path} ({_mode_str(self.mode)} {self.owner}:{self.group})"
        return f"{text}: {self.summary}" if self.summary else text

    def diff(self) -> str:
        if self.secret:
            return (f"--- {self.path}\n+++ {self.path}\n"
                    f"(secret-bearing file: {len(self.content.splitlines())} lines, content not shown)\n")
        old = (self.base or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = self.content.decode("utf-8", "replace").splitlines(keepends=True)
        src = "/dev/null" if self.base is None else f"a{self.path}"
        return "".join(difflib.unified_diff(old, new, src, f"b{self.path}"))

    def check(self, ctx: PlanContext) -> str | None:
        self.base = ctx.read(self.path)
        self.predicted = self.path in ctx.predicted
        meta = ctx.stat(self.path)
        uid, gid = ctx.ids(self.owner, self.group)
        same_meta = meta is not None and meta.mode == self.mode and (meta.uid, meta.gid) == (uid, gid)
        # staged before the stat: a file already right is not re-staged
        ctx.stage(self.path, self.content, FileMeta(self.mode, uid, gid))
        if self.base == self.content and same_meta:
            return self.noop_reason or f"{self.path} already has this content"
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        current = host.read(self.path)
        content = self.content
        if current != self.base and current != self.content:
            if not (self.predicted and self.transform and current is not None):
                raise ChangedSincePlan(f"{self.path} changed since the plan was made; review the plan again")
            # the package shipped a file other than the platform's known one: same edit, on the real file
            content = self.transform(current)
            work.on_line(f"{self.path}: the installed file differs from the expected one; "
                         "the planned settings were applied to it")
        if self.validate_with:
            from mailwizard import validators
            complaint = validators.dovecot(host, self.validate_with, self.path, content, work.scratch())
            if complaint:
                raise RuntimeError(f"Dovecot refuses the new {self.path}; nothing was written:\n{complaint}")
        if host.uid(self.owner) is None or host.gid(self.group) is None:
            raise RuntimeError(f"cannot write {self.path}: user {self.owner} or group {self.group} does not exist")
        effects = Effects(dirs=host.missing_dirs(parent_dir(self.path)))
        return effects.write(self.path, content, secret=self.secret)

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        content, uid, gid = effects.files[self.path], host.uid(self.owner), host.gid(self.group)
        assert content is not None and uid is not None and gid is not None  # effects() made sure
        host.makedirs(parent_dir(self.path))
        host.write_atomic(self.path, content, mode=self.mode, uid=uid, gid=gid)
        if self.postfix_reads:
            host.age(self.path)


def parent_dir(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


@dataclass(eq=False)
class FileAttrs(Change):
    """Owner and mode of an existing file, done with the guide's chown/chmod."""

    path: str
    mode: int
    owner: str = "root"
    group: str = "root"
    service: str | None = None

    kind = "attrs"

    def key(self) -> str:
        return f"attrs:{self.path}"

    def commands(self) -> list[list[str]]:
        return [["chown", f"{self.owner}:{self.group}", self.path], ["chmod", _mode_str(self.mode), self.path]]

    def describe(self) -> str:
        return f"set {self.path} to {_mode_str(self.mode)} {self.owner}:{self.group}"

    def check(self, ctx: PlanContext) -> str | None:
        meta = ctx.stat(self.path)
        uid, gid = ctx.ids(self.owner, self.group)
        if meta is not None and meta.mode == self.mode and (meta.uid, meta.gid) == (uid, gid):
            return f"{self.path} is already {_mode_str(self.mode)} {self.owner}:{self.group}"
        if meta is not None or ctx.exists(self.path):
            ctx.metas[self.path] = FileMeta(self.mode, uid, gid)
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        return Effects(attrs=[self.path])  # owner and mode only: a key's bytes stay where they are

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        for argv in self.commands():
            host.run(argv, on_line=work.on_line, check=True)


@dataclass(eq=False)
class EnsureDir(FileAttrs):
    """A directory that exists with this owner and mode (created if missing), by the guide's chown/chmod."""

    kind = "directory"

    def key(self) -> str:
        return f"dir:{self.path}"

    def commands(self) -> list[list[str]]:
        return [["mkdir", "-p", self.path], *super().commands()]

    def describe(self) -> str:
        return f"directory {self.path}, {_mode_str(self.mode)} {self.owner}:{self.group}"

    def check(self, ctx: PlanContext) -> str | None:
        meta = ctx.stat(self.path)
        if meta is not None and not meta.is_dir:
            return None  # apply will fail with a clear message: a file is in the way
        reason = super().check(ctx)
        if reason is None:
            ctx.metas[self.path] = FileMeta(self.mode, *ctx.ids(self.owner, self.group), is_dir=True)
        return reason

    def effects(self, host: Host, work: Work) -> Effects:
        meta = host.stat(self.path)
        if meta is not None and not meta.is_dir:
            raise RuntimeError(f"{self.path} exists and is not a directory; move it away first")
        if meta is not None and meta.mode == self.mode and (meta.uid, meta.gid) == (host.uid(self.owner),
                                                                                   host.gid(self.group)):
            # made so since the plan (by the package the plan installed): nothing to do, nothing to undo, as a
            # run resumed after that install plans it (a no-op) -- the journal stays the uninterrupted run's
            work.on_line(f"{self.path} is already {_mode_str(self.mode)} {self.owner}:{self.group}")
            return Effects()
        return Effects(attrs=[self.path] if meta is not None else [], dirs=host.missing_dirs(self.path))

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        if not effects.attrs and not effects.dirs and host.exists(self.path):
            return  # already as planned (see effects())
        host.makedirs(self.path, self.mode)
        for argv in super().commands():
            host.run(argv, on_line=work.on_line, check=True)


@dataclass(eq=False)
class RemoveFile(Change):
    """A file the wizard wrote earlier and no longer wants."""

    path: str
    reason: str
    secret: bool = False
    service: str | None = None

    kind = "remove"

    def key(self) -> str:
        return f"remove:{self.path}"

    def commands(self) -> list[list[str]]:
        return [["rm", "-f", self.path]]

    def describe(self) -> str:
        return f"remove {self.path}: {self.reason}"

    def check(self, ctx: PlanContext) -> str | None:
        if not ctx.exists(self.path):
            return f"{self.path} does not exist"
        ctx.stage(self.path, None, None)
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        return Effects().write(self.path, None, secret=self.secret)

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        host.remove(self.path)
        work.on_line(f"removed {self.path}")


@dataclass(eq=False)
class Command(Change):
    """A command run as its exact argv; `noop_reason` is filled by the step when already done."""

    argv: list[str]
    summary: str
    input: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    noop_reason: str | None = None
    reversible: bool = False
    undo_hint: str = ""
    service: str | None = None
    pre: list[list[str]] = field(default_factory=list)  # commands run first (e.g. debconf answers)
    pre_input: str | None = None
    undo: list[list[str]] = field(default_factory=list)  # the exact commands that undo it, run by rollback
    creates: list[str] = field(default_factory=list)  # files it makes: journalled first, removed by rollback

    kind = "command"

    def __post_init__(self) -> None:
        if self.undo or self.creates:
            self.reversible = True

    def key(self) -> str:
        return "command:" + " ".join(self.argv)

    def commands(self) -> list[list[str]]:
        envs = [f"{k}={v}" for k, v in self.env.items()]
        main = (["env", *envs] if envs else []) + self.argv
        return [*self.pre, main]

    def describe(self) -> str:
        return self.summary

    def stdin(self) -> str:
        return (self.pre_input or "") + (self.input or "")

    def check(self, ctx: PlanContext) -> str | None:
        return self.noop_reason

    def effects(self, host: Host, work: Work) -> Effects:
        # the inverse is journalled before the command runs: a run killed right after it still knows it
        irreversible = "" if self.reversible else self.summary + (f" ({self.undo_hint})" if self.undo_hint else "")
        return Effects(files=dict.fromkeys(self.creates), undo=[list(a) for a in self.undo], irreversible=irreversible)

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        for argv in self.pre:
            host.run(argv, input=self.pre_input, on_line=work.on_line, check=True)
        work.on_line("$ " + " ".join(self.commands()[-1]))
        host.run(self.argv, input=self.input, env=self.env or None, on_line=work.on_line, check=True)


@dataclass(eq=False)
class ServiceState(Change):
    """A service enabled at boot and running with the configuration just written."""

    name: str
    profile: "Profile"
    actions: list[str] = field(default_factory=list)  # filled by check()

    kind = "service"
    reversible = False

    def key(self) -> str:
        return f"service:{self.name}"

    def describe(self) -> str:
        return f"{' and '.join(self.actions) or 'keep'} {self.name}"

    def _argv(self, profile: "Profile") -> list[list[str]]:
        out = []
        for action in self.actions:
            if action == "enable and start" and profile.service_manager == "systemd":
                out.append(profile.service_argv("enable-now", self.name))
            elif action == "enable and start":
                out += [profile.service_argv("enable", self.name), profile.service_argv("start", self.name)]
            else:
                out.append(profile.service_argv(action, self.name))
        return out

    def commands(self) -> list[list[str]]:
        return self._argv(self.profile)

    def check(self, ctx: PlanContext) -> str | None:
        host, profile = ctx.host, self.profile
        running = service_running(host, profile, self.name)
        enabled = service_enabled(host, profile, self.name)
        dirty = self.name in ctx.pending_reloads or self.name in ctx.dirty
        self.actions = []
        if not running:
            self.actions.append("enable and start" if not enabled else "start")
        else:
            if not enabled:
                self.actions.append("enable")
            if dirty:
                self.actions.append("reload")
        if not self.actions:
            return f"{self.name} is enabled, running, and its configuration is unchanged"
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        starts = any(a in ("start", "enable and start") for a in self.actions)
        # not started at boot right before this change: rollback makes it so again. Asked of the host now, not
        # of the plan: a package the same run installed may have enabled its service since (Debian's do), and
        # then there is nothing of the wizard's to undo, whether the install ran uninterrupted or was resumed
        enables = any(a in ("enable", "enable and start") for a in self.actions) and \
            not service_enabled(host, self.profile, self.name)
        return Effects(settles=[self.name], started=[self.name] if starts else [],
                       undo=[self.profile.service_argv("disable", self.name)] if enables else [])

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        for argv in self.commands():
            work.on_line("$ " + " ".join(argv))
            host.run(argv, on_line=work.on_line, check=True)


@dataclass(eq=False)
class ServiceOff(ServiceState):
    """A service stopped and no longer started at boot: a feature turned off again (its files are left).

    Rollback enables it again if it was enabled, and starts it again if it ran before the wizard (one
    the wizard started itself is stopped by rollback anyway).
    """

    summary: str = ""
    reversible = True

    def key(self) -> str:
        return f"service-off:{self.name}"

    def describe(self) -> str:
        text = f"{' and '.join(self.actions) or 'keep stopped and disabled'} {self.name}"
        return f"{text}: {self.summary}" if self.summary else text

    def commands(self) -> list[list[str]]:
        if self.actions == ["stop", "disable"] and self.profile.service_manager == "systemd":
            return [self.profile.service_argv("disable-now", self.name)]
        return [self.profile.service_argv(action, self.name) for action in self.actions]

    def check(self, ctx: PlanContext) -> str | None:
        running = service_running(ctx.host, self.profile, self.name)
        enabled = service_enabled(ctx.host, self.profile, self.name)
        self.actions = ["stop"] * running + ["disable"] * enabled
        return None if self.actions else f"{self.name} is stopped and not started at boot"

    def effects(self, host: Host, work: Work) -> Effects:
        enabled = service_enabled(host, self.profile, self.name)
        return Effects(undo=[self.profile.service_argv("enable", self.name)] if enabled else [],
                       settles=[self.name],
                       stopped=[self.name] if service_running(host, self.profile, self.name) else [])


def service_status(host: Host, profile: "Profile", name: str) -> tuple[bool, str]:
    """Whether the service runs, and what its status command said. Debian's init scripts for Postfix and
    Dovecot exit 0 silently while their main configuration file is missing (a package install killed
    halfway): without systemd, only "running" said counts."""
    status = host.run(profile.service_argv("status", name))
    said = status.output.strip()[-200:]
    if profile.service_manager == "systemd":
        return status.ok, said
    running = status.ok and "running" in status.output and "not running" not in status.output
    if status.ok and not said:
        said = f"`{' '.join(profile.service_argv('status', name))}` exits 0 and says nothing: its init script " \
               "does that while its configuration file is missing"
    return running, said


def service_running(host: Host, profile: "Profile", name: str) -> bool:
    return service_status(host, profile, name)[0]


def service_enabled(host: Host, profile: "Profile", name: str) -> bool:
    if profile.service_manager == "systemd":
        return host.run(["systemctl", "is-enabled", name]).ok
    return any(n.startswith("S") and n[3:] == name for n in host.listdir("/etc/rc2.d")) or \
        name in getattr(getattr(host, "state", None), "enabled", ())


@dataclass
class Plan:
    platform: str
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)

    def active(self) -> list[Change]:
        return [c for c in self.changes if c.noop is None]

    def to_json(self) -> dict:
        return {"platform": self.platform, "warnings": self.warnings,
                "changes": [c.to_json() for c in self.changes],
                "summary": {"changes": len(self.active()),
                            "noops": len(self.changes) - len(self.active())}}

    def render_text(self) -> str:
        out = [f"Plan for {self.platform}: {len(self.active())} change(s), "
               f"{len(self.changes) - len(self.active())} already done"]
        for w in self.warnings:
            out.append(f"warning: {w}")
        step = None
        for c in self.changes:
            if c.step != step:
                step = c.step
                out.append(f"\n== {step}")
            if c.noop:
                out.append(f"  = {c.describe()}  (no-op: {c.noop})")
                continue
            out.append(f"  + {c.describe()}")
            if c.conflict:
                out.append(f"    ! {c.conflict}: your edit or mailwizard's? (--on-conflict keep|take|stop)")
            for argv in c.commands():
                out.append("    $ " + " ".join(_shell_quote(a) for a in argv))
            if c.stdin():
                out.extend("    < " + line for line in c.stdin().splitlines())
            d = c.diff()
            if d:
                out.extend("    " + line for line in d.rstrip("\n").splitlines())
        return "\n".join(out) + "\n"


def _shell_quote(arg: str) -> str:
    import shlex
    return shlex.quote(arg)


@dataclass
class Check:
    """One verification result: pass, warn or fail, with evidence and a fix."""

    step: str
    name: str
    status: str  # "pass" | "warn" | "fail"
    evidence: str = ""
    fix: str = ""

    def to_json(self) -> dict:
        return dict(step=self.step, name=self.name, status=self.status, evidence=self.evidence, fix=self.fix)

