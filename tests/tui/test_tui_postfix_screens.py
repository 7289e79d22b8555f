"""Pilot tests of the Postfix screens (issue 4): Mode (internet site or null client), Postfix TLS,
Aliases (a table of rows or an LDAP lookup), Delivery, Submission and Limits (with the hardening notes);
each filled by keyboard, an invalid value refused at its field, the answers following the edits, and a
null client leaving Dovecot's screens and those of receiving mail out."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from mailwizard.app import create_app
from mailwizard.widgets import StepBar
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
DOVECOT_SCREENS = {"tls", "vmail", "auth", "auth_pam", "auth_ldap", "auth_sql", "protocols",
                   "mailboxes", "lmtp"}
# the Postfix screens of an internet site only: a null client receives no mail
RECEIVING_SCREENS = {"postfix_tls", "postfix_aliases", "postfix_delivery", "postfix_submission"}




def shown(app) -> str:
    """Everything the terminal shows, as text (the SVG screenshot's spaces made plain)."""
    import html
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def step_keys(app) -> list[str]:
    return [k for k, _ in app.screen.query_one(StepBar).steps]


# --- Mode ------------------------------------------------------------------------------------

async def test_mode_internet_site_refuses_a_bad_network_at_the_field(session):
    app = create_app(session, [], start="lmtp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "PostfixModeScreen")
        assert passed == ["LmtpScreen", "PostfixModeScreen"]
        assert app.focused is app.screen.query_one("#postfix-mode")
        screen_text = shown(app)
        assert "Internet site: sends and receives mail directly over SMTP" in screen_text
        assert "Null client: forwards all its mail to a relay host" in screen_text
        assert app.screen.query_one("#postfix-mynetworks", Input).value == "127.0.0.1/32 [::1]/128"
        await replace_input(pilot, "#postfix-mynetworks", "127.0.0.0/8 [::1]/128 2001:db8::/32")
        await forward(pilot, "PostfixModeScreen")
        assert "write an IPv6 network in brackets" in field_message(app, "postfix.mynetworks")
        assert app.focused is app.screen.query_one("#postfix-mynetworks")
        await replace_input(pilot, "#postfix-mynetworks", "127.0.0.0/8, [::1]/128 [2001:db8::]/32")
        await replace_input(pilot, "#postfix-myorigin", "example.org")
        await forward(pilot, "PostfixTlsScreen")
        p = session.answers.postfix
        assert p.mynetworks == ["127.0.0.0/8", "[::1]/128", "[2001:db8::]/32"]
        assert p.myorigin == "example.org" and p.mode == "internet-site"
        assert session.answers.dovecot_enabled


async def test_mode_null_client_drops_the_dovecot_screens_and_needs_a_relay(tmp_path):
    session = make_session(tmp_path / "root", answers="full.toml", platform="rhel10")
    app = create_app(session, [], start="postfix")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert DOVECOT_SCREENS - {"auth_ldap", "auth_sql"} <= set(step_keys(app))
        assert not app.screen.query_one("#postfix-null").display
        await choose(pilot, "#postfix-mode", 1)
        assert session.answers.postfix.mode == "null-client"
        assert not session.answers.dovecot_enabled
        keys = step_keys(app)
        assert not DOVECOT_SCREENS & set(keys) and not RECEIVING_SCREENS & set(keys)
        assert app.screen.query_one("#postfix-null").display and not app.screen.query_one("#postfix-site").display
        await forward(pilot, "PostfixModeScreen")  # no relay host yet
        assert "forwards all mail to a relay host" in field_message(app, "postfix.relayhost")
        assert app.focused is app.screen.query_one("#postfix-relayhost")
        await replace_input(pilot, "#postfix-relayhost", "relay.example.com:2525")
        await forward(pilot, "PostfixLimitsScreen")
        p = session.answers.postfix
        assert p.relayhost == "relay.example.com:2525" and p.inet_interfaces == ""
        assert not p.submission and p.virtual_alias_source == ""  # set aside: a null client receives nothing
        await press(pilot, "escape")
        assert screen_name(app) == "PostfixModeScreen"
        await press(pilot, "escape")
        assert screen_name(app) == "InstallScreen"  # the Dovecot screens are skipped backwards too
        assert await walk_to(pilot, "PostfixModeScreen") == ["InstallScreen", "PostfixModeScreen"]  # and forwards
        await choose(pilot, "#postfix-mode", -1)  # back to an internet site: all comes back
        assert session.answers.dovecot_enabled and p.submission and p.virtual_alias_source == "file"
        assert app.screen.query_one("#postfix-inet_interfaces", Input).value == "all"
        assert DOVECOT_SCREENS - {"auth_ldap", "auth_sql"} <= set(step_keys(app))


async def test_mode_null_client_answers_file_opens_in_null_client(tmp_path):
    session = make_session(tmp_path / "root", answers="null-client.toml", platform="rhel10")
    app = create_app(session, [], start="install")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "PostfixModeScreen")
        assert passed == ["InstallScreen", "PostfixModeScreen"]
        assert app.screen.query_one("#postfix-relayhost", Input).value == "[relay.example.com]"
        assert app.screen.query_one("#postfix-myorigin", Input).value == "relay.example.com"
        await choose(pilot, "#postfix-mode", -1)
        # an internet site without Dovecot: the answers file said [dovecot] enabled = false
        assert not session.answers.dovecot_enabled
        assert "[dovecot] enabled = false" in text_of(app.screen.query_one("#postfix-mode-note"))
        assert not DOVECOT_SCREENS & set(step_keys(app)) and set(step_keys(app)) >= RECEIVING_SCREENS


# --- Aliases ---------------------------------------------------------------------------------

async def test_aliases_table_rows_by_keyboard(tmp_path):
    session = make_session(tmp_path / "root", answers="full.toml", platform="rhel10")
    app = create_app(session, [], start="postfix_aliases")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert [i.value for i in screen.query(".alias-address")] == ["info@example.com", "sales@example.com"]
        assert "lmdb:/etc/postfix/virtual" in text_of(screen.query_one("#alias-note"))
        await press(pilot, "f7")
        assert app.focused.has_class("alias-address")
        await pilot.press(*"bad address")
        await press(pilot, "tab")
        await pilot.press(*"x@example.org")
        await forward(pilot, "PostfixAliasesScreen")
        assert "'bad address' is not an e-mail address" in text_of(screen.query_one("#aliases-messages"))
        bad = screen.query(".alias-address").last()
        assert bad.has_class("-invalid") and app.focused is bad
        await pilot.press("end", "ctrl+u", *"team@example.com")
        await press(pilot, "up")  # to the row above, same column
        assert app.focused.value == "sales@example.com"
        await press(pilot, "f8")
        assert [i.value for i in screen.query(".alias-address")] == ["info@example.com", "team@example.com"]
        await forward(pilot, "PostfixDeliveryScreen")
        assert session.answers.postfix.virtual_aliases == {"info@example.com": "user22@example.net",
                                                           "team@example.com": "x@example.org"}


async def test_aliases_ldap_lookup(session):
    app = create_app(session, [], start="postfix_aliases")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert not screen.query_one("#aliases-file").display and not screen.query_one("#aliases-ldap").display
        await choose(pilot, "#postfix-virtual_alias_source", 2)
        assert screen.query_one("#aliases-ldap").display
        await replace_input(pilot, "#postfix-ldap_aliases-server_host", "ldap.example.com")
        await forward(pilot, "PostfixAliasesScreen")  # no search base
        assert "give the base DN" in field_message(app, "postfix.ldap_aliases.search_base")
        assert app.focused is screen.query_one("#postfix-ldap_aliases-search_base")
        await pilot.press(*"dc=example,dc=com")
        await replace_input(pilot, "#postfix-ldap_aliases-query_filter", "(mail=%s)")
        await forward(pilot, "PostfixDeliveryScreen")
        p = session.answers.postfix
        assert p.virtual_alias_source == "ldap"
        assert (p.ldap_aliases.server_host, p.ldap_aliases.search_base, p.ldap_aliases.query_filter) == \
            ("ldap.example.com", "dc=example,dc=com", "(mail=%s)")
        assert "postfix-ldap" in session.answers.features()


async def test_postfix_help_names_the_guide_sections(session):
    app = create_app(session, [], start="postfix")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "f1")
        assert screen_name(app) == "HelpScreen"
        assert "2.1, 2.3" in shown(app)
        await press(pilot, "escape")
        for screen, sections in (("PostfixTlsScreen", "2.2"), ("PostfixAliasesScreen", "2.4, 2.5"),
                                 ("PostfixDeliveryScreen", "2.7, 2.8, 2.9.3"),
                                 ("PostfixSubmissionScreen", "2.6, 2.9.3"), ("PostfixLimitsScreen", "2.9.2")):
            await forward(pilot, screen)
            await press(pilot, "f1")
            assert screen_name(app) == "HelpScreen" and sections in shown(app), screen
            await press(pilot, "escape")
        assert "2.9.1" in shown(app)  # the hardening notes, on Limits


