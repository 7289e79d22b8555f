"""End to end: an authenticated smarthost (issue 16). Postfix relays through a second Postfix that wants AUTH.

Two throwaway hosts on one link: relay.example.net (198.51.100.12), a real
Postfix + Dovecot that the wizard configures as an internet site with
submission (587: STARTTLS, then AUTH checked by Dovecot, anything else
refused), and mail.example.com (198.51.100.11), whose answers name it as
`relayhost = "[198.51.100.12]:587"` with `relay_user` and
`relay_password_file`. Then:

- swaks from mail.example.com (outside the relay) without AUTH is refused by
  the relay on 587; with the relay user's login it is accepted;
- mail sent on mail.example.com to bob@example.net leaves through the relay,
  logged in as relayuser over TLS (the relay's log), and lands in bob's
  mailbox there;
- the password is in no file of mail.example.com but the 0600 map and its
  0600 indexed copy (the journal holds it nowhere), and in no output of the
  apply, a dry run's JSON plan or verify, raw or in base64; the report checks
  the login settings and that the relay offers AUTH after STARTTLS;
- rollback takes the login out of main.cf and removes the map and its copy.
"""

from __future__ import annotations

import base64
import os
import time

import pytest

from helpers import JOURNAL, prepare, put, wizard
from support import aged, cached_cert
from test_postfix import BASE, SITE
from throwaway import ThrowawayHost

pytestmark = pytest.mark.e2e

HERE, RELAY = "198.51.100.11", "198.51.100.12"
RELAY_PASSWORD = "Relay-s3cret-4711"
BOB_PASSWORD = "Bob-s3cret"

RELAY_ANSWERS = BASE.replace('hostname = "mail.example.com"', 'hostname = "relay.example.net"').replace(
    'domain = "example.com"', 'domain = "example.net"') + """[postfix]
mode = "internet-site"
inet_interfaces = "all"
mynetworks = ["127.0.0.0/8", "[::1]/128"]
delivery = "lmtp"
submission = true

[firewall]
manage = true
"""

SENDER_ANSWERS = SITE.replace('delivery = "lmtp"\n', f'''delivery = "lmtp"
relayhost = "[{RELAY}]:587"
relay_user = "relayuser"
relay_password_file = "/root/relay.pass"
''')


def users(host, *pairs: tuple[str, str]) -> None:
    for name, password in pairs:
        for argv, stdin in ((["useradd", "-m", "-s", "/usr/sbin/nologin", name], None),
                            (["chpasswd"], f"{name}:{password}\n")):
            out = host.run(argv, input=stdin)
            assert out.returncode == 0, out.stderr


def configure(host, answers: str, cert_name: str) -> str:
    prepare(host)
    key, cert = cached_cert(cert_name)
    put(host, "/etc/pki/dovecot/certs/server.example.com.crt", cert)
    put(host, "/etc/pki/dovecot/certs/ca.crt", cert)
    put(host, "/etc/pki/dovecot/private/server.example.com.key", key, 0o600)
    put(host, "/root/answers.toml", answers.encode(), 0o600)
    out = wizard(host, "--answers", "/root/answers.toml", "--unattended")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    host.run(["postconf", "-e", "maillog_file=/var/log/postfix.log"], check=True)
    aged(host.path("/etc/postfix/main.cf"))
    host.run(["service", "postfix", "restart"], check=True)
    return out.stdout + out.stderr


def swaks_to_relay(host, *args: str):
    out = host.run(["swaks", "--server", RELAY, "--port", "587", "--tls", "--helo", "mail.example.com",
                    "--timeout", "30", "--from", "alice@example.com", "--to", "bob@example.net", *args], timeout=90)
    return out.returncode, out.stdout + out.stderr


def holding(host, secret: bytes) -> list[str]:
    """Files under /etc, /root, /var/lib/mailwizard and /var/log of `host` that hold `secret`."""
    found = []
    for top in ("/etc", "/root", JOURNAL, "/var/log", "/var/spool/postfix/etc"):
        base = host.path(top)
        for dirpath, _dirs, names in os.walk(base):
            for name in names:
                real = os.path.join(dirpath, name)
                if os.path.isfile(real) and not os.path.islink(real):
                    with open(real, "rb") as f:
                        if secret in f.read():
                            found.append("/" + os.path.relpath(real, host.path("/")))
    return sorted(found)


