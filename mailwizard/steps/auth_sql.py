r"""A MariaDB database as Dovecot's authentication backend (guide 1.3.4, steps 1 and 3-5).

Step 1 (the dovecot-mysql package) is the install step's: features() adds
"sql" and the platform profile names the package. steps/auth.py switches the
`!include` lines (step 2) and calls this module for backend "sql":

- step 3: `override_fields = uid=VMAIL gid=VMAIL home=ROOT/%n/` in the userdb
  block of conf.d/auth-sql.conf.ext;
- step 4: /etc/dovecot/dovecot-sql.conf.ext, written whole from
  templates/dovecot-sql.conf.ext.tmpl: `driver = mysql`, `connect = host=...
  dbname=... user=... password=... ssl_ca=...`, `default_pass_scheme` and the
  three queries;
- step 5: that file 0600 root:root (created so from the start).

Quoting the password. Dovecot 2.3's MySQL driver splits the connect string at
every space and has no quoting at all (src/lib-sql/driver-mysql.c,
driver_mysql_parse_connect_string: t_strsplit_spaces(connect_string, " ");
the shipped dovecot-sql.conf.ext says "currently you can't use spaces in
parameters"); `password="a b"` is read as `"a` followed by a broken `b"`.
Quotes, `#`, `%`, `$`, `=` and backslashes are fine inside a value, and the
whole connect line is written with the args-file quoting of
auth_ldap.args_value(). A password with whitespace goes instead into a
MariaDB option file that the connect string names with `option_file=`; the
client library reads it with its own quoting (a value in double quotes, `\\`,
`\"`, `\'` escaped: libmariadb ma_default.c). That file is 0640 root:dovecot,
because the auth process, running as dovecot, connects too (to let the server
escape user names) and reads it only then; the auth worker runs as root.
"""

from __future__ import annotations

import re

from mailwizard.answers import Answers, Problem, SqlAuth, address_problem, check_path, ip_or_none
from mailwizard.host import Host
from mailwizard.plan import Change, Check, FileAttrs, PlanContext, RemoveFile, WriteFile
from mailwizard.platform import Profile
from mailwizard.steps import not_checkable
from mailwizard.steps.auth_ldap import (
    USER_VARIABLE,
    Unwritable,
    args_value,
    fill_template,
    override_check,
    secret_problems,
    typed_or_file,
    userdb_override,
)
from mailwizard.steps.tls import named_file_problem

ARGS_NAME = "dovecot-sql.conf.ext"
OPTION_FILE_NAME = "dovecot-sql-client.cnf"
# The auth process (user dovecot, Dovecot's default_internal_user) connects too: it asks the
# server to escape the user name for the queries. It reads the option file when it connects,
# after dropping root, so that one file is 0640 root:dovecot (never readable by others).
OPTION_FILE_GROUP = "dovecot"
AUTH_CONF = "conf.d/auth-sql.conf.ext"

_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[?[0-9A-Fa-f:.]+\]?|/[A-Za-z0-9._/-]+)$")
_WORD = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
_SCHEME = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")


