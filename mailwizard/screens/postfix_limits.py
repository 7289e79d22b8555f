"""Limits (guide 2.9.2): Postfix's directives against denial of service, with Postfix's defaults shown;
below them the hardening notes (2.9.1), read from the host by the step's own checks, changed by no one
but the administrator."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from mailwizard.answers import LIMIT_DEFAULTS, Answers
from mailwizard.screens.base import FormScreen
from mailwizard.widgets import CheckList, Field, FieldMessages

HELP = """\
Limits against denial of service (guide 2.9.2 *Protecting Postfix from DoS
attacks*), written into main.cf with `postconf -e`; an empty field keeps
Postfix's default (shown in the field) and writes nothing
(`[postfix.limits]` in the answers file).

- **Connections/unit** (`smtpd_client_connection_rate_limit`): connection
  attempts one client may make per time unit; 0 = no limit.
- **Messages/unit** (`smtpd_client_message_rate_limit`): messages one
  client may send per time unit; 0 = no limit.
- **Time unit** (`anvil_rate_time_unit`): the unit of those rates, e.g. `60s`.
- **Exceptions** (`smtpd_client_event_limit_exceptions`): clients the rate
  limits leave alone (by default the trusted networks).
- **Processes** (`default_process_limit`): Postfix processes at once.
- **Queue free** (`queue_minfree`): bytes that must stay free in the queue
  file system before mail is accepted; at least 1.5 x the message size
  limit, or 0 for Postfix's own 1.5 x rule.
- **Header size** (`header_size_limit`) and **Message size**
  (`message_size_limit`, at most `mailbox_size_limit` = 51200000): bytes.

**Hardening notes** (guide 2.9.1 *Reducing Postfix network-related security
risks*), below the limits: a warning when the mail spool
/var/spool/postfix is on NFS (NFSv2/v3 do not control user IDs, so users
could read each other's mail), and the accounts with a login shell (mail
users should reach the server only with a mail program: `usermod -s
/sbin/nologin USER`). The wizard changes neither: only you know which
accounts must keep their shell. `sudo mailwizard verify` shows them again.
"""

LIMITS = [("smtpd_client_connection_rate_limit", "Connections"),
          ("smtpd_client_message_rate_limit", "Messages"),
          ("anvil_rate_time_unit", "Time unit"),
          ("smtpd_client_event_limit_exceptions", "Exceptions"),
          ("default_process_limit", "Processes"),
          ("queue_minfree", "Queue free"),
          ("header_size_limit", "Header size"),
          ("message_size_limit", "Message size")]

# a default too long for the field, as Postfix's documentation says it
SHOWN_DEFAULTS = {"smtpd_client_event_limit_exceptions": "$mynetworks"}


class HardeningRead(Message):
    """The hardening notes were read from the host (posted from a thread worker)."""

    def __init__(self, checks: list, error: str = "") -> None:
        super().__init__()
        self.checks = checks
        self.error = error


class PostfixLimitsScreen(FormScreen):
    KEY = "postfix_limits"
    HEADING = "Limits against denial of service"
    HELP = HELP

    @classmethod
    def summary(cls, answers: Answers) -> str:
        """One line for the "Everything else" page."""
        n = len(answers.postfix.limits)
        return f"{n} limit(s) set against denial of service" if n else "Postfix's own limits"

    def compose_body(self) -> ComposeResult:
        limits = self.session.answers.postfix.limits
        yield Static("Empty: Postfix's default (shown), nothing written. Rates count per time unit.",
                     classes="intro")
        yield Static("Hardening notes (2.9.1), below the limits: checking...", id="hardening-summary",
                     classes="intro")
        yield FieldMessages(id="form-messages")
        for key, label in LIMITS:
            value = limits.get(key)
            yield Field(f"postfix.limits.{key}", label, "" if value is None else str(value),
                        placeholder=f"default {SHOWN_DEFAULTS.get(key, LIMIT_DEFAULTS[key])} ({key})")
        yield Static("Hardening notes (guide 2.9.1): the wizard changes none of this", classes="section")
        yield CheckList(id="hardening")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(f"#postfix-limits-{LIMITS[0][0]}").focus()
        self.read_hardening()

    @work(thread=True, exclusive=True, group="hardening")
    def read_hardening(self) -> None:
        """The hardening step's own checks (they read /proc/mounts and /etc/passwd)."""
        from mailwizard.steps.postfix_security import verify_hardening

        session = self.session
        try:
            self.post_message(HardeningRead(verify_hardening(session.answers, session.host, session.profile)))
        except Exception as exc:  # shown, never a traceback
            self.post_message(HardeningRead([], f"{type(exc).__name__}: {exc}"))

    @on(HardeningRead)
    def _hardening_read(self, message: HardeningRead) -> None:
        summary = self.query_one("#hardening-summary", Static)
        if message.error:
            summary.update(f"Hardening notes (2.9.1) could not be read: {message.error}")
            return
        self.query_one("#hardening", CheckList).show(message.checks)
        warnings = sum(c.status != "pass" for c in message.checks)
        found = f"{warnings} warning(s)" if warnings else "nothing to warn of"
        if self.session.offline:  # the facts of a fresh install, not of the server
            found += f" on a fresh {self.session.profile.name}; `mailwizard verify` checks the server"
        summary.update(f"Hardening notes (2.9.1), below the limits: {found}.")
        summary.set_class(bool(warnings), "-warning")

    def collect(self) -> None:
        p = self.session.answers.postfix
        limits: dict[str, int | str] = {}
        for key, _ in LIMITS:
            text = self.query_one(f"#field-postfix-limits-{key}", Field).value
            if not text:
                continue
            if isinstance(LIMIT_DEFAULTS[key], int):
                number = self.number(f"postfix.limits.{key}", None)
                if number is not None:
                    limits[key] = number
                elif key in p.limits:
                    limits[key] = p.limits[key]  # refused at the field: the value before stays
            else:
                limits[key] = text
        p.limits = limits
