"""Postfix's own files, edited with Postfix's own tools: `postconf -e/-X/-#` for main.cf,
`postconf -M/-P` for master.cf, `postmap` (and `postalias`) for indexed maps.

A `Postconf` or `MasterService` change plans the exact postconf argv; its review
diff is main.cf/master.cf before and after, made by running the real
`postconf -c COPYDIR ...` on a scratch copy when this machine has postconf and
the file is really there, and otherwise (a host before Postfix is installed,
`--platform` planning, the fake host) by the Python emulation below, which
follows postconf's source (postconf_edit.c, postconf_master.c) line for line
in what it does to the text. tests/test_real_postfix.py proves the two agree
on every platform's fresh files for the settings the wizard writes.

Order of appended settings: Postfix 3.7 appends the new parameters of one
`postconf -e` in hash-table order, which is seeded randomly (later versions
sort them). So settings already in main.cf are changed in one `postconf -e`,
and each new one is appended by its own `postconf -e`, in the plan's order:
the file after apply is the file the review showed.

Apply: the files are backed up into the journal, the commands run on the live
configuration, the files are dated back past Postfix's cool-down (`cool`),
then `postfix check` and `postconf -n` must pass -- once per batch of
consecutive Postfix edits, after the last of them (engine.batch); if either
fails, every file the batch changed is put back as it was before the batch
and the change fails with Postfix's own message.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailwizard.host import CommandFailed, FileMeta, Host, LineSink
from mailwizard.plan import Change, Effects, PlanContext, PutBack, Work

BLANKS = " \t\r\n"
LINE_LIMIT = 80
INDENT = "    "
COLUMN_GOAL = (0, 11, 17, 25, 33, 41, 49, 57)
MIN_FIELDS = 8
MASTER_TYPES = ("unix", "unix-dgram", "fifo", "inet", "pass")
DEFAULT_DIR = "/etc/postfix"
# the file postmap/postalias makes for a map type
MAP_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "dbm": ".pag", "sdbm": ".pag"}
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SERVICE = re.compile(r"^[A-Za-z0-9_.:\[\]-]+$")


class PostconfError(ValueError):
    """What real postconf would refuse (its own fatal message)."""


# --- emulation: main.cf -------------------------------------------------------

MAIN_CF = "postfix main.cf"  # the kind of PlanContext.parsed() that MainCf is

def _lines(text: str) -> list[str]:
    """The file's lines, each ending in a newline (postconf adds a missing last one)."""
    out = text.splitlines(keepends=True)
    return [line if line.endswith("\n") else line + "\n" for line in out]


def _content_start(line: str) -> int | None:
    """Index of the first non-blank character, or None for a comment, blank or empty line."""
    stripped = line.lstrip(BLANKS)
    if stripped == "" or stripped.startswith("#"):
        return None
    return len(line) - len(stripped)


def split_nameval(text: str) -> tuple[str, str]:
    """Postfix's split_nameval(): `name = value`, blanks around both trimmed."""
    name, eq, value = text.partition("=")
    name = name.strip(BLANKS)
    if not eq:
        raise PostconfError(f'missing \'=\' after attribute name: "{text}"')
    if not name:
        raise PostconfError(f'missing attribute name: "{text}"')
    return name, value.strip(BLANKS)


def _edit_table(mode: str, args: list[str]) -> dict[str, str | None]:
    """The parameters of `postconf -e|-X|-# ARGS`, as postconf reads them: the last of a name wins."""
    table: dict[str, str | None] = {}
    for arg in args:
        if "\n" in arg:
            raise PostconfError("-e, -X, or -# accepts no multi-line input")
        arg = arg.lstrip(BLANKS)
        if arg.startswith("#"):
            raise PostconfError("-e, -X, or -# accepts no comment input")
        if mode == "e":
            name, value = split_nameval(arg)
        else:
            if "=" in arg:
                raise PostconfError("-X or -# requires parameter names without value")
            name, value = arg.rstrip(BLANKS), None
            if not name:
                raise PostconfError("-X or -# requires non-blank parameter names")
        table.pop(name, None)
        table[name] = value
    return table


