"""Authentication (guide 1.1.4, 1.2.4, 1.3.4, 2.9.3): PAM, LDAP or MariaDB, and Dovecot SASL for Postfix.

The next screen is the chosen backend's form.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RadioSet, Static

from mailwizard.screens.base import FormScreen
from mailwizard.widgets import ChoiceField, Field, StepBar

HELP = """\
Where Dovecot checks the users' names and passwords. The next screen asks
for the chosen backend's settings.

- **PAM** (guide 1.1.4): the users of this host (`/etc/passwd`, or whatever
  NSS and PAM are set up to use). `auth-system.conf.ext` stays included.
- **LDAP** (guide 1.2.4): users in an LDAP directory, checked by binding as
  them. `10-auth.conf` includes `auth-ldap.conf.ext` only; the settings go to
  `/etc/dovecot/dovecot-ldap.conf.ext` (0600 root:root).
- **MariaDB** (guide 1.3.4): users and password hashes in a MariaDB table.
  `10-auth.conf` includes `auth-sql.conf.ext` only; the settings go to
  `/etc/dovecot/dovecot-sql.conf.ext` (0600 root:root); the package
  `dovecot-mysql` is installed where the platform splits it out.

Every backend's userdb gets
`override_fields = uid=vmail gid=vmail home=ROOT/%n/`, so mail is stored as
the mail user of the Mail store screen.

**Mechanisms** (`auth.mechanisms`, `auth_mechanisms` in `10-auth.conf`):
`plain` (and `login` for old Outlook clients). The password travels inside
TLS: Dovecot refuses plaintext authentication without it. PAM can only
check plaintext mechanisms.

**SASL for Postfix** (`auth.sasl_listener`, guide 2.9.3 step 1): Postfix
asks Dovecot to check the passwords of users sending mail (submission).

- *unix socket* (`unix`): Postfix runs on this host and uses the socket
  `/var/spool/postfix/private/auth` (0660 postfix:postfix).
- *TCP* (`inet`): Postfix runs on another host and connects to
  `service auth { inet_listener { port = 12345 } }` (`auth.sasl_port`). The
  passwords cross that link unencrypted, so keep it on a trusted network:
  firewalld admits only the **Allowed from** addresses
  (`auth.sasl_allow_from`, e.g. `192.0.2.1/32`), and SELinux's
  `nis_enabled` boolean lets Dovecot listen on the port.

`Up`/`Down` move between the choices, `Space` or `Enter` chooses one.
"""

BACKENDS = [
    ("pam", "PAM: the users of this host (guide 1.1)"),
    ("ldap", "LDAP: users in a directory (guide 1.2)"),
    ("sql", "MariaDB: users in an SQL table (guide 1.3)"),
]
SASL_LISTENERS = [("unix", "unix socket: Postfix runs on this host"),
                  ("inet", "TCP: Postfix runs on another host")]


class AuthScreen(FormScreen):
    KEY = "auth"
    HEADING = "Authentication: where users and passwords are"
    HELP = HELP

    def compose_body(self) -> ComposeResult:
        auth = self.session.answers.auth
        yield ChoiceField("auth.backend", "Backend", BACKENDS, auth.backend, vertical=True)
        yield Field("auth.mechanisms", "Mechanisms", " ".join(auth.mechanisms), placeholder="plain login")
        yield Static("", id="auth-next", classes="derived")
        yield Static("SASL for Postfix (2.9.3)", classes="section")
        yield ChoiceField("auth.sasl_listener", "Listener", SASL_LISTENERS, auth.sasl_listener, vertical=True)
        with Vertical(id="auth-sasl-inet", classes="subform"):
            yield Field("auth.sasl_port", "Port", str(auth.sasl_port), placeholder="12345")
            yield Field("auth.sasl_allow_from", "Allowed from", " ".join(auth.sasl_allow_from),
                        placeholder="192.0.2.1/32 2001:db8:2::1/128")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#auth-backend").focus()
        self.show_next()
        self.show_sasl_listener()

    @on(RadioSet.Changed, "#auth-sasl_listener")
    def show_sasl_listener(self) -> None:
        inet = self.query_one("#field-auth-sasl_listener", ChoiceField).value == "inet"
        self.query_one("#auth-sasl-inet").display = inet

    @on(RadioSet.Changed, "#auth-backend")
    def _backend_changed(self) -> None:
        self.session.answers.auth.backend = self.query_one("#field-auth-backend", ChoiceField).value
        self.query_one(StepBar).set_steps(self.wizard.step_titles(self.KEY))
        self.show_next()

    def show_next(self) -> None:
        nxt = self.wizard.following(self.KEY)
        titles = dict(self.wizard.step_titles())
        self.query_one("#auth-next", Static).update(
            f"Next: the {titles[nxt]} settings." if nxt and nxt.startswith("auth_") else "")

    def collect(self) -> None:
        auth = self.session.answers.auth
        auth.backend = self.query_one("#field-auth-backend", ChoiceField).value
        auth.mechanisms = [m.lower() for m in self.query_one("#field-auth-mechanisms", Field).words]
        auth.sasl_listener = self.query_one("#field-auth-sasl_listener", ChoiceField).value
        if auth.sasl_listener == "inet":  # the port and sources of a hidden listener stay as they were
            auth.sasl_port = self.number("auth.sasl_port", auth.sasl_port)
            auth.sasl_allow_from = self.query_one("#field-auth-sasl_allow_from", Field).words
