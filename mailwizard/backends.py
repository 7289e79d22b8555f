"""Test connection: reach the LDAP directory or the MariaDB database the way Dovecot will.

Plain, blocking Python (no Textual): the screens run these in a thread worker,
`verify` runs them after apply, and anyone can run them from a shell::

    python3 -c 'from mailwizard import backends; ...'

Each returns a TestResult: ok, and lines that say what was tried and what came
back, with the server's own error text when it fails (wrong password, refused
connection, timeout, certificate problems). Passwords never appear in the
lines: they are not put into messages, and server or error text that would
contain one has it replaced by *****.
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailwizard.answers import LdapAuth, SqlAuth

if TYPE_CHECKING:  # ldap3 is imported when a test runs, not at start
    from ldap3 import Connection, Server

DEFAULT_SQL_USER = "test@example.com"
# Dovecot 2.3's default userdb filter: the userdb lookup after the password check
LDAP_USER_FILTER = "(&(objectClass=posixAccount)(uid=%u))"


@dataclass
class TestResult:
    ok: bool
    lines: list[str] = field(default_factory=list)

    __test__ = False  # not a pytest test class

    def text(self) -> str:
        return "\n".join(self.lines)


class _Report:
    """Collects lines; text that comes from outside (errors, server messages) is cleaned first."""

    def __init__(self, *secrets: str | None):
        self.secrets = [s for s in secrets if s]
        self.lines: list[str] = []

    def clean(self, text: str) -> str:
        """`text` with every secret this report knows replaced by *****."""
        for secret in self.secrets:
            text = text.replace(secret, "*****")
        return text

    def add(self, line: str) -> None:
        self.lines.append(line)

    def result(self, ok: bool) -> TestResult:
        return TestResult(ok, self.lines)


def _special_file(path: str) -> str | None:
    """`PATH is a FIFO (named pipe), not a regular file` (or a device, or larger than 1 MiB), else None."""
    from mailwizard.host import Host
    from mailwizard.safe_read import read_for

    return read_for(Host("/"), path)[1]


def _read_secret_file(path: str) -> str | None:
    from mailwizard.host import Host
    from mailwizard.safe_read import bounded
    from mailwizard.steps.auth_ldap import read_secret

    secret, _error = read_secret(bounded(Host("/")), path)  # a FIFO or a device is refused, never read
    return secret


# --- Dovecot's %-variables, as far as a test can simulate them -------------

_VARIABLE = re.compile(r"%(%|(L?)([und])|\{(user|username|domain)\})")


def expand(template: str, user: str, escape) -> tuple[str, list[str]]:
    """`template` with %u %n %d (%Lu...) and %{user} %{username} %{domain} replaced by
    escape(value); returns also the variables it could not simulate."""
    name, _, domain = user.partition("@")
    values = {"u": user, "n": name, "d": domain, "user": user, "username": name, "domain": domain}
    unknown: list[str] = []

    def sub(m: re.Match) -> str:
        if m.group(1) == "%":
            return "%"
        key = m.group(3) or m.group(4)
        value = values[key]
        if m.group(2):
            value = value.lower()
        return escape(value)

    out = _VARIABLE.sub(sub, template)
    for m in re.finditer(r"%(?:\{[^}]*\}|[A-Za-z])", _VARIABLE.sub("", template)):
        unknown.append(m.group(0))
    return out, unknown


def _why(exc: BaseException) -> str:
    """The useful part of a connection error, in words an administrator knows."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in low:
        return "timed out (is the server up, and the port open in its firewall?)"
    if "connection refused" in low:
        return "connection refused (nothing listens on that port)"
    if "name or service not known" in low or "nodename nor servname" in low or "no address" in low \
            or "temporary failure in name resolution" in low:
        return "the host name does not resolve (check DNS or /etc/hosts)"
    if "certificate verify failed" in low or "certificate_verify_failed" in low:
        m = re.search(r"certificate verify failed: ([^()\]'\"]+)", text, re.IGNORECASE)
        detail = m.group(1).strip() if m else "not trusted"
        return (f"certificate problem: the server's certificate is not trusted ({detail}); "
                "give the CA certificate that issued it")
    if "doesn't match" in low or "hostname mismatch" in low or "not match" in low:
        return "certificate problem: the server's certificate is for another host name"
    return text.strip()[:300] or type(exc).__name__


# --- LDAP ------------------------------------------------------------------

