"""Delivery (guide 2.7, 2.8, 2.9.3): how Postfix hands mail to Dovecot (LMTP, here or on another host),
virtual mailboxes or local users, and where Dovecot checks the passwords of Submission (SASL)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, RadioSet, Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import ChoiceField, Field, FieldMessages

HELP = """\
Where Postfix delivers the mail it receives for your users.

**Delivery** (`postfix.delivery`): *to Dovecot over LMTP* (`lmtp`, guide
2.7 *Delivering email from Postfix to Dovecot running on the same host*):
Postfix hands each message to Dovecot's LMTP service, which files it
into the user's mailbox (and runs Sieve). On this host that is a unix
socket; where Postfix's lmtp client runs chrooted in /var/spool/postfix
(Debian) it is a listener inside the chroot, `lmtp:unix:private/dovecot-lmtp`,
else the guide's `lmtp:unix:/run/dovecot/lmtp`. *Postfix's local delivery*
(`local`): Postfix's own local(8) writes to /var/mail/USER; Dovecot's LMTP
is not used.

**Mailboxes** (`postfix.virtual_mailboxes`):

- *local users* (`false`): users are accounts of this host (PAM):
  `mailbox_transport = lmtp:...`, and the domain stays in `mydestination`.
- *virtual* (`true`): users exist only in Dovecot (LDAP, MariaDB):
  `virtual_transport = lmtp:...` and `virtual_mailbox_domains`; the domain
  leaves `mydestination` (Postfix takes a domain in one list only).
- *automatic* (not set): virtual, unless Dovecot's users are system (PAM)
  users or Dovecot is not on this host.

**Domains** (`postfix.virtual_mailbox_domains`): the domains of the virtual
mailboxes; empty means `$mydomain`, this server's domain. List it too when
you add others, or its mail is no longer delivered here.

