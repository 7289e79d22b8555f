"""End to end: DKIM signing with a real OpenDKIM milter, verified by an independent verifier (issue 16).

The wizard installs OpenDKIM (already on this machine: `run-tests` installs
`opendkim`, `opendkim-tools` and `python3-dkim`), makes the keys, edits
/etc/opendkim.conf and points Postfix's milters at it. The records it reports
are then published by a small DNS server in the peer (dnspython, TXT only,
the value split into 255-character strings as a zone would), and the
throwaway host's resolver asks it. Then:

- mail that alice submits on 587 (STARTTLS, AUTH) arrives signed by
  example.com with selector mail, and python3-dkim's `dkimverify` (dkimpy,
  not OpenDKIM) verifies the signature against the key it looks up in DNS;
- mail that arrives on port 25 from outside without a login, claiming
  example.com, is not signed (a signature for anyone would make DKIM
  worthless);
- `mailwizard verify` finds both selectors' published records matching the keys;
- rotation: with the second selector made the signing one (and the first kept
  as the next), a re-run keeps both keys, restarts OpenDKIM, and mail is then
  signed with s=mail2 and verifies;
- rollback stops OpenDKIM, removes the keys and takes the milter out of main.cf;
- turned off again (issue 16's leftover): a re-run with `[dkim] enabled = false`
  takes the milter out of main.cf, stops OpenDKIM and disables it at boot
  (update-rc.d here: PID 1 is no systemd), keeps both keys, offers no DKIM
  record; mail still flows, unsigned; a second re-run is all no-ops; rollback
  gives back /etc as it was before the first run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from helpers import diff_snapshots, put, snapshot, wizard
from test_postfix import PASSWORD, SITE, setup_site, smtp

pytestmark = pytest.mark.e2e

# without sender_login_mismatch: port 25 then accepts a stranger claiming example.com, which must stay unsigned
DKIM = SITE.replace('sender_login_mismatch = "reject"\n', "") + """
[dkim]
enabled = true
selector = "mail"
next_selector = "mail2"
domains = ["example.com"]
"""

DNS = "198.51.100.2"
DNS_SERVER = f"SERVER = {DNS!r}\n" + r"""
import json, socket, sys
import dns.flags, dns.message, dns.rcode, dns.rdata, dns.rdatatype, dns.rrset
records = json.loads(sys.argv[1])  # name -> the TXT record's strings
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((SERVER, 53))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    try:
        q = dns.message.from_wire(data)
    except Exception:
        continue
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    question = q.question[0]
    name = question.name.to_text().rstrip(".").lower()
    if question.rdtype == dns.rdatatype.TXT and name in records:
        text = " ".join('"%s"' % part for part in records[name])
        r.answer.append(dns.rrset.from_rdata(question.name, 300, dns.rdata.from_text("IN", "TXT", text)))
    elif not any(n == name for n in records):
        r.set_rcode(dns.rcode.NXDOMAIN)
    s.sendto(r.to_wire(), peer)