def edit_main(text: str, mode: str, args: list[str]) -> str:
    """What `postconf -e|-X|-# ARGS` does to main.cf's text (mode "e", "X" or "#")."""
    table = _edit_table(mode, args)
    found: set[str] = set()
    out: list[str] = []
    interesting = False
    for line in _lines(text):
        start = _content_start(line)
        if start is None:
            out.append(line)
        elif start > 0:  # continued text
            if not interesting:
                out.append(line)
            elif mode == "#":
                out.append("#" + line)
        else:
            key = re.split(r"[ \t\r\n=]", line, maxsplit=1)[0]
            interesting = key in table
            if interesting:
                found.add(key)
                if mode == "e":
                    out.append(f"{key} = {table[key]}\n")
                elif mode == "#":
                    out.append("#" + line)
            else:
                out.append(line)
    if mode == "e":
        for key, value in table.items():  # one new key per command: order is the plan's
            if key not in found:
                out.append(f"{key} = {value}\n")
    return "".join(out)


def main_values(text: str) -> dict[str, str]:
    """main.cf's settings as postconf reads them: logical lines joined, the last one wins."""
    values: dict[str, str] = {}
    key = None
    for line in _lines(text or ""):
        start = _content_start(line)
        if start is None:
            continue
        if start > 0 and key is not None:
            values[key] = (values[key] + " " + line.strip(BLANKS)).strip()
            continue
        try:
            key, value = split_nameval(line)
        except PostconfError:
            key = None
            continue
        values[key] = value
    return values


class MainCf:
    """main.cf read once per plan, then kept in step with the `postconf -e` and `-X` edits planned on it.

    edit() changes the text exactly as edit_main() does and values() is what
    main_values() reads, without going over the whole file again for each
    command: the file is held as runs of lines, one per setting (its line, its
    continuation lines and the comments among them), indexed by name. A file
    with a line these runs cannot stand for (a setting's line that does not read
    as `name = value`, a continuation before the first setting) is left to
    those functions: parse() gives None.
    """

    def __init__(self, runs: list[list[str]], names: dict[str, list[list[str]]], values: dict[str, str]):
        self._runs = runs
        self._names = names
        self._values = values

    @classmethod
    def parse(cls, text: str) -> "MainCf | None":
        runs: list[list[str]] = [[]]  # the first run: comments and blank lines before the first setting
        names: dict[str, list[list[str]]] = {}
        for line in _lines(text):
            start = _content_start(line)
            if start is None:
                runs[-1].append(line)
            elif start > 0:
                if len(runs) == 1:
                    return None
                runs[-1].append(line)
            else:
                name = _setting_name(line)
                if name is None:
                    return None
                runs.append([line])
                names.setdefault(name, []).append(runs[-1])
        return cls(runs, names, main_values(text))

    def text(self) -> str:
        return "".join(line for run in self._runs for line in run)

    def values(self) -> dict[str, str]:
        return self._values

    def edit(self, mode: str, args: list[str]) -> bool:
        """Make `postconf -e|-X ARGS` (mode "e" or "X"); False, with nothing done, for what edit_main() must do."""
        table = _edit_table(mode, args)
        if mode not in ("e", "X") or \
                any(_setting_name(f"{name} = {value}\n") != name for name, value in table.items()):
            return False
        for name, value in table.items():
            runs = self._names.get(name)
            if mode == "X":
                for run in self._names.pop(name, []):
                    run[:] = [line for line in run[1:] if _content_start(line) is None]
                self._values.pop(name, None)
                continue
            line = f"{name} = {value}\n"
            if runs:  # every line of the setting becomes this one line; the comments among them stay
                for run in runs:
                    run[:] = [line] + [other for other in run[1:] if _content_start(other) is None]
            else:
                self._runs.append([line])
                self._names[name] = [self._runs[-1]]
            self._values[name] = split_nameval(line)[1]
        return True


def _setting_name(line: str) -> str | None:
    """The name of a setting's first line, when postconf's editor and its reader both take it as that name."""
    key = re.split(r"[ \t\r\n=]", line, maxsplit=1)[0]
    try:
        name, _ = split_nameval(line)
    except PostconfError:
        return None
    return name if name == key and _lines(line) == [line] else None


# --- emulation: master.cf -----------------------------------------------------

