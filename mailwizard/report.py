"""The report: verify checks grouped by step, as text (the TUI draws its own table)."""

from __future__ import annotations

from mailwizard.plan import Check

MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def counts(checks: list[Check]) -> dict[str, int]:
    """How many checks passed, warned and failed."""
    return {s: sum(1 for c in checks if c.status == s) for s in MARK}


def worst(checks: list[Check]) -> str:
    """The worst status among `checks` (fail over warn over pass)."""
    statuses = {c.status for c in checks}
    return next((s for s in ("fail", "warn") if s in statuses), "pass")


def verdict(checks: list[Check]) -> str:
    n = counts(checks)
    return "the server is not working as planned" if n["fail"] else "all checks passed" \
        if not n["warn"] else "working, with warnings"


def summary(checks: list[Check]) -> str:
    n = counts(checks)
    return f"{n['pass']} passed, {n['warn']} warnings, {n['fail']} failed: {verdict(checks)}"


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


def dns_records_text(session) -> str:
    """The DNS records to publish, as zone-file lines under a heading ("" for a null client)."""
    from mailwizard.steps import dns

    if not dns.STEP.applies(session.answers):
        return ""
    return "== DNS records to publish (zone-file lines)\n" + dns.snippet(session.answers, session.host, session.profile)


def dns_records_json(session) -> list[dict]:
    from mailwizard.steps import dns

    if not dns.STEP.applies(session.answers):
        return []
    return [dict(name=r.name, type=r.type, value=r.value, why=r.why, required=r.required)
            for r in dns.records(session.answers, session.host, session.profile)]
