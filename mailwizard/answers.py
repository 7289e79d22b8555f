"""The administrator's choices: typed, validated, read from and written to TOML.

Every screen edits one part of `Answers`; the answers file format is the one
in shared/answers/. Validation returns Problems that name the key (the same
name the screen's field carries), say what is wrong and what would be right.
Sections that later parts of the wizard own are kept as they were read, so a
saved answers file loses nothing.

A field also says where a configured host holds it (`read=`, readback.py:
existing.py walks those declarations) and whether it is a secret, never
saved (`secret=True`; SECRET_KEYS follows from them).
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import posixpath
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, fields, is_dataclass

import tomli_w

from mailwizard.readback import (
    SITE,
    Args,
    Dovecot,
    Master,
    Postconf,
    address_host,
    address_port,
    as_is,
    blank_words,
    comma_words,
    domain_name,
    file_ref,
    has_word,
    inet_listener,
    is_address,
    location_format,
    location_root,
    login_mismatch,
    lower_words,
    nonzero,
    number,
    one_of,
    pair,
    setting,
    sql_port,
    text,
    words,
    yes,
)

DH_CHOICES = ("ffdhe4096", "generate")
ACME_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"  # Let's Encrypt's production directory
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+@:-]*$")


class AnswersError(Exception):
    """The answers file cannot be read; the message names the problem."""


@dataclass
class Problem:
    key: str
    message: str
    severity: str = "error"  # "error" stops the plan, "warning" is shown

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass
class Server:
    hostname: str = setting("", read=Postconf("myhostname", domain_name))
    domain: str = setting("", read=Postconf("mydomain", domain_name))


@dataclass
class TLS:
    cert: str = setting("", read=Dovecot("ssl_cert", file_ref))
    key: str = setting("", read=Dovecot("ssl_key", file_ref))
    ca: str = setting("", read=Dovecot("ssl_ca", file_ref))
    dh: str = "ffdhe4096"
    self_signed: bool = False
    # a certificate from an ACME CA (certbot, HTTP-01 on port 80): cert and key are then certbot's live/ paths
    acme: bool = False
    acme_email: str = ""
    acme_server: str = ACME_DIRECTORY


def acme_paths(fqdn: str) -> tuple[str, str]:
    """Where certbot keeps the certificate (with its chain) and key of `fqdn`: symbolic links into archive/."""
    live = f"/etc/letsencrypt/live/{fqdn or 'server'}"
    return f"{live}/fullchain.pem", f"{live}/privkey.pem"


@dataclass
class Protocols:
    imap: bool = setting(True, read=Dovecot("protocols", has_word("imap"), missing=""))
    pop3: bool = setting(True, read=Dovecot("protocols", has_word("pop3"), missing=""))
    lmtp: bool = setting(True, read=Dovecot("protocols", has_word("lmtp"), missing=""))
    sieve: bool = setting(False, read=Dovecot("protocols", has_word("sieve"), missing=""))


@dataclass
class MailStore:
    """[mailbox]: the virtual mail user and where mail is stored (guide 1.1.3)."""

    user: str = setting("vmail", read=Dovecot("userdb/override_fields", pair("uid")))
    root: str = setting("/var/mail", read=Dovecot("mail_location", location_root))
    format: str = setting("sdbox", read=Dovecot("mail_location", location_format))  # sdbox, mdbox or maildir


@dataclass
class LdapAuth:
    """[auth.ldap] (guide 1.2.4): a DN template (bind_userdn) or a dynamic lookup (dn/dnpass/pass_filter)."""

    uris: list[str] = setting(factory=list, read=Args("ldap", "uris", blank_words))
    starttls: bool = setting(False, read=Args("ldap", "tls", yes, missing="no"))
    base: str = setting("", read=Args("ldap", "base", as_is))
    scope: str = setting("subtree", read=Args("ldap", "scope", as_is))  # onelevel or subtree
    bind_userdn: str = setting("", read=Args("ldap", "auth_bind_userdn", as_is))
    dn: str = setting("", read=Args("ldap", "dn", as_is))
    dnpass_file: str = ""
    dnpass: str = setting("", secret=True)  # typed on the screen
    pass_filter: str = setting("(&(objectClass=posixAccount)(uid=%n))", read=Args("ldap", "pass_filter", as_is))
    tls_require_cert: str = setting("hard", read=Args("ldap", "tls_require_cert", as_is))
    tls_ca_cert_file: str = setting("", read=Args("ldap", "tls_ca_cert_file", as_is))

    @property
    def lookup(self) -> bool:
        return not self.bind_userdn


@dataclass
class SqlAuth:
    """[auth.sql] (guide 1.3.4)."""

    host: str = setting("", read=Args("sql", "connect", pair("host", empty=True)))
    port: int = setting(3306, read=Args("sql", "connect", sql_port))
    dbname: str = setting("", read=Args("sql", "connect", pair("dbname", empty=True)))
    user: str = setting("", read=Args("sql", "connect", pair("user", empty=True)))
    password_file: str = ""
    password: str = setting("", secret=True)  # typed on the screen
    ssl_ca: str = setting("", read=Args("sql", "connect", pair("ssl_ca", empty=True)))
    default_pass_scheme: str = setting("SHA512-CRYPT", read=Args("sql", "default_pass_scheme", as_is))
    user_query: str = setting("SELECT username FROM users WHERE username='%u';",
                              read=Args("sql", "user_query", as_is))
    password_query: str = setting("SELECT username AS user, password FROM users WHERE username='%u';",
                                  read=Args("sql", "password_query", as_is))
    iterate_query: str = setting("SELECT username FROM users;", read=Args("sql", "iterate_query", as_is))


@dataclass
class Auth:
    """[auth]: the backend and what all backends share."""

    backend: str = setting("pam", read=Dovecot("passdb/driver", one_of("pam", "ldap", "sql")))  # pam, ldap or sql
    first_valid_uid: int = setting(1000, read=Dovecot("first_valid_uid", number))
    last_valid_uid: int | None = setting(None, read=Dovecot("last_valid_uid", nonzero))
    mechanisms: list[str] = setting(factory=lambda: ["plain"], read=Dovecot("auth_mechanisms", lower_words))
    # Dovecot SASL for Postfix (guide 2.9.3): the socket for Postfix on this host, and with "inet" also a
    # TCP listener for a Postfix on another host, admitted by firewalld from sasl_allow_from alone
    sasl_listener: str = setting("unix", read=Dovecot("service auth/inet_listener/port", inet_listener))
    sasl_port: int = setting(12345, read=Dovecot("service auth/inet_listener/port", nonzero))
    sasl_allow_from: list[str] = field(default_factory=list)
    # a test account for the report's logins; the password typed on the Report screen lives only in memory
    test_user: str = ""
    test_password_file: str = ""
    test_password: str = setting("", secret=True)  # typed on the Report screen
    ldap: LdapAuth = field(default_factory=LdapAuth)
    sql: SqlAuth = field(default_factory=SqlAuth)


@dataclass
class Lmtp:
    """[lmtp] (guide 1.6): the unix socket for a local MTA, or a TCP listener for a remote one."""

    listener: str = setting("unix", read=Dovecot("service lmtp/inet_listener lmtp/port", inet_listener))
    port: int = setting(24, read=Dovecot("service lmtp/inet_listener lmtp/port", nonzero))
    allow_from: list[str] = field(default_factory=list)
    socket_user: str = setting("postfix", read=Dovecot("service lmtp/unix_listener lmtp/user", text))
    socket_group: str = setting("postfix", read=Dovecot("service lmtp/unix_listener lmtp/group", text))
    socket_mode: str = setting("0600", read=Dovecot("service lmtp/unix_listener lmtp/mode", text))


_SIEVE = ("protocols.sieve", True)  # ManageSieve's settings are looked at only where it runs


@dataclass
class Sieve:
    """[sieve] (guide 1.8): ManageSieve is `protocols.sieve`; this is what runs on delivery."""

    # run the users' scripts when LMTP delivers (the guide stops at ManageSieve)
    lmtp_plugin: bool = setting(True, read=Dovecot("protocol lmtp/mail_plugins", has_word("sieve"), missing="",
                                                   when=_SIEVE))
    spam_filter: bool = True  # the administrator's global filter: X-Spam-Flag: YES -> spam_folder
    spam_folder: str = "Junk"
    port: int = setting(4190, read=Dovecot("service managesieve-login/inet_listener sieve/port", number,
                                           when=_SIEVE))


@dataclass
class Replication:
    """[replication] (guide 1.4): two-way dsync replication with one partner server."""

    enabled: bool = setting(False, read=Dovecot("plugin/mail_replica", is_address("tcp")))
    # host name or address of the other server (mail_replica = tcp:PARTNER:PORT)
    partner: str = setting("", read=Dovecot("plugin/mail_replica", address_host("tcp")))
    port: int = setting(12345, read=Dovecot("plugin/mail_replica", address_port("tcp")))
    password_file: str = ""  # doveadm_password, read from this file (never written anywhere else)
    password: str = setting("", secret=True)  # typed on the screen
    max_conns: int = setting(10, read=Dovecot("replication_max_conns", number, when=("replication.enabled", True)))
    partner_addresses: list[str] = field(default_factory=list)  # only these may connect (firewalld rich rules)
    partner_answers: str = ""  # where to write the partner's answers file ("" = beside the journal)


@dataclass
class Dns:
    """[dns] (beyond the guide): the records a mail server needs, shown and checked in the report."""

    addresses: list[str] = field(default_factory=list)  # public addresses; [] = the host's global ones
    optional: bool = True  # also suggest TLS-RPT and MTA-STS
    check: bool = True  # ask DNS what is published (offline: a warning, never a failure)


@dataclass
class Dkim:
    """[dkim] (beyond the guide): OpenDKIM signs the mail this host sends, as a Postfix milter."""

    enabled: bool = False
    selector: str = "mail"  # the key that signs: SELECTOR._domainkey.DOMAIN in DNS
    domains: list[str] = field(default_factory=list)  # the sender domains signed; [] = [server] domain
    # key rotation: a second key made and published now; once DNS has it, make it `selector`
    next_selector: str = ""


@dataclass
class MailboxDef:
    """One mailbox of the inbox namespace (guide 1.5)."""

    name: str
    special_use: str = ""
    auto: str = "no"  # subscribe, create or no


def default_mailboxes() -> list[MailboxDef]:
    return [MailboxDef(n, f"\\{n}", "subscribe") for n in ("Drafts", "Junk", "Trash", "Sent")]


@dataclass
class LdapAliases:
    """[postfix.ldap_aliases] (guide 2.5): /etc/postfix/ldap-aliases.cf."""

    server_host: str = ""
    search_base: str = ""
    query_filter: str = ""  # Postfix's default: mailacceptinggeneralid=%s
    result_attribute: str = ""  # Postfix's default: maildrop


# guide 2.9.2: the DoS directives and Postfix's defaults (shown on the screen; written only when set)
LIMIT_DEFAULTS: dict[str, int | str] = {
    "smtpd_client_connection_rate_limit": 0,
    "anvil_rate_time_unit": "60s",
    "smtpd_client_event_limit_exceptions": "${smtpd_client_connection_limit_exceptions:$mynetworks}",
    "smtpd_client_message_rate_limit": 0,
    "default_process_limit": 100,
    "queue_minfree": 0,
    "header_size_limit": 102400,
    "message_size_limit": 10240000,
}
MAILBOX_SIZE_LIMIT = 51200000  # local(8) refuses to start when message_size_limit exceeds it


@dataclass
class Postfix:
    """[postfix] (guide chapter 2): the mode, networks, delivery to Dovecot, submission, aliases, limits."""

    mode: str = "internet-site"  # internet-site (2.1) or null-client (2.3)
    # "" = all for an internet site; loopback-only for a null client
    inet_interfaces: str = setting("", read=Postconf("inet_interfaces", comma_words, when=SITE))
    mynetworks: list[str] = setting(factory=lambda: ["127.0.0.0/8", "[::1]/128"],
                                    read=Postconf("mynetworks", words, when=SITE))
    myorigin: str = setting("$mydomain", read=Postconf("myorigin", as_is))
    relayhost: str = setting("", read=Postconf("relayhost", text))  # null client: [relay.example.com]
    # an authenticated smarthost: smtp_sasl_password_maps holds relay_user and the password (never saved)
    relay_user: str = ""
    relay_password_file: str = ""
    relay_password: str = setting("", secret=True)  # typed on the screen
    delivery: str = "lmtp"  # lmtp (to Dovecot, 2.7/2.8) or local (Postfix's own local delivery)
    lmtp_host: str = ""  # Dovecot on another host (2.8): lmtp:inet:HOST:PORT
    lmtp_port: int = 24
    virtual_mailboxes: bool | None = None  # None: virtual unless Dovecot's users are system (PAM) users
    virtual_mailbox_domains: list[str] = field(default_factory=list)  # [] = $mydomain (virtual mailboxes only)
    # 587 (STARTTLS) and, with smtps, 465 (implicit TLS) for authenticated users
    submission: bool = setting(False, read=Master("submission", when=SITE))
    smtps: bool = setting(True, read=Master("submissions", "smtps", when=("postfix.submission", True)))
    # Dovecot SASL on another host (2.9.3): smtpd_sasl_path = inet:HOST:PORT
    sasl_host: str = setting("", read=Postconf("smtpd_sasl_path", address_host("inet"), when=SITE))
    sasl_port: int = setting(12345, read=Postconf("smtpd_sasl_path", address_port("inet"), when=SITE))
    # "", "reject" (2.6) or "reject-authenticated"
    sender_login_mismatch: str = setting("", read=Postconf("smtpd_sender_restrictions", login_mismatch, missing="",
                                                           when=SITE))
    virtual_alias_source: str = ""  # "", "file" (2.4) or "ldap" (2.5)
    virtual_aliases: dict[str, str] = field(default_factory=dict)
    virtual_alias_domains: list[str] = field(default_factory=list)
    ldap_aliases: LdapAliases = field(default_factory=LdapAliases)
    # "" = Dovecot's certificate from [tls]
    tls_cert: str = setting("", read=Postconf("smtpd_tls_cert_file", text, when=SITE))
    tls_key: str = setting("", read=Postconf("smtpd_tls_key_file", text, when=SITE))
    # smtp_tls_loglevel (the guide's note: 1)
    tls_loglevel: int | None = setting(None, read=Postconf("smtp_tls_loglevel", number, when=SITE))
    limits: dict[str, int | str] = field(default_factory=dict)  # keys of LIMIT_DEFAULTS

    @property
    def relay_login(self) -> bool:
        """Postfix logs in at its relay host (an authenticated smarthost)."""
        return bool(self.relayhost and self.relay_user)

    @property
    def interfaces(self) -> str:
        if self.mode == "null-client":
            return "loopback-only"
        return self.inet_interfaces or "all"


@dataclass
class Answers:
    server: Server = field(default_factory=Server)
    tls: TLS = field(default_factory=TLS)
    protocols: Protocols = field(default_factory=Protocols)
    mailbox: MailStore = field(default_factory=MailStore)
    auth: Auth = field(default_factory=Auth)
    lmtp: Lmtp = field(default_factory=Lmtp)
    mailboxes: list[MailboxDef] = field(default_factory=default_mailboxes)
    dovecot_enabled: bool = True
    postfix: Postfix = field(default_factory=Postfix)
    sieve: Sieve = field(default_factory=Sieve)
    replication: Replication = field(default_factory=Replication)
    dns: Dns = field(default_factory=Dns)
    dkim: Dkim = field(default_factory=Dkim)
    firewall_manage: bool = True
    raw: dict = field(default_factory=dict)  # the whole file, for sections owned by later steps
    # path keys whose value was written with extra slashes, dots or ..: key -> the value as written
    # (the answers hold the normalised path, and validation says so)
    normalised: dict[str, str] = field(default_factory=dict)

    @property
    def postfix_mode(self) -> str:
        """[postfix] mode (kept for the screens and tests that use this name)."""
        return self.postfix.mode

    @postfix_mode.setter
    def postfix_mode(self, value: str) -> None:
        self.postfix.mode = value

    # --- derived ---------------------------------------------------------
    def features(self) -> list[str]:
        """What has to be installed for these answers."""
        out = []
        if self.dovecot_enabled:
            out.append("dovecot")
            out += [p for p in ("imap", "pop3", "lmtp", "sieve") if getattr(self.protocols, p)]
            if self.replication.enabled:
                out.append("replication")
            if self.auth.backend in ("ldap", "sql"):
                out.append(self.auth.backend)
        out.append("postfix")
        if self.postfix.mode == "internet-site" and self.postfix.virtual_alias_source == "ldap":
            out.append("postfix-ldap")
        return out

    def dkim_domains(self) -> list[str]:
        """The sender domains OpenDKIM signs: [dkim] domains, else the server's domain."""
        return [d.lower().rstrip(".") for d in self.dkim.domains] or [self.server.domain]

    def default_cert_paths(self) -> tuple[str, str]:
        name = self.server.hostname or "server"
        return (f"/etc/pki/dovecot/certs/{name}.crt", f"/etc/pki/dovecot/private/{name}.key")

    # --- TOML ------------------------------------------------------------
    def to_toml(self) -> str:
        """The answers as TOML, with every inline secret left out (file references stay)."""
        return tomli_w.dumps(self.to_data())

    def to_data(self, secrets: bool = False) -> dict:
        """The answers as the data of an answers file (inline secrets left out unless `secrets`)."""
        data = copy.deepcopy(self.raw)
        data["server"] = {"hostname": self.server.hostname, "domain": self.server.domain}
        data["tls"] = _section_out(self.tls, skip=() if self.tls.acme else ("acme", "acme_email", "acme_server"))
        data["protocols"] = {**data.get("protocols", {}), **_section_out(self.protocols)}
        data["dovecot"] = {**data.get("dovecot", {}), "enabled": self.dovecot_enabled}
        if self.dovecot_enabled:
            data["mailbox"] = _section_out(self.mailbox)
            tcp = () if self.auth.sasl_listener == "inet" else ("sasl_port", "sasl_allow_from")
            auth = _section_out(self.auth, skip=("ldap", "sql", *tcp))
            if self.auth.backend == "ldap":
                auth["ldap"] = _section_out(self.auth.ldap)
            elif self.auth.backend == "sql":
                auth["sql"] = _section_out(self.auth.sql)
            data["auth"] = {**{k: v for k, v in data.get("auth", {}).items() if k not in ("ldap", "sql")}, **auth}
            data["lmtp"] = _section_out(self.lmtp)
            data["sieve"] = _section_out(self.sieve)
            data["replication"] = _section_out(self.replication)
            data["mailboxes"] = {m.name: {k: v for k, v in (("special_use", m.special_use), ("auto", m.auto)) if v}
                                 for m in self.mailboxes}
        data["postfix"] = _postfix_out(self.postfix)
        data["dns"] = _section_out(self.dns)
        if self.dkim.enabled or "dkim" in self.raw:
            data["dkim"] = _section_out(self.dkim)
        data.setdefault("firewall", {})["manage"] = self.firewall_manage
        # one order whatever the file's (or the host's) order was: the same answers save to the same bytes
        known = [k for k in SECTION_ORDER if k in data]
        data = {k: data[k] for k in known + [k for k in data if k not in known]}
        return data if secrets else strip_secrets(data)


