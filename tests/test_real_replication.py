"""Tier 2 for issue 5, replication: the real `doveconf` (Debian's Dovecot 2.3) reads 10-replication.conf.

After an apply on a fake host, `doveconf -n` accepts the whole configuration,
shows the guide's settings and hides the password; Dovecot 2.3 reads
`doveadm_password = <FILE` from the file (shown with `-x`), and a typed
password written in double quotes reads back exactly.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from mailwizard.dovecot_conf import get_setting
from support import fake_session

SECRET = "R3al-doveconf-s3cret"

pytestmark = pytest.mark.skipif(shutil.which("doveconf") is None, reason="needs Debian's dovecot-core")


def doveconf(conf, *args):
    out = subprocess.run(["doveconf", "-c", str(conf), *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def applied(tmp_path, platform, typed: str | None = None):
    session = fake_session(tmp_path, platform, "full.toml")
    r = session.answers.replication
    if typed is None:
        secret = tmp_path / "secret" / "doveadm.pass"  # the same path outside and inside the fake host
        for where in (secret, session.host.real(str(secret))):
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_text(SECRET + "\n")
            os.chmod(where, 0o600)
        r.password_file = str(secret)
    else:
        r.password_file, r.password = "", typed
    assert [p for p in session.errors() if p.key.startswith("replication")] == []
    assert session.apply(session.plan()).status == "applied"
    return session, tmp_path / "root" / "etc/dovecot/dovecot.conf"


@pytest.mark.parametrize("platform", ["debian12", "rhel10"])
def test_doveconf_accepts_the_replication_settings_and_hides_the_password(tmp_path, platform):
    _session, conf = applied(tmp_path, platform)
    text = doveconf(conf, "-n")
    assert SECRET not in text
    assert "doveadm_password = # hidden" in text
    assert set(doveconf(conf, "-h", "mail_plugins").split()) >= {"notify", "replication"}
    assert get_setting(text, "mail_replica", ("plugin",)) == "tcp:server2.example.com:12345"
    assert get_setting(text, "process_min_avail", ("service replicator",)) == "1"
    for where in (("service replicator", "unix_listener replicator-doveadm"),
                  ("service aggregator", "fifo_listener replication-notify-fifo"),
                  ("service aggregator", "unix_listener replication-notify")):
        assert get_setting(text, "user", where) == "vmail", where
    assert get_setting(text, "port", ("service doveadm", "inet_listener")) == "12345"
    assert doveconf(conf, "-h", "doveadm_port").strip() == "0"  # see test_plans_replication
    assert doveconf(conf, "-h", "replication_max_conns").strip() == "20"
    # -P shows the setting as written: a reference to the file, not the secret
    shown = [line for line in doveconf(conf, "-P").splitlines() if line.startswith("doveadm_password")]
    assert shown == ["doveadm_password = </etc/dovecot/private/doveadm.pass"]  # the copy of password_file


def test_dovecot_reads_the_password_from_the_file(tmp_path):
    secret = tmp_path / "doveadm.pass"
    secret.write_text(SECRET + "\n")
    conf = tmp_path / "dovecot.conf"
    conf.write_text(f"ssl = no\ndoveadm_password = <{secret}\n")
    # -x expands `<FILE` as Dovecot's config process does: the whole file, its line break included
    assert doveconf(conf, "-x", "-h", "doveadm_password") == SECRET + "\n\n"


@pytest.mark.parametrize("typed", ['p"a\\ss #1', "$mail_plugins", "<notafile", "Simpl3word"])
def test_a_typed_password_reads_back_exactly(tmp_path, typed):
    _, conf = applied(tmp_path, "debian12", typed)
    assert typed not in doveconf(conf, "-n").replace("# hidden, use -P to show it", "")
    assert doveconf(conf, "-h", "doveadm_password") == typed + "\n"
