"""End to end: the report's Files, Services and live TLS checks pass on a correct server and fail, each with
its own message, after the test breaks that one thing by hand — then the test mends it and breaks the next.

One throwaway host, configured once (test_postfix.py's internet site, plus replication so that a
secret-bearing 10-replication.conf exists): the private key made 0644, 10-replication.conf made 0644, the
mail root made 0755, Dovecot stopped, an expired certificate served by Dovecot and Postfix, TLS 1.0
allowed by Dovecot. `mailwizard verify --json` is run after each break.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authservers import wait_port
from helpers import CERT, KEY, REPO, put, wizard
from test_postfix import SITE, setup_site

pytestmark = pytest.mark.e2e

REPLICATION_CONF = "/etc/dovecot/conf.d/10-replication.conf"
WITH_REPLICATION = SITE + """
[replication]
enabled = true
partner = "198.51.100.12"
port = 12345
password_file = "/root/doveadm.pass"
partner_addresses = ["198.51.100.12/32"]
"""
DOVECOT_TLS_PORTS = ("IMAP (143)", "IMAPS (993)", "POP3 (110)", "POP3S (995)")
SMTP_TLS_PORTS = ("SMTP (25)", "submission (587)", "submissions (465)")
MANDATORY_SMTP_TLS_PORTS = SMTP_TLS_PORTS[1:]  # port 25's STARTTLS is opportunistic: old versions not probed


def report(host) -> tuple[int, dict[tuple[str, str], dict]]:
    out = wizard(host, "verify", "--json")
    assert out.stdout.startswith("["), out.stderr[-3000:]
    return out.returncode, {(c["step"], c["name"]): c for c in json.loads(out.stdout)}


def failing(checks) -> dict[tuple[str, str], str]:
    return {key: c["evidence"] for key, c in checks.items() if c["status"] == "fail"}


def expired_certificate(key_pem: bytes, fqdn: str) -> bytes:
    """A self-signed certificate for `fqdn` on the existing key, expired (3 days less an hour) ago: -3 days left."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(key_pem, password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fqdn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=400))
            .not_valid_after(now - dt.timedelta(days=3) + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(fqdn)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


# every TLS port of the site, probed from inside the host until each serves the certificate file's content
SERVED = """
import sys, time
from mailwizard import certs, probes
from mailwizard.steps.live import SPEAKS
wanted = certs.load_cert(open(sys.argv[1], "rb").read())
ports = {int(title.split("(")[1].rstrip(")")): title.split(" (")[0] for title in sys.argv[2:]}  # "IMAPS (993)"
deadline = time.monotonic() + 60
while ports and time.monotonic() < deadline:
    for port, what in list(ports.items()):
        got = probes.tls("127.0.0.1", port, *SPEAKS[what])
        if got.ok and got.cert_pem and certs.load_cert(got.cert_pem) == wanted:
            del ports[port]
    time.sleep(0.2)
print(" ".join(map(str, ports)))
"""


def reload_both(host) -> None:
    """Dovecot restarted and Postfix reloaded, until every port serves the certificate now in place: under
    load, Postfix's smtpd processes of before the reload answered a probe after a fixed 2 s wait."""
    host.run(["service", "dovecot", "restart"], check=True)
    host.run(["postfix", "reload"], check=True)
    for port in (993, 995, 143, 110):
        wait_port(host, port)
    left = host.run(["python3", "-c", SERVED, CERT, *DOVECOT_TLS_PORTS, *SMTP_TLS_PORTS], env={"PYTHONPATH": REPO},
                    timeout=120)
    assert left.returncode == 0 and not left.stdout.strip(), f"still the old certificate on {left.stdout}" \
        + left.stderr[-2000:]


def test_files_services_and_tls_checks_pass_then_fail_for_what_was_broken(throwaway):
    host = throwaway
    setup_site(host, WITH_REPLICATION,
               before_wizard=lambda h: put(h, "/root/doveadm.pass", b"Replication-s3cret\n", 0o600))

    # a correct server: every Files, Services and SELinux row passes, and TLS 1.0 is refused everywhere
    code, checks = report(host)
    assert {k: e for k, e in failing(checks).items() if k[0] != "replication"} == {}, failing(checks)
    files = {name: c for (step, name), c in checks.items() if step == "files"}
    assert {"server.example.com.key is 0600 root:root", "/var/mail is 0700 vmail:vmail",
            "10-replication.conf is 0600 root:root", "doveadm.pass is readable by root alone"} <= set(files)
    assert all(c["status"] == "pass" for c in files.values()), files
    for name in ("dovecot running", "dovecot enabled at boot", "postfix running", "postfix enabled at boot"):
        assert checks[("services", name)]["status"] == "pass", checks[("services", name)]
    selinux = checks[("selinux", "SELinux")]
    assert selinux["status"] == "pass" and selinux["evidence"].startswith("not applicable")
    for title in DOVECOT_TLS_PORTS + MANDATORY_SMTP_TLS_PORTS:
        for label in ("TLS 1.0", "TLS 1.1"):
            assert checks[("live", f"{title}: {label} refused")]["status"] == "pass", title
    starttls = checks[("postfix_tls", "STARTTLS with TLS 1.2 on port 25")]
    assert starttls["status"] == "pass" and starttls["evidence"].startswith("TLSv1.2"), starttls
    before = set(failing(checks))  # the replication partner does not exist: its rows may fail throughout

    def only_new_failure(expected: set[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        code, checks = report(host)
        assert code == 1
        assert set(failing(checks)) - before == expected, failing(checks)
        return checks

    # the private key, then a secret-bearing config, readable by everyone
    for path in (KEY, REPLICATION_CONF):
        host.path(path).chmod(0o644)
        row = ("files", f"{path.rsplit('/', 1)[-1]} is 0600 root:root")
        got = only_new_failure({row})[row]
        assert got["evidence"] == f"{path}: 0644 root:root"
        assert got["fix"] == f"chown root:root {path}; chmod 600 {path}"
        host.path(path).chmod(0o600)

    # the mail root open to everyone
    host.path("/var/mail").chmod(0o755)
    row = ("files", "/var/mail is 0700 vmail:vmail")
    got = only_new_failure({row})[row]
    assert got["evidence"] == "/var/mail: 0755 vmail:vmail"
    assert got["fix"] == "chown vmail:vmail /var/mail; chmod 700 /var/mail"
    host.path("/var/mail").chmod(0o700)

    # Dovecot stopped: the service row and every Dovecot TLS port fail, each naming the start command
    host.run(["service", "dovecot", "stop"], check=True)
    code, checks = report(host)
    assert code == 1
    stopped = checks[("services", "dovecot running")]
    assert stopped["status"] == "fail" and stopped["fix"] == "service dovecot start"
    for title in DOVECOT_TLS_PORTS:
        row = checks[("live", f"{title}: TLS")]
        assert row["status"] == "fail" and "service dovecot start" in row["fix"], row
    for title in SMTP_TLS_PORTS:
        assert checks[("live", f"{title}: TLS")]["status"] == "pass", title
    host.run(["service", "dovecot", "start"], check=True)
    for port in (993, 995, 143, 110):
        wait_port(host, port)

    # an expired certificate for the host name, served by Dovecot and Postfix
    good_cert = host.path(CERT).read_bytes()
    put(host, CERT, expired_certificate(host.path(KEY).read_bytes(), "mail.example.com"))
    reload_both(host)
    code, checks = report(host)
    assert code == 1
    for title in DOVECOT_TLS_PORTS + SMTP_TLS_PORTS:
        assert ("live", f"{title}: certificate") in checks, checks.get(("live", f"{title}: TLS"))
        row = checks[("live", f"{title}: certificate")]
        assert row["status"] == "fail" and row["evidence"] == "names mail.example.com; -3 days left", row
        assert row["fix"] == "renew the certificate"
    validity = checks[("tls", "certificate validity")]
    assert validity["status"] == "fail" and validity["evidence"] == "-3 days left"
    put(host, CERT, good_cert)
    reload_both(host)
    code, checks = report(host)
    assert set(failing(checks)) == before, failing(checks)

    # TLS 1.0 allowed by Dovecot: its TLS 1.0 rows fail, Postfix's do not
    conf = host.path("/etc/dovecot/conf.d/10-ssl.conf")
    conf.write_text(conf.read_text().replace("ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
                    + "ssl_cipher_list = ALL:@SECLEVEL=0\n")  # OpenSSL 3 refuses TLS < 1.2 above level 0
    reload_both(host)
    code, checks = report(host)
    assert code == 1
    for title in DOVECOT_TLS_PORTS:
        row = checks[("live", f"{title}: TLS 1.0 refused")]
        assert row["status"] == "fail" and row["evidence"] == "TLSv1", row
        assert "ssl_min_protocol" in row["fix"]
    for title in MANDATORY_SMTP_TLS_PORTS:
        assert checks[("live", f"{title}: TLS 1.0 refused")]["status"] == "pass", title
