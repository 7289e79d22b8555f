"""Issue 13, hostile answers: paths normalised before they are validated, mail roots that belong to the
system refused, special files never read, control and bidi characters, IPv6 zone indexes, numbers beyond
what the daemons accept, unknown keys. Table-driven: data in, message at its key out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib

import pytest
import tomli_w

from mailwizard import answers as A, safe_read
from support import ANSWERS_DIR, cached_cert, fake_session


def problems_at(problems, key, severity=None):
    return [p.message for p in problems if p.key == key and (severity is None or p.severity == severity)]


def session_problems(tmp_path, platform="debian12", name="pam.toml", edit=None):
    session = fake_session(tmp_path, platform, name)
    if edit:
        edit(session.answers, session.host)
    return session, session.problems()


# --- normalisation ------------------------------------------------------------------------------

@pytest.mark.parametrize("written, normal", [
    ("//etc", "/etc"), ("///etc", "/etc"), ("/srv/../etc", "/etc"), ("/var/mail/.", "/var/mail"),
    ("/var/mail/", "/var/mail"), ("/var//mail", "/var/mail"), ("/srv/mail/./x/..", "/srv/mail"),
    ("/..", "/"), ("/", "/"), ("relative/x", "relative/x"), ("", ""),
])
def test_normalise_path(written, normal):
    assert A.normalise_path(written) == normal


@pytest.mark.parametrize("key", A.PATH_KEYS)
def test_every_path_key_is_normalised_and_the_change_said(key):
    a, _ = A.parse((ANSWERS_DIR / "full.toml").read_text())
    *parents, name = key.split(".")
    obj = a
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, name, "//srv/x/../mail.d/./f/")
    warnings = problems_at(A.validate(a), key, "warning")
    assert getattr(obj, name) == "/srv/mail.d/f"
    assert any("'//srv/x/../mail.d/./f/' is read as /srv/mail.d/f" in w for w in warnings), warnings


def test_a_normalised_answers_file_value_is_said_and_saved_normal():
    a, problems = A.parse('[server]\nhostname = "mail.example.com"\n[mailbox]\nroot = "/srv//mail/"\n')
    assert problems == [] and a.mailbox.root == "/srv/mail"
    assert problems_at(A.validate(a), "mailbox.root", "warning")
    assert 'root = "/srv/mail"' in a.to_toml()
    a.mailbox.root = "/var/vmail"  # typed again on the screen: no stale note
    assert not problems_at(A.validate(a), "mailbox.root")


# --- the mail root ------------------------------------------------------------------------------

@pytest.mark.parametrize("root, fragment", [
    ("/", "whole directory /"), ("//", "whole directory /"), ("/etc", "system directory"),
    ("//etc", "//etc (that is, /etc)"),
    ("/srv/../etc", "/srv/../etc (that is, /etc)"), ("/etc/", "system directory"), ("/etc/.", "system directory"),
    ("/usr", "system directory"), ("/usr/local", "whole directory /usr/local"), ("/usr/share/mail", "under /usr"),
    ("/var", "whole directory /var"), ("/var/lib", "whole directory /var/lib"),
    ("/var/lib/mailwizard", "mailwizard's own"),
    ("/var/lib/mailwizard/backups", "mailwizard's own"), ("/var/lib/dovecot", "a daemon's own"),
    ("/root", "system directory"), ("/root/mail", "under /root"), ("/home", "whole directory /home"),
    ("/boot", "system"), ("/proc", "system"), ("/sys/x", "system"), ("/dev", "system"), ("/dev/shm/m", "system"),
    ("/run", "system"), ("/run/mail", "system"), ("/tmp", "system"), ("/tmp/mail", "system"),
    ("/var/tmp/mail", "system"), ("/bin", "system"), ("/sbin", "system"), ("/lib", "system"),
    ("/lib64", "system"), ("/lib32/x", "system"), ("/var/spool", "whole directory /var/spool"),
    ("/var/spool/postfix", "a daemon's own"), ("/var/spool/postfix/private", "a daemon's own"),
    ("/etc/dovecot", "system directory"), ("/etc/postfix/mail", "system directory"), ("/var/log/mail", "system"),
    ("/srv", "whole directory /srv"), ("/opt", "whole directory /opt"), ("/mnt", "whole directory /mnt"),
])
def test_system_and_mailwizard_directories_are_refused_as_mail_root(tmp_path, root, fragment):
    def edit(a, host):
        a.mailbox.root = root

    _session, problems = session_problems(tmp_path, edit=edit)
    errors = problems_at(problems, "mailbox.root", "error")
    assert errors and fragment in errors[0], problems
    assert "e.g. /var/mail" in errors[0] or "is under" in errors[0] or "is " in errors[0]


@pytest.mark.parametrize("root", ["/var/mail", "/var/mail/", "/var/vmail", "/var/mail/vhosts", "/srv/mail",
                                  "/srv/vmail", "/home/vmail", "/var/spool/mail", "/data/mail", "/opt/mail"])
def test_sane_mail_roots_are_accepted(tmp_path, root):
    def edit(a, host):
        a.mailbox.root = root

    _, problems = session_problems(tmp_path, edit=edit)
    assert not problems_at(problems, "mailbox.root", "error"), problems


@pytest.mark.parametrize("link, target, root, refused", [
    ("/srv/mailstore", "../etc", "/srv/mailstore/vmail", "symbolic link to /etc/vmail"),
    ("/srv/gone-link", "gone", "/srv/gone-link", "/srv/gone, which does not exist"),
    # as RHEL's /var/mail -> spool/mail: the directory it leads to is checked (and planned, test_plans_rhel_host)
    ("/srv/mail", "real", "/srv/mail", None),
])
def test_a_mail_root_through_a_symlink_is_judged_by_where_it_leads(tmp_path, link, target, root, refused):
    def edit(a, host):
        host.makedirs("/srv/real")
        os.symlink(target, host.real(link))
        a.mailbox.root = root

    _, problems = session_problems(tmp_path, edit=edit)
    errors = problems_at(problems, "mailbox.root", "error")
    if refused is None:
        assert not errors, problems
    else:
        assert errors and refused in errors[0], problems


def test_a_mail_root_owned_by_another_user_is_refused(tmp_path):
    def edit(a, host):
        host.state.users["alice"] = 1000
        host.makedirs("/home/alice")
        host.chown("/home/alice", 1000, 1000)
        a.mailbox.root = "/home/alice"

    _, problems = session_problems(tmp_path, edit=edit)
    errors = problems_at(problems, "mailbox.root", "error")
    assert errors and "belongs to alice" in errors[0], problems


# --- self-signed output paths -------------------------------------------------------------------

def _self_signed(a):
    a.tls.self_signed = True


@pytest.mark.parametrize("what, content, key", [
    ("an admin's certificate for another name", "other-cert", "tls.cert"),
    ("an unrelated file", b"# my notes\n", "tls.cert"),
    ("a key without its certificate", "key-only", "tls.key"),
    ("a mismatched pair", "mismatch", "tls.key"),
])
def test_self_signed_never_overwrites_a_file_that_is_not_its_own(tmp_path, what, content, key):
    def edit(a, host):
        a.tls.self_signed = True
        other_key, other_cert = cached_cert("other.example.com")
        mine_key, mine_cert = cached_cert(a.server.hostname)
        host.real(a.tls.cert).unlink()
        host.real(a.tls.key).unlink()
        if content == "other-cert":
            host.real(a.tls.cert).write_bytes(other_cert)
            host.real(a.tls.key).write_bytes(other_key)
        elif content == "key-only":
            host.real(a.tls.key).write_bytes(mine_key)
        elif content == "mismatch":
            host.real(a.tls.cert).write_bytes(mine_cert)
            host.real(a.tls.key).write_bytes(other_key)
        else:
            host.real(a.tls.cert).write_bytes(content)

    _session, problems = session_problems(tmp_path, edit=edit)
    errors = problems_at(problems, key, "error")
    assert errors and "self_signed" in errors[0] and "overwrite" in errors[0], (what, problems)


def test_self_signed_keeps_a_matching_pair_and_writes_where_nothing_is(tmp_path):
    session, problems = session_problems(tmp_path, edit=lambda a, host: _self_signed(a))
    assert not [p for p in problems if p.key.startswith("tls.") and p.severity == "error"], problems
    change = next(c for c in session.plan().changes if c.kind == "self-signed")
    assert change.noop and "already a valid certificate" in change.noop

    def absent(a, host):
        a.tls.self_signed = True
        host.real(a.tls.cert).unlink()
        host.real(a.tls.key).unlink()

    session, problems = session_problems(tmp_path / "2", edit=absent)
    assert not [p for p in problems if p.key.startswith("tls.") and p.severity == "error"], problems


# --- special files where a file is read ------------------------------------------------------------

def _fifo(host, path):
    host.makedirs(path.rsplit("/", 1)[0])
    real = host.real(path)
    if real.exists() or real.is_symlink():
        real.unlink()
    os.mkfifo(real)


def _chardev(host, path):
    host.makedirs(path.rsplit("/", 1)[0])
    real = host.real(path)
    if real.exists() or real.is_symlink():
        real.unlink()
    os.symlink("/dev/zero", real)  # a link to a character device: followed, then refused


def _big(host, path):
    host.makedirs(path.rsplit("/", 1)[0])
    host.real(path).write_bytes(b"x" * (safe_read.MAX_FILE + 1))


SPECIAL = [("FIFO (named pipe)", _fifo), ("character device", _chardev), ("larger than 1 MiB", _big)]
FILE_KEYS = [  # (answers file, key, the path given, a screen-less setup)
    ("pam.toml", "tls.cert", None), ("pam.toml", "tls.key", None), ("full.toml", "tls.ca", None),
    ("pam.toml", "tls.dh", "/etc/dovecot/my-dh.pem"),
    ("ldap-search.toml", "auth.ldap.dnpass_file", None),
    ("ldap-search.toml", "auth.ldap.tls_ca_cert_file", "/etc/pki/tls/certs/ldap-ca.crt"),
    ("sql.toml", "auth.sql.password_file", None),
    ("full.toml", "replication.password_file", None),
    ("full.toml", "postfix.tls_cert", "/etc/pki/tls/certs/postfix.crt"),
    ("full.toml", "postfix.tls_key", "/etc/pki/tls/private/postfix.key"),
]


def _get(a, key):
    obj = a
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def _set(a, key, value):
    *parents, name = key.split(".")
    obj = a
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, name, value)


@pytest.mark.parametrize("name, key, path", FILE_KEYS)
@pytest.mark.parametrize("what, make", SPECIAL)
def test_a_special_file_is_refused_at_its_key_without_reading_it(tmp_path, name, key, path, what, make):
    def edit(a, host):
        given = path or _get(a, key) or "/root/secret.pass"
        if key.startswith("postfix."):  # Postfix's own pair is given whole or not at all
            a.postfix.tls_cert, a.postfix.tls_key = "/etc/pki/tls/certs/postfix.crt", "/etc/pki/tls/private/postfix.key"
        _set(a, key, given)
        for other in ("tls.ca", "auth.ldap.tls_ca_cert_file", "postfix.tls_cert", "postfix.tls_key"):
            value = _get(a, other)
            if value and other != key and not host.exists(value):
                host.makedirs(value.rsplit("/", 1)[0])
                key_pem, cert_pem = cached_cert(a.server.hostname)
                host.real(value).write_bytes(key_pem if other.endswith("key") else cert_pem)
        for secret in ("/root/dovecot-ldap.pass", "/root/dovecot-sql.pass", "/root/doveadm.pass"):
            host.makedirs("/root")
            host.real(secret).write_bytes(b"s3cret\n")
            os.chmod(host.real(secret), 0o600)
        make(host, given)

    started = time.monotonic()
    _, problems = session_problems(tmp_path, name=name, edit=edit)
    assert time.monotonic() - started < 30
    errors = problems_at(problems, key, "error")
    assert errors and any(what in m for m in errors), problems


@pytest.mark.parametrize("what, make", SPECIAL)
def test_read_regular_refuses_special_files(tmp_path, what, make):
    from mailwizard.host import Host

    host = Host(tmp_path)
    make(host, "/x/f")
    with pytest.raises(safe_read.UnsafeFile, match=what.split(" (")[0]):
        safe_read.read_regular(host.real("/x/f"))


def test_read_regular_follows_a_symlink_to_a_regular_file(tmp_path):
    (tmp_path / "real").write_bytes(b"data")
    os.symlink("real", tmp_path / "link")
    assert safe_read.read_regular(tmp_path / "link") == b"data"


@pytest.mark.parametrize("what, make", SPECIAL[:2])
def test_a_special_answers_file_is_an_answers_error(tmp_path, what, make):
    from mailwizard.host import Host

    make(Host(tmp_path), "/answers.toml")
    with pytest.raises(A.AnswersError, match=what.split(" (")[0]):
        A.load(str(tmp_path / "answers.toml"))


# --- control and bidi characters ------------------------------------------------------------------

SERVER = '[server]\nhostname = "mail.example.com"\n'


@pytest.mark.parametrize("toml, key, fragment", [
    ('[mailboxes]\n"Se\\u202ent" = { auto = "subscribe" }\n', "mailboxes", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ('[mailboxes]\n"Sent\\n" = { auto = "subscribe" }\n', "mailboxes", "control character"),
    ('[mailboxes]\n"Sent\\u0000" = { auto = "subscribe" }\n', "mailboxes", "control character"),
    ('[postfix.virtual_aliases]\n"info\\u2066@example.com" = "bob@example.com"\n', "postfix.virtual_aliases",
     "U+2066"),
    ('[postfix.virtual_aliases]\n"info@example.com" = "bob@exa\\u200fmple.com"\n',
     "postfix.virtual_aliases.info@example.com", "U+200F"),
    ('[tls]\ncert = "/etc/pki/\\u202dcrt.pem"\n', "tls.cert", "U+202D"),
    ('[mailbox]\nroot = "/srv/\\u061cmail"\n', "mailbox.root", "U+061C ARABIC LETTER MARK"),
    ('[server]\nhostname = "mail.example.com\\u200e"\n', "server.hostname", "U+200E"),
    ('[postfix]\nmynetworks = ["127.0.0.0/8\\u2069"]\n', "postfix.mynetworks", "U+2069"),
    ('[sieve]\nspam_folder = "Ju\\u202ank"\n', "sieve.spam_folder", "U+202A"),
    ('[auth.ldap]\ndnpass = "pa\\u202bss"\n', "auth.ldap.dnpass", "U+202B"),
    ('[tls]\ncert = "/etc/pki/c\\u0085.pem"\n', "tls.cert", "control character"),
])
def test_control_and_bidi_characters_are_refused_at_their_key(toml, key, fragment):
    _, problems = A.parse(SERVER + toml if not toml.startswith("[server]") else toml)
    assert any(fragment in m for m in problems_at(problems, key, "error")), problems


def test_a_bidi_control_typed_into_a_field_is_refused_by_validate():
    a, _ = A.parse((ANSWERS_DIR / "pam.toml").read_text())
    a.mailboxes[0].name = "Dr\u202eafts"
    a.mailbox.root = "/srv/\u2067mail"
    problems = A.validate(a)
    assert any("U+202E" in m for m in problems_at(problems, "mailboxes", "error")), problems
    assert any("U+2067" in m for m in problems_at(problems, "mailbox.root", "error")), problems


# --- IPv6 zone indexes ----------------------------------------------------------------------------

@pytest.mark.parametrize("section, item, key", [
    ("postfix", {"mynetworks": ["[fe80::1%eth0]/128"]}, "postfix.mynetworks"),
    ("postfix", {"inet_interfaces": "fe80::1%eth0"}, "postfix.inet_interfaces"),
    ("postfix", {"relayhost": "[fe80::1%eth0]", "mode": "null-client"}, "postfix.relayhost"),
    ("dns", {"addresses": ["fe80::1%eth0"]}, "dns.addresses"),
])
def test_ipv6_zone_indexes_are_refused_in_validate(section, item, key):
    data = tomllib.loads((ANSWERS_DIR / "full.toml").read_text())
    data.setdefault(section, {}).update(item)
    a, _ = A.parse(tomli_w.dumps(data))
    assert any("zone index (%eth0)" in m for m in problems_at(A.validate(a), key, "error"))


@pytest.mark.parametrize("key, value", [
    ("lmtp.allow_from", ["fe80::1%eth0/128"]), ("replication.partner_addresses", ["fe80::1%25eth0"]),
    ("auth.sasl_allow_from", ["fe80::%eth0/64"]), ("replication.partner", "fe80::2%eth1"),
    ("postfix.lmtp_host", "fe80::2%eth1"), ("postfix.sasl_host", "fe80::2%eth1"),
])
def test_ipv6_zone_indexes_are_refused_where_they_reach_a_firewall_or_a_config(tmp_path, key, value):
    def edit(a, host):
        _set(a, key, value)
        a.auth.sasl_listener = "inet"
        a.lmtp.listener = "inet"
        a.auth.sasl_port = 12346
        for secret in ("/root/doveadm.pass",):
            host.makedirs("/root")
            host.real(secret).write_bytes(b"s3cret\n")
            os.chmod(host.real(secret), 0o600)

    _, problems = session_problems(tmp_path, name="full.toml", edit=edit)
    assert any("zone index" in m for m in problems_at(problems, key, "error")), problems


# --- numbers beyond what the daemons accept -----------------------------------------------------------

@pytest.mark.parametrize("key, value, fragment", [
    ("auth.first_valid_uid", 2**32, "at most 4294967294"),
    ("auth.last_valid_uid", 2**40, "at most 4294967294"),
    ("auth.last_valid_uid", -5, "negative"),
    ("replication.max_conns", 2**31, "at most 2147483647"),
    ("postfix.limits.default_process_limit", 2**31, "at most 2147483647"),
    ("postfix.limits.header_size_limit", 2**40, "at most 2147483647"),
    ("postfix.limits.smtpd_client_connection_rate_limit", -1, "negative"),
    ("postfix.limits.message_size_limit", 2**40, "mailbox_size_limit"),
    # found by the form-field matrix: kept where the feature was off (lmtp_port = -1 without lmtp_host), and a
    # long limit beyond Postfix's long (the limits screen took 2**64)
    ("postfix.lmtp_port", -1, "not a TCP port"), ("sieve.port", 0, "not a TCP port"),
    ("replication.port", 70000, "not a TCP port"), ("auth.sasl_port", 65536, "not a TCP port"),
    ("postfix.limits.queue_minfree", 2**64, "at most 9223372036854775807"),
])
def test_numbers_beyond_the_daemons_are_refused_at_the_key(key, value, fragment):
    a, _ = A.parse((ANSWERS_DIR / "full.toml").read_text())
    if key.startswith("postfix.limits."):
        a.postfix.limits[key.rsplit(".", 1)[1]] = value
    else:
        _set(a, key, value)
    assert any(fragment in m for m in problems_at(A.validate(a), key, "error")), A.validate(a)


@pytest.mark.parametrize("key, value, fragment", [
    ("lmtp.port", 0, "1-65535"), ("lmtp.port", 65536, "1-65535"), ("sieve.port", 70000, "1-65535"),
    ("replication.port", -1, "1-65535"), ("auth.sasl_port", 2**31, "1-65535"),
    ("postfix.lmtp_port", 65536, "TCP port"), ("postfix.sasl_port", 0, "TCP port"),
])
def test_ports_outside_1_65535_are_refused_at_the_key(tmp_path, key, value, fragment):
    def edit(a, host):
        a.auth.sasl_port = 12346  # not the replication port
        _set(a, key, value)
        a.lmtp.listener = "inet"
        a.auth.sasl_listener = "inet"
        a.postfix.lmtp_host = "dovecot.example.com" if key == "postfix.lmtp_port" else ""
        a.postfix.sasl_host = "dovecot.example.com" if key == "postfix.sasl_port" else ""
        host.makedirs("/root")
        host.real("/root/doveadm.pass").write_bytes(b"s3cret\n")
        os.chmod(host.real("/root/doveadm.pass"), 0o600)

    _, problems = session_problems(tmp_path, name="full.toml", edit=edit)
    assert any(fragment in m for m in problems_at(problems, key, "error")), problems


# --- unknown keys ------------------------------------------------------------------------------------

@pytest.mark.parametrize("toml, key, fragment", [
    ("[postfix]\nsubmision = true\n", "postfix.submision", "did you mean submission?"),
    ("[tls]\nself_sigend = true\n", "tls.self_sigend", "did you mean self_signed?"),
    ("[mailbox]\nrooot = \"/srv/mail\"\n", "mailbox.rooot", "did you mean root?"),
    ("[auth.ldap]\nbsae = \"dc=example,dc=com\"\n", "auth.ldap.bsae", "did you mean base?"),
    ("[postfix.ldap_aliases]\nserver_hots = \"ldap\"\n", "postfix.ldap_aliases.server_hots",
     "did you mean server_host?"),
    ("[mailboxes.Sent]\nspecial_uses = \"\\\\Sent\"\n", "mailboxes.Sent.special_uses", "did you mean special_use?"),
    ("[protocol]\nimap = true\n", "protocol", "did you mean protocols?"),
    ("[firewall]\nmanaged = false\n", "firewall.managed", "did you mean manage?"),
    ("[dovecot]\nenable = false\n", "dovecot.enable", "did you mean enabled?"),
    ("[postfix]\nzzz = 1\n", "postfix.zzz", "not one of the keys of [postfix]"),
])
def test_unknown_keys_are_warned_with_the_nearest_known_key(toml, key, fragment):
    a, problems = A.parse(SERVER + toml)
    warnings = problems_at(problems, key, "warning")
    assert warnings and fragment in warnings[0] and "unknown key" in warnings[0], problems
    assert not [p for p in problems if p.severity == "error"]
    assert a.server.hostname == "mail.example.com"  # the file still loads


# --- the command line ---------------------------------------------------------------------------------

def _run_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "mailwizard", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_fifo_as_answers_file_exits_2_at_once(tmp_path):
    fifo = tmp_path / "answers.toml"
    os.mkfifo(fifo)
    started = time.monotonic()
    out = _run_cli("--platform", "debian12", "--answers", str(fifo), "--unattended", "--dry-run", timeout=30)
    assert out.returncode == 2, out.stderr
    assert "--answers" in out.stderr and "FIFO" in out.stderr and str(fifo) in out.stderr
    assert time.monotonic() - started < 30


def test_a_fifo_as_tls_key_exits_2_naming_the_key(tmp_path):
    fifo = tmp_path / "server.key"
    os.mkfifo(fifo)
    _key, cert = cached_cert("mail.example.com")
    (tmp_path / "server.crt").write_bytes(cert)
    data = tomllib.loads((ANSWERS_DIR / "pam.toml").read_text())
    data["tls"].update(cert=str(tmp_path / "server.crt"), key=str(fifo))
    del data["tls"]["ca"]
    answers = tmp_path / "a.toml"
    answers.write_text(tomli_w.dumps(data))
    out = _run_cli("--answers", str(answers), "--unattended", "--dry-run", timeout=60)
    assert out.returncode == 2, (out.stdout[-2000:], out.stderr)
    assert "tls.key" in out.stderr and "FIFO" in out.stderr, out.stderr


def test_platform_runs_leave_no_temporary_directory(tmp_path, monkeypatch):
    import tempfile

    from mailwizard import cli

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for extra in ([], ["--json"]):
        cli.main(["--platform", "rhel10", "--answers", str(ANSWERS_DIR / "pam.toml"), "--unattended",
                  "--dry-run", *extra])
    cli.main(["--platform", "rhel10", "--answers", str(tmp_path / "missing.toml"), "--unattended"])
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_a_lone_self_signed_certificate_left_by_a_killed_run_may_be_replaced(tmp_path):
    """SelfSignedCert writes the certificate first: a run killed before the key leaves only that, which a
    resumed run replaces; a lone key (anybody's) is never overwritten (test above)."""
    def edit(a, host):
        a.tls.self_signed = True
        _, cert = cached_cert(a.server.hostname)
        host.real(a.tls.cert).write_bytes(cert)
        host.real(a.tls.key).unlink()

    session, problems = session_problems(tmp_path, edit=edit)
    assert not [p for p in problems if p.key.startswith("tls.") and p.severity == "error"], problems
    change = next(c for c in session.plan().changes if c.kind == "self-signed")
    assert change.noop is None


def test_host_read_refuses_a_fifo_instead_of_blocking(tmp_path):
    from mailwizard.host import Host

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "d").mkdir()
    host = Host(tmp_path)
    with pytest.raises(safe_read.UnsafeFile, match="FIFO"):
        host.read("/fifo")
    assert host.read("/d") is None and host.read("/absent") is None


