"""Comment-preserving edits of Dovecot's files, the way the guide describes them."""

import random
from pathlib import Path

import pytest

from mailwizard.dovecot_conf import Document, apply_settings, comment_out_include, get_setting, set_setting

SSL = """# SSL settings
ssl = yes
ssl_cert = </etc/dovecot/private/dovecot.pem
#ssl_ca =
# Generate new params with `openssl dhparam -out /etc/dovecot/dh.pem 4096`
#ssl_dh = </etc/dovecot/dh.pem
#ssl_cipher_list = ALL
"""

AUTH_SYSTEM = """passdb {
  driver = pam
  #args = dovecot
}
userdb {
  # <doc/wiki/AuthDatabase.Passwd.txt>
  driver = passwd
  # [blocking=no]
  #args =

  # Override fields from passwd
  #override_fields = home=/home/virtual/%u
}
"""


class TestSetSetting:
    def test_replaces_the_active_line_in_place(self):
        out = set_setting(SSL, "ssl_cert", "</etc/pki/dovecot/certs/server.example.com.crt")
        assert "ssl_cert = </etc/pki/dovecot/certs/server.example.com.crt\n" in out
        assert "dovecot.pem" not in out.split("ssl_cert")[1].splitlines()[0]
        assert out.count("ssl_cert") == 1
        assert out.splitlines()[2].startswith("ssl_cert = ")

    def test_uncomments_the_commented_setting(self):
        out = set_setting(SSL, "ssl_ca", "</etc/pki/dovecot/certs/ca.crt")
        lines = out.splitlines()
        assert lines[3] == "ssl_ca = </etc/pki/dovecot/certs/ca.crt"
        assert "#ssl_ca" not in out

    def test_comment_mentioning_the_value_is_kept(self):
        out = set_setting(SSL, "ssl_dh", "</etc/dovecot/dh.pem")
        assert "# Generate new params with `openssl dhparam -out /etc/dovecot/dh.pem 4096`" in out
        assert "\nssl_dh = </etc/dovecot/dh.pem\n" in out

    def test_appends_when_absent_and_keeps_everything_else(self):
        out = set_setting(SSL, "ssl_min_protocol", "TLSv1.2")
        assert out.startswith(SSL)
        assert out.rstrip().endswith("ssl_min_protocol = TLSv1.2")

    def test_is_idempotent(self):
        once = set_setting(SSL, "ssl_ca", "</x")
        assert set_setting(once, "ssl_ca", "</x") == once

    def test_commented_setting_inside_a_block_is_not_top_level(self):
        # the trap: "#override_fields" exists inside userdb {}; a top-level edit must not touch it
        top = set_setting(AUTH_SYSTEM, "override_fields", "x")
        assert "  #override_fields = home=/home/virtual/%u" in top
        assert top.rstrip().endswith("override_fields = x")

    def test_setting_in_a_block_uncomments_there(self):
        out = set_setting(AUTH_SYSTEM, "override_fields", "uid=vmail gid=vmail home=/var/mail/%n/", ("userdb",))
        assert "  override_fields = uid=vmail gid=vmail home=/var/mail/%n/\n}" in out
        assert get_setting(out, "override_fields", ("userdb",)) == "uid=vmail gid=vmail home=/var/mail/%n/"
        assert get_setting(out, "override_fields") is None

    def test_missing_block_is_added(self):
        out = set_setting("ssl = yes\n", "auth_username_format", "%Ln", ("protocol lmtp",))
        assert out == "ssl = yes\n\nprotocol lmtp {\n  auth_username_format = %Ln\n}\n"


def test_get_setting_ignores_comments():
    assert get_setting(SSL, "ssl_dh") is None
    assert get_setting(SSL, "ssl") == "yes"


def test_comment_out_include():
    text = "!include auth-system.conf.ext\n#!include auth-sql.conf.ext\n"
    out = comment_out_include(text, "auth-system.conf.ext")
    assert out == "#!include auth-system.conf.ext\n#!include auth-sql.conf.ext\n"


