"""Where each answer is found on a configured host: the declarations existing.py walks (issue 15).

An answers field says, in its metadata, which setting holds it and which
named converter turns that setting's text into the answer:
`setting("", read=Dovecot("ssl_cert", file_ref))`. existing.py walks every
field with such a declaration; what cannot be said this way (a file whose
content decides, a choice spread over several settings) stays code, with
the step that owns the topic where that is natural (steps/acme.read_back).

A converter returns None when the setting says nothing usable: the answer
is then not read (the wizard's default stays), as a missing setting is not.
A source reads nothing from a program whose configuration is not there at
all, so a host without Postfix prefills no Postfix answer from defaults.

This module knows no host: the sources say what they need of a `Settings`
(existing.py builds it from `doveconf -n`, `postconf -n`/`-M` and the
LDAP/SQL args files), so answers.py can declare them without importing the
reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import MISSING, field
from typing import Any, Protocol

Convert = Callable[[Any], object]


class Settings(Protocol):
    """What the sources read: each program's settings (None where one is not set)."""

    def present(self, program: str) -> bool:
        """Whether the host has a configuration of "dovecot", "postfix", or the "ldap" or "sql" args file."""
        ...

    def dovecot(self, path: tuple[str, ...]) -> str | None: ...
    def postconf(self, name: str) -> str | None: ...
    def master(self, services: tuple[str, ...]) -> bool | None: ...
    def args(self, backend: str, key: str) -> str | None: ...


