"""End to end, issue 13: a seeded sample of the outside-kill sweep (bench/outside_kill.py runs all of it).

One kill per phase of pam.toml, each on a fresh throwaway host, at an instant drawn (seeded) over the
phase's duration as the uninterrupted reference run measured it -- by the clock, no hook in the code:
SIGKILL of the whole process group during the unattended apply, during `--resume` itself (after a first
kill of the apply) and during `rollback`; SIGHUP of the interactive wizard's process group (in tmux)
during Apply. Then `--resume --unattended` (or `rollback` again): the end state -- /etc, /srv, /var/mail,
the journal, the services, the packages, verify's statuses -- equals the uninterrupted run's.
The kill during the package install (packages purged first) is tests/e2e/test_outside_kill_install.py,
on its own worker. A draw whose instant came after the run had ended interrupts nothing: the next
draw is taken (at most three), and the kill must have found the wizard running.
"""

from __future__ import annotations

import os

import pytest

from outside_kill import maker, sample

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("outside_kill")]  # one reference for the module


@pytest.fixture(scope="module")
def pam():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    return maker("pam.toml", tui=True)


@pytest.mark.parametrize("phase", ["apply", "resume", "rollback", "sighup"])
def test_a_kill_from_outside_is_survived(pam, phase):
    outcome = sample(pam, phase, seed=13)
    assert outcome.survived, outcome.line()
