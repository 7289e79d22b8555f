"""PAM authentication (guide 1.1.4): the range of user IDs that may log in."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import Field

HELP = """\
Dovecot checks passwords with PAM and finds users with NSS: the users of
this host (guide 1.1.4 *Using PAM as the Dovecot authentication backend*).

**First valid UID** (`auth.first_valid_uid`, `first_valid_uid` in
`conf.d/10-mail.conf`): the lowest user ID that may log in; 1000 keeps out
root and the system accounts.

**Last valid UID** (`auth.last_valid_uid`, optional): the highest; empty
means no upper limit.

The mail user (vmail) must be inside the range, as Dovecot runs as it.
In `conf.d/auth-system.conf.ext` the passwd userdb gets
`override_fields = uid=vmail gid=vmail home=ROOT/%n/`: the users' own home
directories and IDs are not used for mail, and need not exist.

Postfix hands LMTP the full address (`alice@example.com`), while system
users have no domain: `protocol lmtp { auth_username_format = %Ln }` drops
it for LMTP lookups.
"""


class PamScreen(FormScreen):
    KEY = "auth_pam"
    HEADING = "PAM: system users"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        a = answers.auth
        return f"system users with uid {a.first_valid_uid}" + (f" to {a.last_valid_uid}" if a.last_valid_uid
                                                               else " and above")

    def compose_body(self) -> ComposeResult:
        auth = self.session.answers.auth
        yield Static("The users of this host log in with their passwords (PAM).", classes="intro")
        yield Field("auth.first_valid_uid", "First valid UID", str(auth.first_valid_uid), placeholder="1000")
        yield Field("auth.last_valid_uid", "Last valid UID",
                    "" if auth.last_valid_uid is None else str(auth.last_valid_uid),
                    placeholder="empty: no upper limit")
        from mailwizard.steps.auth import override_fields

        yield Static(f"userdb {{ driver = passwd  override_fields = {override_fields(self.session.answers)} }}",
                     classes="derived")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#auth-first_valid_uid").focus()

    def collect(self) -> None:
        auth = self.session.answers.auth
        auth.first_valid_uid = self.number("auth.first_valid_uid", auth.first_valid_uid)
        auth.last_valid_uid = self.number("auth.last_valid_uid", auth.last_valid_uid, optional=True)
