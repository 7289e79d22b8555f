"""Protocols (guide 1.1.5, 1.7, 1.8): IMAP, POP3, LMTP and ManageSieve, and opening their ports in firewalld."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import FieldMessages, StepBar, TickField

HELP = """\
The services Dovecot offers: `protocols = ...` in `/etc/dovecot/dovecot.conf`
(guide 1.1.5 step 1, and 1.7 *Disabling the IMAP or POP3 service*). Each
protocol you do not need is one less open door.

- **IMAP** (`protocols.imap`): ports 143 (STARTTLS) and 993 (IMAPS).
- **POP3** (`protocols.pop3`): ports 110 (STARTTLS) and 995 (POP3S).
- **LMTP** (`protocols.lmtp`): how the MTA (Postfix) delivers mail to Dovecot,
  through a socket or a TCP port: the LMTP screen sets which (guide 1.6).

- **ManageSieve** (`protocols.sieve`, guide 1.8): users upload their own
  mail filters (Sieve scripts) on port 4190, over TLS only; the Sieve screen
  that follows sets the filtering on delivery and the global spam filter.

At least one of IMAP, POP3 and LMTP must be on.

**Firewall** (`firewall.manage`): on hosts with firewalld, open the services
of the enabled protocols (guide 1.1.5 step 2):
`firewall-cmd --permanent --add-service=imaps --add-service=imap
--add-service=pop3s --add-service=pop3` and `firewall-cmd --reload`; the
services of a disabled protocol are removed (guide 1.7 step 3). Off: the
wizard leaves the firewall alone and you open the ports yourself. A host
without firewalld (Debian's default) gets nothing: the Review says which
ports to allow in its own firewall.
"""

PROTOCOLS = [("imap", "IMAP", "mail clients read mail: ports 143 and 993 (IMAPS)"),
             ("pop3", "POP3", "mail clients download mail: ports 110 and 995 (POP3S)"),
             ("lmtp", "LMTP", "the MTA (Postfix) delivers mail to Dovecot"),
             ("sieve", "ManageSieve", "users upload their own mail filters: port 4190, TLS only")]


class ProtocolsScreen(FormScreen):
    KEY = "protocols"
    HEADING = "Protocols and firewall"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        p = answers.protocols
        on = [name.upper() if name != "sieve" else "ManageSieve" for name in ("imap", "pop3", "lmtp", "sieve")
              if getattr(p, name)]
        return ", ".join(on or ["none"]) + ("; firewalld opened for them" if answers.firewall_manage
                                            else "; the firewall left alone")

    def compose_body(self) -> ComposeResult:
        answers = self.session.answers
        yield Static("The services Dovecot offers; turn off what nobody uses.", classes="intro")
        for name, label, text in PROTOCOLS:
            yield TickField(f"protocols.{name}", label, text, getattr(answers.protocols, name))
        yield FieldMessages(id="form-messages")
        yield TickField("firewall.manage", "Firewall", "open the enabled protocols' services in firewalld "
                        "and close the others", answers.firewall_manage)
        yield Static(self.firewall_note(), id="firewall-note", classes="derived")

    def firewall_note(self) -> str:
        from mailwizard.steps.firewall import PORTS, wanted

        answers, profile = self.session.answers, self.session.profile
        opened, closed = wanted(answers)
        ports = ", ".join(str(PORTS[s]) for s in opened) or "none"
        if profile.firewall != "firewalld":
            return (f"{profile.label} has no firewalld: the wizard opens nothing. If this host runs "
                    f"another firewall (nftables, ufw), allow TCP {ports} there.")
        if not answers.firewall_manage:
            return f"The firewall is left alone: allow TCP {ports} yourself."
        return (f"opens: {' '.join(opened) or 'nothing'} (TCP {ports})"
                + (f"; closes: {' '.join(closed)}" if closed else ""))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#protocols-imap").focus()

    @on(Checkbox.Changed)
    def _toggled(self) -> None:
        """LMTP or ManageSieve on or off adds or removes its screen: the step bar (and the firewall note) follow."""
        self._collect()
        self.query_one(StepBar).set_steps(self.wizard.step_titles(self.KEY))
        self.query_one("#firewall-note", Static).update(self.firewall_note())

    def collect(self) -> None:
        answers = self.session.answers
        for name, _, _ in PROTOCOLS:
            setattr(answers.protocols, name, self.query_one(f"#field-protocols-{name}", TickField).value)
        answers.firewall_manage = self.query_one("#field-firewall-manage", TickField).value
