"""End to end, issue 3 with PAM: real Dovecot configured by the wizard, probed by real clients.

In a throwaway copy of this machine the wizard applies pam.toml (mail under
/var/mail, the LMTP unix socket) or full.toml (mail under /srv/vmail, an LMTP
TCP listener); the test adds a system user with a password. From a peer
network namespace (198.51.100.2: not loopback, which Dovecot trusts) the user
logs in over IMAP STARTTLS, IMAPS, POP3 STARTTLS and POP3S; a wrong password
and a plaintext login without TLS are refused; LIST shows the special-use
mailboxes, subscribed; a message delivered over LMTP is read back over IMAP.
"""

from __future__ import annotations

import json

import pytest

from helpers import REPO, cached_cert, prepare, wizard

pytestmark = pytest.mark.e2e

USER, PASSWORD = "alice", "Corr3ct horse 'battery'"
HOST_ADDR = "198.51.100.1"

EXTRA_MAILBOXES = """
[mailboxes]
Drafts = { special_use = "\\\\Drafts", auto = "subscribe" }
Junk = { special_use = "\\\\Junk", auto = "subscribe" }
Trash = { special_use = "\\\\Trash", auto = "subscribe" }
Sent = { special_use = "\\\\Sent", auto = "subscribe" }
"Important Emails" = { auto = "create" }
"""

# Runs in the peer (or the host) as `python3 -c CLIENT PARAMS_JSON`; prints what each probe gave as JSON.
CLIENT = r'''
import imaplib, json, poplib, smtplib, ssl, sys
p = json.loads(sys.argv[1])
ctx = ssl.create_default_context(cadata=p["ca"])
ctx.check_hostname = False  # reached by address; the chain is still verified
H, U = p["host"], p["user"]
out = {}

def attempt(name, fn, *args):
    try:
        out[name] = ["ok", fn(*args)]
    except Exception as exc:
        out[name] = ["error", f"{type(exc).__name__}: {exc}"]

def imap_starttls(pw):
    c = imaplib.IMAP4(H, 143)
    c.starttls(ssl_context=ctx)
    c.login(U, pw)
    c.logout()
    return "logged in"

def imaps(pw):
    c = imaplib.IMAP4_SSL(H, 993, ssl_context=ctx)
    c.login(U, pw)
    c.logout()
    return "logged in"

def pop3_starttls(pw):
    c = poplib.POP3(H, 110)
    c.stls(context=ctx)
    c.user(U)
    c.pass_(pw)
    c.quit()
    return "logged in"

def pop3s(pw):
    c = poplib.POP3_SSL(H, 995, context=ctx)
    c.user(U)
    c.pass_(pw)
    c.quit()
    return "logged in"

def imap_plaintext(pw):
    c = imaplib.IMAP4(H, 143)
    caps = list(c.capabilities)
    try:
        c.login(U, pw)
    finally:
        out["imap_plaintext_capabilities"] = caps
    return "logged in"

def pop3_plaintext(pw):
    c = poplib.POP3(H, 110)
    c.user(U)
    c.pass_(pw)
    return "logged in"

def mailboxes(pw):
    c = imaplib.IMAP4_SSL(H, 993, ssl_context=ctx)
    c.login(U, pw)
    listed = [line.decode() for line in c.list()[1]]
    subscribed = [line.decode() for line in c.lsub()[1]]
    c.logout()
    return {"list": listed, "lsub": subscribed}

def read(pw, subject):
    c = imaplib.IMAP4_SSL(H, 993, ssl_context=ctx)
    c.login(U, pw)
    c.select("INBOX", readonly=True)
    found = c.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
    bodies = [c.fetch(n, "(RFC822)")[1][0][1].decode() for n in found]
    c.logout()
    return bodies

def lmtp(target, subject):
    c = smtplib.LMTP(target) if target.startswith("/") else smtplib.LMTP(target, p.get("lmtp_port", 24))
    msg = f"From: bob@example.org\r\nTo: {U}@example.com\r\nSubject: {subject}\r\n\r\nDelivered by {target}.\r\n"
    refused = c.sendmail("bob@example.org", [f"{U}@example.com"], msg)
    c.quit()
    return refused

for name, args in p["probes"]:
    attempt(name, globals()[name.split(":")[0]], *args)
print(json.dumps(out))
'''


AUTH_TEST = r'''
import sys
from mailwizard.host import Host
from mailwizard.steps.auth import auth_test
check = auth_test(Host(), sys.argv[1], sys.stdin.read())
print(check.status, check.evidence)
'''


def params(probes, **extra) -> str:
    _, cert = cached_cert("mail.example.com")
    return json.dumps({"ca": cert.decode(), "host": HOST_ADDR, "user": USER, "probes": probes, **extra})


