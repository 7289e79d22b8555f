"""End to end: the wizard configures real Postfix with real Dovecot in a throwaway copy of this machine.

Probed from a peer network namespace (198.51.100.2), because Postfix and
Dovecot trust loopback, with Python's smtplib/imaplib and, independently,
swaks:

- mail to a local user and to a virtual alias, sent on port 25, is delivered
  over LMTP (Postfix chrooted: the socket under /var/spool/postfix/private)
  and read back over IMAP;
- relaying to a foreign domain without authentication: "Relay access denied";
- on 587 AUTH is not offered before STARTTLS; after STARTTLS and AUTH relaying
  is accepted; a sender the login does not own is refused; 465 speaks TLS at once;
- a null client hands its mail to a relay host (an SMTP sink in the peer) and
  accepts none from the network or for local delivery;
- aliases looked up in a real slapd resolve (`postmap -q`) and deliver.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authservers import LDAP_CONF_DIR, LdapUser, make_ca, put as put_owned, start_slapd, wait_port
from helpers import ANSWERS_DIR, prepare, put, wizard
from support import aged
from throwaway import ThrowawayHost

pytestmark = pytest.mark.e2e

SERVER = "198.51.100.1"
PASSWORD = "Alice-s3cret"
BASE = (ANSWERS_DIR / "pam.toml").read_text().split("[postfix]")[0]
SITE = BASE + """[postfix]
mode = "internet-site"
inet_interfaces = "all"
mynetworks = ["127.0.0.0/8", "[::1]/128"]
delivery = "lmtp"
submission = true
sender_login_mismatch = "reject"
virtual_alias_source = "file"

[postfix.virtual_aliases]
"info@example.com" = "alice@example.com"

[firewall]
manage = true
"""


def setup_site(host, answers: str = SITE, before_wizard=None) -> None:
    prepare(host)
    put(host, "/root/answers.toml", answers.encode(), 0o600)
    for argv, stdin in ((["useradd", "-m", "-s", "/usr/sbin/nologin", "alice"], None),
                        (["chpasswd"], f"alice:{PASSWORD}\n")):
        out = host.run(argv, input=stdin)
        assert out.returncode == 0, out.stderr
    if before_wizard:
        before_wizard(host)
    out = wizard(host, "--answers", "/root/answers.toml", "--unattended")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 failed" in out.stdout
    # Postfix's own log, as there is no syslog here (Postfix >= 3.4)
    host.run(["postconf", "-e", "maillog_file=/var/log/postfix.log"], check=True)
    aged(host.path("/etc/postfix/main.cf"))
    host.run(["service", "postfix", "restart"], check=True)
    wait_port(host, 25)
    host.add_peer()


def peer_python(host, code: str, timeout: float = 60) -> dict:
    """Run `code` in the peer; it prints one JSON object as its last line."""
    out = host.run_peer(["python3", "-c", code], timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


SMTP_PROBE = f"SERVER = {SERVER!r}\n" + r"""
import json, smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def send(port, mail_from, rcpt, subject, login=None, tls=False, wrapper=False):
    r = {}
    try:
        s = smtplib.SMTP_SSL(SERVER, port, context=ctx, timeout=30) if wrapper else \
            smtplib.SMTP(SERVER, port, timeout=30)
        s.ehlo("client.example.net")
        r["features_before_tls"] = sorted(s.esmtp_features)
        if tls:
            s.starttls(context=ctx); s.ehlo("client.example.net")
            r["features_after_tls"] = sorted(s.esmtp_features)
        if login:
            s.login(*login)
        msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nhello from the peer\r\n" % (mail_from, rcpt, subject)
        s.sendmail(mail_from, [rcpt], msg)
        r["result"] = "accepted"
        s.quit()
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        r["result"] = "%d %s" % (code, text.decode())
    except smtplib.SMTPResponseException as e:
        r["result"] = "%d %s" % (e.smtp_code, e.smtp_error.decode(errors="replace"))
    except (smtplib.SMTPException, OSError) as e:
        r["result"] = "%s: %s" % (type(e).__name__, e)
    return r
