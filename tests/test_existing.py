"""Issue 7 and 6, tier 1: a configured host read back into answers; saved answers read back unchanged.

A fake host configured by applying each reference answers file is read by
mailwizard/existing.py: every key the reader covers equals the file's, and the
plan for the read answers on that host changes nothing (a re-run changes only
what the administrator changes). A fresh host prefills nothing.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from mailwizard import existing
from mailwizard.answers import parse, relayhost_value
from mailwizard.engine import Session
from mailwizard.platform import profile_for
from mailwizard.simulated import FakeHost
from mailwizard.steps.postfix_site import virtual_mailboxes
from mailwizard.steps.postfix_tls import cert_paths
from support import ANSWER_FILES, ANSWERS_DIR, cached_cert, fake_session, load_answers

PLATFORMS = ("rhel10", "debian12")

# Every answers key the reader determines from the host's configuration
COVERED = [
    "server.hostname", "server.domain",
    "tls.cert", "tls.key", "tls.ca", "tls.dh", "tls.acme", "tls.acme_server",
    "protocols.imap", "protocols.pop3", "protocols.lmtp", "protocols.sieve",
    "mailbox.user", "mailbox.root", "mailbox.format",
    "auth.backend", "auth.first_valid_uid", "auth.last_valid_uid", "auth.mechanisms",
    "auth.sasl_listener", "auth.sasl_port",
    "auth.ldap.uris", "auth.ldap.starttls", "auth.ldap.base", "auth.ldap.scope", "auth.ldap.bind_userdn",
    "auth.ldap.dn", "auth.ldap.pass_filter", "auth.ldap.tls_require_cert", "auth.ldap.tls_ca_cert_file",
    "auth.sql.host", "auth.sql.port", "auth.sql.dbname", "auth.sql.user", "auth.sql.ssl_ca",
    "auth.sql.default_pass_scheme", "auth.sql.user_query", "auth.sql.password_query", "auth.sql.iterate_query",
    "lmtp.listener", "lmtp.port", "lmtp.socket_user", "lmtp.socket_group", "lmtp.socket_mode",
    "mailboxes", "dovecot.enabled",
    "sieve.lmtp_plugin", "sieve.spam_filter", "sieve.spam_folder", "sieve.port",
    "replication.enabled", "replication.partner", "replication.port", "replication.password_file",
    "replication.max_conns",
    "postfix.mode", "postfix.inet_interfaces", "postfix.mynetworks", "postfix.myorigin", "postfix.relayhost",
    "postfix.delivery", "postfix.lmtp_host", "postfix.lmtp_port", "postfix.virtual_mailboxes",
    "postfix.virtual_mailbox_domains", "postfix.submission", "postfix.smtps", "postfix.sasl_host",
    "postfix.sasl_port", "postfix.sender_login_mismatch", "postfix.virtual_alias_source",
    "postfix.virtual_aliases", "postfix.virtual_alias_domains", "postfix.ldap_aliases.server_host",
    "postfix.ldap_aliases.search_base", "postfix.ldap_aliases.query_filter",
    "postfix.ldap_aliases.result_attribute", "postfix.tls_cert", "postfix.tls_key", "postfix.tls_loglevel",
    "postfix.limits", "postfix.relay_user", "dkim.enabled", "dkim.selector", "dkim.domains",
]
# Not in any configuration file: passwords (typed, or their files), firewall sources, report settings
TYPED = ["auth.ldap.dnpass_file", "auth.sql.password_file", "auth.sasl_allow_from", "lmtp.allow_from",
         "replication.partner_addresses", "replication.partner_answers", "firewall_manage", "dns.addresses",
         "dns.optional", "dns.check", "tls.self_signed", "auth.test_user", "auth.test_password_file",
         "tls.acme_email",  # certbot's account holds the address, no configuration file
         "postfix.relay_password_file", "dkim.next_selector"]


def value(answers, key: str):
    """The answer's meaning: equivalent spellings compare equal (all = "", [relay] = relay, ...)."""
    special = {
        "dovecot.enabled": lambda a: a.dovecot_enabled,
        "mailboxes": lambda a: [(b.name, b.special_use, b.auto) for b in a.mailboxes],
        "postfix.inet_interfaces": lambda a: a.postfix.interfaces,
        "postfix.relayhost": lambda a: relayhost_value(a.postfix.relayhost) if a.postfix.relayhost else "",
        "postfix.virtual_mailboxes": virtual_mailboxes,
        "postfix.tls_cert": lambda a: cert_paths(a)[0],
        "postfix.tls_key": lambda a: cert_paths(a)[1],
    }
    if key in special:
        return special[key](answers)
    obj = answers
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def copy_key(src, dst, key: str) -> None:
    *path, name = key.split(".")
    a, b = src, dst
    for part in path:
        a, b = getattr(a, part), getattr(b, part)
    setattr(b, name, getattr(a, name))


