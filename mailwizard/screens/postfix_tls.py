"""Postfix TLS (guide 2.2): the certificate smtpd offers (Dovecot's by default), the fixed TLS settings,
and the optional logging of outbound TLS."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, RadioSet, Static

from mailwizard.answers import Answers, Problem
from mailwizard.screens.base import FormScreen
from mailwizard.steps.postfix_tls import cert_paths, tls_settings
from mailwizard.widgets import ChoiceField, Field, FieldMessages, TickField

HELP = """\
The certificate Postfix offers with STARTTLS on port 25 (and on 587/465
for Submission), guide 2.2 *Customizing TLS settings of a Postfix server*.

**Certificate** (`postfix.tls_cert`, `smtpd_tls_cert_file`) and **Private
key** (`postfix.tls_key`, `smtpd_tls_key_file`): by default Postfix uses
the certificate and key of Dovecot (the TLS screen, `[tls]`), so mail
clients see one certificate for IMAP and SMTP. Choose *its own* to give
Postfix its own pair, such as the guide's `/etc/pki/tls/certs/postfix.pem`
and `/etc/pki/tls/private/postfix.key`; when Dovecot is off (a null client
turned internet site, or Dovecot on another host) Postfix needs its own.
They are checked before anything changes: the files exist, the key matches
the certificate, and the certificate names this host.

**Always set** (no choice to make, shown on the screen):

- `smtpd_tls_security_level = may`: STARTTLS is offered to every client;
- `smtpd_tls_auth_only = yes` (the guide's step 2): no password is sent
  before STARTTLS;
- `smtpd_tls_mandatory_protocols`: TLS 1.2 or newer where TLS is mandatory
  (submission; `>=TLSv1.2`, Postfix before 3.6 writes the exclusion list).
  Port 25's opportunistic STARTTLS takes what the TLS library allows (on
  RHEL, the system-wide crypto policy): a sender that fails falls back to
  plaintext;
- `smtp_tls_security_level = may`: opportunistic TLS for outbound mail
  (encrypted when the other server offers STARTTLS).

**Log outbound TLS** (`postfix.tls_loglevel`): the guide's note,
`smtp_tls_loglevel = 1`, logs a line for each outbound TLS session.
"""

SOURCES = [("dovecot", "Dovecot's certificate (TLS screen)"), ("own", "its own")]
# what each fixed setting of the step means, in words
MEANING = {"smtpd_tls_security_level": "STARTTLS offered",
           "smtpd_tls_auth_only": "no login before STARTTLS",
           "smtpd_tls_mandatory_protocols": "TLS 1.2 minimum (submission)",
           "smtp_tls_security_level": "outbound: TLS when offered"}


class PostfixTlsScreen(FormScreen):
    KEY = "postfix_tls"
    HEADING = "TLS for Postfix"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        p = answers.postfix
        return f"certificate {p.tls_cert}" if p.tls_cert else "Dovecot's certificate, on ports 25 and 587"

    def compose_body(self) -> ComposeResult:
        answers = self.session.answers
        p = answers.postfix
        own = bool(p.tls_cert or p.tls_key) or not answers.dovecot_enabled
        yield FieldMessages(id="form-messages")
        yield ChoiceField("postfix.tls_source", "Use", SOURCES, "own" if own else "dovecot")
        with Vertical(id="postfix-tls-own", classes="subform"):
            yield Field("postfix.tls_cert", "Certificate", p.tls_cert, placeholder="/etc/pki/tls/certs/postfix.pem")
            yield Field("postfix.tls_key", "Private key", p.tls_key, placeholder="/etc/pki/tls/private/postfix.key")
        yield Static("", id="postfix-tls-files", classes="derived")
        yield Static("Always set (main.cf)", classes="section")
        yield Static(self.fixed_settings(), id="postfix-tls-fixed", classes="derived")
        level = p.tls_loglevel or 1
        yield TickField("postfix.tls_loglevel", "Log TLS",
                        f"log each outbound TLS session (smtp_tls_loglevel = {level})", bool(p.tls_loglevel))

    def fixed_settings(self) -> str:
        """The step's own settings, less those this screen edits."""
        settings = tls_settings(self.session.answers, self.session.profile)
        edited = {"smtpd_tls_cert_file", "smtpd_tls_key_file", "smtp_tls_loglevel"}
        return "\n".join(f"{k} = {v}" + (f"  ({MEANING[k]})" if k in MEANING else "")
                         for k, v in settings if k not in edited)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_source()
        focus = "#postfix-tls_source" if self.session.answers.dovecot_enabled else "#postfix-tls_cert"
        self.query_one(focus).focus()

    def own_pair(self) -> bool:
        """Whether Postfix gets its own certificate (Dovecot's is not there to share)."""
        return (not self.session.answers.dovecot_enabled
                or self.query_one("#field-postfix-tls_source", ChoiceField).value == "own")

    @on(RadioSet.Changed, "#postfix-tls_source")
    @on(Checkbox.Changed, "#postfix-tls_loglevel")
    def _changed(self) -> None:
        self._collect()
        self.show_source()

    def show_source(self) -> None:
        answers = self.session.answers
        own = self.own_pair()
        self.query_one("#field-postfix-tls_source").display = answers.dovecot_enabled
        self.query_one("#postfix-tls-own").display = own
        self.query_one("#postfix-tls-files", Static).update(self.files_note(own))

    def files_note(self, own: bool) -> str:
        answers = self.session.answers
        cert, key = cert_paths(answers)
        fqdn = answers.server.hostname or "this host"
        if not answers.dovecot_enabled:
            return (f"Dovecot is off here: Postfix needs its own certificate and key, issued for {fqdn}; "
                    "checked when you move on.")
        if own:
            return f"Checked when you move on: the files exist, the key matches, the certificate names {fqdn}."
        made = " (self-signed, made when applying)" if answers.tls.self_signed else ""
        return f"Postfix uses Dovecot's certificate{made}:\n{cert}\n{key}"

    def collect(self) -> None:
        p = self.session.answers.postfix
        if self.own_pair():
            p.tls_cert = self.query_one("#field-postfix-tls_cert", Field).value
            p.tls_key = self.query_one("#field-postfix-tls_key", Field).value
            if self.session.answers.dovecot_enabled and not (p.tls_cert or p.tls_key):
                # both empty would silently mean Dovecot's pair again (one empty: the step says so)
                for key, what in (("tls_cert", "certificate"), ("tls_key", "private key")):
                    self.input_problems.append(Problem(f"postfix.{key}", f"is empty: give the {what}'s "
                                                       "path, or choose Dovecot's"))
        else:
            p.tls_cert = p.tls_key = ""
        if self.query_one("#field-postfix-tls_loglevel", TickField).value:
            p.tls_loglevel = p.tls_loglevel or 1
        else:
            p.tls_loglevel = None
