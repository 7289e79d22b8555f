"""Tier 1 for issue 3: the Dovecot steps' plans hold the guide's commands and settings (fake hosts).

Virtual users (1.1.3), PAM (1.1.4) and the backend switch (1.2.4/1.3.4),
protocols (1.1.5, 1.7), mailboxes (1.5), LMTP (1.6) and the firewall (1.1.5).
"""

from __future__ import annotations

import pytest

from mailwizard.dovecot_conf import get_setting
from mailwizard.steps import firewall, lmtp, mailboxes, vmail
from support import ANSWER_FILES, fake_session

CONF = "/etc/dovecot/conf.d"
DOVECOT_FILES = [n for n in ANSWER_FILES if n != "null-client.toml"]


def commands(plan, step=None):
    return [cmd for c in plan.active() if step in (None, c.step) for cmd in c.commands()]


def added(plan, path):
    """Lines the plan adds to a file, over every change that edits it."""
    out = []
    for c in plan.active():
        if c.key() == f"file:{path}":
            out += [line[1:] for line in c.diff().splitlines() if line.startswith("+") and not line.startswith("+++")]
    return out


def applied(tmp_path, platform, name, edit=None):
    session = fake_session(tmp_path, platform, name)
    if edit:
        edit(session.answers)
    result = session.apply(session.plan())
    assert result.status == "applied", result
    return session


def text(session, path):
    return session.host.read_text(path)


def problems(session, prefix):
    return [p for p in session.problems() if p.key.startswith(prefix)]


# --- virtual users (1.1.3) -------------------------------------------------------

def test_rhel10_vmail_procedure_for_a_root_outside_var_mail(tmp_path):
    plan = fake_session(tmp_path, "rhel10", "full.toml").plan()
    cmds = commands(plan, "vmail")
    assert cmds[0] == ["useradd", "--home-dir", "/srv/vmail", "--shell", "/usr/sbin/nologin", "vmail"]
    assert ["chown", "vmail:vmail", "/srv/vmail"] in cmds and ["chmod", "700", "/srv/vmail"] in cmds
    semanage = ["semanage", "fcontext", "-a", "-t", "mail_spool_t", "/srv/vmail(/.*)?"]
    restorecon = ["restorecon", "-Rv", "/srv/vmail"]
    assert cmds.index(["mkdir", "-p", "/srv/vmail"]) < cmds.index(semanage) < cmds.index(restorecon)
    assert "mail_location = sdbox:/srv/vmail/%n/" in added(plan, f"{CONF}/10-mail.conf")
    useradd = next(c for c in plan.active() if c.step == "vmail" and c.kind == "command")
    assert useradd.reversible  # rollback restores the account files useradd changed


def test_var_mail_needs_no_selinux_label(tmp_path):
    plan = fake_session(tmp_path, "rhel10", "pam.toml").plan()
    cmds = commands(plan, "vmail")
    assert ["useradd", "--home-dir", "/var/mail", "--shell", "/usr/sbin/nologin", "vmail"] in cmds
    assert not any(c[0] in ("semanage", "restorecon") for c in cmds)
    assert "mail_location = sdbox:/var/mail/%n/" in added(plan, f"{CONF}/10-mail.conf")


@pytest.mark.parametrize("fmt, location", [("mdbox", "mdbox:/var/mail/%n/"),
                                           ("maildir", "maildir:/var/mail/%n/Maildir")])
def test_other_mailbox_formats(tmp_path, fmt, location):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    session.answers.mailbox.format = fmt
    assert f"mail_location = {location}" in added(session.plan(), f"{CONF}/10-mail.conf")