# --- Submission --------------------------------------------------------------------------------


async def test_submission_by_keyboard(session):
    app = create_app(session, [], start="postfix_submission")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert app.focused is screen.query_one("#postfix-submission")
        assert not screen.query_one("#field-postfix-sender_login_mismatch").display  # pam.toml: off
        assert not screen.query("#delivery-note")  # delivery is edited on its own screen
        await press(pilot, "space")
        assert screen.query_one("#field-postfix-sender_login_mismatch").display
        assert "Ports 587 and 465" in text_of(screen.query_one("#submission-note"))
        await tick(pilot, "#postfix-smtps")
        assert "Ports 587;" in text_of(screen.query_one("#submission-note"))
        await choose(pilot, "#postfix-sender_login_mismatch", 2)  # reject logged-in
        await forward(pilot, "PostfixLimitsScreen")
        p = session.answers.postfix
        assert (p.submission, p.smtps, p.sender_login_mismatch) == (True, False, "reject-authenticated")
        await press(pilot, "escape")
        assert screen_name(app) == "PostfixSubmissionScreen"
        await tick(pilot, "#postfix-submission")  # off: the sender check, which needs it, goes too
        await forward(pilot, "PostfixLimitsScreen")
        assert (p.submission, p.sender_login_mismatch) == (False, "")


