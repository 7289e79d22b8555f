"""Pilot tests of the Dovecot screens (issue 3): Mail store, Authentication with the PAM, LDAP and
MariaDB forms and their Test connection, Protocols, Mailboxes, LMTP; skipping and resuming.

Test connection is exercised with backends.test_ldap/test_sql replaced by fakes (the real clients
against real servers are the end-to-end tests'); what is proven here is that the result's lines
are shown as they came back, and that the test runs in a worker while the screen stays usable.
"""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Button, Input, RadioSet, Static

from mailwizard.answers import parse
from mailwizard.app import create_app
from mailwizard.backends import TestResult
from mailwizard.widgets import FieldMessages, ResultView, StepBar
from tui_support import (
    choose,
    field_message,
    forward,
    jump,
    make_session,
    press,
    replace_input,
    screen_name,
    settle,
    text_of,
    tick,
    walk_to,
)

SIZE = (80, 24)




async def to_backend_form(pilot, moves: int, form: str) -> None:
    """On the Authentication screen (the app opened there), choose a backend by keyboard, on to its form."""
    await choose(pilot, "#auth-backend", moves)
    await forward(pilot, form)



async def until(pilot, condition, seconds: float = 5) -> None:
    """Let the app run until `condition()` holds (without waiting for the workers to finish)."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the condition never held")


def shown_text(app) -> str:
    """Everything the terminal shows (as an SVG screenshot's text)."""
    return app.export_screenshot()


# --- PAM ----------------------------------------------------------------------------------

async def test_pam_form_refuses_a_wrong_uid_at_the_field(session):
    app = create_app(session, [], start="auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await to_backend_form(pilot, 0, "PamScreen")
        assert app.focused is app.screen.query_one("#auth-first_valid_uid")
        await replace_input(pilot, "#auth-first_valid_uid", "1ooo")
        await forward(pilot, "PamScreen")
        assert field_message(app, "auth.first_valid_uid").strip() == "error: '1ooo' is not a whole number"
        assert app.focused is app.screen.query_one("#auth-first_valid_uid")
        await replace_input(pilot, "#auth-first_valid_uid", "2000")
        await replace_input(pilot, "#auth-last_valid_uid", "1500")
        await forward(pilot, "PamScreen")
        assert "below first_valid_uid 2000" in field_message(app, "auth.last_valid_uid")
        assert app.screen.query_one("#auth-last_valid_uid", Input).has_class("-invalid")
        assert not app.screen.query_one("#auth-first_valid_uid", Input).has_class("-invalid")
        await replace_input(pilot, "#auth-last_valid_uid", "60000")
        await forward(pilot, "ProtocolsScreen")
    auth = session.answers.auth
    assert (auth.backend, auth.first_valid_uid, auth.last_valid_uid) == ("pam", 2000, 60000)


# --- LDAP ---------------------------------------------------------------------------------

async def test_ldap_form_by_keyboard(session):
    app = create_app(session, [], start="auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await to_backend_form(pilot, 1, "LdapScreen")
        steps = [title for _, title in app.step_titles()]
        assert "LDAP" in steps and "PAM" not in steps
        screen = app.screen
        # an unencrypted URI is refused at the field
        await replace_input(pilot, "#auth-ldap-uris", "ldap://ldap.example.com")
        await replace_input(pilot, "#auth-ldap-base", "ou=People,dc=example,dc=com")
        await replace_input(pilot, "#auth-ldap-bind_userdn", "cn=%n,ou=People,dc=example,dc=com")
        await forward(pilot, "LdapScreen")
        assert "without STARTTLS" in field_message(app, "auth.ldap.uris")
        assert app.focused is screen.query_one("#auth-ldap-uris")
        # STARTTLS on, subtree -> onelevel
        await tick(pilot, "#auth-ldap-starttls")
        await choose(pilot, "#auth-ldap-scope", 1)
        await forward(pilot, "ProtocolsScreen")
    ldap = session.answers.auth.ldap
    assert session.answers.auth.backend == "ldap"
    assert ldap.uris == ["ldap://ldap.example.com"] and ldap.starttls is True
    assert (ldap.base, ldap.scope) == ("ou=People,dc=example,dc=com", "onelevel")
    assert ldap.bind_userdn == "cn=%n,ou=People,dc=example,dc=com" and ldap.dn == ""


async def test_ldap_dynamic_lookup_keeps_the_typed_password_in_memory_only(session):
    app = create_app(session, [], start="auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await to_backend_form(pilot, 1, "LdapScreen")
        screen = app.screen
        assert screen.query_one("#ldap-lookup").display is False
        await choose(pilot, "#auth-ldap-mode", 1)  # search: users in different trees
        assert screen.query_one("#ldap-lookup").display is True
        assert screen.query_one("#ldap-template").display is False
        await replace_input(pilot, "#auth-ldap-uris", "ldaps://ldap.example.com")
        await replace_input(pilot, "#auth-ldap-base", "dc=example,dc=com")
        await replace_input(pilot, "#auth-ldap-dn", "cn=dovecot_LDAP,dc=example,dc=com")
        # no password and no file: refused at the password file field
        await forward(pilot, "LdapScreen")
        assert "give the file holding the password" in field_message(app, "auth.ldap.dnpass_file")
        await replace_input(pilot, "#auth-ldap-dnpass", "s3cret pass")
        await settle(pilot)
        dnpass = screen.query_one("#auth-ldap-dnpass", Input)
        assert dnpass.password is True
        assert "s3cret" not in shown_text(app), "a typed password is shown as dots only"
        await forward(pilot, "ProtocolsScreen")
        await jump(pilot, "review")
        plan = text_of(app.screen.query_one("#plan", Static))
        assert "dovecot-ldap.conf.ext" in plan and "s3cret" not in plan
    ldap = session.answers.auth.ldap
    assert (ldap.dn, ldap.dnpass, ldap.bind_userdn) == ("cn=dovecot_LDAP,dc=example,dc=com", "s3cret pass", "")
    assert "s3cret" not in session.answers.to_toml()


async def test_ldap_test_connection_shows_the_lines_and_leaves_the_screen_usable(session, monkeypatch):
    calls, release = [], threading.Event()

    def fake_test_ldap(ldap, dnpass=None, user=None, password=None, timeout=5):
        calls.append((list(ldap.uris), ldap.dn, dnpass, user, password))
        release.wait(timeout=30)
        return TestResult(False, ["ldaps://ldap.example.com: connected, TLS (ldaps), server certificate verified",
                                  "bind as cn=dovecot_LDAP,dc=example,dc=com: invalid credentials "
                                  "(wrong password, or no such entry)"])

    monkeypatch.setattr("mailwizard.backends.test_ldap", fake_test_ldap)
    session.answers.auth.backend = "ldap"
    ldap = session.answers.auth.ldap
    ldap.uris, ldap.base = ["ldaps://ldap.example.com"], "dc=example,dc=com"
    ldap.dn = "cn=dovecot_LDAP,dc=example,dc=com"
    app = create_app(session, [], start="auth_ldap")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#ldap-lookup").display is True
        await replace_input(pilot, "#auth-ldap-dnpass", "wrong-pass")
        await replace_input(pilot, "#test-user", "alice")
        await replace_input(pilot, "#test-password", "alice-pass")
        await pilot.press("ctrl+t")
        # the server has not answered yet: the screen says so and still takes keys
        await until(pilot, lambda: calls)
        assert calls == [(["ldaps://ldap.example.com"], "cn=dovecot_LDAP,dc=example,dc=com", "wrong-pass",
                          "alice", "alice-pass")]
        result = screen.query_one("#test-result", ResultView)
        assert "Connecting to the directory" in text_of(result)
        assert str(screen.query_one("#test-connection", Button).label) == "Testing..."
        screen.query_one("#auth-ldap-base", Input).focus()
        await pilot.press("end", *",o=x")
        await pilot.pause()
        assert screen.query_one("#auth-ldap-base", Input).value == "dc=example,dc=com,o=x"
        await pilot.press("ctrl+t")  # a second test while one runs is ignored
        await pilot.pause()
        assert len(calls) == 1
        release.set()
        await settle(pilot)
        shown = text_of(result)
        assert shown.startswith("FAIL")
        assert "connected, TLS (ldaps), server certificate verified" in shown
        assert "invalid credentials (wrong password, or no such entry)" in shown
        assert str(screen.query_one("#test-connection", Button).label) == "Test connection (ctrl+t)"
        # the button does it too, and a passing test says so
        monkeypatch.setattr("mailwizard.backends.test_ldap",
                            lambda *a, **k: TestResult(True, ["bind as cn=dovecot_LDAP,dc=example,dc=com: success"]))
        screen.query_one("#test-connection", Button).focus()
        await press(pilot, "enter")
        assert text_of(result).startswith("PASS")
        assert "success" in text_of(result)
    assert ldap.dnpass == "wrong-pass" and "wrong-pass" not in session.answers.to_toml()


async def test_back_keeps_the_form_and_another_backend_changes_the_next_screen(session):
    app = create_app(session, [], start="auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await to_backend_form(pilot, 1, "LdapScreen")
        await replace_input(pilot, "#auth-ldap-uris", "ldaps://a.example.com ldaps://b.example.com")
        await press(pilot, "escape")
        assert screen_name(app) == "AuthScreen"
        assert session.answers.auth.ldap.uris == ["ldaps://a.example.com", "ldaps://b.example.com"]
        await choose(pilot, "#auth-backend", 1)  # LDAP -> MariaDB
        assert "MariaDB" in str(app.screen.query_one(StepBar).render())
        assert "Next: the MariaDB settings." in text_of(app.screen.query_one("#auth-next", Static))
        await forward(pilot, "SqlScreen")
        await press(pilot, "escape")
        await choose(pilot, "#auth-backend", -1)  # back to LDAP: the URIs typed before are there
        await forward(pilot, "LdapScreen")
        uris = app.screen.query_one("#auth-ldap-uris", Input).value
        assert uris == "ldaps://a.example.com ldaps://b.example.com"


# --- MariaDB ------------------------------------------------------------------------------

async def test_sql_form_by_keyboard(session):
    app = create_app(session, [], start="auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await to_backend_form(pilot, 2, "SqlScreen")
        await replace_input(pilot, "#auth-sql-host", "mariadb.example.com")
        await replace_input(pilot, "#auth-sql-port", "33o6")
        await replace_input(pilot, "#auth-sql-dbname", "dovecotDB")
        await replace_input(pilot, "#auth-sql-user", "dovecot")
        await replace_input(pilot, "#auth-sql-password", "it's a s3cret")
        await forward(pilot, "SqlScreen")
        assert field_message(app, "auth.sql.port").strip() == "error: '33o6' is not a whole number"
        assert app.focused is app.screen.query_one("#auth-sql-port")
        # no CA certificate for a remote server: a warning at the field, which does not stop
        assert field_message(app, "auth.sql.ssl_ca").startswith("warning:")
        await replace_input(pilot, "#auth-sql-port", "3307")
        await replace_input(pilot, "#auth-sql-user_query", "SELECT username FROM users;")
        await forward(pilot, "SqlScreen")
        assert "does not use the user name" in field_message(app, "auth.sql.user_query")
        await replace_input(pilot, "#auth-sql-user_query", "SELECT username FROM users WHERE username='%u';")
        assert "s3cret" not in shown_text(app)
        await forward(pilot, "ProtocolsScreen")
    sql = session.answers.auth.sql
    assert (sql.host, sql.port, sql.dbname, sql.user) == ("mariadb.example.com", 3307, "dovecotDB", "dovecot")
    assert sql.password == "it's a s3cret"
    assert "s3cret" not in session.answers.to_toml()


async def test_sql_test_connection_shows_what_came_back(tmp_path, monkeypatch):
    calls, release = [], threading.Event()

    def fake_test_sql(sql, password=None, *, user="test@example.com", timeout=5):
        calls.append((sql.host, sql.dbname, password, user))
        release.wait(timeout=30)
        return TestResult(True, [
            "connected to mariadb_srv.example.com:3306 as dovecot, database dovecotDB, TLS (TLS_AES_256_GCM_SHA384), "
            "server certificate verified",
            "user_query for alice@example.com: username = alice@example.com",
            "password_query for alice@example.com: user = alice@example.com, "
            "password = (hidden: 106 characters, $6$ crypt)",
            "iterate_query: 2 user(s): alice@example.com, bob@example.com"])

    monkeypatch.setattr("mailwizard.backends.test_sql", fake_test_sql)
    session = make_session(tmp_path / "root", answers="sql.toml")
    app = create_app(session, [], start="auth_sql")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await replace_input(pilot, "#test-user", "alice@example.com")
        screen.query_one("#test-connection", Button).focus()
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: calls)
        assert calls == [("mariadb_srv.example.com", "dovecotDB", None, "alice@example.com")]
        assert "Connecting to the database" in text_of(screen.query_one("#test-result", ResultView))
        await pilot.press("shift+tab")  # the focus still moves while the test runs
        await pilot.pause()
        assert app.focused is screen.query_one("#test-user")
        release.set()
        await settle(pilot)
        shown = text_of(screen.query_one("#test-result", ResultView))
        assert shown.startswith("PASS")
        assert "password = (hidden: 106 characters, $6$ crypt)" in shown
        assert "iterate_query: 2 user(s): alice@example.com, bob@example.com" in shown


async def test_a_test_that_raises_is_shown_not_a_traceback(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no route to host")

    monkeypatch.setattr("mailwizard.backends.test_sql", broken)
    session = make_session(tmp_path / "root", answers="sql.toml")
    app = create_app(session, [], start="auth_sql")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+t")
        shown = text_of(app.screen.query_one("#test-result", ResultView))
        assert shown.startswith("FAIL") and "RuntimeError: no route to host" in shown


# --- Mail store ---------------------------------------------------------------------------

async def test_mail_store_refuses_dovecot_as_the_mail_user(session):
    app = create_app(session, [], start="vmail")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await replace_input(pilot, "#mailbox-user", "dovecot")
        await forward(pilot, "MailStoreScreen")
        assert "cannot own the mailboxes" in field_message(app, "mailbox.user")
        await replace_input(pilot, "#mailbox-user", "vmail")
        await replace_input(pilot, "#mailbox-root", "/srv/vmail")
        await choose(pilot, "#mailbox-format", 2)  # maildir
        assert "maildir:/srv/vmail/%n/Maildir" in text_of(app.screen.query_one("#mail-location", Static))
        await forward(pilot, "AuthScreen")
    store = session.answers.mailbox
    assert (store.user, store.root, store.format) == ("vmail", "/srv/vmail", "maildir")


# --- Protocols ----------------------------------------------------------------------------

async def test_protocols_toggles_and_the_lmtp_screen_follows(session):
    app = create_app(session, [], start="protocols")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "has no firewalld" in text_of(screen.query_one("#firewall-note", Static))
        for name in ("imap", "pop3", "lmtp"):
            await tick(pilot, f"#protocols-{name}")
        await forward(pilot, "ProtocolsScreen")
        assert "enable at least one" in text_of(screen.query_one("#form-messages", FieldMessages))
        await tick(pilot, "#protocols-imap")
        assert "LMTP" not in str(screen.query_one(StepBar).render())
        assert "LMTP" not in [title for _, title in app.step_titles()]
        passed = await walk_to(pilot, "PostfixDeliveryScreen")
        assert passed == ["ProtocolsScreen", "MailboxesScreen", "PostfixModeScreen", "PostfixTlsScreen",
                          "PostfixAliasesScreen", "PostfixDeliveryScreen"]
        # Postfix still delivers over LMTP: the Delivery screen says what is missing
        await press(pilot, "ctrl+n")
        assert screen_name(app) == "PostfixDeliveryScreen"
        field = app.screen.query_one("#field-postfix-delivery")
        assert "needs its LMTP service" in text_of(field.query_one(FieldMessages))
    protocols = session.answers.protocols
    assert (protocols.imap, protocols.pop3, protocols.lmtp) == (True, False, False)


async def test_firewall_toggle_on_a_firewalld_platform(tmp_path):
    session = make_session(tmp_path / "root", platform="rhel10")
    app = create_app(session, [], start="protocols")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        note = app.screen.query_one("#firewall-note", Static)
        # ManageSieve is off in pam.toml: its service is closed too (steps/sieve.py)
        assert text_of(note).strip() == "opens: imaps imap pop3s pop3 (TCP 993, 143, 995, 110); closes: managesieve"
        await tick(pilot, "#protocols-pop3")
        assert text_of(note).strip() == "opens: imaps imap (TCP 993, 143); closes: pop3s pop3 managesieve"
        await tick(pilot, "#firewall-manage")
        assert "left alone: allow TCP 993, 143 yourself" in text_of(note)
        await forward(pilot, "MailboxesScreen")
    assert session.answers.firewall_manage is False


# --- Mailboxes ----------------------------------------------------------------------------

async def test_mailboxes_add_and_remove_by_keyboard(session):
    app = create_app(session, [], start="mailboxes")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        names = [row.mailbox for row in screen.rows()]
        assert names == ["Drafts", "Junk", "Trash", "Sent"]
        # F7 adds a row with the cursor in its name
        await press(pilot, "f7")
        new = screen.rows()[-1]
        assert app.focused is new.query_one(".mbox-name")
        await pilot.press(*"Important Emails")
        await pilot.press("tab", "tab")  # past the special use, into auto
        assert app.focused is new.query_one(RadioSet)
        await pilot.press("right", "space")  # subscribe -> create
        # Up moves to the row above, in the same column; F8 removes the row the cursor is in
        new.query_one(".mbox-name").focus()
        await pilot.press("up", "up", "up")
        junk = screen.rows()[1]
        assert app.focused is junk.query_one(".mbox-name")
        await press(pilot, "f8")
        assert [row.mailbox for row in screen.rows()] == ["Drafts", "Trash", "Sent", "Important Emails"]
        assert app.focused is screen.rows()[1].query_one(".mbox-name")
        await forward(pilot, "LmtpScreen")
    boxes = [(b.name, b.special_use, b.auto) for b in session.answers.mailboxes]
    assert boxes == [("Drafts", "\\Drafts", "subscribe"), ("Trash", "\\Trash", "subscribe"),
                     ("Sent", "\\Sent", "subscribe"), ("Important Emails", "", "create")]
    saved, _ = parse(session.answers.to_toml())
    assert [(b.name, b.auto) for b in saved.mailboxes][-1] == ("Important Emails", "create")


async def test_mailboxes_refuse_a_bad_row_at_the_row(session):
    app = create_app(session, [], start="mailboxes")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await press(pilot, "f7")  # left empty: not an error while the cursor is still in it
        row = screen.rows()[-1]
        assert not text_of(row.query_one(FieldMessages)).strip()
        await forward(pilot, "MailboxesScreen")
        row = screen.rows()[-1]
        assert "give the mailbox a name" in text_of(row.query_one(FieldMessages))
        assert app.focused is row.query_one(".mbox-name")
        await pilot.press(*"Archive")
        sent = screen.rows()[3]
        await replace_input(pilot, f"#{sent.id}-special", "\\Sentt")
        await forward(pilot, "MailboxesScreen")
        assert "not a special-use flag" in text_of(sent.query_one(FieldMessages))
        assert sent.query_one(".mbox-special").has_class("-invalid")
        assert not row.query_one(".mbox-name").has_class("-invalid")
        # the Remove button takes a row away too
        sent.query_one(".mbox-remove").focus()
        await press(pilot, "enter")
        await forward(pilot, "LmtpScreen")
    assert [b.name for b in session.answers.mailboxes] == ["Drafts", "Junk", "Trash", "Archive"]


# --- LMTP ---------------------------------------------------------------------------------

async def test_lmtp_over_tcp_with_an_allowed_address(tmp_path):
    session = make_session(tmp_path / "root", platform="rhel10")
    app = create_app(session, [], start="lmtp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#lmtp-inet").display is False
        await choose(pilot, "#lmtp-listener", 1)  # TCP
        assert screen.query_one("#lmtp-inet").display is True
        await replace_input(pilot, "#lmtp-allow_from", "192.0.2.1/24")
        await forward(pilot, "LmtpScreen")
        message = field_message(app, "lmtp.allow_from")
        assert "did you mean 192.0.2.0/24, or the host 192.0.2.1/32" in message
        assert app.focused is screen.query_one("#lmtp-allow_from")
        await replace_input(pilot, "#lmtp-allow_from", "192.0.2.1/32, 2001:db8:2::1/128")
        await replace_input(pilot, "#lmtp-port", "2424")
        await forward(pilot, "PostfixModeScreen")
        await jump(pilot, "review")
        plan = text_of(app.screen.query_one("#plan", Static))
        assert 'source address="192.0.2.1/32" port protocol="tcp" port="2424" accept' in plan
        assert "semanage port -a -t lmtp_port_t -p tcp 2424" in plan
    lmtp = session.answers.lmtp
    assert (lmtp.listener, lmtp.port, lmtp.allow_from) == ("inet", 2424, ["192.0.2.1/32", "2001:db8:2::1/128"])


async def test_sasl_over_tcp_for_a_postfix_on_another_host(tmp_path):
    session = make_session(tmp_path / "root", platform="rhel10")
    app = create_app(session, [], start="auth")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#auth-sasl-inet").display is False
        await choose(pilot, "#auth-sasl_listener", 1)  # TCP
        assert screen.query_one("#auth-sasl-inet").display is True
        await replace_input(pilot, "#auth-sasl_port", "70000")
        await replace_input(pilot, "#auth-sasl_allow_from", "192.0.2.1/24")
        await forward(pilot, "AuthScreen")
        assert "is not a TCP port" in field_message(app, "auth.sasl_port")
        assert "did you mean 192.0.2.0/24" in field_message(app, "auth.sasl_allow_from")
        await replace_input(pilot, "#auth-sasl_port", "12345")
        await replace_input(pilot, "#auth-sasl_allow_from", "192.0.2.1/32")
        await forward(pilot, "PamScreen")
        await jump(pilot, "review")
        plan = text_of(app.screen.query_one("#plan", Static))
        assert 'source address="192.0.2.1/32" port protocol="tcp" port="12345" accept' in plan
        assert "setsebool -P nis_enabled on" in plan
    auth = session.answers.auth
    assert (auth.sasl_listener, auth.sasl_port, auth.sasl_allow_from) == ("inet", 12345, ["192.0.2.1/32"])


# --- which screens, and where a resumed run opens --------------------------------------------

async def test_a_null_client_skips_every_dovecot_screen(tmp_path):
    session = make_session(tmp_path / "root", answers="null-client.toml")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [title for _, title in app.step_titles()] == ["Welcome", "Install", "Postfix", "Limits", "Outbound",
                                                             "Review", "Apply", "Report"]
        assert await walk_to(pilot, "ReviewScreen") == ["WelcomeScreen", "InstallScreen", "PostfixModeScreen",
                                                        "PostfixLimitsScreen", "OutboundScreen", "ReviewScreen"]


@pytest.mark.parametrize("answers, titles", [
    ("pam.toml", ["Mail store", "Authentication", "PAM", "Protocols", "Mailboxes", "LMTP"]),
    ("ldap.toml", ["Mail store", "Authentication", "LDAP", "Protocols", "Mailboxes", "LMTP"]),
    ("sql.toml", ["Mail store", "Authentication", "MariaDB", "Protocols", "Mailboxes", "LMTP"]),
])
def test_only_the_chosen_backend_has_a_form(tmp_path, answers, titles):
    app = create_app(make_session(tmp_path / "root", answers=answers), [])
    shown = [title for _, title in app.step_titles()]
    assert shown[shown.index("TLS") + 1:shown.index("Postfix")] == titles
    assert shown[shown.index("Postfix"):shown.index("Review")] == ["Postfix", "Postfix TLS", "Aliases", "Delivery",
                                                                   "Submission", "Limits", "Outbound"]


@pytest.mark.parametrize("verified, screen", [
    ("tls", "MailStoreScreen"),
    ("vmail", "AuthScreen"),
    ("auth", "ProtocolsScreen"),
    ("protocols", "MailboxesScreen"),
    ("mailboxes", "LmtpScreen"),
    ("lmtp", "ProtocolsScreen"),  # the firewall is set on the Protocols screen
])
async def test_resume_opens_at_the_screen_of_the_first_unverified_step(tmp_path, verified, screen):
    first = make_session(tmp_path / "root")
    names = [s.name for s in first.active_steps()]
    with first.journal() as journal:
        journal.save_state(status="applied", platform="debian12", verified=names[:names.index(verified) + 1])
    session = make_session(tmp_path / "root")
    app = create_app(session, [], resume=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen_name(app) == screen


def test_review_names_the_screen_that_fixes_a_key():
    from mailwizard.wizard import owner_title as owner_screen

    assert owner_screen("mailbox.root") == "Mail store"
    assert owner_screen("auth.backend") == "Authentication"
    assert owner_screen("auth.first_valid_uid") == "PAM"
    assert owner_screen("auth.ldap.uris") == "LDAP"
    assert owner_screen("auth.sql.password_file") == "MariaDB"
    assert owner_screen("protocols") == "Protocols"
    assert owner_screen("mailboxes.Important Emails.auto") == "Mailboxes"
    assert owner_screen("lmtp.allow_from") == "LMTP"
    assert owner_screen("postfix.mode") == "Postfix"
    assert owner_screen("postfix.mynetworks") == "Postfix"
    assert owner_screen("postfix.virtual_aliases") == "Aliases"
    assert owner_screen("postfix.ldap_aliases.search_base") == "Aliases"
    assert owner_screen("postfix.sender_login_mismatch") == "Submission"
    assert owner_screen("postfix.limits.queue_minfree") == "Limits"
    assert owner_screen("postfix.tls_cert") == "Postfix TLS"
    assert owner_screen("postfix.lmtp_host") == "Delivery"