def put(host, path: str, data: bytes, mode: int = 0o600) -> None:
    real = host.real(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data)
    real.chmod(mode)


def configured(tmp_path, platform: str, name: str):
    """A fake host configured by applying `name`, with the secrets and CA files it names in place."""
    session = fake_session(tmp_path, platform, name)
    a = session.answers
    for path in (a.auth.ldap.dnpass_file, a.auth.sql.password_file, a.replication.password_file):
        if path:
            put(session.host, path, b"S3cret-pass\n")
    for path in (a.auth.sql.ssl_ca, a.auth.ldap.tls_ca_cert_file):
        if path:
            put(session.host, path, cached_cert("mail.example.com")[1], 0o644)
    assert session.apply(session.plan()).status == "applied"
    return session


def read_back(session) -> tuple:
    answers, problems = parse("")
    assert problems == []
    found = existing.prefill_from_host(answers, session.host, session.profile)
    return answers, found


def test_covered_keys_are_every_key_but_the_typed_ones():
    """COVERED and TYPED together name every scalar answers key, so a new key must be placed in one."""
    answers, _ = parse("")

    def keys(obj, prefix):
        for f in fields(obj):
            sub = getattr(obj, f.name)
            if f.name in ("raw", "normalised"):  # the file itself; the paths as written
                continue
            if hasattr(sub, "__dataclass_fields__") and f.name != "limits":
                yield from keys(sub, f"{prefix}{f.name}.")
            else:
                yield f"{prefix}{f.name}"
    every = {k.replace("dovecot_enabled", "dovecot.enabled") for k in keys(answers, "")}
    secrets = {"auth.ldap.dnpass", "auth.sql.password", "replication.password", "auth.test_password",
               "postfix.relay_password"}  # never saved
    assert every - secrets == set(COVERED) | set(TYPED)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", ANSWER_FILES)
def test_a_configured_host_reads_back_its_answers(tmp_path, platform, name):
    session = configured(tmp_path, platform, name)
    reference = load_answers(name)
    answers, found = read_back(session)
    assert found.values, "nothing read from a configured host"
    wrong = {k: (value(answers, k), value(reference, k)) for k in COVERED if value(answers, k) != value(reference, k)}
    assert wrong == {}
    # the administrator types what no configuration file holds; then nothing changes
    for key in TYPED:
        copy_key(reference, answers, key)
    again = Session(answers, session.host, session.profile)
    assert [c.describe() for c in again.plan().active()] == []
    assert again.errors() == session.errors()


def test_an_inline_password_is_left_for_the_admin_to_type(tmp_path):
    session = configured(tmp_path, "debian12", "ldap-search.toml")
    assert b"S3cret-pass" in session.host.read("/etc/dovecot/dovecot-ldap.conf.ext")
    answers, found = read_back(session)
    assert answers.auth.ldap.dnpass == "" and answers.auth.ldap.dnpass_file == ""
    assert any(n.startswith("auth.ldap.dnpass:") for n in found.notes)
    assert "S3cret-pass" not in repr(found) and "S3cret-pass" not in answers.to_toml()