async def test_submission_refuses_at_the_field_what_the_answers_cannot_do(tmp_path):
    session = make_session(tmp_path / "root", answers="full.toml", platform="rhel10")
    session.answers.postfix.sender_login_mismatch = "reject-everyone"  # as from a hand-edited file
    app = create_app(session, [], start="postfix_submission")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await forward(pilot, "PostfixSubmissionScreen")
        assert "is not one of reject" in field_message(app, "postfix.sender_login_mismatch")
        assert app.focused is app.screen.query_one("#postfix-sender_login_mismatch")
        await press(pilot, "right", "enter")
        await forward(pilot, "PostfixLimitsScreen")
        assert session.answers.postfix.sender_login_mismatch == "reject"


# --- Limits ------------------------------------------------------------------------------------

async def test_limits_show_the_defaults_and_refuse_a_small_queue_minfree(session):
    app = create_app(session, [], start="postfix_limits")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        size = screen.query_one("#postfix-limits-message_size_limit", Input)
        assert size.value == "" and size.placeholder == "default 10240000 (message_size_limit)"
        assert app.focused is screen.query_one("#postfix-limits-smtpd_client_connection_rate_limit")
        await pilot.press(*"60")
        await replace_input(pilot, "#postfix-limits-queue_minfree", "1000000")
        await replace_input(pilot, "#postfix-limits-default_process_limit", "lots")
        await forward(pilot, "PostfixLimitsScreen")
        assert "less than 1.5 × message_size_limit" in field_message(app, "postfix.limits.queue_minfree")
        assert "'lots' is not a whole number" in field_message(app, "postfix.limits.default_process_limit")
        await replace_input(pilot, "#postfix-limits-default_process_limit", "")
        await replace_input(pilot, "#postfix-limits-queue_minfree", "15360000")
        await forward(pilot, "OutboundScreen")
        await forward(pilot, "ReviewScreen")
        assert session.answers.postfix.limits == {"smtpd_client_connection_rate_limit": 60,
                                                  "queue_minfree": 15360000}
        assert "smtpd_client_connection_rate_limit = 60" in text_of(app.screen.query_one("#plan"))


async def test_limits_are_shown_for_a_null_client_too(tmp_path):
    session = make_session(tmp_path / "root", answers="null-client.toml", platform="rhel10")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "ReviewScreen")
        assert passed == ["WelcomeScreen", "InstallScreen", "PostfixModeScreen", "PostfixLimitsScreen",
                          "OutboundScreen", "ReviewScreen"]


# --- the order of the Postfix screens ------------------------------------------------------------

