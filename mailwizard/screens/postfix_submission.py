"""Submission (guide 2.6, 2.9.3): ports 587 and 465 for users who log in, and the sender check.

Where Dovecot checks their passwords (SASL on this host or another) is set on
the Delivery screen, with the rest of what concerns Dovecot's place."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, RadioSet, Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import ChoiceField, FieldMessages, TickField

HELP = """\
Mail clients of your users send mail through Postfix after logging in
(guide 2.9.3 *Configuring SMTP authentication*; Dovecot checks the
passwords over SASL, `smtpd_sasl_type = dovecot`).

- **Submission** (`postfix.submission`): the `submission` service on port
  587 (STARTTLS required) in master.cf, with its firewalld service;
  `smtpd_sasl_auth_enable = yes`, `smtpd_sasl_security_options = noanonymous,
  noplaintext`, `smtpd_relay_restrictions = permit_mynetworks
  permit_sasl_authenticated defer_unauth_destination` (no open relay).
  Dovecot listens for Postfix on `/var/spool/postfix/private/auth`
  (mode 0660, postfix:postfix).
- **Port 465** (`postfix.smtps`): also `submissions` on 465 with implicit
  TLS (`smtpd_tls_wrappermode = yes`; `smtps` before Postfix 3.6).
- **Sender check** (`postfix.sender_login_mismatch`, guide 2.6 *Preventing
  spoofing*): *reject* adds `reject_sender_login_mismatch`, so a user may
  send only as their own address (`smtpd_sender_login_maps`); *reject
  logged-in* checks only the users who log in
  (`reject_authenticated_sender_login_mismatch`).

A Dovecot on another host that checks the passwords (`postfix.sasl_host`,
`smtpd_sasl_path = inet:HOST:PORT`) is set on the **Delivery** screen.
"""

MISMATCH = [("", "off"), ("reject", "reject"), ("reject-authenticated", "reject logged-in")]


class PostfixSubmissionScreen(FormScreen):
    KEY = "postfix_submission"
    HEADING = "Submission for users who log in"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        p = answers.postfix
        if not p.submission:
            return "off: users cannot send mail through this server"
        return f"on: port{'s 587 and 465' if p.smtps else ' 587'} for users who log in"

    def compose_body(self) -> ComposeResult:
        p = self.session.answers.postfix
        yield FieldMessages(id="form-messages")
        yield TickField("postfix.submission", "Submission", "port 587 (STARTTLS) for users who log in",
                        p.submission)
        yield TickField("postfix.smtps", "Port 465", "also port 465 (implicit TLS)", p.smtps)
        yield ChoiceField("postfix.sender_login_mismatch", "Sender check", MISMATCH, p.sender_login_mismatch)
        yield Static("", id="submission-note", classes="derived")

    def submission_note(self) -> str:
        p = self.session.answers.postfix
        if not p.submission:
            return "Off: users cannot send through this server; it only receives mail (port 25)."
        ports = "587 and 465" if p.smtps else "587"
        sasl = f"Dovecot on {p.sasl_host}:{p.sasl_port}" if p.sasl_host else "Dovecot on this host"
        sasl += " (Delivery screen)"
        return f"Ports {ports}; passwords checked by {sasl}; no relaying for anyone else."

    def on_mount(self) -> None:
        super().on_mount()
        self.show_submission()
        self.query_one("#postfix-submission").focus()

    @on(Checkbox.Changed)
    @on(RadioSet.Changed)
    def show_submission(self) -> None:
        on_ = self.query_one("#field-postfix-submission", TickField).value
        self.query_one("#field-postfix-smtps").display = on_
        self.query_one("#field-postfix-sender_login_mismatch").display = on_
        self._collect()
        self.query_one("#submission-note", Static).update(self.submission_note())

    def collect(self) -> None:
        p = self.session.answers.postfix
        p.submission = self.query_one("#field-postfix-submission", TickField).value
        if p.submission:  # the choices of a hidden part stay as they were, except the sender check
            p.smtps = self.query_one("#field-postfix-smtps", TickField).value
            p.sender_login_mismatch = self.query_one("#field-postfix-sender_login_mismatch", ChoiceField).value
        else:
            p.sender_login_mismatch = ""  # it needs submission