def peer_client(host, probes, **extra) -> dict:
    out = host.run_peer(["python3", "-c", CLIENT, params(probes, **extra)], timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def host_client(host, probes, **extra) -> dict:
    out = host.run(["python3", "-c", CLIENT, params(probes, **extra)], timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def configure(host, answers_name: str, extra: str = "") -> None:
    answers = prepare(host, answers_name, extra=extra)
    out = wizard(host, "--answers", answers, "--unattended")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert "0 failed" in out.stdout, out.stdout[-3000:]
    assert host.run(["useradd", USER]).returncode == 0
    assert host.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n").returncode == 0
    host.add_peer()
    again = wizard(host, "--answers", answers, "--unattended", "--dry-run", "--json")
    plan = json.loads(again.stdout)["plan"]
    assert plan["summary"]["changes"] == 0, [c["description"] for c in plan["changes"] if not c["noop"]]


def flags_of(lines: list[str]) -> dict[str, str]:
    """LIST lines `(\\HasNoChildren \\Drafts) "/" Drafts` as {mailbox: flags}."""
    out = {}
    for line in lines:
        flags, _, rest = line.partition(") ")
        name = rest.split(" ", 1)[1].strip('"')
        out[name] = flags.lstrip("(")
    return out


def test_pam_user_logs_in_over_tls_only_and_sees_subscribed_special_use_mailboxes(throwaway):
    host = throwaway
    configure(host, "pam.toml", EXTRA_MAILBOXES)
    result = peer_client(host, [[name, [PASSWORD]] for name in ("imap_starttls", "imaps", "pop3_starttls", "pop3s",
                                                                 "mailboxes", "imap_plaintext", "pop3_plaintext")]
                         + [["imaps:wrong", ["not the password"]]])
    for name in ("imap_starttls", "imaps", "pop3_starttls", "pop3s"):
        assert result[name] == ["ok", "logged in"], (name, result[name])
    # no TLS, from another host: refused before the password is checked
    assert "LOGINDISABLED" in result["imap_plaintext_capabilities"]
    assert "Plaintext authentication disallowed" in result["imap_plaintext"][1], result["imap_plaintext"]
    assert "Plaintext authentication disallowed" in result["pop3_plaintext"][1], result["pop3_plaintext"]
    assert result["imaps:wrong"][0] == "error" and "AUTHENTICATIONFAILED" in result["imaps:wrong"][1]
    # the special-use mailboxes were created at first login, flagged and subscribed
    boxes = result["mailboxes"][1]
    listed, subscribed = flags_of(boxes["list"]), flags_of(boxes["lsub"])
    for name in ("Drafts", "Junk", "Trash", "Sent"):
        assert f"\\{name}" in listed[name].split(), (name, boxes)
        assert name in subscribed, boxes
    assert "Important Emails" in listed and "Important Emails" not in subscribed  # auto = create
    # the mail is stored as the virtual user, under /var/mail, not as alice
    store = host.path(f"/var/mail/{USER}")
    vmail_uid = int(host.run(["id", "-u", "vmail"]).stdout)
    assert store.is_dir() and store.stat().st_uid == vmail_uid
    assert oct(host.path("/var/mail").stat().st_mode & 0o7777) == "0o700"  # Debian's setgid bit cleared
    # the auth step's `doveadm auth test` check, against the real doveadm; the password never shown
    for password, status in ((PASSWORD, "pass"), ("not the password", "fail")):
        out = host.run(["python3", "-c", AUTH_TEST, USER], input=password, env={"PYTHONPATH": REPO})
        assert out.returncode == 0, out.stderr
        got, evidence = out.stdout.split(" ", 1)
        assert got == status and password not in evidence, out.stdout


def test_lmtp_socket_delivery_is_read_back_over_imap(throwaway):
    host = throwaway
    configure(host, "pam.toml")
    # the socket of the guide, and the one a chrooted Postfix reaches (lmtp:unix:private/dovecot-lmtp)
    sent = host_client(host, [["lmtp", ["/run/dovecot/lmtp", "via-run-socket"]],
                              ["lmtp:chroot", ["/var/spool/postfix/private/dovecot-lmtp", "via-chroot-socket"]]])
    assert sent == {"lmtp": ["ok", {}], "lmtp:chroot": ["ok", {}]}, sent
    socket = host.path("/run/dovecot/lmtp").stat()
    assert oct(socket.st_mode & 0o777) == "0o600" and socket.st_uid == int(host.run(["id", "-u", "postfix"]).stdout)
    got = peer_client(host, [["read", [PASSWORD, "via-run-socket"]], ["read:chroot", [PASSWORD, "via-chroot-socket"]]])
    assert len(got["read"][1]) == 1 and "Delivered by /run/dovecot/lmtp." in got["read"][1][0], got
    assert len(got["read:chroot"][1]) == 1, got
    # without an inet listener no LMTP port is open
    refused = peer_client(host, [["lmtp", [HOST_ADDR, "via-tcp"]]])
    assert refused["lmtp"][0] == "error" and "refused" in refused["lmtp"][1].lower(), refused


def test_full_answers_lmtp_tcp_listener_and_srv_vmail(throwaway):
    host = throwaway
    configure(host, "full.toml")
    sent = peer_client(host, [["lmtp", [HOST_ADDR, "via-tcp-24"]]])
    assert sent["lmtp"] == ["ok", {}], sent
    also = host_client(host, [["lmtp", ["/run/dovecot/lmtp", "via-socket"]]])
    assert also["lmtp"] == ["ok", {}], also
    got = peer_client(host, [["read", [PASSWORD, "via-tcp-24"]], ["read:socket", [PASSWORD, "via-socket"]],
                             ["pop3s", [PASSWORD]]])
    assert len(got["read"][1]) == 1 and f"Delivered by {HOST_ADDR}." in got["read"][1][0], got
    assert len(got["read:socket"][1]) == 1 and got["pop3s"] == ["ok", "logged in"], got
    store = host.path(f"/srv/vmail/{USER}")
    assert store.is_dir() and oct(host.path("/srv/vmail").stat().st_mode & 0o777) == "0o700"
    # an unknown recipient is refused, not accepted and bounced later
    unknown = peer_client(host, [["lmtp", [HOST_ADDR, "nobody-here"]]], user="nosuchuser")
    assert unknown["lmtp"][0] == "error" and "550" in unknown["lmtp"][1], unknown
