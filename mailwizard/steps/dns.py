"""DNS (beyond the guide): the records to publish for a receiving server, checked against DNS.

Nothing is planned: the wizard cannot publish DNS records. The report shows
them as a zone snippet (`snippet()`), and verify compares each with what DNS
answers (mailwizard.dns_records). The public addresses are `[dns] addresses`
or, when not given, the host's own globally routable addresses; a host behind
NAT has none, and the report says to give them.
"""

from __future__ import annotations

from mailwizard import dns_records
from mailwizard.answers import Answers
from mailwizard.host import Host
from mailwizard.plan import Check
from mailwizard.platform import Profile
from mailwizard.steps import Step, not_checkable


def addresses(answers: Answers, host: Host) -> list[str]:
    return list(answers.dns.addresses) or dns_records.public_addresses(host.addresses())


def records(answers: Answers, host: Host, profile: Profile | None = None) -> list[dns_records.Record]:
    from mailwizard.steps import dkim

    out = dns_records.records(answers.server.hostname, answers.server.domain, addresses(answers, host),
                              optional=answers.dns.optional)
    if profile is not None:
        out += dkim.records(answers, host, profile)
    return out


def snippet(answers: Answers, host: Host, profile: Profile | None = None) -> str:
    """The zone-file lines to publish, with a note when the public addresses are not known
    (and, given the platform, the DKIM keys' records, or a note for a key not made yet)."""
    from mailwizard.steps import dkim

    text = dns_records.zone_snippet(records(answers, host, profile))
    if profile is not None:
        text += dkim.missing_keys_note(answers, host, profile)
    if not addresses(answers, host):
        text = ("; this host has no public address (behind NAT?): add the A/AAAA and PTR records for the\n"
                "; address the Internet reaches it at, or give it as [dns] addresses in the answers\n") + text
    return text


def verify(answers: Answers, host: Host, profile: Profile, resolve=None) -> list[Check]:
    checks = []
    if not addresses(answers, host):
        checks.append(Check("dns", "public address known", "warn", "no globally routable address on this host",
                            "give the address the Internet reaches this host at as [dns] addresses"))
    if not answers.dns.check:
        return checks
    if not host.can_probe_network and resolve is None:
        return checks + [not_checkable("dns", "DNS records published")]
    try:
        resolve = resolve or dns_records.resolver()
    except dns_records.DnsUnavailable as exc:
        return checks + [Check("dns", "DNS records published", "warn", f"not checked: {exc}")]
    return checks + dns_records.check(records(answers, host, profile), resolve)


STEP = Step("dns", "DNS records", "beyond the guide", verify=verify,
            applies=lambda a: a.postfix.mode == "internet-site")
