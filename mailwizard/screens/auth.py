"""Authentication (guide 1.1.4, 1.2.4, 1.3.4): PAM, LDAP or MariaDB; the next screen is that backend's form."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import RadioSet, Static

from mailwizard.screens.base import AUTH_KEYS, FormScreen
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

`Up`/`Down` move between the backends, `Space` or `Enter` chooses one.
"""

BACKENDS = [
    ("pam", "PAM: the users of this host (guide 1.1)"),
    ("ldap", "LDAP: users in a directory (guide 1.2)"),
    ("sql", "MariaDB: users in an SQL table (guide 1.3)"),
]


class AuthScreen(FormScreen):
    KEY = "auth"
    HEADING = "Authentication: where users and passwords are"
    GUIDE = "1.1.4, 1.2.4, 1.3.4"
    HELP = HELP
    PREFIXES = AUTH_KEYS
    STEPS = ("auth",)

    def compose_body(self) -> ComposeResult:
        auth = self.session.answers.auth
        yield ChoiceField("auth.backend", "Backend", BACKENDS, auth.backend, vertical=True)
        yield Field("auth.mechanisms", "Mechanisms", " ".join(auth.mechanisms), placeholder="plain login")
        yield Static("", id="auth-next", classes="derived")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#auth-backend").focus()
        self.show_next()

    @on(RadioSet.Changed, "#auth-backend")
    def _backend_changed(self) -> None:
        self.session.answers.auth.backend = self.query_one("#field-auth-backend", ChoiceField).value
        self.query_one(StepBar).set_steps(self.wizard.step_titles())
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