def test_an_existing_vmail_user_and_label_are_noops_with_reasons(tmp_path):
    session = applied(tmp_path, "rhel10", "full.toml")
    noops = {c.key(): c.noop for c in session.plan().changes if c.step == "vmail"}
    assert "already exists" in noops["command:useradd --home-dir /srv/vmail --shell /usr/sbin/nologin vmail"]
    assert "mail_spool_t" in noops["command:semanage fcontext -a -t mail_spool_t /srv/vmail(/.*)?"]
    assert "700 vmail:vmail" in noops["dir:/srv/vmail"]
    assert session.host.state.selinux_fcontexts["/srv/vmail(/.*)?"] == "mail_spool_t"


def test_debian_var_mail_loses_its_setgid_bit(tmp_path):
    session = fake_session(tmp_path, "debian12", "pam.toml")
    assert session.host.stat("/var/mail").mode == 0o2775  # as Debian's base-files makes it
    plan = session.plan()
    cmds = commands(plan, "vmail")
    assert ["chmod", "00700", "/var/mail"] in cmds
    assert session.apply(plan).status == "applied"
    assert session.host.stat("/var/mail").mode == 0o700
    assert session.plan().active() == []


@pytest.mark.parametrize("field, value, words", [
    ("user", "dovecot", "Dovecot's own"), ("user", "dovenull", "login processes"), ("user", "root", "superuser"),
    ("user", "Bad User", "not a valid user name"), ("root", "var/mail", "not an absolute path"),
    ("root", "/etc/mail", "system directory"), ("root", "/", "whole directory"),
    ("root", "/var/mail;rm", "cannot be written safely"), ("format", "mbox", "sdbox")])
def test_vmail_answers_are_validated(tmp_path, field, value, words):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    setattr(session.answers.mailbox, field, value)
    found = problems(session, f"mailbox.{field}")
    assert found and found[0].severity == "error" and words in found[0].message, found


# --- authentication (1.1.4, 1.2.4, 1.3.4) ------------------------------------------

def test_pam_settings_land_in_the_right_blocks(tmp_path):
    session = applied(tmp_path, "debian12", "full.toml")
    mail = text(session, f"{CONF}/10-mail.conf")
    assert get_setting(mail, "first_valid_uid") == "1000"
    assert get_setting(mail, "last_valid_uid") == "60000"
    system = text(session, f"{CONF}/auth-system.conf.ext")
    # the trap: the commented #override_fields inside userdb {} is replaced, not taken for the setting
    assert get_setting(system, "override_fields", ("userdb",)) == "uid=vmail gid=vmail home=/srv/vmail/%n/"
    assert "#override_fields" not in system and get_setting(system, "override_fields") is None
    assert get_setting(text(session, f"{CONF}/20-lmtp.conf"), "auth_username_format", ("protocol lmtp",)) == "%Ln"
    auth = text(session, f"{CONF}/10-auth.conf")
    assert get_setting(auth, "auth_mechanisms") == "plain login"
    assert "\n!include auth-system.conf.ext\n" in auth and "\n#!include auth-ldap.conf.ext\n" in auth


def test_rhel10_pam_plan_shows_first_valid_uid_already_there(tmp_path):
    plan = fake_session(tmp_path, "rhel10", "pam.toml").plan()
    assert "  override_fields = uid=vmail gid=vmail home=/var/mail/%n/" in added(plan, f"{CONF}/auth-system.conf.ext")
    plan = fake_session(tmp_path / "d", "debian12", "pam.toml").plan()
    assert "first_valid_uid = 1000" in added(plan, f"{CONF}/10-mail.conf")


@pytest.mark.parametrize("name, include", [("ldap.toml", "auth-ldap.conf.ext"),
                                           ("ldap-search.toml", "auth-ldap.conf.ext"),
                                           ("sql.toml", "auth-sql.conf.ext")])
