"""Certificates: check that a certificate, its key and the host name belong together, make a self-signed one.

`cryptography` is imported on first use, not at start: the wizard's first
screen should not wait for it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

SELF_SIGNED_DAYS = 825


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
    from cryptography.hazmat.primitives import serialization

    problems: list[tuple[str, str]] = []
    try:
        cert = load_cert(cert_pem)
    except ValueError:
        return [("cert", "is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    now = now or dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        problems.append(("cert", f"expired on {cert.not_valid_after_utc:%Y-%m-%d}: renew it "
                                 "or create a self-signed one for now"))
    elif cert.not_valid_before_utc > now:
        problems.append(("cert", f"is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"))
    names = cert_names(cert)
    if fqdn and not any(name_matches(n, fqdn) for n in names):
        problems.append(("cert", f"names {', '.join(names) or 'no host'}, not {fqdn}: clients will "
                                 f"refuse it; use a certificate issued for {fqdn}"))
    if key_pem is not None:
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except TypeError:
            problems.append(("key", "is protected by a passphrase; Dovecot needs a key it can read at start"))
        except ValueError:
            problems.append(("key", "is not a PEM private key (expected -----BEGIN ... PRIVATE KEY-----)"))
        else:
            pub = key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
            cert_pub = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
            if pub != cert_pub:
                problems.append(("key", "does not match the certificate: give the key the certificate "
                                        "was issued for"))
    return problems


def days_left(cert_pem: bytes) -> int:
    cert = load_cert(cert_pem)
    return (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).days


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
