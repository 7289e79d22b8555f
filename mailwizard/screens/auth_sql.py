"""MariaDB authentication (guide 1.3.4): the database, its account, the queries, and Test connection."""

from __future__ import annotations

import copy

from textual.app import ComposeResult

from mailwizard.screens.base import ConnectionTestScreen
from mailwizard.widgets import Field, FieldMessages

HELP = """\
Dovecot reads users and password hashes from a MariaDB table (guide 1.3.4
*Using a MariaDB SQL database as the Dovecot authentication backend*). The
settings go to `/etc/dovecot/dovecot-sql.conf.ext` (0600 root:root) with
`driver = mysql`; `10-auth.conf` includes `auth-sql.conf.ext` only, and
`dovecot-mysql` is installed where the platform packages it apart.

**Host**, **Port**, **Database**, **DB user** (`auth.sql.host`, `port`,
`dbname`, `user`): written into
`connect = host=... dbname=... user=... password=... ssl_ca=...`.
A host starting with `/` is the server's unix socket.

**Password**: the database user's, typed here (shown as dots, kept in memory
only, never saved in an answers file or the journal), or read as root from
a **Password file** (`auth.sql.password_file`, one line, 0600). Any password
works, spaces and quotes included.

**CA file** (`auth.sql.ssl_ca`): the CA certificate that issued the MariaDB
server's certificate, which makes the connection use TLS
(`/etc/pki/tls/certs/ca.crt` in the guide). The server's host name must be
the one in its certificate.

**Scheme** (`auth.sql.default_pass_scheme`): how the password column is
hashed, `SHA512-CRYPT` in the guide; a `{SCHEME}` prefix in a password wins.

**Queries** (`user_query`, `password_query`, `iterate_query`): `%u` is the
user name as typed at login. The user query returns one row for the user;
the password query the columns `user` and `password` (rename with `AS`);
the iterate query every user (`doveadm user '*'`, replication).

**Test connection** (`ctrl+t`): connects as Dovecot will and runs the three
queries for the test user; passwords that come back are shown only as their
length and scheme.
"""


class SqlScreen(ConnectionTestScreen):
    KEY = "auth_sql"
    HEADING = "MariaDB: users in an SQL database"
    HELP = HELP
    TESTING = "Connecting to the database... (the form stays usable)"

    def compose_body(self) -> ComposeResult:
        from mailwizard.backends import DEFAULT_SQL_USER

        sql = self.session.answers.auth.sql
        yield FieldMessages(id="form-messages")
        yield Field("auth.sql.host", "Host", sql.host, placeholder="mariadb.example.com")
        yield Field("auth.sql.port", "Port", str(sql.port), placeholder="3306")
        yield Field("auth.sql.dbname", "Database", sql.dbname, placeholder="dovecotDB")
        yield Field("auth.sql.user", "DB user", sql.user, placeholder="dovecot")
        yield Field("auth.sql.password", "Password", sql.password, password=True,
                    placeholder="typed: kept in memory only")
        yield Field("auth.sql.password_file", "or file", sql.password_file, placeholder="/root/dovecot-sql.pass")
        yield Field("auth.sql.ssl_ca", "CA file", sql.ssl_ca, placeholder="/etc/pki/tls/certs/ca.crt")
        yield Field("auth.sql.default_pass_scheme", "Scheme", sql.default_pass_scheme, placeholder="SHA512-CRYPT")
        yield Field("auth.sql.user_query", "User query", sql.user_query)
        yield Field("auth.sql.password_query", "Password query", sql.password_query)
        yield Field("auth.sql.iterate_query", "Iterate query", sql.iterate_query)
        yield from self.compose_test("Connects as Dovecot will and runs the three queries for the test user.")
        yield Field("test.user", "Test user", placeholder=DEFAULT_SQL_USER)
        yield from self.compose_test_button()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#auth-sql-host").focus()

    def collect(self) -> None:
        sql = self.session.answers.auth.sql
        for key in ("host", "dbname", "user", "password", "password_file", "ssl_ca", "default_pass_scheme",
                    "user_query", "password_query", "iterate_query"):
            setattr(sql, key, self.query_one(f"#field-auth-sql-{key}", Field).value)
        sql.port = self.number("auth.sql.port", sql.port)

    def backend_test(self):
        from mailwizard import backends

        sql = copy.deepcopy(self.session.answers.auth.sql)
        user = self.query_one("#field-test-user", Field).value
        password = sql.password or None
        if user:
            return lambda: backends.test_sql(sql, password, user=user)
        return lambda: backends.test_sql(sql, password)
