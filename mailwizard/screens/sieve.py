"""Sieve (guide 1.8): ManageSieve for the users' filters, Sieve on LMTP delivery, the global spam filter."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import Field, FieldMessages, TickField

HELP = """\
Server-side mail filtering (guide 1.8 *Enabling server-side email filtering
by using Sieve on a Dovecot IMAP server*).

**ManageSieve** is how users upload their Sieve scripts (sort by sender,
forward, vacation replies) from their mail client. The wizard installs
Pigeonhole (`dovecot-pigeonhole` on RHEL; `dovecot-sieve` and
`dovecot-managesieved` on Debian), uncomments `protocols = $protocols sieve`
in `conf.d/20-managesieve.conf` as the guide says, and opens firewalld's
`managesieve` service. **Port** (`sieve.port`): `inet_listener sieve` of
`service managesieve-login`; 4190 is the standard one (another port also
gets the SELinux label `sieve_port_t` and a firewalld port).

The guide's warning: a client without TLS sends the password in clear.
So `protocol sieve { ssl = required }`: no login before STARTTLS. Use the
connection security *STARTTLS* on port 4190 in the client.

**Run the users' scripts** (`sieve.lmtp_plugin`): the guide stops at
uploading; scripts filter mail only when the delivery agent loads the Sieve
plugin: `protocol lmtp { mail_plugins = $mail_plugins sieve }` in
`conf.d/20-lmtp.conf` (LMTP must be on, Protocols screen).

**Global spam filter** (`sieve.spam_filter`, `sieve.spam_folder`): the
administrator's filter the guide mentions. Mail a spam filter flagged with
`X-Spam-Flag: YES` is filed into the **Spam folder** before the users' own
scripts run (`sieve_before` in `conf.d/90-sieve.conf`). The script
`/etc/dovecot/sieve/spam-to-junk.sieve` is compiled with `sievec`.
Best is a folder the Mailboxes screen creates (*Junk*); another name is
created at the first flagged message (`fileinto :create`).
"""


class SieveScreen(FormScreen):
    KEY = "sieve"
    HEADING = "Sieve: mail filters, uploaded over ManageSieve"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        s = answers.sieve
        return (f"ManageSieve on port {s.port}" + ("; users' filters run on delivery" if s.lmtp_plugin else "")
                + (f"; spam filed into {s.spam_folder}" if s.spam_filter else ""))

    def compose_body(self) -> ComposeResult:
        s = self.session.answers.sieve
        yield Static("Users upload Sieve scripts from their mail client over ManageSieve; "
                     "STARTTLS is required before login.", classes="intro")
        yield FieldMessages(id="form-messages")
        yield Field("sieve.port", "Port", str(s.port), placeholder="4190")
        yield TickField("sieve.lmtp_plugin", "On delivery", "run the users' scripts (LMTP)", s.lmtp_plugin)
        yield TickField("sieve.spam_filter", "Spam filter", "X-Spam-Flag: YES into a folder", s.spam_filter)
        yield Field("sieve.spam_folder", "Spam folder", s.spam_folder, placeholder="Junk")
        yield Static("", id="sieve-folder-note", classes="derived")

    def folder_note(self) -> str:
        from mailwizard.steps.sieve import auto_created

        answers = self.session.answers
        folder = answers.sieve.spam_folder.strip()
        if not answers.sieve.spam_filter:
            return "Off: flagged mail stays in the inbox unless a user's own script moves it."
        if not folder:
            return ""
        if folder in auto_created(answers):
            return f"{folder} is created by Dovecot for every user (Mailboxes screen)."
        return f"{folder} is not on the Mailboxes screen: created at the first flagged message."

    def on_mount(self) -> None:
        super().on_mount()
        self.show_filter()
        self.query_one("#sieve-port").focus()

    @on(Checkbox.Changed)
    def show_filter(self) -> None:
        on_ = self.query_one("#field-sieve-spam_filter", TickField).value
        self.query_one("#field-sieve-spam_folder").display = on_
        self._collect()
        self.query_one("#sieve-folder-note", Static).update(self.folder_note())

    @on(Input.Changed, "#sieve-spam_folder")
    def _folder_typed(self) -> None:
        self.session.answers.sieve.spam_folder = self.query_one("#field-sieve-spam_folder", Field).value
        self.query_one("#sieve-folder-note", Static).update(self.folder_note())

    def collect(self) -> None:
        s = self.session.answers.sieve
        s.port = self.number("sieve.port", s.port)
        s.lmtp_plugin = self.query_one("#field-sieve-lmtp_plugin", TickField).value
        s.spam_filter = self.query_one("#field-sieve-spam_filter", TickField).value
        if s.spam_filter:  # the folder of a hidden field stays as it was
            s.spam_folder = self.query_one("#field-sieve-spam_folder", Field).value
