"""End to end: Postfix reaches Dovecot over TCP, as it would on another host (guide 2.6, 2.8, 2.9.3).

One throwaway host runs both, but Postfix names Dovecot by its network
address (198.51.100.1, the throwaway's side of the peer link), never by a
socket: Dovecot gets `service auth { inet_listener { port = 12345 } }` and
`service lmtp { inet_listener lmtp { port = 24 } }` ([auth] sasl_listener,
[lmtp] listener), Postfix `smtpd_sasl_path = inet:198.51.100.1:12345` and
`mailbox_transport = lmtp:inet:198.51.100.1:24` with STARTTLS ([postfix]
sasl_host, lmtp_host). Dovecot's unix socket for Postfix (private/auth) is not made,
so a login that works went through the TCP listener. From the peer:
submission on 587 with STARTTLS and AUTH (smtplib and swaks), a wrong
password refused, and mail on port 25 delivered over LMTP/TCP and read
back over IMAPS.
"""

from __future__ import annotations

import pytest

from authservers import wait_port
from helpers import prepare, put, wizard
from support import aged
from test_postfix import BASE, PASSWORD, inbox, log, smtp, swaks

pytestmark = pytest.mark.e2e

DOVECOT = "198.51.100.1"
AUTH_TCP = '[auth]\nbackend = "pam"\nsasl_listener = "inet"\nsasl_port = 12345\n' \
           f'sasl_allow_from = ["{DOVECOT}/32"]\n'
REMOTE = BASE.replace('[auth]\nbackend = "pam"\n', AUTH_TCP) + f"""[lmtp]
listener = "inet"
port = 24
allow_from = ["{DOVECOT}/32"]

[postfix]
mode = "internet-site"
inet_interfaces = "all"
mynetworks = ["127.0.0.0/8", "[::1]/128"]
delivery = "lmtp"
lmtp_host = "{DOVECOT}"
submission = true
sasl_host = "{DOVECOT}"
sasl_port = 12345

[firewall]
manage = true
"""


def setup_remote(host) -> None:
    """The peer link first: Dovecot's address must exist when the wizard's checks reach it."""
    prepare(host)
    put(host, "/root/answers.toml", REMOTE.encode(), 0o600)
    for argv, stdin in ((["useradd", "-m", "-s", "/usr/sbin/nologin", "alice"], None),
                        (["chpasswd"], f"alice:{PASSWORD}\n")):
        out = host.run(argv, input=stdin)
        assert out.returncode == 0, out.stderr
    host.add_peer()
    out = wizard(host, "--answers", "/root/answers.toml", "--unattended")
    lines = out.stdout.splitlines()
    failed = [f"{a}\n{b}" for a, b in zip(lines, lines[1:] + [""]) if a.strip().startswith("FAIL")]
    assert out.returncode == 0, "\n".join(failed) or out.stdout[-4000:] + out.stderr[-2000:]
    assert "PASS  Dovecot SASL listens on TCP 12345" in out.stdout
    assert "PASS  LMTP (24): TLS 1.1 refused" in out.stdout  # the LMTP TCP port is probed like the others
    assert f"PASS  Dovecot SASL at inet:{DOVECOT}:12345 answers: mechanisms: PLAIN" in out.stdout
    host.run(["postconf", "-e", "maillog_file=/var/log/postfix.log", "lmtp_tls_loglevel=1"], check=True)
    aged(host.path("/etc/postfix/main.cf"))
    host.run(["service", "postfix", "restart"], check=True)
    wait_port(host, 25)


def test_sasl_and_lmtp_over_tcp(throwaway):
    host = throwaway
    assert 'sasl_listener = "inet"' in REMOTE
    setup_remote(host)
    master = host.run(["doveconf", "-n", "service"]).stdout
    assert "port = 12345" in master, master
    values = host.run(["postconf", "smtpd_sasl_path", "mailbox_transport"]).stdout
    assert f"smtpd_sasl_path = inet:{DOVECOT}:12345\n" in values
    assert f"mailbox_transport = lmtp:inet:{DOVECOT}:24\n" in values
    assert not host.path("/var/spool/postfix/private/auth").exists()  # no socket: logins go over TCP

    # 2.9.3 over TCP: AUTH after STARTTLS on 587, checked by Dovecot through inet_listener 12345
    ok = smtp(host, port=587, mail_from="alice@example.com", rcpt="someone@example.org", subject="sub",
              login=("alice", PASSWORD), tls=True)
    assert "auth" in ok["features_after_tls"], ok
    assert ok["result"] == "accepted", ok["result"] + "\n" + log(host)[-3000:]
    rc, text = swaks(host, "--port", "587", "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                     "--auth-password", PASSWORD, "--from", "alice@example.com", "--to", "someone@example.org")
    assert rc == 0, text
    wrong = smtp(host, port=587, mail_from="alice@example.com", rcpt="someone@example.org", subject="x",
                 login=("alice", "wrong"), tls=True)
    assert wrong["result"].startswith("535"), wrong["result"]
    rc, text = swaks(host, "--port", "587", "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                     "--auth-password", "wrong", "--from", "alice@example.com", "--to", "someone@example.org")
    assert rc != 0 and "535" in text, text
    assert "sasl_method=PLAIN, sasl_username=alice" in log(host)

    # 2.8: port 25 to a local user, handed to Dovecot with lmtp:inet, read over IMAP
    sent = smtp(host, port=25, mail_from="bob@example.net", rcpt="alice@example.com", subject="over-lmtp-tcp")
    assert sent["result"] == "accepted", sent["result"]
    rc, text = swaks(host, "--to", "alice@example.com", "--from", "carol@example.net",
                     "--header", "Subject: over-lmtp-tcp-swaks")
    assert rc == 0, text
    seen = inbox(host, "over-lmtp-tcp", "over-lmtp-tcp-swaks")
    assert "over-lmtp-tcp" in seen and "over-lmtp-tcp-swaks" in seen, seen + "\n" + log(host)[-3000:]
    assert f"relay={DOVECOT}[{DOVECOT}]:24" in log(host), log(host)[-3000:]
    assert f"TLS connection established to {DOVECOT}[{DOVECOT}]:24" in log(host)  # 2.8: STARTTLS over LMTP

    # Dovecot gone: `mailwizard verify` says so (Postfix would drop STARTTLS sessions on port 25)
    host.run(["doveadm", "stop"], check=True)
    checked = wizard(host, "verify")
    assert checked.returncode != 0
    assert f"FAIL  Dovecot SASL at inet:{DOVECOT}:12345 answers: cannot connect: Connection refused" \
        in checked.stdout, checked.stdout[-3000:]
