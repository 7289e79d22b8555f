"""Certificate checks: the key matches, the name is the FQDN, not expired."""

import datetime as dt

from mailwizard import certs
from support import cached_cert


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
