"""End to end: Dovecot authenticates against a real OpenLDAP server (guide 1.2.4).

In a throwaway host a real slapd serves dc=example,dc=com over ldaps:// and
ldap:// + STARTTLS with a test CA; the wizard is run unattended with the
reference answers (ldap.toml: DN template over ldaps, the CA in the system
store; ldap-search.toml: dynamic lookup over STARTTLS with a search account
whose password is full of quotes, spaces, # and %), then users log in over
IMAPS from another network namespace, and Test connection is run inside.
"""

from __future__ import annotations

import pytest

from authcheck import answers_with, files_containing, imap_login, mode_owner, test_connection
from authservers import LDAP_CONF_DIR, LDAP_HOST, LdapUser, free_port, make_ca, put, start_slapd, trust_ca
from helpers import wizard

pytestmark = pytest.mark.e2e

ARGS = "/etc/dovecot/dovecot-ldap.conf.ext"
DNPASS = "Dn 'pass' \"with\" #hash 100% $ENV:HOME \\slash"
ALICE = LdapUser("alice", "alice's pass word", "People", 2001)
BOB = LdapUser("bob", "bob #1 \"pw\"", "Staff", 2002)  # only an authenticated account may read ou=Staff


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def run_wizard(host, answers: str):
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    return out


def test_dn_template_over_ldaps(throwaway, ca):
    host = throwaway
    start_slapd(host, ca, [ALICE, BOB], DNPASS)
    trust_ca(host, ca)  # ldap.toml gives no tls_ca_cert_file: the system store must trust the server
    answers = answers_with(host, "ldap.toml", {})
    out = run_wizard(host, answers)
    assert "PASS  LDAP server answers" in out.stdout
    args = host.path(ARGS).read_text()
    assert "auth_bind_userdn = cn=%n,ou=People,dc=example,dc=com\n" in args
    assert "uris = ldaps://LDAP-srv.example.com\n" in args and "tls = yes" not in args
    assert mode_owner(host, ARGS) == (0o600, 0, 0)
    assert "override_fields = uid=vmail gid=vmail home=/var/mail/%n/" in \
        host.path("/etc/dovecot/conf.d/auth-ldap.conf.ext").read_text()

    ok, said = imap_login(host, "alice", ALICE.password)
    assert ok, said
    ok, said = imap_login(host, "alice", "not alice's password")
    assert not ok and "NO" in said, said
    ok, said = imap_login(host, "bob", BOB.password)  # not under ou=People: the template cannot reach him
    assert not ok, said

    good = test_connection(host, "ldap", user="alice", password=ALICE.password)
    assert good["ok"], good["text"]
    assert "ldaps://LDAP-srv.example.com: connected, TLS (ldaps), server certificate verified" in good["text"]
    assert "login as cn=alice,ou=People,dc=example,dc=com: success" in good["text"]
    wrong = test_connection(host, "ldap", user="alice", password="wrong")
    assert not wrong["ok"] and "invalid credentials" in wrong["text"]
    port = free_port(host)
    down = test_connection(host, "ldap", set={"uris": [f"ldaps://{LDAP_HOST}:{port}"]})
    assert not down["ok"]
    assert f"ldaps://{LDAP_HOST}:{port}: cannot connect: connection refused" in down["text"]


def test_dynamic_lookup_over_starttls_with_a_search_account(throwaway, ca):
    host = throwaway
    start_slapd(host, ca, [ALICE, BOB], DNPASS)
    put(host, "/root/dovecot-ldap.pass", DNPASS + "\n", 0o600)
    answers = answers_with(host, "ldap-search.toml",
                           {"[auth.ldap]": [f'tls_ca_cert_file = "{LDAP_CONF_DIR}/ca.crt"']})
    out = run_wizard(host, answers)
    assert "PASS  LDAP server answers" in out.stdout
    args = host.path(ARGS).read_text()
    assert "dn = cn=dovecot_LDAP,dc=example,dc=com\n" in args
    assert "uris = ldap://LDAP-srv.example.com\ntls = yes\n" in args
    assert DNPASS not in out.stdout + out.stderr
    assert DNPASS.split()[1] not in out.stdout + out.stderr
    assert DNPASS.split()[1] in args  # the file really holds it...
    assert mode_owner(host, ARGS) == (0o600, 0, 0)  # ...readable by root alone
    assert files_containing(host, "/var/lib/mailwizard", DNPASS) == []

    for user in (ALICE, BOB):  # bob is visible only to the bound search account
        ok, said = imap_login(host, user.uid, user.password)
        assert ok, said
    ok, said = imap_login(host, "bob", "wrong")
    assert not ok and "NO" in said, said

    good = test_connection(host, "ldap", user="bob", password=BOB.password)  # dnpass read from the file
    assert good["ok"], good["text"]
    assert "ldap://LDAP-srv.example.com: connected, STARTTLS, server certificate verified" in good["text"]
    assert "bind as cn=dovecot_LDAP,dc=example,dc=com: success" in good["text"]
    assert "user bob: found cn=bob,ou=Staff,dc=example,dc=com" in good["text"]
    assert DNPASS not in good["text"]
    bad_bind = test_connection(host, "ldap", secret="not the dnpass", user="bob")
    assert not bad_bind["ok"]
    assert "bind as cn=dovecot_LDAP,dc=example,dc=com: invalid credentials" in bad_bind["text"]
    port = free_port(host)
    down = test_connection(host, "ldap", set={"uris": [f"ldap://{LDAP_HOST}:{port}"]})
    assert not down["ok"] and "connection refused" in down["text"]
    other_ca = make_ca("another CA")
    put(host, "/root/other-ca.crt", other_ca.pem)
    untrusted = test_connection(host, "ldap", set={"tls_ca_cert_file": "/root/other-ca.crt"})
    assert not untrusted["ok"] and "certificate problem" in untrusted["text"], untrusted["text"]
