"""DNS records: what to publish (table tests), the zone snippet, and the check against a real DNS server.

The server is a small dnspython UDP server on 127.0.0.1 that this test runs,
answering for the test domains from a dict; the resolver under test talks to it
over the network like to any other server.
"""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rrset
import pytest

from mailwizard import dns_records as d


@pytest.mark.parametrize("hostname,domain,addrs,expect", [
    ("mail.example.com", "example.com", ["192.0.2.10"],
     {("example.com", "MX", "10 mail.example.com"), ("mail.example.com", "A", "192.0.2.10"),
      ("10.2.0.192.in-addr.arpa", "PTR", "mail.example.com"), ("example.com", "TXT", "v=spf1 mx -all"),
      ("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:postmaster@example.com")}),
    ("MX1.Example.ORG.", "example.org", ["2001:db8:1::25"],
     {("example.org", "MX", "10 mx1.example.org"), ("mx1.example.org", "AAAA", "2001:db8:1::25"),
      ("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR", "mx1.example.org")}),
    ("mail.example.net", "example.net", ["198.51.100.7", "2001:db8::7"],
     {("mail.example.net", "A", "198.51.100.7"), ("mail.example.net", "AAAA", "2001:db8::7"),
      ("7.100.51.198.in-addr.arpa", "PTR", "mail.example.net")}),
])
def test_records_for_each_address_family_and_domain(hostname, domain, addrs, expect):
    got = {(r.name, r.type, r.value) for r in d.records(hostname, domain, addrs)}
    assert expect <= got
    assert sum(1 for r in d.records(hostname, domain, addrs) if r.type == "PTR") == len(addrs)


def test_optional_records_are_marked_and_can_be_left_out():
    recs = d.records("mail.example.com", "example.com", ["192.0.2.10"])
    optional = {r.name for r in recs if not r.required}
    assert optional == {"_smtp._tls.example.com", "_mta-sts.example.com"}
    assert not [r for r in d.records("mail.example.com", "example.com", [], optional=False) if not r.required]


def test_public_addresses_drop_loopback_private_and_link_local():
    got = d.public_addresses(["127.0.0.1", "10.1.2.3", "192.168.1.1", "fe80::1%eth0", "::1", "8.8.4.4",
                              "192.0.2.10", "2001:db8::1", "not an address", "8.8.4.4"])
    assert got == ["8.8.4.4", "192.0.2.10", "2001:db8::1"]


def test_zone_snippet_is_a_valid_zone():
    import dns.zone

    recs = d.records("mail.example.com", "example.com", ["192.0.2.10", "2001:db8::10"])
    text = d.zone_snippet(recs)
    assert '"v=spf1 mx -all"' in text and "; SPF" in text
    forward = [line for line in text.splitlines() if ".arpa." not in line]
    zone = dns.zone.from_text("\n".join(["$ORIGIN example.com.", "@ 3600 IN SOA ns. h. 1 2 3 4 5",
                                         "@ IN NS ns.example.com.", "$TTL 3600", *forward]),
                              origin="example.com.", relativize=False)
    mx = zone.find_rdataset("example.com.", "MX")
    assert [r.to_text() for r in mx] == ["10 mail.example.com."]
    assert [r.to_text() for r in zone.find_rdataset("mail.example.com.", "AAAA")] == ["2001:db8::10"]


class TinyDns:
    """A UDP DNS server on 127.0.0.1 answering from {(name, type): [values]}; everything else NXDOMAIN."""

    def __init__(self, data: dict[tuple[str, str], list[str]]):
        self.data = data
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            q = query.question[0]
            name, rtype = q.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(q.rdtype)
            values = self.data.get((name, rtype))
            if values:
                reply.answer.append(dns.rrset.from_text_list(q.name, 300, "IN", rtype, values))
            elif not any(n == name for n, _ in self.data):
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tiny_dns():
    servers = []

    def start(data):
        servers.append(TinyDns(data))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


RECS = d.records("mail.example.com", "example.com", ["192.0.2.10"])