"""


def smtp(host, **kw) -> dict:
    return peer_python(host, SMTP_PROBE + f"\nprint(json.dumps(send(**{kw!r})))")


def swaks(host, *args: str) -> tuple[int, str]:
    out = host.run_peer(["swaks", "--server", SERVER, "--helo", "client.example.net",
                         "--timeout", "30", *args], timeout=90)
    return out.returncode, out.stdout + out.stderr


IMAP_FETCH = r"""
import imaplib, json, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
found = []
deadline = time.time() + 40
while time.time() < deadline:
    m = imaplib.IMAP4_SSL("%s", 993, ssl_context=ctx)
    m.login(%r, %r)
    m.select("INBOX", readonly=True)
    typ, data = m.search(None, "ALL")
    found = []
    for num in data[0].split():
        typ, msg = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT TO)])")
        found.append(msg[0][1].decode())
    m.logout()
    if all(any(w in f for f in found) for w in %r):
        break
    time.sleep(1)
print(json.dumps(found))
"""


def inbox(host, *wanted: str) -> str:
    out = host.run_peer(["python3", "-c", IMAP_FETCH % (SERVER, "alice", PASSWORD, list(wanted))], timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    return "\n".join(json.loads(out.stdout.strip().splitlines()[-1]))


def log(host) -> str:
    path = host.path("/var/log/postfix.log")
    return path.read_text() if path.exists() else "(no log)"


def test_internet_site_delivers_refuses_relay_and_submits(throwaway):
    host = throwaway
    setup_site(host)
    # 2.1/2.7: port 25, a local user and a virtual alias (2.4), delivered over LMTP, read over IMAP
    assert smtp(host, port=25, mail_from="bob@example.net", rcpt="alice@example.com",
                subject="to-alice-py")["result"] == "accepted"
    assert smtp(host, port=25, mail_from="bob@example.net", rcpt="info@example.com",
                subject="to-info-alias-py")["result"] == "accepted"
    rc, text = swaks(host, "--to", "alice@example.com", "--from", "carol@example.net",
                     "--header", "Subject: to-alice-swaks")
    assert rc == 0, text
    seen = inbox(host, "to-alice-py", "to-info-alias-py", "to-alice-swaks")
    for subject in ("to-alice-py", "to-info-alias-py", "to-alice-swaks"):
        assert subject in seen, seen + "\n" + log(host)
    assert "relay=mail.example.com[private/dovecot-lmtp]" in log(host)  # the chrooted socket
    # no open relay: foreign domain, no authentication
    refused = smtp(host, port=25, mail_from="bob@example.net", rcpt="someone@example.org", subject="relay")
    # the guide's defer_unauth_destination answers 454 (a sender retries, then bounces); never 250
    assert refused["result"].startswith("454") and "Relay access denied" in refused["result"]
    rc, text = swaks(host, "--to", "someone@example.org", "--from", "bob@example.net")
    assert rc != 0 and "Relay access denied" in text
    # 587: no AUTH before STARTTLS, relaying once logged in
    ok = smtp(host, port=587, mail_from="alice@example.com", rcpt="someone@example.org", subject="sub",
              login=("alice", PASSWORD), tls=True)
    assert "auth" not in ok["features_before_tls"] and "starttls" in ok["features_before_tls"]
    assert "auth" in ok["features_after_tls"]
    assert ok["result"] == "accepted", log(host)[-2000:]
    rc, text = swaks(host, "--port", "587", "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                     "--auth-password", PASSWORD, "--from", "alice@example.com", "--to", "someone@example.org")
    assert rc == 0, text
    rc, text = swaks(host, "--port", "587", "--auth", "PLAIN", "--auth-user", "alice",
                     "--auth-password", PASSWORD, "--from", "alice@example.com", "--to", "someone@example.org")
    assert rc != 0 and "Host did not advertise authentication" in text
    # reject_sender_login_mismatch: alice may not send as bob
    bad = smtp(host, port=587, mail_from="bob@example.com", rcpt="someone@example.org", subject="spoof",
               login=("alice", PASSWORD), tls=True)
    assert bad["result"].startswith("553") and "not owned by user alice" in bad["result"]
    rc, text = swaks(host, "--port", "587", "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                     "--auth-password", PASSWORD, "--from", "bob@example.com", "--to", "someone@example.org")
    assert rc != 0 and "not owned by user alice" in text
    # wrong password is refused
    wrong = smtp(host, port=587, mail_from="alice@example.com", rcpt="someone@example.org", subject="x",
                 login=("alice", "wrong"), tls=True)
    assert wrong["result"].startswith("535")
    # 465: TLS from the first byte, then AUTH
    implicit = smtp(host, port=465, mail_from="alice@example.com", rcpt="someone@example.org", subject="465",
                    login=("alice", PASSWORD), wrapper=True)
    assert implicit["result"] == "accepted" and "auth" in implicit["features_before_tls"]
    rc, text = swaks(host, "--port", "465", "--tls-on-connect", "--auth", "PLAIN", "--auth-user", "alice",
                     "--auth-password", PASSWORD, "--from", "alice@example.com", "--to", "someone@example.org")
    assert rc == 0, text
    # a second run has nothing to do
    again = wizard(host, "--answers", "/root/answers.toml", "--unattended", "--dry-run", "--json")
    plan = json.loads(again.stdout)["plan"]
    postfix_changes = [c["description"] for c in plan["changes"]
                       if not c["noop"] and c["step"].startswith("postfix")]
    assert postfix_changes == []


SINK = r"""
import json, os, socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("198.51.100.2", 25)); srv.listen(5); srv.settimeout(1)
os.makedirs("/tmp/sink", exist_ok=True)
print("listening", flush=True)
end = time.time() + 240
n = 0
while time.time() < end:
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        continue
    conn.settimeout(30)
    f = conn.makefile("rb")
    def say(text):
        conn.sendall((text + "\r\n").encode())
    say("220 relay.example.com ESMTP sink")
    env = {"from": "", "to": []}
    try:
        while True:
            line = f.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                break
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                say("250 relay.example.com")
            elif verb == "MAIL":
                env = {"from": line[10:], "to": []}; say("250 ok")
            elif verb == "RCPT":
                env["to"].append(line[8:]); say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                body = []
                while True:
                    l = f.readline().decode(errors="replace")
                    if l in (".\r\n", ".\n", ""):
                        break
                    body.append(l)
                n += 1
                with open("/tmp/sink/%d.json" % n, "w") as out:
                    json.dump({"envelope": env, "data": "".join(body)}, out)
                say("250 queued as SINK%d" % n)
            elif verb == "QUIT":
                say("221 bye"); break
            else:
                say("250 ok")
    except OSError:
        pass
    conn.close()