def _ldap_server(uri: str, ldap: LdapAuth, timeout: float) -> tuple[Server, str]:
    from ldap3 import NONE, Server, Tls

    m = re.match(r"^(ldaps?)://([^/:\[\]]+|\[[^\]]+\])(?::(\d+))?/?$", uri)
    if not m:
        raise ValueError(f"{uri!r} is not an LDAP URI")
    scheme, hostname, port = m.group(1), m.group(2).strip("[]"), m.group(3)
    validate = ssl.CERT_REQUIRED if ldap.tls_require_cert in ("hard", "demand") else (
        ssl.CERT_NONE if ldap.tls_require_cert == "never" else ssl.CERT_OPTIONAL)
    if ldap.tls_ca_cert_file and (error := _special_file(ldap.tls_ca_cert_file)):
        raise ValueError(f"tls_ca_cert_file: {error}")
    tls = Tls(validate=validate, ca_certs_file=ldap.tls_ca_cert_file or None, sni=hostname)
    return Server(hostname, port=int(port) if port else (636 if scheme == "ldaps" else 389),
                  use_ssl=scheme == "ldaps", tls=tls, get_info=NONE, connect_timeout=timeout), scheme


def _ldap_open(uri: str, ldap: LdapAuth, timeout: float, report: _Report) -> Connection | None:
    """An open (and STARTTLS-secured when asked) connection to one URI, or None."""
    from ldap3 import Connection
    from ldap3.core.exceptions import LDAPException

    try:
        server, scheme = _ldap_server(uri, ldap, timeout)
    except ValueError as exc:
        report.add(str(exc))
        return None
    conn = Connection(server, receive_timeout=timeout, raise_exceptions=False, read_only=True)
    try:
        conn.open()
        if scheme == "ldap" and ldap.starttls:
            conn.start_tls()
            how = "STARTTLS"
        else:
            how = "TLS (ldaps)" if scheme == "ldaps" else "NO encryption"
    except LDAPException as exc:
        report.add(f"{uri}: cannot connect: {report.clean(_why(exc))}")
        _close(conn)
        return None
    except OSError as exc:
        report.add(f"{uri}: cannot connect: {report.clean(_why(exc))}")
        _close(conn)
        return None
    report.add(f"{uri}: connected, {how}" + ("" if how == "NO encryption" else
                                             ", server certificate verified" if ldap.tls_require_cert
                                             in ("hard", "demand") else ", certificate NOT verified"))
    return conn