def _split_master(text: str) -> list[str]:
    """argv_splitq(): split on blanks, keeping {...} together (braces still on)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in BLANKS:
            i += 1
        if i >= n:
            break
        start = i
        depth = 0
        while i < n and (depth > 0 or text[i] not in BLANKS):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}" and depth:
                depth -= 1
            i += 1
        out.append(text[start:i])
    return out


def _extract(arg: str) -> str:
    """extpar(): the text inside {}, blanks around it trimmed."""
    if arg.startswith("{") and arg.endswith("}"):
        return arg[1:-1].strip(BLANKS)
    return arg


def _normalize_args(argv: list[str]) -> list[str]:
    """pcf_normalize_daemon_args(): `-oname=value` as `-o` `name=value`, {} taken off."""
    argv = list(argv)
    field_ = MIN_FIELDS
    while field_ < len(argv):
        arg = argv[field_]
        if not arg.startswith("-") or arg == "--":
            break
        for pos in range(2, len(arg)):
            if arg[pos] == "o":  # "-vo..." becomes "-v" "-o..."
                argv.insert(field_ + 1, "-" + arg[pos:])
                arg = argv[field_] = arg[:pos]
                break
        if len(arg) < 2 or arg[1] != "o":
            field_ += 1
            continue
        if len(arg) > 2:
            argv.insert(field_ + 1, arg[2:])
            argv[field_] = "-o"
            field_ += 1
        elif field_ + 1 < len(argv):
            field_ += 1
        else:
            field_ += 1
            continue
        if argv[field_].startswith("{"):
            value = _extract(argv[field_])
            name, value = split_nameval(value)
            argv[field_] = f"{name}={value}"
        field_ += 1
    while field_ < len(argv):
        if argv[field_].startswith("{"):
            argv[field_] = _extract(argv[field_])
        field_ += 1
    return argv


def parse_entry(text: str) -> list[str]:
    """pcf_parse_master_entry(): a whole master.cf entry as its normalised fields."""
    argv = _split_master(text)
    if len(argv) < MIN_FIELDS:
        raise PostconfError("bad field count")
    if argv[1] not in MASTER_TYPES:
        raise PostconfError(f'invalid type field "{argv[1]}" in "{text}"')
    for value in argv[2:5]:
        if len(value) != 1 or value not in "yn-":
            raise PostconfError(f'invalid private/unpriv/chroot field "{value}" in "{text}"')
    wakeup = argv[5].rstrip("?") if argv[5].endswith("?") else argv[5]
    if wakeup != "-" and not wakeup.isdigit():
        raise PostconfError(f'invalid wakeup field "{argv[5]}" in "{text}"')
    if argv[6] != "-" and not argv[6].isdigit():
        raise PostconfError(f'invalid maxproc field "{argv[6]}" in "{text}"')
    return _normalize_args(argv)


def format_entry(argv: list[str]) -> str:
    """pcf_print_master_entry() with line folding, as postconf -M/-P writes an entry."""
    out = ""
    line_len = 0
    for i in range(MIN_FIELDS):
        if line_len > 0:
            while True:
                out += " "
                line_len += 1
                if line_len >= COLUMN_GOAL[i]:
                    break
        out += argv[i]
        line_len += len(argv[i])
    in_options = True
    i = MIN_FIELDS
    while i < len(argv):
        arg = argv[i]
        arg_len = len(arg)
        aval = None
        parens = False
        if in_options:
            if not arg.startswith("-") or arg == "--":
                in_options = False
            elif len(arg) > 1 and arg[1] == "o" and i + 1 < len(argv):
                aval = argv[i + 1]
                line_len = LINE_LIMIT
                arg_len += len(aval) + 3
                parens = any(c in BLANKS for c in aval)
                if parens:
                    arg_len += 2
        if not in_options:
            parens = any(c in BLANKS for c in arg)
        if line_len > len(INDENT):
            if line_len + 1 + arg_len < LINE_LIMIT:
                out += " "
                line_len += 1
            else:
                out += "\n" + INDENT
                line_len = len(INDENT)
        if not in_options and parens:
            out += "{"
            line_len += 1
        out += arg
        line_len += len(arg)
        if not in_options and parens:
            out += "}"
            line_len += 1
        if aval is not None:
            out += " " + ("{" if parens else "") + aval + ("}" if parens else "")
            i += 1
            line_len = LINE_LIMIT
        i += 1
    return out + "\n"


def _pattern(text: str, parts: int) -> list[str]:
    bits = text.split("/", parts - 1)
    if len(bits) != parts or not all(bits):
        raise PostconfError(f"requires {'/'.join(['service_name', 'type', 'parameter'][:parts])}")
    return bits


def edit_master(text: str, mode: str, args: list[str]) -> str:
    """What `postconf -M name/type=ENTRY ...` (mode "M") or `-P name/type/param=value ...`
    (mode "P") does to master.cf's text."""
    reqs: list[dict[str, Any]] = []
    for arg in args:
        if "\n" in arg:
            raise PostconfError("-Me, -Fe, -Pe, -X, or -# accept no multi-line input")
        pattern, value = split_nameval(arg.lstrip(BLANKS))
        if mode == "M":
            name, type_ = _pattern(pattern, 2)
            reqs.append({"name": name, "type": type_, "entry": parse_entry(value), "count": 0})
        else:
            name, type_, param = _pattern(pattern, 3)
            if any(c in BLANKS for c in value):
                raise PostconfError("-Pe does not accept whitespace in parameter value")
            reqs.append({"name": name, "type": type_, "param": param, "value": value, "count": 0})
    lines = _lines(text)
    out: list[str] = []
    matched = False
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        start = _content_start(line)
        if start is None:
            out.append(line)
            continue
        if start > 0:
            if not matched:
                out.append(line)
            continue
        matched = False
        words = line.split()
        if len(words) < 2:
            raise PostconfError("specify service name and type on the same line")
        name, type_ = words[0], words[1]
        new_entry = None
        for req in reqs:
            tentative = req.get("entry")
            use = False
            if (req["name"], req["type"]) == (name, type_):
                matched = True
                req["count"] += 1
                if mode == "P":
                    if new_entry is None:  # gobble the continuation lines, pass comments through
                        full = line
                        while i < len(lines) and (lines[i][:1] == "#" or lines[i][:1] in BLANKS):
                            nxt = lines[i]
                            i += 1
                            if _content_start(nxt) is None:
                                out.append(nxt)
                            else:
                                full += nxt
                        new_entry = parse_entry(full)
                    new_entry = _set_param(new_entry, req["param"], req["value"])
                elif req["count"] == 1:
                    use = True
            elif tentative is not None and (tentative[0], tentative[1]) == (name, type_):
                matched = True
                req["count"] += 1
                use = req["count"] == 1
            if use:
                new_entry = list(req["entry"])
        if new_entry is not None:
            out.append(format_entry(new_entry))
        elif not matched:
            out.append(line)
    for req in reqs:
        if req["count"] == 0 and mode == "M":
            out.append(format_entry(req["entry"]))
    return "".join(out)


