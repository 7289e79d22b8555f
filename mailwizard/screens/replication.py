"""Replication (guide 1.4): the prerequisites, checked; the partner, the port, the doveadm password."""

from __future__ import annotations

import copy

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from mailwizard.answers import Answers, Problem
from mailwizard.plan import Check
from mailwizard.screens.base import FormScreen
from mailwizard.steps.replication import KEY
from mailwizard.widgets import CheckList, Field, FieldMessages

HELP = """\
Two-way replication keeps every mailbox on two servers (guide 1.4
*Configuring replication between two Dovecot servers*): a change on one is
copied to the other by `dsync`, so IMAP and POP3 clients can use either.
Replication works between pairs of servers only.

**Prerequisites** (checked at the top; the wizard refuses to go on while one
fails):

- the user database lists its users: `doveadm user '*'`. With PAM the
  passwd userdb lists the system users whose uid lies in first_valid_uid ..
  last_valid_uid; with MariaDB the iterate query does it; with LDAP the
  posixAccount entries. Checked with doveadm once Dovecot runs.
- Dovecot accesses mail as the vmail user, not the user's uid: the
  Authentication step sets `override_fields = uid=vmail gid=vmail`.
- both servers use the same user database (the same users): only you can
  check this; the guide prefers LDAP or SQL to keep accounts in one place.

**Partner** (`replication.partner`): the other server's host name (or
address): `mail_replica = tcp:PARTNER:PORT`.

**Port** (`replication.port`): the doveadm service's TCP port,
`service doveadm { inet_listener { port } }` (12345 in the guide), the same
on both servers.

**Password** (`replication.password`): doveadm's password, the same on both
servers, typed here (shown as dots, kept in memory only, never saved in an
answers file or the journal; it is then written into the 0600 file), or a
**Password file** (`replication.password_file`, 0600 root:root, one line):
the configuration then says `doveadm_password = <FILE` and holds no secret.
Dovecot reads the whole file, a final line break included: copy the same
file to the partner.

**Max dsyncs** (`replication.max_conns`): `replication_max_conns`, the
parallel dsync processes (Dovecot's default 10).

**Partner addresses** (`replication.partner_addresses`): on firewalld hosts
a rich rule admits only these to the port (`192.0.2.1/32`,
`2001:db8:2::1/128`: /32 and /128 are single hosts), then
`firewall-cmd --reload`. On SELinux hosts `setsebool -P nis_enabled on`
lets Dovecot open the port.

Everything goes to `/etc/dovecot/conf.d/10-replication.conf`, 0600
root:root. After apply the wizard writes the partner's answers file
(`replication.partner_answers`, by default /var/lib/mailwizard/partner.toml):
the same answers with the two servers swapped and no password, so
`mailwizard --answers partner.toml` on the partner asks only what differs.
"""

# how each prerequisite's state reads (CheckList shows a status word a line)
STATES = {"pass": "pass", "fail": "fail", "unknown": "LATER", "confirm": "CHECK"}


class PrerequisitesChecked(Message):
    """The prerequisites were checked (posted from a thread worker)."""

    def __init__(self, checks: list[Check], error: str = "") -> None:
        super().__init__()
        self.checks = checks
        self.error = error


class ReplicationScreen(FormScreen):
    KEY = "replication"
    HEADING = "Replication with a second Dovecot server"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        r = answers.replication
        return f"with {r.partner or '(no partner yet)'} on port {r.port}" if r.enabled else "off: one server"

    def compose_body(self) -> ComposeResult:
        from mailwizard.steps.replication import partner_answers_path

        r = self.session.answers.replication
        yield Static("Prerequisites (guide 1.4): checking...", id="replication-prereq-summary", classes="intro")
        yield CheckList(id="replication-prereqs")
        yield Static("The partner server", classes="section")
        yield FieldMessages(id="form-messages")
        yield Field("replication.partner", "Partner", r.partner, placeholder="server2.example.com")
        yield Field("replication.port", "Port", str(r.port), placeholder="12345")
        yield Field("replication.password", "Password", r.password, password=True,
                    placeholder="typed: kept in memory only")
        yield Field("replication.password_file", "or file", r.password_file, placeholder="/root/doveadm.pass")
        yield Field("replication.max_conns", "Max dsyncs", str(r.max_conns), placeholder="10")
        yield Field("replication.partner_addresses", "Partner addrs", " ".join(r.partner_addresses),
                    placeholder="192.0.2.1/32 2001:db8:2::1/128")
        yield Static(self.firewall_note(), classes="derived")
        yield Static(f"After apply, the partner's answers go to {partner_answers_path(self.session.answers)}.",
                     id="replication-partner-file", classes="derived")

    def firewall_note(self) -> str:
        session = self.session
        if session.profile.firewall != "firewalld":
            return (f"{session.profile.label} has no firewalld: admit only these addresses to the port in "
                    "this host's own firewall.")
        if not session.answers.firewall_manage:
            return "The wizard does not manage the firewall (Protocols screen): admit only these yourself."
        return "firewalld admits only these addresses to the port (a rich rule each)."

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#replication-partner").focus()
        self.check_prerequisites()

    @work(thread=True, exclusive=True, group="prerequisites")
    def check_prerequisites(self) -> None:
        """The step's own checks: they may run doveadm on this host, so never on the UI thread."""
        from mailwizard.steps.replication import prerequisites

        session = self.session
        try:
            found = prerequisites(copy.deepcopy(session.answers), session.context())
            checks = [Check("replication", p.title, STATES[p.status], p.detail) for p in found]
            self.post_message(PrerequisitesChecked(checks))
        except Exception as exc:  # shown, never a traceback
            self.post_message(PrerequisitesChecked([], f"{type(exc).__name__}: {exc}"))

    @on(PrerequisitesChecked)
    def _prerequisites_checked(self, message: PrerequisitesChecked) -> None:
        summary = self.query_one("#replication-prereq-summary", Static)
        if message.error:
            summary.update(f"Prerequisites (guide 1.4) could not be checked: {message.error}")
            summary.set_class(True, "-warning")
            return
        self.query_one("#replication-prereqs", CheckList).show(message.checks)
        failed = sum(c.status == "fail" for c in message.checks)
        summary.update(f"Prerequisites (guide 1.4): {failed} failed; the wizard cannot replicate until "
                       "they are met." if failed else
                       "Prerequisites: LATER is checked once Dovecot runs; CHECK is yours.")
        summary.set_class(bool(failed), "-warning")

    def show_problems(self, problems: list[Problem]) -> None:
        """As every form, except the prerequisites' warnings: the list above already says them (CHECK)."""
        super().show_problems([p for p in problems if not (p.key == KEY and p.severity == "warning")])

    def collect(self) -> None:
        r = self.session.answers.replication
        r.partner = self.query_one("#field-replication-partner", Field).value
        r.port = self.number("replication.port", r.port)
        r.password = self.query_one("#field-replication-password", Field).value
        r.password_file = self.query_one("#field-replication-password_file", Field).value
        r.max_conns = self.number("replication.max_conns", r.max_conns)
        r.partner_addresses = self.query_one("#field-replication-partner_addresses", Field).words
