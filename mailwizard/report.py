"""The report: verify checks grouped by step, as text (the TUI draws its own table)."""

from __future__ import annotations

from mailwizard.plan import Check

MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def summary(checks: list[Check]) -> str:
    counts = {s: sum(1 for c in checks if c.status == s) for s in MARK}
    verdict = "the server is not working as planned" if counts["fail"] else "all checks passed" \
        if not counts["warn"] else "working, with warnings"
    return f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed: {verdict}"


def render_text(checks: list[Check]) -> str:
    out = []
    step = None
    for c in checks:
        if c.step != step:
            step = c.step
            out.append(f"== {step}")
        out.append(f"  {MARK[c.status]}  {c.name}" + (f": {c.evidence}" if c.evidence else ""))
        if c.fix and c.status != "pass":
            out.append(f"        fix: {c.fix}")
    out.append(summary(checks))
    return "\n".join(out)