SECTION_ORDER = ("server", "tls", "protocols", "dovecot", "mailbox", "auth", "lmtp", "sieve",
                 "replication", "mailboxes", "postfix", "dns", "dkim", "firewall")


def leaf_fields(obj, prefix: str = ""):
    """(dotted answers key, dataclass field) of every answer under `obj`, its sections walked into."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value) and not isinstance(value, type):
            yield from leaf_fields(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f


# the names never saved: every secret field's, and Dovecot's and OpenLDAP's own names for a password that a
# hand-written file may hold in a section the wizard keeps as it was read
SECRET_KEYS = {f.name for _, f in leaf_fields(Answers()) if f.metadata.get("secret")} | {
    "doveadm_password", "bind_password"}
# every answer a configured host gives back by the field's own declaration (readback.py), in the fields' order:
# an answer a declaration's `when` names comes before it
READ_BACKS = [(key, f.metadata["read"]) for key, f in leaf_fields(Answers()) if "read" in f.metadata]


def strip_secrets(data):
    if isinstance(data, dict):
        return {k: strip_secrets(v) for k, v in data.items() if k not in SECRET_KEYS}
    if isinstance(data, list):
        return [strip_secrets(v) for v in data]
    return data


def _postfix_out(p: Postfix) -> dict:
    out = _section_out(p, skip=("ldap_aliases", "limits", "virtual_aliases", "virtual_alias_domains",
                                "virtual_mailbox_domains"))
    for key in ("virtual_alias_domains", "virtual_mailbox_domains"):
        if getattr(p, key):
            out[key] = list(getattr(p, key))
    if p.virtual_aliases:
        out["virtual_aliases"] = dict(p.virtual_aliases)
    if p.virtual_alias_source == "ldap" or any(vars(p.ldap_aliases).values()):
        out["ldap_aliases"] = _section_out(p.ldap_aliases)
    if p.limits:
        out["limits"] = {k: p.limits[k] for k in sorted(p.limits, key=_limit_order)}
    return out


def _limit_order(key: str) -> int:
    order = list(LIMIT_DEFAULTS)
    return order.index(key) if key in order else len(order)


def _section_out(obj, skip: tuple[str, ...] = ()) -> dict:
    """A dataclass section as TOML data: empty strings and None left out."""
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name in skip or value is None or value == "":
            continue
        out[f.name] = value
    return out


_TYPE_WORDS = {bool: "true or false", str: "a string in quotes", int: "a whole number",
               list: "a list of strings, e.g. [\"a\", \"b\"]"}


def _fill(obj, section: dict, where: str, problems: list[Problem], skip: tuple[str, ...] = ()) -> None:
    """Set a dataclass section's fields from TOML data, checking each value's type by its default's."""
    if not isinstance(section, dict):
        problems.append(Problem(where, "must be a [section] table"))
        return
    for f in fields(obj):
        if f.name in skip or f.name not in section:
            continue
        value, default = section[f.name], getattr(obj, f.name)
        kind = type(default) if default is not None else int
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            problems.append(Problem(f"{where}.{f.name}", f"must be {_TYPE_WORDS.get(kind, kind.__name__)}, "
                                    f"not {value!r}"))
            continue
        setattr(obj, f.name, value)


