"""Answers files: every reference file is accepted; bad values are named with a useful message."""

import tomllib

import pytest

from mailwizard import answers as A
from support import ANSWER_FILES, ANSWERS_DIR


@pytest.mark.parametrize("name", ANSWER_FILES)
def test_reference_files_are_accepted_as_they_are(name):
    answers, problems = A.parse((ANSWERS_DIR / name).read_text())
    assert problems == []
    assert [p for p in A.validate(answers) if p.severity == "error"] == []
    assert answers.server.hostname.endswith(".example.com")


def test_reference_values_are_read():
    a, _ = A.parse((ANSWERS_DIR / "full.toml").read_text())
    assert a.tls.cert == "/etc/pki/dovecot/certs/server.example.com.crt"
    assert a.tls.dh == "ffdhe4096"
    assert a.protocols.sieve is True
    nc, _ = A.parse((ANSWERS_DIR / "null-client.toml").read_text())
    assert nc.dovecot_enabled is False and nc.postfix_mode == "null-client"


@pytest.mark.parametrize("value, fragment", [
    ("", "is empty"),
    ("mail", "not fully qualified"),
    ("mail..example.com", "not a valid host name"),
    ("-mail.example.com", "not a valid host name"),
    ("mail_1.example.com", "not a valid host name"),
    ("192.0.2.1", "is an IP address"),
    ("a" * 64 + ".example.com", "not a valid host name"),
])
def test_bad_hostnames_are_explained(value, fragment):
    a = A.Answers()
    a.server.hostname, a.server.domain = value, "example.com"
    msgs = [p.message for p in A.validate(a) if p.key == "server.hostname"]
    assert msgs and fragment in msgs[0]


@pytest.mark.parametrize("value, fragment", [
    ("server.key", "not an absolute path"),
    ("/etc/pki/my key.pem", "cannot be written safely"),
    ('/etc/pki/"x".pem', "cannot be written safely"),
    ("/etc/pki/x.pem\nssl = no", "cannot be written safely"),
    ("/etc/../etc/shadow", "is read as /etc/shadow"),  # normalised first (tests/test_answers_paths.py)
])
def test_unsafe_paths_are_refused_at_the_key(value, fragment):
    a, _ = A.parse((ANSWERS_DIR / "pam.toml").read_text())
    a.tls.key = value
    msgs = [p.message for p in A.validate(a) if p.key == "tls.key"]
    assert msgs and fragment in msgs[0]


def test_wrong_types_name_the_key():
    _, problems = A.parse('[server]\nhostname = 42\n[protocols]\nimap = "yes"\n')
    assert {p.key for p in problems} == {"server.hostname", "protocols.imap"}


def test_unknown_dh_choice():
    a, _ = A.parse((ANSWERS_DIR / "pam.toml").read_text())
    a.tls.dh = "ffdhe1024"
    assert any(p.key == "tls.dh" for p in A.validate(a))


def test_invalid_toml_is_an_answers_error():
    with pytest.raises(A.AnswersError, match="not valid TOML"):
        A.parse("[server\nhostname=")


def test_saved_answers_round_trip_without_secrets():
    text = (ANSWERS_DIR / "full.toml").read_text() + '\n[secrets_test]\npassword = "s3cr3t"\n'
    a, _ = A.parse(text)
    saved = a.to_toml()
    assert "s3cr3t" not in saved
    again, problems = A.parse(saved)
    assert [(p.key, p.severity) for p in problems] == [("secrets_test", "warning")]  # not a section of the wizard
    assert again.tls == a.tls and again.server == a.server and again.protocols == a.protocols
    # sections owned by later steps survive
    assert tomllib.loads(saved)["replication"]["password_file"] == "/root/doveadm.pass"


def test_the_test_account_is_read_and_its_typed_password_never_saved():
    a, problems = A.parse((ANSWERS_DIR / "pam.toml").read_text().replace(
        "[auth]\n", '[auth]\ntest_user = "alice"\ntest_password_file = "/root/alice.pass"\n', 1))
    assert problems == []
    assert (a.auth.test_user, a.auth.test_password_file, a.auth.test_password) == ("alice", "/root/alice.pass", "")
    a.auth.test_password = "Typed-s3cret"  # what the Report screen's prompt sets
    saved = a.to_toml()
    assert "Typed-s3cret" not in saved and "test_password =" not in saved
    again, problems = A.parse(saved)
    assert problems == [] and (again.auth.test_user, again.auth.test_password_file) == ("alice", "/root/alice.pass")


def test_a_test_user_of_the_wrong_type_is_named():
    _, problems = A.parse('[server]\nhostname = "mail.example.com"\n[auth]\ntest_user = 7\n')
    assert [p.key for p in problems] == ["auth.test_user"]


@pytest.mark.parametrize("toml, key", [
    ('[postfix]\nrelayhost = "\\n[relay.example.com]"\n', "postfix.relayhost"),  # found by the fuzz test
    ('[postfix]\ninet_interfaces = ["\\nall"]\n', "postfix.inet_interfaces"),    # was a traceback in the plan
    ('[auth.ldap]\ndnpass = "secret\\u0085"\n', "auth.ldap.dnpass"),
])
def test_a_control_character_anywhere_is_refused_at_its_key(toml, key):
    _, problems = A.parse(toml)
    assert [p.key for p in problems if "control character" in p.message] == [key]


def test_a_tab_in_a_password_is_kept():
    a, problems = A.parse('[auth.ldap]\ndnpass = "a\\tb"\n')
    assert not [p for p in problems if "control" in p.message] and a.auth.ldap.dnpass == "a\tb"
