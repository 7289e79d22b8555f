"""End to end: Dovecot authenticates against a real MariaDB server (guide 1.3.4).

In a throwaway host a real mariadbd (TLS required, test CA) holds the
guide's dovecotDB.users table with SHA512-CRYPT passwords made by `doveadm
pw`; the wizard is run unattended with the reference sql.toml, users log in
over IMAPS from another network namespace, and Test connection is run
inside. The database password first contains spaces and both quotes (Dovecot's
connect string cannot hold a space: it goes to an option file), then only
quotes, `#`, `%` and a backslash (it goes into the connect string itself).
"""

from __future__ import annotations

import pytest

from authcheck import answers_with, files_containing, imap_login, mode_owner, test_connection
from authservers import SQL_HOST, SQL_TLS_DIR, free_port, make_ca, put, sql_literal, start_mariadb
from helpers import wizard

pytestmark = pytest.mark.e2e

ARGS = "/etc/dovecot/dovecot-sql.conf.ext"
OPTION_FILE = "/etc/dovecot/dovecot-sql-client.cnf"
DB_PASSWORD = "it's a \"DB\" pass word"
DB_PASSWORD_2 = "no-space'\"#50%$\\pw"
USERS = {"carol": "carol's secret", "dave": "dave \"two\" words"}


def test_mariadb_backend(throwaway):
    host = throwaway
    ca = make_ca()
    start_mariadb(host, ca, DB_PASSWORD, USERS)
    put(host, "/etc/pki/tls/certs/ca.crt", ca.pem)  # the guide's ssl_ca
    put(host, "/root/dovecot-sql.pass", DB_PASSWORD + "\n", 0o600)
    answers = answers_with(host, "sql.toml", {})
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "PASS  MariaDB server answers the queries" in out.stdout
    args = host.path(ARGS).read_text()
    assert "driver = mysql\n" in args
    assert (f"connect = host={SQL_HOST} dbname=dovecotDB user=dovecot option_file={OPTION_FILE} "
            "ssl_ca=/etc/pki/tls/certs/ca.crt\n") in args
    assert mode_owner(host, ARGS) == (0o600, 0, 0)
    dovecot_gid = int(host.run(["id", "-g", "dovecot"]).stdout)
    assert mode_owner(host, OPTION_FILE) == (0o640, 0, dovecot_gid)
    for text in (out.stdout, out.stderr, args):
        assert "pass word" not in text
    assert files_containing(host, "/var/lib/mailwizard", DB_PASSWORD) == []

    for user, password in USERS.items():
        ok, said = imap_login(host, user, password)
        assert ok, said
    ok, said = imap_login(host, "carol", "dave \"two\" words")
    assert not ok and "NO" in said, said
    listed = host.run(["doveadm", "user", "*"])
    assert sorted(listed.stdout.split()) == ["carol", "dave"], listed.stdout + listed.stderr

    good = test_connection(host, "sql", user="carol")  # the password read from password_file
    assert good["ok"], good["text"]
    assert f"connected to {SQL_HOST}:3306 as dovecot, database dovecotDB, TLS (" in good["text"]
    assert "server certificate verified" in good["text"]
    assert "user_query for carol: username = carol" in good["text"]
    assert "password_query for carol: user = carol, password = (hidden: " in good["text"]
    assert "iterate_query: 2 user(s): carol, dave" in good["text"]
    assert "$6$" not in good["text"] and DB_PASSWORD not in good["text"]
    wrong = test_connection(host, "sql", secret="not the password")
    assert not wrong["ok"] and "access denied for dovecot" in wrong["text"], wrong["text"]
    port = free_port(host)
    down = test_connection(host, "sql", set={"port": port})
    assert not down["ok"] and f"{SQL_HOST}:{port}" in down["text"] and "connection refused" in down["text"]
    untrusted = test_connection(host, "sql", set={"ssl_ca": f"{SQL_TLS_DIR}/server.crt"})
    assert not untrusted["ok"] and "certificate problem" in untrusted["text"], untrusted["text"]

    # a new password without spaces: into the connect string, the option file removed
    change = f"ALTER USER 'dovecot'@'%' IDENTIFIED BY {sql_literal(DB_PASSWORD_2)};\n"
    assert host.run(["mariadb", "--protocol=socket", "-uroot"], input=change).returncode == 0
    put(host, "/root/dovecot-sql.pass", DB_PASSWORD_2 + "\n", 0o600)
    again = wizard(host, "--answers", answers, "--unattended")
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert f"removed {OPTION_FILE}" in again.stdout or not host.path(OPTION_FILE).exists()
    assert not host.path(OPTION_FILE).exists()
    args = host.path(ARGS).read_text()
    escaped = DB_PASSWORD_2.replace("\\", "\\\\").replace('"', '\\"')
    assert (f'connect = "host={SQL_HOST} dbname=dovecotDB user=dovecot password={escaped} '
            'ssl_ca=/etc/pki/tls/certs/ca.crt"\n') in args
    assert DB_PASSWORD_2 not in again.stdout + again.stderr
    ok, said = imap_login(host, "dave", USERS["dave"])
    assert ok, said
    assert test_connection(host, "sql", user="dave")["ok"]
