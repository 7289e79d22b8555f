"""Limits (guide 2.9.2): Postfix's directives against denial of service, with Postfix's defaults shown."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from mailwizard.answers import LIMIT_DEFAULTS
from mailwizard.screens.base import POSTFIX_LIMITS_KEYS, FormScreen
from mailwizard.widgets import Field, FieldMessages

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


class PostfixLimitsScreen(FormScreen):
    KEY = "postfix_limits"
    HEADING = "Limits against denial of service"
    GUIDE = "2.9.2"
    HELP = HELP
    PREFIXES = POSTFIX_LIMITS_KEYS
    STEPS = ("postfix_limits",)

    def compose_body(self) -> ComposeResult:
        limits = self.session.answers.postfix.limits
        yield Static("Empty: Postfix's default (shown), nothing written. Rates count per time unit.",
                     classes="intro")
        yield FieldMessages(id="form-messages")
        for key, label in LIMITS:
            value = limits.get(key)
            yield Field(f"postfix.limits.{key}", label, "" if value is None else str(value),
                        placeholder=f"default {SHOWN_DEFAULTS.get(key, LIMIT_DEFAULTS[key])} ({key})")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(f"#postfix-limits-{LIMITS[0][0]}").focus()

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
