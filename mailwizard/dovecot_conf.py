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
        indent = _SETTING.match(lines[i]).group(1)
        lines[i] = f"{indent}{key} ={sep}{value}"
    elif commented:
        i = commented[-1] if len(commented) == 1 else commented[0]
        indent = _COMMENTED.match(lines[i]).group(1)
        lines[i] = f"{indent}{key} ={sep}{value}"
    elif section:
        if section not in closes:
            # the block does not exist: append it whole
            lines.extend(_block_lines(section, key, value))
        else:
            close = closes[section]
            indent = "  " * len(section)
            lines.insert(close, f"{indent}{key} ={sep}{value}")
    else:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append(f"{key} ={sep}{value}")
    return "\n".join(lines) + "\n"


def _block_lines(section: tuple[str, ...], key: str, value: str) -> list[str]:
    out = []
    for depth, header in enumerate(section):
        out.append("  " * depth + header + " {")
    out.append("  " * len(section) + f"{key} = {value}")
    for depth in reversed(range(len(section))):
        out.append("  " * depth + "}")
    return out


def comment_out_include(text: str, include: str) -> str:
    """Comment out `!include NAME` (for switching authentication backends)."""
    out = []
    for line in text.splitlines():
        if re.match(rf"^\s*!include\s+{re.escape(include)}\s*$", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out) + "\n"
