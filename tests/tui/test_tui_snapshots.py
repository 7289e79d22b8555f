"""Snapshots of every screen at 80x24, stored as SVGs in the top-level snapshots/ directory.

Update them with `python3 -m pytest tests/tui --snapshot-update` and look at
the changed SVGs before committing. The fake host keeps everything on screen
fixed: the paths shown are the host's (/etc/...), never the temporary root.
"""

from __future__ import annotations

from textual.widgets import Input

from mailwizard.app import create_app
from tui_support import press, settle

SIZE = (80, 24)


def walk(*keys: str):
    """Press the keys, let the workers finish, and stop the text cursor blinking (a steady picture)."""
    async def run_before(pilot) -> None:
        await settle(pilot)
        await press(pilot, *keys)
        await settle(pilot)
        for screen in pilot.app.screen_stack:
            for field in screen.query(Input):
                field.cursor_blink = False
        await pilot.pause()
    return run_before


def test_snapshot_welcome(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE, run_before=walk())


def test_snapshot_welcome_invalid_hostname(snap_compare, session):
    session.answers.server.hostname = "mail"
    assert snap_compare(create_app(session, []), terminal_size=SIZE, run_before=walk("ctrl+n"))


def test_snapshot_install(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE, run_before=walk("ctrl+n"))


def test_snapshot_tls(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE, run_before=walk("ctrl+n", "ctrl+n"))


def test_snapshot_review(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE,
                        run_before=walk("ctrl+n", "ctrl+n", "ctrl+n"))


def test_snapshot_review_dry_run(snap_compare, dry_session):
    assert snap_compare(create_app(dry_session, []), terminal_size=SIZE,
                        run_before=walk("ctrl+n", "ctrl+n", "ctrl+n"))


def test_snapshot_apply_confirm(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE,
                        run_before=walk("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+n"))


def test_snapshot_apply(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE,
                        run_before=walk("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+n", "y"))


def test_snapshot_report(snap_compare, session, monkeypatch):
    # the TLS probes connect to this machine's ports 993/995: keep their evidence fixed
    monkeypatch.setattr("mailwizard.steps.tls.handshake",
                        lambda host, port, version, timeout=5.0: (False, "[Errno 111] Connection refused"))
    assert snap_compare(create_app(session, []), terminal_size=SIZE,
                        run_before=walk("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+n", "y", "ctrl+n"))


def test_snapshot_help(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE,
                        run_before=walk("ctrl+n", "ctrl+n", "f1"))