def test_a_table_key_written_before_any_table_names_its_table():
    _, problems = A.parse("submision = true\n" + SERVER)
    assert problems_at(problems, "submision", "warning") == ["unknown key, ignored; did you mean submission in "
                                                             "[postfix]?"]
    _, problems = A.parse("qqqq = 1\n" + SERVER)
    assert problems_at(problems, "qqqq", "warning") == ["unknown key, ignored (not one of the keys of the "
                                                        "answers file)"]


def test_unknown_key_warnings_reach_the_screens_as_they_are():
    from mailwizard.wizard import from_answers_file

    _, problems = A.parse(SERVER + "[postfix]\nsubmision = true\n")
    shown = from_answers_file(problems)
    assert [(p.key, p.message) for p in shown] == [("postfix.submision", "unknown key, ignored; did you mean "
                                                    "submission?")]


@pytest.mark.parametrize("alias", ["$", "info", "postmaster"])
def test_a_bare_alias_names_no_alias_domain(alias):
    # found by the extended fuzzing: alias "$" put `virtual_alias_domains = $` into main.cf (postconf: fatal)
    from mailwizard.steps.postfix_aliases import alias_domains

    a, _ = A.parse((ANSWERS_DIR / "full.toml").read_text())
    a.postfix.virtual_alias_source = "file"
    a.postfix.virtual_aliases = {alias: "bob@example.com"}
    assert alias not in alias_domains(a) and "$" not in " ".join(alias_domains(a))


