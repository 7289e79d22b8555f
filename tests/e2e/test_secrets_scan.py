"""End to end, issue 7: no secret leaves the files meant to hold it.

For each way the wizard is given secrets -- full.toml (the doveadm replication
password and a PAM test account's password), ldap-search.toml against a real
slapd (the search account's dnpass, an LDAP test account) and sql.toml against
a real MariaDB (the database password, an SQL test account) -- the test runs,
in a throwaway host: the unattended apply, a re-plan as JSON (`--dry-run
--json`), `verify` and `verify --json`, a saved answers copy (the Report
screen's `s`, Session.save_answers_copy) and a rollback. It then looks for
every secret, raw and in its base64 (with and without the newline its file
ends with), URL-quoted and JSON-escaped forms, in:

- everything the commands printed (stdout and stderr, JSON included);
- every file under the journal (records, state, backups index and backups,
  answers), /etc, /srv, /var/log, /var/spool/postfix, /run/dovecot, /tmp and
  /root's own files, before and after the rollback.

Only the secret-bearing files may hold a secret: the password files the
administrator gave (inputs, named in ALLOWED) and the configs that must hold
one (dovecot-ldap.conf.ext; dovecot-sql.conf.ext or its option file).
Everything else the wizard wrote -- 10-replication.conf refers to the
password file instead -- must hold none. Every file the journal says the
wizard wrote must be among those scanned; the counts are printed (pytest -s).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.parse
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authcheck import answers_with
from authservers import LDAP_CONF_DIR, LdapUser, make_ca, put, start_mariadb, start_slapd
from helpers import JOURNAL, REPO, prepare, wizard_here
from throwaway import _kept_paths

pytestmark = pytest.mark.e2e

SEARCHED = ("/etc", JOURNAL, "/srv", "/var/log", "/var/spool/postfix", "/run/dovecot", "/tmp")
REPLICATION_PASS = "Repl1cation s3cret/with+plus=equals&amp"  # prepare() writes full.toml's own
TEST_PASS = "Test-acc0unt pass/+=word"
DNPASS = "Ldap-d1rectory s3arch/+=pass"
DB_PASS = "Sql-db#pass/+=word"  # no space: it goes into Dovecot's connect string itself
SAVED = "/root/saved-answers.toml"

SAVE = r"""
import sys
from mailwizard.cli import build_session, parser
session, _ = build_session(parser().parse_args(["--resume"]))
print(session.save_answers_copy(sys.argv[1]) or "saved")
"""


def forms(secret: str) -> dict[str, bytes]:
    """The secret as it might leak: raw, base64, URL-quoted, JSON-escaped."""
    raw = secret.encode()
    return {"raw": raw,
            "base64": base64.b64encode(raw),
            "base64 with newline": base64.b64encode(raw + b"\n"),
            "url-quoted": urllib.parse.quote(secret, safe="").encode(),
            "url-quoted (+)": urllib.parse.quote_plus(secret).encode(),
            "json": json.dumps(secret)[1:-1].encode()}


class Scan:
    """Everything looked at, and every place a secret was found."""

    def __init__(self, host, secrets: dict[str, str], allowed: set[str]):
        self.host, self.secrets, self.allowed = host, secrets, allowed
        self.outputs = 0
        self.files: set[str] = set()
        self.hits: list[str] = []
        self.written: set[str] = set()  # every file the wizard wrote (its journal's backups index)
        self.allowed_hits: set[str] = set()

    def _look(self, where: str, data: bytes, allowed: bool = False) -> None:
        for name, secret in self.secrets.items():
            for form, needle in forms(secret).items():
                if needle in data:
                    if allowed:
                        self.allowed_hits.add(where)
                    else:
                        self.hits.append(f"{name} ({form}) in {where}")

    def output(self, what: str, proc) -> None:
        self.outputs += 1
        self._look(f"output of {what}", (proc.stdout + proc.stderr).encode())

    def tree(self, when: str) -> None:
        kept = tuple(str(self.host.path(k)) + "/" for k in _kept_paths())
        root = self.host.path("/")
        walks = [os.walk(self.host.path(top)) for top in SEARCHED]
        home = self.host.path("/root")
        walks.append([(str(home), [], [p.name for p in home.iterdir() if p.is_file()])])
        for walk in walks:
            for dirpath, _dirs, names in walk:
                for name in names:
                    real = os.path.join(dirpath, name)
                    if real.startswith(kept) or os.path.islink(real) or not os.path.isfile(real):
                        continue
                    path = "/" + os.path.relpath(real, root)
                    try:
                        data = Path(real).read_bytes()
                    except OSError:
                        continue
                    self.files.add(path)
                    self._look(f"{path} ({when})", data, allowed=path in self.allowed)


def run_everything(host, answers: str, scan: Scan) -> None:
    """Apply, re-plan as JSON, verify twice, save an answers copy, scan, roll back, scan again."""
    steps = [("apply", ["--answers", answers, "--unattended"]),
             ("re-plan --json", ["--answers", answers, "--unattended", "--dry-run", "--json"]),
             ("verify", ["verify"]),
             ("verify --json", ["verify", "--json"])]
    for what, args in steps:
        out = wizard_here(host, *args)
        scan.output(what, out)
        if what == "apply":
            assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
            assert "0 failed" in out.stdout, out.stdout[-4000:]
    saved = host.run(["python3", "-c", SAVE, SAVED], env={"PYTHONPATH": REPO})
    scan.output("save answers", saved)
    assert saved.stdout.strip() == "saved", saved.stdout + saved.stderr
    assert host.path(SAVED).stat().st_mode & 0o777 == 0o600
    index = json.loads(host.path(f"{JOURNAL}/backups/index.json").read_text())
    scan.written = {path for path, entry in index["files"].items()
                    if entry["kind"] == "file" and host.path(path).is_file()}
    scan.tree("after apply")
    back = wizard_here(host, "rollback")
    scan.output("rollback", back)
    assert back.returncode == 0 and "restored" in back.stdout, back.stdout + back.stderr
    scan.tree("after rollback")


def check(scan: Scan, must_hold: set[str]) -> None:
    print(f"\nsecrets scan: {len(scan.secrets)} secrets x {len(forms('x'))} forms in "
          f"{scan.outputs} command outputs and {len(scan.files)} files ({len(scan.written)} written by the "
          f"wizard): {len(scan.hits)} found outside the secret-bearing files")
    assert scan.outputs == 6
    assert len(scan.written) > 20 and scan.written <= scan.files, sorted(scan.written - scan.files)
    assert scan.hits == [], "\n".join(scan.hits)
    # the scan can find what it looks for: the files meant to hold the secrets were seen holding them
    assert must_hold <= {hit.split(" (")[0] for hit in scan.allowed_hits}, scan.allowed_hits


def add_test_account(host, user: str, password: str) -> list[str]:
    put(host, "/root/test.pass", password + "\n", 0o600)
    return [f'test_user = "{user}"', 'test_password_file = "/root/test.pass"']


def test_full_toml_secrets_stay_in_their_files(throwaway):
    host = throwaway
    answers = prepare(host, "full.toml")
    put(host, "/root/doveadm.pass", REPLICATION_PASS + "\n", 0o600)
    for argv, stdin in ((["useradd", "-m", "-s", "/usr/sbin/nologin", "alice"], None),
                        (["chpasswd"], f"alice:{TEST_PASS}\n")):
        assert host.run(argv, input=stdin).returncode == 0
    text = host.path(answers).read_text().replace(
        "[auth]\n", "[auth]\n" + "\n".join(add_test_account(host, "alice", TEST_PASS)) + "\n", 1)
    host.path(answers).write_text(text)
    # the admin's file, and the copy under /etc/dovecot that Dovecot reads (SELinux lets it read only there)
    allowed = {"/root/doveadm.pass", "/etc/dovecot/private/doveadm.pass", "/root/test.pass"}
    scan = Scan(host, {"doveadm password": REPLICATION_PASS, "test account password": TEST_PASS}, allowed)
    run_everything(host, answers, scan)
    check(scan, allowed)


def test_ldap_search_password_stays_in_its_files(throwaway):
    host = throwaway
    ca = make_ca()
    alice = LdapUser("alice", TEST_PASS, "People", 2001)
    start_slapd(host, ca, [alice], DNPASS)
    put(host, "/root/dovecot-ldap.pass", DNPASS + "\n", 0o600)
    answers = answers_with(host, "ldap-search.toml",
                           {"[auth.ldap]": [f'tls_ca_cert_file = "{LDAP_CONF_DIR}/ca.crt"'],
                            "[auth]": add_test_account(host, "alice", TEST_PASS)})
    args = "/etc/dovecot/dovecot-ldap.conf.ext"
    allowed = {"/root/dovecot-ldap.pass", "/root/test.pass", args}
    scan = Scan(host, {"LDAP dnpass": DNPASS, "test account password": TEST_PASS}, allowed)
    run_everything(host, answers, scan)
    check(scan, allowed)


def test_sql_password_stays_in_its_files(throwaway):
    host = throwaway
    ca = make_ca()
    start_mariadb(host, ca, DB_PASS, {"carol": TEST_PASS})
    put(host, "/etc/pki/tls/certs/ca.crt", ca.pem)  # the guide's ssl_ca
    put(host, "/root/dovecot-sql.pass", DB_PASS + "\n", 0o600)
    answers = answers_with(host, "sql.toml", {"[auth]": add_test_account(host, "carol", TEST_PASS)})
    args = "/etc/dovecot/dovecot-sql.conf.ext"
    allowed = {"/root/dovecot-sql.pass", "/root/test.pass", args, "/etc/dovecot/dovecot-sql-client.cnf"}
    scan = Scan(host, {"SQL password": DB_PASS, "test account password": TEST_PASS}, allowed)
    run_everything(host, answers, scan)
    check(scan, {"/root/dovecot-sql.pass", "/root/test.pass", args})