def parse(text: str) -> tuple[Answers, list[Problem]]:
    """Answers from TOML text; structural problems (wrong types) are returned, not raised."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnswersError(f"not valid TOML: {exc}") from None
    problems: list[Problem] = []
    a = Answers(raw=data)
    _fill(a.server, data.get("server", {}), "server", problems)
    a.server.hostname = a.server.hostname.strip().lower().rstrip(".")
    a.server.domain = a.server.domain.strip().lower().rstrip(".")
    if not a.server.domain and "." in a.server.hostname:
        a.server.domain = a.server.hostname.split(".", 1)[1]
    a.tls.cert, a.tls.key = a.default_cert_paths()
    _fill(a.tls, data.get("tls", {}), "tls", problems)
    if a.tls.acme:  # certbot's paths, unless the file names them (validate refuses other ones)
        a.tls.cert, a.tls.key = (getattr(a.tls, k) if in_file(data, f"tls.{k}") else v
                                 for k, v in zip(("cert", "key"), acme_paths(a.server.hostname)))
    _fill(a.protocols, data.get("protocols", {}), "protocols", problems)
    _fill(a.mailbox, data.get("mailbox", {}), "mailbox", problems)
    auth = data.get("auth", {})
    _fill(a.auth, auth, "auth", problems, skip=("ldap", "sql"))
    if isinstance(auth, dict):
        _fill(a.auth.ldap, auth.get("ldap", {}), "auth.ldap", problems)
        _fill(a.auth.sql, auth.get("sql", {}), "auth.sql", problems)
    _fill(a.lmtp, data.get("lmtp", {}), "lmtp", problems)
    boxes = data.get("mailboxes")
    if isinstance(boxes, dict):
        a.mailboxes = []
        for name, spec in boxes.items():
            box = MailboxDef(name)
            _fill(box, spec, f"mailboxes.{name}", problems, skip=("name",))
            a.mailboxes.append(box)
    elif boxes is not None:
        problems.append(Problem("mailboxes", "must be a table of mailboxes, e.g. Sent = { auto = \"subscribe\" }"))
    dovecot = data.get("dovecot", {})
    a.dovecot_enabled = dovecot.get("enabled", True) if isinstance(dovecot, dict) else True
    if not isinstance(a.dovecot_enabled, bool):
        problems.append(Problem("dovecot.enabled", f"must be true or false, not {a.dovecot_enabled!r}"))
        a.dovecot_enabled = True
    _fill_postfix(a.postfix, data.get("postfix", {}), problems)
    _fill(a.sieve, data.get("sieve", {}), "sieve", problems)
    _fill(a.replication, data.get("replication", {}), "replication", problems)
    _fill(a.dns, data.get("dns", {}), "dns", problems)
    _fill(a.dkim, data.get("dkim", {}), "dkim", problems)
    firewall = data.get("firewall", {})
    manage = firewall.get("manage", True) if isinstance(firewall, dict) else True
    a.firewall_manage = manage if isinstance(manage, bool) else True
    if not isinstance(firewall, dict) or not isinstance(manage, bool):
        problems.append(Problem("firewall.manage" if isinstance(firewall, dict) else "firewall",
                                f"must be true or false, not {manage!r}" if isinstance(firewall, dict)
                                else "must be a [firewall] table"))
    if a.postfix_mode == "null-client" and "dovecot" not in data:
        a.dovecot_enabled = False
    problems += _control_characters(data)
    problems += unknown_keys(data)
    normalise_paths(a)
    return a, problems


# --- keys the file may hold ----------------------------------------------------

def _schema(obj) -> dict:
    """A dataclass section's keys: key -> its own schema (a subtable) or None."""
    return {f.name: _schema(getattr(obj, f.name)) if is_dataclass(getattr(obj, f.name)) else None
            for f in fields(obj)}


