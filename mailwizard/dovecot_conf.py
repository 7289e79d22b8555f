"""Minimal, comment-preserving edits of Dovecot's distribution config files.

An edit replaces the active setting, or uncomments the commented one, in the
right block, exactly as the guide tells an administrator to do by hand; only
when neither exists is the setting added at the end of the block. Block
structure is followed, so `#override_fields` inside `userdb {}` is found in
that block and never confused with a top-level setting.
"""

from __future__ import annotations

import re

_OPEN = re.compile(r"^\s*([A-Za-z_][\w-]*)(?:\s+(\"[^\"]*\"|[^\s{]+))?\s*\{\s*(?:#.*)?$")
_CLOSE = re.compile(r"^\s*\}\s*(?:#.*)?$")
_SETTING = re.compile(r"^(\s*)([A-Za-z_][\w-]*)\s*=\s?(.*?)\s*$")
_COMMENTED = re.compile(r"^(\s*)#\s?([A-Za-z_][\w-]*)\s*=\s?(.*?)\s*$")


def _scopes(lines: list[str]) -> tuple[list[tuple[str, ...]], dict[tuple[str, ...], int]]:
    """The scope of every line, and for each block the index of its closing brace."""
    scope: list[str] = []
    out: list[tuple[str, ...]] = []
    closes: dict[tuple[str, ...], int] = {}
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            out.append(tuple(scope))
            continue
        m = _OPEN.match(line)
        if m:
            out.append(tuple(scope))
            header = m.group(1) + (f" {m.group(2)}" if m.group(2) else "")
            scope.append(header)
            continue
        if _CLOSE.match(line) and scope:
            closes.setdefault(tuple(scope), i)
            out.append(tuple(scope))
            scope.pop()
            continue
        out.append(tuple(scope))
    return out, closes


def get_setting(text: str, key: str, section: tuple[str, ...] = ()) -> str | None:
    """The active value of `key` in `section` (top level by default), or None."""
    lines = text.splitlines()
    scopes, _ = _scopes(lines)
    value = None
    for line, scope in zip(lines, scopes):
        if scope != section:
            continue
        m = _SETTING.match(line)
        if m and m.group(2) == key:
            value = m.group(3)
    return value


def set_setting(text: str, key: str, value: str, section: tuple[str, ...] = ()) -> str:
    """Set `key = value` in `section`, replacing or uncommenting the existing line."""
    lines = text.splitlines()
    scopes, closes = _scopes(lines)
    active = [i for i, (line, sc) in enumerate(zip(lines, scopes))
              if sc == section and (m := _SETTING.match(line)) and m.group(2) == key]
    commented = [i for i, (line, sc) in enumerate(zip(lines, scopes))
                 if sc == section and (m := _COMMENTED.match(line)) and m.group(2) == key]
    sep = " " if value != "" else ""
    if active:
        i = active[-1]
        m = _SETTING.match(lines[i])
        indent = m.group(1) if m else ""
        lines[i] = f"{indent}{key} ={sep}{value}"
    elif commented:
        i = commented[-1] if len(commented) == 1 else commented[0]
        m = _COMMENTED.match(lines[i])
        indent = m.group(1) if m else ""
        lines[i] = f"{indent}{key} ={sep}{value}"
    elif section:
        # the innermost enclosing block that exists gets the missing blocks and the setting
        depth = len(section)
        while depth and section[:depth] not in closes:
            depth -= 1
        block = _block_lines(section[depth:], key, value, indent=depth)
        if depth:
            close = closes[section[:depth]]
            lines[close:close] = block
        else:
            if lines and lines[-1].strip():
                lines.append("")
            lines.extend(block)
    else:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append(f"{key} ={sep}{value}")
    return "\n".join(lines) + "\n"


def _block_lines(section: tuple[str, ...], key: str, value: str, indent: int = 0) -> list[str]:
    out = []
    for depth, header in enumerate(section):
        out.append("  " * (indent + depth) + header + " {")
    sep = " " if value != "" else ""
    out.append("  " * (indent + len(section)) + f"{key} ={sep}{value}")
    for depth in reversed(range(len(section))):
        out.append("  " * (indent + depth) + "}")
    return out