def test_mail_relays_through_the_smarthost_only_after_auth():
    with ThrowawayHost("mail.example.com") as here, ThrowawayHost("relay.example.net") as relay:
        here.link(relay, HERE, RELAY)
        users(relay, ("bob", BOB_PASSWORD), ("relayuser", RELAY_PASSWORD))
        configure(relay, RELAY_ANSWERS, "relay.example.net")

        # from outside the relay: no AUTH, no relay; AUTH as relayuser, accepted
        rc, text = swaks_to_relay(here)
        assert rc != 0 and "554 5.7.1" in text, text
        rc, text = swaks_to_relay(here, "--auth", "PLAIN", "--auth-user", "relayuser",
                                  "--auth-password", RELAY_PASSWORD, "--header", "Subject: swaks-with-auth")
        assert rc == 0, text

        users(here, ("alice", "Alice-s3cret"))
        put(here, "/root/relay.pass", (RELAY_PASSWORD + "\n").encode(), 0o600)
        output = configure(here, SENDER_ANSWERS, "mail.example.com")
        # the password, raw or in base64 (with the file's newline or without), in no output of the wizard
        for args in (("--answers", "/root/answers.toml", "--unattended", "--dry-run", "--json"),
                     ("verify", "--json"), ("verify",)):
            out = wizard(here, *args)
            output += out.stdout + out.stderr
        forms = [RELAY_PASSWORD, *(base64.b64encode(v.encode()).decode().rstrip("=")
                                   for v in (RELAY_PASSWORD, RELAY_PASSWORD + "\n"))]
        assert [f for f in forms if f in output] == []
        assert "PASS  postconf: log in at [198.51.100.12]:587" in output, output[-3000:]
        assert "PASS  the map holds the login for [198.51.100.12]:587" in output
        assert "PASS  relay host [198.51.100.12]:587 offers AUTH after STARTTLS" in output
        values = here.run(["postconf", "-h", "relayhost", "smtp_sasl_auth_enable", "smtp_sasl_password_maps",
                           "smtp_sasl_security_options", "smtp_tls_security_level"]).stdout.split("\n")
        assert values[:5] == [f"[{RELAY}]:587", "yes", "hash:/etc/postfix/sasl_passwd", "noanonymous", "encrypt"]
        for path in ("/etc/postfix/sasl_passwd", "/etc/postfix/sasl_passwd.db"):
            st = here.path(path).stat()
            assert (st.st_mode & 0o777, st.st_uid) == (0o600, 0), (path, oct(st.st_mode))

        sent = here.run(["/usr/sbin/sendmail", "-f", "alice@example.com", "bob@example.net"],
                        input="From: alice@example.com\nTo: bob@example.net\nSubject: via-smarthost\n\nrelayed\n")
        assert sent.returncode == 0, sent.stderr
        deadline, found = time.time() + 60, ""
        while time.time() < deadline and "via-smarthost" not in found:
            found = relay.run(["doveadm", "search", "-u", "bob", "mailbox", "INBOX", "header", "Subject",
                               "via-smarthost"]).stdout
            time.sleep(0.5)
        relay_log = relay.path("/var/log/postfix.log").read_text()
        here_log = here.path("/var/log/postfix.log").read_text()
        assert found.strip(), here_log[-3000:] + relay_log[-3000:]
        assert "sasl_method=PLAIN, sasl_username=relayuser" in relay_log, relay_log[-3000:]
        assert f"relay=[{RELAY}]:587" in here_log or f"relay={RELAY}[{RELAY}]:587" in here_log, here_log[-3000:]
        assert "status=sent" in here_log

        # the password lives in the map and its indexed copy only
        assert holding(here, RELAY_PASSWORD.encode()) == ["/etc/postfix/sasl_passwd", "/etc/postfix/sasl_passwd.db",
                                                          "/root/relay.pass"]

        back = wizard(here, "rollback", "--on-conflict", "take")
        assert back.returncode == 0, back.stdout + back.stderr
        assert not here.path("/etc/postfix/sasl_passwd").exists()
        assert not here.path("/etc/postfix/sasl_passwd.db").exists()
        main = here.path("/etc/postfix/main.cf")
        assert not main.exists() or "smtp_sasl" not in main.read_text()
        assert holding(here, RELAY_PASSWORD.encode()) == ["/root/relay.pass"]
