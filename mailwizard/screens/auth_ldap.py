"""LDAP authentication (guide 1.2.4): the directory, how users are found, and Test connection."""

from __future__ import annotations

import copy

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RadioSet

from mailwizard.screens.base import ConnectionTestScreen
from mailwizard.widgets import ChoiceField, Field, FieldMessages, TickField

HELP = """\
Dovecot checks a password by binding to the directory as the user
(guide 1.2.4 *Using LDAP as the Dovecot authentication backend*). The
settings go to `/etc/dovecot/dovecot-ldap.conf.ext` (0600 root:root) with
`auth_bind = yes`; `10-auth.conf` includes `auth-ldap.conf.ext` only.

**URIs** (`auth.ldap.uris`): `ldaps://LDAP-srv.example.com`, several
separated by spaces. Only encrypted connections: `ldaps://`, or `ldap://`
with **STARTTLS** (`auth.ldap.starttls`, `tls = yes`). The server's
certificate is checked (`tls_require_cert = hard`): its host name must be
the one in the URI.

**CA file** (`auth.ldap.tls_ca_cert_file`): the CA certificate that issued
the LDAP server's; empty trusts the system's CA store.

**Base DN** (`auth.ldap.base`) and **Scope** (`auth.ldap.scope`): where
users are searched; *onelevel* only directly below the base, *subtree* also
further down.

**Users**: how Dovecot finds the DN of a user who logs in:

- *DN template* (`auth.ldap.bind_userdn`): all users under one entry,
  e.g. `cn=%n,ou=People,dc=example,dc=com`; `%n` is the user name.
- *search* (dynamic lookup, users in different trees): Dovecot binds as a
  search account (`auth.ldap.dn`, e.g. `cn=dovecot_LDAP,dc=example,dc=com`)
  and searches with the **Filter** (`auth.ldap.pass_filter`,
  `(&(objectClass=posixAccount)(uid=%n))`), which must find one entry.
  The account's **Password** is typed here (shown as dots, kept in memory
  only, never saved in an answers file or the journal), or read from a
  **Password file** (`auth.ldap.dnpass_file`, one line, 0600) as root.

**Test connection** (`ctrl+t`): connects and binds as Dovecot will, before
anything is changed, and shows what the server said. With a test user it
also finds the user's DN; with the user's password it logs in as them.
Nothing is written to the directory.
"""

SCOPES = [("subtree", "subtree: base and below"), ("onelevel", "onelevel: directly below")]
MODES = [("template", "DN template: all users under one entry"),
         ("lookup", "search: users in different trees (search account)")]


class LdapScreen(ConnectionTestScreen):
    KEY = "auth_ldap"
    HEADING = "LDAP: users in a directory"
    HELP = HELP
    TESTING = "Connecting to the directory... (the form stays usable)"

    def compose_body(self) -> ComposeResult:
        ldap = self.session.answers.auth.ldap
        yield FieldMessages(id="form-messages")
        yield Field("auth.ldap.uris", "URIs", " ".join(ldap.uris), placeholder="ldaps://ldap.example.com")
        yield TickField("auth.ldap.starttls", "STARTTLS", "use STARTTLS on ldap:// (tls = yes)", ldap.starttls)
        yield Field("auth.ldap.tls_ca_cert_file", "CA file", ldap.tls_ca_cert_file,
                    placeholder="empty: the system's CA store")
        yield Field("auth.ldap.base", "Base DN", ldap.base, placeholder="ou=People,dc=example,dc=com")
        yield ChoiceField("auth.ldap.scope", "Scope", SCOPES, ldap.scope)
        mode = "lookup" if ldap.dn and not ldap.bind_userdn else "template"
        yield ChoiceField("auth.ldap.mode", "Users", MODES, mode, vertical=True)
        with Vertical(id="ldap-template", classes="subform"):
            yield Field("auth.ldap.bind_userdn", "DN template", ldap.bind_userdn,
                        placeholder="cn=%n,ou=People,dc=example,dc=com")
        with Vertical(id="ldap-lookup", classes="subform"):
            yield Field("auth.ldap.dn", "Search DN", ldap.dn, placeholder="cn=dovecot_LDAP,dc=example,dc=com")
            yield Field("auth.ldap.dnpass", "Password", ldap.dnpass, password=True,
                        placeholder="typed: kept in memory only")
            yield Field("auth.ldap.dnpass_file", "or file", ldap.dnpass_file, placeholder="/root/dovecot-ldap.pass")
            yield Field("auth.ldap.pass_filter", "Filter", ldap.pass_filter,
                        placeholder="(&(objectClass=posixAccount)(uid=%n))")
        yield from self.compose_test("Binds as Dovecot will; give a user to look up (and their password "
                                     "to log in as them). Nothing is saved.")
        yield Field("test.user", "Test user", placeholder="optional, e.g. alice")
        yield Field("test.password", "Its password", password=True, placeholder="optional")
        yield from self.compose_test_button()

    def on_mount(self) -> None:
        super().on_mount()
        self.show_mode()
        self.query_one("#auth-ldap-uris").focus()

    def mode(self) -> str:
        return self.query_one("#field-auth-ldap-mode", ChoiceField).value

    @on(RadioSet.Changed, "#auth-ldap-mode")
    def show_mode(self) -> None:
        lookup = self.mode() == "lookup"
        self.query_one("#ldap-template").display = not lookup
        self.query_one("#ldap-lookup").display = lookup

    def collect(self) -> None:
        ldap = self.session.answers.auth.ldap

        def value(key: str) -> str:
            return self.query_one(f"#field-auth-ldap-{key}", Field).value

        ldap.uris = self.query_one("#field-auth-ldap-uris", Field).words
        ldap.starttls = self.query_one("#field-auth-ldap-starttls", TickField).value
        ldap.tls_ca_cert_file = value("tls_ca_cert_file")
        ldap.base = value("base")
        ldap.scope = self.query_one("#field-auth-ldap-scope", ChoiceField).value
        if self.mode() == "lookup":
            ldap.bind_userdn = ""
            ldap.dn, ldap.dnpass, ldap.dnpass_file = value("dn"), value("dnpass"), value("dnpass_file")
            ldap.pass_filter = value("pass_filter")
        else:
            ldap.bind_userdn = value("bind_userdn")
            ldap.dn = ldap.dnpass = ldap.dnpass_file = ""

    def backend_test(self):
        from mailwizard import backends

        ldap = copy.deepcopy(self.session.answers.auth.ldap)
        user = self.query_one("#field-test-user", Field).value or None
        password = self.query_one("#field-test-password", Field).value or None
        dnpass = ldap.dnpass or None
        return lambda: backends.test_ldap(ldap, dnpass, user, password)