def _close(conn: Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # closing a broken connection: nothing to report
        pass


def _bind(conn: Connection, dn: str | None, password: str | None) -> tuple[bool, str]:
    """Simple bind on an open connection: (ok, what the server said)."""
    from ldap3 import ANONYMOUS, SIMPLE
    from ldap3.core.exceptions import LDAPException

    conn.authentication = SIMPLE if dn else ANONYMOUS
    conn.user, conn.password = (dn, password) if dn else (None, None)
    try:
        ok = conn.bind()
    except LDAPException as exc:
        return False, _why(exc)
    if ok:
        return True, "success"
    desc = (conn.result or {}).get("description", "") or conn.last_error or "failed"
    message = (conn.result or {}).get("message", "")
    words = {"invalidCredentials": "invalid credentials (wrong password, or no such entry)",
             "invalidDNSyntax": "invalid DN syntax",
             "unwillingToPerform": "the server is unwilling to perform it (an empty password?)",
             "confidentialityRequired": "the server requires an encrypted connection"}
    text = words.get(desc, desc)
    return False, text + (f" ({message})" if message else "")


def test_ldap(ldap: LdapAuth, dnpass: str | None = None, user: str | None = None,
              password: str | None = None, timeout: float = 5) -> TestResult:
    """Bind to the directory as Dovecot does, and look up (and log in) `user` when given.

    Dovecot's connection: the URIs in order, ldaps:// or STARTTLS, the server's
    certificate checked against tls_ca_cert_file (else the system's CA store)
    and its host name, then a bind as `dn` with `dnpass` (anonymous for a DN
    template). For a user: the DN from the template, or the one entry
    pass_filter finds; a bind as that DN with `password` when given; and the
    userdb lookup with Dovecot's default user_filter.
    """
    from ldap3 import BASE, LEVEL, SUBTREE
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn

    if ldap.lookup and dnpass is None:
        dnpass = ldap.dnpass or (_read_secret_file(ldap.dnpass_file) if ldap.dnpass_file else None)
    report = _Report(dnpass, password)
    try:
        if not ldap.uris:
            report.add("no LDAP URI given")
            return report.result(False)
        for opened in ldap.uris:
            conn = _ldap_open(opened, ldap, timeout, report)
            if conn is not None:
                break
        else:
            return report.result(False)
        try:
            if ldap.lookup and not dnpass:
                report.add(f"no password for {ldap.dn} given: type it, or give the file that holds it")
                return report.result(False)
            if ldap.lookup:
                ok, said = _bind(conn, ldap.dn, dnpass)
                report.add(f"bind as {ldap.dn}: {report.clean(said)}")
            else:
                ok, said = _bind(conn, None, None)
                report.add(f"anonymous bind (DN template: no search account): {report.clean(said)}")
            if not ok:
                return report.result(False)
            if not user:
                return report.result(True)
            scope = LEVEL if ldap.scope == "onelevel" else SUBTREE
            # the user's DN
            if ldap.lookup:
                flt, unknown = expand(ldap.pass_filter, user, escape_filter_chars)
                for var in unknown:
                    report.add(f"note: {var} in pass_filter cannot be simulated here")
                conn.search(ldap.base, flt, scope, attributes=[], size_limit=2)
                found = [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]
                if conn.result.get("description") not in ("success", "sizeLimitExceeded"):
                    report.add(f"search {flt} under {ldap.base}: {conn.result.get('description')} "
                               f"{report.clean(conn.result.get('message', ''))}".rstrip())
                    return report.result(False)
                if len(found) != 1:
                    report.add(f"search {flt} under {ldap.base} ({ldap.scope}): "
                               + ("no entry found" if not found else
                                  "more than one entry found: Dovecot needs exactly one"))
                    return report.result(False)
                user_dn = found[0]
                report.add(f"user {user}: found {user_dn}")
            else:
                user_dn, unknown = expand(ldap.bind_userdn, user, escape_rdn)
                for var in unknown:
                    report.add(f"note: {var} in bind_userdn cannot be simulated here")
                report.add(f"user {user}: DN from the template is {user_dn}")
            ok = True
            if password is not None:
                login = _ldap_open(opened, ldap, timeout, _Report(dnpass, password))
                if login is None:
                    report.add("cannot open a second connection for the user's bind")
                    return report.result(False)
                try:
                    ok, said = _bind(login, user_dn, password)
                finally:
                    _close(login)
                report.add(f"login as {user_dn}: {report.clean(said)}")
            elif not ldap.lookup:
                conn.search(user_dn, "(objectClass=*)", BASE, attributes=[])
                exists = bool([e for e in conn.response or [] if e.get("type") == "searchResEntry"])
                report.add(f"entry {user_dn}: " + ("exists" if exists else
                                                    f"not found ({conn.result.get('description')})"))
                ok = exists
            # the userdb lookup that follows a successful login
            flt, _ = expand(LDAP_USER_FILTER, user, escape_filter_chars)
            conn.search(ldap.base, flt, scope, attributes=[], size_limit=2)
            count = len([e for e in conn.response or [] if e.get("type") == "searchResEntry"])
            if count == 1:
                report.add(f"userdb lookup {flt}: found")
            else:
                who = ldap.dn if ldap.lookup else "an anonymous connection"
                report.add(f"userdb lookup {flt} under {ldap.base}: "
                           + (f"no entry found: Dovecot will say the user does not exist (may {who} "
                              "read the user's posixAccount entry?)" if count == 0 else
                              "more than one entry found: Dovecot needs exactly one"))
                ok = False
            return report.result(ok)
        finally:
            _close(conn)
    except Exception as exc:  # a test never crashes the screen; the error is the result
        report.add(f"error: {report.clean(_why(exc))}")
        return report.result(False)


# --- SQL -------------------------------------------------------------------

def _sql_errno(exc: BaseException) -> tuple[int | None, str]:
    args = exc.args
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return None, str(exc)


def test_sql(sql: SqlAuth, password: str | None = None, timeout: float = 5,
             user: str = DEFAULT_SQL_USER) -> TestResult:
    """Connect as Dovecot does (TLS verified against ssl_ca when given) and run the three queries.

    %u, %n, %d (and %{user}...) in the queries are replaced by `user`,
    escaped by the server connection's own escaping, as Dovecot does;
    the password column that comes back is never shown.
    """
    import pymysql

    if password is None:
        password = sql.password or (_read_secret_file(sql.password_file) if sql.password_file else None)
    report = _Report(password)
    try:
        args: dict[str, Any] = dict(user=sql.user, password=password or "", database=sql.dbname,
                    connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                    charset="utf8mb4")
        if sql.host.startswith("/"):
            args["unix_socket"] = sql.host
            where = sql.host
        else:
            args.update(host=sql.host, port=sql.port)
            where = f"{sql.host}:{sql.port}"
        if sql.ssl_ca:
            # as Dovecot's mysql driver: the CA from ssl_ca, and the host name checked
            if error := _special_file(sql.ssl_ca):  # a FIFO would block the TLS library's open for ever
                report.add(f"cannot read the CA certificate: {error}")
                return report.result(False)
            try:
                context = ssl.create_default_context(cafile=sql.ssl_ca)
            except (OSError, ssl.SSLError) as exc:
                report.add(f"cannot read the CA certificate {sql.ssl_ca}: {getattr(exc, 'strerror', None) or exc}")
                return report.result(False)
            context.check_hostname = not sql.host.startswith("/")
            args["ssl"] = context
        try:
            conn = pymysql.connect(**args)
        except pymysql.err.MySQLError as exc:
            code, message = _sql_errno(exc)
            message = report.clean(message)
            if code == 1045:
                why = (f"access denied for {sql.user}: wrong password, or the account may not "
                       f"connect from this host ({message})")
            elif code in (2003, 2006, 2013, None):
                why = _why(Exception(message))
            else:
                why = message
            report.add(f"connect to {where} as {sql.user}: {why}")
            return report.result(False)
        except (OSError, ssl.SSLError) as exc:
            report.add(f"connect to {where} as {sql.user}: {report.clean(_why(exc))}")
            return report.result(False)
        try:
            cipher = None
            try:
                with conn.cursor() as cur:
                    cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                    row = cur.fetchone()
                    cipher = row[1] if row and row[1] else None
            except pymysql.err.MySQLError:
                pass
            report.add(f"connected to {where} as {sql.user}, database {sql.dbname}, "
                       + (f"TLS ({cipher}), server certificate verified" if cipher and sql.ssl_ca else
                          f"TLS ({cipher})" if cipher else "NO encryption"))
            ok = True
            for key in ("user_query", "password_query", "iterate_query"):
                query = getattr(sql, key)
                if not query.strip():
                    report.add(f"{key}: not set")
                    continue
                text, unknown = expand(query, user, lambda value: conn.escape(value)[1:-1])
                for var in unknown:
                    report.add(f"note: {var} in {key} cannot be simulated here")
                try:
                    with conn.cursor() as cur:
                        cur.execute(text.rstrip().rstrip(";"))
                        columns = [d[0] for d in cur.description or ()]
                        rows = cur.fetchmany(1000) if key == "iterate_query" else cur.fetchall()
                except pymysql.err.MySQLError as exc:
                    code, message = _sql_errno(exc)
                    report.add(f"{key}: failed: {report.clean(message)}")
                    ok = False
                    continue
                ok = _report_rows(report, key, user, columns, rows) and ok
            return report.result(ok)
        finally:
            try:
                conn.close()
            except Exception:  # closing a broken connection: nothing to report
                pass
    except Exception as exc:  # a test never crashes the screen; the error is the result
        report.add(f"error: {report.clean(_why(exc))}")
        return report.result(False)


def _show(column: str, value) -> str:
    if column.lower() == "password":
        if value is None:
            return "password = NULL"
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        scheme = re.match(r"^\{[A-Za-z0-9._-]+\}", text)
        crypt = re.match(r"^\$(\w+)\$", text)
        kind = scheme.group(0) if scheme else (f"${crypt.group(1)}$ crypt" if crypt else "no scheme prefix")
        return f"password = (hidden: {len(text)} characters, {kind})"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return f"{column} = {value}"


def _report_rows(report: _Report, key: str, user: str, columns: list[str], rows) -> bool:
    if key == "iterate_query":
        names = [str(r[0]) for r in rows[:5]]
        report.add(f"iterate_query: {len(rows)}{'+' if len(rows) >= 1000 else ''} user(s)"
                   + (f": {', '.join(names)}{', ...' if len(rows) > 5 else ''}" if names else ""))
        return True
    ok = True
    if key == "password_query":
        missing = [c for c in ("user", "password") if c not in [x.lower() for x in columns]]
        if missing:
            report.add(f"password_query: returns the columns {', '.join(columns) or 'none'}; Dovecot "
                       f"needs {' and '.join(missing)} (rename with AS, e.g. SELECT username AS user, password ...)")
            ok = False
    if not rows:
        report.add(f"{key} for {user}: no row (is {user} in the table?)")
    elif len(rows) > 1:
        report.add(f"{key} for {user}: {len(rows)} rows: Dovecot needs exactly one")
        ok = False
    else:
        report.add(f"{key} for {user}: " + ", ".join(_show(c, v) for c, v in zip(columns, rows[0])))
    return ok