**Dovecot on another host** (guide 2.8 *... running on a different host*):
**LMTP host** and **port** (`postfix.lmtp_host`, `lmtp_port`, Dovecot's
TCP listener, 24 by default; see the LMTP screen of that host):
`lmtp:inet:HOST:PORT`. **SASL host** and **port** (`postfix.sasl_host`,
`sasl_port`, guide 2.9.3): the Dovecot that checks the passwords of users
who log in on Submission, `smtpd_sasl_path = inet:HOST:PORT`; empty: this
host's Dovecot, over `/var/spool/postfix/private/auth`. Both empty: Dovecot
runs here.
"""

DELIVERIES = [("lmtp", "to Dovecot over LMTP"), ("local", "Postfix's local delivery")]
MAILBOXES = [("auto", "automatic"), ("virtual", "virtual"), ("system", "local users")]
AS_CHOICE = {None: "auto", True: "virtual", False: "system"}
FROM_CHOICE = {v: k for k, v in AS_CHOICE.items()}


class DeliveryComputed(Message):
    """The delivery settings the step would write, computed in a thread worker."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PostfixDeliveryScreen(FormScreen):
    KEY = "postfix_delivery"
    HEADING = "Delivery to Dovecot"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        p = answers.postfix
        if p.delivery == "local":
            return "Postfix's own local delivery"
        return f"to Dovecot over LMTP on {p.lmtp_host}:{p.lmtp_port}" if p.lmtp_host else \
            "to Dovecot over LMTP on this host"

    def compose_body(self) -> ComposeResult:
        p = self.session.answers.postfix
        domain = self.session.answers.server.domain or "this server's domain"
        yield FieldMessages(id="form-messages")
        yield ChoiceField("postfix.delivery", "Delivery", DELIVERIES, p.delivery)
        with Vertical(id="delivery-lmtp", classes="subform"):
            yield ChoiceField("postfix.virtual_mailboxes", "Mailboxes", MAILBOXES, AS_CHOICE[p.virtual_mailboxes])
            yield Static("", id="mailboxes-note", classes="derived")
            yield Field("postfix.virtual_mailbox_domains", "Domains", " ".join(p.virtual_mailbox_domains),
                        placeholder=f"$mydomain ({domain})")
            with Horizontal(classes="host-port"):
                yield Field("postfix.lmtp_host", "LMTP host", p.lmtp_host,
                            placeholder="empty: Dovecot on this host (unix socket)")
                yield Field("postfix.lmtp_port", "port", str(p.lmtp_port), placeholder="24", classes="port")
            yield Static("", id="delivery-note", classes="derived")
        with Horizontal(classes="host-port"):
            yield Field("postfix.sasl_host", "SASL host", p.sasl_host,
                        placeholder="empty: Dovecot on this host (private/auth)")
            yield Field("postfix.sasl_port", "port", str(p.sasl_port), placeholder="12345", classes="port")
        yield Static("", id="sasl-note", classes="derived")

    def on_mount(self) -> None:
        super().on_mount()
        self.show_delivery()
        self.query_one("#postfix-delivery").focus()

    @on(RadioSet.Changed)
    def _choice_changed(self) -> None:
        self._collect()
        self.show_delivery()

    @on(Input.Blurred)
    def _field_left(self) -> None:
        if self.is_current and not self._leaving:
            self._collect()  # as FormScreen's own handler does: the notes follow the field just left
            self.show_delivery()

    def show_delivery(self) -> None:
        from mailwizard.steps.postfix_site import virtual_mailboxes

        answers = self.session.answers
        lmtp = self.query_one("#field-postfix-delivery", ChoiceField).value == "lmtp"
        self.query_one("#delivery-lmtp").display = lmtp
        virtual = virtual_mailboxes(answers)
        self.query_one("#field-postfix-virtual_mailbox_domains").display = lmtp and virtual
        self.query_one("#mailboxes-note", Static).update(self.mailboxes_note(virtual))
        self.query_one("#sasl-note", Static).update(self.sasl_note())
        self.compute_settings()

    def mailboxes_note(self, virtual: bool) -> str:
        answers = self.session.answers
        chosen = answers.postfix.virtual_mailboxes
        if chosen is not None:
            return ("Users exist only in Dovecot: their domains are virtual mailbox domains." if virtual else
                    "Users are accounts of this host: the domain stays a local destination.")
        if virtual:
            return (f"Automatic: virtual, since Dovecot's users come from {answers.auth.backend.upper()}, "
                    "not from this host's accounts.")
        if not answers.dovecot_enabled:
            return "Automatic: local users, since Dovecot is not on this host; choose virtual if its users are not."
        return "Automatic: local users, since Dovecot's users are this host's accounts (PAM)."

    def sasl_note(self) -> str:
        from mailwizard.steps.postfix_submission import sasl_path

        answers = self.session.answers
        path = sasl_path(answers)
        use = "for the logins of Submission" if answers.postfix.submission else \
            "used once Submission is on (next screen)"
        return f"Passwords checked by Dovecot: smtpd_sasl_path = {path}, {use}."

    @work(thread=True, exclusive=True, group="delivery-settings")
    def compute_settings(self) -> None:
        """The main.cf lines the delivery step plans (it reads the host: which socket Postfix reaches)."""
        from mailwizard.steps import postfix_delivery

        answers = self.session.answers
        if answers.postfix.delivery != "lmtp":
            self.post_message(DeliveryComputed(""))
            return
        try:
            settings, _ = postfix_delivery.delivery_settings(
                answers, postfix_delivery.transport(answers, self.session.context()))
            text = "\n".join(f"{k} = {v}" for k, v in settings)
        except Exception as exc:  # shown, never a traceback
            text = f"could not be computed: {type(exc).__name__}: {exc}"
        self.post_message(DeliveryComputed(text))

    @on(DeliveryComputed)
    def _computed(self, message: DeliveryComputed) -> None:
        self.query_one("#delivery-note", Static).update(message.text)

    def collect(self) -> None:
        p = self.session.answers.postfix
        p.delivery = self.query_one("#field-postfix-delivery", ChoiceField).value
        if p.delivery == "lmtp":  # the choices of a hidden part stay as they were
            p.virtual_mailboxes = FROM_CHOICE[self.query_one("#field-postfix-virtual_mailboxes", ChoiceField).value]
            p.virtual_mailbox_domains = self.query_one("#field-postfix-virtual_mailbox_domains", Field).words
            p.lmtp_host = self.query_one("#field-postfix-lmtp_host", Field).value
            p.lmtp_port = self.number("postfix.lmtp_port", p.lmtp_port)
        p.sasl_host = self.query_one("#field-postfix-sasl_host", Field).value
        p.sasl_port = self.number("postfix.sasl_port", p.sasl_port)
