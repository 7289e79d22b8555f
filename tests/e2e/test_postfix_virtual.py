"""End to end: Postfix delivers to Dovecot's virtual users (LDAP, MariaDB) and refuses unknown ones at RCPT.

In a throwaway host, a real slapd (ldap.toml: DN template over ldaps, and
Postfix's alias table ldap-aliases.cf against ldap.example.com) or a real
MariaDB (sql.toml) holds the users; the wizard runs unattended; Postfix is an
internet site with `virtual_mailbox_domains = $mydomain` and
`virtual_transport = lmtp:unix:private/dovecot-lmtp`. From the peer
namespace, smtplib and swaks send on port 25:

- to a directory/database user, and (LDAP) to an alias Postfix looks up in
  slapd: delivered, and read back over IMAPS as that user;
- to an unknown user of the domain: refused at RCPT with 550 (address
  verification asks Dovecot's LMTP), never accepted and then bounced;
- with Dovecot stopped, an address not verified before is deferred (450).
"""

from __future__ import annotations

import pytest

from authcheck import answers_with
from authservers import ALIAS_LDIF, LdapUser, make_ca, put, start_mariadb, start_slapd, trust_ca, wait_port
from helpers import wizard
from support import aged
from test_postfix import IMAP_FETCH, SERVER, log, peer_python, smtp, swaks

pytestmark = pytest.mark.e2e

ALICE = LdapUser("alice", "alice's LDAP pw", "People", 2001)
CAROL_PASSWORD = "carol's SQL pw"


def run_site(host, answers: str) -> str:
    """Run the wizard; give Postfix a log file (no syslog here); start the peer. Returns the wizard's output."""
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 failed" in out.stdout, out.stdout[-4000:]
    host.run(["postconf", "-e", "maillog_file=/var/log/postfix.log"], check=True)
    aged(host.path("/etc/postfix/main.cf"))
    host.run(["service", "postfix", "restart"], check=True)
    wait_port(host, 25)
    host.add_peer()
    return out.stdout


def read_inbox(host, user: str, password: str, *wanted: str) -> str:
    found = peer_python(host, IMAP_FETCH % (SERVER, user, password, list(wanted)), timeout=90)
    return "\n".join(found)


def assert_virtual_site(host) -> None:
    main = host.run(["postconf", "virtual_transport", "virtual_mailbox_domains", "mydestination",
                     "smtpd_recipient_restrictions", "unverified_recipient_reject_code"]).stdout
    assert "virtual_transport = lmtp:unix:private/dovecot-lmtp\n" in main
    assert "virtual_mailbox_domains = $mydomain\n" in main
    destinations = main.split("mydestination = ")[1].splitlines()[0].split(", ")
    assert "$mydomain" not in destinations and "example.com" not in destinations  # one domain, one class
    assert "reject_unverified_recipient" in main and "unverified_recipient_reject_code = 550\n" in main


def assert_unknown_refused(host) -> None:
    """An unknown user of the domain: 550 at RCPT from both clients, and nothing queued for a bounce."""
    refused = smtp(host, port=25, mail_from="bob@example.net", rcpt="nobody@example.com", subject="unknown")
    assert refused["result"].startswith("550"), refused["result"] + "\n" + log(host)[-3000:]
    assert "User doesn't exist" in refused["result"], refused["result"]
    rc, text = swaks(host, "--to", "nobody2@example.com", "--from", "bob@example.net")
    assert rc != 0 and "<** 550" in text and "User doesn't exist" in text, text
    queue = host.run(["postqueue", "-p"]).stdout
    assert "nobody" not in queue, queue


def test_ldap_users_and_ldap_aliases(throwaway):
    host = throwaway
    ca = make_ca()
    start_slapd(host, ca, [ALICE], "search-pw", extra_ldif=ALIAS_LDIF)
    trust_ca(host, ca)  # ldap.toml: ldaps to LDAP-srv, verified against the system store
    answers = answers_with(host, "ldap.toml", {"[postfix.ldap_aliases]": [
        'query_filter = "(mail=%s)"', 'result_attribute = "uid"']})
    run_site(host, answers)
    assert_virtual_site(host)
    assert "virtual_alias_maps = ldap:/etc/postfix/ldap-aliases.cf\n" in \
        host.run(["postconf", "virtual_alias_maps"]).stdout
    query = host.run(["postmap", "-q", "sales@example.com", "ldap:/etc/postfix/ldap-aliases.cf"])
    assert query.returncode == 0 and query.stdout.strip() == "alice", query.stdout + query.stderr

    for rcpt, subject in (("alice@example.com", "ldap-user-py"), ("sales@example.com", "ldap-alias-py")):
        sent = smtp(host, port=25, mail_from="bob@example.net", rcpt=rcpt, subject=subject)
        assert sent["result"] == "accepted", sent["result"] + "\n" + log(host)[-3000:]
    for rcpt, subject in (("alice@example.com", "ldap-user-swaks"), ("sales@example.com", "ldap-alias-swaks")):
        rc, text = swaks(host, "--to", rcpt, "--from", "carol@example.net", "--header", f"Subject: {subject}")
        assert rc == 0, text
    wanted = ("ldap-user-py", "ldap-alias-py", "ldap-user-swaks", "ldap-alias-swaks")
    seen = read_inbox(host, "alice", ALICE.password, *wanted)
    for subject in wanted:
        assert subject in seen, seen + "\n" + log(host)[-3000:]
    assert "relay=mail.example.com[private/dovecot-lmtp]" in log(host)
    assert_unknown_refused(host)


def test_mariadb_users(throwaway):
    host = throwaway
    ca = make_ca()
    start_mariadb(host, ca, "db-pw", {"carol": CAROL_PASSWORD})
    put(host, "/etc/pki/tls/certs/ca.crt", ca.pem)  # sql.toml's ssl_ca
    put(host, "/root/dovecot-sql.pass", "db-pw\n", 0o600)
    answers = answers_with(host, "sql.toml", {})
    run_site(host, answers)
    assert_virtual_site(host)
    sent = smtp(host, port=25, mail_from="bob@example.net", rcpt="carol@example.com", subject="sql-user-py")
    assert sent["result"] == "accepted", sent["result"] + "\n" + log(host)[-3000:]
    rc, text = swaks(host, "--to", "carol@example.com", "--from", "dave@example.net",
                     "--header", "Subject: sql-user-swaks")
    assert rc == 0, text
    seen = read_inbox(host, "carol", CAROL_PASSWORD, "sql-user-py", "sql-user-swaks")
    assert "sql-user-py" in seen and "sql-user-swaks" in seen, seen + "\n" + log(host)[-3000:]
    assert_unknown_refused(host)
    # Dovecot unreachable: an address not yet verified is deferred (450, the sender retries), not refused
    host.run(["doveadm", "stop"], check=True)
    later = smtp(host, port=25, mail_from="bob@example.net", rcpt="newcomer@example.com", subject="later")
    assert later["result"].startswith("450"), later["result"]