def _set_param(argv: list[str], param: str, value: str) -> list[str]:
    """pcf_edit_master_param(): replace `-o param=...`, or add it after the other options."""
    argv = list(argv)
    i = MIN_FIELDS
    found = False
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "--":
            break
        if len(arg) > 1 and arg[1] == "o" and i + 1 < len(argv):
            if arg == "-o" and argv[i + 1].startswith(param + "="):
                argv[i + 1] = f"{param}={value}"
                found = True
            i += 1
        i += 1
    if not found:
        argv[i:i] = ["-o", f"{param}={value}"]
    return argv


def master_entries(text: str) -> dict[tuple[str, str], list[str]]:
    """Every active master.cf entry, normalised, by (service, type)."""
    entries: dict[tuple[str, str], list[str]] = {}
    current: list[str] = []

    def flush():
        if current:
            try:
                argv = parse_entry("".join(current))
            except PostconfError:
                return
            entries.setdefault((argv[0], argv[1]), argv)

    for line in _lines(text or ""):
        start = _content_start(line)
        if start is None:
            continue
        if start > 0:
            current.append(line)
            continue
        flush()
        current = [line]
    flush()
    return entries


def entry_params(argv: list[str]) -> dict[str, str]:
    """The `-o name=value` parameters of a normalised entry."""
    out = {}
    i = MIN_FIELDS
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        if argv[i] == "-o" and i + 1 < len(argv):
            name, _, value = argv[i + 1].partition("=")
            out[name] = value
            i += 1
        i += 1
    return out


def emulate(files: dict[str, str], argv: list[str]) -> dict[str, str]:
    """Run one `postconf` edit command on {"main.cf": text, "master.cf": text}; returns the new files."""
    if not argv or argv[0] != "postconf":
        raise PostconfError(f"not a postconf command: {argv}")
    args = list(argv[1:])
    if args[:1] == ["-c"]:
        args = args[2:]
    option, rest = args[0], args[1:]
    files = dict(files)
    if option in ("-e", "-X", "-#"):
        files["main.cf"] = edit_main(files.get("main.cf") or "", option[1], rest)
    elif option in ("-M", "-P"):
        files["master.cf"] = edit_master(files.get("master.cf") or "", option[1], rest)
    else:
        raise PostconfError(f"postconf {option} is not an edit this emulation knows")
    return files


# --- values going into main.cf / master.cf --------------------------------------

def unsafe_value(value: str) -> str | None:
    """Why `value` cannot be written safely as a Postfix setting's value, or None."""
    if any(c in value for c in "\n\r\0"):
        return "contains a line break"
    if any(ord(c) < 32 and c != "\t" for c in value):
        return "contains a control character"
    if value.lstrip().startswith("#"):
        return "starts with # (Postfix would read a comment)"
    return None


