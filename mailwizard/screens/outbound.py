"""Outbound (beyond the guide, issue 16): DKIM signing, and a relay host Postfix logs in at."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import Field, FieldMessages, TickField

HELP = """\
What makes this server's mail trusted where it is delivered. Both parts are
off unless chosen here (or in the answers file).

**DKIM signing** (`[dkim] enabled`): OpenDKIM signs the mail this host
sends, as a Postfix milter; large receivers junk or refuse unsigned mail.
The wizard installs `opendkim` and `opendkim-tools` (on RHEL from EPEL,
which it enables first, as its own change on the Review), makes a 2048-bit
key readable by the `opendkim` user alone, and sets Postfix's
`smtpd_milters`. Mail that users submit (587/465, logged in) and mail from
this host is signed; mail from strangers is not.

- **Selector** (`dkim.selector`): the name of the key in DNS:
  `SELECTOR._domainkey.DOMAIN`, e.g. `mail` or `2026a`.
- **Domains** (`dkim.domains`): the sender domains signed; empty = the
  server's domain.
- **Next selector** (`dkim.next_selector`): key rotation. A second key is
  made now and its record listed; publish it, and once DNS has it make it
  the Selector (the old key stops signing).

The TXT records to publish are in the Report's DNS records (`d`), split in
strings of 255 characters as zone files need; `mailwizard verify` checks
that DNS publishes them.

Unticked after a run that turned it on, the next run gives Postfix back the
milter settings it had before (or removes them), stops OpenDKIM and no
longer starts it at boot. The keys stay (`/etc/dkimkeys`, RHEL
`/etc/opendkim/keys`): a private key is never deleted by a run.

**Relay host login** (`postfix.relay_user`): when outbound port 25 is
blocked, or a provider's relay must carry the mail, Postfix hands all mail
to the **Relay host** (`postfix.relayhost`, `[smtp.example.net]:587`) and
logs in there: `smtp_sasl_auth_enable`, the 0600 map
`/etc/postfix/sasl_passwd` (built with `postmap`), `noanonymous`, and TLS
made mandatory (`smtp_tls_security_level = encrypt`) so the password never
crosses the network in clear. The **Password** is typed (shown as dots,
kept in memory only, never saved in an answers file or the journal) or
read from a **Password file** (`postfix.relay_password_file`, 0600, one line).
With the user emptied again, the next run takes the login settings out and
removes both map files.
"""


class OutboundScreen(FormScreen):
    KEY = "outbound"
    HEADING = "Outbound mail: DKIM signing and a relay host login"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        d, p = answers.dkim, answers.postfix
        signing = (f"DKIM signing as {d.selector} for {', '.join(d.domains or [answers.server.domain])}"
                   if d.enabled else "no DKIM signing")
        relay = (f"relay host {p.relayhost} with a login as {p.relay_user}" if p.relayhost and p.relay_user
                 else f"relay host {p.relayhost}" if p.relayhost else "mail sent directly")
        return f"{signing}; {relay}"

    def compose_body(self) -> ComposeResult:
        answers = self.session.answers
        d, p = answers.dkim, answers.postfix
        yield FieldMessages(id="form-messages")
        yield TickField("dkim.enabled", "DKIM", "sign outgoing mail (OpenDKIM)", d.enabled)
        with Vertical(id="outbound-dkim", classes="subform"):
            yield Field("dkim.selector", "Selector", d.selector, placeholder="mail")
            yield Field("dkim.domains", "Domains", " ".join(d.domains),
                        placeholder=answers.server.domain or "example.com")
            yield Field("dkim.next_selector", "Next selector", d.next_selector, placeholder="(rotation: e.g. 2026b)")
        yield Static("Relay host login (an authenticated smarthost)", classes="section")
        yield Field("postfix.relayhost", "Relay host", p.relayhost, placeholder="[smtp.example.net]:587")
        yield Field("postfix.relay_user", "Relay user", p.relay_user, placeholder="(none: no login)")
        yield Field("postfix.relay_password", "Password", p.relay_password, password=True,
                    placeholder="typed: kept in memory only")
        yield Field("postfix.relay_password_file", "or file", p.relay_password_file, placeholder="/root/relay.pass")
        yield Static("", id="outbound-note", classes="derived")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_parts()
        self.query_one("#dkim-enabled").focus()

    @on(Checkbox.Changed)
    def show_parts(self) -> None:
        on_ = self.query_one("#field-dkim-enabled", TickField).value
        self.query_one("#outbound-dkim").display = on_
        self._collect()
        self.query_one("#outbound-note", Static).update(self.note())

    @on(Input.Changed, "#dkim-selector, #dkim-domains")
    def _dkim_typed(self) -> None:
        self._collect()
        self.query_one("#outbound-note", Static).update(self.note())

    def note(self) -> str:
        answers = self.session.answers
        parts = []
        if answers.dkim.enabled:
            parts.append("Signs mail of " + ", ".join(answers.dkim_domains()) +
                         f" with selector {answers.dkim.selector}; its records are in the Report's DNS records.")
        if answers.postfix.mode == "null-client":
            parts.append("A null client's relay host is set on the Postfix screen too.")
        return " ".join(parts)

    def collect(self) -> None:
        answers = self.session.answers
        d, p = answers.dkim, answers.postfix
        d.enabled = self.query_one("#field-dkim-enabled", TickField).value
        if d.enabled:  # a hidden field's value stays as it was
            d.selector = self.query_one("#field-dkim-selector", Field).value
            d.domains = self.query_one("#field-dkim-domains", Field).words
            d.next_selector = self.query_one("#field-dkim-next_selector", Field).value
        p.relayhost = self.query_one("#field-postfix-relayhost", Field).value
        p.relay_user = self.query_one("#field-postfix-relay_user", Field).value
        p.relay_password = self.query_one("#field-postfix-relay_password", Field).value
        p.relay_password_file = self.query_one("#field-postfix-relay_password_file", Field).value