def test_a_missing_block_goes_inside_its_existing_parent():
    text = "namespace inbox {\n  inbox = yes\n  mailbox Drafts {\n    special_use = \\Drafts\n  }\n}\n"
    out = set_setting(text, "auto", "create", ("namespace inbox", 'mailbox "Important Emails"'))
    assert out == ("namespace inbox {\n  inbox = yes\n  mailbox Drafts {\n    special_use = \\Drafts\n  }\n"
                   '  mailbox "Important Emails" {\n    auto = create\n  }\n}\n')
    again = set_setting(out, "auto", "subscribe", ("namespace inbox", "mailbox Drafts"))
    assert "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = subscribe\n  }\n" in again
    assert get_setting(again, "auto", ("namespace inbox", 'mailbox "Important Emails"')) == "create"


# --- a file parsed once, for many settings (issue 12) -------------------------------

def _edits_agree(text: str, edits: list[tuple[str, str | None, tuple[str, ...]]]) -> None:
    """Document gives, read after read and edit after edit, what the text functions give."""
    doc, expected = Document(text), text
    for key, value, section in edits:
        if value is None:
            assert doc.get(key, section) == get_setting(expected, key, section), (key, section)
        else:
            doc.set(key, value, section)
            expected = set_setting(expected, key, value, section)
            assert doc.text() == expected, (key, value, section)
    assert doc.text() == expected


FRESH_DOVECOT = sorted(p for p in (Path(__file__).parents[1] / "mailwizard" / "platforms" / "fresh").glob(
    "*/etc/dovecot/**/*.conf*") if p.is_file())


@pytest.mark.parametrize("path", FRESH_DOVECOT, ids=lambda p: "/".join(p.parts[-4:]))
def test_a_parsed_document_reads_and_edits_as_the_text_functions_do(path):
    rng = random.Random(path.name)
    keys = ["auto", "special_use", "ssl", "port", "mode", "user", "protocols", "mail_plugins", "override_fields"]
    sections = [(), ("namespace inbox",), ("namespace inbox", "mailbox Sent"), ("namespace inbox", 'mailbox "A B"'),
                ("service lmtp", "unix_listener lmtp"), ("service lmtp", "inet_listener lmtp"), ("userdb",),
                ("plugin",), ("protocol lmtp",), ("service auth", "unix_listener /var/spool/postfix/private/auth")]
    values = [None, None, "", "1", "x y", "  two", "yes"]
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    for _ in range(8):
        _edits_agree(text, [(rng.choice(keys), rng.choice(values), rng.choice(sections)) for _ in range(12)])


@pytest.mark.parametrize("text, edits", [
    ("", [("a", "1", ("b", "c")), ("a", None, ("b", "c")), ("d", "2", ())]),
    ("foo = {\n  a = 1\n}\n", [("a", None, ("foo =",)), ("a", "2", ()), ("foo", "x", ()), ("a", "3", ("foo =",))]),
    ("x {\n  a = 1\n", [("a", None, ("x",)), ("a", "2", ("x",)), ("b", "3", ("x", "y"))]),  # left open
    ("a = 1\n", [("a", "{", ()), ("a", None, ()), ("b", "x", ("a = {",)), ("a", "2", ())]),  # becomes a block
    ("a = 1\n", [("a", "x\u2028y", ()), ("b", "2", ()), ("a", None, ())]),  # a line break str.splitlines knows
    ("b {\n}\nb {\n  a = 1\n}\n#a = 0\n#a = 2\n", [("a", None, ("b",)), ("a", "3", ("b",)), ("a", "4", ()),
                                                  ("c", "5", ("b", "c")), ("c", None, ("b", "c"))]),
    ("}\na = 1\r\nb = 2\x0cc = 3", [("c", None, ()), ("c", "4", ()), ("e", "5", ("f",)), ("b", None, ())]),
])
def test_a_parsed_document_follows_the_text_functions_in_odd_files(text, edits):
    _edits_agree(text, edits)


def test_apply_settings_leaves_a_file_it_does_not_change_byte_for_byte():
    data = b"a = 1\r\nb = 2\n"
    assert apply_settings(data, [((), "a", "1")]) is data
    assert apply_settings(data, [((), "a", "2")]) == b"a = 2\nb = 2\n"