def args_path(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/{ARGS_NAME}"


def option_file_path(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/{OPTION_FILE_NAME}"


def auth_conf_path(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/{AUTH_CONF}"


def password(sql: SqlAuth, read) -> tuple[str | None, str | None]:
    """The database password: typed on the screen, else from password_file."""
    return typed_or_file(sql.password, sql.password_file, read)


def needs_option_file(secret: str) -> bool:
    """True when the password cannot be a word of Dovecot's space-split connect string."""
    return any(ch.isspace() for ch in secret)


def option_value(secret: str) -> str:
    """`secret` as a double-quoted value of a MariaDB/MySQL option file."""
    escaped = secret.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return f'"{escaped}"'


def connect_string(sql: SqlAuth, secret: str | None, option_file: str) -> str:
    """The connect value (before args-file quoting); `secret` None writes a placeholder."""
    words = [f"host={sql.host}"]
    if sql.port != 3306:
        words.append(f"port={sql.port}")
    words += [f"dbname={sql.dbname}", f"user={sql.user}"]
    if secret is None:
        words.append(f"password=(read-from-{sql.password_file or 'the-screen'}-when-applied)")
    elif needs_option_file(secret):
        words.append(f"option_file={option_file}")
    else:
        words.append(f"password={secret}")
    if sql.ssl_ca:
        words.append(f"ssl_ca={sql.ssl_ca}")
    return " ".join(words)


def _address_problem(host: str) -> str | None:
    """Why a host written as an address names no MariaDB server: 1::2::3, [::1] (MariaDB takes IPv6 without
    brackets), 192.0.2.01, 0x7f.1, 0.0.0.0; None for host names and socket paths."""
    if host.startswith("/"):
        return None
    if (":" in host or "[" in host) and (host.startswith("[") or ip_or_none(host) is None):
        return f"{host!r} is not an IPv6 address (MariaDB takes it without brackets, e.g. 2001:db8::5)"
    return address_problem(host)


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    sql = answers.auth.sql
    problems: list[Problem] = []

    def bad(key: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(f"auth.sql.{key}", message, severity))

    if not sql.host:
        bad("host", "is empty: give the MariaDB server's host name, e.g. mariadb.example.com")
    elif not _HOST.match(sql.host):
        bad("host", f"{sql.host!r} is not a host name, an IP address or a socket path")
    elif msg := _address_problem(sql.host):
        bad("host", msg)
    if not 0 < sql.port < 65536:
        bad("port", f"{sql.port} is not a TCP port (1-65535; MariaDB's is 3306)")
    for key, what in (("dbname", "database name, e.g. dovecotDB"), ("user", "database user, e.g. dovecot")):
        value = getattr(sql, key)
        if not value:
            bad(key, f"is empty: give the {what}")
        elif not _WORD.match(value):
            bad(key, f"{value!r} contains whitespace, which Dovecot's connect string cannot hold")
    if sql.ssl_ca:
        if msg := check_path(sql.ssl_ca, "CA certificate of the MariaDB server"):
            bad("ssl_ca", msg)
        elif found := named_file_problem(ctx, sql.ssl_ca, "CA certificate", "copy the CA certificate that "
                                         "issued the MariaDB server's certificate there"):
            bad("ssl_ca", *found)
    elif not sql.host.startswith("/") and sql.host not in ("localhost", "127.0.0.1", "::1"):
        bad("ssl_ca", "is empty: passwords would cross the network unencrypted; give the CA "
            "certificate of the MariaDB server (the guide uses /etc/pki/tls/certs/ca.crt)", "warning")
    if sql.default_pass_scheme and not _SCHEME.match(sql.default_pass_scheme):
        bad("default_pass_scheme", f"{sql.default_pass_scheme!r} is not a password scheme name "
            "such as SHA512-CRYPT")
    for key in ("user_query", "password_query", "iterate_query"):
        query = getattr(sql, key)
        if not query.strip():
            if key == "iterate_query":
                bad(key, "is empty: `doveadm user '*'` (and replication) cannot list the users",
                    "warning")
            else:
                bad(key, "is empty: the guide's query is "
                    + repr(getattr(SqlAuth(), key)))
            continue
        try:
            args_value(query)
        except Unwritable as exc:
            bad(key, str(exc))
            continue
        if key != "iterate_query" and not USER_VARIABLE.search(query):
            bad(key, "does not use the user name: compare it with '%u', e.g. WHERE username='%u'")
    problems += secret_problems("auth.sql", "password", sql.password, "password_file", sql.password_file,
                                f"the database user {sql.user}".rstrip(), "/root/dovecot-sql.pass",
                                "MariaDB", ctx)
    return problems


def render(answers: Answers, secret: str | None, profile: Profile) -> str:
    sql = answers.auth.sql
    values = {
        "connect": args_value(connect_string(sql, secret, option_file_path(profile))),
        "default_pass_scheme": f"default_pass_scheme = {args_value(sql.default_pass_scheme)}"
        if sql.default_pass_scheme else "",
        "user_query": args_value(sql.user_query),
        "password_query": args_value(sql.password_query),
        "iterate_query": f"iterate_query = {args_value(sql.iterate_query)}" if sql.iterate_query.strip() else "",
    }
    return fill_template("dovecot-sql.conf.ext.tmpl", values)


def render_option_file(secret: str) -> str:
    return fill_template("dovecot-sql-client.cnf.tmpl", {"password": option_value(secret)})


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    profile, sql = ctx.profile, answers.auth.sql
    changes: list[Change] = []
    changes.append(userdb_override(ctx, auth_conf_path(profile), answers, "SQL"))
    if any(p.severity == "error" for p in validate(answers, ctx)):
        return changes  # the problems are shown; nothing is written from answers that cannot work
    secret, _error = password(sql, ctx.read)
    if secret is None and not ctx.offline:
        return changes
    if secret is not None and needs_option_file(secret):
        opt_path = option_file_path(profile)
        opt = render_option_file(secret).encode()
        changes.append(WriteFile(
            opt_path, opt, mode=0o640, owner="root", group=OPTION_FILE_GROUP, secret=True, service="dovecot",
            summary="the database password (it contains whitespace, which the connect string cannot hold)",
            noop_reason=f"{opt_path} already holds the database password",
            transform=lambda _installed: opt))
    elif secret is not None and ctx.exists(option_file_path(profile)):
        changes.append(RemoveFile(option_file_path(profile), "the password is in the connect string now",
                                      secret=True, service="dovecot"))
    path = args_path(profile)
    content = render(answers, secret, profile).encode()
    in_file = secret is not None and not needs_option_file(secret)
    changes.append(WriteFile(
        path, content, mode=0o600, owner="root", group="root", secret=in_file, service="dovecot",
        summary=f"driver mysql, {sql.user}@{sql.host}/{sql.dbname}"
                + (", TLS with " + sql.ssl_ca if sql.ssl_ca else ", no TLS"),
        noop_reason=f"{path} already holds these SQL settings",
        transform=lambda _installed: content))
    changes.append(FileAttrs(path, 0o600, "root", "root", service="dovecot"))
    return changes


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    from mailwizard import backends

    sql = answers.auth.sql
    checks = [override_check(host, auth_conf_path(profile), answers, "SQL")]  # the files' modes: steps/files.py
    if not host.can_probe_network:
        return checks + [not_checkable("auth", "MariaDB server answers the queries")]
    secret, error = password(sql, host.read)
    if secret is None:
        checks.append(Check("auth", "MariaDB server answers the queries", "fail", error or "",
                            "give the database password"))
        return checks
    result = backends.test_sql(sql, secret)
    checks.append(Check("auth", "MariaDB server answers the queries", "pass" if result.ok else "fail",
                        "; ".join(result.lines)[-600:],
                        "" if result.ok else "check the host, the CA certificate, the account and the queries"))
    return checks