def test_ldap_and_sql_switch_the_includes(tmp_path, name, include):
    plan = fake_session(tmp_path, "rhel10", name).plan()
    lines = added(plan, f"{CONF}/10-auth.conf")
    assert "#!include auth-system.conf.ext" in lines and f"!include {include}" in lines
    assert added(plan, f"{CONF}/auth-system.conf.ext") == []
    # LDAP uid / SQL username have no domain either: LMTP must drop it (e2e: test_postfix_virtual.py)
    assert any("auth_username_format = %Ln" in line for line in added(plan, f"{CONF}/20-lmtp.conf"))
    session = applied(tmp_path / "a", "rhel10", name)
    auth = text(session, f"{CONF}/10-auth.conf")
    active = [line for line in auth.splitlines() if line.startswith("!include auth-")]
    assert active == [f"!include {include}"]


def test_switching_back_to_pam_restores_the_system_include(tmp_path):
    session = applied(tmp_path, "debian12", "sql.toml")
    session.answers.auth.backend = "pam"
    assert session.apply(session.plan()).status == "applied"
    auth = text(session, f"{CONF}/10-auth.conf")
    active = [line for line in auth.splitlines() if line.startswith("!include auth-")]
    assert active == ["!include auth-system.conf.ext"] and "#!include auth-sql.conf.ext" in auth


@pytest.mark.parametrize("change, key, words", [
    (lambda a: setattr(a.auth, "mechanisms", ["cram-md5"]), "auth.mechanisms", "PAM"),
    (lambda a: setattr(a.auth, "mechanisms", ["bogus"]), "auth.mechanisms", "not a Dovecot"),
    (lambda a: setattr(a.auth, "first_valid_uid", 0), "auth.first_valid_uid", "root"),
    (lambda a: setattr(a.auth, "last_valid_uid", 500), "auth.last_valid_uid", "below")])
def test_auth_answers_are_validated(tmp_path, change, key, words):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    change(session.answers)
    found = problems(session, key)
    assert found and words in found[0].message, found


