"""Fixtures for the end-to-end tier: every test gets a fresh throwaway host."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from throwaway import ThrowawayHost


@pytest.fixture
def throwaway():
    """A fresh :class:`ThrowawayHost` (hostname mail.example.com) per test."""
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    with ThrowawayHost(hostname="mail.example.com") as host:
        yield host
