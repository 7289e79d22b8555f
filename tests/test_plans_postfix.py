"""Tier 1 for Postfix (guide chapter 2): plans against fake hosts hold the guide's postconf commands."""

from __future__ import annotations

import pytest

from mailwizard import answers as A, conflicts, postfix_conf as P
from mailwizard.plan import PlanContext
from mailwizard.steps import all_steps, postfix_security, postfix_site, services
from support import fake_session, load_answers

POSTFIX_STEPS = ("postfix", "postfix_tls", "postfix_aliases", "postfix_delivery", "postfix_submission",
                 "postfix_limits", "postfix_hardening", "postfix_relay")


def active(plan):
    return [c for c in plan.changes if c.noop is None]


def postconf_settings(plan) -> dict[str, str]:
    """Every `postconf -e key=value` of the plan, in order (the last one of a key wins)."""
    out: dict[str, str] = {}
    for change in active(plan):
        for argv in change.commands():
            if argv[:2] == ["postconf", "-e"]:
                for arg in argv[2:]:
                    key, _, value = arg.partition("=")
                    out[key] = value
    return out


def commands(plan) -> list[list[str]]:
    return [argv for c in active(plan) for argv in c.commands()]


def main_cf(session) -> str:
    return session.host.read_text("/etc/postfix/main.cf")


def test_postfix_steps_come_after_dovecot_and_before_services():
    names = [s.name for s in all_steps()]
    assert names.index("firewall") < names.index("postfix")
    assert [n for n in names if n.startswith("postfix")] == list(POSTFIX_STEPS)
    assert names.index("services") > max(names.index(n) for n in POSTFIX_STEPS)  # later steps may follow


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_internet_site_has_the_guides_settings(tmp_path, platform):
    plan = fake_session(tmp_path, platform, "pam.toml").plan()
    s = postconf_settings(plan)
    assert s["inet_interfaces"] == "all"  # 2.1 step 3a
    assert s["myhostname"] == "mail.example.com" and s["mydomain"] == "example.com"
    assert s["myorigin"] == "$mydomain"
    assert s["mynetworks"] == "127.0.0.1/32, [::1]/128"
    # DESIGN.md trap: mail to user@example.com is delivered, not relayed
    assert s["mydestination"] == "$myhostname, localhost.$mydomain, localhost, $mydomain"
    # 2.2
    assert s["smtpd_tls_cert_file"] == "/etc/pki/dovecot/certs/server.example.com.crt"
    assert s["smtpd_tls_key_file"] == "/etc/pki/dovecot/private/server.example.com.key"
    assert s["smtpd_tls_auth_only"] == "yes"
    assert s["smtpd_tls_mandatory_protocols"] == ">=TLSv1.2"  # where TLS is mandatory: 587, 465
    assert "smtpd_tls_protocols" not in s  # port 25's opportunistic STARTTLS: what the TLS library allows
    # 2.7: system users; Debian's lmtp client is chrooted, so the socket is inside the queue directory
    want = "lmtp:unix:private/dovecot-lmtp" if platform == "debian12" else "lmtp:unix:/run/dovecot/lmtp"
    assert s["mailbox_transport"] == want
    assert "virtual_transport" not in s
    assert ["postfix", "-e"] not in commands(plan)


def test_rhel10_keeps_its_shipped_tls_level_and_opens_smtp(tmp_path):
    plan = fake_session(tmp_path, "rhel10", "pam.toml").plan()
    s = postconf_settings(plan)
    # RHEL's main.cf already has smtpd_tls_security_level = may and smtp_tls_security_level = may
    assert "smtpd_tls_security_level" not in s and "smtp_tls_security_level" not in s
    tls = next(c for c in plan.changes if c.step == "postfix_tls")
    assert "+smtpd_tls_auth_only = yes" in tls.diff()
    assert ["firewall-cmd", "--permanent", "--add-service=smtp"] in commands(plan)  # 2.1 step 6
    assert ["systemctl", "enable", "--now", "postfix"] in commands(plan)  # 2.1 step 5


