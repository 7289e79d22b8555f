"""Tier 1 for issue 16 (DKIM signing): the dkim step's plans on fake Debian 12 and RHEL hosts, facts in, changes out.

Off unless chosen; with `[dkim] enabled`: EPEL first on RHEL (by name on a
rebuild, by its URL on RHEL itself), opendkim and opendkim-tools, the edit of
/etc/opendkim.conf (against Debian's shipped file when the package is still
to come), a 2048-bit key per selector owned by opendkim 0600, OpenDKIM
started, Postfix's milters; a key that exists is kept; answers that cannot
work are refused at their key. The records: the public key of each key file,
split for the zone, and verify's comparison with what DNS publishes.
"""

from __future__ import annotations

import base64
from dataclasses import replace

import dns.zone as dns_zone
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailwizard import dns_records
from mailwizard.postfix_conf import main_values
from mailwizard.steps import dkim, dns
from support import fake_session, postfix_installed_with


def session_for(tmp_path, platform, edit=None, name="pam.toml"):
    session = fake_session(tmp_path, platform, name)
    session.answers.dkim.enabled = True
    session.answers.dkim.domains = ["example.com", "example.net"]
    if edit:
        edit(session.answers.dkim)
    return session


def step_changes(plan, step="dkim"):
    return [c for c in plan.changes if c.step == step]


def added(change):
    return [line[1:] for line in change.diff().splitlines() if line.startswith("+") and not line.startswith("+++")]


