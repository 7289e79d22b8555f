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
    text = data.decode("utf-8", "surrogateescape")
    for section, key, value in settings:
        if get_setting(text, key, section) != value:
            text = set_setting(text, key, value, section)
    return text.encode("utf-8", "surrogateescape")


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