def check_setting(key: str, value: str) -> None:
    if not _NAME.match(key):
        raise ValueError(f"{key!r} is not a Postfix parameter name")
    if why := unsafe_value(value):
        raise ValueError(f"{key} = {value!r} {why}")


# --- the changes --------------------------------------------------------------

def config_args(host: Host, config_dir: str) -> list[str]:
    """`-c DIR` when the live configuration is not where postconf looks by default."""
    seen = host.command_path(config_dir)
    if seen != DEFAULT_DIR:
        return ["-c", seen]
    return []


def cool(host: Host, paths: list[str]) -> None:
    """Date back the Postfix files just written whole (postconf renames its edits into place), so that
    `postfix check`, postmap and a reload read them without Postfix's cool-down pause (Host.age)."""
    for path in paths:
        if host.exists(path):
            host.age(path)


def with_config(argv: list[str], extra: list[str]) -> list[str]:
    return [argv[0], *extra, *argv[1:]] if extra else list(argv)


def postfix_check(host: Host, config_dir: str = DEFAULT_DIR, on_line: LineSink | None = None) -> str | None:
    """Postfix's complaint about the live configuration (`postfix check`, `postconf -n`), or None."""
    extra = config_args(host, config_dir)
    check = host.run(["postfix", *extra, "check"])
    parse = host.run(["postconf", *extra, "-n"])
    if on_line:
        for line in check.output.splitlines():
            on_line(line)
    if check.ok and parse.ok:
        return None
    # without a syslog daemon `postfix check` says nothing; postconf's warnings tell why
    said = [line for line in (check.output + parse.output).splitlines()
            if "warning" in line or "fatal" in line or "error" in line.lower()]
    failed = "postfix check" if not check.ok else "postconf -n"
    return f"`{failed}` failed:\n" + ("\n".join(dict.fromkeys(said)) or check.output.strip())[-1500:]


def _quote_items(items: list[tuple[str, str]]) -> str:
    return ", ".join(f"{k} = {v}" if v != "" else f"{k} =" for k, v in items)


class _PostfixEdit(Change):
    """Shared verbs: commands computed against the planned file, diff, apply with check and restore."""

    files: tuple[str, ...] = ("main.cf",)
    config_dir: str  # both set by the dataclass subclasses
    summary: str
    restart = False  # a setting only a restart (not a reload) puts in force, e.g. inet_interfaces

    def _init_state(self) -> None:
        self.argvs: list[list[str]] = []
        self.before: dict[str, str | None] = {}
        self.after: dict[str, str] = {}
        self.tool = ""  # "postconf" (on a copy) or "emulation": how the diff was made

    def path(self, name: str) -> str:
        return f"{self.config_dir}/{name}"

    def commands(self) -> list[list[str]]:
        return [list(a) for a in self.argvs]

    def describe(self) -> str:
        return self.summary

    def plan_argvs(self, current: dict[str, str], main: MainCf | None) -> tuple[list[list[str]], str]:
        """(the commands, the no-op reason when there are none); `main` is main.cf parsed, when it can be."""
        raise NotImplementedError

    def check(self, ctx: PlanContext) -> str | None:
        current = {name: ctx.read_text(self.path(name)) for name in ("main.cf", "master.cf")}
        main = ctx.parsed(self.path("main.cf"), MAIN_CF, MainCf.parse)
        self.before = {name: current[name] for name in self.files}
        self.argvs, reason = self.plan_argvs({k: v or "" for k, v in current.items()}, main)
        if not self.argvs:
            self.after = {name: current[name] or "" for name in self.files}
            return reason
        self.after, self.tool, main = compute_after(ctx, self.config_dir, current, self.argvs, main)
        for name in self.files:
            meta = ctx.stat(self.path(name)) or FileMeta(0o644, 0, 0)
            content = self.after[name].encode("utf-8", "surrogateescape")
            ctx.stage(self.path(name), content, meta)
            if name == "main.cf":
                ctx.keep_parsed(self.path(name), MAIN_CF, content, main)
        if all(self.after[n] == (self.before[n] or "") for n in self.files):
            return reason
        if self.restart and self.service == "postfix":
            self.service = "postfix:restart"  # marked pending in the journal: a resumed run restarts too
        return None

    def diff(self) -> str:
        out = []
        for name in self.files:
            old = (self.before.get(name) or "").splitlines(keepends=True)
            new = self.after.get(name, "").splitlines(keepends=True)
            path = self.path(name)
            out.append("".join(difflib.unified_diff(old, new, f"a{path}", f"b{path}")))
        return "".join(out)

    def batch_key(self) -> str:
        return f"postfix:{self.config_dir}"

    def effects(self, host: Host, work: Work) -> Effects:
        effects = Effects()
        for name in self.files:
            path = self.path(name)
            current = host.read(path)
            if current is not None and current.decode("utf-8", "surrogateescape") != (self.before.get(name) or ""):
                work.on_line(f"{path} differs from the file the plan was made from; "
                             "the planned postconf edits were made to it")
            effects.write(path, None)  # postconf edits it in steps: a kill between them is no admin's edit
        return effects

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        on_line = work.on_line
        paths = [self.path(n) for n in self.files]
        # the files as they were before this batch of consecutive Postfix edits, which the batch's last
        # edit validates once (`postfix check` costs ~0.3 s): if Postfix refuses, all of them go back
        saved = self.batch if self.batch is not None else {}
        for path in paths:
            saved.setdefault(path, (host.read(path), host.stat(path)))
        extra = config_args(host, self.config_dir)
        complaint = None
        try:
            for argv in self.argvs:
                on_line("$ " + " ".join(argv))
                host.run(with_config(argv, extra), on_line=on_line, check=True)
            cool(host, paths)
            if self.batch_end:
                complaint = postfix_check(host, self.config_dir, on_line)
        except CommandFailed as exc:
            complaint = str(exc)
        if complaint:
            for path, (data, meta) in saved.items():
                if data is not None and meta is not None and host.read(path) != data:
                    host.write_atomic(path, data, mode=meta.mode, uid=meta.uid, gid=meta.gid)
            cool(host, list(saved))
            raise PutBack(f"Postfix refuses the new configuration; "
                          f"{' and '.join(saved)} put back as they were:\n{complaint}", list(saved))