class _Line:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Block:
    """A `header {` ... `}` block: its opening line, its lines and inner blocks in order, its closing line."""

    __slots__ = ("close", "items", "open", "path")

    def __init__(self, path: tuple[str, ...], open_: _Line | None):
        self.path = path
        self.open = open_
        self.items: list[_Line | _Block] = []
        self.close: _Line | None = None

    def lines(self, out: list[str]) -> list[str]:
        if self.open is not None:
            out.append(self.open.text)
        for item in self.items:
            if isinstance(item, _Line):
                out.append(item.text)
            else:
                item.lines(out)
        if self.close is not None:
            out.append(self.close.text)
        return out

    def last_line(self) -> str | None:
        if self.close is not None:
            return self.close.text
        if self.items:
            last = self.items[-1]
            return last.text if isinstance(last, _Line) else last.last_line()
        return self.open.text if self.open is not None else None


class Document:
    """A Dovecot file parsed once and then read and edited in place, for many settings at once.

    `get` and `set` give exactly what get_setting() and set_setting() give on
    the text after the same edits, without re-reading the whole file for each
    setting: the file is a tree of blocks with an index of the active and the
    commented settings of every block. A file the tree cannot mirror line for
    line (a block left open at the end, a `key = {` line) and an edit that would
    change the block structure fall back to the text functions themselves.
    """

    def __init__(self, text: str):
        self._text = text  # the text, while the tree is not (yet) needed or cannot be used
        self._root: _Block | None = None
        self._parsed = False
        self.changed = False

    def _tree(self) -> _Block | None:
        if not self._parsed:
            self._parsed = True
            self._parse(self._text)
        return self._root

    def _parse(self, text: str) -> None:
        root = _Block((), None)
        stack = [root]
        blocks: dict[tuple[str, ...], list[_Block]] = {}
        active: dict[tuple[tuple[str, ...], str], list[_Line]] = {}
        commented: dict[tuple[tuple[str, ...], str], list[_Line]] = {}
        for text_line in text.splitlines():
            block = stack[-1]
            line = _Line(text_line)
            if text_line.lstrip().startswith("#"):
                block.items.append(line)
                if m := _COMMENTED.match(text_line):
                    commented.setdefault((block.path, m.group(2)), []).append(line)
                continue
            if m := _OPEN.match(text_line):
                if _SETTING.match(text_line):
                    return  # `key = {`: both a setting and a block to the text functions
                inner = _Block(block.path + (m.group(1) + (f" {m.group(2)}" if m.group(2) else ""),), line)
                block.items.append(inner)
                blocks.setdefault(inner.path, []).append(inner)
                stack.append(inner)
                continue
            if _CLOSE.match(text_line) and len(stack) > 1:
                block.close = line
                stack.pop()
                continue
            block.items.append(line)
            if m := _SETTING.match(text_line):
                active.setdefault((block.path, m.group(2)), []).append(line)
        if len(stack) > 1:
            return  # a block still open at the end of the file
        self._root, self._blocks, self._active, self._commented = root, blocks, active, commented

    def text(self) -> str:
        if self._root is None or not self.changed:
            return self._text
        return "\n".join(self._root.lines([])) + "\n"

    def get(self, key: str, section: tuple[str, ...] = ()) -> str | None:
        """What get_setting() gives on this text."""
        if self._tree() is None:
            return get_setting(self._text, key, section)
        lines = self._active.get((section, key))
        return _matched(_SETTING, lines[-1].text).group(3) if lines else None

    def set(self, key: str, value: str, section: tuple[str, ...] = ()) -> None:
        """What set_setting() does to this text."""
        if self._tree() is None or not self._set(key, value, section):
            self._text, self._root = self.text(), None
            self._text = set_setting(self._text, key, value, section)
            self._parsed = False  # the next get or set reads the new text again
        self.changed = True

    def _set(self, key: str, value: str, section: tuple[str, ...]) -> bool:
        """The edit made on the tree, or False (nothing done) when the text functions must make it."""
        root = self._root
        assert root is not None  # _tree() parsed the text before any edit
        sep = " " if value != "" else ""
        where = (section, key)
        if lines := self._active.get(where):
            indent = _matched(_SETTING, lines[-1].text).group(1)
            return self._replace(lines[-1], f"{indent}{key} ={sep}{value}", key)
        if lines := self._commented.get(where):
            indent = _matched(_COMMENTED, lines[0].text).group(1)
            if not self._replace(lines[0], f"{indent}{key} ={sep}{value}", key):
                return False
            self._active[where] = [lines.pop(0)]
            return True
        depth = len(section)
        while depth and section[:depth] not in self._blocks:
            depth -= 1
        new = _block_lines(section[depth:], key, value, indent=depth)
        if not _plain_setting(new[len(section) - depth], key):
            return False
        outer = self._blocks[section[:depth]][0] if depth else root
        items: list[_Line | _Block] = []
        made: list[_Block] = []
        for header, text_line in zip(section[depth:], new):
            m = _OPEN.match(text_line)
            if not m or m.group(1) + (f" {m.group(2)}" if m.group(2) else "") != header \
                    or _SETTING.match(text_line) or not _one_line(text_line):
                return False  # the text functions would not read this header back as this block
            made.append(_Block(section[:depth + len(made) + 1], _Line(text_line)))
        setting = _Line(new[len(section) - depth])
        (made[-1].items if made else items).append(setting)
        parents: list[_Block | None] = [None, *made[:-1]]
        for inner, closing, parent in zip(reversed(made), new[len(section) - depth + 1:], reversed(parents)):
            inner.close = _Line(closing)
            (parent.items if parent is not None else items).append(inner)
        if not depth and (last := root.last_line()) is not None and last.strip():
            items.insert(0, _Line(""))
        outer.items.extend(items)
        for inner in made:
            self._blocks[inner.path] = [inner]
        self._active[where] = [setting]
        return True

    def _replace(self, line: _Line, text_line: str, key: str) -> bool:
        if not _plain_setting(text_line, key):
            return False
        line.text = text_line
        return True