async def test_internet_site_walks_every_postfix_screen_in_order(session):
    app = create_app(session, [], start="postfix")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "ReviewScreen")
        assert passed == ["PostfixModeScreen", "PostfixTlsScreen", "PostfixAliasesScreen", "PostfixDeliveryScreen",
                          "PostfixSubmissionScreen", "PostfixLimitsScreen", "OutboundScreen", "ReviewScreen"]
        assert [k for k in app.screen_keys() if k.startswith("postfix")] == [
            "postfix", "postfix_tls", "postfix_aliases", "postfix_delivery", "postfix_submission",
            "postfix_limits"]
        session.answers.postfix.mode = "null-client"
        assert [k for k in app.screen_keys() if k.startswith("postfix")] == ["postfix", "postfix_limits"]


@pytest.mark.parametrize("step, screen", [("postfix_tls", "PostfixTlsScreen"),
                                          ("postfix_delivery", "PostfixDeliveryScreen")])
async def test_resume_opens_the_new_screens_at_their_steps(session, monkeypatch, step, screen):
    monkeypatch.setattr(session, "first_unverified", lambda: step)
    app = create_app(session, [], resume=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen_name(app) == screen


# --- Postfix TLS -------------------------------------------------------------------------------

def put(session, path: str, data: bytes) -> None:
    """A file on the fake host, where the checks of the steps read it."""
    real = session.host.real(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data)


async def test_postfix_tls_offers_dovecots_certificate_and_shows_the_fixed_settings(session):
    app = create_app(session, [], start="postfix_tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert app.focused is screen.query_one("#postfix-tls_source")
        assert not screen.query_one("#postfix-tls-own").display  # Dovecot's pair is the default
        files = text_of(screen.query_one("#postfix-tls-files"))
        tls = session.answers.tls
        assert "Dovecot's certificate (self-signed" in files and tls.cert in files and tls.key in files
        fixed = text_of(screen.query_one("#postfix-tls-fixed"))
        for line in ("smtpd_tls_security_level = may", "smtpd_tls_auth_only = yes",
                     "smtpd_tls_mandatory_protocols = >=TLSv1.2",
                     "smtp_tls_security_level = may"):
            assert line in fixed
        assert "smtpd_tls_cert_file" not in fixed  # edited above, not fixed
        await tick(pilot, "#postfix-tls_loglevel")
        await forward(pilot, "PostfixAliasesScreen")
        p = session.answers.postfix
        assert (p.tls_cert, p.tls_key, p.tls_loglevel) == ("", "", 1)
        await jump(pilot, "review")
        plan = text_of(app.screen.query_one("#plan"))
        assert "smtp_tls_loglevel = 1" in plan and f"smtpd_tls_cert_file = {tls.cert}" in plan


async def test_postfix_tls_own_pair_is_checked_at_the_field(session):
    from support import cached_cert

    key_pem, cert_pem = cached_cert("mail.example.com")
    other_key, other_cert = cached_cert("other.example.com")
    put(session, "/etc/pki/tls/certs/postfix.pem", other_cert)
    put(session, "/etc/pki/tls/private/postfix.key", key_pem)
    app = create_app(session, [], start="postfix_tls")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await press(pilot, "right", "enter")  # another certificate and key
        assert screen.query_one("#postfix-tls-own").display
        await forward(pilot, "PostfixTlsScreen")  # both fields empty
        assert "is empty: give the certificate's path" in field_message(app, "postfix.tls_cert")
        assert "is empty: give the private key's path" in field_message(app, "postfix.tls_key")
        assert app.focused is screen.query_one("#postfix-tls_cert")
        await pilot.press(*"/etc/pki/tls/certs/missing.pem")
        await forward(pilot, "PostfixTlsScreen")  # half a pair: never Dovecot's key for it
        assert "give Postfix's own certificate and its key together" in field_message(app, "postfix.tls_key")
        assert field_message(app, "postfix.tls_cert").strip() == ""
        await replace_input(pilot, "#postfix-tls_key", "/etc/pki/tls/private/postfix.key")
        await forward(pilot, "PostfixTlsScreen")
        assert "/etc/pki/tls/certs/missing.pem does not exist" in field_message(app, "postfix.tls_cert")
        await replace_input(pilot, "#postfix-tls_cert", "/etc/pki/tls/certs/postfix.pem")
        await forward(pilot, "PostfixTlsScreen")
        assert "names other.example.com, not mail.example.com" in field_message(app, "postfix.tls_cert")
        assert "does not match the certificate" in field_message(app, "postfix.tls_key")
        put(session, "/etc/pki/tls/certs/postfix.pem", cert_pem)  # the right certificate, copied over
        await forward(pilot, "PostfixAliasesScreen")
        p = session.answers.postfix
        assert (p.tls_cert, p.tls_key) == ("/etc/pki/tls/certs/postfix.pem", "/etc/pki/tls/private/postfix.key")
        await press(pilot, "escape")
        assert screen_name(app) == "PostfixTlsScreen"
        await choose(pilot, "#postfix-tls_source", -1)  # back to Dovecot's: the answers say ""
        await forward(pilot, "PostfixAliasesScreen")
        assert (p.tls_cert, p.tls_key) == ("", "")
    assert other_key  # made only for its certificate


async def test_postfix_tls_without_dovecot_needs_its_own_pair(tmp_path):
    session = make_session(tmp_path / "root", answers="null-client.toml", platform="rhel10")
    app = create_app(session, [], start="postfix")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await choose(pilot, "#postfix-mode", -1)  # an internet site; [dovecot] enabled = false stays
        await forward(pilot, "PostfixTlsScreen")
        screen = app.screen
        assert not screen.query_one("#field-postfix-tls_source").display
        assert screen.query_one("#postfix-tls-own").display
        assert "Dovecot is off here" in text_of(screen.query_one("#postfix-tls-files"))
        assert app.focused is screen.query_one("#postfix-tls_cert")
        await forward(pilot, "PostfixTlsScreen")
        assert "Dovecot is off, so give Postfix's certificate" in field_message(app, "postfix.tls_cert")
        assert "Dovecot is off, so give Postfix's private key" in field_message(app, "postfix.tls_key")


# --- Delivery ----------------------------------------------------------------------------------

async def test_delivery_to_dovecot_here_then_on_another_host(session):
    app = create_app(session, [], start="postfix_delivery")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert app.focused is screen.query_one("#postfix-delivery")
        assert "Automatic: local users, since Dovecot's users are this host's accounts (PAM)" in \
            text_of(screen.query_one("#mailboxes-note"))
        assert not screen.query_one("#field-postfix-virtual_mailbox_domains").display
        # Debian runs Postfix's lmtp client chrooted: the listener inside the chroot
        assert text_of(screen.query_one("#delivery-note")).splitlines()[0] == \
            "mailbox_transport = lmtp:unix:private/dovecot-lmtp"
        await choose(pilot, "#postfix-virtual_mailboxes", 1)  # virtual
        assert screen.query_one("#field-postfix-virtual_mailbox_domains").display
        assert "virtual_transport = lmtp:unix:private/dovecot-lmtp" in text_of(screen.query_one("#delivery-note"))
        await replace_input(pilot, "#postfix-virtual_mailbox_domains", "example.com bad_domain")
        await replace_input(pilot, "#postfix-lmtp_host", "dovecot..example")
        await replace_input(pilot, "#postfix-lmtp_port", "70000")
        await replace_input(pilot, "#postfix-sasl_port", "many")
        await forward(pilot, "PostfixDeliveryScreen")
        assert "'bad_domain' is not fully qualified" in field_message(app, "postfix.virtual_mailbox_domains")
        assert "'dovecot..example' is not a Dovecot host name" in field_message(app, "postfix.lmtp_host")
        assert "70000 is not a TCP port" in field_message(app, "postfix.lmtp_port")
        assert "'many' is not a whole number" in field_message(app, "postfix.sasl_port")
        assert app.focused is screen.query_one("#postfix-virtual_mailbox_domains")
        await replace_input(pilot, "#postfix-virtual_mailbox_domains", "$mydomain, example.net")
        await replace_input(pilot, "#postfix-lmtp_host", "2001:db8:2::1")
        await replace_input(pilot, "#postfix-lmtp_port", "24")
        await replace_input(pilot, "#postfix-sasl_host", "dovecot.example.com")
        await replace_input(pilot, "#postfix-sasl_port", "12345")
        await press(pilot, "tab")
        assert "smtpd_sasl_path = inet:dovecot.example.com:12345" in text_of(screen.query_one("#sasl-note"))
        settings = text_of(screen.query_one("#delivery-note")).splitlines()
        assert settings[:2] == ["virtual_mailbox_domains = $mydomain, example.net",
                                "virtual_transport = lmtp:inet:[2001:db8:2::1]:24"]
        await forward(pilot, "PostfixSubmissionScreen")
        p = session.answers.postfix
        assert (p.delivery, p.virtual_mailboxes, p.virtual_mailbox_domains) == \
            ("lmtp", True, ["$mydomain", "example.net"])
        assert (p.lmtp_host, p.lmtp_port, p.sasl_host, p.sasl_port) == ("2001:db8:2::1", 24, "dovecot.example.com",
                                                                        12345)
        await press(pilot, "space")  # submission on (pam.toml has it off)
        assert "Dovecot on dovecot.example.com:12345" in text_of(app.screen.query_one("#submission-note"))
        await jump(pilot, "review")
        plan = text_of(app.screen.query_one("#plan"))
        assert "virtual_mailbox_domains = $mydomain, example.net" in plan
        assert "virtual_transport = lmtp:inet:[2001:db8:2::1]:24" in plan


async def test_delivery_local_leaves_lmtp_out_and_automatic_follows_the_backend(tmp_path):
    session = make_session(tmp_path / "root", answers="ldap.toml", platform="rhel10")
    app = create_app(session, [], start="postfix_delivery")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert "Automatic: virtual, since Dovecot's users come from LDAP" in \
            text_of(screen.query_one("#mailboxes-note"))
        assert screen.query_one("#field-postfix-virtual_mailbox_domains").display
        assert screen.query_one("#postfix-virtual_mailbox_domains", Input).placeholder == "$mydomain (example.com)"
        assert text_of(screen.query_one("#delivery-note")).splitlines()[:2] == [
            "virtual_mailbox_domains = $mydomain",
            "virtual_transport = lmtp:unix:/run/dovecot/lmtp"]  # RHEL's lmtp client is not chrooted
        await press(pilot, "right", "enter")  # Postfix's local delivery
        assert not screen.query_one("#delivery-lmtp").display
        assert text_of(screen.query_one("#delivery-note")) == ""
        assert screen.query_one("#field-postfix-sasl_host").display  # Submission's logins still need Dovecot
        await forward(pilot, "PostfixSubmissionScreen")
        assert session.answers.postfix.delivery == "local"
        assert "postfix_delivery" not in {s.name for s in session.active_steps()}


# --- hardening notes (on Limits) -------------------------------------------------------------------

async def test_limits_show_the_hardening_notes_and_change_nothing(session):
    passwd = (b"root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
              b"daemon:x:1:1::/:/usr/sbin/nologin\n")
    put(session, "/etc/passwd", passwd)
    put(session, "/proc/mounts", b"/dev/sda1 / ext4 rw 0 0\nnfs:/spool /var/spool nfs4 rw 0 0\n")
    app = create_app(session, [], start="postfix_limits")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        summary = screen.query_one("#hardening-summary")
        assert text_of(summary) == "Hardening notes (2.9.1), below the limits: 2 warning(s)."
        assert summary.has_class("-warning")
        notes = text_of(screen.query_one("#hardening"))
        assert "WARN" in notes and "/var/spool/postfix is not on NFS: file system: nfs4" in notes
        assert "accounts with a login shell: alice (/bin/bash)" in notes and "daemon" not in notes
        assert "fix: set the shells of mail-only users to /sbin/nologin" in notes
        await forward(pilot, "OutboundScreen")
        await forward(pilot, "ReviewScreen")
        plan = text_of(app.screen.query_one("#plan"))
        assert "usermod" not in plan and "/etc/passwd" not in plan
    assert session.host.real("/etc/passwd").read_bytes() == passwd


async def test_limits_hardening_notes_on_a_clean_host(session):
    put(session, "/etc/passwd", b"root:x:0:0::/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\n")
    put(session, "/proc/mounts", b"/dev/sda1 / ext4 rw 0 0\n")
    app = create_app(session, [], start="postfix_limits")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert text_of(app.screen.query_one("#hardening-summary")) == \
            "Hardening notes (2.9.1), below the limits: nothing to warn of."
        notes = text_of(app.screen.query_one("#hardening"))
        assert "PASS" in notes and "none besides root" in notes and "WARN" not in notes
