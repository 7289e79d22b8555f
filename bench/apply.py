#!/usr/bin/env python3
"""Issue 12: the wizard's unattended apply against the same procedure done by hand (needs root).

Each run on a fresh throwaway host of this machine (tests/e2e/throwaway.py),
packages already present, the guide's 1.1 + 2.1 setup (pam.toml, prepared as
the end-to-end tests prepare it):

- wizard: `mailwizard --answers /root/answers.toml --unattended`, timed whole
  (process start to exit) and by phase (plan, apply, verify), with the slowest
  changes of the apply;
- by hand: HAND_SCRIPT below, what an administrator following the guide types
  (the postconf -e lines, the Dovecot edits with sed, the service starts);
  then the two hosts' /etc are compared and any difference is printed, so
  both really reach the same end state.

Prints the figures and the ratio apply / hand script (issue 12's target: 1.5 at most).
Usage: sudo python3 bench/apply.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from helpers import CA, CERT, KEY, diff_snapshots, prepare, snapshot  # noqa: E402
from mailwizard.journal import ORIG_SUFFIX  # noqa: E402
from mailwizard.steps.tls import ffdhe4096  # noqa: E402
from throwaway import ThrowawayHost  # noqa: E402

ANSWERS = "pam.toml"
FIGURES = "/root/bench-apply.json"

# The CLI with Session.plan/apply/verify timed and each change's start noted; the figures go to FIGURES.
DRIVER = f"""
import json, os, sys, time
from mailwizard import cli, engine
figures = {{"phases": {{}}, "changes": []}}
def timed(name, fn):
    def wrapper(self, *args, **kwargs):
        if name == "apply":
            on_event = args[1] if len(args) > 1 else kwargs.pop("on_event", engine._ignore)
            def note(event):
                if isinstance(event, (engine.ChangeStarted, engine.ChangeDone)):
                    figures["changes"].append((type(event).__name__, event.change.describe(), time.monotonic()))
                on_event(event)
            args = (args[0], note, *args[2:])
        t0 = time.monotonic()
        try:
            return fn(self, *args, **kwargs)
        finally:
            figures["phases"][name] = figures["phases"].get(name, 0) + time.monotonic() - t0
    return wrapper
for name in ("plan", "apply", "verify"):
    setattr(engine.Session, name, timed(name, getattr(engine.Session, name)))
code = cli.main(["--answers", "/root/answers.toml", "--unattended"])
figures["code"] = code
with open({FIGURES!r}, "w") as fh:
    json.dump(figures, fh)
sys.exit(code)
"""

DH = "/etc/dovecot/dh.pem"
# The guide's procedure for the same end state, as an administrator would script it (Debian 12).
HAND_SCRIPT = f"""set -e
chown root:root {KEY}
chmod 600 {KEY}
cat > {DH} <<'EOF'
{ffdhe4096().decode().strip()}
EOF
cd /etc/dovecot/conf.d
sed -i -e 's|^ssl_cert = .*|ssl_cert = <{CERT}|' -e 's|^ssl_key = .*|ssl_key = <{KEY}|' \\
    -e 's|^#ssl_ca = .*|ssl_ca = <{CA}|' -e 's|^ssl_dh = .*|ssl_dh = <{DH}|' \\
    -e 's|^#ssl_min_protocol = .*|ssl_min_protocol = TLSv1.2|' 10-ssl.conf
useradd --home-dir /var/mail --shell /usr/sbin/nologin vmail
chmod 00700 /var/mail
chown vmail:vmail /var/mail
sed -i -e 's|^mail_location = .*|mail_location = sdbox:/var/mail/%n/|' \\
    -e 's|^#first_valid_uid = .*|first_valid_uid = 1000|' 10-mail.conf
sed -i 's|^  #override_fields = .*|  override_fields = uid=vmail gid=vmail home=/var/mail/%n/|' auth-system.conf.ext
sed -i '/^protocol lmtp {{/,/^}}/s|^}}|  auth_username_format = %Ln\\n}}|' 20-lmtp.conf
sed -i '/^!include_try .*protocols.d/a \\
# Only these protocols, whatever the protocols.d files above enabled (mailwizard)\\nprotocols = imap pop3 lmtp' \\
    ../dovecot.conf
