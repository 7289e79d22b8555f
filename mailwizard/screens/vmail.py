"""Mail store (guide 1.1.3): the virtual mail user, the mail root and the mailbox format."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, RadioSet, Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import ChoiceField, Field

HELP = """\
Dovecot keeps every mailbox under one directory, owned by one local user,
instead of acting as each mail user (guide 1.1.3 *Preparing Dovecot to use
virtual users*). Mail users then need no account on this host, and local
users cannot reach the mail files.

**Mail user** (`mailbox.user`): created with
`useradd --home-dir ROOT --shell /usr/sbin/nologin vmail`. Never `dovecot`
or `dovenull`: Dovecot's own processes run as them.

**Mail root** (`mailbox.root`): where the mailboxes live, `ROOT/<user>/`;
owned `vmail:vmail` with mode 0700 (`chown`, `chmod 700`). On SELinux hosts
a root other than /var/mail is labelled
`semanage fcontext -a -t mail_spool_t "ROOT(/.*)?"` and `restorecon -Rv ROOT`.

**Format** (`mailbox.format`), written as `mail_location` in
`conf.d/10-mail.conf`:

- *sdbox* (the guide's choice): Dovecot's fast format, one file per message:
  `mail_location = sdbox:/var/mail/%n/`.
- *mdbox*: several messages per file; fewer files, needs `doveadm purge`
  to free the space of deleted mail.
- *maildir*: one file per message in the standard Maildir layout, readable by
  other tools: `maildir:/var/mail/%n/Maildir`.

`%n` is the user name without the domain, so each user has a directory.
"""

FORMATS = [("sdbox", "sdbox (guide)"), ("mdbox", "mdbox"), ("maildir", "maildir")]


class MailStoreScreen(FormScreen):
    KEY = "vmail"
    HEADING = "Mail store: virtual users"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        m = answers.mailbox
        return f"mail of the {m.user} user under {m.root}, in {m.format}"

    def compose_body(self) -> ComposeResult:
        store = self.session.answers.mailbox
        yield Static("One local user owns every mailbox; mail users need no account on this host.",
                     classes="intro")
        yield Field("mailbox.user", "Mail user", store.user, placeholder="vmail")
        yield Field("mailbox.root", "Mail root", store.root, placeholder="/var/mail")
        yield ChoiceField("mailbox.format", "Format", FORMATS, store.format)
        yield Static("", id="mail-location", classes="derived")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_location()
        self.query_one("#mailbox-user").focus()

    @on(Input.Changed)
    @on(RadioSet.Changed)
    def show_location(self) -> None:
        """What Dovecot will be told, as the admin types: mail_location = sdbox:/var/mail/%n/."""
        from mailwizard.steps.vmail import mail_location

        if not self.query("#mail-location"):
            return  # not composed yet
        preview = Answers()
        preview.mailbox.root = self.query_one("#field-mailbox-root", Field).value or "ROOT"
        preview.mailbox.format = self.query_one("#field-mailbox-format", ChoiceField).value
        user = self.query_one("#field-mailbox-user", Field).value or "USER"
        self.query_one("#mail-location", Static).update(
            f"mail_location = {mail_location(preview)}\n"
            f"{preview.mailbox.root} owned {user}:{user}, mode 0700")

    def collect(self) -> None:
        store = self.session.answers.mailbox
        store.user = self.query_one("#field-mailbox-user", Field).value
        store.root = self.query_one("#field-mailbox-root", Field).value
        store.format = self.query_one("#field-mailbox-format", ChoiceField).value
