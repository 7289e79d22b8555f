"""The wizard's pages, one entry per guide topic: the only place that lists them.

A Section says everything the wizard knows of a topic apart from its view and
its work: its key (the screen's module `screens/<key>.py`, its name in every
table of the wizard), its title, the guide's sections it carries out, the
answers keys it owns, what an answers file must hold itself for it to be
passed over, the steps whose host checks it shows, when it is shown at all,
and which steps a resumed run sends back to it. The screens' order, the
step bar, the owner of each answers key (where a problem is shown), the
short path, `--answers` and `--resume` all read it here (wizard.py, app.py,
screens/base.py); nothing else lists sections.

A page shares its name with its step where it has one (`vmail`, `auth`,
`postfix`, ...). Kept for compatibility: the answers table of `vmail` is
`[mailbox]` (answers files already written say so), and the Postfix topics
share the `[postfix]` table. Each entry says so rather than a second table
mapping them.

No Textual here: the core (wizard.py) and the command line import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailwizard.answers import Answers


def _internet_site(answers: Answers) -> bool:
    return answers.postfix.mode == "internet-site"


@dataclass(frozen=True)
class Section:
    key: str  # screens/<key>.py; the page's name in the wizard
    title: str  # in the step bar and on "Everything else"
    view: str  # the screen class in screens/<key>.py
    guide: str = ""  # the guide's sections it carries out
    answers: tuple[str, ...] = ()  # the answers keys it owns ("x." covers every key below x)
    # what an answers file must hold itself for this page to be passed over: alternatives, any one will do
    # (every other key has a default right for most servers, or validation refuses the default)
    required: tuple[tuple[str, ...], ...] = ()
    checks: tuple[str, ...] = ()  # the steps whose host checks it shows
    shown_while: tuple[str, ...] = ()  # shown only while one of these steps applies (empty: always)
    when: Callable[[Answers], bool] | None = None  # shown only when this holds of the answers
    backend: str = ""  # the authentication backend whose form it is
    resumes: tuple[str, ...] = ()  # a resumed run whose first unverified step is one of these opens here
    asked: bool = False  # asked on the short path although an answers file need not hold it

    @property
    def on_short_path(self) -> bool:
        """Asked on a new run's short path; else a line of "Everything else"."""
        return self.asked or bool(self.required)

    def shown(self, answers: Answers, active_steps: set[str]) -> bool:
        """Whether the answers call for this page (the steps that apply: `active_steps`)."""
        return ((not self.shown_while or bool(active_steps.intersection(self.shown_while)))
                and (not self.backend or self.backend == answers.auth.backend)
                and (self.when is None or self.when(answers)))