def key_pem() -> bytes:
    key = rsa.generate_private_key(65537, 2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.parametrize("platform", ["debian12", "rhel10"])
def test_off_by_default(tmp_path, platform):
    session = fake_session(tmp_path, platform, "full.toml")
    assert not session.answers.dkim.enabled
    plan = session.plan()
    assert step_changes(plan) == []
    assert not any("opendkim" in " ".join(argv) or "milter" in " ".join(argv)
                   for c in plan.changes for argv in c.commands())
    assert "dkim" not in session.answers.to_data()  # nor in a saved answers file


def test_debian_plan(tmp_path):
    session = session_for(tmp_path, "debian12")
    assert session.errors() == []
    changes = step_changes(session.plan())
    assert [c.kind for c in changes] == ["command", "file", "command", "attrs", "service", "postconf"]
    install, conf, genkey, attrs, service, milters = changes
    assert install.commands()[-1][-2:] == ["opendkim", "opendkim-tools"] and install.noop is None
    assert conf.path == "/etc/opendkim.conf" and conf.base is not None  # Debian's shipped file, predicted
    lines = added(conf)
    for line in ("Mode\t\t\tsv", "Socket\t\t\tinet:8891@127.0.0.1", "Domain\t\t\texample.com,example.net",
                 "Selector\t\t\tmail", "KeyFile\t\t\t/etc/dkimkeys/mail.private"):
        assert line in lines, lines
    assert "-Socket\t\t\tlocal:/run/opendkim/opendkim.sock" in conf.diff()  # replaced, not added twice
    assert "#Socket\t\t\tinet:8891@localhost" in conf.content.decode()  # the other examples stay
    assert genkey.commands() == [["opendkim-genkey", "-b", "2048", "-D", "/etc/dkimkeys", "-d", "example.com",
                                  "-s", "mail"]]
    # the files it makes are journalled before it runs (rollback removes them like any file it wrote)
    assert genkey.creates == ["/etc/dkimkeys/mail.private", "/etc/dkimkeys/mail.txt"] and genkey.reversible
    assert attrs.commands() == [["chown", "opendkim:opendkim", "/etc/dkimkeys/mail.private"],
                                ["chmod", "600", "/etc/dkimkeys/mail.private"]]
    assert service.commands() == [["systemctl", "enable", "--now", "opendkim"]]
    assert milters.commands() == [["postconf", "-e", "smtpd_milters=inet:127.0.0.1:8891"],
                                  ["postconf", "-e", "non_smtpd_milters=$smtpd_milters"],
                                  ["postconf", "-e", "milter_default_action=accept"]]
    names = [s.name for s in session.active_steps()]
    assert names.index("dkim") < names.index("services")  # Postfix reloads after its milters are set


@pytest.mark.parametrize("platform, os_id, argv", [
    ("rhel10", "almalinux", ["dnf", "install", "-y", "epel-release"]),
    ("rhel9", "rhel", ["dnf", "install", "-y",
                       "https://dl.fedoraproject.org/pub/epel/epel-release-latest-9.noarch.rpm"]),
])
def test_rhel_enables_epel_first(tmp_path, platform, os_id, argv):
    session = session_for(tmp_path, platform)
    session.host.write_atomic("/etc/os-release", f'NAME="x"\nID="{os_id}"\n'.encode(), mode=0o644, uid=0, gid=0)
    changes = step_changes(session.plan())
    epel, install = changes[0], changes[1]
    assert epel.commands() == [argv] and epel.undo == [["dnf", "remove", "-y", "epel-release"]]
    assert "EPEL" in epel.describe()
    assert install.commands() == [["dnf", "install", "-y", "opendkim", "opendkim-tools"]]
    assert "from EPEL" in install.describe()
    genkey = next(c for c in changes if c.kind == "command" and c.commands()[0][0] == "opendkim-genkey")
    assert "/etc/opendkim/keys" in genkey.commands()[0]
    conf = next(c for c in changes if c.kind == "file")
    assert "KeyFile\t\t\t/etc/opendkim/keys/mail.private" in added(conf)
    # installed already: both no-ops
    session.host.state.installed |= {"epel-release", "opendkim", "opendkim-tools"}
    again = step_changes(session.plan())
    assert again[0].noop and again[1].noop


def test_rotation_makes_a_second_key_and_keeps_existing_ones(tmp_path):
    session = session_for(tmp_path, "debian12", lambda d: setattr(d, "next_selector", "2026b"))
    host = session.host
    host.makedirs("/etc/dkimkeys")
    host.write_atomic("/etc/dkimkeys/mail.private", key_pem(), mode=0o600, uid=0, gid=0)
    changes = step_changes(session.plan())
    genkeys = [c for c in changes if c.kind == "command" and c.commands()[0][0] == "opendkim-genkey"]
    assert [g.commands()[0][-1] for g in genkeys] == ["mail", "2026b"]
    assert genkeys[0].noop and "kept" in genkeys[0].noop  # the signing key is never replaced
    assert genkeys[1].noop is None
    conf = next(c for c in changes if c.kind == "file")
    assert "Selector\t\t\tmail" in added(conf)  # the old key signs until the new record is published


@pytest.mark.parametrize("edit, key, words", [
    (lambda d: setattr(d, "selector", "bad_sel"), "dkim.selector", "not a selector"),
    (lambda d: setattr(d, "selector", ""), "dkim.selector", "not a selector"),
    (lambda d: setattr(d, "next_selector", "mail"), "dkim.next_selector", "signs now"),
    (lambda d: setattr(d, "next_selector", "a b"), "dkim.next_selector", "not a selector"),
    (lambda d: setattr(d, "domains", ["example.com", "ex_ample.org"]), "dkim.domains", "not a valid domain"),
])
def test_answers_that_cannot_work_are_refused_at_their_key(tmp_path, edit, key, words):
    session = session_for(tmp_path, "debian12", edit)
    errors = [p for p in session.errors() if p.key == key]
    assert errors and words in errors[0].message, session.errors()


def test_edit_conf_replaces_uncomments_or_adds_and_is_idempotent():
    text = "Mode v\n#Selector 2020\n# Selector in prose stays\nSocket local:/x\n"
    settings = [("Mode", "sv"), ("Selector", "mail"), ("Socket", "inet:8891@127.0.0.1"), ("KeyFile", "/k")]
    out = dkim.edit_conf(text, settings)
    assert out.splitlines()[:4] == ["Mode\t\t\tsv", "Selector\t\t\tmail", "# Selector in prose stays",
                                    "Socket\t\t\tinet:8891@127.0.0.1"]
    assert out.endswith("# DKIM signing (mailwizard)\nKeyFile\t\t\t/k\n")
    assert dkim.edit_conf(out, settings) == out
    assert dkim.conf_values(out)["KeyFile"] == "/k"


def test_records_are_the_keys_public_halves_split_for_the_zone(tmp_path):
    session = session_for(tmp_path, "debian12", lambda d: setattr(d, "next_selector", "mail2"))
    answers, host, profile = session.answers, session.host, session.profile
    answers.dns.addresses = ["192.0.2.10"]
    assert dkim.records(answers, host, profile) == []  # no key yet: no record, a note instead
    assert "mail._domainkey: the key /etc/dkimkeys/mail.private is made on apply" in \
        dns.snippet(answers, host, profile)
    pem = key_pem()
    host.makedirs("/etc/dkimkeys")
    host.write_atomic("/etc/dkimkeys/mail.private", pem, mode=0o600, uid=0, gid=0)
    recs = dkim.records(answers, host, profile)
    assert [r.name for r in recs] == ["mail._domainkey.example.com", "mail._domainkey.example.net"]
    der = serialization.load_pem_private_key(pem, None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert recs[0].value == "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    snippet = dns.snippet(answers, host, profile)
    assert "mail2._domainkey: the key /etc/dkimkeys/mail2.private is made on apply" in snippet
    block = snippet[snippet.index("mail._domainkey.example.com."):].split(")")[0]
    assert max(len(line) for line in block.splitlines()) <= 80  # fits the Report's dialog
    # a zone parser (dnspython's) reads the snippet back into one TXT record whose strings join to the value
    zone = dns_zone.from_text("$TTL 3600\n" + snippet, origin="example.com.", relativize=False, check_origin=False)
    rdata = zone.find_rdataset("mail._domainkey.example.com.", "TXT")[0]
    assert len(rdata.strings) > 1 and all(len(part) <= 255 for part in rdata.strings)
    assert b"".join(rdata.strings).decode() == recs[0].value
    assert "mail._domainkey.example.com" in [r.name for r in dns.records(answers, host, profile)]


def test_verify_compares_the_published_key(tmp_path):
    session = session_for(tmp_path, "debian12")
    answers, host, profile = session.answers, session.host, session.profile
    host.makedirs("/etc/dkimkeys")
    host.write_atomic("/etc/dkimkeys/mail.private", key_pem(), mode=0o600, uid=0, gid=0)
    value = dkim.records(answers, host, profile)[0].value
    other = dkim.public_value(key_pem())

    def published(by_name):
        return lambda name, rtype: by_name.get(name, [])

    got = dkim.published_checks(answers, host, profile, published(
        {"mail._domainkey.example.com": [value.replace("; ", ";")], "mail._domainkey.example.net": [other]}))
    assert [(c.name, c.status) for c in got] == [
        ("DKIM record mail._domainkey.example.com matches the key", "pass"),
        ("DKIM record mail._domainkey.example.net matches the key", "fail")]
    got = dkim.published_checks(answers, host, profile, published({}))
    assert {c.status for c in got} == {"warn"} and "not published yet" in got[0].evidence

    def offline(name, rtype):
        raise dns_records.DnsUnavailable("no DNS server answered (Timeout)")

    got = dkim.published_checks(answers, host, profile, offline)
    assert [(c.status, c.evidence) for c in got] == [("warn", "not checkable: no DNS server answered (Timeout)")]


def test_verify_fails_a_key_others_can_read(tmp_path):
    session = session_for(tmp_path, "debian12")
    host = session.host
    host.state.users["opendkim"] = host.state.groups["opendkim"] = 120
    host.makedirs("/etc/dkimkeys")
    host.write_atomic("/etc/dkimkeys/mail.private", key_pem(), mode=0o644, uid=120, gid=120)
    checks = {c.name: c for c in dkim.verify(session.answers, host, session.profile, resolve=lambda n, t: [])}
    bad = checks["key /etc/dkimkeys/mail.private readable by opendkim only"]
    assert bad.status == "fail" and "chmod 600" in bad.fix
    host.chmod("/etc/dkimkeys/mail.private", 0o600)
    checks = {c.name: c for c in dkim.verify(session.answers, host, session.profile, resolve=lambda n, t: [])}
    assert checks["key /etc/dkimkeys/mail.private readable by opendkim only"].status == "pass"
    assert checks["OpenDKIM runs and listens on inet:8891@127.0.0.1"].status == "fail"  # not started here


def test_never_on_turned_off_plans_nothing_and_leaves_a_milter_not_its_own(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    assert session.apply(session.plan()).status == "applied"
    assert step_changes(session.plan()) == []  # off, and never on: nothing
    host = session.host
    assert host.run(["postconf", "-e", "smtpd_milters=inet:127.0.0.1:9999"]).ok  # another milter: not ours
    assert step_changes(session.plan()) == []
    assert dkim.verify(session.answers, host, session.profile) == []


def turned_on_then_off(tmp_path, platform, before=None):
    """A host on which a run turned DKIM on (applied), then the answers with DKIM off: (session, keys' bytes)."""
    session = session_for(tmp_path, platform, lambda d: setattr(d, "next_selector", "mail2"))
    if before:
        before(session)
    assert session.apply(session.plan()).status == "applied"
    host, profile = session.host, session.profile
    assert {"opendkim"} <= host.state.running & host.state.enabled
    assert dkim.records(session.answers, host, profile)  # the Report offered the records
    keys = {path: host.read(path) for sel in ("mail", "mail2") if host.read(path := dkim.key_path(profile, sel))}
    assert len(keys) == 2
    session.answers.dkim.enabled = False
    return session, keys


@pytest.mark.parametrize("platform, manager, stop", [
    ("debian12", "systemd", [["systemctl", "disable", "--now", "opendkim"]]),
    ("debian12", "service", [["service", "opendkim", "stop"], ["update-rc.d", "opendkim", "disable"]]),
    ("rhel10", "systemd", [["systemctl", "disable", "--now", "opendkim"]]),
])
def test_turned_off_after_a_run_turned_it_on(tmp_path, platform, manager, stop):
    """Postfix no longer passes mail to OpenDKIM, OpenDKIM stopped and not started at boot, the keys kept (the
    Review says where), no DNS record on the Report; a second re-run is all no-ops."""
    def pid1(session):
        session.profile = replace(session.profile, service_manager=manager)

    session, keys = turned_on_then_off(tmp_path, platform, pid1)
    host, profile = session.host, session.profile
    plan = session.plan()
    changes = step_changes(plan)
    assert [(c.kind, c.noop) for c in changes] == [("postconf", None), ("service", None)]
    milters, service = changes
    assert milters.commands() == [["postconf", "-X", "smtpd_milters", "non_smtpd_milters", "milter_default_action"]]
    assert "removed" in milters.describe()
    assert service.commands() == stop
    where = dkim.key_dir(profile)
    assert f"its keys stay in {where}" in service.describe() and f"keys stay in {where}" in plan.render_text()
    touched = [" ".join(argv) for c in plan.active() for argv in c.commands()]
    assert not [argv for argv in touched if "dkimkeys" in argv or "/keys" in argv or argv.startswith("rm")]
    assert not [c for c in plan.active() if c.kind == "remove"]
    assert next(c for c in plan.active() if c.step == "services").commands()[-1][-2:] in (
        ["reload", "postfix"], ["postfix", "reload"])  # Postfix reloads without the milter

    assert session.apply(plan).status == "applied"
    assert "opendkim" not in host.state.running | host.state.enabled
    main = host.read_text("/etc/postfix/main.cf")
    assert "milter" not in main
    assert {path: host.read(path) for path in keys} == keys  # the keys kept, byte for byte
    assert dkim.records(session.answers, host, profile) == []
    assert not [r for r in dns.records(session.answers, host, profile) if "_domainkey" in r.name]
    assert dkim.missing_keys_note(session.answers, host, profile) == ""
    assert dkim.verify(session.answers, host, profile) == []

    again = session.plan()
    assert again.active() == []  # the second re-run: all no-ops
    assert [(c.kind, c.noop) for c in step_changes(again)] == [
        ("service", "opendkim is stopped and not started at boot")]
    assert f"keys stay in {where}" in again.render_text()


def test_on_adds_its_milter_after_main_cfs_own_and_off_takes_out_only_its_own(tmp_path):
    """main.cf passed mail to a milter of its own (rspamd) and chose tempfail: DKIM on adds OpenDKIM after it
    (rspamd still filters; OpenDKIM signs what it lets through) and keeps tempfail; a re-run changes nothing;
    off takes OpenDKIM's out and leaves rspamd, tempfail, and sendmail's mail passing no milter, as before."""
    def rspamd(session):
        postfix_installed_with(session.host, "smtpd_milters = inet:127.0.0.1:11332",
                               "milter_default_action = tempfail")

    session = session_for(tmp_path, "rhel10")
    rspamd(session)
    on = next(c for c in step_changes(session.plan()) if c.kind == "postconf")
    assert on.commands() == [["postconf", "-e", "smtpd_milters=inet:127.0.0.1:11332, inet:127.0.0.1:8891"],
                             ["postconf", "-e", "non_smtpd_milters=$smtpd_milters"]]
    assert "after inet:127.0.0.1:11332 (kept)" in on.describe() and "tempfail kept" in on.describe()
    assert session.apply(session.plan()).status == "applied"
    assert [c for c in step_changes(session.plan()) if c.noop is None] == []  # a re-run: nothing
    checks = {c.name: c.status for c in dkim.verify(session.answers, session.host, session.profile)}
    assert checks["postconf passes mail through OpenDKIM"] == "pass"

    session.answers.dkim.enabled = False
    milters, service = step_changes(session.plan())
    assert service.kind == "service" and service.noop is None
    assert milters.commands() == [["postconf", "-e", "smtpd_milters=inet:127.0.0.1:11332"],
                                  ["postconf", "-X", "non_smtpd_milters"]]  # tempfail: main.cf's all along
    assert "inet:127.0.0.1:11332 kept" in milters.describe()
    assert session.apply(session.plan()).status == "applied"
    values = main_values(session.host.read_text("/etc/postfix/main.cf"))
    assert (values["smtpd_milters"], values["milter_default_action"]) == ("inet:127.0.0.1:11332", "tempfail")
    assert "non_smtpd_milters" not in values


def test_a_milter_added_after_the_wizards_run_stays_when_dkim_goes(tmp_path):
    """Off after the admin added a milter of their own beside OpenDKIM's: theirs stays (before, main.cf went
    back to what it was before the wizard, which would have dropped it)."""
    session, _ = turned_on_then_off(tmp_path, "debian12")
    host = session.host
    assert host.run(["postconf", "-e", "smtpd_milters=inet:127.0.0.1:8891, unix:/run/clamav/clamav-milter.ctl"]).ok
    assert session.apply(session.plan()).status == "applied"
    values = main_values(host.read_text("/etc/postfix/main.cf"))
    assert values["smtpd_milters"] == "unix:/run/clamav/clamav-milter.ctl"
    assert "milter_default_action" not in values and "non_smtpd_milters" not in values  # as before the wizard


def test_a_run_stopped_after_the_milter_went_still_stops_opendkim(tmp_path):
    """The journal knows the wizard set OpenDKIM up: a re-run after main.cf lost the milter still stops it."""
    session, _ = turned_on_then_off(tmp_path, "debian12")
    assert session.host.run(["postconf", "-X", "smtpd_milters", "non_smtpd_milters", "milter_default_action"]).ok
    changes = step_changes(session.plan())
    assert [(c.kind, c.noop, c.commands()) for c in changes] == [
        ("service", None, [["systemctl", "disable", "--now", "opendkim"]])]


@pytest.mark.parametrize("ran_before", [False, True])
def test_rollback_after_on_then_off(tmp_path, ran_before):
    """Rollback replays the inverses: the keys the wizard made removed, main.cf and opendkim.conf as before;
    OpenDKIM stopped, unless it ran before the wizard (then it is started again)."""
    shipped = {}

    def running(session):
        if ran_before:
            session.host.state.installed |= {"opendkim", "opendkim-tools"}
            session.host._unpack("opendkim")
            session.host.state.running.add("opendkim")
            session.host.state.enabled.add("opendkim")
            shipped[dkim.CONF] = session.host.read(dkim.CONF)

    session, keys = turned_on_then_off(tmp_path, "debian12", running)
    host = session.host
    assert session.apply(session.plan()).status == "applied"
    assert session.journal().state["stopped"] == (["opendkim"] if ran_before else [])
    with session.journal() as journal:
        report = journal.rollback(session.profile)
    assert not [path for path in keys if host.exists(path)]
    assert not host.exists("/etc/postfix/main.cf")  # Debian's "No configuration": it had none
    assert ("opendkim" in host.state.running) == ran_before
    assert ("started opendkim again (it ran before mailwizard stopped it)" in report.services) == ran_before
    if ran_before:
        assert host.read(dkim.CONF) == shipped[dkim.CONF] and "opendkim" in host.state.enabled


def test_the_dns_check_compares_a_dkim_record_by_its_key(tmp_path):
    session = session_for(tmp_path, "debian12")
    answers, host, profile = session.answers, session.host, session.profile
    host.makedirs("/etc/dkimkeys")
    host.write_atomic("/etc/dkimkeys/mail.private", key_pem(), mode=0o600, uid=0, gid=0)
    rec = dkim.records(answers, host, profile)[0]
    key = rec.value.split("p=")[1]
    published = {rec.name: [f"v=DKIM1; h=sha256; k=rsa; s=email; p={key[:100]} {key[100:]}"]}
    checks = dns_records.check([rec], lambda name, rtype: published.get(name, []))
    assert [(c.name, c.status) for c in checks] == [(f"TXT {rec.name}", "pass")]
    published = {rec.name: ["v=DKIM1; k=rsa; p=" + dkim.public_value(key_pem()).split("p=")[1]]}
    checks = dns_records.check([rec], lambda name, rtype: published.get(name, []))
    assert checks[0].status == "warn" and "replacing the one published" in checks[0].fix
