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
from mailwizard.answers import READ_BACKS, Answers, leaf_fields, parse, relayhost_value
from mailwizard.engine import Session
from mailwizard.platform import profile_for
from mailwizard.simulated import FakeHost
from mailwizard.steps.postfix_site import virtual_mailboxes
from mailwizard.steps.postfix_tls import cert_paths
from support import ANSWER_FILES, ANSWERS_DIR, cached_cert, fake_session, load_answers

PLATFORMS = ("rhel10", "debian12")

# Every answers key the reader determines from the host's configuration: by the field's declaration, or by code
DECLARED = [key for key, _ in READ_BACKS]
COVERED = DECLARED + list(existing.READ_BY_CODE)
# Not in any configuration file: passwords (typed, or their files), firewall sources, report settings
TYPED = ["auth.ldap.dnpass_file", "auth.sql.password_file", "auth.sasl_allow_from", "lmtp.allow_from",
         "replication.partner_addresses", "replication.partner_answers", "firewall_manage", "dns.addresses",
         "dns.optional", "dns.check", "tls.self_signed", "auth.test_user", "auth.test_password_file",
         # certbot keeps no address: its account's regr.json has an empty body (certbot 2.1's account.py
         # writes body={}) and the renewal configuration has no e-mail; only the CA has it (`certbot show_account`)
         "tls.acme_email",
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
    return configured_session(fake_session(tmp_path, platform, name))


def configured_session(session):
    """Apply the session's answers on its fake host, with the secrets and CA files they name put in place."""
    a = session.answers
    for path in (a.auth.ldap.dnpass_file, a.auth.sql.password_file, a.replication.password_file,
                 a.postfix.relay_password_file):
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


def test_every_answer_is_read_back_or_listed_as_not_read():
    """Each answers field declares where it is read back from, is read by existing.py's code, is a secret or
    is in TYPED: a new field cannot be forgotten (nor one counted twice)."""
    every = {key for key, _ in leaf_fields(Answers()) if key not in ("raw", "normalised")}  # the file itself
    every = {k.replace("dovecot_enabled", "dovecot.enabled") for k in every}
    secrets = {key for key, f in leaf_fields(Answers()) if f.metadata.get("secret")}  # never saved
    assert secrets == {"auth.ldap.dnpass", "auth.sql.password", "replication.password", "auth.test_password",
                       "postfix.relay_password"}
    listed = [*DECLARED, *existing.READ_BY_CODE, *TYPED, *secrets]
    assert sorted(k for k in set(listed) if listed.count(k) > 1) == []
    assert every == set(listed)


# Edited reference files for the round trip: every declared read-back with a value other than its default
VARIANTS = {
    "pam-listeners.toml": ("pam.toml", {
        "auth": {"sasl_listener": "inet", "sasl_port": 12346, "sasl_allow_from": ["192.0.2.7/32"],
                 "last_valid_uid": 59999, "mechanisms": ["plain", "login"], "first_valid_uid": 2000},
        "lmtp": {"listener": "inet", "port": 2424, "allow_from": ["192.0.2.7/32"]},
        "mailbox": {"user": "mailer", "root": "/srv/mail", "format": "maildir"},
        "protocols": {"pop3": False, "sieve": True},
        "sieve": {"port": 4191, "lmtp_plugin": False},
        "postfix": {"submission": True, "smtps": False, "sender_login_mismatch": "reject-authenticated",
                    "tls_loglevel": 1, "myorigin": "$myhostname", "relayhost": "[smtp.example.net]:587",
                    "mynetworks": ["127.0.0.0/8", "[::1]/128", "198.51.100.0/24"],
                    "inet_interfaces": "127.0.0.1, 192.0.2.5"},
    }),
    "full-mdbox.toml": ("full.toml", {
        "mailbox": {"format": "mdbox"},
        "replication": {"partner": "server3.example.com", "port": 12346, "max_conns": 5},
        "postfix": {"sender_login_mismatch": "", "submission": False},
    }),
    "full-ipv6-partner.toml": ("full.toml", {"replication": {"partner": "2001:db8::2"}}),
    "ldap-starttls.toml": ("ldap.toml", {
        "auth": {"ldap": {"starttls": True, "scope": "onelevel", "tls_require_cert": "demand",
                          "uris": ["ldap://ldap1.example.com", "ldap://ldap2.example.com"]}},
    }),
    "sql-port.toml": ("sql.toml", {"auth": {"sql": {"port": 3307, "default_pass_scheme": "BLF-CRYPT"}}}),
    # a null client, and an internet site, that log in to their relay host and sign what they send
    "full-outbound.toml": ("full.toml", {
        "postfix": {"relayhost": "[smtp.example.net]:587", "relay_user": "relayuser",
                    "relay_password_file": "/root/relay-secret"},
        "dkim": {"enabled": True},
    }),
    "null-client-outbound.toml": ("null-client.toml", {
        "postfix": {"relay_user": "relayuser", "relay_password_file": "/root/relay-secret"},
        "dkim": {"enabled": True},
    }),
}

# Declared read-backs that give nothing back where the applied answer is the field's default: the wizard writes
# no setting for it, or one the reader takes as "not this" (an answer "" or None, none at all, is never read back)
ABSENT_AT_DEFAULT = {
    "auth.sasl_listener": "unix is Postfix's socket alone: no TCP listener, whose port is what says inet",
    "auth.sasl_port": "with the unix socket alone no TCP port is written",
    "lmtp.listener": "unix: no inet_listener lmtp, whose port is what says inet",
    "lmtp.port": "with the unix socket alone no TCP port is written",
    "replication.enabled": "off: no mail_replica, which is what says on",
    "replication.port": "off: no mail_replica",
    "postfix.sasl_port": "only with sasl_host, in smtpd_sasl_path = inet:HOST:PORT",
    # the PAM settings are planned with PAM only; a Debian host has none of its own (RHEL's 10-mail.conf has
    # first_valid_uid = 1000)
    "auth.first_valid_uid": "written for PAM's system users only",
    "auth.ldap.pass_filter": "written for a lookup (dn) only, not with a DN template (bind_userdn)",
}


def applied_variant(tmp_path, platform: str, name: str):
    """configured(), for a reference file or an edited one (VARIANTS)."""
    import tomllib

    import tomli_w

    if name not in VARIANTS:
        return configured(tmp_path, platform, name)
    base, edits = VARIANTS[name]
    data = tomllib.loads((ANSWERS_DIR / base).read_text())

    def merge(into: dict, edit: dict) -> None:
        for key, value in edit.items():
            if isinstance(value, dict):
                merge(into.setdefault(key, {}), value)
            else:
                into[key] = value
    merge(data, edits)
    answers, problems = parse(tomli_w.dumps(data))
    assert problems == []
    base_session = fake_session(tmp_path, platform, base)  # its certificates and password file in place
    return configured_session(Session(answers, base_session.host, base_session.profile))


def expected(applied, read) -> bool:
    """Whether `applied` configures what the declaration `read` reads: its program, its args file, its `when`."""
    from mailwizard.readback import Args, Dovecot

    if isinstance(read, Dovecot | Args) and not applied.dovecot_enabled:
        return False
    if isinstance(read, Args) and applied.auth.backend != read.backend:
        return False
    return read.when is None or value(applied, read.when[0]) == read.when[1]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", [*ANSWER_FILES, *VARIANTS])
def test_every_declared_read_back_gives_back_the_applied_answer(tmp_path, platform, name):
    """Apply the answers on a fake host, read the host (all it says, fresh values included): every declared
    read-back whose setting the answers configure gives back the applied answer, and no other one is read."""
    session = applied_variant(tmp_path, platform, name)
    applied = session.answers
    found = existing.read_config(session.host, session.profile).values
    read_back = parse("")[0]
    for key, got in found.items():
        existing._set(read_back, key, got)
    defaults = dict(leaf_fields(Answers()))
    assert set(ABSENT_AT_DEFAULT) <= set(DECLARED)
    wrong, missing, unexpected = {}, [], []
    for key, read in READ_BACKS:
        if not expected(applied, read):
            if key in found:
                unexpected.append(key)
        elif key not in found:
            default = defaults[key].default
            if value(applied, key) not in ("", None) and not (key in ABSENT_AT_DEFAULT
                                                               and value(applied, key) == default):
                missing.append(key)
        elif value(read_back, key) != value(applied, key):
            wrong[key] = (value(read_back, key), value(applied, key))
    assert (wrong, missing, unexpected) == ({}, [], [])


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


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", ["null-client-outbound.toml", "full-outbound.toml"])
def test_a_relay_login_and_dkim_are_read_back_so_a_rerun_keeps_them(tmp_path, platform, name):
    # found: a null client's relay login and DKIM were not read back, so a re-run from the host's own
    # configuration planned to take them out (mail to the relay host would then be refused)
    session = applied_variant(tmp_path, platform, name)
    answers, found = read_back(session)
    assert (answers.postfix.relay_user, answers.dkim.enabled) == ("relayuser", True)
    assert any(n.startswith("postfix.relay_password:") for n in found.notes)
    for key in TYPED:
        copy_key(session.answers, answers, key)
    again = Session(answers, session.host, session.profile)
    assert [c.describe() for c in again.plan().active()] == []
