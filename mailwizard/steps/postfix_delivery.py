"""Delivery to Dovecot (guide 2.7 on this host, 2.8 on another) over LMTP.

System (PAM) users: `mailbox_transport = lmtp:...`; virtual users (LDAP/SQL):
`virtual_transport = lmtp:...` with `virtual_mailbox_domains = $mydomain`
(the domain then leaves mydestination, see steps/postfix_site.py). The other
transport setting is removed with `postconf -X` when an earlier run set it.

The destination on this host is the socket steps/lmtp.py gives Postfix
(`lmtp.postfix_transport()`): `lmtp:unix:private/dovecot-lmtp`, a listener
inside Postfix's chroot /var/spool/postfix, where master.cf runs the lmtp
client chrooted (Debian), else the guide's `lmtp:unix:/run/dovecot/lmtp`.
On another host it is `lmtp:inet:HOST:PORT`.
"""

from __future__ import annotations

from mailwizard.answers import Answers
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.postfix_conf import Postconf, live_values, settings_check
from mailwizard.steps import Step, lmtp
from mailwizard.steps.postfix_site import virtual_mailboxes

QUEUE_DIR = "/var/spool/postfix"


def transport(answers: Answers, ctx: PlanContext) -> str:
    p = answers.postfix
    if p.lmtp_host:
        host = f"[{p.lmtp_host}]" if ":" in p.lmtp_host else p.lmtp_host
        return f"lmtp:inet:{host}:{p.lmtp_port}"
    return lmtp.postfix_transport(ctx)


def delivery_settings(answers: Answers, destination: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(settings, settings to remove)."""
    if virtual_mailboxes(answers):
        return [("virtual_mailbox_domains", "$mydomain"), ("virtual_transport", destination)], \
            ["mailbox_transport"]
    return [("mailbox_transport", destination)], ["virtual_transport", "virtual_mailbox_domains"]


def applies(answers: Answers) -> bool:
    return answers.postfix.mode == "internet-site" and answers.postfix.delivery == "lmtp"


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    destination = transport(answers, ctx)
    settings, remove = delivery_settings(answers, destination)
    users = "virtual users" if virtual_mailboxes(answers) else "system users"
    section = "2.8" if answers.postfix.lmtp_host else "2.7"
    return [Postconf(settings, remove=remove,
                     summary=f"main.cf ({section}): deliver mail for {users} to Dovecot over LMTP: "
                             + ", ".join(f"{k} = {v}" for k, v in settings))]


def socket_path(destination: str) -> str | None:
    """The socket a `lmtp:unix:` destination names, on the host (relative ones are in the queue dir)."""
    if not destination.startswith("lmtp:unix:"):
        return None
    path = destination[len("lmtp:unix:"):]
    return path if path.startswith("/") else f"{QUEUE_DIR}/{path}"


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    key = "virtual_transport" if virtual_mailboxes(answers) else "mailbox_transport"
    ok, values, _ = live_values(host, [key])
    destination = values.get(key, "")
    settings, _ = delivery_settings(answers, destination)
    checks = [settings_check(host, "postfix_delivery", f"postconf shows {key}", settings)]
    good = destination.startswith("lmtp:")
    checks.append(Check("postfix_delivery", "mail goes to Dovecot over LMTP", "pass" if good else "fail",
                        f"{key} = {destination}", "" if good else "re-run the wizard"))
    path = socket_path(destination)
    if path:
        meta = host.stat(path)
        checks.append(Check("postfix_delivery", f"LMTP socket {path}", "pass" if meta else "fail",
                            f"{meta.mode:04o} {host.user_name(meta.uid)}" if meta else "missing",
                            "" if meta else "reload Dovecot and check its LMTP listener"))
    return checks


STEP = Step("postfix_delivery", "Delivery to Dovecot", "2.7, 2.8", plan=plan, verify=verify, applies=applies)