@pytest.mark.parametrize("platform", ["debian12", "rhel10"])
def test_the_relay_login_and_dkim_are_read_back_without_the_password(tmp_path, platform):
    session = fake_session(tmp_path, platform, "pam.toml")
    p = session.answers.postfix
    p.relayhost, p.relay_user, p.relay_password = "[smtp.example.net]:587", "mailer", "Relay-S3cret"
    assert session.apply(session.plan()).status == "applied"
    host = session.host
    # what the dkim step leaves (its keys and package are not simulated here): the milter and opendkim.conf
    put(host, "/etc/opendkim.conf", b"Mode\t\t\tsv\nDomain\t\t\texample.com,example.net\nSelector\t\t\t2026a\n",
        0o644)
    assert host.run(["postconf", "-e", "smtpd_milters=inet:127.0.0.1:8891"]).ok
    answers, found = read_back(session)
    assert (answers.postfix.relayhost, answers.postfix.relay_user, answers.postfix.relay_password) == \
        ("[smtp.example.net]:587", "mailer", "")
    assert any(n.startswith("postfix.relay_password:") for n in found.notes)
    assert "Relay-S3cret" not in repr(found) and "Relay-S3cret" not in answers.to_toml()
    assert (answers.dkim.enabled, answers.dkim.selector, answers.dkim.domains) == \
        (True, "2026a", ["example.com", "example.net"])


def test_a_doveadm_password_file_reference_is_read(tmp_path):
    session = configured(tmp_path, "rhel10", "full.toml")
    answers, found = read_back(session)
    assert answers.replication.password_file == "/root/doveadm.pass"
    assert found.notes == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_fresh_host_prefills_nothing(tmp_path, platform):
    profile = profile_for(platform)
    host = FakeHost.from_profile(profile, tmp_path / "root", hostname="mail.example.com")
    features = ["dovecot", "imap", "pop3", "lmtp", "sieve", "ldap", "sql", "postfix", "postfix-ldap"]
    host.run(["dnf" if profile.family == "rhel" else "apt-get", "install", "-y",
              *profile.packages_for(features)])
    assert host.exists("/etc/dovecot/conf.d/10-ssl.conf")
    if not host.exists("/etc/postfix/main.cf"):  # Debian: the wizard's first step copies main.cf.debian
        put(host, "/etc/postfix/main.cf", host.read("/usr/share/postfix/main.cf.debian"), 0o644)
    # the reader does see the fresh settings; they are not taken
    assert existing.read_config(host, profile).values["tls.cert"]
    answers, _ = parse("")
    found = existing.prefill_from_host(answers, host, profile)
    assert found.values == {}
    assert answers == parse("")[0]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_hand_edit_is_prefilled_and_one_changed_answer_plans_only_its_change(tmp_path, platform):
    session = configured(tmp_path, platform, "pam.toml")
    host = session.host
    host.run(["postconf", "-e", "mynetworks = 127.0.0.1/32, [::1]/128, 192.0.2.0/24"])
    conf = host.real("/etc/dovecot/conf.d/10-mail.conf")
    conf.write_text(conf.read_text().replace("first_valid_uid = 1000", "first_valid_uid = 2000"))
    answers, _found = read_back(session)
    assert answers.postfix.mynetworks == ["127.0.0.1/32", "[::1]/128", "192.0.2.0/24"]
    assert answers.auth.first_valid_uid == 2000
    for key in TYPED:
        copy_key(load_answers("pam.toml"), answers, key)
    again = Session(answers, host, session.profile)
    assert again.plan().active() == []
    answers.postfix.myorigin = "$myhostname"
    changed = again.plan().active()
    assert [c.step for c in changed] == ["postfix", "services"]  # the main.cf edit, then Postfix's reload
    assert "myorigin = $myhostname" in changed[0].describe() and "192.0.2.0/24" in changed[0].describe()
    assert "postfix" in changed[1].describe()


def test_the_answers_file_wins_over_the_host(tmp_path):
    session = configured(tmp_path, "debian12", "pam.toml")
    answers, problems = parse('[postfix]\nmynetworks = ["127.0.0.0/8"]\n')
    assert problems == []
    keys = existing.prefill(answers, existing.read_host(session.host, session.profile))
    assert answers.postfix.mynetworks == ["127.0.0.0/8"] and "postfix.mynetworks" not in keys
    assert answers.server.hostname == "mail.example.com" and "server.hostname" in keys


