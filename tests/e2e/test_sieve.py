"""End to end, issue 5 (guide 1.8): ManageSieve with a real client, Sieve on LMTP delivery, the spam filter.

In a throwaway copy of this machine the wizard applies pam.toml with
`sieve = true` (the [sieve] defaults: scripts run on LMTP delivery, the
global filter files `X-Spam-Flag: YES` into Junk). From a peer network
namespace (198.51.100.2: not loopback, which Dovecot trusts):

- a real ManageSieve client (`sievelib`) connects to 4190, upgrades with
  STARTTLS (the certificate checked against the test CA), logs in, uploads
  a script and activates it;
- AUTHENTICATE before STARTTLS is refused, and no SASL mechanism is offered;
- three messages delivered over LMTP land where the scripts say: one
  matching the user's script in the folder it names, one flagged as spam
  in Junk (the global filter runs first and stops: not in the user's folder
  even though it matches too), one in INBOX; read back over IMAPS.
"""

from __future__ import annotations

import json

import pytest

from helpers import ANSWERS_DIR, cached_cert, prepare, put, wizard

pytestmark = pytest.mark.e2e

USER, PASSWORD = "alice", "S1eve-p4ss 'word'"
HOST_ADDR = "198.51.100.1"
ANSWERS = (ANSWERS_DIR / "pam.toml").read_text().replace("sieve = false", "sieve = true")

USER_SCRIPT = """require ["fileinto", "mailbox"];
if header :contains "Subject" "[invoice]" {
  fileinto :create "Invoices";
}
"""

# Runs in the peer as `python3 -c PEER PARAMS_JSON`: the ManageSieve client, then IMAP; prints JSON.
PEER = r'''
import base64, imaplib, json, os, socket, ssl, sys
p = json.loads(sys.argv[1])
with open("/tmp/ca.pem", "w") as f:
    f.write(p["ca"])
os.environ["SSL_CERT_FILE"] = "/tmp/ca.pem"  # sievelib verifies the server against the default CAs
from sievelib.managesieve import Client
H, U, PW = p["host"], p["user"], p["password"]
out = {}

def lines_until_status(f):
    lines = []
    while True:
        line = f.readline().decode(errors="replace").rstrip("\r\n")
        lines.append(line)
        if not line or line.split(" ", 1)[0] in ("OK", "NO", "BYE"):
            return lines

if p["step"] == "upload":
    # before STARTTLS: what the server offers, and a PLAIN login it must refuse
    s = socket.create_connection((H, 4190), timeout=30)
    f = s.makefile("rb")
    out["greeting"] = lines_until_status(f)
    token = base64.b64encode(f"\0{U}\0{PW}".encode()).decode()
    s.sendall(f'AUTHENTICATE "PLAIN" "{token}"\r\n'.encode())
    out["auth_before_tls"] = lines_until_status(f)
    s.close()
    c = Client(H, 4190, srvhostname="mail.example.com")
    out["connected"] = c.connect(U, PW, starttls=True, authmech="PLAIN")
    out["tls"] = c.sock.version() if hasattr(c.sock, "version") else None
    out["sieve_extensions"] = c.get_sieve_capabilities()
    out["put"] = c.putscript("rules", p["script"])
    out["active"] = c.setactive("rules")
    out["listed"] = c.listscripts()
    out["read_back"] = c.getscript("rules")
    c.logout()
else:
    ctx = ssl.create_default_context(cafile="/tmp/ca.pem")
    ctx.check_hostname = False  # reached by address; the chain is still verified
    m = imaplib.IMAP4_SSL(H, 993, ssl_context=ctx)
    m.login(U, PW)
    for box in p["boxes"]:
        typ, _ = m.select(f'"{box}"', readonly=True)
        if typ != "OK":
            out[box] = None
            continue
        found = m.search(None, "ALL")[1][0].split()
        out[box] = [m.fetch(n, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1].decode().strip() for n in found]
    m.logout()
print(json.dumps(out))
'''

