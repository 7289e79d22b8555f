"""Shared fixtures for the unit, real-tool and TUI tiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import ANSWERS_DIR


@pytest.fixture
def answers_dir() -> Path:
    assert ANSWERS_DIR.is_dir(), f"the reference answers are expected at {ANSWERS_DIR}"
    return ANSWERS_DIR
