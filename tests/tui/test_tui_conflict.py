"""A re-run over a file the administrator edited: the review marks it, Apply shows its diff and asks (issue 7).

The wizard has run once on a fake Debian 12 host; then ssl_min_protocol was
changed by hand in 10-ssl.conf. On the Review screen the change is marked `!`;
Apply opens the ConflictScreen (yours against mailwizard's), where k keeps the
edit (every change to that file skipped, with the reason), t takes
mailwizard's, and s or Esc stops with nothing changed.
"""

from __future__ import annotations

import re

from mailwizard.app import create_app
from mailwizard.screens.confirm import ConfirmScreen
from mailwizard.screens.conflict import ConflictScreen
from test_tui_snapshots import SIZE, walk
from tui_support import press, screen_name, settle, text_of

SSL = "/etc/dovecot/conf.d/10-ssl.conf"


def edited(session) -> bytes:
    """Run the wizard once, then edit a setting it wrote by hand; the admin's bytes."""
    assert session.apply(session.plan()).status == "applied"
    path = session.host.real(SSL)
    path.write_text(path.read_text().replace("ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1"))
    return path.read_bytes()


def ssl_changes(app):
    return [c for c in app.screen_stack[1].plan.changes if c.kind == "file" and c.path == SSL] \
        if len(app.screen_stack) > 1 else []


async def open_conflict(pilot) -> None:
    """On the Review (the app opened there), Apply: the ConflictScreen."""
    review = pilot.app.screen
    assert "1 file(s) you edited since mailwizard wrote them" in text_of(review.query_one("#summary"))
    assert re.search(rf"!\s+{SSL} was edited since mailwizard wrote it: Apply asks you first",
                     text_of(review.query_one("#plan")))
    await press(pilot, "ctrl+n")
    assert isinstance(pilot.app.screen, ConflictScreen)


async def test_keep_mine_skips_the_file_and_applies_the_rest(session):
    mine = edited(session)
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_conflict(pilot)
        dialog = app.screen
        assert dialog.focused.id == "stop"  # the safe answer has the focus
        diff = text_of(dialog.query_one("#conflict-diff Static"))
        assert "-ssl_min_protocol = TLSv1\n" in diff and "+ssl_min_protocol = TLSv1.2" in diff
        await press(pilot, "k")
        assert isinstance(app.screen, ConfirmScreen)
        review = app.screen_stack[-2]
        kept = [c for c in review.plan.changes if c.kind == "file" and c.path == SSL]
        assert kept and all("your edit of " + SSL + " is kept" in c.noop for c in kept)
        assert re.search(rf"no-op: your edit of {SSL} is kept", text_of(review.query_one("#plan")))
        await press(pilot, "y")
        await settle(pilot)
        assert screen_name(app) == "ApplyScreen"
    assert session.host.real(SSL).read_bytes() == mine


async def test_take_mailwizards_applies_the_change(session):
    edited(session)
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_conflict(pilot)
        await press(pilot, "t")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "y")
        await settle(pilot)
        assert screen_name(app) == "ApplyScreen"
    assert "ssl_min_protocol = TLSv1.2\n" in session.host.real(SSL).read_text()


async def test_stop_and_escape_change_nothing(session):
    mine = edited(session)
    records = len(session.journal().records())
    app = create_app(session, [], start="review")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_conflict(pilot)
        await press(pilot, "s")
        assert screen_name(app) == "ReviewScreen"
        assert "stopped: nothing was changed" in text_of(app.screen.query_one("#status"))
        await press(pilot, "ctrl+n")  # asked again: the decision was not taken
        assert isinstance(app.screen, ConflictScreen)
        await press(pilot, "escape")
        assert screen_name(app) == "ReviewScreen"
        assert all(c.noop is None for c in app.screen.plan.changes if c.kind == "file" and c.path == SSL)
    assert session.host.real(SSL).read_bytes() == mine
    assert len(session.journal().records()) == records


def test_snapshot_conflict(snap_compare, session):
    edited(session)
    assert snap_compare(create_app(session, [], start="review"), terminal_size=SIZE,
                        run_before=walk("ctrl+n"))
