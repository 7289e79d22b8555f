"""End to end: the report's live checks pass on a correct server and fail, with the right message,
after the test breaks one thing by hand (TLS 1.1 allowed, an open relay, AUTH before STARTTLS).

The server is the one tests/e2e/test_postfix.py builds (Postfix internet site with
submission, Dovecot IMAP/POP3 over LMTP); `mailwizard verify` runs on it, and
its probes ask for relaying from the host's 198.51.100.1, outside mynetworks.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import put, wizard
from support import aged
from test_postfix import PASSWORD, SITE, setup_site

pytestmark = pytest.mark.e2e


def live(host) -> dict[str, dict]:
    out = wizard(host, "verify", "--json")
    checks = json.loads(out.stdout)
    return {c["name"]: c for c in checks if c["step"] == "live"}


WITH_TEST_ACCOUNT = SITE.replace("[auth]\n", '[auth]\ntest_user = "alice"\n'
                                  'test_password_file = "/root/alice.pass"\n', 1)


def test_live_checks_pass_then_fail_for_what_was_broken(throwaway):
    host = throwaway
    setup_site(host, WITH_TEST_ACCOUNT,
               before_wizard=lambda h: put(h, "/root/alice.pass", f"{PASSWORD}\n".encode(), 0o600))
    checks = live(host)
    failing = {n: c["evidence"] for n, c in checks.items() if c["status"] != "pass"}
    assert failing == {}
    for name in ("IMAP login as alice", "POP3 login as alice", "submission login as alice"):
        assert checks[name]["status"] == "pass"
    delivered = checks["delivery to alice@example.com"]["evidence"]
    assert "read back over IMAP" in delivered and "then deleted" in delivered
    assert PASSWORD not in json.dumps(checks)
    for port in (587, 465, 143, 993, 110, 995):
        assert any(name.endswith(f"({port}): TLS 1.1 refused") for name in checks), port
    assert not any(name.startswith("SMTP (25): TLS 1.") for name in checks)  # opportunistic: any version
    assert checks["no open relay"]["evidence"].startswith("from 198.51.100.1 (outside mynetworks)")
    code = checks["no open relay"]["evidence"].split("to a foreign domain: ")[1][:3]
    assert code in ("454", "554"), checks["no open relay"]

    # TLS 1.1 allowed again in Dovecot: the IMAPS and POP3S rows fail, SMTP's do not
    conf = host.path("/etc/dovecot/conf.d/10-ssl.conf")
    conf.write_text(conf.read_text().replace("ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")
                    + "ssl_cipher_list = ALL:@SECLEVEL=0\n")  # OpenSSL 3 refuses TLS < 1.2 above level 0
    host.run(["service", "dovecot", "restart"], check=True)
    # an open relay made by hand (every client OK'd before the restriction Postfix insists on; a bare
    # "permit" makes smtpd refuse to start), and AUTH offered before STARTTLS on 587
    host.run(["postconf", "-e", "smtpd_relay_restrictions=permit_mynetworks check_client_access static:OK "
              "defer_unauth_destination"], check=True)
    host.run(["postconf", "-P", "submission/inet/smtpd_tls_security_level=may",
              "submission/inet/smtpd_tls_auth_only=no",  # and plaintext mechanisms allowed without TLS:
              "submission/inet/smtpd_sasl_security_options=noanonymous"], check=True)
    # and a listener nobody chose: an smtpd on 2525
    host.run(["postconf", "-M", "2525/inet=2525 inet n - y - - smtpd"], check=True)
    aged(host.path("/etc/postfix/main.cf"))
    host.run(["postfix", "reload"], check=True)
    time.sleep(2)  # let Postfix's new smtpd processes take over
    out = wizard(host, "verify")
    assert out.returncode == 1, out.stdout
    checks = live(host)
    failing = {n for n, c in checks.items() if c["status"] == "fail"}
    assert {"IMAPS (993): TLS 1.1 refused", "POP3S (995): TLS 1.1 refused", "no open relay",
            "submission (587): no AUTH before STARTTLS"} <= failing, {n: checks[n]["evidence"] for n in failing}
    assert "SMTP (25): TLS 1.1 refused" not in failing
    extra = checks["nothing listening that was not chosen"]
    assert extra["status"] == "warn" and extra["evidence"] == "2525 held by master", extra
    assert "250" in checks["no open relay"]["evidence"]
    assert checks["no open relay"]["fix"].startswith("smtpd_relay_restrictions")
    assert "AUTH" in checks["submission (587): no AUTH before STARTTLS"]["evidence"]


def test_a_wrong_test_password_fails_the_logins_without_showing_it(throwaway):
    host = throwaway
    setup_site(host, WITH_TEST_ACCOUNT,
               before_wizard=lambda h: put(h, "/root/alice.pass", f"{PASSWORD}\n".encode(), 0o600))
    put(host, "/root/alice.pass", b"Not-her-password\n", 0o600)
    out = wizard(host, "verify")
    assert out.returncode == 1
    checks = live(host)
    for name in ("IMAP login as alice", "POP3 login as alice", "submission login as alice"):
        assert checks[name]["status"] == "fail" and checks[name]["fix"], checks[name]
    assert "Not-her-password" not in out.stdout + out.stderr
