"""Tier 1 for issue 16 (an authenticated smarthost): the postfix_relay step's plans on fake hosts.

Off unless a relay user is given; then /etc/postfix/sasl_passwd (0600 root,
secret: the review shows no line of it), postmap with the platform's map type
(hash on Debian 12 and RHEL 9, lmdb on RHEL 10), smtp_sasl_auth_enable,
smtp_sasl_password_maps, smtp_sasl_security_options = noanonymous and
smtp_tls_security_level = encrypt. The password, typed or from its file, is in
no description, diff, command, JSON plan or saved answers file. Answers that
cannot work are refused at their key.
"""

from __future__ import annotations

import json

import pytest

from mailwizard.steps import postfix_relay
from support import fake_session, postfix_installed_with

SECRET = "Relay-pa ss#word"
RELAY = "[smtp.example.net]:587"


def session_for(tmp_path, platform, name="pam.toml", password_file=True, mode=0o600, typed=""):
    session = fake_session(tmp_path, platform, name)
    p = session.answers.postfix
    p.relayhost, p.relay_user = RELAY, "mailer"
    if password_file:
        p.relay_password_file = "/root/relay.pass"
        session.host.makedirs("/root")
        session.host.write_atomic("/root/relay.pass", (SECRET + "\n").encode(), mode=mode, uid=0, gid=0)
    p.relay_password = typed
    return session


def relay_changes(plan):
    return [c for c in plan.changes if c.step == "postfix_relay"]


def shown(plan) -> str:
    return plan.render_text() + json.dumps(plan.to_json())


@pytest.mark.parametrize("platform", ["debian12", "rhel10"])
def test_off_by_default(tmp_path, platform):
    session = fake_session(tmp_path, platform, "full.toml")
    plan = session.plan()
    assert relay_changes(plan) == []
    argvs = [" ".join(argv) for c in plan.active() for argv in c.commands()]
    assert not [a for a in argvs if "smtp_sasl" in a or "sasl_passwd" in a]
    tls = next(c for c in plan.changes if c.step == "postfix_tls")
    assert ("smtp_tls_security_level", "may") in tls.settings


@pytest.mark.parametrize("platform, map_type", [("debian12", "hash"), ("rhel9", "hash"), ("rhel10", "lmdb")])
def test_plan_writes_the_secret_map_and_logs_in_over_tls(tmp_path, platform, map_type):
    session = session_for(tmp_path, platform)
    assert session.errors() == []
    plan = session.plan()
    write, postmap, postconf = relay_changes(plan)
    assert (write.path, write.mode, write.owner, write.group, write.secret) == \
        ("/etc/postfix/sasl_passwd", 0o600, "root", "root", True)
    assert write.content == f"{RELAY} mailer:{SECRET}\n".encode()
    assert postmap.commands() == [["postmap", f"{map_type}:/etc/postfix/sasl_passwd"]] and postmap.secret
    assert postconf.settings == [("smtp_sasl_auth_enable", "yes"),
                                 ("smtp_sasl_password_maps", f"{map_type}:/etc/postfix/sasl_passwd"),
                                 ("smtp_sasl_security_options", "noanonymous")]
    tls = next(c for c in plan.changes if c.step == "postfix_tls")
    assert ("smtp_tls_security_level", "encrypt") in tls.settings
    assert SECRET not in shown(plan) and "content not shown" in write.diff()
    assert [s.name for s in session.active_steps()].count("postfix_relay") == 1


def test_a_typed_password_is_used_and_never_saved(tmp_path):
    session = session_for(tmp_path, "debian12", password_file=False, typed=SECRET)
    assert session.errors() == []
    plan = session.plan()
    assert relay_changes(plan)[0].content.endswith(f"mailer:{SECRET}\n".encode())
    assert "typed on the Outbound screen" in relay_changes(plan)[0].describe()
    assert SECRET not in shown(plan)
    saved = session.answers.to_toml()
    assert SECRET not in saved and 'relay_user = "mailer"' in saved and "relay_password" not in saved


def test_a_null_client_logs_in_at_its_relay_too(tmp_path):
    session = session_for(tmp_path, "rhel10", "null-client.toml")
    assert session.errors() == []
    write, _postmap, postconf = relay_changes(session.plan())
    assert write.content.startswith(f"{RELAY} mailer:".encode())
    assert ("smtp_sasl_auth_enable", "yes") in postconf.settings


def test_the_rerun_is_a_noop_once_applied(tmp_path):
    session = session_for(tmp_path, "debian12")
    assert session.apply(session.plan()).status == "applied"
    host = session.host
    meta = host.stat("/etc/postfix/sasl_passwd")
    assert (meta.mode, meta.uid) == (0o600, 0)
    again = relay_changes(session.plan())
    assert all(c.noop for c in again), [c.describe() for c in again if not c.noop]
    checks = {c.name: c.status for c in postfix_relay.verify(session.answers, host, session.profile)}
    assert checks[f"postconf: log in at {RELAY}"] == "pass", checks
    assert checks["/etc/postfix/sasl_passwd readable by root only"] == "pass"
    assert checks[f"the map holds the login for {RELAY}"] == "pass"


