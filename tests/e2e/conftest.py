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


def pytest_configure(config):
    """One file for the session's RHEL-host timings, one for the hosts that died under a command (xdist
    workers inherit the environment)."""
    if not hasattr(config, "workerinput") and "MAILWIZARD_RHEL_TIMINGS" not in os.environ:
        os.environ["MAILWIZARD_RHEL_TIMINGS"] = f"/tmp/mailwizard-rhel-timings-{os.getpid()}.log"
    if not hasattr(config, "workerinput") and "MAILWIZARD_HOST_DEATHS" not in os.environ:
        os.environ["MAILWIZARD_HOST_DEATHS"] = f"/tmp/mailwizard-host-deaths-{os.getpid()}.log"


def _taken(variable: str) -> list[str] | None:
    """The lines of the session's log file named by `variable`, which is then removed; None without one."""
    path = os.environ.get(variable)
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        lines = f.read().splitlines()
    os.unlink(path)
    return lines


def _host_deaths(terminalreporter) -> None:
    lines = _taken("MAILWIZARD_HOST_DEATHS")
    if lines is None:
        return
    terminalreporter.section("Throwaway hosts that died under a command")
    for line in lines:
        terminalreporter.write_line(line)


def pytest_terminal_summary(terminalreporter, config):
    """The hosts that died under a command; how long the RHEL-flavoured hosts took to set up (the layer
    once, each host), if any ran."""
    if hasattr(config, "workerinput"):
        return
    _host_deaths(terminalreporter)
    lines = _taken("MAILWIZARD_RHEL_TIMINGS")
    if lines is None:
        return
    hosts = [float(line.split(" ready in ")[1].split()[0]) for line in lines if " ready in " in line]
    terminalreporter.section("RHEL-flavoured hosts: setup time")
    for line in lines:
        if " ready in " not in line:
            terminalreporter.write_line(line)
    if hosts:
        terminalreporter.write_line(f"rhel host: {len(hosts)} hosts, {sum(hosts) / len(hosts):.1f} s each on average "
                                    f"(at most {max(hosts):.1f} s)")


def pytest_sessionfinish(session):
    """The RHEL-flavoured hosts' layer is built once per test session (tests/e2e/rhel.py) and
    removed at its end (it lives in /dev/shm), unless MAILWIZARD_KEEP_RHEL_LAYER=1 keeps it for the next."""
    if hasattr(session.config, "workerinput") or os.geteuid() != 0:
        return                                  # an xdist worker: the controller cleans up
    if os.environ.get("MAILWIZARD_KEEP_RHEL_LAYER") == "1":
        return
    from rhel import remove_this_layer
    remove_this_layer()
