"""DNS records a new mail server needs, as a zone-file snippet, and a check of what is published.

Beyond the guide: every mail server needs an MX for its domain, A/AAAA for its
host name, a PTR for each public address that names the host back (receivers
refuse mail from hosts whose reverse name does not match), SPF and DMARC.
MTA-STS and TLS reporting are optional.

`records()` computes them from the host name, the domain and the public
addresses; `zone_snippet()` renders them for the administrator to copy;
`check()` asks a resolver what is published and says, record by record, what
differs: a record not yet published is a warning (a new server's to-do), an
MX, address or PTR published with another value is a failure. When no DNS
server answers (an offline host), it says so once: that is a warning, never
a failure. dnspython is imported only when checking.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mailwizard.plan import Check

STEP = "dns"


@dataclass(frozen=True)
class Record:
    name: str  # absolute, without the trailing dot
    type: str  # MX, A, AAAA, PTR, TXT
    value: str  # as written in a zone file (TXT without quotes)
    why: str
    required: bool = True  # a missing required record fails the check; an optional one only warns


class DnsUnavailable(Exception):
    """No DNS server answered: the host is offline or has no resolver."""


def public_addresses(addresses: Iterable[str]) -> list[str]:
    """The globally routable addresses among `addresses` (documentation ranges kept, for examples)."""
    out = []
    for text in addresses:
        try:
            addr = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        doc = any(addr in ipaddress.ip_network(n) for n in
                  ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))
        if (addr.is_global or doc) and str(addr) not in out:
            out.append(str(addr))
    return out


def records(hostname: str, domain: str, addresses: Iterable[str], *, optional: bool = True) -> list[Record]:
    """The records to publish for a mail server `hostname` receiving mail for `domain`."""
    hostname, domain = hostname.rstrip(".").lower(), domain.rstrip(".").lower()
    out = [Record(domain, "MX", f"10 {hostname}", "mail for the domain goes to this host")]
    for text in addresses:
        addr = ipaddress.ip_address(text)
        out.append(Record(hostname, "A" if addr.version == 4 else "AAAA", str(addr),
                          "the host name resolves to this address"))
    for text in addresses:
        out.append(Record(ipaddress.ip_address(text).reverse_pointer, "PTR", hostname,
                          "the reverse name must be the host name (set by whoever owns the address block)"))
    out.append(Record(domain, "TXT", "v=spf1 mx -all", "SPF: only the domain's MX hosts send its mail"))
    out.append(Record(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}",
                      "DMARC: start with p=none, then quarantine or reject once the reports show "
                      "only your own servers"))
    if optional:
        out.append(Record(f"_smtp._tls.{domain}", "TXT", f"v=TLSRPTv1; rua=mailto:postmaster@{domain}",
                          "TLS-RPT (optional): reports of failed TLS deliveries to you", required=False))
        out.append(Record(f"_mta-sts.{domain}", "TXT", "v=STSv1; id=1",
                          "MTA-STS (optional): also needs https://mta-sts." + domain +
                          "/.well-known/mta-sts.txt; change id whenever the policy changes", required=False))
    return out


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


TXT_STRING = 255  # a TXT record's character-strings hold at most 255 bytes each (RFC 1035 3.3)
ZONE_STRING = 64  # in the zone snippet, shorter strings: one a line, each line within 80 columns


def txt_strings(value: str, size: int = TXT_STRING) -> list[str]:
    """A TXT value as character-strings of at most `size` bytes (a DKIM key's value is longer than one);
    the receiver joins them into the value again."""
    data = value.encode()
    return [data[i:i + size].decode("utf-8", "replace") for i in range(0, len(data), size)] or [""]


def _txt(value: str) -> str:
    if len(value.encode()) <= TXT_STRING:
        return _quoted(value)
    return "(\n" + "\n".join(" " * 8 + _quoted(p) for p in txt_strings(value, ZONE_STRING)) + " )"


def zone_snippet(recs: list[Record]) -> str:
    """The records as zone-file lines (absolute names), each preceded by why it is needed; a TXT value
    longer than one string's 255 characters split into strings, one a line in parentheses (one record:
    the strings are joined)."""
    lines = []
    for r in recs:
        value = _txt(r.value) if r.type == "TXT" else r.value + ("." if r.type in ("MX", "PTR") else "")
        lines.append(f"; {r.why}")
        lines.append(f"{r.name + '.':<40} IN {r.type:<5} {value}")
    return "\n".join(lines) + "\n"


def _normal(rtype: str, value: str) -> str:
    value = value.strip().rstrip(".").lower() if rtype in ("MX", "PTR") else value.strip()
    if rtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(value))
    if rtype == "MX":
        pref, _, target = value.partition(" ")
        return f"{int(pref)} {target.rstrip('.')}"
    if rtype == "TXT" and value.startswith("v=DKIM1"):  # the key is what matters, not the tags around it
        tags = dict(part.strip().partition("=")[::2] for part in value.split(";") if "=" in part)
        return "v=DKIM1; p=" + re.sub(r"\s+", "", tags.get("p", ""))
    return value


def _same_kind(r: Record, published: str) -> bool:
    """A published TXT value that plays the same role (an SPF or DMARC record with other terms)."""
    if r.type != "TXT":
        return True
    tag = r.value.split(";")[0].split(" ")[0]
    return published.startswith(tag)


Resolve = Callable[[str, str], list[str]]


def check(recs: list[Record], resolve: Resolve) -> list[Check]:
    """Compare what `resolve(name, type)` returns with the records; offline gives one warning."""
    checks = []
    for r in recs:
        title = f"{r.type} {r.name}"
        try:
            published = resolve(r.name, r.type)
        except DnsUnavailable as exc:
            return [Check(STEP, "DNS records published", "warn", f"not checked: {exc}",
                          "publish the records shown in the zone snippet; run `mailwizard verify` "
                          "once the host can reach a DNS server")]
        want = _normal(r.type, r.value)
        got = [_normal(r.type, p) for p in published if _same_kind(r, p)]
        if r.type == "MX":  # any preference will do, as long as this host is an MX of the domain
            ok = any(g.split(" ", 1)[1] == want.split(" ", 1)[1] for g in got)
        else:
            ok = want in got
        if ok:
            checks.append(Check(STEP, title, "pass", f"published: {want}"))
            continue
        # not yet published is a to-do (a new server); published differently is an error
        status = "fail" if got and r.required and r.type in ("MX", "A", "AAAA", "PTR") else "warn"
        if r.type == "PTR" and not got:
            fix = f"ask whoever owns the address to set its reverse name to {r.value}"
        else:
            fix = f"publish {r.name}. IN {r.type} {r.value}" + (" (replacing the one published)" if got else "")
        evidence = ("published: " + "; ".join(got)) if got else "not published"
        if not r.required and not got:
            status, fix = "warn", f"optional: {r.why}"
        checks.append(Check(STEP, title, status, f"expected {want}; {evidence}", fix))
    return checks


def resolver(nameserver: str | None = None, port: int = 53, timeout: float = 3.0) -> Resolve:
    """A resolve(name, type) function over dnspython; `nameserver` overrides the system's resolv.conf."""
    import dns.exception
    import dns.resolver

    try:
        res = dns.resolver.Resolver(configure=nameserver is None)
    except dns.resolver.NoResolverConfiguration as exc:
        raise DnsUnavailable("no DNS server is configured in /etc/resolv.conf") from exc
    if nameserver is not None:
        res.nameservers, res.port = [nameserver], port
    res.lifetime = timeout

    def resolve(name: str, rtype: str) -> list[str]:
        try:
            answer = res.resolve(name, rtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout, OSError) as exc:
            raise DnsUnavailable(f"no DNS server answered ({exc.__class__.__name__})") from exc
        if rtype == "TXT":
            return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        return [r.to_text() for r in answer]

    return resolve