def compute_after(ctx: PlanContext, config_dir: str, current: dict[str, str | None], argvs: list[list[str]],
                  main: MainCf | None = None) -> tuple[dict[str, str], str, MainCf | None]:
    """main.cf and master.cf after the commands: real postconf on a copy when possible, else the emulation.

    `main` is main.cf parsed (MainCf): the emulation edits it in place and gives it back, in step with
    the new main.cf; None when it could not (parse the new text again).
    """
    host = ctx.host
    live = [f"{config_dir}/{n}" for n in ("main.cf", "master.cf")]
    real_ok = (not ctx.offline and host.runs_real_tools and host.which("postconf") is not None
               and all(host.exists(p) and p not in ctx.predicted for p in live))
    if real_ok:
        with tempfile.TemporaryDirectory(prefix="mailwizard-postconf-") as tmp:
            for name in ("main.cf", "master.cf"):
                Path(tmp, name).write_text(current.get(name) or "", encoding="utf-8", errors="surrogateescape")
            ok = True
            for argv in argvs:
                result = host.run(["postconf", "-c", tmp, *argv[1:]])
                if not result.ok:
                    ok = False
                    break
            if ok:
                return ({n: Path(tmp, n).read_text(encoding="utf-8", errors="surrogateescape")
                         for n in ("main.cf", "master.cf")}, "postconf", None)
    files = {n: current.get(n) or "" for n in ("main.cf", "master.cf")}
    edited = False  # main holds edits that files["main.cf"] does not have yet
    for argv in argvs:
        if main is not None and argv[:1] == ["postconf"] and argv[1:2] in (["-e"], ["-X"]):
            if main.edit(argv[1][1], argv[2:]):
                edited = True
                continue
            if edited:
                files["main.cf"] = main.text()
            main = None
        files = emulate(files, argv)
    if main is not None and edited:
        files["main.cf"] = main.text()
    return files, "emulation", main