@pytest.mark.parametrize("content, refused", [
    (None, False), (b'[server]\nhostname = "server2.example.com"\n[replication]\nenabled = true\n', False),
    (b"root:x:0:0:root:/root:/bin/bash\n", True), ("fifo", True),
])
def test_the_partner_answers_never_overwrite_a_foreign_file(tmp_path, content, refused):
    def edit(a, host):
        a.replication.partner_answers = "/root/partner.toml"
        host.makedirs("/root")
        host.real("/root/doveadm.pass").write_bytes(b"s3cret\n")
        os.chmod(host.real("/root/doveadm.pass"), 0o600)
        if content == "fifo":
            os.mkfifo(host.real("/root/partner.toml"))
        elif content is not None:
            host.real("/root/partner.toml").write_bytes(content)

    _, problems = session_problems(tmp_path, name="full.toml", edit=edit)
    errors = problems_at(problems, "replication.partner_answers", "error")
    assert bool(errors) == refused, problems


# --- found by the hostile-input matrix (test_fuzz_answers.py, issue 13) -------------------------------

@pytest.mark.parametrize("path", ["/var/lib/mailwizard/answers.toml", "/var/lib/mailwizard/backups/x.toml",
                                  "/proc/self/environ", "/dev/null", "/dev/shm/partner.toml", "/sys/x"])
