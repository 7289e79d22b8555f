"""Postfix mode (guide 2.1, 2.3): an internet site that receives mail, or a null client that only forwards."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RadioSet, Static

from mailwizard.screens.base import FormScreen
from mailwizard.widgets import ChoiceField, Field, FieldMessages, StepBar

HELP = """\
What this host's Postfix is for (`[postfix] mode`).

**Internet site** (`internet-site`, guide 2.1 *Installing and configuring
Postfix*): mail is sent and received directly over SMTP; Postfix delivers
mail for this host's domains (to Dovecot over LMTP) and relays for the
networks you trust.

- **Interfaces** (`postfix.inet_interfaces`): where Postfix listens:
  `all`, `loopback-only`, or addresses (`192.0.2.1 [2001:db8:1::1]`).
- **Trusted networks** (`postfix.mynetworks`): clients that may relay
  without logging in: IPv4 CIDRs, IPv6 in brackets (`[2001:db8:1::]/64`).
  Keep it to this host (`127.0.0.0/8 [::1]/128`) unless you must.
- **Origin** (`postfix.myorigin`): the domain added to local senders:
  `$mydomain` (the guide's), `$myhostname` or a domain name.

**Null client** (`null-client`, guide 2.3 *Configuring a null client*):
the host only sends its own mail, all of it through a **relay host**
(`postfix.relayhost`, `[relay.example.com]`: brackets skip the MX lookup),
listens on loopback only and delivers nothing locally. A null client has
no Dovecot: the Dovecot screens leave the wizard.
"""

MODES = [("internet-site", "Internet site: sends and receives mail directly over SMTP"),
         ("null-client", "Null client: forwards all its mail to a relay host")]


class PostfixModeScreen(FormScreen):
    KEY = "postfix"
    HEADING = "Postfix: internet site or null client"
    HELP = HELP

    dovecot_before = True  # Dovecot's state for an internet site (a null client has none)

    def compose_body(self) -> ComposeResult:
        p = self.session.answers.postfix
        yield FieldMessages(id="form-messages")
        yield ChoiceField("postfix.mode", "Mode", MODES, p.mode, vertical=True)
        with Vertical(id="postfix-site", classes="subform"):
            aside = self.wizard.postfix_site_only or {}
            yield Field("postfix.inet_interfaces", "Interfaces", aside.get("inet_interfaces", p.inet_interfaces),
                        placeholder="all")
            yield Field("postfix.mynetworks", "Trusted nets", " ".join(p.mynetworks),
                        placeholder="127.0.0.0/8 [::1]/128")
        with Vertical(id="postfix-null", classes="subform"):
            yield Field("postfix.relayhost", "Relay host", p.relayhost, placeholder="[relay.example.com]")
        yield Field("postfix.myorigin", "Origin", p.myorigin, placeholder="$mydomain")
        yield Static("", id="postfix-mode-note", classes="derived")

    def on_mount(self) -> None:
        answers = self.session.answers
        if answers.postfix.mode == "null-client":
            dovecot = answers.raw.get("dovecot")
            self.dovecot_before = dovecot.get("enabled", True) is not False if isinstance(dovecot, dict) else True
        else:
            self.dovecot_before = answers.dovecot_enabled
        super().on_mount()
        self.show_mode()
        self.query_one("#postfix-mode").focus()

    @on(RadioSet.Changed, "#postfix-mode")
    def _mode_changed(self) -> None:
        self._collect()
        self.show_mode()
        self.query_one(StepBar).set_steps(self.wizard.step_titles(self.KEY))

    def show_mode(self) -> None:
        null = self.query_one("#field-postfix-mode", ChoiceField).value == "null-client"
        self.query_one("#postfix-site").display = not null
        self.query_one("#postfix-null").display = null
        if null:
            note = ("Listens on loopback only, delivers nothing here (mydestination is empty) "
                    "and has no Dovecot: the Dovecot screens are left out.")
        elif not self.dovecot_before:
            note = ("Receives mail for its domains. Dovecot is off ([dovecot] enabled = false in the "
                    "answers file): give Postfix a certificate (Postfix TLS screen) and a Dovecot host "
                    "or local delivery (Delivery screen).")
        else:
            note = ("Receives mail for its domains and delivers it to Dovecot; relays for the "
                    "trusted networks and, on Submission, for users who log in.")
        self.query_one("#postfix-mode-note", Static).update(note)

    def collect(self) -> None:
        answers = self.session.answers
        p = answers.postfix
        p.mode = self.query_one("#field-postfix-mode", ChoiceField).value
        p.myorigin = self.query_one("#field-postfix-myorigin", Field).value
        if p.mode == "null-client":  # as parse() does: a null client has no Dovecot
            answers.dovecot_enabled = False
            p.relayhost = self.query_one("#field-postfix-relayhost", Field).value
            # what only an internet site uses is set aside (on the app: it outlives this screen)
            if self.wizard.postfix_site_only is None:
                self.wizard.postfix_site_only = {"inet_interfaces": p.inet_interfaces,
                                                 "submission": p.submission,
                                                 "virtual_alias_source": p.virtual_alias_source}
            p.inet_interfaces, p.submission, p.virtual_alias_source = "", False, ""
        else:
            answers.dovecot_enabled = self.dovecot_before
            if (aside := self.wizard.postfix_site_only) is not None:
                self.wizard.postfix_site_only = None
                p.submission, p.virtual_alias_source = aside["submission"], aside["virtual_alias_source"]
            p.inet_interfaces = self.query_one("#field-postfix-inet_interfaces", Field).value
            p.mynetworks = self.query_one("#field-postfix-mynetworks", Field).words