_FREE = "*"  # a table whose keys are names (mailboxes, aliases): any key, each value by the schema under _FREE


def answers_schema() -> dict:
    """Every key an answers file may hold, by section (the same walk the wizard reads the file with)."""
    a = Answers()
    postfix = _schema(a.postfix)
    postfix["virtual_aliases"] = {_FREE: None}
    postfix["limits"] = dict.fromkeys(LIMIT_DEFAULTS)
    own = {"dovecot": {"enabled": None}, "mailboxes": {_FREE: {"special_use": None, "auto": None}},
           "postfix": postfix, "firewall": {"manage": None}}  # tables that are not one dataclass
    return {table: own[table] if table in own else _schema(getattr(a, table)) for table in SECTION_ORDER}


def unknown_keys(data: dict, schema: dict | None = None, where: str = "") -> list[Problem]:
    """A warning for every key the wizard does not read, with the nearest known key: a misspelt
    `submision = true` would otherwise be ignored without a word. The file still loads."""
    schema = answers_schema() if schema is None else schema
    out: list[Problem] = []
    for key, value in data.items():
        name = f"{where}.{key}" if where else str(key)
        if _FREE in schema:
            sub = schema[_FREE]
        elif key in schema:
            sub = schema[key]
        else:
            if where == "postfix.limits":
                continue  # refused as an error by _fill_postfix, with the list of limits
            known = [k for k in schema if k != _FREE]
            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            place = f"[{where}]" if where else "the answers file"
            hint = f"; did you mean {near[0]}?" if near else f" (not one of the keys of {place})"
            if not where and not near:  # a table's key written before any table: name the table
                inner = {k: t for t, sub in schema.items() if isinstance(sub, dict) for k in sub if k != _FREE}
                near = difflib.get_close_matches(str(key), list(inner), n=1, cutoff=0.6)
                hint = f"; did you mean {near[0]} in [{inner[near[0]]}]?" if near else hint
            out.append(Problem(name, f"unknown key, ignored{hint}", "warning"))
            continue
        if isinstance(sub, dict) and isinstance(value, dict):
            out += unknown_keys(value, sub, name)
    return out


# --- paths ---------------------------------------------------------------------

# the answers that are paths on the host, by key (dotted, as in the file)
PATH_KEYS = ("tls.cert", "tls.key", "tls.ca", "tls.dh", "mailbox.root", "auth.test_password_file",
             "auth.ldap.dnpass_file", "auth.ldap.tls_ca_cert_file", "auth.sql.password_file", "auth.sql.ssl_ca",
             "replication.password_file", "replication.partner_answers", "postfix.tls_cert", "postfix.tls_key",
             "postfix.relay_password_file")


def normalise_path(value: str) -> str:
    """An absolute path without repeated slashes, `.` and `..` components or a trailing slash.

    `//etc`, `/srv/../etc`, `/etc/.` and `/etc/` are all /etc: a path is validated in the form it is
    used in. (POSIX keeps a leading `//`, which Linux reads as `/`: it is collapsed too.) A relative
    path is left as it is, for its own refusal."""
    if not value.startswith("/"):
        return value
    return "/" + posixpath.normpath(value).lstrip("/")


def normalise_paths(a: Answers) -> None:
    """Put every path answer in its normalised form, remembering (in a.normalised) what was written."""
    for key in PATH_KEYS:
        *parents, name = key.split(".")
        obj = a
        for part in parents:
            obj = getattr(obj, part)
        value = getattr(obj, name)
        if not isinstance(value, str):
            continue
        normal = normalise_path(value)
        if normal != value:
            setattr(obj, name, normal)
            a.normalised[key] = value
        elif key in a.normalised and normalise_path(a.normalised[key]) != value:
            del a.normalised[key]  # a value typed since, already normal


def as_written(a: Answers, key: str, value: str) -> str:
    """`value` as the administrator wrote it when it was normalised: "//etc (that is, /etc)"."""
    written = a.normalised.get(key)
    return f"{written} (that is, {value})" if written and normalise_path(written) == value else value


def _control_characters(node, where: str = "") -> list[Problem]:
    """A Problem for every string in the file holding a line break or another control character.

    No answer is ever more than one line, and every one ends up in a configuration file, a
    map or a command argument: a line break there could start a setting nobody typed.
    """
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            if isinstance(key, str) and (bad := control_character(key)):
                # a name used as a key (a mailbox, an alias): refused at its table, the name shown escaped
                out.append(Problem(where or str(key), f"the name {key!r} contains {bad}: a name with control or "
                                   "bidirectional characters cannot go into a configuration file"))
                continue
            out += _control_characters(value, f"{where}.{key}" if where else str(key))
        return out
    if isinstance(node, list):
        return [p for value in node for p in _control_characters(value, where)][:1]
    if isinstance(node, str) and (bad := control_character(node)):
        return [Problem(where, f"contains {bad}: a line break, another control character or a "
                               "bidirectional-text control cannot go into a configuration file")]
    return []


# Unicode's bidirectional-text controls: invisible, they make a value read differently from what it is
# (a path or a name shown reversed in the review, "Trojan Source")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _is_control(c: str) -> bool:
    return (ord(c) < 32 and c != "\t") or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029" or c in BIDI_CONTROLS \
        or (ord(c) > 0x7f and unicodedata.category(c) == "Cf")


def _invisible(c: str) -> bool:
    """A Unicode formatting character: zero-width (U+200B, U+2060, U+FEFF), soft hyphen (U+00AD) and the like.
    Invisible, they make two different names look the same ("Sent" and "Se\u200bnt" side by side)."""
    return ord(c) > 0x7f and unicodedata.category(c) == "Cf" and c not in BIDI_CONTROLS


def control_character(value: str) -> str | None:
    """`a control character ('\\n')` or `a bidirectional-text control (U+202E RIGHT-TO-LEFT OVERRIDE)`, or None."""
    bad = next((c for c in value if _is_control(c)), None)
    if bad is None:
        return None
    if bad in BIDI_CONTROLS:
        return f"a bidirectional-text control (U+{ord(bad):04X} {unicodedata.name(bad, '')})"
    if _invisible(bad):
        return f"an invisible formatting character (U+{ord(bad):04X} {unicodedata.name(bad, '')})"
    return f"a control character ({bad!r})"


def _fill_postfix(p: Postfix, section, problems: list[Problem]) -> None:
    """[postfix] with its subtables; keys whose type _fill cannot infer are checked here."""
    special = ("inet_interfaces", "virtual_mailboxes", "tls_loglevel", "virtual_aliases", "ldap_aliases", "limits")
    _fill(p, section, "postfix", problems, skip=special)
    if not isinstance(section, dict):
        return
    if "inet_interfaces" in section:
        value = section["inet_interfaces"]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            p.inet_interfaces = ", ".join(value)
        elif isinstance(value, str):
            p.inet_interfaces = value
        else:
            problems.append(Problem("postfix.inet_interfaces", f"must be \"all\", \"loopback-only\" or a list of "
                                    f"addresses, not {value!r}"))
    if "virtual_mailboxes" in section:
        value = section["virtual_mailboxes"]
        if isinstance(value, bool):
            p.virtual_mailboxes = value
        else:
            problems.append(Problem("postfix.virtual_mailboxes", f"must be true or false, not {value!r}"))
    if "tls_loglevel" in section:
        value = section["tls_loglevel"]
        if isinstance(value, int) and not isinstance(value, bool):
            p.tls_loglevel = value
        else:
            problems.append(Problem("postfix.tls_loglevel", f"must be a whole number 0-4, not {value!r}"))
    aliases = section.get("virtual_aliases", {})
    if isinstance(aliases, dict):
        for key, value in aliases.items():
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                value = ", ".join(value)
            if not isinstance(value, str):
                problems.append(Problem("postfix.virtual_aliases", f"{key}: the destination must be an address "
                                        f"or a list of addresses, not {value!r}"))
                continue
            p.virtual_aliases[key] = value
    else:
        problems.append(Problem("postfix.virtual_aliases", "must be a table of \"alias\" = \"destination\""))
    _fill(p.ldap_aliases, section.get("ldap_aliases", {}), "postfix.ldap_aliases", problems)
    limits = section.get("limits", {})
    if not isinstance(limits, dict):
        problems.append(Problem("postfix.limits", "must be a [postfix.limits] table"))
        return
    for key, value in limits.items():
        if key not in LIMIT_DEFAULTS:
            problems.append(Problem(f"postfix.limits.{key}", "is not one of the limits the wizard sets: "
                                    + ", ".join(LIMIT_DEFAULTS)))
        elif isinstance(LIMIT_DEFAULTS[key], int) and (not isinstance(value, int) or isinstance(value, bool)):
            problems.append(Problem(f"postfix.limits.{key}", f"must be a whole number, not {value!r}"))
        elif isinstance(LIMIT_DEFAULTS[key], str) and not isinstance(value, str):
            problems.append(Problem(f"postfix.limits.{key}", f"must be a string in quotes, not {value!r}"))
        else:
            p.limits[key] = value