def test_the_partner_answers_go_nowhere_the_system_or_the_journal_owns(tmp_path, path):
    # found: /var/lib/mailwizard/answers.toml (an answers file with [replication]: "ours") would be overwritten,
    # and /dev/null on a real host replaced by a regular file
    def edit(a, host):
        a.replication.partner_answers = path
        host.makedirs("/root")
        host.real("/root/doveadm.pass").write_bytes(b"s3cret\n")
        os.chmod(host.real("/root/doveadm.pass"), 0o600)

    _, problems = session_problems(tmp_path, name="full.toml", edit=edit)
    errors = problems_at(problems, "replication.partner_answers", "error")
    assert errors and ("is under /" in errors[0] or "mailwizard's own state directory" in errors[0]), problems


def test_the_default_partner_answers_beside_the_journal_are_still_fine(tmp_path):
    def edit(a, host):
        a.replication.partner_answers = "/var/lib/mailwizard/partner.toml"
        host.makedirs("/root")
        host.real("/root/doveadm.pass").write_bytes(b"s3cret\n")
        os.chmod(host.real("/root/doveadm.pass"), 0o600)

    _, problems = session_problems(tmp_path, name="full.toml", edit=edit)
    assert problems_at(problems, "replication.partner_answers", "error") == []


@pytest.mark.parametrize("path, fragment", [
    ("/dev/null", "is under /dev"), ("/proc/1/x", "is under /proc"), ("//dev//null", "is under /dev"),
    ("/var/lib/mailwizard/answers.toml", "mailwizard's own state directory"), ("/root/fifo", "FIFO"),
    ("/root/dir", "is a directory"), ("/root/link-to-dir", "is a directory"),
])
def test_a_saved_copy_of_the_answers_never_replaces_a_device_a_fifo_or_the_journal(tmp_path, path, fragment):
    # found: save_answers_copy("/dev/null") renamed a regular file over the device (lstat: not a directory)
    session = fake_session(tmp_path, "debian12", "pam.toml")
    host = session.host
    host.makedirs("/root/dir")
    os.mkfifo(host.real("/root/fifo"))
    os.symlink(host.real("/root/dir"), host.real("/root/link-to-dir"))
    host.makedirs("/dev")
    os.symlink("/dev/null", host.real("/dev/null"))  # the machine's own device, seen through the fake root
    host.makedirs("/var/lib/mailwizard")
    before = sorted(p.name for p in host.real("/root").iterdir())
    msg = session.save_answers_copy(path)
    assert msg and fragment in msg, msg
    assert sorted(p.name for p in host.real("/root").iterdir()) == before
    assert os.path.islink(host.real("/dev/null"))
    assert session.save_answers_copy("/root//copy.toml") is None and host.real("/root/copy.toml").is_file()


