"""End to end, issue 7: a host configured BY HAND the guide's way is read back, and a re-run keeps it.

In a throwaway copy of this machine Postfix and Dovecot are configured as an
administrator following the guide would (`postconf -e`, one key per call, and
edits in /etc/dovecot/conf.d), without the wizard. Then
`mailwizard --unattended --dry-run --json` without an answers file plans from
the host's own settings: no change touches a setting that is already right.
The prefilled answers (cli.build_session, as the TUI gets them) are what was
set, and changing one answer changes the plan by that one setting only.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources

import pytest

from helpers import CA, CERT, KEY, REPO, prepare, wizard
from support import aged

pytestmark = pytest.mark.e2e

POSTFIX = [  # guide 2.1 (internet site), 2.2 (TLS), 2.7 (delivery to Dovecot over LMTP), in this order
    ("inet_interfaces", "all"), ("myhostname", "mail.example.com"), ("mydomain", "example.com"),
    ("myorigin", "$mydomain"), ("mynetworks", "127.0.0.0/8, [::1]/128, 192.0.2.0/24"),
    ("mydestination", "$myhostname, localhost.$mydomain, localhost, $mydomain"),
    ("smtpd_tls_cert_file", CERT), ("smtpd_tls_key_file", KEY), ("smtpd_tls_security_level", "may"),
    ("mailbox_transport", "lmtp:unix:private/dovecot-lmtp"),
]
DOVECOT_SETTINGS = ("ssl_cert", "ssl_key", "ssl_ca", "ssl_dh", "mail_location", "first_valid_uid",
                    "override_fields", "protocols", "mode", "user", "group")
LMTP_LISTENERS = """
  unix_listener lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
  unix_listener /var/spool/postfix/private/dovecot-lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
