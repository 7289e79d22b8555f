"""Delivery to Dovecot (guide 2.7 on this host, 2.8 on another) over LMTP.

System (PAM) users: `mailbox_transport = lmtp:...`; virtual users (LDAP/SQL):
`virtual_transport = lmtp:...` with `virtual_mailbox_domains = $mydomain`
or the answers' list (the domain then leaves mydestination, see
steps/postfix_site.py). The other transport setting is removed with
`postconf -X` when an earlier run set it.

The destination on this host is the socket steps/lmtp.py gives Postfix
(`lmtp.postfix_transport()`): `lmtp:unix:private/dovecot-lmtp`, a listener
inside Postfix's chroot /var/spool/postfix, where master.cf runs the lmtp
client chrooted (Debian), else the guide's `lmtp:unix:/run/dovecot/lmtp`.
On another host it is `lmtp:inet:HOST:PORT`, with `lmtp_tls_security_level =
may`: the guide's 2.8 notes that Dovecot's LMTP then offers STARTTLS, and
the message crosses the network.

Unknown recipients in a virtual mailbox domain are refused during the SMTP
dialogue (550 at RCPT), not accepted and then bounced (backscatter to forged
senders): `smtpd_recipient_restrictions = permit_mynetworks,
[permit_sasl_authenticated,] reject_unverified_recipient` with
`unverified_recipient_reject_code = 550`. Postfix's verify(8) probes the
address through the same route as mail (virtual aliases, then LMTP), and
Dovecot's LMTP answers 550 for a user its userdb does not know: one source
of truth, no second LDAP/SQL table for Postfix to keep in sync. The answers
are cached (known users 31 days, unknown 3 days, refreshed after 7 days and
3 hours): an address probed before its user existed is refused until the
refresh. Postfix's cache is `btree:`, which needs Berkeley DB; where the map
type is another (lmdb on RHEL 10) `address_verify_map` names that type. With
system (PAM) users local_recipient_maps already refuses unknown users.
"""

from __future__ import annotations

from mailwizard.answers import Answers, host_port
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.postfix_conf import Postconf, database_type, live_values, settings_check
from mailwizard.steps import Step, lmtp
from mailwizard.steps.postfix_site import virtual_mailboxes

QUEUE_DIR = "/var/spool/postfix"


def transport(answers: Answers, ctx: PlanContext) -> str:
    p = answers.postfix
    if p.lmtp_host:
        return "lmtp:inet:" + host_port(p.lmtp_host, p.lmtp_port)
    return lmtp.postfix_transport(ctx)


def delivery_settings(answers: Answers, destination: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(settings, settings to remove)."""
    # 2.8: across the network Dovecot's LMTP offers STARTTLS with its own certificate; use it when offered
    tls = [("lmtp_tls_security_level", "may")] if destination.startswith("lmtp:inet:") else []
    if virtual_mailboxes(answers):
        domains = ", ".join(answers.postfix.virtual_mailbox_domains) or "$mydomain"
        return [("virtual_mailbox_domains", domains), ("virtual_transport", destination), *tls], \
            ["mailbox_transport"]
    return [("mailbox_transport", destination), *tls], ["virtual_transport", "virtual_mailbox_domains"]


def verification_settings(answers: Answers, map_type: str) -> list[tuple[str, str]]:
    """Refuse unknown virtual users at RCPT by asking Dovecot's LMTP (address verification)."""
    if not virtual_mailboxes(answers):
        return []
    permit = ["permit_mynetworks"] + (["permit_sasl_authenticated"] if answers.postfix.submission else [])
    out = [("smtpd_recipient_restrictions", ", ".join([*permit, "reject_unverified_recipient"])),
           ("unverified_recipient_reject_code", "550")]
    if map_type != "hash":  # hash platforms have Berkeley DB, so the default btree cache works
        out.append(("address_verify_map", f"{map_type}:$data_directory/verify_cache"))
    return out


def applies(answers: Answers) -> bool:
    return answers.postfix.mode == "internet-site" and answers.postfix.delivery == "lmtp"


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    destination = transport(answers, ctx)
    settings, remove = delivery_settings(answers, destination)
    users = "virtual users" if virtual_mailboxes(answers) else "system users"
    section = "2.8" if answers.postfix.lmtp_host else "2.7"
    changes: list[Change] = [Postconf(settings, remove=remove,
                                      summary=f"main.cf ({section}): deliver mail for {users} to Dovecot "
                                              "over LMTP: " + ", ".join(f"{k} = {v}" for k, v in settings))]
    verification = verification_settings(answers, database_type(ctx))
    if verification:
        changes.append(Postconf(verification, summary="main.cf: refuse unknown users at RCPT (550), asking "
                                                      "Dovecot's LMTP: reject_unverified_recipient"))
    return changes


def socket_path(destination: str) -> str | None:
    """The socket a `lmtp:unix:` destination names, on the host (relative ones are in the queue dir)."""
    if not destination.startswith("lmtp:unix:"):
        return None
    path = destination[len("lmtp:unix:"):]
    return path if path.startswith("/") else f"{QUEUE_DIR}/{path}"


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    key = "virtual_transport" if virtual_mailboxes(answers) else "mailbox_transport"
    _, values, _ = live_values(host, [key])
    destination = values.get(key, "")
    settings, _ = delivery_settings(answers, destination)
    checks = [settings_check(host, "postfix_delivery", f"postconf shows {key}", settings)]
    if virtual_mailboxes(answers):
        _, values, _ = live_values(host, ["default_database_type"])
        map_type = values.get("default_database_type") or profile.map_type
        checks.append(settings_check(host, "postfix_delivery", "unknown users are refused at RCPT",
                                     verification_settings(answers, map_type)))
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