@pytest.mark.parametrize("key, name, content, fragment", [
    ("tls.ca", "full.toml", b"root:x:0:0:root:/root:/bin/bash\n", "is not a PEM file of CA certificate"),
    ("tls.dh", "pam.toml", b"just text\n", "is not a PEM file of DH parameters"),
    ("auth.ldap.tls_ca_cert_file", "ldap-search.toml", b"secret\n", "is not a PEM file of CA certificate"),
    ("auth.sql.ssl_ca", "sql.toml", b"\x30\x82\x01\x0a", "is not a PEM file of CA certificate"),
    ("auth.ldap.tls_ca_cert_file", "ldap-search.toml", "dangling", "does not exist"),
    ("auth.sql.ssl_ca", "sql.toml", "dangling", "does not exist"),
])
def test_a_ca_or_dh_file_that_is_none_is_refused_at_its_key(tmp_path, key, name, content, fragment):
    # found: a CA file holding /etc/passwd, or a dangling link as the LDAP/SQL CA, was accepted
    path = "/etc/pki/tls/certs/given.pem"

    def edit(a, host):
        _set(a, key, path)
        host.makedirs("/etc/pki/tls/certs")
        if content == "dangling":
            os.symlink("/etc/pki/tls/certs/gone.pem", host.real(path))
        else:
            host.real(path).write_bytes(content)
        for secret in ("/root/dovecot-ldap.pass", "/root/dovecot-sql.pass"):
            host.makedirs("/root")
            host.real(secret).write_bytes(b"s3cret\n")
            os.chmod(host.real(secret), 0o600)

    _, problems = session_problems(tmp_path, name=name, edit=edit)
    assert any(fragment in m for m in problems_at(problems, key, "error")), problems


