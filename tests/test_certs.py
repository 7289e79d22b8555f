"""Certificate checks: the key matches, the name is the FQDN, not expired."""

import datetime as dt

import pytest

from mailwizard import certs
from support import cached_cert, key_parses


def test_matching_pair_for_the_fqdn_passes():
    key, cert = cached_cert("mail.example.com")
    assert certs.check_pair(cert, key, "mail.example.com") == []


def test_wrong_host_name():
    key, cert = cached_cert("mail.example.com")
    problems = certs.check_pair(cert, key, "smtp.example.org")
    assert problems[0][0] == "cert" and "not smtp.example.org" in problems[0][1]


def test_key_of_another_certificate():
    _, cert = cached_cert("mail.example.com")
    other_key, _ = cached_cert("other.example.com")
    assert [f for f, _ in certs.check_pair(cert, other_key, "mail.example.com")] == ["key"]


def test_expired():
    key, cert = cached_cert("mail.example.com")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=certs.SELF_SIGNED_DAYS + 1)
    problems = certs.check_pair(cert, key, "mail.example.com", now=later)
    assert any("expired" in m for _, m in problems)


def test_not_pem():
    assert certs.check_pair(b"hello", None, "mail.example.com")[0][1].startswith("is not a PEM certificate")
    _, cert = cached_cert("mail.example.com")
    assert "not a PEM private key" in certs.check_pair(cert, b"junk", "mail.example.com")[0][1]


def test_wildcard_names():
    assert certs.name_matches("*.example.com", "mail.example.com")
    assert not certs.name_matches("*.example.com", "a.mail.example.com")


def test_the_facts_of_a_file_are_kept_by_its_content(tmp_path, monkeypatch):
    """The same bytes are parsed once per session; a file whose bytes change gives its new facts."""
    loads = key_parses(monkeypatch)
    key, cert = cached_cert("mail.example.com")
    other_key, other_cert = cached_cert("other.example.com")
    key_file, cert_file = tmp_path / "server.key", tmp_path / "server.crt"
    key_file.write_bytes(key)
    cert_file.write_bytes(cert)
    for _ in range(3):  # every Next checks the same files again
        assert certs.check_pair(cert_file.read_bytes(), key_file.read_bytes(), "mail.example.com") == []
    assert loads == [key]
    key_file.write_bytes(other_key)  # the key replaced in place: its new facts
    assert [f for f, _ in certs.check_pair(cert_file.read_bytes(), key_file.read_bytes(), "mail.example.com")] \
        == ["key"]
    cert_file.write_bytes(other_cert)  # and the certificate: the names and the public key it holds now
    assert certs.cert_facts(cert_file.read_bytes()).names == ("other.example.com",)
    assert certs.check_pair(cert_file.read_bytes(), key_file.read_bytes(), "other.example.com") == []
    key_file.write_bytes(b"-----BEGIN PRIVATE KEY-----\njunk\n-----END PRIVATE KEY-----\n")
    assert "not a PEM private key" in certs.check_pair(cert_file.read_bytes(), key_file.read_bytes(),
                                                        "other.example.com")[0][1]
    assert loads == [key, other_key, key_file.read_bytes()], "each content parsed once"
    assert all(isinstance(f, (certs.CertFacts, certs.KeyFacts)) for f in certs._facts.values())
    secret = key.splitlines()[1]  # a line of the private key's body
    assert not any(secret in repr(item).encode() for item in certs._facts.items()), "no private key is kept"


def test_days_left_reads_the_certificate_facts():
    _, cert = cached_cert("mail.example.com")
    assert certs.SELF_SIGNED_DAYS - 2 <= certs.days_left(cert) <= certs.SELF_SIGNED_DAYS
    with pytest.raises(ValueError):
        certs.days_left(b"hello")