sed -i '/^  mailbox \\(Drafts\\|Junk\\|Trash\\|Sent\\) {{$/{{n;s|$|\\n    auto = subscribe|}}' 15-mailboxes.conf
sed -i -e '/^service lmtp {{/,/^}}/s|^    #mode = 0666$|    mode = 0600\\n    user = postfix\\n    group = postfix|' \\
    -e '/^service lmtp {{/,/^}}/s|^}}|  unix_listener /var/spool/postfix/private/dovecot-lmtp {{\\
    mode = 0600\\n    user = postfix\\n    group = postfix\\n  }}\\n}}|' 10-master.conf
cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
postconf -e 'inet_interfaces = all'
postconf -e 'myhostname = mail.example.com'
postconf -e 'mydomain = example.com'
postconf -e 'myorigin = $mydomain'
postconf -e 'mynetworks = 127.0.0.1/32, [::1]/128'
postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain'
postconf -e 'alias_maps = hash:/etc/aliases'
postconf -e 'alias_database = hash:/etc/aliases'
postconf -e 'smtpd_tls_cert_file = {CERT}'
postconf -e 'smtpd_tls_key_file = {KEY}'
postconf -e 'smtpd_tls_security_level = may'
postconf -e 'smtpd_tls_auth_only = yes'
postconf -e 'smtpd_tls_protocols = >=TLSv1.2'
postconf -e 'smtpd_tls_mandatory_protocols = >=TLSv1.2'
postconf -e 'smtp_tls_security_level = may'
postconf -e 'mailbox_transport = lmtp:unix:private/dovecot-lmtp'
postalias hash:/etc/aliases
service dovecot start >/dev/null
service postfix start
"""


def wizard_run() -> dict:
    with ThrowawayHost(hostname="mail.example.com") as host:
        prepare(host, ANSWERS)
        t0 = time.monotonic()
        out = host.run(["python3", "-c", DRIVER], env={"PYTHONPATH": str(REPO)}, timeout=600)
        total = time.monotonic() - t0
        if out.returncode != 0:
            raise SystemExit(f"the wizard failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        figures = json.loads(host.path(FIGURES).read_text())
        figures["total"] = total
        figures["etc"] = snapshot(host, "/etc")
        return figures


def hand_run() -> dict:
    with ThrowawayHost(hostname="mail.example.com") as host:
        prepare(host, ANSWERS)
        t0 = time.monotonic()
        out = host.run(["sh", "-c", HAND_SCRIPT], timeout=600)
        total = time.monotonic() - t0
        if out.returncode != 0:
            raise SystemExit(f"the hand script failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return {"total": total, "etc": snapshot(host, "/etc")}


def slowest(changes: list, count: int = 6) -> list[tuple[float, str]]:
    """The changes that took longest, from their start and done times."""
    started: dict[str, float] = {}
    spans = []
    for kind, what, at in changes:
        if kind == "ChangeStarted":
            started[what] = at
        elif what in started:
            spans.append((at - started.pop(what), what))
    return sorted(spans, reverse=True)[:count]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="runs of each (the median is compared; default 3)")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("apply bench: throwaway hosts need root", file=sys.stderr)
        return 2
    wizards, hands = [], []
    for run in range(args.runs):
        wizards.append(wizard_run())
        hands.append(hand_run())
        w, h = wizards[-1], hands[-1]
        ph = w["phases"]
        print(f"run {run + 1}: wizard {w['total']:.2f} s (plan {ph['plan']:.2f}, apply {ph['apply']:.2f}, "
              f"verify {ph['verify']:.2f}); by hand {h['total']:.2f} s", flush=True)
    apply_s = statistics.median(w["phases"]["apply"] for w in wizards)
    total_s = statistics.median(w["total"] for w in wizards)
    hand_s = statistics.median(h["total"] for h in hands)
    print("\nslowest changes of the last wizard run:")
    for seconds, what in slowest(wizards[-1]["changes"]):
        print(f"  {seconds:6.2f} s  {what[:100]}")
    differ = [d for d in diff_snapshots(wizards[-1]["etc"], hands[-1]["etc"])
              if ORIG_SUFFIX + ":" not in d]  # the journal's copies of secret-bearing originals (shadow)
    print("\n/etc after the wizard and after the hand script: "
          + ("the same" if not differ else f"{len(differ)} difference(s)"))
    for line in differ[:20]:
        print(f"  {line}")
    print(f"\nmedian of {args.runs}: wizard apply {apply_s:.2f} s, whole unattended run {total_s:.2f} s; "
          f"hand script {hand_s:.2f} s")
    print(f"ratio apply / hand script: {apply_s / hand_s:.2f} (target <= 1.5); "
          f"whole run / hand script: {total_s / hand_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