@pytest.mark.parametrize("name, fmt, fragment", [
    ("..", "sdbox", "level . or .."), ("a/./b", "sdbox", "level . or .."), ("a//b", "sdbox", "empty level"),
    ("/abs", "sdbox", "starts with the hierarchy separator"), ("~x", "sdbox", "starts with ~"),
    ("x" * 256, "sdbox", "too long"), ("é" * 120, "sdbox", "too long"), (".Sent", "maildir", "separator ."),
    ("a..b", "maildir", "empty level"), ("Sent/x", "maildir", "contains /"), ("x" * 255, "maildir", "too long"),
    ("Se\u200bnt", "sdbox", "U+200B ZERO WIDTH SPACE"), ("\ufeffSent", "sdbox", "U+FEFF"),
    ("Se\u00adnt", "sdbox", "U+00AD SOFT HYPHEN"), ("Se\u2060nt", "sdbox", "U+2060 WORD JOINER"),
])
def test_mailbox_names_dovecot_refuses_are_refused_at_the_name(name, fmt, fragment):
    # the rules are Dovecot's (doveadm mailbox create on 2.3.19); invisible characters make two names look alike
    from mailwizard.steps.mailboxes import validate

    data = tomllib.loads((ANSWERS_DIR / "full.toml").read_text())
    data["mailbox"]["format"] = fmt
    data["mailboxes"] = {name: {"auto": "subscribe"}}
    a, problems = A.parse(tomli_w.dumps(data))
    problems += A.validate(a) + validate(a, None)  # type: ignore[arg-type]
    assert any(fragment in p.message for p in problems if p.key.startswith("mailboxes")), problems