def read_answers_file(path: str) -> str:
    """The text of an answers file: a regular file of at most a few MiB, in UTF-8 (AnswersError if not)."""
    from mailwizard.safe_read import MAX_ANSWERS, UnsafeFile, read_regular

    try:
        data = read_regular(path, MAX_ANSWERS)
    except OSError as exc:
        it = "it " if isinstance(exc, UnsafeFile) else ""
        raise AnswersError(f"cannot read answers file {path}: {it}{exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AnswersError(f"answers file {path} is not UTF-8 text") from None


def load(path: str) -> tuple[Answers, list[Problem]]:
    return parse(read_answers_file(path))


# --- field validators (shared by the screens and the plan) -----------------

def check_fqdn(value: str) -> str | None:
    """None when `value` is a fully-qualified host name, else what is wrong."""
    if not value:
        return "is empty: give the server's fully-qualified name, e.g. mail.example.com"
    if len(value) > 253:
        return "is longer than 253 characters"
    labels = value.rstrip(".").split(".")
    if msg := _numeric_name(value):
        return msg
    if len(labels) < 2:
        return f"{value!r} is not fully qualified: add the domain, e.g. {value}.example.com"
    for label in labels:
        if not _LABEL.match(label):
            return (f"{value!r} is not a valid host name: labels are letters, digits and "
                    "hyphens (not at either end), e.g. mail.example.com")
    try:
        ipaddress.ip_address(value)
        return "is an IP address: give the host name, e.g. mail.example.com"
    except ValueError:
        pass
    return None


def _numeric_name(value: str) -> str | None:
    """192.0.2.01, 127.1, 0x7f.1, 1.2.3.4.5: not an IP address (Python refuses leading zeros and short forms,
    which inet_aton would read as other addresses) and not a host name (no top-level domain is a number)."""
    last = value.rstrip(".").rsplit(".", 1)[-1]
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]+", last, re.IGNORECASE) and _ip(value) is None:
        return (f"{value!r} is neither an IP address nor a host name: an IPv4 address is four numbers 0-255 "
                "without leading zeros (e.g. 192.0.2.1), and a host name does not end in a number")
    return None


def check_domain(value: str) -> str | None:
    """None when `value` is a domain name with a dot (example.com), else what is wrong."""
    if not value:
        return "is empty: give the domain of the mail addresses (after the @), e.g. example.com"
    if "." not in value.rstrip("."):
        return f"{value!r} is not fully qualified: a mail domain has a dot, e.g. example.com"
    msg = check_fqdn(value)
    return msg.replace("host name", "domain name").replace("mail.example.com", "example.com") if msg else None


def check_path(value: str, what: str, example: str = "/etc/pki/dovecot/certs/server.crt") -> str | None:
    if not value:
        return f"is empty: give the absolute path of the {what}"
    if not value.startswith("/"):
        return f"{value!r} is not an absolute path: start it with /, e.g. {example}"
    if not _SAFE_PATH.match(value) or "/../" in value or value.endswith("/.."):
        return (f"{value!r} contains characters that cannot be written safely into a configuration "
                "file: use letters, digits and . _ - + @ : /")
    long = next((part for part in value.split("/") if len(part.encode()) > NAME_MAX), None)
    if long is not None or len(value.encode()) >= PATH_MAX:
        what = f"a name of {len(long.encode())} bytes ({long[:16]}...)" if long else f"{len(value.encode())} bytes"
        return (f"is too long for a Linux file system ({what}; a name holds at most {NAME_MAX} bytes, a path "
                f"{PATH_MAX - 1})")
    return None


NAME_MAX, PATH_MAX = 255, 4096  # Linux's limits (limits.h): one name, a whole path with its NUL


def validate(a: Answers) -> list[Problem]:
    """Problems that do not depend on the host: syntax and consistency of the answers.

    Path answers are normalised first (in place), so that what is validated is what is used."""
    normalise_paths(a)
    problems: list[Problem] = []
    for key, written in a.normalised.items():
        problems.append(Problem(key, f"{written!r} is read as {normalise_path(written)} (extra slashes, "
                                "dots and .. taken out): check that this is the path meant", "warning"))
    problems += _validate_numbers(a)
    if msg := check_fqdn(a.server.hostname):
        problems.append(Problem("server.hostname", msg))
    if msg := check_domain(a.server.domain):
        problems.append(Problem("server.domain", msg))
    elif not a.server.hostname.endswith("." + a.server.domain) and not problems:
        problems.append(Problem("server.domain", f"the host name {a.server.hostname} is not in the domain "
                                f"{a.server.domain}; mail for the domain will still work, but check it",
                                "warning"))
    if a.auth.backend not in ("pam", "ldap", "sql"):
        problems.append(Problem("auth.backend", f"{a.auth.backend!r} is not one of pam, ldap, sql"))
    if a.dovecot_enabled:
        problems += validate_sasl_listener(a)
    problems += validate_postfix(a)
    problems += validate_dkim(a)
    for value in a.dns.addresses:
        if msg := scoped_address(value):
            problems.append(Problem("dns.addresses", msg))
            continue
        try:
            ipaddress.ip_address(value)
        except ValueError:
            problems.append(Problem("dns.addresses", f"{value!r} is not an IPv4 or IPv6 address "
                                    "(give this host's public addresses, e.g. 192.0.2.10)"))
            continue
        if msg := special_address(value, "public"):
            problems.append(Problem("dns.addresses", msg))
    if a.dovecot_enabled:
        for key, what in (("cert", "server certificate"), ("key", "private key")):
            if msg := check_path(getattr(a.tls, key), what):
                problems.append(Problem(f"tls.{key}", msg))
        if a.tls.ca and (msg := check_path(a.tls.ca, "CA certificate")):
            problems.append(Problem("tls.ca", msg))
        if a.tls.cert == a.tls.key and not problems:
            problems.append(Problem("tls.key", "is the same file as tls.cert: give the private key's own file"))
        if a.tls.dh not in DH_CHOICES and (
                msg := check_path(a.tls.dh, "Diffie-Hellman parameters file", "/etc/dovecot/dh.pem")):
            problems.append(Problem("tls.dh", f"must be ffdhe4096, generate, or a path; {msg}"))
        if not any((a.protocols.imap, a.protocols.pop3, a.protocols.lmtp)):
            problems.append(Problem("protocols", "enable at least one of imap, pop3, lmtp, "
                                    "or set [dovecot] enabled = false"))
        problems += validate_acme(a)
    if a.tls.acme and not a.dovecot_enabled:
        problems.append(Problem("tls.acme", "[tls] is Dovecot's and Dovecot is off: no certificate is obtained; "
                                "give Postfix's own (postfix.tls_cert, postfix.tls_key)", "warning"))
    # what a screen's field holds is checked as the file's values are (a control character, a bidi control),
    # where no other check has refused the value already
    refused = {p.key for p in problems if p.severity == "error"}
    problems += [p for p in _control_characters(a.to_data(secrets=True)) if p.key not in refused]
    return problems


