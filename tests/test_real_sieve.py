"""Tier 2 for issue 5 (Sieve, guide 1.8): the generated configuration and filter pass the real tools.

After an apply on a fake host of each platform, `doveconf -n` (Debian's 2.3,
with Pigeonhole) accepts the whole configuration and shows sieve among the
protocols, ManageSieve's port, TLS required for it, the Sieve plugin for LMTP
and the global filter; the real `sievec` compiles the filter the step wrote,
and refuses a broken one (so the compile is a real check).
"""

from __future__ import annotations

import subprocess

import pytest

from mailwizard.dovecot_conf import get_setting
from mailwizard.steps import sieve
from support import fake_session

PLATFORMS = ["debian12", "rhel9", "rhel10"]


def doveconf(root, *args):
    out = subprocess.run(["doveconf", "-c", str(root / "etc/dovecot/dovecot.conf"), *args],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def sievec(root, script, out):
    return subprocess.run(["sievec", "-c", str(root / "etc/dovecot/dovecot.conf"), str(script), str(out)],
                          capture_output=True, text=True)


def applied(tmp_path, platform, name="full.toml", edit=None):
    session = fake_session(tmp_path, platform, name)
    session.answers.protocols.sieve = True
    if edit:
        edit(session.answers)
    assert session.apply(session.plan()).status == "applied"
    return session, tmp_path / "root"


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", ["full.toml", "pam.toml", "ldap.toml"])
def test_doveconf_accepts_managesieve_the_lmtp_plugin_and_the_global_filter(tmp_path, platform, name):
    session, root = applied(tmp_path, platform, name)
    a = session.answers
    text = doveconf(root, "-n")
    assert "Error" not in text and "Warning" not in text
    assert doveconf(root, "-h", "protocols").split()[-1] == "sieve"
    assert get_setting(text, "port", sieve.LOGIN) == "4190"
    assert get_setting(text, "ssl", sieve.PROTOCOL) == "required"
    assert get_setting(text, "disable_plaintext_auth", sieve.PROTOCOL) == "yes"
    if a.protocols.lmtp:
        assert "sieve" in sieve.words(get_setting(text, "mail_plugins", sieve.LMTP))
    assert get_setting(text, "sieve_before", sieve.PLUGIN) == sieve.SPAM_SCRIPT
    # what the managesieve-login process and the LMTP process see, through the protocol filter
    assert doveconf(root, "-f", "protocol=sieve", "-h", "ssl").strip() == "required"
    if a.protocols.lmtp:
        assert "sieve" in doveconf(root, "-f", "protocol=lmtp", "-h", "mail_plugins").split()


def test_a_custom_port_and_the_filter_turned_off_still_pass_doveconf(tmp_path):
    session, root = applied(tmp_path, "debian12", "full.toml", lambda a: setattr(a.sieve, "port", 14190))
    session.answers.sieve.spam_filter = False
    session.answers.sieve.lmtp_plugin = False
    assert session.apply(session.plan()).status == "applied"
    text = doveconf(root, "-n")
    assert get_setting(text, "port", sieve.LOGIN) == "14190"
    assert get_setting(text, "sieve_before", sieve.PLUGIN) is None
    assert "sieve" not in sieve.words(get_setting(text, "mail_plugins", sieve.LMTP))
    assert doveconf(root, "-h", "protocols").split()[-1] == "sieve"  # ManageSieve itself stays on
    session.answers.protocols.sieve = False
    assert session.apply(session.plan()).status == "applied"
    assert "sieve" not in doveconf(root, "-h", "protocols").split()  # Debian's protocols.d file too


@pytest.mark.parametrize("folder", ["Junk", "Spam Folder", "Ünwanted"])
def test_real_sievec_compiles_the_global_filter(tmp_path, folder):
    session, root = applied(tmp_path, "debian12", edit=lambda a: setattr(a.sieve, "spam_folder", folder))
    script = session.host.real(sieve.SPAM_SCRIPT)
    assert f'fileinto :create "{folder}";' in script.read_text()
    out = sievec(root, script, tmp_path / "out.svbin")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "out.svbin").stat().st_size > 0
    broken = tmp_path / "broken.sieve"
    broken.write_text(script.read_text().replace("stop;\n}", "stop;\n"))  # a block left open
    refused = sievec(root, broken, tmp_path / "broken.svbin")
    assert refused.returncode != 0 and "parse failed" in refused.stdout + refused.stderr