@pytest.mark.parametrize("platform, map_type", [("rhel10", "lmdb"), ("debian12", "hash"), ("rhel9", "hash")])
def test_virtual_aliases_use_the_platforms_map_type(tmp_path, platform, map_type):
    session = fake_session(tmp_path, platform, "full.toml")
    plan = session.plan()
    s = postconf_settings(plan)
    assert s["virtual_alias_maps"] == f"{map_type}:/etc/postfix/virtual"
    assert ["postmap", f"{map_type}:/etc/postfix/virtual"] in commands(plan)
    assert ["postalias", f"{map_type}:/etc/aliases"] in commands(plan)
    assert s.get("alias_maps", f"{map_type}:/etc/aliases") == f"{map_type}:/etc/aliases"
    assert s["virtual_alias_domains"] == ""  # example.com is already a local domain
    virtual = next(c for c in plan.changes if c.key() == "file:/etc/postfix/virtual")
    lines = [line.split() for line in virtual.content.decode().splitlines() if not line.startswith("#")]
    assert lines == [["info@example.com", "user22@example.net"], ["sales@example.com", "user11@example.org"]]
    assert session.apply(plan).status == "applied"
    assert session.host.exists(f"/etc/postfix/virtual{P.map_suffix(map_type)}")
    if platform == "rhel10":
        assert not any("hash:" in v for v in P.main_values(main_cf(session)).values())


def test_foreign_alias_domains_become_virtual_alias_domains(tmp_path):
    session = fake_session(tmp_path, "debian12", "full.toml")
    session.answers.postfix.virtual_aliases["info@example.org"] = "alice"
    s = postconf_settings(session.plan())
    assert s["virtual_alias_domains"] == "example.org"


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_ldap_aliases_and_virtual_mailboxes(tmp_path, platform):
    session = fake_session(tmp_path, platform, "ldap.toml")
    plan = session.plan()
    s = postconf_settings(plan)
    assert s["virtual_alias_maps"] == "ldap:/etc/postfix/ldap-aliases.cf"  # 2.5 step 2
    cf = next(c for c in plan.changes if c.key() == "file:/etc/postfix/ldap-aliases.cf")
    text = cf.content.decode()
    assert "server_host = ldap.example.com\n" in text and "search_base = dc=example,dc=com\n" in text
    assert "version = 3\n" in text and "query_filter" not in text
    install = next(c for c in plan.changes if c.step == "install")
    assert "postfix-ldap" in install.commands()[-1]
    # LDAP users are virtual: virtual_transport, and the domain leaves mydestination
    assert s["virtual_mailbox_domains"] == "$mydomain"
    assert s["virtual_transport"].startswith("lmtp:unix:")
    assert "mailbox_transport" not in s
    assert not any(c.key() == "file:/etc/postfix/virtual" for c in plan.changes)
    assert session.apply(plan).status == "applied"
    assert P.main_values(main_cf(session))["mydestination"] == "$myhostname, localhost.$mydomain, localhost"


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_null_client_is_the_guides_section_2_3(tmp_path, platform):
    session = fake_session(tmp_path, platform, "null-client.toml")
    plan = session.plan()
    s = postconf_settings(plan)
    assert s["mydestination"] == ""
    assert s["relayhost"] == "[relay.example.com]"
    assert s["inet_interfaces"] == "loopback-only"
    assert s["myorigin"] == "relay.example.com"
    assert s["local_transport"] == "error: local delivery disabled"
    assert s["mynetworks"] == "127.0.0.0/8, [::1]/128"
    assert s.get("smtp_tls_security_level", "may") == "may"
    assert not {"smtpd_tls_cert_file", "mailbox_transport", "virtual_alias_maps", "smtpd_sasl_auth_enable"} & set(s)
    assert not any(c[0] in ("firewall-cmd", "postmap", "postalias") for c in commands(plan))
    assert not any("dovecot" in c.key() for c in plan.changes)
    assert session.apply(plan).status == "applied"
    text = main_cf(session)
    assert "mydestination = \n" in text and "local_transport = error: local delivery disabled\n" in text
    assert session.plan().active() == []