def validate_acme(a: Answers) -> list[Problem]:
    """[tls] acme, acme_email, acme_server: a certificate from an ACME CA instead of files or a self-signed one."""
    tls = a.tls
    if not tls.acme:
        return []
    out = []
    if tls.self_signed:
        out.append(Problem("tls.acme", "acme = true and self_signed = true exclude each other: choose one "
                                       "(the ACME CA's certificate, or a self-signed one)"))
    if not tls.acme_email:
        out.append(Problem("tls.acme_email", "is empty: give the address the ACME CA writes to about the "
                                             "certificate (expiry, revocation), e.g. postmaster@example.com"))
    elif (msg := check_address(tls.acme_email)) or "@" not in tls.acme_email:
        out.append(Problem("tls.acme_email", msg or f"{tls.acme_email!r} has no domain: give a whole address, "
                                                    "e.g. postmaster@example.com"))
    if not tls.acme_server:
        out.append(Problem("tls.acme_server", f"is empty: give the ACME CA's directory URL, e.g. {ACME_DIRECTORY} "
                                              "(Let's Encrypt)"))
    elif msg := check_acme_server(tls.acme_server):
        out.append(Problem("tls.acme_server", msg))
    for key, want in zip(("cert", "key"), acme_paths(a.server.hostname)):
        if getattr(tls, key) != want:
            out.append(Problem(f"tls.{key}", f"with acme = true the {key} is certbot's {want}: leave tls.{key} "
                                             "out of the answers (or set acme = false to use your own files)"))
    return out


def check_acme_server(value: str) -> str | None:
    """None when `value` is an ACME directory URL (https, a host, no spaces or quotes), else why not."""
    from urllib.parse import urlsplit

    example = f"e.g. {ACME_DIRECTORY}"
    if control_character(value) or any(c in value for c in " \"'<>`"):
        return f"{value!r} is not a URL: it holds spaces, quotes or control characters ({example})"
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError as exc:
        return f"{value!r} is not a URL ({exc}): {example}"
    if url.scheme != "https":
        return f"{value!r} is not an https:// URL: an ACME directory is served over HTTPS ({example})"
    host = url.hostname or ""
    if not host or (check_host(host, "directory host") and _ip(host.strip("[]")) is None):
        return f"{value!r} names no valid host: {example}"
    if port == 0:
        return f"{value!r}: 0 is not a TCP port"
    return None


def validate_dkim(a: Answers) -> list[Problem]:
    """[dkim]: selectors are DNS labels, domains are domain names; nothing is checked while it is off."""
    d = a.dkim
    if not d.enabled:
        return []
    out: list[Problem] = []
    if not _LABEL.match(d.selector) or "_" in d.selector:
        out.append(Problem("dkim.selector", f"{d.selector!r} is not a selector: one DNS label of letters, "
                           "digits and hyphens, e.g. mail or 2026a"))
    if d.next_selector:
        if not _LABEL.match(d.next_selector):
            out.append(Problem("dkim.next_selector", f"{d.next_selector!r} is not a selector: one DNS label of "
                               "letters, digits and hyphens, e.g. 2026b"))
        elif d.next_selector.lower() == d.selector.lower():
            out.append(Problem("dkim.next_selector", "is the selector that signs now: the next key needs another "
                               "name, e.g. " + (d.selector + "2")[:63]))
    for domain in d.domains:
        if msg := check_domain(domain):
            out.append(Problem("dkim.domains", msg))
    return out


def check_source(value: str) -> str | None:
    """None when `value` is an address or network a firewall may admit (192.0.2.1/32, 2001:db8::/64)."""
    if msg := scoped_address(value) or (control_character(value) and f"{value!r} contains "
                                        f"{control_character(value)}"):
        return msg
    try:
        net = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError:
        pass
    else:
        if net.prefixlen == 0:
            return (f"{value!r} is the whole internet: the firewall would admit anyone; give the addresses "
                    "that need to connect, e.g. 192.0.2.1/32")
        return special_address(str(net.network_address), "source") if net.num_addresses == 1 else None
    try:
        hint = f": did you mean {ipaddress.ip_network(value.strip(), strict=False)}, or the host " \
               f"{value.split('/')[0]}/{32 if ':' not in value else 128}?"
    except ValueError:
        hint = ", e.g. 192.0.2.1/32 or 2001:db8:2::1/128"
    return f"{value!r} is not an address or network{hint}"


def validate_sasl_listener(a: Answers) -> list[Problem]:
    """[auth] sasl_listener, sasl_port, sasl_allow_from: Dovecot SASL over TCP (guide 2.9.3 step 1b)."""
    auth = a.auth
    if auth.sasl_listener not in ("unix", "inet"):
        return [Problem("auth.sasl_listener", f"{auth.sasl_listener!r} is not one of unix (Postfix on this "
                        "host) or inet (also a TCP listener for Postfix on another host)")]
    if auth.sasl_listener != "inet":
        return []
    problems: list[Problem] = []
    port = auth.sasl_port  # its range is checked with the other numbers (_validate_numbers)
    if a.lmtp.listener == "inet" and a.protocols.lmtp and port == a.lmtp.port:
        problems.append(Problem("auth.sasl_port", f"{port} is already LMTP's port ([lmtp] port): choose "
                                "another, e.g. 12345"))
    elif a.replication.enabled and port == a.replication.port:
        problems.append(Problem("auth.sasl_port", f"{port} is already the replication port ([replication] "
                                "port): choose another, e.g. 12346"))
    for value in auth.sasl_allow_from:
        if msg := check_source(value):
            problems.append(Problem("auth.sasl_allow_from", msg))
    return problems


# --- [postfix] ---------------------------------------------------------------

_LOCALPART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_ATTR = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_TIME = re.compile(r"^[0-9]+[smhdw]?$")


def _ip(value: str):
    """The IP address `value` is, or None; an IPv6 address with a zone index (fe80::1%eth0) is none."""
    if "%" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _unbracket(value: str) -> str:
    """`[2001:db8::1]` -> `2001:db8::1`; anything else (unbalanced or doubled brackets) as it is."""
    if value.startswith("[") and value.endswith("]") and value.count("[") == value.count("]") == 1:
        return value[1:-1]
    return value


def host_port(host: str, port: int) -> str:
    """`HOST:PORT`, an IPv6 address in brackets (`[2001:db8::1]:24`): as Postfix and Dovecot
    (net_str2hostport) read it; unbracketed, the whole of it would be taken for the host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def special_address(value: str, use: str = "host") -> str | None:
    """Why the IP address `value` cannot name a host (`use`="host"), a firewall source ("source"), a
    public address of this host ("public") or an address to listen on ("listen": the unspecified address
    is fine there), or None (also when `value` is no IP address at all)."""
    ip = _ip(value.strip())
    if ip is None:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return (f"{value!r} is an IPv4 address written as IPv6 (IPv4-mapped): write it as {ip.ipv4_mapped}, "
                "as the firewall and the daemons see it")
    if ip.is_unspecified and use != "listen":
        return f"{value!r} is the unspecified address, which names no host"
    if ip.is_multicast or (ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255")):
        return f"{value!r} is a multicast or broadcast address, which names no single host"
    if use == "public" and ip.is_loopback:
        return f"{value!r} is a loopback address: give this host's public address"
    return None


def ip_or_none(value: str):
    """The IP address `value` is, a zone index (fe80::1%eth0) allowed, or None."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def address_problem(value: str) -> str | None:
    """Why `value`, where a host name or an IP address goes, is written as an address that names no host
    (a zone index, 192.0.2.01, 0x7f.1, 0.0.0.0, an IPv4-mapped address), or None (a host name passes)."""
    return scoped_address(value) or _numeric_name(value) or special_address(value)


def scoped_address(value: str) -> str | None:
    """Why `value` (an address, a network, [address]/prefix) cannot be used when it has an IPv6 zone index."""
    text = value.strip()
    _head, pct, zone = text.partition("%")
    if not pct:
        return None
    zone = re.split(r"[\]/]", zone, maxsplit=1)[0]
    return (f"{value!r} carries an IPv6 zone index (%{zone}), which names an interface of one machine: it "
            "cannot go into a configuration file or a firewall rule; give the address without it "
            "(a link-local fe80:: address is not reachable beyond its link: use a global one)")


def unsafe_text(value: str) -> str | None:
    """Why `value` cannot go into main.cf/master.cf/a map file as it is, or None."""
    if control_character(value):
        return "contains a line break, a control character or a bidirectional-text control"
    if value.lstrip().startswith("#"):
        return "starts with # (Postfix would read a comment)"
    return None