@pytest.mark.parametrize("edit, key, words", [
    (lambda p: setattr(p, "relayhost", ""), "postfix.relay_user", "give postfix.relayhost"),
    (lambda p: setattr(p, "relay_user", "me:you"), "postfix.relay_user", "colon"),
    (lambda p: setattr(p, "relay_user", "a b"), "postfix.relay_user", "blank"),
    (lambda p: setattr(p, "relay_user", ""), "postfix.relay_user", "is empty"),
    (lambda p: setattr(p, "relay_password_file", ""), "postfix.relay_password_file", "give the file"),
    (lambda p: setattr(p, "relay_password_file", "/root/none.pass"), "postfix.relay_password_file",
     "does not exist"),
    (lambda p: setattr(p, "relay_password", " padded"), "postfix.relay_password", "blank"),
])
def test_answers_that_cannot_work_are_refused_at_their_key(tmp_path, edit, key, words):
    session = session_for(tmp_path, "debian12")
    edit(session.answers.postfix)
    errors = [p for p in session.errors() if p.key == key]
    assert errors and words in errors[0].message, session.errors()
    assert all(SECRET not in p.message for p in session.errors())


def test_a_password_file_others_can_read_is_refused(tmp_path):
    session = session_for(tmp_path, "debian12", mode=0o644)
    errors = [p for p in session.errors() if p.key == "postfix.relay_password_file"]
    assert errors and "chmod 600 /root/relay.pass" in errors[0].message


def _smtp_server(replies: dict[str, str]):
    """A one-connection SMTP server on loopback answering each command's verb from `replies`."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb") as f:
            f.write(b"220 relay.example.net ESMTP\r\n")
            f.flush()
            for line in f:
                verb = line.decode().split()[0].upper()
                f.write(replies.get(verb, "250 ok").encode() + b"\r\n")
                f.flush()
                if verb == "QUIT":
                    break
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return port


def test_the_report_asks_the_relay_host_for_starttls_and_auth():
    port = _smtp_server({"EHLO": "250-relay.example.net\r\n250 PIPELINING", "QUIT": "221 bye"})
    ok, said = postfix_relay.offers_auth(f"[127.0.0.1]:{port}")
    assert not ok and said == f"127.0.0.1:{port} offers no STARTTLS: Postfix (encrypt) would not send the password"
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    ok, said = postfix_relay.offers_auth(f"[127.0.0.1]:{closed}", timeout=3)
    assert not ok and said.startswith(f"cannot talk to 127.0.0.1:{closed}: ConnectionRefusedError")


def test_turned_off_again_the_login_is_taken_out(tmp_path):
    session = session_for(tmp_path, "debian12")
    assert session.apply(session.plan()).status == "applied"
    host = session.host
    assert host.exists("/etc/postfix/sasl_passwd") and host.exists("/etc/postfix/sasl_passwd.db")
    session.answers.postfix.relay_user = ""
    session.answers.postfix.relay_password_file = ""
    plan = session.plan()
    undo = relay_changes(plan)
    assert [c.kind for c in undo] == ["postconf", "remove", "remove"]
    assert undo[0].commands() == [["postconf", "-X", "smtp_sasl_auth_enable", "smtp_sasl_password_maps",
                                   "smtp_sasl_security_options"]]
    tls = next(c for c in plan.changes if c.step == "postfix_tls")
    assert ("smtp_tls_security_level", "may") in tls.settings  # outbound TLS opportunistic again
    assert session.apply(plan).status == "applied"
    assert not host.exists("/etc/postfix/sasl_passwd") and not host.exists("/etc/postfix/sasl_passwd.db")
    assert "smtp_sasl" not in host.read_text("/etc/postfix/main.cf")
    again = session.plan()
    assert relay_changes(again) == [] and again.active() == []  # and nothing more to do
    assert postfix_relay.verify(session.answers, host, session.profile) == []


def turned_off(session):
    session.answers.postfix.relay_user = ""
    session.answers.postfix.relay_password_file = ""


@pytest.mark.parametrize("platform, suffix", [("debian12", ".db"), ("rhel10", ".lmdb")])
def test_a_run_stopped_after_the_settings_went_still_removes_the_map(tmp_path, platform, suffix):
    """The journal knows the map is the wizard's: with main.cf's login gone (the run stopped there), a re-run
    still removes the map holding the password and its indexed copy; then nothing more."""
    session = session_for(tmp_path, platform)
    assert session.apply(session.plan()).status == "applied"
    host = session.host
    assert host.run(["postconf", "-X", *postfix_relay.KEYS]).ok
    turned_off(session)
    plan = session.plan()
    assert [(c.kind, c.commands()) for c in relay_changes(plan)] == [
        ("remove", [["rm", "-f", "/etc/postfix/sasl_passwd"]]),
        ("remove", [["rm", "-f", "/etc/postfix/sasl_passwd" + suffix]])]
    assert session.apply(plan).status == "applied"
    assert not host.exists("/etc/postfix/sasl_passwd") and not host.exists("/etc/postfix/sasl_passwd" + suffix)
    assert session.plan().active() == []


def test_turned_off_the_login_settings_go_back_to_what_main_cf_had(tmp_path):
    """main.cf had a login of its own before the wizard (another map): off, its settings are set back."""
    session = session_for(tmp_path, "rhel10")
    postfix_installed_with(session.host, "smtp_sasl_auth_enable = yes",
                           "smtp_sasl_password_maps = lmdb:/etc/postfix/old_passwd")
    assert session.apply(session.plan()).status == "applied"
    turned_off(session)
    settings = relay_changes(session.plan())[0]
    assert settings.commands() == [["postconf", "-e", "smtp_sasl_password_maps=lmdb:/etc/postfix/old_passwd"],
                                   ["postconf", "-X", "smtp_sasl_security_options"]]
    assert "set back as they were before mailwizard" in settings.describe()
