"""LMTP (guide 1.6): the socket a local MTA delivers to, or a TCP listener for an MTA on another host."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RadioSet, Static

from mailwizard.answers import Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import ChoiceField, Field, FieldMessages

HELP = """\
How the MTA (Postfix) hands mail to Dovecot for delivery, in `service lmtp {}`
of `conf.d/10-master.conf` (guide 1.6 *Configuring an LMTP socket and LMTPS
listener*).

**Listener** (`lmtp.listener`):

- *unix socket* (`unix`): the MTA runs on this host and delivers to
  `/run/dovecot/lmtp`. Where Postfix runs chrooted (Debian), a second socket
  `/var/spool/postfix/private/dovecot-lmtp` is made for it.
- *TCP* (`inet`): the MTA runs on another host:
  `inet_listener lmtp { port = 24 }`. LMTP takes mail for any user from
  anyone who reaches the port, so on firewalld hosts a rich rule admits only
  the **Allowed from** addresses (`lmtp.allow_from`, e.g. `192.0.2.1/32`
  `2001:db8:2::1/128`: /32 and /128 are single hosts), then
  `firewall-cmd --reload`. A **Port** (`lmtp.port`) other than 24 gets the
  SELinux label `lmtp_port_t` (`semanage port -a`).

**Socket owner**, **group**, **mode** (`lmtp.socket_user`, `socket_group`,
`socket_mode`): who may write to the socket; the guide's `postfix`,
`postfix`, `0600` let only Postfix deliver. They are set in both cases,
since the socket exists either way (Dovecot's default 0666 lets every local
user inject mail).
"""

LISTENERS = [("unix", "unix socket: the MTA runs on this host"),
             ("inet", "TCP: the MTA runs on another host")]


class LmtpScreen(FormScreen):
    KEY = "lmtp"
    HEADING = "LMTP: how the MTA delivers mail to Dovecot"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        lmtp = answers.lmtp
        if lmtp.listener == "inet":
            return f"Dovecot's LMTP on TCP port {lmtp.port} for " + (", ".join(lmtp.allow_from) or "nobody yet")
        return "Dovecot's LMTP on a unix socket for Postfix on this host"

    def compose_body(self) -> ComposeResult:
        lmtp = self.session.answers.lmtp
        yield FieldMessages(id="form-messages")
        yield ChoiceField("lmtp.listener", "Listener", LISTENERS, lmtp.listener, vertical=True)
        with Vertical(id="lmtp-inet", classes="subform"):
            yield Field("lmtp.port", "Port", str(lmtp.port), placeholder="24")
            yield Field("lmtp.allow_from", "Allowed from", " ".join(lmtp.allow_from),
                        placeholder="192.0.2.1/32 2001:db8:2::1/128")
            yield Static(self.firewall_note(), id="lmtp-firewall-note", classes="derived")
        yield Static("The socket /run/dovecot/lmtp", classes="section")
        yield Field("lmtp.socket_user", "Socket owner", lmtp.socket_user, placeholder="postfix")
        yield Field("lmtp.socket_group", "Socket group", lmtp.socket_group, placeholder="postfix")
        yield Field("lmtp.socket_mode", "Socket mode", lmtp.socket_mode, placeholder="0600")

    def firewall_note(self) -> str:
        session = self.session
        if session.profile.firewall != "firewalld":
            return (f"{session.profile.label} has no firewalld: admit only these addresses to the "
                    "port in this host's own firewall.")
        if not session.answers.firewall_manage:
            return "The wizard does not manage the firewall (Protocols screen): admit only these yourself."
        return "firewalld admits only these sources to the port (a rich rule each)."

    def on_mount(self) -> None:
        super().on_mount()
        self.show_listener()
        self.query_one("#lmtp-listener").focus()

    @on(RadioSet.Changed, "#lmtp-listener")
    def show_listener(self) -> None:
        inet = self.query_one("#field-lmtp-listener", ChoiceField).value == "inet"
        self.query_one("#lmtp-inet").display = inet

    def collect(self) -> None:
        lmtp = self.session.answers.lmtp
        lmtp.listener = self.query_one("#field-lmtp-listener", ChoiceField).value
        if lmtp.listener == "inet":  # the port and sources of a hidden listener stay as they were
            lmtp.port = self.number("lmtp.port", lmtp.port)
            lmtp.allow_from = self.query_one("#field-lmtp-allow_from", Field).words
        for key in ("socket_user", "socket_group", "socket_mode"):
            setattr(lmtp, key, self.query_one(f"#field-lmtp-{key}", Field).value)