def test_doveconf_output_is_read_block_aware():
    text = """# 2.3.19.1 (9b53102964): /etc/dovecot/dovecot.conf
namespace inbox {
  mailbox "Sent Messages" {
    special_use = \\Sent
  }
}
protocols = " imap lmtp sieve pop3"
service lmtp {
  inet_listener lmtp {
    port = 24
  }
  unix_listener lmtp {
    mode = 0600
  }
}
mode = 0666
"""
    tree = existing.parse_tree(text)
    assert tree["protocols"].split() == ["imap", "lmtp", "sieve", "pop3"]
    assert tree["service lmtp"]["unix_listener lmtp"]["mode"] == "0600" and tree["mode"] == "0666"
    assert tree["namespace inbox"]["mailbox Sent Messages"]["special_use"] == "\\Sent"


@pytest.mark.parametrize("name", ANSWER_FILES)
def test_saved_answers_read_back_unchanged(name):
    """Issue 6: the answers the journal saves (to_toml) parse back to the same answers."""
    original = load_answers(name)
    saved, problems = parse(original.to_toml())
    assert problems == []
    for f in fields(original):
        if f.name != "raw":
            assert getattr(saved, f.name) == getattr(original, f.name), f.name
    assert parse(saved.to_toml())[0].to_toml() == saved.to_toml()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_prefilled_answers_save_and_read_back(tmp_path, platform):
    session = configured(tmp_path, platform, "full.toml")
    answers, _ = read_back(session)
    saved, problems = parse(answers.to_toml())
    assert problems == []
    for f in fields(answers):
        if f.name != "raw":
            assert getattr(saved, f.name) == getattr(answers, f.name), f.name


def test_a_session_without_answers_is_prefilled_and_says_so(tmp_path):
    """cli.build_session's call: prefilled only when no answers were given; the Welcome screen says so."""
    import asyncio

    from textual.widgets import Static

    from mailwizard.app import create_app
    from mailwizard.screens.welcome import PREFILLED_NOTE, WelcomeScreen

    host = configured(tmp_path, "debian12", "pam.toml").host
    profile = profile_for("debian12")
    given = Session(parse("")[0], host, profile)
    existing.prefill_session(given, given=True)
    assert given.prefilled == [] and given.answers.server.hostname == ""
    session = Session(parse("")[0], host, profile, dry_run=True)
    existing.prefill_session(session, given=False)
    assert "server.hostname" in session.prefilled and session.answers.server.hostname == "mail.example.com"

    async def welcome() -> str:
        app = create_app(session, [])
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, WelcomeScreen)
            return str(app.screen.query_one("#about", Static).render())
    shown = asyncio.run(welcome())
    assert PREFILLED_NOTE in shown and f"({len(session.prefilled)} settings)" in shown


def test_planning_for_another_platform_reads_nothing_from_the_host(tmp_path):
    host = configured(tmp_path, "rhel10", "pam.toml").host
    session = Session(parse("")[0], host, profile_for("rhel10"), offline=True)
    existing.prefill_session(session, given=False)
    # only the names the (simulated) host gives itself, as on a fresh host (issue 15)
    expected = parse("")[0]
    expected.server.hostname, expected.server.domain = host.fqdn(), host.fqdn().split(".", 1)[1]
    assert session.prefilled == [] and session.answers == expected
    assert host.fqdn() == "mail.example.com"


def test_saved_answers_do_not_depend_on_the_order_they_were_read_in():
    """The same answers save to the same bytes, whatever order the file (or the host) gave them in."""
    import tomllib

    import tomli_w

    data = tomllib.loads((ANSWERS_DIR / "full.toml").read_text())
    data["postfix"]["limits"] = dict(reversed(data["postfix"]["limits"].items()))
    reordered = tomli_w.dumps(dict(reversed(data.items())))
    first, second = load_answers("full.toml"), parse(reordered)[0]
    assert list(first.raw) != list(second.raw) and list(first.postfix.limits) != list(second.postfix.limits)
    assert first.to_toml() == second.to_toml()
