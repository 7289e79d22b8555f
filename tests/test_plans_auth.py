"""LDAP and MariaDB authentication (guide 1.2.4, 1.3.4): plans, quoting of secrets, Test connection.

Plans are made for RHEL 10 on fake hosts, from the reference answers files;
the quoting of passwords is checked against the real parsers (doveconf for
Dovecot's configuration syntax, my_print_defaults for MariaDB option files),
and no secret ever reaches the plan's JSON or text.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mailwizard import backends
from mailwizard.answers import LdapAuth, SqlAuth
from mailwizard.steps import auth_ldap, auth_sql
from support import fake_session

LDAP_CONF = "/etc/dovecot/dovecot-ldap.conf.ext"
SQL_CONF = "/etc/dovecot/dovecot-sql.conf.ext"
OPTION_FILE = "/etc/dovecot/dovecot-sql-client.cnf"
DNPASS = "Xyzzy-dnpass 'q' \"dq\" #1 50% $ENV:HOME \\ end"
SQLPASS = "Plugh-sqlpass'\"#1%$x\\"
SQLPASS_SPACES = "Plugh with 'spaces' and \"quotes\" #2 %u"
TRICKY = ["it's", 'say "hi"', "with space", "hash#tag", "#lead", "100%", "%u%n%{user}", "$ENV:HOME",
          "$HOME", "back\\slash", "trail\\", "\\lead", " lead and trail ", "'single'", '"double"',
          "<file", "a=b", "ünïcödé", "plain-Pass_123", "tab-free; semi;colon", "}{", "\\\"\\'"]


def put(session, path: str, data: bytes, mode: int = 0o600) -> None:
    real = session.host.real(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data)
    real.chmod(mode)


def session_for(tmp_path, name: str, secret: str | None = None, platform: str = "rhel10", **kw):
    session = fake_session(tmp_path, platform, name, **kw)
    if name.startswith("ldap") and secret is not None:
        put(session, session.answers.auth.ldap.dnpass_file, secret.encode() + b"\n")
    if name == "sql.toml":
        put(session, session.answers.auth.sql.ssl_ca, b"-----BEGIN CERTIFICATE-----\n", 0o644)
        if secret is not None:
            put(session, session.answers.auth.sql.password_file, secret.encode() + b"\n")
    return session


def change(plan, key: str):
    return next(c for c in plan.changes if c.key() == key)


def lines(data: bytes) -> list[str]:
    return [line for line in data.decode().splitlines() if line and not line.startswith("#")]


def assert_no_secret(session, plan, secret: str) -> None:
    dumped = json.dumps(plan.to_json()) + plan.render_text()
    for fragment in (secret, secret.split()[0]):
        assert fragment not in dumped
    assert not any(secret in str(p) for p in session.problems())


# --- LDAP ----------------------------------------------------------------

def test_rhel10_ldap_dn_template_file_is_the_guides(tmp_path):
    session = session_for(tmp_path, "ldap.toml")
    assert [p for p in session.problems() if p.key.startswith("auth")] == []
    plan = session.plan()
    args = change(plan, f"file:{LDAP_CONF}")
    assert (args.mode, args.owner, args.group, args.secret) == (0o600, "root", "root", False)
    assert lines(args.content) == [
        "auth_bind_userdn = cn=%n,ou=People,dc=example,dc=com",
        "auth_bind = yes",
        "uris = ldaps://LDAP-srv.example.com",
        "tls_require_cert = hard",
        "base = ou=People,dc=example,dc=com",
        "scope = onelevel",
    ]
    # step 4: the guide's chown/chmod, already satisfied because the file is created so
    attrs = change(plan, f"attrs:{LDAP_CONF}")
    assert attrs.commands() == [["chown", "root:root", LDAP_CONF], ["chmod", "600", LDAP_CONF]]
    assert attrs.noop and "600 root:root" in attrs.noop
    # step 2: override_fields in the userdb block of auth-ldap.conf.ext
    userdb = change(plan, "file:/etc/dovecot/conf.d/auth-ldap.conf.ext")
    added = [line[1:].strip() for line in userdb.diff().splitlines()
             if line.startswith("+") and not line.startswith("++")]
    assert added == ["override_fields = uid=vmail gid=vmail home=/var/mail/%n/"]
    from mailwizard.dovecot_conf import get_setting
    assert get_setting(userdb.content.decode(), "override_fields", ("userdb",)) == \
        "uid=vmail gid=vmail home=/var/mail/%n/"
    assert get_setting(userdb.content.decode(), "override_fields", ("passdb",)) is None
    # the DN template file holds no secret: its diff is shown
    assert "+auth_bind_userdn = cn=%n,ou=People,dc=example,dc=com" in args.diff()


def test_rhel10_ldap_dynamic_lookup_with_starttls_and_a_secret(tmp_path):
    session = session_for(tmp_path, "ldap-search.toml", DNPASS)
    assert [p for p in session.problems() if p.key.startswith("auth")] == []
    plan = session.plan()
    args = change(plan, f"file:{LDAP_CONF}")
    assert (args.mode, args.owner, args.group, args.secret) == (0o600, "root", "root", True)
    assert lines(args.content) == [
        "dn = cn=dovecot_LDAP,dc=example,dc=com",
        'dnpass = "Xyzzy-dnpass \'q\' \\"dq\\" #1 50% $ENV:HOME \\\\ end"',
        "pass_filter = (&(objectClass=posixAccount)(uid=%n))",
        "auth_bind = yes",
        "uris = ldap://LDAP-srv.example.com",
        "tls = yes",
        "tls_require_cert = hard",
        "base = dc=example,dc=com",
        "scope = subtree",
    ]
    assert "content not shown" in args.diff()
    assert_no_secret(session, plan, DNPASS)
    assert session.apply(plan).status == "applied"
    assert DNPASS.encode() not in b"".join(p.read_bytes() for p in
                                           (tmp_path / "root/var/lib/mailwizard").rglob("*") if p.is_file()
                                           and "backups" not in p.parts)
    again = session.plan()
    assert [c.describe() for c in again.active()] == []


def test_dnpass_typed_on_the_screen_wins_and_is_never_saved(tmp_path):
    session = session_for(tmp_path, "ldap-search.toml", "from-the-file")
    session.answers.auth.ldap.dnpass = "typed secret"
    plan = session.plan()
    assert b'dnpass = typed secret\n' in change(plan, f"file:{LDAP_CONF}").content
    assert "typed secret" not in session.answers.to_toml()


def test_offline_plan_without_the_password_file_shows_a_placeholder_and_a_warning(tmp_path):
    session = fake_session(tmp_path, "rhel10", "ldap-search.toml", offline=True)
    problems = [p for p in session.problems() if p.key == "auth.ldap.dnpass_file"]
    assert [p.severity for p in problems] == ["warning"]
    assert "/root/dovecot-ldap.pass does not exist" in problems[0].message
    args = change(session.plan(), f"file:{LDAP_CONF}")
    assert b"dnpass = (read from /root/dovecot-ldap.pass when applied)" in args.content
    assert not args.secret


def test_missing_password_file_on_the_host_is_an_error_and_nothing_is_written(tmp_path):
    session = fake_session(tmp_path, "rhel10", "ldap-search.toml")
    errors = [p for p in session.errors() if p.key == "auth.ldap.dnpass_file"]
    assert len(errors) == 1 and "does not exist" in errors[0].message
    keys = [c.key() for c in session.plan().changes]
    assert f"file:{LDAP_CONF}" not in keys
    assert "file:/etc/dovecot/conf.d/auth-ldap.conf.ext" in keys


@pytest.mark.parametrize("edit, key, words", [
    ({"uris": ["ldap://LDAP-srv.example.com"], "starttls": False}, "auth.ldap.uris", "unencrypted"),
    ({"uris": ["ldaps://a.example.com", "ldap://b.example.com"]}, "auth.ldap.uris", "mixes"),
    ({"uris": ["ldaps://LDAP-srv.example.com"], "starttls": True}, "auth.ldap.starttls", "already encrypted"),
    ({"uris": ["http://LDAP-srv.example.com"]}, "auth.ldap.uris", "not an LDAP URI"),
    ({"uris": []}, "auth.ldap.uris", "is empty"),
    ({"base": "example.com"}, "auth.ldap.base", "not a distinguished name"),
    ({"scope": "base"}, "auth.ldap.scope", "onelevel"),
    ({"bind_userdn": "cn=%n,dc=example,dc=com"}, "auth.ldap.dn", "not both"),
    ({"dn": "", "bind_userdn": ""}, "auth.ldap.bind_userdn", "DN template"),
    ({"pass_filter": "uid=%n"}, "auth.ldap.pass_filter", "parentheses"),
    ({"pass_filter": "(objectClass=posixAccount)"}, "auth.ldap.pass_filter", "user name"),
    ({"tls_require_cert": "sometimes"}, "auth.ldap.tls_require_cert", "not one of"),
    ({"dnpass": "two\nlines"}, "auth.ldap.dnpass", "line break"),
    ({"dnpass_file": "", "dnpass": ""}, "auth.ldap.dnpass_file", "give the file"),
    ({"tls_ca_cert_file": "/etc/pki/missing-ca.crt"}, "auth.ldap.tls_ca_cert_file", "does not exist"),
])
def test_ldap_answers_that_cannot_work_are_refused_at_their_field(tmp_path, edit, key, words):
    session = session_for(tmp_path, "ldap-search.toml", "s3cret")
    for name, value in edit.items():
        setattr(session.answers.auth.ldap, name, value)
    errors = [p for p in session.errors() if p.key == key]
    assert errors and words in errors[0].message, session.errors()
    assert f"file:{LDAP_CONF}" not in [c.key() for c in session.plan().changes]
    assert not any("two\nlines" in str(p) for p in session.problems())


def test_a_dn_template_without_a_user_variable_is_refused(tmp_path):
    session = session_for(tmp_path, "ldap.toml")
    session.answers.auth.ldap.bind_userdn = "cn=admin,dc=example,dc=com"
    assert [p.key for p in session.errors()] == ["auth.ldap.bind_userdn"]


def test_weak_certificate_checking_is_a_warning(tmp_path):
    session = session_for(tmp_path, "ldap.toml")
    session.answers.auth.ldap.tls_require_cert = "allow"
    problems = [p for p in session.problems() if p.key == "auth.ldap.tls_require_cert"]
    assert [p.severity for p in problems] == ["warning"]


def test_ldap_password_file_read_rules(tmp_path):
    session = session_for(tmp_path, "ldap-search.toml")
    put(session, "/root/dovecot-ldap.pass", b"  spaces kept \r\n")
    args = change(session.plan(), f"file:{LDAP_CONF}")
    assert b'dnpass = "  spaces kept "\n' in args.content
    put(session, "/root/dovecot-ldap.pass", b"\n")
    assert "is empty" in next(p for p in session.errors() if p.key == "auth.ldap.dnpass_file").message
    put(session, "/root/dovecot-ldap.pass", b"one\ntwo\n")
    assert "more than one line" in session.errors()[0].message


# --- MariaDB --------------------------------------------------------------

def test_rhel10_sql_file_is_the_guides(tmp_path):
    session = session_for(tmp_path, "sql.toml", SQLPASS)
    assert [p for p in session.problems() if p.key.startswith("auth")] == []
    plan = session.plan()
    install = next(c for c in plan.changes if c.step == "install")
    assert "dovecot-mysql" in install.commands()[-1]  # step 1
    args = change(plan, f"file:{SQL_CONF}")
    assert (args.mode, args.owner, args.group, args.secret) == (0o600, "root", "root", True)
    connect = ("host=mariadb_srv.example.com dbname=dovecotDB user=dovecot "
               f"password={SQLPASS} ssl_ca=/etc/pki/tls/certs/ca.crt")
    assert lines(args.content) == [
        "driver = mysql",
        'connect = "' + connect.replace("\\", "\\\\").replace('"', '\\"') + '"',
        "default_pass_scheme = SHA512-CRYPT",
        "user_query = SELECT username FROM users WHERE username='%u';",
        "password_query = SELECT username AS user, password FROM users WHERE username='%u';",
        "iterate_query = SELECT username FROM users;",
    ]
    attrs = change(plan, f"attrs:{SQL_CONF}")
    assert attrs.commands() == [["chown", "root:root", SQL_CONF], ["chmod", "600", SQL_CONF]]
    userdb = change(plan, "file:/etc/dovecot/conf.d/auth-sql.conf.ext")
    assert "+  override_fields = uid=vmail gid=vmail home=/var/mail/%n/" in userdb.diff()
    assert OPTION_FILE not in json.dumps(plan.to_json())
    assert_no_secret(session, plan, SQLPASS)


def test_a_simple_sql_password_is_written_as_in_the_guide(tmp_path):
    session = session_for(tmp_path, "sql.toml", "dovecotPW")
    args = change(session.plan(), f"file:{SQL_CONF}")
    assert ("connect = host=mariadb_srv.example.com dbname=dovecotDB user=dovecot password=dovecotPW "
            "ssl_ca=/etc/pki/tls/certs/ca.crt") in lines(args.content)


def test_a_sql_password_with_spaces_goes_to_an_option_file(tmp_path):
    session = session_for(tmp_path, "sql.toml", SQLPASS_SPACES)
    plan = session.plan()
    args = change(plan, f"file:{SQL_CONF}")
    assert ("connect = host=mariadb_srv.example.com dbname=dovecotDB user=dovecot "
            f"option_file={OPTION_FILE} ssl_ca=/etc/pki/tls/certs/ca.crt") in lines(args.content)
    assert not args.secret and b"password=" not in args.content
    opt = change(plan, f"file:{OPTION_FILE}")
    # read by the auth process (user dovecot) too, when it connects to escape user names
    assert (opt.mode, opt.owner, opt.group, opt.secret) == (0o640, "root", "dovecot", True)
    assert lines(opt.content) == ["[client]", "password = " + auth_sql.option_value(SQLPASS_SPACES)]
    assert_no_secret(session, plan, SQLPASS_SPACES)
    assert session.apply(plan).status == "applied"
    assert session.plan().active() == []
    # back to a password without spaces: the option file (and the old password) goes away
    put(session, "/root/dovecot-sql.pass", b"nospaces\n")
    plan = session.plan()
    assert [c.describe() for c in plan.active() if c.kind == "remove"] == \
        [f"remove {OPTION_FILE}: the password is in the connect string now"]
    assert session.apply(plan).status == "applied"
    assert not session.host.exists(OPTION_FILE)
    assert b"password=nospaces" in session.host.read(SQL_CONF)


@pytest.mark.parametrize("edit, key, words", [
    ({"host": ""}, "auth.sql.host", "is empty"),
    ({"host": "bad host"}, "auth.sql.host", "not a host name"),
    ({"user": "dove cot"}, "auth.sql.user", "whitespace"),
    ({"dbname": ""}, "auth.sql.dbname", "is empty"),
    ({"port": 0}, "auth.sql.port", "not a TCP port"),
    ({"password": "line\nbreak"}, "auth.sql.password", "line break"),
    ({"password_file": "", "password": ""}, "auth.sql.password_file", "give the file"),
    ({"password_file": "/root/missing.pass"}, "auth.sql.password_file", "does not exist"),
    ({"ssl_ca": "/etc/pki/tls/certs/missing.crt"}, "auth.sql.ssl_ca", "does not exist"),
    ({"password_query": ""}, "auth.sql.password_query", "is empty"),
    ({"user_query": "SELECT username FROM users"}, "auth.sql.user_query", "user name"),
    ({"user_query": "SELECT 1\nFROM users WHERE username='%u'"}, "auth.sql.user_query", "line break"),
    ({"default_pass_scheme": "sha512 crypt"}, "auth.sql.default_pass_scheme", "scheme"),
])
def test_sql_answers_that_cannot_work_are_refused_at_their_field(tmp_path, edit, key, words):
    session = session_for(tmp_path, "sql.toml", "s3cret")
    for name, value in edit.items():
        setattr(session.answers.auth.sql, name, value)
    errors = [p for p in session.errors() if p.key == key]
    assert errors and words in errors[0].message, session.errors()
    assert f"file:{SQL_CONF}" not in [c.key() for c in session.plan().changes]


def test_sql_without_tls_is_a_warning(tmp_path):
    session = session_for(tmp_path, "sql.toml", "s3cret")
    session.answers.auth.sql.ssl_ca = ""
    problems = [p for p in session.problems() if p.key == "auth.sql.ssl_ca"]
    assert [p.severity for p in problems] == ["warning"]
    assert b"ssl_ca" not in change(session.plan(), f"file:{SQL_CONF}").content


# --- quoting, checked by the real parsers ----------------------------------

@pytest.mark.parametrize("value", TRICKY)
def test_args_values_are_read_back_literally_by_dovecot(tmp_path, value):
    """Dovecot's configuration parser gives back exactly the value args_value() wrote."""
    conf = tmp_path / "dovecot.conf"
    conf.write_text(f"ssl = no\nlogin_greeting = {auth_ldap.args_value(value)}\n", encoding="utf-8")
    out = subprocess.run(["doveconf", "-c", str(conf), "-h", "login_greeting"], capture_output=True,
                         text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent"})
    assert out.returncode == 0, out.stderr
    assert out.stdout[:-1] == value
    assert "Ambiguous" not in out.stderr
    assert auth_ldap.read_args_value(auth_ldap.args_value(value)) == value


def test_the_guides_values_stay_unquoted():
    for value in ("cn=%n,ou=People,dc=example,dc=com", "(&(objectClass=posixAccount)(uid=%n))",
                  "ldaps://LDAP-srv.example.com", "SELECT username FROM users WHERE username='%u';"):
        assert auth_ldap.args_value(value) == value


@pytest.mark.parametrize("value", ["two\nlines", "cr\r", "nul\x00", "tab\t"])
def test_control_characters_are_refused(value):
    with pytest.raises(auth_ldap.Unwritable, match="line break"):
        auth_ldap.args_value(value)


@pytest.mark.parametrize("value", TRICKY + [SQLPASS_SPACES, "ends with quote'", 'ends with dq"'])
def test_option_file_values_are_read_back_literally_by_mariadb(tmp_path, value):
    cnf = tmp_path / "client.cnf"
    cnf.write_text(auth_sql.render_option_file(value), encoding="utf-8")
    out = subprocess.run(["my_print_defaults", f"--defaults-file={cnf}", "client"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout[:-1] == f"--password={value}"


def test_connect_string_words_survive_dovecots_split():
    """The mysql driver splits the connect string at spaces: a password without whitespace is one word."""
    sql = SqlAuth(host="db.example.com", dbname="dovecotDB", user="dovecot", ssl_ca="/etc/ca.crt")
    for secret in [v for v in TRICKY if not any(ch.isspace() for ch in v)]:
        words = auth_ldap.read_args_value(auth_ldap.args_value(auth_sql.connect_string(sql, secret, "/x"))).split(" ")
        assert f"password={secret}" in words and words[-1] == "ssl_ca=/etc/ca.crt"
    assert auth_sql.needs_option_file("a b") and auth_sql.needs_option_file("a\u00a0b")


# --- Test connection, without a server -------------------------------------

def test_expand_escapes_the_user_for_the_target():
    flt, unknown = backends.expand("(&(uid=%n)(mail=%u)(dc=%Ld)(x=%{user})(%%))", "Bo*b@Ex.com",
                                   lambda v: v.replace("*", "\\2a"))
    assert flt == "(&(uid=Bo\\2ab)(mail=Bo\\2ab@Ex.com)(dc=ex.com)(x=Bo\\2ab@Ex.com)(%))"
    assert unknown == []
    _, unknown = backends.expand("uid=%{orig_user} %s", "a", str)
    assert unknown == ["%{orig_user}", "%s"]


def _closed_port() -> int:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_ldap_test_connection_reports_a_refused_connection_without_the_secret():
    port = _closed_port()
    ldap = LdapAuth(uris=[f"ldaps://127.0.0.1:{port}"], base="dc=example,dc=com",
                    dn="cn=dovecot,dc=example,dc=com")
    result = backends.test_ldap(ldap, "Sekrit-LDAP", user="alice", password="Sekrit-user", timeout=2)
    assert not result.ok
    assert f"ldaps://127.0.0.1:{port}: cannot connect: connection refused" in result.text()
    assert "Sekrit" not in result.text()


def test_sql_test_connection_reports_a_refused_connection_without_the_secret():
    port = _closed_port()
    sql = SqlAuth(host="127.0.0.1", port=port, dbname="dovecotDB", user="dovecot")
    result = backends.test_sql(sql, "Sekrit-SQL", timeout=2)
    assert not result.ok
    assert f"127.0.0.1:{port}" in result.text() and "connection refused" in result.text()
    assert "Sekrit" not in result.text()


def test_sql_test_connection_names_a_missing_ca_file():
    sql = SqlAuth(host="127.0.0.1", dbname="d", user="u", ssl_ca="/nonexistent/ca.crt")
    result = backends.test_sql(sql, "pw", timeout=2)
    assert not result.ok and "cannot read the CA certificate /nonexistent/ca.crt" in result.text()


def test_server_text_is_cleaned_of_secrets():
    report = backends._Report("hunter2")
    assert report.clean("bind failed for hunter2") == "bind failed for *****"
