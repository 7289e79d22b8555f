"""Certificates: check that a certificate, its key and the host name belong together, make a self-signed one.

`cryptography` is imported on first use, not at start: the wizard's first
screen should not wait for it.

Loading a private key runs the full RSA validation (~0.2 s), and the checks
run on every Next and twice per unattended run: what a certificate or key file
says (its names, dates, public key; or why it cannot be read) is kept for the
session, keyed by the SHA-256 of the file's bytes, so the same files are
parsed once and a file whose bytes change is parsed again. Only public facts
are kept, never the private key.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

SELF_SIGNED_DAYS = 825
FACTS_KEPT = 64  # the facts of this many distinct files (a session looks at a handful)

T = TypeVar("T")


@dataclass(frozen=True)
class CertFacts:
    """What a PEM certificate says; `error` is set (and the rest empty) when it is not one."""

    error: str = ""
    names: tuple[str, ...] = ()
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    public_key: bytes = b""  # DER SubjectPublicKeyInfo


@dataclass(frozen=True)
class KeyFacts:
    """What a PEM private key file says: its public half, or why it cannot be used."""

    error: str = ""
    public_key: bytes = b""  # DER SubjectPublicKeyInfo


_facts: collections.OrderedDict[tuple[str, bytes], object] = collections.OrderedDict()
_facts_lock = threading.Lock()


def _remembered(kind: str, data: bytes, read: Callable[[bytes], T]) -> T:
    """`read(data)`, computed once per content: two threads asking at once (a screen's check on mount
    and on Next) wait for the one reading, never read it twice."""
    key = (kind, hashlib.sha256(data).digest())
    with _facts_lock:
        if key in _facts:
            _facts.move_to_end(key)
            return _facts[key]  # type: ignore[return-value]
        value = read(data)
        _facts[key] = value
        while len(_facts) > FACTS_KEPT:
            _facts.popitem(last=False)
        return value


def _public_der(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_cert(data: bytes) -> CertFacts:
    try:
        cert = load_cert(data)
    except ValueError:
        return CertFacts(error="is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)")
    return CertFacts(names=tuple(cert_names(cert)), not_before=cert.not_valid_before_utc,
                     not_after=cert.not_valid_after_utc, public_key=_public_der(cert.public_key()))


def _read_key(data: bytes) -> KeyFacts:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return KeyFacts(error="is protected by a passphrase; Dovecot needs a key it can read at start")
    except ValueError:
        return KeyFacts(error="is not a PEM private key (expected -----BEGIN ... PRIVATE KEY-----)")
    return KeyFacts(public_key=_public_der(key.public_key()))


PEM_MARKERS = {"CA certificate": b"-----BEGIN CERTIFICATE-----", "DH parameters": b"-----BEGIN DH PARAMETERS-----"}


def pem_problem(data: bytes, what: str) -> str | None:
    """Why `data` cannot be a file of `what` (a key of PEM_MARKERS), judged by its PEM marker, or None.

    A CA bundle may hold many certificates and Dovecot, Postfix or OpenLDAP parse it themselves; a file
    without a single PEM block (a password file, /etc/passwd, a DER file) is refused here, at its key,
    rather than when the daemon starts."""
    marker = PEM_MARKERS[what]
    if marker in data:
        return None
    return f"is not a PEM file of {what} (expected {marker.decode()})"


def cert_facts(cert_pem: bytes) -> CertFacts:
    """The facts of a certificate file's bytes, read once per content."""
    return _remembered("cert", cert_pem, _read_cert)


def key_facts(key_pem: bytes) -> KeyFacts:
    """The facts of a private key file's bytes, read (fully validated) once per content."""
    return _remembered("key", key_pem, _read_key)


def load_cert(data: bytes):
    from cryptography import x509

    return x509.load_pem_x509_certificate(data)


def cert_names(cert) -> list[str]:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names += [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attr.value if isinstance(attr.value, str) else attr.value.decode()
        if value.lower() not in names:
            names.append(value.lower())
    return names


def name_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in host and host.split(".", 1)[1] == pattern[2:]
    return pattern == host


def check_pair(cert_pem: bytes, key_pem: bytes | None, fqdn: str,
               now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """Problems with a certificate (and key) for `fqdn`, as (field, message); empty when fine."""
    cert = cert_facts(cert_pem)
    if cert.error:
        return [("cert", cert.error)]
    assert cert.not_before is not None and cert.not_after is not None
    problems: list[tuple[str, str]] = []
    now = now or dt.datetime.now(dt.UTC)
    if cert.not_after < now:
        problems.append(("cert", f"expired on {cert.not_after:%Y-%m-%d}: renew it "
                                 "or create a self-signed one for now"))
    elif cert.not_before > now:
        problems.append(("cert", f"is not valid before {cert.not_before:%Y-%m-%d}"))
    names = cert.names
    if fqdn and not any(name_matches(n, fqdn) for n in names):
        problems.append(("cert", f"names {', '.join(names) or 'no host'}, not {fqdn}: clients will "
                                 f"refuse it; use a certificate issued for {fqdn}"))
    if key_pem is not None:
        key = key_facts(key_pem)
        if key.error:
            problems.append(("key", key.error))
        elif key.public_key != cert.public_key:
            problems.append(("key", "does not match the certificate: give the key the certificate "
                                    "was issued for"))
    return problems


def days_left(cert_pem: bytes) -> int:
    """Days until the certificate expires (negative once expired); ValueError when it is not one."""
    cert = cert_facts(cert_pem)
    if cert.not_after is None:
        raise ValueError(cert.error)
    return (cert.not_after - dt.datetime.now(dt.UTC)).days


def self_signed(fqdn: str, days: int = SELF_SIGNED_DAYS) -> tuple[bytes, bytes]:
    """A new RSA key and a self-signed certificate naming `fqdn` (PEM key, PEM cert)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fqdn)])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(fqdn)]
    try:
        sans = [x509.IPAddress(ipaddress.ip_address(fqdn))]
    except ValueError:
        pass
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def issuer_and_subject(cert_pem: bytes) -> tuple[str, str]:
    """The certificate's issuer and subject, as RFC 4514 strings."""
    cert = load_cert(cert_pem)
    return cert.issuer.rfc4514_string(), cert.subject.rfc4514_string()


def expiry_status(left: int) -> str:
    """A certificate with `left` days: fail when expired or within 14 days (a renewal that should have
    happened has not), warn within 30 (ACME clients renew then), else pass."""
    return "fail" if left <= 14 else "warn" if left <= 30 else "pass"
