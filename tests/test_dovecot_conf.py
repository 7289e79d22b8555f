"""Comment-preserving edits of Dovecot's files, the way the guide describes them."""

from mailwizard.dovecot_conf import comment_out_include, get_setting, set_setting

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