"""

SINK_READ = r"""
import glob, json, time
end = time.time() + 60
while time.time() < end:
    got = [json.load(open(p)) for p in sorted(glob.glob("/tmp/sink/*.json"))]
    if len(got) >= %d:
        break
    time.sleep(0.5)
print(json.dumps(got))
"""


def test_null_client_forwards_everything_to_the_relay_host():
    answers = (ANSWERS_DIR / "null-client.toml").read_text().replace(
        'relayhost = "[relay.example.com]"', 'relayhost = "[198.51.100.2]"')
    assert "[198.51.100.2]" in answers
    with ThrowawayHost(hostname="app1.example.com") as host:
        put(host, "/root/answers.toml", answers.encode(), 0o600)
        out = wizard(host, "--answers", "/root/answers.toml", "--unattended")
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        main = host.path("/etc/postfix/main.cf").read_text()
        assert "local_transport = error: local delivery disabled\n" in main
        host.run(["postconf", "-e", "maillog_file=/var/log/postfix.log"], check=True)
        aged(host.path("/etc/postfix/main.cf"))
        host.run(["service", "postfix", "restart"], check=True)
        host.add_peer()
        sink = host.popen_peer(["python3", "-c", SINK])
        try:
            deadline = time.time() + 20
            while time.time() < deadline and host.run_peer(
                    ["python3", "-c", "import socket; socket.create_connection(('198.51.100.2', 25), 1)"]
            ).returncode:
                time.sleep(0.2)
            # local mail: to a foreign address and to a local account, both go to the relay
            for rcpt in ("someone@example.net", "root"):
                sent = host.run(["/usr/sbin/sendmail", "-f", "app@app1.example.com", rcpt],
                                input=f"Subject: null-{rcpt}\n\nfrom the null client\n")
                assert sent.returncode == 0, sent.stderr
            got = host.run_peer(["python3", "-c", SINK_READ % 2], timeout=90)
            messages = json.loads(got.stdout.strip().splitlines()[-1])
            log = host.path("/var/log/postfix.log")
            assert len(messages) == 2, log.read_text() if log.exists() else "(no log)"
            rcpts = sorted(m["envelope"]["to"][0] for m in messages)
            assert rcpts == ["<root@relay.example.com>", "<someone@example.net>"]  # myorigin = relay.example.com
            assert all("Subject: null-" in m["data"] for m in messages)
            # nothing is received from the network (loopback-only) ...
            probe = host.run_peer(["python3", "-c", "import socket\ntry:\n socket.create_connection("
                                   "('198.51.100.1', 25), 5); print('open')\nexcept OSError as e: print('closed', e)"])
            assert probe.stdout.startswith("closed")
            rc, text = swaks(host, "--to", "root@app1.example.com", "--from", "x@example.net")
            assert rc != 0 and ("Connection refused" in text or "connection" in text.lower())
            # ... and nothing is delivered locally
            assert not host.path("/var/mail/root").exists()
        finally:
            sink.kill()


EXTRA_LDIF = """dn: cn=sales-alias,ou=People,dc=example,dc=com
objectClass: inetOrgPerson
cn: sales-alias
sn: alias
mail: ldapalias@example.com
uid: alice
"""


def add_ldap_alias(host) -> None:
    """slapd for dc=example,dc=com, with one entry whose `mail` is an alias for alice."""
    start_slapd(host, make_ca(), [LdapUser("carol", "x")], "search-pw")
    pid = host.path("/run/test-slapd.pid").read_text().strip()
    host.run(["kill", pid], check=True)
    for _ in range(100):
        if host.run(["kill", "-0", pid]).returncode:
            break
        time.sleep(0.1)
    put_owned(host, f"{LDAP_CONF_DIR}/alias.ldif", EXTRA_LDIF, 0o600)
    out = host.run(["slapadd", "-f", f"{LDAP_CONF_DIR}/slapd.conf", "-l", f"{LDAP_CONF_DIR}/alias.ldif"])
    assert out.returncode == 0, out.stdout + out.stderr
    out = host.run(["slapd", "-f", f"{LDAP_CONF_DIR}/slapd.conf", "-h", "ldap://127.0.0.1:389/"])
    assert out.returncode == 0, out.stderr
    wait_port(host, 389)


def test_ldap_aliases_resolve_through_slapd_and_deliver(throwaway):
    host = throwaway
    answers = SITE.replace('virtual_alias_source = "file"', 'virtual_alias_source = "ldap"').replace(
        '[postfix.virtual_aliases]\n"info@example.com" = "alice@example.com"\n',
        '[postfix.ldap_aliases]\nserver_host = "ldap://127.0.0.1:389"\nsearch_base = "dc=example,dc=com"\n'
        'query_filter = "(mail=%s)"\nresult_attribute = "uid"\n')
    assert 'query_filter = "(mail=%s)"' in answers
    setup_site(host, answers, before_wizard=add_ldap_alias)
    cf = host.path("/etc/postfix/ldap-aliases.cf").read_text()
    assert "search_base = dc=example,dc=com\n" in cf and "query_filter = (mail=%s)\n" in cf
    query = host.run(["postmap", "-q", "ldapalias@example.com", "ldap:/etc/postfix/ldap-aliases.cf"])
    assert query.returncode == 0 and query.stdout.strip() == "alice", query.stdout + query.stderr
    missing = host.run(["postmap", "-q", "nobody@example.com", "ldap:/etc/postfix/ldap-aliases.cf"])
    assert missing.returncode == 1 and missing.stdout == ""
    assert smtp(host, port=25, mail_from="bob@example.net", rcpt="ldapalias@example.com",
                subject="via-ldap-alias")["result"] == "accepted"
    rc, text = swaks(host, "--to", "ldapalias@example.com", "--from", "bob@example.net",
                     "--header", "Subject: via-ldap-swaks")
    assert rc == 0, text
    seen = inbox(host, "via-ldap-alias", "via-ldap-swaks")
    assert "via-ldap-alias" in seen and "via-ldap-swaks" in seen, seen + "\n" + log(host)