def test_check_passes_when_everything_is_published(tiny_dns):
    server = tiny_dns({
        ("example.com", "MX"): ["20 mail.example.com."],
        ("mail.example.com", "A"): ["192.0.2.10"],
        ("10.2.0.192.in-addr.arpa", "PTR"): ["mail.example.com."],
        ("example.com", "TXT"): ['"v=spf1 mx -all"', '"google-site-verification=abc"'],
        ("_dmarc.example.com", "TXT"): ['"v=DMARC1; p=none; rua=mailto:postmaster@example.com"'],
        ("_smtp._tls.example.com", "TXT"): ['"v=TLSRPTv1; rua=mailto:postmaster@example.com"'],
        ("_mta-sts.example.com", "TXT"): ['"v=STSv1; id=1"'],
    })
    checks = d.check(RECS, d.resolver("127.0.0.1", server.port))
    assert [(c.name, c.status) for c in checks if c.status != "pass"] == []
    assert len(checks) == len(RECS)


def test_check_says_what_differs(tiny_dns):
    server = tiny_dns({
        ("example.com", "MX"): ["10 mx.elsewhere.example."],
        ("mail.example.com", "A"): ["192.0.2.99"],
        ("10.2.0.192.in-addr.arpa", "PTR"): ["host-10.isp.example."],
        ("example.com", "TXT"): ['"v=spf1 a -all"'],
    })
    by_name = {c.name: c for c in d.check(RECS, d.resolver("127.0.0.1", server.port))}
    mx = by_name["MX example.com"]
    assert mx.status == "fail" and "mx.elsewhere.example" in mx.evidence and "mail.example.com" in mx.fix
    assert by_name["A mail.example.com"].status == "fail"
    ptr = by_name["PTR 10.2.0.192.in-addr.arpa"]
    assert ptr.status == "fail" and "host-10.isp.example" in ptr.evidence
    spf = by_name["TXT example.com"]
    assert spf.status == "warn" and "v=spf1 a -all" in spf.evidence and "replacing" in spf.fix
    dmarc = by_name["TXT _dmarc.example.com"]
    assert dmarc.status == "warn" and dmarc.evidence.endswith("not published")
    assert by_name["TXT _mta-sts.example.com"].status == "warn"
    assert by_name["TXT _mta-sts.example.com"].fix.startswith("optional")


def test_offline_is_one_warning_not_a_failure():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        checks = d.check(RECS, d.resolver("127.0.0.1", silent.getsockname()[1], timeout=0.5))
    finally:
        silent.close()
    assert len(checks) == 1 and checks[0].status == "warn" and "not checked" in checks[0].evidence


def test_a_new_server_with_nothing_published_gets_warnings_only(tiny_dns):
    server = tiny_dns({("example.com", "NS"): ["ns.example.com."]})
    checks = d.check(RECS, d.resolver("127.0.0.1", server.port))
    assert {c.status for c in checks} == {"warn"} and len(checks) == len(RECS)
    assert all(c.evidence.endswith("not published") and c.fix for c in checks)


def test_dns_step_prefers_the_answers_addresses_and_warns_without_any(tmp_path):
    from mailwizard.steps import dns as dns_step
    from support import fake_session

    session = fake_session(tmp_path, "rhel10", "pam.toml")
    a, host = session.answers, session.host
    assert dns_step.addresses(a, host) == ["192.0.2.10"]  # the fake host's one global address
    a.dns.addresses = ["203.0.113.25", "2001:db8::25"]
    text = dns_step.snippet(a, host)
    assert "203.0.113.25" in text and "2001:db8::25" in text and "192.0.2.10" not in text
    a.dns.addresses = []
    host.state.addresses = ["127.0.0.1", "10.0.0.5"]  # behind NAT
    assert "no public address" in dns_step.snippet(a, host)
    checks = dns_step.verify(a, host, session.profile)
    assert checks[0].name == "public address known" and checks[0].status == "warn"
    assert checks[-1].evidence == "not checked: a simulated host"


def test_bad_dns_address_is_named_at_its_key(tmp_path):
    from support import fake_session

    session = fake_session(tmp_path, "debian12", "pam.toml")
    session.answers.dns.addresses = ["mail.example.com"]
    problems = [p for p in session.problems() if p.key == "dns.addresses"]
    assert problems and problems[0].severity == "error" and "'mail.example.com'" in problems[0].message
