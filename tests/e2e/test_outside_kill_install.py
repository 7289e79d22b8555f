"""End to end, issue 13: SIGKILL from outside during the package install, then `--resume`.

Postfix and Dovecot are purged first (dpkg --purge), so the apply's apt-get really installs them from the
package cache. The whole process group -- the wizard, apt-get, dpkg, the maintainer scripts -- is killed
at an instant drawn (seeded) between the install's begin and end as an uninterrupted run of the same
purged host measured them; `--resume --unattended` must repair what dpkg left half-done and reach the
uninterrupted run's end state (see test_outside_kill.py for the other phases and bench/outside_kill.py
for the sweep). On its own worker: a purged host's reference and kill take about a minute.
"""

from __future__ import annotations

import os

import pytest

from outside_kill import maker, sample

pytestmark = pytest.mark.e2e


def test_a_kill_during_the_package_install_is_survived():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    outcome = sample(maker("pam.toml", purge=True), "install", seed=13)
    assert outcome.survived, outcome.line()