def test_a_mail_user_outside_the_uid_range_is_refused(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.host.state.users["vmail"] = 500
    found = problems(session, "auth.first_valid_uid")
    assert found and "uid 500" in found[0].message


# --- protocols (1.1.5, 1.7) --------------------------------------------------------

def test_rhel10_uncomments_the_protocols_line(tmp_path):
    session = applied(tmp_path, "rhel10", "ldap.toml")  # pop3 = false
    conf = text(session, "/etc/dovecot/dovecot.conf")
    assert "\nprotocols = imap lmtp\n" in conf and "#protocols" not in conf


def test_debian_protocols_line_follows_the_protocols_d_include(tmp_path):
    session = applied(tmp_path, "debian12", "ldap.toml")  # pop3 = false
    lines = text(session, "/etc/dovecot/dovecot.conf").splitlines()
    at = lines.index("!include_try /usr/share/dovecot/protocols.d/*.protocol")
    assert lines[at + 2] == "protocols = imap lmtp"
    session.answers.protocols.pop3 = True
    assert session.apply(session.plan()).status == "applied"
    conf = text(session, "/etc/dovecot/dovecot.conf")
    assert conf.count("protocols = ") == 1 and "\nprotocols = imap pop3 lmtp\n" in conf


# --- mailboxes (1.5) ---------------------------------------------------------------

def test_special_use_mailboxes_and_an_extra_one(tmp_path):
    session = applied(tmp_path, "rhel10", "full.toml")
    conf = text(session, f"{CONF}/15-mailboxes.conf")
    for name in ("Drafts", "Junk", "Trash", "Sent"):
        where = ("namespace inbox", f"mailbox {name}")
        assert get_setting(conf, "special_use", where) == f"\\{name}"
        assert get_setting(conf, "auto", where) == "subscribe"
    assert '  mailbox "Important Emails" {\n    auto = create\n  }\n' in conf
    assert get_setting(conf, "special_use", ("namespace inbox", 'mailbox "Sent Messages"')) == "\\Sent"


@pytest.mark.parametrize("spec, key, words", [
    (dict(auto="always"), ".auto", "subscribe"), (dict(special_use="\\Spam"), ".special_use", "RFC 6154"),
    (dict(name='Bad"Name'), "", "cannot be written"), (dict(name="Bad{Name"), "", "cannot be written")])
def test_mailbox_answers_are_validated(tmp_path, spec, key, words):
    from mailwizard.answers import MailboxDef
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    box = MailboxDef(**{"name": "Extra", "auto": "create", **spec})
    session.answers.mailboxes.append(box)
    found = problems(session, f"mailboxes.{box.name}{key}")
    assert found and words in found[0].message, found
    assert mailboxes.check_mailbox(MailboxDef("Important Emails", "", "create")) == []


# --- LMTP (1.6) --------------------------------------------------------------------

GUIDE_RULES = [
    'rule family="ipv4" source address="192.0.2.1/32" port protocol="tcp" port="24" accept',
    'rule family="ipv6" source address="2001:db8:2::1/128" port protocol="tcp" port="24" accept']


def test_rhel10_lmtp_inet_listener_with_the_guides_rich_rules(tmp_path):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    plan = session.plan()
    cmds = commands(plan, "lmtp")
    assert cmds == [*[["firewall-cmd", "--permanent", "--zone=public", f"--add-rich-rule={r}"] for r in GUIDE_RULES],
                    ["firewall-cmd", "--reload"]]
    assert session.apply(plan).status == "applied"
    conf = text(session, f"{CONF}/10-master.conf")
    assert get_setting(conf, "port", ("service lmtp", "inet_listener lmtp")) == "24"
    for key, value in (("mode", "0600"), ("user", "postfix"), ("group", "postfix")):
        assert get_setting(conf, key, ("service lmtp", "unix_listener lmtp")) == value
    assert set(GUIDE_RULES) <= session.host.state.firewall_rich_rules  # and replication's (port 12345)
    assert lmtp.CHROOT_SOCKET not in conf  # RHEL's Postfix is not chrooted
    noops = [c for c in session.plan().changes if c.step == "lmtp"]
    assert all(c.noop for c in noops) and "already admits 192.0.2.1/32" in noops[1].noop


def test_debian_lmtp_socket_for_the_chrooted_postfix(tmp_path):
    session = applied(tmp_path, "debian12", "pam.toml")
    conf = text(session, f"{CONF}/10-master.conf")
    where = ("service lmtp", "unix_listener /var/spool/postfix/private/dovecot-lmtp")
    assert get_setting(conf, "mode", where) == "0600" and get_setting(conf, "user", where) == "postfix"
    assert get_setting(conf, "port", ("service lmtp", "inet_listener lmtp")) is None
    from mailwizard.plan import PlanContext
    assert lmtp.postfix_transport(PlanContext(session.host, session.profile)) == "lmtp:unix:private/dovecot-lmtp"


def test_back_to_the_socket_alone_closes_the_tcp_listener(tmp_path):
    session = applied(tmp_path, "debian12", "full.toml")
    session.answers.lmtp.listener = "unix"
    assert session.apply(session.plan()).status == "applied"
    conf = text(session, f"{CONF}/10-master.conf")
    assert get_setting(conf, "port", ("service lmtp", "inet_listener lmtp")) == "0"
    assert session.plan().active() == []


def test_a_non_standard_lmtp_port_gets_its_selinux_label(tmp_path):
    def port(a):
        a.lmtp.port = 2424
    session = fake_session(tmp_path, "rhel10", "full.toml")
    port(session.answers)
    assert ["semanage", "port", "-a", "-t", "lmtp_port_t", "-p", "tcp", "2424"] in commands(session.plan(), "lmtp")
    session = applied(tmp_path / "b", "rhel10", "full.toml", port)
    assert session.host.state.selinux_ports == {"tcp/2424": "lmtp_port_t"}
    assert session.plan().active() == []
    # the standard port is labelled by the policy already
    plan = fake_session(tmp_path / "c", "rhel10", "full.toml").plan()
    assert not any(c[0] == "semanage" for c in commands(plan, "lmtp"))


@pytest.mark.parametrize("spec, words", [
    (dict(allow_from=["192.0.2.1/24"]), "did you mean 192.0.2.0/24"),
    (dict(allow_from=["mta.example.com"]), "not an address"),
    (dict(port=70000), "not a TCP port"), (dict(listener="socket"), "not one of unix"),
    (dict(socket_mode="rw"), "octal")])
def test_lmtp_answers_are_validated(tmp_path, spec, words):
    session = fake_session(tmp_path, "rhel10", "full.toml")
    for k, v in spec.items():
        setattr(session.answers.lmtp, k, v)
    found = [p for p in problems(session, "lmtp") if p.severity == "error"]
    assert found and words in found[0].message, found


def test_debian_warns_that_allow_from_is_not_enforced(tmp_path):
    session = fake_session(tmp_path, "debian12", "full.toml")
    found = problems(session, "lmtp.allow_from")
    assert found and found[0].severity == "warning" and "no firewalld" in found[0].message


# --- firewall (1.1.5, 1.7) ---------------------------------------------------------

def test_rhel10_opens_the_guides_services_then_reloads(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    plan = session.plan()
    assert commands(plan, "firewall") == [
        ["firewall-cmd", "--permanent", "--add-service=imaps", "--add-service=imap", "--add-service=pop3s",
         "--add-service=pop3"],
        ["firewall-cmd", "--reload"]]
    assert session.apply(plan).status == "applied"
    assert session.host.state.firewall_services & set(firewall.PORTS) == {"imaps", "imap", "pop3s", "pop3"}
    reasons = [c.noop for c in session.plan().changes if c.step == "firewall"]
    assert "already allows imaps imap pop3s pop3" in reasons[0] and reasons[-1] == "no firewall rule changed"
    assert all(c.status == "pass" for c in firewall.verify(session.answers, session.host, session.profile))


def test_disabling_pop3_closes_its_services(tmp_path):
    session = applied(tmp_path, "rhel10", "pam.toml")
    session.answers.protocols.pop3 = False
    plan = session.plan()
    assert commands(plan, "firewall") == [
        ["firewall-cmd", "--permanent", "--remove-service=pop3s", "--remove-service=pop3"],
        ["firewall-cmd", "--reload"]]
    assert session.apply(plan).status == "applied"
    assert session.host.state.firewall_services & set(firewall.PORTS) == {"imaps", "imap"}
    checks = firewall.verify(session.answers, session.host, session.profile)
    assert "firewall blocks pop3 (110)" in [c.name for c in checks if c.status == "pass"]
    session.host.state.firewall_services.add("pop3")
    statuses = {c.name: c.status for c in firewall.verify(session.answers, session.host, session.profile)}
    assert statuses["firewall blocks pop3 (110)"] == "fail"


@pytest.mark.parametrize("platform, manage, reason", [("debian12", True, "has no firewalld"),
                                                      ("rhel10", False, "manage = false")])
def test_no_firewall_commands_and_the_review_says_why(tmp_path, platform, manage, reason):
    session = fake_session(tmp_path, platform, "full.toml")
    session.answers.firewall_manage = manage
    plan = session.plan()
    assert not any(c[0] == "firewall-cmd" for c in commands(plan))
    skipped = next(c for c in plan.changes if c.step == "firewall")
    assert reason in skipped.noop and "993" in skipped.noop
    assert reason in plan.render_text()


def test_a_stopped_firewalld_is_reported_before_anything_is_applied(tmp_path):
    session = fake_session(tmp_path, "rhel10", "pam.toml")
    session.host.state.failing.add("firewall-cmd")
    found = problems(session, "firewall.manage")
    assert found and found[0].severity == "error" and "systemctl enable --now firewalld" in found[0].message
    session.answers.firewall_manage = False
    assert problems(session, "firewall") == []


def test_a_firewalld_that_refuses_a_non_root_dry_run_is_a_warning(tmp_path, monkeypatch):
    """README's `mailwizard --dry-run` needs no root, but firewalld answers only root (polkit): its refusal
    is no "firewalld is not running" that stops the plan (found on the RHEL-flavoured host: the dry run
    of install.sh's second command exited 2)."""
    from mailwizard.host import Result

    session = fake_session(tmp_path, "rhel10", "pam.toml")
    run = session.host.run
    refused = ("ERROR:dbus.proxies:Introspect error on :1.0:/org/fedoraproject/FirewallD1: dbus.exceptions."
               "DBusException: org.fedoraproject.FirewallD1.NotAuthorizedException: Not Authorized(uid): "
               "org.fedoraproject.FirewallD1.info\nAuthorization failed.\n")
    monkeypatch.setattr(session.host, "run", lambda argv, **kw: Result(argv, 1, refused)
                        if argv[0] == "firewall-cmd" else run(argv, **kw))
    found = problems(session, "firewall.manage")
    assert [p.severity for p in found] == ["warning"] and "run it with sudo" in found[0].message
    assert next(c for c in commands(session.plan()) if c[0] == "firewall-cmd")[2:] == [
        "--add-service=imaps", "--add-service=imap", "--add-service=pop3s", "--add-service=pop3"]


def test_debian_plans_no_firewall_or_selinux_commands(tmp_path):
    plan = fake_session(tmp_path, "debian12", "full.toml").plan()
    assert not any(c[0] in ("firewall-cmd", "semanage", "restorecon") for c in commands(plan))
    assert ["useradd", "--home-dir", "/srv/vmail", "--shell", "/usr/sbin/nologin", "vmail"] in commands(plan)


@pytest.mark.parametrize("name", DOVECOT_FILES)
def test_every_dovecot_step_is_in_the_plan(tmp_path, name):
    steps = {c.step for c in fake_session(tmp_path, "rhel10", name).plan().changes}
    assert {"vmail", "auth", "protocols", "mailboxes", "lmtp", "firewall"} <= steps


def test_null_client_plans_none_of_the_dovecot_steps(tmp_path):
    steps = {c.step for c in fake_session(tmp_path, "rhel10", "null-client.toml").plan().changes}
    assert not steps & {"vmail", "auth", "protocols", "mailboxes", "lmtp", "firewall"}


def test_mail_location_helpers():
    from mailwizard.answers import Answers
    a = Answers()
    a.mailbox.root = "/srv/vmail/"
    assert vmail.mail_root(a) == "/srv/vmail" and vmail.mail_location(a) == "sdbox:/srv/vmail/%n/"


def test_auth_test_takes_the_password_on_stdin_only(tmp_path):
    from mailwizard.steps import auth
    session = fake_session(tmp_path, "debian12", "pam.toml")
    host = session.host
    assert auth.given_test_login(session.answers, host) is None
    session.answers.auth.test_user, session.answers.auth.test_password_file = "alice", "/root/test.pass"
    host.real("/root").mkdir(parents=True)
    host.real("/root/test.pass").write_text("s3cret pass\n")
    user, password = auth.given_test_login(session.answers, host)
    assert (user, password) == ("alice", "s3cret pass")
    check = auth.auth_test(host, user, password)
    assert host.commands[-1] == ["setsid", "--wait", "doveadm", "auth", "test", "alice"]
    assert check.status == "fail"  # the fake doveadm says nothing, so nothing proves success
    assert not any(password in " ".join(argv) for argv in host.commands)


def test_enable_include_uncomments_or_adds():
    from mailwizard.dovecot_conf import enable_include
    text = "#!include auth-system.conf.ext\n#!include auth-sql.conf.ext\n"
    assert enable_include(text, "auth-sql.conf.ext") == "#!include auth-system.conf.ext\n!include auth-sql.conf.ext\n"
    assert enable_include("a = 1\n", "auth-ldap.conf.ext") == "a = 1\n!include auth-ldap.conf.ext\n"
    once = enable_include(text, "auth-system.conf.ext")
    assert enable_include(once, "auth-system.conf.ext") == once