class ReadBack:
    """One field's read-back: its source's text (`missing` where the setting is absent from a configuration
    that is there), then `convert`; only once the answer `when` names was read back with that value."""

    program = ""  # what Settings.present names

    def __init__(self, convert: Convert, missing: str | None = None, when: tuple[str, object] | None = None):
        self.convert, self.missing, self.when = convert, missing, when

    def text(self, settings: Settings) -> object:
        raise NotImplementedError

    def read(self, settings: Settings, found: dict[str, object]) -> object:
        """The answer the host gives, or None."""
        if self.when is not None and found.get(self.when[0]) != self.when[1]:
            return None
        if not settings.present(self.program):
            return None
        value = self.text(settings)
        if value is None:
            value = self.missing
        return None if value is None else self.convert(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({vars(self)})"


class Dovecot(ReadBack):
    """A Dovecot setting, by its place in `doveconf -n`'s blocks: "service lmtp/inet_listener lmtp/port"."""

    program = "dovecot"

    def __init__(self, path: str, convert: Convert, missing: str | None = None,
                 when: tuple[str, object] | None = None) -> None:
        super().__init__(convert, missing, when)
        self.path = tuple(path.split("/"))

    def text(self, settings: Settings) -> object:
        return settings.dovecot(self.path)


class Postconf(ReadBack):
    """A main.cf parameter as `postconf -n` prints it."""

    program = "postfix"

    def __init__(self, name: str, convert: Convert, missing: str | None = None,
                 when: tuple[str, object] | None = None) -> None:
        super().__init__(convert, missing, when)
        self.name = name

    def text(self, settings: Settings) -> object:
        return settings.postconf(self.name)


class Master(ReadBack):
    """Whether master.cf runs one of these inet services (`postconf -M`)."""

    program = "postfix"

    def __init__(self, *services: str, when: tuple[str, object] | None = None) -> None:
        super().__init__(as_is, None, when)
        self.services = services

    def text(self, settings: Settings) -> object:
        return settings.master(self.services)


class Args(ReadBack):
    """A setting of the LDAP or SQL args file Dovecot's passdb names (when its driver is `backend`)."""

    def __init__(self, backend: str, key: str, convert: Convert, missing: str | None = None) -> None:
        super().__init__(convert, missing)
        self.backend, self.key, self.program = backend, key, backend

    def text(self, settings: Settings) -> object:
        return settings.args(self.backend, self.key)


def setting(default: Any = MISSING, *, factory: Callable[[], Any] | None = None, read: ReadBack | None = None,
            secret: bool = False) -> Any:
    """An answers field with what existing.py reads it back from (`read`) and whether it is a secret, never
    saved (`secret`)."""
    metadata: dict[str, object] = {}
    if read is not None:
        metadata["read"] = read
    if secret:
        metadata["secret"] = True
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


SITE = ("postfix.mode", "internet-site")  # a null client receives no mail: these are not looked at


# --- converters: a setting's text -> the answer, or None ------------------------------------------------

def as_is(value: Any) -> object:
    return value


def text(value: str) -> str | None:
    """A setting whose empty value means the wizard's own default."""
    return value or None


def file_ref(value: str) -> str | None:
    """Dovecot's `<path` (the file's content is the value): the path."""
    return value[1:].strip() if value.startswith("<") else None


def words(value: str) -> list[str]:
    """A Postfix list: words apart by blanks or commas."""
    return [w for w in re.split(r"[\s,]+", value) if w]


def comma_words(value: str) -> str:
    return ", ".join(words(value))


def blank_words(value: str) -> list[str]:
    """A list apart by blanks only (an LDAP args file's uris)."""
    return value.split()


def lower_words(value: str) -> list[str] | None:
    return value.lower().split() if value else None


def domain_name(value: str) -> str:
    return value.lower().rstrip(".")


def number(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def nonzero(value: str) -> int | None:
    """A number where 0 means "not set" (last_valid_uid) or "no listener" (a port)."""
    return int(value) if value.isdigit() and int(value) else None


def inet_listener(value: str) -> str | None:
    """A TCP listener's port: a non-zero one means the answer `inet`."""
    return "inet" if nonzero(value) else None


def yes(value: str) -> bool:
    return value.lower() in ("yes", "true", "1")


def one_of(*choices: str) -> Convert:
    def convert(value: str) -> str | None:
        return value if value in choices else None
    return convert


def has_word(word: str) -> Convert:
    """Whether a list setting (Dovecot's protocols, mail_plugins) holds `word`."""
    def convert(value: str) -> bool:
        return word in value.split()
    return convert


def _pairs(value: str) -> dict[str, str]:
    return dict(w.split("=", 1) for w in value.split() if "=" in w)


def pair(name: str, empty: bool = False) -> Convert:
    """`name=VALUE` among the words of a setting (userdb's override_fields, SQL's connect); an empty VALUE
    counts only with `empty`."""
    def convert(value: str) -> str | None:
        found = _pairs(value).get(name)
        return found if found or (empty and found is not None) else None
    return convert


def sql_port(value: str) -> int | None:
    """SQL's connect string: its port, or MySQL's 3306 where it names a host and no port."""
    pairs = _pairs(value)
    if pairs.get("port", "").isdigit():
        return int(pairs["port"])
    return 3306 if "host" in pairs else None


_LOCATION = re.compile(r"^(sdbox|mdbox):(/\S*?)/%n/?$|^maildir:(/\S*?)/%n/Maildir/?$")


def location_format(value: str) -> str | None:
    """The format of a mail_location the wizard writes (`sdbox:/var/mail/%n`, `maildir:ROOT/%n/Maildir`)."""
    m = _LOCATION.match(value)
    return (m.group(1) or "maildir") if m else None


def location_root(value: str) -> str | None:
    m = _LOCATION.match(value)
    return (m.group(2) or m.group(3)) if m else None


def _address(scheme: str) -> re.Pattern[str]:
    return re.compile(rf"^{scheme}:(\[[^\]]+\]|[^:]+):(\d+)$")


def address_host(scheme: str) -> Convert:
    """The host of `SCHEME:HOST:PORT` (`tcp:` for mail_replica, `inet:` for smtpd_sasl_path), unbracketed."""
    def convert(value: str) -> str | None:
        m = _address(scheme).match(value)
        return m.group(1).strip("[]") if m else None
    return convert


def address_port(scheme: str) -> Convert:
    def convert(value: str) -> int | None:
        m = _address(scheme).match(value)
        return int(m.group(2)) if m else None
    return convert


def is_address(scheme: str) -> Convert:
    """True where the setting is a `SCHEME:HOST:PORT` address (replication is on with a partner)."""
    def convert(value: str) -> bool | None:
        return True if _address(scheme).match(value) else None
    return convert


def login_mismatch(value: str) -> str:
    """smtpd_sender_restrictions: the [postfix] sender_login_mismatch answer it holds."""
    restrictions = words(value)
    if "reject_authenticated_sender_login_mismatch" in restrictions:
        return "reject-authenticated"
    return "reject" if "reject_sender_login_mismatch" in restrictions else ""
