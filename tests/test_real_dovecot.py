"""Tier 2 for issue 3: the Dovecot steps' edits are accepted by the real `doveconf` (Debian's 2.3).

After an apply on a fake host of each platform, `doveconf -c ROOT/etc/dovecot/dovecot.conf -n`
accepts the whole configuration and shows the protocols, mail_location, the PAM
settings, the mailboxes and the LMTP listeners as planned.
"""

from __future__ import annotations

import subprocess

import pytest

from mailwizard.dovecot_conf import get_setting
from support import fake_session

PLATFORMS = ["debian12", "rhel9", "rhel10"]


def doveconf(root, *args):
    out = subprocess.run(["doveconf", "-c", str(root / "etc/dovecot/dovecot.conf"), *args],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def applied(tmp_path, platform, name, edit=None):
    session = fake_session(tmp_path, platform, name)
    if edit:
        edit(session.answers)
    assert session.apply(session.plan()).status == "applied"
    return session, tmp_path / "root"


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", ["pam.toml", "full.toml", "ldap.toml", "ldap-search.toml", "sql.toml"])
def test_doveconf_accepts_and_shows_the_settings(tmp_path, platform, name):
    session, root = applied(tmp_path, platform, name)
    a = session.answers
    text = doveconf(root, "-n")
    assert "Error" not in text and "Warning" not in text
    want = " ".join(p for p in ("imap", "pop3", "lmtp", "sieve") if getattr(a.protocols, p))
    assert doveconf(root, "-h", "protocols").split() == want.split()
    assert doveconf(root, "-h", "mail_location").strip() == f"sdbox:{a.mailbox.root}/%n/"
    for box in a.mailboxes:
        where = ("namespace inbox", f'mailbox "{box.name}"' if " " in box.name else f"mailbox {box.name}")
        assert (get_setting(text, "special_use", where) or "") == box.special_use
        assert (get_setting(text, "auto", where) or "no") == box.auto
    lmtp = ("service lmtp", "unix_listener lmtp")
    assert get_setting(text, "mode", lmtp) == "0600" and get_setting(text, "user", lmtp) == "postfix"
    chroot = ("service lmtp", "unix_listener /var/spool/postfix/private/dovecot-lmtp")
    assert (get_setting(text, "user", chroot) == "postfix") == (platform == "debian12")
    port = get_setting(text, "port", ("service lmtp", "inet_listener lmtp"))
    assert port == (str(a.lmtp.port) if a.lmtp.listener == "inet" else None)
    drivers = doveconf(root, "-n", "passdb")
    backend = {"pam": "pam", "ldap": "ldap", "sql": "sql"}[a.auth.backend]
    assert f"driver = {backend}" in drivers and drivers.count("driver =") == 1
    if a.auth.backend == "pam":
        assert get_setting(text, "override_fields", ("userdb",)) == f"uid=vmail gid=vmail home={a.mailbox.root}/%n/"
        assert get_setting(text, "auth_username_format", ("protocol lmtp",)) == "%Ln"
        assert doveconf(root, "-h", "first_valid_uid").strip() == str(a.auth.first_valid_uid)


def test_debian_protocols_line_wins_over_the_installed_protocol_files(tmp_path):
    # this machine's /usr/share/dovecot/protocols.d enables imap, lmtp, pop3 and sieve
    session, root = applied(tmp_path, "debian12", "ldap.toml")  # pop3 = false
    assert doveconf(root, "-h", "protocols").split() == ["imap", "lmtp"]
    session.answers.protocols.lmtp = False
    assert session.apply(session.plan()).status == "applied"
    assert doveconf(root, "-h", "protocols").split() == ["imap"]


@pytest.mark.parametrize("fmt, location", [("mdbox", "mdbox:/var/mail/%n/"),
                                           ("maildir", "maildir:/var/mail/%n/Maildir")])
def test_other_formats_pass_doveconf(tmp_path, fmt, location):
    _, root = applied(tmp_path, "rhel10", "pam.toml", lambda a: setattr(a.mailbox, "format", fmt))
    assert doveconf(root, "-h", "mail_location").strip() == location


def test_a_non_standard_lmtp_port_and_extra_mailbox(tmp_path):
    from mailwizard.answers import MailboxDef

    def edit(a):
        a.lmtp.port = 2424
        a.mailboxes.append(MailboxDef("Archive 2024", "\\Archive", "no"))
    _, root = applied(tmp_path, "debian12", "full.toml", edit)
    text = doveconf(root, "-n")
    assert get_setting(text, "port", ("service lmtp", "inet_listener lmtp")) == "2424"
    assert get_setting(text, "special_use", ("namespace inbox", 'mailbox "Archive 2024"')) == "\\Archive"