@pytest.mark.parametrize("name, fmt", [("Sent", "sdbox"), ("a.b", "sdbox"), ("Sent/Old", "sdbox"), ("x" * 255, "sdbox"),
                                       ("Séñt", "sdbox"), ("\U0001f642", "maildir"), ("a.b", "maildir"),
                                       ("x" * 254, "maildir"), ("Se'nt", "maildir")])
def test_mailbox_names_dovecot_accepts_are_accepted(name, fmt):
    from mailwizard.steps.mailboxes import dovecot_name_problem

    assert dovecot_name_problem(name, fmt) is None


@pytest.mark.parametrize("alias, fragment", [
    (" info@example.com", "spaces at either end"), ("#info@example.com", "starts with #"),
    ("info@", "no domain after @"), ("info\u200b@example.com", "U+200B"),
])
def test_alias_names_that_would_break_the_map_are_refused(alias, fragment):
    # found: " @example.com" became a catch-all in the answers but a continuation line in the map file;
    # "#x@example.com" a comment; "info@" an alias that matches nothing
    data = tomllib.loads((ANSWERS_DIR / "full.toml").read_text())
    data["postfix"]["virtual_alias_source"] = "file"
    data["postfix"]["virtual_aliases"] = {alias: "bob@example.com"}
    a, problems = A.parse(tomli_w.dumps(data))
    problems += A.validate(a)
    assert any(fragment in p.message for p in problems if p.key.startswith("postfix.virtual_aliases")), problems


@pytest.mark.parametrize("key, value, fragment", [
    ("postfix.relayhost", "[192.0.2.01]", "neither an IP address nor a host name"),
    ("postfix.relayhost", "0x7f.1", "neither an IP address nor a host name"),
    ("postfix.relayhost", "[127.1]:25", "neither an IP address nor a host name"),
    ("postfix.relayhost", "[0.0.0.0]", "unspecified"),
    ("postfix.relayhost", "[255.255.255.255]", "broadcast"),
    ("postfix.mynetworks", ["[::1"], "one pair of brackets"),
    ("postfix.mynetworks", ["[[::1]]/128"], "one pair of brackets"),
    ("postfix.inet_interfaces", "[[::1]]", "not an address of this host"),
    ("postfix.inet_interfaces", "[::1", "not an address of this host"),
    ("dns.addresses", ["::ffff:192.0.2.1"], "write it as 192.0.2.1"),
    ("dns.addresses", ["0.0.0.0"], "unspecified"), ("dns.addresses", ["::"], "unspecified"),
    ("dns.addresses", ["224.0.0.1"], "multicast"), ("dns.addresses", ["127.0.0.1"], "loopback"),
])
def test_addresses_that_name_no_host_are_refused(key, value, fragment):
    data = tomllib.loads((ANSWERS_DIR / "full.toml").read_text())
    section, name = key.split(".")
    if key == "postfix.relayhost":
        data["postfix"]["mode"] = "null-client"
    data.setdefault(section, {})[name] = value
    a, problems = A.parse(tomli_w.dumps(data))
    assert any(fragment in m for m in problems_at(problems + A.validate(a), key, "error")), A.validate(a)