def _matched(pattern: re.Pattern[str], text_line: str) -> re.Match[str]:
    """The match of a line the parse already matched with `pattern` (indexed lines always do)."""
    m = pattern.match(text_line)
    assert m is not None, text_line
    return m


def _plain_setting(text_line: str, key: str) -> bool:
    """Whether the text functions read `text_line` back as the setting `key` and nothing else."""
    m = _SETTING.match(text_line)
    return bool(m and m.group(2) == key and _one_line(text_line) and not _OPEN.match(text_line)
                and not _CLOSE.match(text_line) and not text_line.lstrip().startswith("#"))


def _one_line(text_line: str) -> bool:
    """Whether the text functions, splitting the file again, read this as one line."""
    return text_line.splitlines() == [text_line]


def comment_out_include(text: str, include: str) -> str:
    """Comment out `!include NAME` (for switching authentication backends)."""
    out = []
    for line in text.splitlines():
        if re.match(rf"^\s*!include\s+{re.escape(include)}\s*$", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out) + "\n"


def enable_include(text: str, include: str) -> str:
    """Uncomment `#!include NAME` (the guide's "enable ... by uncommenting"); add it when absent."""
    lines = text.splitlines()
    name = re.escape(include)
    if any(re.match(rf"^\s*!include\s+{name}\s*$", line) for line in lines):
        return "\n".join(lines) + "\n"
    for i, line in enumerate(lines):
        if m := re.match(rf"^(\s*)#\s*(!include\s+{name})\s*$", line):
            lines[i] = m.group(1) + m.group(2)
            return "\n".join(lines) + "\n"
    return "\n".join([*lines, f"!include {include}"]) + "\n"


Setting = tuple[tuple[str, ...], str, str]  # (section, key, value)


def apply_settings(data: bytes, settings: list[Setting]) -> bytes:
    doc = Document(data.decode("utf-8", "surrogateescape"))
    for section, key, value in settings:
        if doc.get(key, section) != value:
            doc.set(key, value, section)
    return doc.text().encode("utf-8", "surrogateescape") if doc.changed else data


def edit_dovecot(ctx, path: str, settings: list[Setting] | None = None, *, transform=None,
                 summary: str, noop_reason: str):
    """A WriteFile that edits one of Dovecot's files in place (keeping its owner and mode).

    `settings` are set with set_setting(); `transform` (bytes -> bytes) does any
    other edit. The whole configuration is checked with `doveconf -n` before the
    file is replaced, and Dovecot is reloaded afterwards.
    """
    from mailwizard.plan import WriteFile

    def edit(data: bytes) -> bytes:
        if settings:
            data = apply_settings(data, settings)
        return transform(data) if transform else data

    new = edit(ctx.read(path) or b"")
    meta = ctx.stat(path)
    return WriteFile(
        path, new, transform=edit,
        mode=meta.mode if meta else 0o644,
        owner=ctx.host.user_name(meta.uid) if meta else "root",
        group=ctx.host.group_name(meta.gid) if meta else "root",
        service="dovecot", summary=summary, validate_with=ctx.profile.dovecot_dir,
        noop_reason=noop_reason)


def doveconf_n(host) -> tuple[bool, str]:
    """The running configuration's non-default settings (`doveconf -n`): (ok, output)."""
    result = host.run(["doveconf", "-n"])
    return result.ok, result.output