@dataclass(eq=False)
class Postconf(_PostfixEdit):
    """main.cf settings with `postconf -e 'key=value' ...` (and `postconf -X key` to remove one)."""

    settings: list[tuple[str, str]]
    summary: str = ""
    remove: list[str] = field(default_factory=list)
    noop_reason: str = ""
    service: str | None = "postfix"
    config_dir: str = DEFAULT_DIR

    kind = "postconf"
    files = ("main.cf",)

    def __post_init__(self):
        self._init_state()
        for key, value in self.settings:
            check_setting(key, value)
        for key in self.remove:
            check_setting(key, "")
        if not self.summary:
            self.summary = "main.cf: " + _quote_items(self.settings)

    def key(self) -> str:
        return "postconf:" + ",".join([k for k, _ in self.settings] + [f"-{k}" for k in self.remove])

    def plan_argvs(self, current: dict[str, str], main: MainCf | None) -> tuple[list[list[str]], str]:
        values = main.values() if main is not None else main_values(current["main.cf"])
        wanted = [(k, v) for k, v in self.settings if _norm(values.get(k)) != _norm(v)]
        existing = [(k, v) for k, v in wanted if k in values]
        new = [(k, v) for k, v in wanted if k not in values]
        argvs = []
        if existing:
            argvs.append(["postconf", "-e", *[f"{k}={v}" for k, v in existing]])
        argvs += [["postconf", "-e", f"{k}={v}"] for k, v in new]
        self.restart = any(k in RESTART_KEYS for k, _ in wanted)
        gone = [k for k in self.remove if k in values]
        if gone:
            argvs.append(["postconf", "-X", *gone])
        reason = self.noop_reason or ("main.cf already has " + _quote_items(self.settings)
                                      if self.settings else "main.cf has none of " + ", ".join(self.remove))
        return argvs, reason


def main_now(ctx: PlanContext) -> dict[str, str]:
    """main.cf's settings as the plan has them so far (the host's, with the changes planned before)."""
    return main_values(ctx.read_text(f"{ctx.profile.postfix_dir}/main.cf") or "")


def main_before(ctx: PlanContext) -> dict[str, str]:
    """main.cf's settings before the wizard first changed it (the journal's original; {} without one)."""
    original = ctx.originals(f"{ctx.profile.postfix_dir}/main.cf") or b""
    return main_values(original.decode("utf-8", "surrogateescape"))


def settings_as_before(ctx: PlanContext, keys: list[str], summary: str, wizards: Callable[[dict[str, str]], bool]
                       ) -> Postconf:
    """main.cf's `keys` put back as main.cf had them before the wizard first changed it (the journal's
    original): set again where it had them, removed where it had not, all removed when what it had was
    already the wizard's (`wizards` of those values: a setup of the same feature, now turned off)."""
    before = main_before(ctx)
    if wizards(before):
        before = {}
    back = [(k, before[k]) for k in keys if k in before]
    return Postconf(back, remove=[k for k in keys if k not in before],
                    summary=f"{summary}: " + ("set back as they were before mailwizard" if back else "removed"))


def _norm(value: str | None) -> str | None:
    return None if value is None else " ".join(value.split())


@dataclass(eq=False)
class MasterService(_PostfixEdit):
    """A master.cf service: `postconf -M name/type='...'` when it is missing, then `postconf -P` its `-o`s."""

    name: str
    type: str
    fields: tuple[str, ...]  # private unpriv chroot wakeup maxproc command [args]
    params: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""
    noop_reason: str = ""
    service: str | None = "postfix"
    config_dir: str = DEFAULT_DIR

    kind = "master.cf"
    files = ("master.cf",)

    def __post_init__(self):
        self._init_state()
        if not _SERVICE.match(self.name) or self.type not in MASTER_TYPES:
            raise ValueError(f"{self.name}/{self.type} is not a master.cf service")
        for key, value in self.params:
            check_setting(key, value)
            if any(c in value for c in BLANKS):
                raise ValueError(f"-o {key}={value}: postconf -P takes no blanks in a value")

    def key(self) -> str:
        return f"master:{self.name}/{self.type}"

    def entry(self) -> str:
        return " ".join([self.name, self.type, *self.fields])

    def plan_argvs(self, current: dict[str, str], main: MainCf | None) -> tuple[list[list[str]], str]:
        entries = master_entries(current["master.cf"])
        have = entries.get((self.name, self.type))
        argvs = []
        if have is None:
            argvs.append(["postconf", "-M", f"{self.name}/{self.type}={self.entry()}"])
            params = {}
        else:
            params = entry_params(have)
        todo = [(k, v) for k, v in self.params if params.get(k) != v]
        if todo:
            argvs.append(["postconf", "-P", *[f"{self.name}/{self.type}/{k}={v}" for k, v in todo]])
        reason = self.noop_reason or (f"master.cf already runs {self.name}/{self.type} with "
                                      + " ".join(f"-o {k}={v}" for k, v in self.params))
        return argvs, reason


def map_suffix(map_type: str) -> str:
    return MAP_SUFFIX.get(map_type, ".db")


