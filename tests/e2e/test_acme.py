"""End to end, issue 16: an ACME certificate from a real ACME server (Debian's pebble), renewed and rolled back.

Pebble and pebble-challtestsrv (its DNS: every name is the throwaway,
198.51.100.1) run in the throwaway's peer namespace (acmeserver.py). The
wizard's unattended apply of pam.toml with `[tls] acme = true` (its own
certificate paths left out, submission on; pebble's root in the throwaway's
trust store, as Let's Encrypt's is everywhere) installs nothing new (certbot is
installed on this machine), runs certbot's standalone HTTP-01 against pebble,
writes the deploy hook and starts cron for Debian's /etc/cron.d/certbot (no
systemd in a throwaway). Then, from the peer:

- the certificate served on 25 (STARTTLS), 587 (STARTTLS) and 993 is the one
  in /etc/letsencrypt/live/FQDN/, issued and signed by pebble's intermediate
  (read from pebble's management interface);
- `certbot renew --force-renewal` runs the deploy hook: the served
  certificate changes on all three ports with no restart by hand, and
  `mailwizard verify` passes its ACME checks;
- `mailwizard rollback` removes the hook and the lineage (`certbot delete`),
  keeps certbot's account, says so, and puts Dovecot's and Postfix's
  configuration back.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from acmeserver import CA_BUNDLE, DIRECTORY, issuing_chain, served, start, trust_root
from helpers import diff_snapshots, put, snapshot, statuses, wizard_here
from support import ANSWERS_DIR

pytestmark = pytest.mark.e2e

FQDN = "mail.example.com"
LIVE = f"/etc/letsencrypt/live/{FQDN}"
HOOK = "/etc/letsencrypt/renewal-hooks/deploy/mailwizard"
ENV = {"REQUESTS_CA_BUNDLE": CA_BUNDLE}  # certbot trusts pebble's listener (the directory) only
PORTS = (25, 587, 993)


def acme_answers(host) -> str:
    """pam.toml with its certificate files left out, an ACME certificate from pebble, and submission."""
    text = (ANSWERS_DIR / "pam.toml").read_text()
    text = re.sub(r"^(cert|key|ca) = .*\n", "", text, flags=re.MULTILINE)
    text = text.replace("[tls]\n", f'[tls]\nacme = true\nacme_email = "postmaster@example.com"\n'
                                   f'acme_server = "{DIRECTORY}"\n')
    text = text.replace('delivery = "lmtp"\n', 'delivery = "lmtp"\nsubmission = true\n')
    put(host, "/root/answers.toml", text.encode(), 0o600)
    return "/root/answers.toml"


def live_cert(host):
    from cryptography import x509

    return x509.load_pem_x509_certificates(host.path(f"{LIVE}/fullchain.pem").read_bytes())


def served_everywhere(host, want, timeout: float = 20.0) -> dict[int, int]:
    """The serial served on each port, once all serve `want` (or when `timeout` has passed)."""
    deadline = time.monotonic() + timeout
    while True:
        got = {port: served(host, port) for port in PORTS}
        if all(c == want for c in got.values()) or time.monotonic() > deadline:
            return {port: c.serial_number for port, c in got.items()}
        time.sleep(0.5)


def test_acme_certificate_from_pebble_renewed_and_rolled_back(throwaway):
    host = throwaway
    start(host)
    trust_root(host)
    answers = acme_answers(host)
    before = snapshot(host, "/etc")
    t = time.monotonic()
    out = wizard_here(host, "--answers", answers, "--unattended", "--json", env=ENV)
    applied_in = time.monotonic() - t
    data = json.loads(out.stdout)
    failed = [c for c in data.get("report", []) if c["status"] == "fail"]
    assert out.returncode == 0, json.dumps([data.get("apply"), failed], indent=1) + out.stderr[-2000:]
    got = statuses(data["report"])
    for name in ("acme/certificate issued by the ACME CA", "acme/deploy hook reloads Postfix and Dovecot after renewal",
                 "acme/certificate renewal scheduled", *(f"acme/port {p} serves certbot's current certificate"
                                                        for p in PORTS)):
        assert got.get(name) == "pass", (name, [c for c in data["report"] if c["step"] == "acme"])

    # the certificate is pebble's: issued and signed by its intermediate, for the FQDN
    leaf, *chain = live_cert(host)
    intermediate, _root = issuing_chain(host)
    assert leaf.issuer == intermediate.subject and chain[0] == intermediate
    leaf.verify_directly_issued_by(intermediate)
    assert "Pebble" in intermediate.subject.rfc4514_string()
    assert served_everywhere(host, leaf) == dict.fromkeys(PORTS, leaf.serial_number)
    assert [p for p in host.processes() if p.argv[:1] == ["/usr/sbin/cron"]]  # runs /etc/cron.d/certbot
    ssl_conf = host.path("/etc/dovecot/conf.d/10-ssl.conf").read_text()
    assert f"ssl_cert = <{LIVE}/fullchain.pem\n" in ssl_conf and f"ssl_key = <{LIVE}/privkey.pem\n" in ssl_conf
    assert host.run(["postconf", "-h", "smtpd_tls_cert_file"]).stdout.strip() == f"{LIVE}/fullchain.pem"

    # a forced renewal runs the deploy hook: all three ports serve the new certificate, nobody restarted anything
    renewed = host.run(["certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew"], env=ENV, timeout=180)
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    log = host.path("/var/log/letsencrypt/letsencrypt.log").read_text()
    assert f"Running deploy-hook command: {HOOK}" in log  # certbot ran the wizard's hook
    new_leaf = live_cert(host)[0]
    assert new_leaf != leaf and new_leaf.issuer == intermediate.subject
    assert served_everywhere(host, new_leaf) == dict.fromkeys(PORTS, new_leaf.serial_number)
    verify = wizard_here(host, "verify", "--json")
    after = statuses(json.loads(verify.stdout))
    assert {k: v for k, v in after.items() if k.startswith("acme/") and v != "pass"} == {}
    # without the journal, verify reads the ACME certificate back from the host and checks it the same way
    host.path("/var/lib/mailwizard").rename(host.path("/root/journal-aside"))
    inferred = statuses(json.loads(wizard_here(host, "verify", "--json").stdout))
    host.path("/root/journal-aside").rename(host.path("/var/lib/mailwizard"))
    assert {k: v for k, v in inferred.items() if k.startswith("acme/")} == \
        {k: v for k, v in after.items() if k.startswith("acme/")}

    # a second run has nothing to do (the lineage is certbot's to renew)
    again = wizard_here(host, "--answers", answers, "--unattended", "--dry-run", "--json", env=ENV)
    plan = json.loads(again.stdout)["plan"]
    assert [c["description"] for c in plan["changes"] if not c["noop"]] == []

    # rollback: the hook and the lineage go, the account stays (and rollback says so), the configuration is back
    back = wizard_here(host, "rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "certbot's ACME account" in back.stdout + back.stderr
    assert not host.path(HOOK).exists()
    assert not host.path(LIVE).exists() and not host.path(f"/etc/letsencrypt/renewal/{FQDN}.conf").exists()
    assert any(host.path("/etc/letsencrypt/accounts").rglob("regr.json"))
    assert "/etc/letsencrypt" not in host.path("/etc/dovecot/conf.d/10-ssl.conf").read_text()
    assert not [p for p in host.processes() if p.argv[:1] == ["/usr/sbin/cron"]]  # started by the wizard: stopped
    # everything else in /etc is as before the wizard: what differs is what rollback said it keeps (certbot's
    # account, its copies of keys and requests, and its own empty directories)
    kept = diff_snapshots(before, snapshot(host, "/etc"))
    certbots = ("letsencrypt/accounts", "letsencrypt/keys", "letsencrypt/csr", "letsencrypt/live/README:")
    empty_dirs = ("('dir', 493, 0, 0)", "('dir', 448, 0, 0)")
    assert kept and all(line.startswith(certbots) or line.endswith(empty_dirs) for line in kept), "\n".join(kept)
    print(f"\napply with pebble: {applied_in:.1f} s")