"""


def fetch_message(host, subject: str) -> str:
    """The whole message as Dovecot stored it (doveadm fetch text), waiting for its delivery."""
    deadline = time.time() + 40
    while time.time() < deadline:
        out = host.run(["doveadm", "fetch", "-u", "alice", "text", "mailbox", "INBOX", "header", "Subject", subject])
        if out.returncode == 0 and out.stdout.startswith("text:"):
            return out.stdout[len("text:"):].lstrip("\n")
        time.sleep(0.5)
    raise AssertionError(f"no message {subject!r} in alice's INBOX")


def publish(host, records: list[dict]):
    """The DKIM records the wizard reported, served by a DNS server in the peer; the throwaway asks it."""
    from mailwizard.dns_records import txt_strings

    served = {r["name"]: txt_strings(r["value"]) for r in records if r["type"] == "TXT" and "_domainkey" in r["name"]}
    server = host.popen_peer(["python3", "-c", DNS_SERVER, json.dumps(served)])
    put(host, "/etc/resolv.conf", f"nameserver {DNS}\noptions timeout:2 attempts:1\n".encode())
    deadline = time.time() + 20
    while time.time() < deadline:
        probe = host.run(["python3", "-c", "import dns.resolver; print(dns.resolver.resolve("
                          "'mail._domainkey.example.com', 'TXT')[0].strings[0][:8])"])
        if probe.returncode == 0:
            return server
        time.sleep(0.3)
    server.kill()
    raise AssertionError("the DNS server in the peer does not answer: " + probe.stderr[-500:])


def test_submitted_mail_is_signed_and_verifies_independently(throwaway):
    host = throwaway
    setup_site(host, DKIM)

    # the keys: 2048 bits, 0600, owned by the milter's user; OpenDKIM listens for Postfix
    uid = int(host.run(["id", "-u", "opendkim"]).stdout)
    for selector in ("mail", "mail2"):
        st = host.path(f"/etc/dkimkeys/{selector}.private").stat()
        assert (st.st_mode & 0o777, st.st_uid) == (0o600, uid), (oct(st.st_mode), st.st_uid)
        bits = host.run(["openssl", "pkey", "-in", f"/etc/dkimkeys/{selector}.private", "-noout", "-text"]).stdout
        assert "2048 bit" in bits, bits[:200]
    milters = host.run(["postconf", "-h", "smtpd_milters", "non_smtpd_milters"]).stdout.split()
    assert milters == ["inet:127.0.0.1:8891", "$smtpd_milters"], milters
    conf = host.path("/etc/opendkim.conf").read_text()
    assert "\nSelector\t\t\tmail\n" in conf and "\nKeyFile\t\t\t/etc/dkimkeys/mail.private\n" in conf

    # the records the report gives, published
    reported = wizard(host, "verify", "--json")
    checks = {c["name"]: c for c in json.loads(reported.stdout)}
    assert checks["OpenDKIM runs and listens on inet:8891@127.0.0.1"]["status"] == "pass", checks
    out = wizard(host, "--answers", "/root/answers.toml", "--unattended", "--json")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert data["plan"]["summary"]["changes"] == 0, [c["description"] for c in data["plan"]["changes"]
                                                      if not c["noop"]]
    records = [r for r in data["dns_records"] if "_domainkey" in r["name"]]
    assert sorted(r["name"] for r in records) == ["mail._domainkey.example.com", "mail2._domainkey.example.com"]
    assert all(len(r["value"]) > 255 for r in records)  # a 2048-bit key: more than one TXT string
    server = publish(host, records)
    try:
        # submission: alice logs in, her mail is signed on its way
        sent = smtp(host, port=587, mail_from="alice@example.com", rcpt="alice@example.com",
                    subject="dkim-submitted", login=("alice", PASSWORD), tls=True)
        assert sent["result"] == "accepted", sent
        message = fetch_message(host, "dkim-submitted")
        signature = [line for line in message.splitlines() if line.startswith("DKIM-Signature:")]
        assert signature and "d=example.com" in message and "s=mail;" in message, message[:1500]
        verified = host.run(["dkimverify"], input=message)
        assert verified.returncode == 0 and "signature ok" in verified.stdout, verified.stdout + verified.stderr
        # the same message with its body changed no longer verifies: the verifier really checks
        tampered = host.run(["dkimverify"], input=message.replace("hello from the peer", "hello from someone"))
        assert tampered.returncode != 0 and "body hash mismatch" in tampered.stderr, tampered.stdout + tampered.stderr

        # port 25 without a login, claiming example.com: not signed
        sent = smtp(host, port=25, mail_from="boss@example.com", rcpt="alice@example.com", subject="dkim-forged")
        assert sent["result"] == "accepted", sent
        forged = fetch_message(host, "dkim-forged")
        assert "DKIM-Signature:" not in forged, forged[:1500]

        # the report finds the published records matching the keys
        checked = wizard(host, "verify", "--json")
        statuses = {c["name"]: c["status"] for c in json.loads(checked.stdout)}
        for selector in ("mail", "mail2"):
            assert statuses[f"DKIM record {selector}._domainkey.example.com matches the key"] == "pass", statuses

        # rotation: the next key, published above, becomes the one that signs; the old one stays published
        rotated = DKIM.replace('selector = "mail"\nnext_selector = "mail2"',
                               'selector = "mail2"\nnext_selector = "mail"')
        assert rotated != DKIM
        put(host, "/root/answers.toml", rotated.encode(), 0o600)
        out = wizard(host, "--answers", "/root/answers.toml", "--unattended", "--on-conflict", "keep")
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
        assert "+ restart opendkim" in out.stdout and "= make the 2048-bit DKIM key of selector mail2" in out.stdout
        sent = smtp(host, port=587, mail_from="alice@example.com", rcpt="alice@example.com",
                    subject="dkim-rotated", login=("alice", PASSWORD), tls=True)
        assert sent["result"] == "accepted", sent
        message = fetch_message(host, "dkim-rotated")
        assert "s=mail2;" in message, message[:1500]
        verified = host.run(["dkimverify"], input=message)
        assert verified.returncode == 0 and "signature ok" in verified.stdout, verified.stdout + verified.stderr
    finally:
        server.kill()

    # rollback: OpenDKIM stopped, keys gone, opendkim.conf and main.cf without the wizard's settings
    back = wizard(host, "rollback", "--on-conflict", "take")
    assert back.returncode == 0, back.stdout + back.stderr
    assert not host.path("/etc/dkimkeys/mail.private").exists()
    assert not host.path("/etc/dkimkeys/mail2.private").exists()
    assert host.run(["service", "opendkim", "status"]).returncode != 0
    assert host.path("/etc/opendkim.conf").read_bytes() == Path("/etc/opendkim.conf").read_bytes()
    main = host.path("/etc/postfix/main.cf")
    assert not main.exists() or "smtpd_milters" not in main.read_text()


def opendkim_runs(host) -> bool:
    """By the process list (a stop returns before the daemon is gone: waited for a while)."""
    deadline = time.monotonic() + 30
    while any(p.argv and p.argv[0].rsplit("/", 1)[-1] == "opendkim" for p in host.processes()):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.2)
    return False


def test_turned_off_again_opendkim_stops_the_keys_stay_and_mail_flows(throwaway):
    host = throwaway
    before: dict = {}
    setup_site(host, DKIM, before_wizard=lambda h: before.update(snapshot(h, "/etc")))
    assert host.run(["service", "opendkim", "status"]).returncode == 0
    keys = {path: host.path(path).read_bytes() for path in ("/etc/dkimkeys/mail.private",
                                                              "/etc/dkimkeys/mail2.private")}

    off = DKIM.replace("[dkim]\nenabled = true\n", "[dkim]\nenabled = false\n")
    assert off != DKIM
    put(host, "/root/answers.toml", off.encode(), 0o600)
    # main.cf carries the test's maillog_file (an edit of the administrator's): taken along with the plan
    out = wizard(host, "--answers", "/root/answers.toml", "--unattended", "--on-conflict", "take", "--json")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    data = json.loads(out.stdout)
    done = [c for c in data["plan"]["changes"] if c["step"] == "dkim" and not c["noop"]]
    assert [c["commands"] for c in done] == [
        [["postconf", "-X", "smtpd_milters", "non_smtpd_milters", "milter_default_action"]],
        [["service", "opendkim", "stop"], ["update-rc.d", "opendkim", "disable"]]]
    assert "its keys stay in /etc/dkimkeys" in done[1]["description"]
    assert not [r for r in data["dns_records"] if "_domainkey" in r["name"]]  # the Report offers no record

    assert not opendkim_runs(host)
    assert host.run(["service", "opendkim", "status"]).returncode != 0
    assert not [n for n in host.run(["ls", "/etc/rc2.d"]).stdout.split() if n.startswith("S") and "opendkim" in n]
    settings = host.run(["postconf", "-n"], check=True).stdout
    assert "milter" not in settings and "8891" not in settings, settings
    assert {path: host.path(path).read_bytes() for path in keys} == keys  # the keys kept, byte for byte

    # mail still flows: submitted and delivered, no longer signed
    sent = smtp(host, port=587, mail_from="alice@example.com", rcpt="alice@example.com",
                subject="dkim-off", login=("alice", PASSWORD), tls=True)
    assert sent["result"] == "accepted", sent
    assert "DKIM-Signature:" not in fetch_message(host, "dkim-off")

    again = wizard(host, "--answers", "/root/answers.toml", "--unattended", "--json")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert json.loads(again.stdout)["plan"]["summary"]["changes"] == 0

    # rollback: /etc as before the first run (the keys it made gone, OpenDKIM enabled at boot again as it was)
    back = wizard(host, "rollback", "--on-conflict", "take")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "undone: update-rc.d opendkim enable" in back.stdout
    assert diff_snapshots(before, snapshot(host, "/etc")) == []
    assert not host.path("/var/lib/mailwizard").exists()
    assert not opendkim_runs(host)
