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
from dataclasses import dataclass, field

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
class Answers:
    server: Server = field(default_factory=Server)
    tls: TLS = field(default_factory=TLS)
    protocols: Protocols = field(default_factory=Protocols)
    dovecot_enabled: bool = True
    auth_backend: str = "pam"
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
            if self.auth_backend in ("ldap", "sql"):
                out.append(self.auth_backend)
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
        tls = {"cert": self.tls.cert, "key": self.tls.key, "dh": self.tls.dh}
        if self.tls.ca:
            tls["ca"] = self.tls.ca
        if self.tls.self_signed:
            tls["self_signed"] = True
        data["tls"] = tls
        data["protocols"] = {**data.get("protocols", {}), **vars(self.protocols)}
        data.setdefault("dovecot", {})["enabled"] = self.dovecot_enabled
        data.setdefault("auth", {})["backend"] = self.auth_backend
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


def _expect(section: dict, key: str, kind, default, where: str, problems: list[Problem]):
    if key not in section:
        return default
    value = section[key]
    if kind is bool and not isinstance(value, bool):
        problems.append(Problem(f"{where}.{key}", f"must be true or false, not {value!r}"))
        return default
    if kind is str and not isinstance(value, str):
        problems.append(Problem(f"{where}.{key}", f"must be a string in quotes, not {value!r}"))
        return default
    return value


def parse(text: str) -> tuple[Answers, list[Problem]]:
    """Answers from TOML text; structural problems (wrong types) are returned, not raised."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnswersError(f"not valid TOML: {exc}") from None
    problems: list[Problem] = []
    a = Answers(raw=data)
    for name in ("server", "tls", "protocols", "dovecot", "auth", "postfix", "firewall"):
        if name in data and not isinstance(data[name], dict):
            problems.append(Problem(name, "must be a [section] table"))
            data[name] = {}
    srv = data.get("server", {})
    a.server.hostname = _expect(srv, "hostname", str, "", "server", problems).strip().lower().rstrip(".")
    a.server.domain = _expect(srv, "domain", str, "", "server", problems).strip().lower().rstrip(".")
    if not a.server.domain and "." in a.server.hostname:
        a.server.domain = a.server.hostname.split(".", 1)[1]
    tls = data.get("tls", {})
    cert, key = a.default_cert_paths()
    a.tls.cert = _expect(tls, "cert", str, cert, "tls", problems)
    a.tls.key = _expect(tls, "key", str, key, "tls", problems)
    a.tls.ca = _expect(tls, "ca", str, "", "tls", problems)
    a.tls.dh = _expect(tls, "dh", str, "ffdhe4096", "tls", problems)
    a.tls.self_signed = _expect(tls, "self_signed", bool, False, "tls", problems)
    protos = data.get("protocols", {})
    for p in ("imap", "pop3", "lmtp", "sieve"):
        setattr(a.protocols, p, _expect(protos, p, bool, getattr(a.protocols, p), "protocols", problems))
    a.dovecot_enabled = _expect(data.get("dovecot", {}), "enabled", bool, True, "dovecot", problems)
    a.auth_backend = _expect(data.get("auth", {}), "backend", str, "pam", "auth", problems)
    a.postfix_mode = _expect(data.get("postfix", {}), "mode", str, "internet-site", "postfix", problems)
    a.firewall_manage = _expect(data.get("firewall", {}), "manage", bool, True, "firewall", problems)
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


def check_path(value: str, what: str) -> str | None:
    if not value:
        return f"is empty: give the absolute path of the {what}"
    if not value.startswith("/"):
        return f"{value!r} is not an absolute path: start it with /, e.g. /etc/pki/dovecot/certs/server.crt"
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
    if a.auth_backend not in ("pam", "ldap", "sql"):
        problems.append(Problem("auth.backend", f"{a.auth_backend!r} is not one of pam, ldap, sql"))
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
            if msg := check_path(a.tls.dh, "Diffie-Hellman parameters file"):
                problems.append(Problem("tls.dh", f"must be ffdhe4096, generate, or a path; {msg}"))
        if not any((a.protocols.imap, a.protocols.pop3, a.protocols.lmtp)):
            problems.append(Problem("protocols", "enable at least one of imap, pop3, lmtp, "
                                    "or set [dovecot] enabled = false"))
    return problems
