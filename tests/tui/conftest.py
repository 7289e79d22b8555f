"""Fixtures for the TUI tier: sessions on a fake Debian 12 host, async tests, snapshots in snapshots/.

Async test functions run in their own event loop (no pytest plugin needed);
the helpers they use (sessions, Pilot's settle/press) are in tui_support.py.

The snapshot SVGs of pytest-textual-snapshot live in the repository's top-level
`snapshots/` directory, as snapshots/<test module>/<test>.svg (not in syrupy's
default `__snapshots__` beside the test):
the `snapshot` fixture below hands `snap_compare` an extension whose directory
is that one, so `pytest --snapshot-update` writes there too.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from mailwizard.engine import Session
from tui_support import REPO, SlowHost, make_session

SNAPSHOTS = REPO / "snapshots"


# --- async tests without a plugin: each runs in its own event loop -------------------

@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


# --- snapshots in the top-level snapshots/ ---------------------------------------

class TopLevelSVGExtension(SVGImageExtension):
    """pytest-textual-snapshot's SVG extension, storing SVGs in snapshots/<test module>/.

    (The test module's name in the path lets syrupy relate each SVG to its
    test, so it can report and clean up snapshots no test uses any more.)
    """

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SNAPSHOTS / test_location.basename)


class TopLevelSnapshotAssertion(SnapshotAssertion):
    """snap_compare asks for SVGImageExtension; it gets the one that stores in snapshots/."""

    def use_extension(self, extension_class=None):
        if extension_class is SVGImageExtension:
            extension_class = TopLevelSVGExtension
        return super().use_extension(extension_class)


@pytest.fixture
def snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    return TopLevelSnapshotAssertion(
        update_snapshots=request.config.option.update_snapshots,
        extension_class=TopLevelSVGExtension,
        test_location=PyTestLocation(request.node),
        session=request.session.config._syrupy,
    )


# --- a deterministic terminal --------------------------------------------------------

@pytest.fixture(autouse=True)
def truecolor_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same colours whatever terminal runs the tests (the app picks its theme from these)."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return make_session(tmp_path / "root")


@pytest.fixture
def dry_session(tmp_path: Path) -> Session:
    return make_session(tmp_path / "root", dry_run=True)


@pytest.fixture
def slow_session(tmp_path: Path) -> Session:
    s = make_session(tmp_path / "root", host_class=SlowHost)
    s.host.gate = threading.Event()
    s.host.started = threading.Event()
    yield s
    s.host.gate.set()
