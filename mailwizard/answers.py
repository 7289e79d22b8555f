"""The administrator's choices: typed, validated, read from and written to TOML.

Every screen edits one part of `Answers`; the answers file format is the one
in shared/answers/. Validation returns Problems that name the key (the same
name the screen's field carries), say what is wrong and what would be right.
Sections that later parts of the wizard own are kept as they were read, so a
saved answers file loses nothing.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field, fields

import tomli_w

DH_CHOICES = ("ffdhe4096", "generate")
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
    hostname: str = ""
    domain: str = ""


@dataclass
class TLS:
    cert: str = ""
    key: str = ""
    ca: str = ""
    dh: str = "ffdhe4096"
    self_signed: bool = False


@dataclass
class Protocols:
    imap: bool = True
    pop3: bool = True
    lmtp: bool = True
    sieve: bool = False


@dataclass
class MailStore:
    """[mailbox]: the virtual mail user and where mail is stored (guide 1.1.3)."""

    user: str = "vmail"
    root: str = "/var/mail"
    format: str = "sdbox"  # sdbox, mdbox or maildir


@dataclass
class LdapAuth:
    """[auth.ldap] (guide 1.2.4): a DN template (bind_userdn) or a dynamic lookup (dn/dnpass/pass_filter)."""

    uris: list[str] = field(default_factory=list)
    starttls: bool = False
    base: str = ""
    scope: str = "subtree"  # onelevel or subtree
    bind_userdn: str = ""
    dn: str = ""
    dnpass_file: str = ""
    dnpass: str = ""  # typed on the screen; never saved
    pass_filter: str = "(&(objectClass=posixAccount)(uid=%n))"
    tls_require_cert: str = "hard"
    tls_ca_cert_file: str = ""

    @property
    def lookup(self) -> bool:
        return not self.bind_userdn


@dataclass
class SqlAuth:
    """[auth.sql] (guide 1.3.4)."""

    host: str = ""
    port: int = 3306
    dbname: str = ""
    user: str = ""
    password_file: str = ""
    password: str = ""  # typed on the screen; never saved
    ssl_ca: str = ""
    default_pass_scheme: str = "SHA512-CRYPT"
    user_query: str = "SELECT username FROM users WHERE username='%u';"
    password_query: str = "SELECT username AS user, password FROM users WHERE username='%u';"
    iterate_query: str = "SELECT username FROM users;"


@dataclass
class Auth:
    """[auth]: the backend and what all backends share."""

    backend: str = "pam"  # pam, ldap or sql
    first_valid_uid: int = 1000
    last_valid_uid: int | None = None
    mechanisms: list[str] = field(default_factory=lambda: ["plain"])
    ldap: LdapAuth = field(default_factory=LdapAuth)
    sql: SqlAuth = field(default_factory=SqlAuth)


@dataclass
class Lmtp:
    """[lmtp] (guide 1.6): the unix socket for a local MTA, or a TCP listener for a remote one."""

    listener: str = "unix"  # unix or inet
    port: int = 24
    allow_from: list[str] = field(default_factory=list)
    socket_user: str = "postfix"
    socket_group: str = "postfix"
    socket_mode: str = "0600"


@dataclass
class MailboxDef:
    """One mailbox of the inbox namespace (guide 1.5)."""

    name: str
    special_use: str = ""
    auto: str = "no"  # subscribe, create or no


def default_mailboxes() -> list[MailboxDef]:
    return [MailboxDef(n, f"\\{n}", "subscribe") for n in ("Drafts", "Junk", "Trash", "Sent")]


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
    postfix_mode: str = "internet-site"
    firewall_manage: bool = True
    raw: dict = field(default_factory=dict)  # the whole file, for sections owned by later steps

    # --- derived ---------------------------------------------------------
    def features(self) -> list[str]:
        """What has to be installed for these answers."""
        out = []
        if self.dovecot_enabled:
            out.append("dovecot")
            out += [p for p in ("imap", "pop3", "lmtp", "sieve") if getattr(self.protocols, p)]
            if self.auth.backend in ("ldap", "sql"):
                out.append(self.auth.backend)
        out.append("postfix")
        if self.raw.get("postfix", {}).get("virtual_alias_source") == "ldap":
            out.append("postfix-ldap")
        return out

    def default_cert_paths(self) -> tuple[str, str]:
        name = self.server.hostname or "server"
        return (f"/etc/pki/dovecot/certs/{name}.crt", f"/etc/pki/dovecot/private/{name}.key")

    # --- TOML ------------------------------------------------------------
    def to_toml(self) -> str:
        """The answers as TOML, with every inline secret left out (file references stay)."""
        data = copy.deepcopy(self.raw)
        data["server"] = {"hostname": self.server.hostname, "domain": self.server.domain}
        data["tls"] = _section_out(self.tls)
        data["protocols"] = {**data.get("protocols", {}), **_section_out(self.protocols)}
        data["dovecot"] = {**data.get("dovecot", {}), "enabled": self.dovecot_enabled}
        if self.dovecot_enabled:
            data["mailbox"] = _section_out(self.mailbox)
            auth = _section_out(self.auth, skip=("ldap", "sql"))
            if self.auth.backend == "ldap":
                auth["ldap"] = _section_out(self.auth.ldap)
            elif self.auth.backend == "sql":
                auth["sql"] = _section_out(self.auth.sql)
            data["auth"] = auth
            data["lmtp"] = _section_out(self.lmtp)
            data["mailboxes"] = {m.name: {k: v for k, v in (("special_use", m.special_use), ("auto", m.auto)) if v}
                                 for m in self.mailboxes}
        data.setdefault("postfix", {})["mode"] = self.postfix_mode
        data.setdefault("firewall", {})["manage"] = self.firewall_manage
        return tomli_w.dumps(strip_secrets(data))


SECRET_KEYS = {"password", "dnpass", "doveadm_password", "bind_password"}


def strip_secrets(data):
    if isinstance(data, dict):
        return {k: strip_secrets(v) for k, v in data.items() if k not in SECRET_KEYS}
    if isinstance(data, list):
        return [strip_secrets(v) for v in data]
    return data


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
    postfix = data.get("postfix", {})
    mode = postfix.get("mode", "internet-site") if isinstance(postfix, dict) else "internet-site"
    a.postfix_mode = mode if isinstance(mode, str) else "internet-site"
    firewall = data.get("firewall", {})
    manage = firewall.get("manage", True) if isinstance(firewall, dict) else True
    a.firewall_manage = manage if isinstance(manage, bool) else True
    if a.postfix_mode == "null-client" and "dovecot" not in data:
        a.dovecot_enabled = False
    return a, problems


def load(path: str) -> tuple[Answers, list[Problem]]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise AnswersError(f"cannot read answers file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise AnswersError(f"answers file {path} is not UTF-8 text") from None
    return parse(text)


# --- field validators (shared by the screens and the plan) -----------------

def check_fqdn(value: str) -> str | None:
    """None when `value` is a fully-qualified host name, else what is wrong."""
    if not value:
        return "is empty: give the server's fully-qualified name, e.g. mail.example.com"
    if len(value) > 253:
        return "is longer than 253 characters"
    labels = value.rstrip(".").split(".")
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


def check_domain(value: str) -> str | None:
    msg = check_fqdn(value)
    return msg.replace("host name", "domain name") if msg else None


def check_path(value: str, what: str, example: str = "/etc/pki/dovecot/certs/server.crt") -> str | None:
    if not value:
        return f"is empty: give the absolute path of the {what}"
    if not value.startswith("/"):
        return f"{value!r} is not an absolute path: start it with /, e.g. {example}"
    if not _SAFE_PATH.match(value) or "/../" in value or value.endswith("/.."):
        return (f"{value!r} contains characters that cannot be written safely into a configuration "
                "file: use letters, digits and . _ - + @ : /")
    return None


def validate(a: Answers) -> list[Problem]:
    """Problems that do not depend on the host: syntax and consistency of the answers."""
    problems: list[Problem] = []
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
    if a.postfix_mode not in ("internet-site", "null-client"):
        problems.append(Problem("postfix.mode", f"{a.postfix_mode!r} is not one of internet-site, null-client"))
    if a.dovecot_enabled:
        for key, what in (("cert", "server certificate"), ("key", "private key")):
            if msg := check_path(getattr(a.tls, key), what):
                problems.append(Problem(f"tls.{key}", msg))
        if a.tls.ca and (msg := check_path(a.tls.ca, "CA certificate")):
            problems.append(Problem("tls.ca", msg))
        if a.tls.cert == a.tls.key and not problems:
            problems.append(Problem("tls.key", "is the same file as tls.cert: give the private key's own file"))
        if a.tls.dh not in DH_CHOICES:
            if msg := check_path(a.tls.dh, "Diffie-Hellman parameters file", "/etc/dovecot/dh.pem"):
                problems.append(Problem("tls.dh", f"must be ffdhe4096, generate, or a path; {msg}"))
        if not any((a.protocols.imap, a.protocols.pop3, a.protocols.lmtp)):
            problems.append(Problem("protocols", "enable at least one of imap, pop3, lmtp, "
                                    "or set [dovecot] enabled = false"))
    return problems