@pytest.mark.parametrize("key, value, fragment", [
    ("lmtp.allow_from", ["0.0.0.0/0"], "whole internet"), ("lmtp.allow_from", ["::/0"], "whole internet"),
    ("auth.sasl_allow_from", ["::ffff:192.0.2.1"], "write it as 192.0.2.1"),
    ("replication.partner_addresses", ["0.0.0.0"], "unspecified"),
    ("replication.partner_addresses", ["::"], "unspecified"),
    ("replication.partner", "0.0.0.0", "unspecified"), ("postfix.lmtp_host", "192.0.2.01", "neither"),
    ("postfix.sasl_host", "::ffff:192.0.2.1", "write it as 192.0.2.1"),
])
def test_firewall_sources_and_peers_that_name_no_host_are_refused(tmp_path, key, value, fragment):
    # found: "::/0" in allow_from made a rich rule admitting everyone; "::ffff:192.0.2.1" one admitting no one
    def edit(a, host):
        _set(a, key, value)
        a.auth.sasl_listener = "inet"
        a.lmtp.listener = "inet"
        a.auth.sasl_port = 12346
        host.makedirs("/root")
        host.real("/root/doveadm.pass").write_bytes(b"s3cret\n")
        os.chmod(host.real("/root/doveadm.pass"), 0o600)

    _, problems = session_problems(tmp_path, name="full.toml", edit=edit)
    assert any(fragment in m for m in problems_at(problems, key, "error")), problems


@pytest.mark.parametrize("name, key, value, fragment", [
    ("sql.toml", "auth.sql.host", "0x7f.1", "neither an IP address"),
    ("sql.toml", "auth.sql.host", "[::1]", "without brackets"), ("sql.toml", "auth.sql.host", "1::2::3", "not an IPv6"),
    ("sql.toml", "auth.sql.host", "0.0.0.0", "unspecified"),
    ("ldap-search.toml", "auth.ldap.uris", ["ldaps://0.0.0.0"], "unspecified"),
    ("ldap-search.toml", "auth.ldap.uris", ["ldaps://[1::2::3]"], "not an IPv6 address"),
    ("ldap-search.toml", "auth.ldap.uris", ["ldaps://192.0.2.01"], "neither an IP address"),
    ("full.toml", "postfix.inet_interfaces", "::ffff:192.0.2.1", "write it as 192.0.2.1"),
    ("pam.toml", "mailbox.root", "/srv/" + "x" * 300, "too long for a Linux file system"),
    ("pam.toml", "tls.cert", "/etc/" + "x" * 256 + ".crt", "too long for a Linux file system"),
])
def test_hosts_and_paths_found_by_the_matrix(tmp_path, name, key, value, fragment):
    # found by test_fuzz_answers' matrix: these were accepted; the long mail root raised OSError (ENAMETOOLONG)
    def edit(a, host):
        _set(a, key, value)
        for secret in ("/root/dovecot-ldap.pass", "/root/dovecot-sql.pass"):
            host.makedirs("/root")
            host.real(secret).write_bytes(b"s3cret\n")
            os.chmod(host.real(secret), 0o600)

    _, problems = session_problems(tmp_path, name=name, edit=edit)
    assert any(fragment in m for m in problems_at(problems, key, "error")), problems


def test_a_missing_test_password_file_is_a_warning_at_its_key(tmp_path):
    def edit(a, host):
        a.auth.test_user, a.auth.test_password_file = "alice", "/root/alice.pass"

    _, problems = session_problems(tmp_path, edit=edit)
    assert any("does not exist" in m for m in problems_at(problems, "auth.test_password_file", "warning")), problems


# --- found by the form-field matrix (tests/tui/test_tui_fuzz.py, issue 13) ------------------------------------

def test_self_signed_never_replaces_a_dangling_link_at_the_certificate(tmp_path):
    # found: a certbot-style live/ link whose archive/ is gone was silently replaced by the self-signed file
    def edit(a, host):
        a.tls.self_signed = True
        host.real(a.tls.cert).unlink()
        os.symlink("/etc/letsencrypt/archive/cert1.pem", host.real(a.tls.cert))

    _, problems = session_problems(tmp_path, edit=edit)
    assert any("is a symbolic link to /etc/letsencrypt/archive/cert1.pem, which does not exist" in m
               for m in problems_at(problems, "tls.cert", "error")), problems


@pytest.mark.parametrize("ca, refused", [("//etc", True), ("/etc/pki/dovecot/certs/absent.crt", False)])
def test_a_ca_beside_a_self_signed_certificate_is_still_checked_when_it_is_there(tmp_path, ca, refused):
    # found: with self_signed = true the CA was not checked at all; //etc became ssl_ca = </etc
    def edit(a, host):
        a.tls.self_signed = True
        a.tls.ca = ca

    _, problems = session_problems(tmp_path, edit=edit)
    assert bool(problems_at(problems, "tls.ca", "error")) == refused, problems