def check_network(value: str) -> str | None:
    """None when `value` is one mynetworks entry (IPv4 CIDR or address, IPv6 in brackets), else why not."""
    if msg := unsafe_text(value):
        return f"{value!r} {msg}"
    if msg := scoped_address(value):
        return msg
    v = value.strip()
    if v.startswith("["):
        addr, closed, rest = v[1:].partition("]")
        if not closed or "[" in addr or "]" in rest:
            return f"{value!r}: an IPv6 address goes in one pair of brackets, e.g. [2001:db8:1::]/64"
        if _ip(addr) is None or _ip(addr).version != 6:
            return f"{value!r}: brackets are for IPv6 addresses, e.g. [2001:db8:1::]/64"
        if rest and not re.fullmatch(r"/[0-9]{1,3}", rest):
            return f"{value!r}: after the brackets comes /prefix, e.g. [2001:db8:1::]/64"
        text = addr + (rest or "/128")
    elif ":" in v:
        return f"{value!r}: write an IPv6 network in brackets, e.g. [{v.split('/')[0]}]/{v.partition('/')[2] or 128}"
    else:
        text = v if "/" in v else v + "/32"
        if _ip(text.split("/")[0]) is None or _ip(text.split("/")[0]).version != 4:
            return f"{value!r} is not an IPv4 address or network, e.g. 192.0.2.0/24"
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            fixed = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return f"{value!r} has an impossible prefix length"
        shown = f"[{fixed.network_address}]/{fixed.prefixlen}" if fixed.version == 6 else str(fixed)
        return f"{value!r} has host bits set: the network is {shown}"
    if net.prefixlen == 0:
        return f"{value!r} is the whole internet: Postfix would relay for anyone (an open relay)"
    return None


def check_host(value: str, what: str = "host") -> str | None:
    """None when `value` is a host name or an IP address."""
    if msg := scoped_address(value):
        return msg
    if _ip(value) is not None:
        return special_address(value)
    if msg := _numeric_name(value):
        return msg
    return check_fqdn(value) and f"{value!r} is not a {what} name or IP address, e.g. relay.example.com"


def check_relayhost(value: str) -> str | None:
    m = re.fullmatch(r"\[([^\]]+)\](?::([0-9]+))?|([^\[\]:]+)(?::([0-9]+))?", value.strip())
    if not m:
        return f"{value!r} is not a relay host: write [relay.example.com] or [192.0.2.1]:587"
    host = m.group(1) or m.group(3)
    port = m.group(2) or m.group(4)
    if host.lower().startswith("ipv6:") and _ip(host[5:]) is not None:
        pass
    elif msg := check_host(host, "relay host"):
        return msg
    if port and not 1 <= int(port) <= 65535:
        return f"{value!r}: {port} is not a TCP port"
    return None


def relayhost_value(value: str) -> str:
    """The guide's form: the host in square brackets (no MX lookup)."""
    value = value.strip()
    if value.startswith("["):
        return value
    host, _, port = value.partition(":")
    return f"[{host}]" + (f":{port}" if port else "")


def check_address(value: str, catch_all: bool = False) -> str | None:
    local, at, domain = value.strip().rpartition("@")
    if not at:
        local, domain = value.strip(), ""
    if local == "" and catch_all and domain:
        return check_domain(domain)
    if not local or not _LOCALPART.match(local) or local.startswith(".") or ".." in local:
        return f"{value!r} is not an e-mail address, e.g. info@example.com"
    if domain and check_domain(domain):
        return f"{value!r}: {domain!r} is not a domain name"
    return None


def alias_name_problem(alias: str) -> str | None:
    """Why an alias (a key of the virtual alias map) cannot be written as it is, beyond its address syntax:
    a map line starting with white space continues the line above, one starting with # is a comment, and
    `info@` (no domain) matches no address."""
    if alias != alias.strip():
        return f"the alias {alias!r} has spaces at either end: in the map file it would join the line above"
    if alias.startswith("#"):
        return f"the alias {alias!r} starts with #: the map file would read it as a comment"
    if alias.endswith("@"):
        return f"the alias {alias!r} has no domain after @: give it (e.g. {alias}example.com), or drop the @"
    return None


def validate_postfix(a: Answers) -> list[Problem]:
    """Problems of the [postfix] answers, each at its key."""
    p = a.postfix
    out: list[Problem] = []

    def bad(key: str, message: str, severity: str = "error") -> None:
        out.append(Problem(f"postfix.{key}", message, severity))

    if p.mode not in ("internet-site", "null-client"):
        bad("mode", f"{p.mode!r} is not one of internet-site, null-client")
        return out
    null = p.mode == "null-client"
    tokens = [t for t in re.split(r"[\s,]+", p.inet_interfaces.strip()) if t]
    for t in tokens:
        if t in ("all", "loopback-only", "localhost") and len(tokens) > 1:
            bad("inet_interfaces", f"{t} stands alone: give it, or a list of addresses")
        elif msg := scoped_address(t) or special_address(_unbracket(t), "listen"):
            bad("inet_interfaces", msg)
        elif t not in ("all", "loopback-only", "localhost") and _ip(_unbracket(t)) is None:
            bad("inet_interfaces", f"{t!r} is not an address of this host: give all, loopback-only, "
                                   "or addresses such as 192.0.2.1, [2001:db8:1::1]")
    if null and p.inet_interfaces and p.inet_interfaces != "loopback-only":
        bad("inet_interfaces", "a null client listens on loopback only (guide 2.3); this value is not used",
            "warning")
    for net in p.mynetworks:
        if msg := check_network(net):
            bad("mynetworks", msg)
    if not p.mynetworks and not null:
        bad("mynetworks", "is empty: give at least 127.0.0.0/8 and [::1]/128 (this host)")
    if p.myorigin not in ("$mydomain", "$myhostname") and (msg := check_domain(p.myorigin)):
        bad("myorigin", f"must be $mydomain, $myhostname or a domain name; {msg}")
    out += _validate_relay_login(p)
    if null:
        if not p.relayhost:
            bad("relayhost", "a null client forwards all mail to a relay host: give it, e.g. [relay.example.com]")
        elif msg := check_relayhost(p.relayhost):
            bad("relayhost", msg)
        for key in ("submission", "virtual_alias_source"):
            if getattr(p, key):
                bad(key, "is not used by a null client, which receives no mail", "warning")
        return out + _validate_limits(p)
    if p.relayhost and (msg := check_relayhost(p.relayhost)):
        bad("relayhost", msg)
    if p.delivery not in ("lmtp", "local"):
        bad("delivery", f"{p.delivery!r} is not one of lmtp (to Dovecot) or local (Postfix's local delivery)")
    elif p.delivery == "lmtp":
        if p.lmtp_host:
            if msg := check_host(p.lmtp_host, "Dovecot host"):
                bad("lmtp_host", msg)  # the port's range is checked with the other numbers, used or not
        elif not a.dovecot_enabled:
            bad("delivery", "delivery to Dovecot over LMTP needs Dovecot on this host, or postfix.lmtp_host")
        elif not a.protocols.lmtp:
            bad("delivery", "delivery to Dovecot on this host needs its LMTP service: set [protocols] lmtp = true")
    if p.submission and not p.sasl_host and not a.dovecot_enabled:
        bad("submission", "authenticated submission asks Dovecot to check passwords: enable Dovecot here, "
                          "or set postfix.sasl_host to the Dovecot host")
    if p.sasl_host and (msg := check_host(p.sasl_host, "Dovecot host")):
        bad("sasl_host", msg)
    if p.sender_login_mismatch not in ("", "reject", "reject-authenticated"):
        bad("sender_login_mismatch", f"{p.sender_login_mismatch!r} is not one of reject, reject-authenticated "
                                     "or empty (off)")
    elif p.sender_login_mismatch and not p.submission:
        bad("sender_login_mismatch", "checks the sender of logged-in users: it needs submission = true")
    if p.virtual_alias_source not in ("", "file", "ldap"):
        bad("virtual_alias_source", f"{p.virtual_alias_source!r} is not one of file, ldap or empty (none)")
    if p.virtual_alias_source == "file" and not p.virtual_aliases:
        bad("virtual_aliases", "is empty: add lines such as \"info@example.com\" = \"user22@example.net\"",
            "warning")
    for alias, dest in p.virtual_aliases.items():
        if (msg := alias_name_problem(alias)) or (msg := check_address(alias, catch_all=True)):
            bad("virtual_aliases", msg)
        if msg := unsafe_text(dest):
            bad("virtual_aliases", f"{alias}: {dest!r} {msg}")
            continue
        for target in [t for t in re.split(r"[\s,]+", dest) if t] or [""]:
            if msg := check_address(target):
                bad("virtual_aliases", f"{alias}: {msg}")
    for domain in p.virtual_alias_domains:
        if msg := check_domain(domain):
            bad("virtual_alias_domains", msg)
    for domain in p.virtual_mailbox_domains:
        if domain not in ("$mydomain", "$myhostname") and (msg := check_domain(domain)):
            bad("virtual_mailbox_domains", f"{msg} (or $mydomain)")
        elif domain.lower() in (d.lower() for d in p.virtual_alias_domains):
            bad("virtual_mailbox_domains", f"{domain} is also a virtual alias domain: Postfix takes a domain "
                                           "in one list only")
    if p.virtual_alias_source == "ldap":
        out += _validate_ldap_aliases(p.ldap_aliases)
    for key, what in (("tls_cert", "certificate for Postfix"), ("tls_key", "private key for Postfix")):
        if getattr(p, key) and (msg := check_path(getattr(p, key), what)):
            bad(key, msg)
    if not a.dovecot_enabled:  # no Dovecot certificate to share
        for key, what in (("tls_cert", "certificate"), ("tls_key", "private key")):
            if not getattr(p, key):
                bad(key, f"an internet site needs a certificate: Dovecot is off, so give Postfix's {what} "
                         f"(postfix.{key})")
    if p.tls_loglevel is not None and not 0 <= p.tls_loglevel <= 4:
        bad("tls_loglevel", f"{p.tls_loglevel} is not a log level 0-4; the guide's note uses 1")
    return out + _validate_limits(p)


