"""Static checks as part of the suite: ruff over the code and its tests, mypy over the product.

Both read their settings from pyproject.toml ([tool.ruff], [tool.mypy]); mypy keeps its
cache in the repository's .mypy_cache, so a run after a small change takes a few seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUFF_PATHS = ["mailwizard", "tests", "bench", "tools"]


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True,
                              timeout=600)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(argv)} took more than {exc.timeout} s", pytrace=False)


def assert_clean(result: subprocess.CompletedProcess[str], tool: str) -> None:
    if "No module named" in result.stderr:
        pytest.fail(f"{tool} is not installed: pip install -e '.[test]'\n{result.stderr}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"{tool} found problems:\n{result.stdout}{result.stderr}", pytrace=False)


def test_ruff():
    assert_clean(run_tool("ruff", "check", "--no-cache", "--output-format", "concise", *RUFF_PATHS), "ruff")


def test_mypy():
    assert_clean(run_tool("mypy"), "mypy")  # files, cache_dir and strictness: [tool.mypy] in pyproject.toml