def test_debian_main_cf_is_bootstrapped_from_main_cf_debian(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    template = session.profile.fresh_root() / "usr/share/postfix/main.cf.debian"
    plan = session.plan()
    boot = next(c for c in plan.changes if c.key() == "file:/etc/postfix/main.cf")
    assert boot.noop is None and "main.cf.debian" in boot.describe()
    assert session.apply(plan).status == "applied"
    text = main_cf(session)
    assert text.startswith(template.read_text())  # the postconf edits are appended to Debian's file
    assert "mailbox_transport = lmtp:unix:private/dovecot-lmtp\n" in text
    again = session.plan()
    assert next(c for c in again.changes if c.key() == "file:/etc/postfix/main.cf").noop == \
        "/etc/postfix/main.cf exists"


def test_debian_package_really_leaves_no_main_cf(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    session.host.run(["apt-get", "install", "-y", "postfix"])
    assert not session.host.exists("/etc/postfix/main.cf")
    assert session.host.exists("/etc/postfix/master.cf")
    assert session.host.exists("/usr/share/postfix/main.cf.debian")


@pytest.mark.parametrize("platform, chroot, name", [("rhel10", "n", "submissions"), ("debian12", "y", "submissions"),
                                                    ("rhel9", "n", "smtps")])
def test_submission_services_and_sasl(tmp_path, platform, chroot, name):
    session = fake_session(tmp_path, platform, "full.toml")
    plan = session.plan()
    s = postconf_settings(plan)
    for key, value in (("smtpd_sasl_auth_enable", "yes"), ("smtpd_sasl_type", "dovecot"),
                       ("smtpd_sasl_path", "private/auth"),
                       ("smtpd_sasl_security_options", "noanonymous, noplaintext"),
                       ("smtpd_sasl_tls_security_options", "noanonymous"),
                       ("smtpd_relay_restrictions",
                        "permit_mynetworks permit_sasl_authenticated defer_unauth_destination"),
                       ("smtpd_sender_restrictions", "reject_sender_login_mismatch"),
                       ("smtpd_sender_login_maps", "regexp:/etc/postfix/sender_login_maps")):
        assert s[key] == value, key
    cmds = commands(plan)
    assert ["postconf", "-M", f"submission/inet=submission inet n - {chroot} - - smtpd"] in cmds
    assert ["postconf", "-M", f"{name}/inet={name} inet n - {chroot} - - smtpd"] in cmds
    p_587 = next(c for c in cmds if c[:2] == ["postconf", "-P"] and c[2].startswith("submission/"))
    assert "submission/inet/smtpd_tls_security_level=encrypt" in p_587
    assert "submission/inet/smtpd_sasl_auth_enable=yes" in p_587
    assert "submission/inet/smtpd_client_restrictions=permit_sasl_authenticated,reject" in p_587
    p_465 = next(c for c in cmds if c[:2] == ["postconf", "-P"] and c[2].startswith(f"{name}/"))
    assert f"{name}/inet/smtpd_tls_wrappermode=yes" in p_465
    dovecot = next(c for c in plan.changes if c.key() == "file:/etc/dovecot/conf.d/10-master.conf"
                   and c.step == "postfix_submission")
    assert "  unix_listener /var/spool/postfix/private/auth {\n    mode = 0660\n    user = postfix\n" \
           "    group = postfix\n  }\n" in dovecot.content.decode()
    if platform != "debian12":
        firewall = [c for c in cmds if c[0] == "firewall-cmd" and c[1] == "--permanent"]
        assert ["firewall-cmd", "--permanent", "--add-service=smtp", "--add-service=smtp-submission",
                "--add-service=smtps"] in firewall
    assert session.apply(plan).status == "applied"
    master = session.host.read_text("/etc/postfix/master.cf")
    assert f"submission inet  n       -       {chroot}       -       -       smtpd\n" \
           "    -o syslog_name=postfix/submission\n" in master
    assert session.plan().active() == []


def test_sender_login_map_for_the_domain(tmp_path):
    session = fake_session(tmp_path, "debian12", "full.toml")
    plan = session.plan()
    maps = next(c for c in plan.changes if c.key() == "file:/etc/postfix/sender_login_maps")
    rules = [line for line in maps.content.decode().splitlines() if line and not line.startswith("#")]
    assert rules == ["/^([^@+]+)(\\+[^@]*)?@example\\.com$/    ${1}, ${1}@example.com"]


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_limits_are_written_as_given(tmp_path, platform):
    plan = fake_session(tmp_path, platform, "full.toml").plan()
    s = postconf_settings(plan)
    assert s["queue_minfree"] == "20480000" and s["message_size_limit"] == "10240000"
    assert s["smtpd_client_connection_rate_limit"] == "60" and s["anvil_rate_time_unit"] == "60s"


def test_tls_on_postfix_before_3_6_excludes_old_protocols(tmp_path):
    s = postconf_settings(fake_session(tmp_path, "rhel9", "pam.toml").plan())
    assert s["smtpd_tls_mandatory_protocols"] == "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"


def test_optional_tls_loglevel(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.answers.postfix.tls_loglevel = 1
    assert postconf_settings(session.plan())["smtp_tls_loglevel"] == "1"


def test_lmtp_to_another_host(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.answers.postfix.lmtp_host = "192.0.2.10"
    assert postconf_settings(session.plan())["mailbox_transport"] == "lmtp:inet:192.0.2.10:24"
    session.answers.postfix.lmtp_host = "2001:db8::10"
    assert postconf_settings(session.plan())["mailbox_transport"] == "lmtp:inet:[2001:db8::10]:24"
    assert "lmtp_tls_security_level" not in postconf_settings(fake_session(tmp_path / "b", "rhel10").plan())


def test_switching_to_virtual_mailboxes_removes_mailbox_transport(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    session.answers.postfix.virtual_mailboxes = True
    plan = session.plan()
    delivery = next(c for c in plan.changes if c.step == "postfix_delivery")
    assert ["postconf", "-X", "mailbox_transport"] in delivery.commands()
    assert session.apply(plan).status == "applied"
    values = P.main_values(main_cf(session))
    assert "mailbox_transport" not in values and values["virtual_transport"] == "lmtp:unix:private/dovecot-lmtp"
    assert "$mydomain" not in values["mydestination"].split(", ")


def test_already_set_values_are_a_noop_with_their_reason(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    reasons = {c.key(): c.noop for c in session.plan().changes if c.step.startswith("postfix")}
    assert "main.cf already has smtpd_tls_cert_file = /etc/pki/dovecot/certs/server.example.com.crt" in \
        reasons["postconf:smtpd_tls_cert_file,smtpd_tls_key_file,smtpd_tls_security_level,smtpd_tls_auth_only,"
                "smtpd_tls_mandatory_protocols,smtp_tls_security_level"]
    assert reasons["postalias:/etc/aliases"] == "/etc/aliases.lmdb is up to date with /etc/aliases"


def test_changing_inet_interfaces_restarts_postfix_and_other_changes_reload(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    session.answers.postfix.mynetworks = ["127.0.0.0/8", "[::1]/128", "192.0.2.0/24"]
    described = [c.describe() for c in session.plan().active()]
    assert described[-1] == "reload postfix"
    session.answers.postfix.inet_interfaces = "192.0.2.1"
    plan = session.plan()
    assert plan.active()[-1].commands() == [["systemctl", "restart", "postfix"]]
    assert session.apply(plan).status == "applied"
    assert session.plan().active() == []


def test_a_refused_configuration_is_put_back(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    before = main_cf(session)
    session.answers.postfix.mynetworks = ["127.0.0.0/8"]
    session.host.state.failing.add("postfix")  # `postfix check` fails
    result = session.apply(session.plan())
    assert result.status == "failed"
    assert "Postfix refuses the new configuration" in result.error and "put back" in result.error
    assert main_cf(session) == before


def postfix_checks(session) -> int:
    return sum(1 for argv in session.host.commands if argv == ["postfix", "check"])


def test_consecutive_postfix_edits_are_checked_once(tmp_path):
    session = fake_session(tmp_path, "debian12", "full.toml")
    plan = session.plan()
    kinds = [c.kind in ("postconf", "master.cf") for c in plan.active()]
    runs = sum(1 for i, edit in enumerate(kinds) if edit and (i == 0 or not kinds[i - 1]))
    assert sum(kinds) > runs > 1  # the plan has runs of several edits, between other changes
    assert session.apply(plan).status == "applied"
    assert postfix_checks(session) == runs


def test_a_refused_batch_puts_back_every_file_since_the_last_good_check(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    before = main_cf(session)
    session.answers.postfix.mynetworks = ["127.0.0.0/8"]
    session.answers.postfix.tls_loglevel = 1
    plan = session.plan()
    assert [c.kind for c in plan.active()] == ["postconf", "postconf", "service"]
    session.host.state.failing.add("postfix")  # `postfix check` fails
    checks = postfix_checks(session)
    result = session.apply(plan)
    assert result.status == "failed" and result.done == 1  # the first edit applied, unchecked until the second
    assert postfix_checks(session) == checks + 1
    assert "Postfix refuses the new configuration" in result.error and "put back" in result.error
    assert main_cf(session) == before  # both edits undone
    session.host.state.failing.clear()
    again = session.plan()
    assert conflicts.in_session(session, again) == []  # the wizard's own put-back is no administrator's edit
    assert session.apply(again).status == "applied"
    assert "mynetworks = 127.0.0.0/8" in main_cf(session) and "smtp_tls_loglevel = 1" in main_cf(session)


def test_postconf_change_refuses_injection():
    with pytest.raises(ValueError, match="line break"):
        P.Postconf([("myorigin", "example.com\nrelayhost = [evil.example]")])
    with pytest.raises(ValueError, match="not a Postfix parameter"):
        P.Postconf([("my origin", "x")])
    with pytest.raises(ValueError, match="blanks"):
        P.MasterService("submission", "inet", ("n", "-", "n", "-", "-", "smtpd"), [("a", "b c")])


@pytest.mark.parametrize("key, value, fragment", [
    ("mynetworks", ["192.0.2.1/24"], "host bits set: the network is 192.0.2.0/24"),
    ("mynetworks", ["2001:db8::/64"], "write an IPv6 network in brackets"),
    ("mynetworks", ["0.0.0.0/0"], "open relay"),
    ("mynetworks", ["[::]/0"], "open relay"),
    ("mynetworks", ["example.com"], "not an IPv4 address"),
    ("mynetworks", ["127.0.0.0/8\nrelayhost=x"], "line break"),
    ("myorigin", "example.com\nrelayhost = [evil]", "must be $mydomain"),
    ("inet_interfaces", "all, 192.0.2.1", "stands alone"),
    ("inet_interfaces", "eth0", "not an address"),
    ("relayhost", "[relay example.com]", "not a relay host name"),
    ("delivery", "maildrop", "not one of lmtp"),
    ("sender_login_mismatch", "yes", "not one of reject"),
    ("virtual_alias_source", "nis", "not one of file, ldap"),
    ("tls_cert", "/etc/pki/x.pem\nsmtpd_tls_security_level = none", "cannot be written safely"),
])
def test_bad_postfix_answers_are_refused_at_the_key(key, value, fragment):
    a = load_answers("full.toml")
    setattr(a.postfix, key, value)
    problems = [p for p in A.validate(a) if p.key == f"postfix.{key}" and p.severity == "error"]
    assert problems and fragment in problems[0].message, [str(p) for p in A.validate(a)]


def test_alias_with_injected_line_is_refused():
    a = load_answers("full.toml")
    a.postfix.virtual_aliases["evil@example.com\nroot@example.com"] = "x@example.net"
    a.postfix.virtual_aliases["ok@example.com"] = "a@example.net\nroot x"
    messages = [p.message for p in A.validate(a) if p.key == "postfix.virtual_aliases"]
    assert len(messages) == 2
    assert "is not an e-mail address" in messages[0] and "line break" in messages[1]


def test_null_client_needs_a_relay_host():
    a = load_answers("null-client.toml")
    a.postfix.relayhost = ""
    assert [p.key for p in A.validate(a) if p.severity == "error"] == ["postfix.relayhost"]


@pytest.mark.parametrize("limits, key, fragment", [
    ({"queue_minfree": 15000000}, "queue_minfree", "less than 1.5 × message_size_limit (10240000)"),
    ({"message_size_limit": 40000000, "queue_minfree": 50000000}, "queue_minfree", "use at least 60000000"),
    ({"message_size_limit": 60000000}, "message_size_limit", "mailbox_size_limit"),
    ({"anvil_rate_time_unit": "a minute"}, "anvil_rate_time_unit", "not a time"),
    ({"default_process_limit": -1}, "default_process_limit", "negative"),
])
def test_limits_are_validated(limits, key, fragment):
    a = load_answers("full.toml")
    a.postfix.limits = limits
    messages = [p.message for p in A.validate(a) if p.key == f"postfix.limits.{key}"]
    assert messages and fragment in messages[0]


def test_limits_section_types_and_unknown_keys():
    _, problems = A.parse('[server]\nhostname = "mail.example.com"\n[postfix.limits]\n'
                          'queue_minfree = "big"\nsmtpd_banner = "x"\n')
    assert {p.key for p in problems} == {"postfix.limits.queue_minfree", "postfix.limits.smtpd_banner"}


def test_postfix_answers_round_trip():
    a = load_answers("full.toml")
    b, problems = A.parse(a.to_toml())
    assert problems == [] and b.postfix == a.postfix
    assert b.postfix_mode == "internet-site"
    b.postfix_mode = "null-client"
    assert b.postfix.mode == "null-client"


def test_submission_without_dovecot_needs_a_sasl_host():
    a = load_answers("null-client.toml")
    a.postfix.mode = "internet-site"
    a.postfix.submission = True
    a.postfix.tls_cert, a.postfix.tls_key = "/etc/pki/tls/certs/postfix.pem", "/etc/pki/tls/private/postfix.key"
    a.postfix.delivery = "local"
    assert any(p.key == "postfix.submission" for p in A.validate(a))
    a.postfix.sasl_host = "dovecot.example.com"
    assert not any(p.key == "postfix.submission" for p in A.validate(a))


def test_hardening_notes_warn_and_change_nothing(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    host = session.host
    real = host.real("/etc/passwd")
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_text("root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
                    "daemon:x:1:1::/:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\n")
    host.real("/proc").mkdir()
    host.real("/proc/mounts").write_text("/dev/sda1 / ext4 rw 0 0\nnfs:/spool /var/spool nfs4 rw 0 0\n")
    checks = postfix_security.verify_hardening(session.answers, host, session.profile)
    by_name = {c.name: c for c in checks}
    assert by_name["/var/spool/postfix is not on NFS"].status == "warn"
    assert by_name["accounts with a login shell"].status == "warn"
    assert by_name["accounts with a login shell"].evidence == "alice (/bin/bash)"
    host.real("/proc/mounts").write_text("/dev/sda1 / ext4 rw 0 0\n")
    assert postfix_security.verify_hardening(session.answers, host, session.profile)[0].status == "pass"
    assert postfix_security.HARDENING.plan(session.answers, None) == []


def test_verify_on_the_fake_host_after_apply(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    assert session.apply(session.plan()).status == "applied"
    checks = [c for c in session.verify() if c.step.startswith("postfix")]
    assert checks
    failed = [(c.step, c.name, c.evidence) for c in checks if c.status == "fail"
              and "socket" not in c.name]  # sockets exist only where Dovecot runs
    assert failed == []


def test_services_step_starts_postfix_without_dovecot(tmp_path):
    session = fake_session(tmp_path, "debian12", "null-client.toml")
    from dataclasses import replace
    session.profile = replace(session.profile, service_manager="service")
    cmds = commands(session.plan())
    assert ["update-rc.d", "postfix", "enable"] in cmds and ["service", "postfix", "start"] in cmds
    assert "dovecot" not in str(cmds)
    assert services.STEP.applies(session.answers)


def test_site_helpers():
    a = load_answers("ldap.toml")
    assert postfix_site.virtual_mailboxes(a) is True
    assert postfix_site.virtual_mailboxes(load_answers("pam.toml")) is False
    assert A.relayhost_value("relay.example.com:587") == "[relay.example.com]:587"


def test_database_type_asks_postconf(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.host.run(["dnf", "install", "-y", "postfix"])
    ctx = PlanContext(session.host, session.profile)
    assert P.database_type(ctx) == "lmdb"
    assert ["postconf", "-h", "default_database_type"] in session.host.commands


# --- unknown virtual users refused at RCPT (address verification through Dovecot's LMTP) ---------------

@pytest.mark.parametrize("platform, verify_map", [("rhel10", "lmdb:$data_directory/verify_cache"),
                                                  ("debian12", None)])
@pytest.mark.parametrize("name", ["ldap.toml", "sql.toml"])
def test_unknown_virtual_users_are_refused_at_rcpt(tmp_path, platform, verify_map, name):
    session = fake_session(tmp_path, platform, name)
    s = postconf_settings(session.plan())
    assert s["smtpd_recipient_restrictions"] == "permit_mynetworks, reject_unverified_recipient"
    assert s["unverified_recipient_reject_code"] == "550"
    # RHEL 10's Postfix has no Berkeley DB: the verify cache cannot be Postfix's default btree:
    assert s.get("address_verify_map") == verify_map
    assert session.apply(session.plan()).status == "applied"
    assert not [c.describe() for c in active(session.plan()) if c.step == "postfix_delivery"]
    check = next(c for c in session.verify() if c.name == "unknown users are refused at RCPT")
    assert check.status == "pass", check.evidence


def test_authenticated_senders_are_not_probed_and_system_users_need_no_probe(tmp_path):
    session = fake_session(tmp_path, "debian12", "ldap.toml")
    session.answers.postfix.submission = True
    s = postconf_settings(session.plan())
    assert s["smtpd_recipient_restrictions"] == \
        "permit_mynetworks, permit_sasl_authenticated, reject_unverified_recipient"
    pam = postconf_settings(fake_session(tmp_path / "pam", "rhel10", "pam.toml").plan())
    assert "smtpd_recipient_restrictions" not in pam and "unverified_recipient_reject_code" not in pam


# --- Dovecot SASL over TCP for a Postfix on another host (2.9.3 step 1b) -------------------------------

def sasl_over_tcp(answers, *sources: str) -> None:
    answers.auth.sasl_listener = "inet"
    answers.auth.sasl_allow_from = list(sources)


def dovecot_added(plan, name: str) -> list[str]:
    out = []
    for c in active(plan):
        if c.key() == f"file:/etc/dovecot/conf.d/{name}":
            out += [line[1:] for line in c.diff().splitlines() if line.startswith("+") and not line.startswith("+++")]
    return out


def test_sasl_tcp_listener_on_rhel10_with_rich_rules_and_selinux(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    sasl_over_tcp(session.answers, "192.0.2.25/32", "2001:db8:2::25/128")
    assert [p for p in session.problems() if p.key.startswith("auth.")] == []
    plan = session.plan()
    lines = dovecot_added(plan, "10-master.conf")
    at = lines.index("  inet_listener {")
    assert lines[at + 1].strip() == "port = 12345"
    cmds = [argv for c in active(plan) if c.step == "auth" for argv in c.commands()]
    rule = 'rule family="{}" source address="{}" port protocol="tcp" port="12345" accept'
    assert cmds[-4:] == [
        ["setsebool", "-P", "nis_enabled", "on"],
        ["firewall-cmd", "--permanent", "--zone=public", "--add-rich-rule=" + rule.format("ipv4", "192.0.2.25/32")],
        ["firewall-cmd", "--permanent", "--zone=public",
         "--add-rich-rule=" + rule.format("ipv6", "2001:db8:2::25/128")],
        ["firewall-cmd", "--reload"]]
    assert session.apply(plan).status == "applied"
    text = session.host.read_text("/etc/dovecot/conf.d/10-master.conf")
    from mailwizard.dovecot_conf import get_setting
    assert get_setting(text, "port", ("service auth", "inet_listener")) == "12345"
    assert [c.describe() for c in active(session.plan()) if c.step == "auth"] == []
    checks = [c for c in session.verify() if c.name.startswith("firewall admits")]
    assert [c.status for c in checks] == ["pass", "pass"]
    # back to the socket alone: the listener gets port 0 (Dovecot opens none)
    session.answers.auth.sasl_listener = "unix"
    assert session.apply(session.plan()).status == "applied"
    text = session.host.read_text("/etc/dovecot/conf.d/10-master.conf")
    assert get_setting(text, "port", ("service auth", "inet_listener")) == "0"


def test_sasl_tcp_listener_on_debian12_warns_that_nothing_filters_the_port(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    sasl_over_tcp(session.answers, "192.0.2.25/32")
    warnings = [p for p in session.problems() if p.key == "auth.sasl_allow_from"]
    assert [p.severity for p in warnings] == ["warning"]
    assert "this host has no firewalld" in warnings[0].message and "192.0.2.25/32" in warnings[0].message
    plan = session.plan()
    assert "    port = 12345" in dovecot_added(plan, "10-master.conf")
    cmds = [argv[0] for c in active(plan) if c.step == "auth" for argv in c.commands()]
    assert "firewall-cmd" not in cmds and "setsebool" not in cmds


def test_a_remote_postfix_names_dovecots_tcp_listeners(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    session.answers.postfix.submission = True
    session.answers.postfix.sasl_host = "192.0.2.10"
    session.answers.postfix.lmtp_host = "192.0.2.10"
    session.answers.postfix.sasl_port = 12345
    s = postconf_settings(session.plan())
    assert s["smtpd_sasl_path"] == "inet:192.0.2.10:12345"  # 2.9.3 step 2c
    transport = s.get("virtual_transport") or s["mailbox_transport"]
    assert transport == "lmtp:inet:192.0.2.10:24"  # 2.8
    assert s["lmtp_tls_security_level"] == "may"  # over the network: STARTTLS when Dovecot offers it
    session.answers.postfix.sasl_host = "2001:db8::10"
    assert postconf_settings(session.plan())["smtpd_sasl_path"] == "inet:[2001:db8::10]:12345"


@pytest.mark.parametrize("edit, key, fragment", [
    (dict(sasl_listener="tcp"), "auth.sasl_listener", "not one of unix"),
    (dict(sasl_listener="inet", sasl_port=0), "auth.sasl_port", "not a TCP port"),
    (dict(sasl_listener="inet", sasl_allow_from=["192.0.2.1/24"]), "auth.sasl_allow_from",
     "did you mean 192.0.2.0/24, or the host 192.0.2.1/32?"),
    (dict(sasl_listener="inet", sasl_allow_from=["postfix.example.com"]), "auth.sasl_allow_from",
     "not an address or network, e.g. 192.0.2.1/32"),
    (dict(sasl_listener="inet", sasl_port=24), "auth.sasl_port", "already LMTP's port"),
])
def test_bad_sasl_listener_answers_are_refused_at_the_key(edit, key, fragment):
    a = load_answers("pam.toml")
    a.lmtp.listener = "inet"
    for k, v in edit.items():
        setattr(a.auth, k, v)
    problems = [p for p in A.validate(a) if p.key == key and p.severity == "error"]
    assert problems and fragment in problems[0].message, [str(p) for p in A.validate(a)]


def test_sasl_listener_answers_round_trip_and_type_errors():
    a = load_answers("pam.toml")
    import tomllib
    assert set(tomllib.loads(a.to_toml())["auth"]) & {"sasl_port", "sasl_allow_from"} == set()  # socket alone
    sasl_over_tcp(a, "192.0.2.25/32")
    b, problems = A.parse(a.to_toml())
    assert problems == [] and (b.auth.sasl_listener, b.auth.sasl_port, b.auth.sasl_allow_from) == \
        ("inet", 12345, ["192.0.2.25/32"])
    _, problems = A.parse('[auth]\nsasl_port = "12345"\nsasl_allow_from = "192.0.2.1/32"\n')
    assert {p.key for p in problems} == {"auth.sasl_port", "auth.sasl_allow_from"}


def test_sasl_port_must_not_be_the_replication_port():
    a = load_answers("pam.toml")
    sasl_over_tcp(a, "192.0.2.25/32")
    a.replication.enabled = True
    a.replication.port = 12345  # the guide uses 12345 for both examples
    problems = [p for p in A.validate(a) if p.key == "auth.sasl_port"]
    assert problems and "already the replication port" in problems[0].message
    a.auth.sasl_port = 12346
    assert not [p for p in A.validate(a) if p.key == "auth.sasl_port"]