@dataclass(eq=False)
class Postmap(Change):
    """An indexed map rebuilt from its source file: `postmap TYPE:FILE` (or `postalias` for aliases)."""

    source: str
    map_type: str
    tool: str = "postmap"
    service: str | None = "postfix"
    summary: str = ""
    secret: bool = False  # the map holds a password: its indexed copy is never copied into the journal

    kind = "postmap"
    reversible = True

    @property
    def indexed(self) -> str:
        return self.source + map_suffix(self.map_type)

    def key(self) -> str:
        return f"{self.tool}:{self.source}"

    def commands(self) -> list[list[str]]:
        return [[self.tool, f"{self.map_type}:{self.source}"]]

    def describe(self) -> str:
        return self.summary or f"build {self.indexed} from {self.source} ({self.map_type})"

    def check(self, ctx: PlanContext) -> str | None:
        planned = ctx.read(self.source)
        host = ctx.host
        changed = planned != host.read(self.source)
        if not changed and host.exists(self.indexed):
            try:
                fresh = host.real(self.indexed).stat().st_mtime >= host.real(self.source).stat().st_mtime
            except OSError:
                fresh = False
            if fresh:
                return f"{self.indexed} is up to date with {self.source}"
        ctx.stage(self.indexed, b"(indexed map)", FileMeta(0o644, 0, 0))
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        return Effects().write(self.indexed, None, secret=self.secret)

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        argv = self.commands()[0]
        work.on_line("$ " + " ".join(argv))
        extra = config_args(host, DEFAULT_DIR)
        if extra:  # a host rooted elsewhere (tests): the real paths
            argv = [self.tool, *extra, f"{self.map_type}:{host.real(self.source)}"]
        host.run(argv, on_line=work.on_line, check=True)


def database_type(ctx: PlanContext) -> str:
    """The map type for new tables: `postconf -h default_database_type`, else the platform's.

    Never `hash:` by assumption: RHEL 10's Postfix has no Berkeley DB and uses lmdb.
    """
    def ask() -> str:
        if not ctx.offline and ctx.host.which("postconf") and ctx.host.exists(f"{ctx.profile.postfix_dir}/main.cf"):
            result = ctx.host.run(["postconf", "-h", "default_database_type"])
            value = result.output.strip().splitlines()[-1:] if result.ok else []
            if value and re.match(r"^[a-z0-9]+$", value[0]):
                return value[0]
        return ctx.profile.map_type
    return ctx.fact("postfix:default_database_type", ask)




# --- verification ------------------------------------------------------------

def live_values(host: Host, keys: list[str]) -> tuple[bool, dict[str, str], str]:
    """`postconf KEY...` on the live configuration: (ok, {key: value}, output)."""
    result = host.run(["postconf", *keys])
    values = {}
    for line in result.output.splitlines():
        key, sep, value = line.partition(" = ")
        if not sep and line.endswith(" ="):
            key, value = line[:-2], ""
        values[key.strip()] = value.strip()
    return result.ok, values, result.output


def settings_check(host: Host, step: str, name: str, settings: list[tuple[str, str]]):
    """One Check: `postconf` shows every one of `settings`."""
    from mailwizard.plan import Check

    if not settings:
        return Check(step, name, "pass", "nothing to set")
    ok, values, output = live_values(host, [k for k, _ in settings])
    wrong = [(k, v) for k, v in settings if _norm(values.get(k)) != _norm(v)]
    if ok and not wrong:
        return Check(step, name, "pass", _quote_items(settings)[:300])
    evidence = "; ".join(f"{k} = {values.get(k, '(missing)')}" for k, _ in wrong) or output.strip()[-300:]
    return Check(step, name, "fail", evidence, "postconf -e " + " ".join(f"'{k}={v}'" for k, v in wrong))


RESTART_KEYS = {"inet_interfaces", "inet_protocols"}


def version_at_least(profile, wanted: tuple[int, int]) -> bool:
    """Whether the platform's Postfix is at least `wanted` (e.g. `>=TLSv1.2` needs 3.6)."""
    parts = re.findall(r"[0-9]+", profile.postfix_version or "0.0")
    have = tuple(int(x) for x in (parts + ["0", "0"])[:2])
    return have >= wanted


def template(name: str, **values: str) -> bytes:
    from importlib import resources
    from string import Template

    text = (resources.files("mailwizard") / "templates" / name).read_text()
    return Template(text).substitute(values).encode()


def will_install_postfix(ctx: PlanContext) -> bool:
    """Whether the plan installs Postfix before this point (its files are then predicted)."""
    return f"{ctx.profile.postfix_dir}/master.cf" in ctx.predicted