_RELAY_USER = re.compile(r"^[^\s:]+$")


def _validate_relay_login(p: Postfix) -> list[Problem]:
    """[postfix] relay_user, relay_password(_file): the login at an authenticated smarthost (what the host
    holds, the password file itself, is checked by the postfix_relay step)."""
    out: list[Problem] = []
    if not (p.relay_user or p.relay_password or p.relay_password_file):
        return out
    if not p.relayhost:
        out.append(Problem("postfix.relay_user", "logs in at the relay host: give postfix.relayhost too, "
                           "e.g. [smtp.example.net]:587"))
    if not p.relay_user:
        out.append(Problem("postfix.relay_user", "is empty: give the user name the relay host knows "
                           "(a password alone cannot log in)"))
    elif control_character(p.relay_user) or not _RELAY_USER.match(p.relay_user) or p.relay_user.startswith("#"):
        out.append(Problem("postfix.relay_user", "has a blank, a colon, a # at its start or a control character: "
                           "smtp_sasl_password_maps writes USER:PASSWORD on one line; give the login name alone"))
    if p.relay_password and (p.relay_password != p.relay_password.strip() or control_character(p.relay_password)):
        # never quoting it
        out.append(Problem("postfix.relay_password", "starts or ends with a blank, or holds a control character: "
                           "Postfix's map would not keep it as typed"))
    return out


# numbers the daemons read into a C unsigned int (Dovecot) or int (Postfix): a larger one stops them at start
UINT_MAX, INT_MAX, LONG_MAX = 2**32 - 1, 2**31 - 1, 2**63 - 1
_INT_LIMITS = ("smtpd_client_connection_rate_limit", "smtpd_client_message_rate_limit", "default_process_limit",
               "header_size_limit")  # Postfix ints; message_size_limit and queue_minfree are longs


def _validate_numbers(a: Answers) -> list[Problem]:
    """Numbers beyond what Dovecot and Postfix accept, at their keys (ports are checked by their steps)."""
    out: list[Problem] = []
    checks: list[tuple[str, int | None, int]] = [
        ("auth.first_valid_uid", a.auth.first_valid_uid, UINT_MAX - 1),
        ("auth.last_valid_uid", a.auth.last_valid_uid, UINT_MAX - 1),
        ("replication.max_conns", a.replication.max_conns, INT_MAX)]
    checks += [(f"postfix.limits.{k}", v, INT_MAX) for k, v in a.postfix.limits.items()
               if k in _INT_LIMITS and isinstance(v, int)]
    ports = [("auth.sasl_port", a.auth.sasl_port), ("auth.sql.port", a.auth.sql.port), ("lmtp.port", a.lmtp.port),
             ("sieve.port", a.sieve.port), ("replication.port", a.replication.port),
             ("postfix.lmtp_port", a.postfix.lmtp_port), ("postfix.sasl_port", a.postfix.sasl_port)]
    for key, port in ports:  # also where the feature is off: the value is kept, saved and used once it is on
        if not 1 <= port <= 65535:
            usual = {"postfix.lmtp_port": "; LMTP's is 24", "auth.sasl_port": "; the guide's example is 12345"}
            out.append(Problem(key, f"{port} is not a TCP port (1-65535){usual.get(key, '')}"))
    checks += [(f"postfix.limits.{k}", v, LONG_MAX) for k, v in a.postfix.limits.items()
               if k not in _INT_LIMITS and isinstance(v, int)]
    for key, value, top in checks:
        if value is not None and value > top:
            daemon = "Postfix" if key.startswith("postfix.") else "Dovecot"
            out.append(Problem(key, f"{value} is larger than {daemon} accepts here (at most {top})"))
    if a.auth.last_valid_uid is not None and a.auth.last_valid_uid < 0:
        out.append(Problem("auth.last_valid_uid", f"{a.auth.last_valid_uid} is negative: a uid is 0 or more"))
    return out


def _validate_ldap_aliases(ldap: LdapAliases) -> list[Problem]:
    out: list[Problem] = []

    def bad(key: str, message: str) -> None:
        out.append(Problem(f"postfix.ldap_aliases.{key}", message))

    hosts = [h for h in re.split(r"[\s,]+", ldap.server_host) if h]
    if not hosts:
        bad("server_host", "is empty: give the LDAP server, e.g. ldap.example.com")
    for h in hosts:
        m = re.fullmatch(r"(?:(ldaps?)://)?([^/:\s]+)(?::([0-9]+))?/?", h)
        if not m or check_host(m.group(2)) or (m.group(3) and not 1 <= int(m.group(3)) <= 65535):
            bad("server_host", f"{h!r} is not an LDAP server: give ldap.example.com, "
                               "ldap://ldap.example.com:389 or ldaps://ldap.example.com")
    if not ldap.search_base:
        bad("search_base", "is empty: give the base DN, e.g. dc=example,dc=com")
    elif unsafe_text(ldap.search_base) or "=" not in ldap.search_base:
        bad("search_base", f"{ldap.search_base!r} is not a DN, e.g. dc=example,dc=com")
    f = ldap.query_filter
    if f:
        depth, ok = 0, True
        for c in f:
            depth += (c == "(") - (c == ")")
            ok = ok and depth >= 0
        if unsafe_text(f) or not ok or depth or "%" not in f:
            bad("query_filter", f"{f!r} is not an LDAP filter with the looked-up address (%s), "
                                "e.g. (mail=%s)")
    for attr in [x for x in re.split(r"[\s,]+", ldap.result_attribute) if x]:
        if not _ATTR.match(attr):
            bad("result_attribute", f"{attr!r} is not an LDAP attribute name, e.g. maildrop")
    return out


def _validate_limits(p: Postfix) -> list[Problem]:
    out: list[Problem] = []
    limits = {**LIMIT_DEFAULTS, **p.limits}
    for key, value in p.limits.items():
        if isinstance(value, int) and value < 0:
            out.append(Problem(f"postfix.limits.{key}", f"{value} is negative"))
    unit = str(limits["anvil_rate_time_unit"])
    if not _TIME.match(unit):
        out.append(Problem("postfix.limits.anvil_rate_time_unit", f"{unit!r} is not a time, e.g. 60s"))
    exceptions = str(limits["smtpd_client_event_limit_exceptions"])
    if msg := unsafe_text(exceptions):
        out.append(Problem("postfix.limits.smtpd_client_event_limit_exceptions", msg))
    if p.limits.get("default_process_limit", 1) == 0:
        out.append(Problem("postfix.limits.default_process_limit", "0 would let no Postfix process run"))
    size, minfree = int(limits["message_size_limit"]), int(limits["queue_minfree"])
    if size and minfree and minfree < 1.5 * size:
        out.append(Problem("postfix.limits.queue_minfree",
                           f"{minfree} is less than 1.5 × message_size_limit ({size}): use at least "
                           f"{int(size * 1.5)}, or 0 for Postfix's own 1.5 × rule"))
    if size > MAILBOX_SIZE_LIMIT:
        out.append(Problem("postfix.limits.message_size_limit",
                           f"{size} exceeds Postfix's mailbox_size_limit ({MAILBOX_SIZE_LIMIT}); its local "
                           "delivery agent would refuse to start: stay at or below it"))
    if size and int(limits["header_size_limit"]) > size:
        out.append(Problem("postfix.limits.header_size_limit",
                           f"is larger than message_size_limit ({size}): a header alone could exceed a message",
                           "warning"))
    return out


def in_file(raw: dict, key: str) -> bool:
    """Whether the answers file itself held `key` (dotted: auth.ldap.uris), not a default."""
    node: object = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