SECTIONS: tuple[Section, ...] = (
    Section("welcome", "Welcome", "WelcomeScreen", "2.1", ("server.", "platform", "ports", "disk", "existing"),
            required=(("server.hostname",),), checks=("preflight",), resumes=("preflight",)),
    Section("install", "Install", "InstallScreen", "1.1.1", resumes=("install",)),
    Section("tls", "TLS", "TLSScreen", "1.1.2", ("tls.",),
            required=(("tls.cert", "tls.self_signed", "tls.acme"), ("tls.key", "tls.self_signed", "tls.acme")),
            checks=("tls",), shown_while=("tls",), resumes=("acme", "tls")),
    # answers [mailbox]
    Section("vmail", "Mail store", "MailStoreScreen", "1.1.3", ("mailbox.",),
            checks=("vmail",), shown_while=("vmail",), resumes=("vmail",)),
    Section("auth", "Authentication", "AuthScreen", "1.1.4, 1.2.4, 1.3.4",
            ("auth.backend", "auth.mechanisms", "auth.sasl_listener", "auth.sasl_port", "auth.sasl_allow_from"),
            required=(("auth.backend",),), checks=("auth",), shown_while=("auth",), resumes=("auth",)),
    Section("auth_pam", "PAM", "PamScreen", "1.1.4", ("auth.first_valid_uid", "auth.last_valid_uid"),
            checks=("auth",), shown_while=("auth",), backend="pam"),
    Section("auth_ldap", "LDAP", "LdapScreen", "1.2.4", ("auth.ldap.",),
            checks=("auth",), shown_while=("auth",), backend="ldap", asked=True),
    Section("auth_sql", "MariaDB", "SqlScreen", "1.3.4", ("auth.sql.",),
            checks=("auth",), shown_while=("auth",), backend="sql", asked=True),
    Section("protocols", "Protocols", "ProtocolsScreen", "1.1.5, 1.7", ("protocols", "protocols.", "firewall."),
            checks=("protocols", "firewall"), shown_while=("protocols", "firewall"),
            resumes=("protocols", "firewall")),
    Section("mailboxes", "Mailboxes", "MailboxesScreen", "1.5", ("mailboxes", "mailboxes."),
            checks=("mailboxes",), shown_while=("mailboxes",), resumes=("mailboxes",)),
    Section("lmtp", "LMTP", "LmtpScreen", "1.6", ("lmtp.",),
            checks=("lmtp",), shown_while=("lmtp",), resumes=("lmtp",)),
    Section("sieve", "Sieve", "SieveScreen", "1.8", ("sieve.",),
            checks=("sieve",), shown_while=("sieve",), resumes=("sieve",)),
    Section("replication", "Replication", "ReplicationScreen", "1.4", ("replication.",),
            checks=("replication",), shown_while=("replication",), resumes=("replication",)),
    # the Postfix topics: answers [postfix]; a null client receives no mail, so asks only its mode
    Section("postfix", "Postfix", "PostfixModeScreen", "2.1, 2.3",
            ("postfix.mode", "postfix.inet_interfaces", "postfix.mynetworks", "postfix.myorigin",
             "postfix.relayhost"),
            required=(("postfix.mode",),), checks=("postfix",), resumes=("postfix",)),
    Section("postfix_tls", "Postfix TLS", "PostfixTlsScreen", "2.2",
            ("postfix.tls_cert", "postfix.tls_key", "postfix.tls_loglevel"),
            checks=("postfix_tls",), when=_internet_site, resumes=("postfix_tls",)),
    Section("postfix_aliases", "Aliases", "PostfixAliasesScreen", "2.4, 2.5",
            ("postfix.virtual_alias_source", "postfix.virtual_aliases", "postfix.virtual_alias_domains",
             "postfix.ldap_aliases."),
            checks=("postfix_aliases",), when=_internet_site, resumes=("postfix_aliases",)),
    Section("postfix_delivery", "Delivery", "PostfixDeliveryScreen", "2.7, 2.8, 2.9.3",
            ("postfix.delivery", "postfix.virtual_mailboxes", "postfix.virtual_mailbox_domains",
             "postfix.lmtp_host", "postfix.lmtp_port", "postfix.sasl_host", "postfix.sasl_port"),
            checks=("postfix", "postfix_delivery", "postfix_submission"), when=_internet_site,
            resumes=("postfix_delivery",)),
    Section("postfix_submission", "Submission", "PostfixSubmissionScreen", "2.6, 2.9.3",
            ("postfix.submission", "postfix.smtps", "postfix.sender_login_mismatch"),
            checks=("postfix_submission",), when=_internet_site, resumes=("postfix_submission",)),
    Section("postfix_limits", "Limits", "PostfixLimitsScreen", "2.9.2", ("postfix.limits", "postfix.limits."),
            checks=("postfix_limits",), resumes=("postfix_limits",)),
    # beyond the guide: an authenticated smarthost, DKIM signing (answers [dkim] and postfix.relay_*)
    Section("outbound", "Outbound", "OutboundScreen", "",
            ("dkim.", "postfix.relay_user", "postfix.relay_password", "postfix.relay_password_file",
             "postfix.relayhost"),
            checks=("dkim", "postfix_relay"), resumes=("postfix_relay", "dkim")),
    # the pages around the answers
    Section("more", "Everything else", "MoreScreen", asked=True),
    Section("review", "Review", "ReviewScreen", asked=True, resumes=("services", "postfix_hardening")),
    Section("apply", "Apply", "ApplyScreen", asked=True),
    Section("report", "Report", "ReportScreen", "1.1.5", asked=True),
)

BY_KEY: dict[str, Section] = {s.key: s for s in SECTIONS}


def section(key: str) -> Section:
    """The section of `key` (KeyError naming the keys there are)."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no section {key!r}: one of {', '.join(BY_KEY)}") from None


def key_matches(key: str, prefixes: tuple[str, ...]) -> bool:
    """Whether answers key `key` is one of `prefixes` ("x." covers every key below x)."""
    return any(key == p or (p.endswith(".") and key.startswith(p)) for p in prefixes)


def owner(key: str) -> Section | None:
    """The section where the administrator fixes answers key `key`, or None (answers file only)."""
    return next((s for s in SECTIONS if s.answers and key_matches(key, s.answers)), None)


def resume_at(step: str | None) -> str:
    """Where a resumed run opens when `step` is the first one not yet verified (None: all were)."""
    return next((s.key for s in SECTIONS if step in s.resumes), "review")
