"""Fixtures for the end-to-end tier: every test gets a fresh throwaway host."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from throwaway import ThrowawayHost  # noqa: E402


@pytest.fixture
def throwaway():
    """A fresh :class:`ThrowawayHost` (hostname mail.example.com) per test."""
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    with ThrowawayHost(hostname="mail.example.com") as host:
        yield host


def pytest_sessionfinish(session):
    """The RHEL-flavoured hosts' layer is built once per test session (tests/e2e/rhel.py) and
    removed at its end (it lives in /dev/shm), unless MAILWIZARD_KEEP_RHEL_LAYER=1 keeps it for the next."""
    if hasattr(session.config, "workerinput") or os.geteuid() != 0:
        return                                  # an xdist worker: the controller cleans up
    if os.environ.get("MAILWIZARD_KEEP_RHEL_LAYER") == "1":
        return
    from rhel import remove_layers
    remove_layers()