LMTP = r'''
import json, smtplib, sys
sent = {}
for subject, headers in json.loads(sys.argv[1]):
    c = smtplib.LMTP("/run/dovecot/lmtp")
    msg = f"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\n{headers}\r\nbody\r\n"
    sent[subject] = c.sendmail("bob@example.org", ["alice@example.com"], msg)
    c.quit()
print(json.dumps(sent))
'''


def peer(host, **params) -> dict:
    _, cert = cached_cert("mail.example.com")
    data = json.dumps({"ca": cert.decode(), "host": HOST_ADDR, "user": USER, "password": PASSWORD, **params})
    out = host.run_peer(["python3", "-c", PEER, data], timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def configure(host) -> str:
    prepare(host)
    put(host, "/root/answers.toml", ANSWERS.encode(), 0o600)
    for argv, stdin in ((["useradd", USER], None), (["chpasswd"], f"{USER}:{PASSWORD}\n")):
        assert host.run(argv, input=stdin).returncode == 0
    out = wizard(host, "--answers", "/root/answers.toml", "--unattended")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 failed" in out.stdout, out.stdout[-4000:]
    host.add_peer()
    return out.stdout


def test_managesieve_upload_filters_lmtp_delivery_and_spam_goes_to_junk(throwaway):
    host = throwaway
    report = configure(host)
    # the step's own verify: STARTTLS and SIEVE offered on 4190, the global filter compiles
    assert "PASS  ManageSieve on 4190 offers STARTTLS and SIEVE" in report, report[-3000:]
    assert "PASS  global filter files X-Spam-Flag: YES into Junk" in report
    assert host.path("/etc/dovecot/sieve/spam-to-junk.svbin").stat().st_size > 0

    up = peer(host, step="upload", script=USER_SCRIPT)
    # before STARTTLS, from another host: no mechanism offered, a login refused
    greeting = "\n".join(up["greeting"])
    assert '"STARTTLS"' in greeting and '"SIEVE"' in greeting
    assert '"SASL" ""' in greeting, greeting
    # ssl = required (the step's), not only disable_plaintext_auth: "not allowed until SSL/TLS is enabled"
    refusal = up["auth_before_tls"][-1]
    assert refusal.startswith("NO (ENCRYPT-NEEDED)") and "until SSL/TLS" in refusal, up["auth_before_tls"]
    # after STARTTLS (certificate verified against the CA), logged in, uploaded, activated
    assert up["connected"] is True and up["tls"] in ("TLSv1.2", "TLSv1.3"), up
    assert "fileinto" in up["sieve_extensions"] and "mailbox" in up["sieve_extensions"]
    assert up["put"] is True and up["active"] is True
    assert up["listed"] == ["rules", []], up["listed"]
    assert up["read_back"].strip() == USER_SCRIPT.strip()

    messages = [["[invoice] March", ""], ["cheap pills [invoice]", "X-Spam-Flag: YES\r\n"],
                ["hello alice", ""]]
    sent = host.run(["python3", "-c", LMTP, json.dumps(messages)], timeout=60)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert json.loads(sent.stdout) == {subject: {} for subject, _ in messages}

    got = peer(host, step="read", boxes=["INBOX", "Invoices", "Junk"])
    assert got["Invoices"] == ["Subject: [invoice] March"], got
    assert got["Junk"] == ["Subject: cheap pills [invoice]"], got  # the global filter stopped the user's
    assert got["INBOX"] == ["Subject: hello alice"], got
    # the user's script is stored under the user's home (the mail store), owned by the mail user
    active = host.path(f"/var/mail/{USER}/.dovecot.sieve", follow_symlinks=False)
    assert active.is_symlink() and host.path(f"/var/mail/{USER}/sieve/rules.sieve").is_file()
    assert active.lstat().st_uid == int(host.run(["id", "-u", "vmail"]).stdout)

    again = wizard(host, "--answers", "/root/answers.toml", "--unattended", "--dry-run", "--json")
    plan = json.loads(again.stdout)["plan"]
    assert plan["summary"]["changes"] == 0, [c["description"] for c in plan["changes"] if not c["noop"]]