"""

# Runs in the host: the session the wizard builds without --answers, its plan, and the plan after one change
SESSION = r'''
import json
from mailwizard.cli import build_session, parser
session, problems = build_session(parser().parse_args(["--dry-run"]))
def active(plan):
    return [[c.step, c.key(), c.commands(), c.diff()] for c in plan.active()]
before = active(session.plan())
session.answers.postfix.myorigin = "$myhostname"
after = active(session.plan())
session.answers.postfix.myorigin = "$mydomain"
print(json.dumps({"prefilled": session.prefilled, "answers": session.answers.to_toml(),
                  "problems": [str(p) for p in problems], "before": before, "after": after}))
'''


def edit(host, path: str, old: str, new: str, count: int = 1) -> None:
    real = host.path(path)
    text = real.read_text()
    assert len(re.findall(old, text, re.M)) >= count, (path, old)
    real.write_text(re.sub(old, new, text, count=count, flags=re.M))


def configure_by_hand(host) -> None:
    prepare(host, certs=True)  # the certificate, its key and the CA in place, as an administrator copies them
    run = lambda *argv: host.run(list(argv), check=True)  # noqa: E731
    # Dovecot (guide 1.1): TLS, the vmail user and mail location, PAM users, LMTP for Postfix
    run("chown", "root:root", KEY)
    run("chmod", "600", KEY)
    ffdhe = (resources.files("mailwizard") / "templates" / "ffdhe4096.pem").read_bytes()
    host.path("/etc/dovecot/dh.pem").write_bytes(ffdhe)  # RFC 7919's group instead of a 4096-bit dhparam run
    ssl = "/etc/dovecot/conf.d/10-ssl.conf"
    edit(host, ssl, r"^ssl_cert = .*$", f"ssl_cert = <{CERT}")
    edit(host, ssl, r"^ssl_key = .*$", f"ssl_key = <{KEY}")
    edit(host, ssl, r"^#?ssl_ca = .*$", f"ssl_ca = <{CA}")
    edit(host, ssl, r"^#?ssl_dh = .*$", "ssl_dh = </etc/dovecot/dh.pem")
    run("useradd", "--home-dir", "/var/mail", "--shell", "/usr/sbin/nologin", "vmail")
    run("chown", "vmail:vmail", "/var/mail")
    run("chmod", "00700", "/var/mail")
    mail = "/etc/dovecot/conf.d/10-mail.conf"
    edit(host, mail, r"^mail_location = .*$", "mail_location = sdbox:/var/mail/%n/")
    edit(host, mail, r"^#?first_valid_uid = .*$", "first_valid_uid = 1000")
    edit(host, "/etc/dovecot/conf.d/auth-system.conf.ext", r"^(userdb \{\n(?:\s*#.*\n)*\s*driver = passwd\n)",
         r"\1  override_fields = uid=vmail gid=vmail home=/var/mail/%n/\n")
    edit(host, "/etc/dovecot/conf.d/10-master.conf", r"^service lmtp \{\n(\s*unix_listener lmtp \{\n(?:.*\n)*?\s*\}\n)",
         "service lmtp {\n" + LMTP_LISTENERS.lstrip("\n"))
    edit(host, "/etc/dovecot/dovecot.conf", r"^(!include_try /usr/share/dovecot/protocols\.d/\*\.protocol)$",
         r"\1\nprotocols = imap pop3 lmtp")
    assert host.run(["doveconf", "-n"]).returncode == 0
    # Postfix (Debian's "No configuration" leaves no main.cf: start from main.cf.debian, as its docs say)
    run("cp", "/usr/share/postfix/main.cf.debian", "/etc/postfix/main.cf")
    for key, value in POSTFIX:  # one key per call: postconf -e appends new keys in no fixed order
        run("postconf", "-e", f"{key}={value}")
    aged(host.path("/etc/postfix/main.cf"))
    assert host.run(["postfix", "check"]).returncode == 0


def active(plan: dict) -> list[dict]:
    return [c for c in plan["changes"] if not c["noop"]]


def changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()]


def test_a_hand_configured_host_is_prefilled_and_a_rerun_keeps_its_settings(throwaway):
    host = throwaway
    configure_by_hand(host)

    out = wizard(host, "--unattended", "--dry-run", "--json")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    plan = json.loads(out.stdout)["plan"]
    changes = active(plan)
    # no Postfix setting made by hand is set again
    for change in changes:
        for argv in change["commands"]:
            for key, _ in POSTFIX:
                assert not any(a.startswith(f"{key}=") for a in argv), (key, argv)
    # Dovecot files: what changes is only what the wizard adds, never a setting made by hand
    for change in changes:
        for line in changed_lines(change["diff"] or ""):
            word = line[1:].strip().split(" ", 1)[0].lstrip("#")
            assert word not in DOVECOT_SETTINGS, (change["key"], line)
    noops = {c["key"]: c["noop"] for c in plan["changes"] if c["noop"]}
    assert "already" in noops["file:/etc/dovecot/conf.d/10-mail.conf"]
    assert "already" in noops["file:/etc/dovecot/dovecot.conf"]  # protocols = imap pop3 lmtp
    assert any(k.startswith("command:useradd") for k in noops)
    ssl = [c for c in changes if c["key"] == "file:/etc/dovecot/conf.d/10-ssl.conf"]
    assert {line.lstrip("+-#").split(" ")[0] for c in ssl for line in changed_lines(c["diff"])} <= \
        {"ssl_min_protocol"}, ssl  # the wizard's hardening (TLS 1.2 at least) is all that changes there

    got = host.run(["python3", "-c", SESSION], timeout=120, env={"PYTHONPATH": REPO})
    assert got.returncode == 0, got.stdout[-2000:] + got.stderr[-3000:]
    result = json.loads(got.stdout.strip().splitlines()[-1])
    answers = tomllib.loads(result["answers"])
    assert result["problems"] == []
    assert answers["server"] == {"hostname": "mail.example.com", "domain": "example.com"}
    assert answers["tls"]["cert"] == CERT and answers["tls"]["key"] == KEY and answers["tls"]["ca"] == CA
    assert answers["tls"]["dh"] == "ffdhe4096"
    assert answers["mailbox"] == {"user": "vmail", "root": "/var/mail", "format": "sdbox"}
    assert answers["auth"]["backend"] == "pam" and answers["auth"]["first_valid_uid"] == 1000
    assert answers["protocols"] == {"imap": True, "pop3": True, "lmtp": True, "sieve": False}
    assert {k: answers["lmtp"][k] for k in ("listener", "socket_user", "socket_group", "socket_mode")} == \
        {"listener": "unix", "socket_user": "postfix", "socket_group": "postfix", "socket_mode": "0600"}
    p = answers["postfix"]
    assert p["mode"] == "internet-site" and p["inet_interfaces"] == "all" and p["delivery"] == "lmtp"
    assert p["mynetworks"] == ["127.0.0.0/8", "[::1]/128", "192.0.2.0/24"] and p["myorigin"] == "$mydomain"
    assert "virtual_mailboxes" not in p  # system users: the automatic choice, mailbox_transport
    assert "tls_cert" not in p  # the same certificate as Dovecot's
    assert {"server.hostname", "postfix.mynetworks", "tls.cert", "mailbox.root"} <= set(result["prefilled"])

    # one answer changed: the plan differs by exactly that setting
    before, after = result["before"], result["after"]
    assert before == [[c["step"], c["key"], c["commands"], c["diff"]] for c in changes]
    differing = [a for a in after if a not in before]
    assert [a for a in before if a not in after] == []  # what else was planned stays as it was
    assert len(differing) == 1, differing
    step, key, commands, _ = differing[0]
    assert step == "postfix" and commands == [["postconf", "-e", "myorigin=$myhostname"]], differing


def test_verify_without_a_journal_checks_a_host_configured_by_hand(throwaway):
    """`mailwizard verify` on a server mailwizard never touched: its own settings are what is checked."""
    host = throwaway
    configure_by_hand(host)
    for service in ("postfix", "dovecot"):
        host.run(["service", service, "start"], check=True)
    out = wizard(host, "verify", "--json")
    assert not host.path("/var/lib/mailwizard/answers.toml").exists()  # verify keeps nothing
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert checks["what is verified"]["evidence"].startswith("no journal: this host's own Postfix and Dovecot")
    assumed = checks["settings not read from this host"]
    assert assumed["status"] == "warn" and "[replication]" in assumed["evidence"]
    for port, what in ((25, "SMTP"), (993, "IMAPS"), (143, "IMAP")):
        assert checks[f"{what} ({port}): TLS"]["status"] == "pass", checks[f"{what} ({port}): TLS"]
        chain = checks[f"{what} ({port}): certificate chain"]
        assert chain["status"] == "pass" and "the configured CA" in chain["evidence"], chain
    assert checks["postmaster@example.com accepted"]["status"] == "pass"
    assert checks["disk space for the mail store"]["evidence"].startswith("/var/mail: ")
    assert checks["dovecot running"]["status"] == "pass"
    # what this administrator skipped fails, and only that: the guide's TLS hardening, and newaliases
    failed = {c["name"]: c for c in checks.values() if c["status"] == "fail"}
    assert set(failed) == {"postconf shows the TLS settings", "aliases database built"}, failed
    assert "smtpd_tls_auth_only = no" in failed["postconf shows the TLS settings"]["evidence"]
    assert out.returncode == 1

    host.run(["service", "dovecot", "stop"], check=True)
    again = {c["name"]: c for c in json.loads(wizard(host, "verify", "--json").stdout)}
    assert again["IMAPS (993): TLS"]["status"] == "fail"
