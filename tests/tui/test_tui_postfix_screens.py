"""Pilot tests of the Postfix screens (issue 4): Mode (internet site or null client), Aliases (a table
of rows or an LDAP lookup), Submission and Limits; each filled by keyboard, an invalid value refused at
its field, the answers following the edits, and a null client leaving Dovecot's screens out."""

from __future__ import annotations

from textual.widgets import Input, RadioSet

from mailwizard.app import create_app
from mailwizard.widgets import FieldMessages, StepBar
from tui_support import field_message, make_session, press, replace_input, screen_name, settle, text_of, walk_to

SIZE = (80, 24)
DOVECOT_SCREENS = {"tls", "mailstore", "auth", "auth_pam", "auth_ldap", "auth_sql", "protocols",
                   "mailboxes", "lmtp"}


async def choose(pilot, selector: str, moves: int) -> None:
    """In a radio set: focus it, move the cursor `moves` right/down (left/up when negative), choose."""
    pilot.app.screen.query_one(selector, RadioSet).focus()
    await pilot.pause()
    await pilot.press(*(["down"] * moves if moves >= 0 else ["up"] * -moves), "enter")
    await settle(pilot)


async def forward(pilot, expected: str) -> None:
    await press(pilot, "ctrl+n")
    assert screen_name(pilot.app) == expected


def shown(app) -> str:
    """Everything the terminal shows, as text (the SVG screenshot's spaces made plain)."""
    import html
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def step_keys(app) -> list[str]:
    return [k for k, _ in app.screen.query_one(StepBar).steps]


# --- Mode ------------------------------------------------------------------------------------

async def test_mode_internet_site_refuses_a_bad_network_at_the_field(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "PostfixModeScreen")
        assert passed[-2] == "LmtpScreen"
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
        await forward(pilot, "PostfixAliasesScreen")
        p = session.answers.postfix
        assert p.mynetworks == ["127.0.0.0/8", "[::1]/128", "[2001:db8::]/32"]
        assert p.myorigin == "example.org" and p.mode == "internet-site"
        assert session.answers.dovecot_enabled


async def test_mode_null_client_drops_the_dovecot_screens_and_needs_a_relay(tmp_path):
    session = make_session(tmp_path / "root", answers="full.toml", platform="rhel10")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await walk_to(pilot, "PostfixModeScreen")
        assert DOVECOT_SCREENS - {"auth_ldap", "auth_sql"} <= set(step_keys(app))
        assert not app.screen.query_one("#postfix-null").display
        await choose(pilot, "#postfix-mode", 1)
        assert session.answers.postfix.mode == "null-client"
        assert not session.answers.dovecot_enabled
        keys = step_keys(app)
        assert not DOVECOT_SCREENS & set(keys) and "postfix_aliases" not in keys
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
        await walk_to(pilot, "PostfixModeScreen")
        await choose(pilot, "#postfix-mode", -1)  # back to an internet site: all comes back
        assert session.answers.dovecot_enabled and p.submission and p.virtual_alias_source == "file"
        assert app.screen.query_one("#postfix-inet_interfaces", Input).value == "all"
        assert DOVECOT_SCREENS - {"auth_ldap", "auth_sql"} <= set(step_keys(app))


async def test_mode_null_client_answers_file_opens_in_null_client(tmp_path):
    session = make_session(tmp_path / "root", answers="null-client.toml", platform="rhel10")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        passed = await walk_to(pilot, "PostfixModeScreen")
        assert passed == ["WelcomeScreen", "InstallScreen", "PostfixModeScreen"]
        assert app.screen.query_one("#postfix-relayhost", Input).value == "[relay.example.com]"
        assert app.screen.query_one("#postfix-myorigin", Input).value == "relay.example.com"
        await choose(pilot, "#postfix-mode", -1)
        # an internet site without Dovecot: the answers file said [dovecot] enabled = false
        assert not session.answers.dovecot_enabled
        assert "[dovecot] enabled = false" in text_of(app.screen.query_one("#postfix-mode-note"))
        assert not DOVECOT_SCREENS & set(step_keys(app)) and "postfix_aliases" in step_keys(app)


# --- Aliases ---------------------------------------------------------------------------------

async def test_aliases_table_rows_by_keyboard(tmp_path):
    session = make_session(tmp_path / "root", answers="full.toml", platform="rhel10")
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await walk_to(pilot, "PostfixAliasesScreen")
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
        await forward(pilot, "PostfixSubmissionScreen")
        assert session.answers.postfix.virtual_aliases == {"info@example.com": "user22@example.net",
                                                           "team@example.com": "x@example.org"}


async def test_aliases_ldap_lookup(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await walk_to(pilot, "PostfixAliasesScreen")
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
        await forward(pilot, "PostfixSubmissionScreen")
        p = session.answers.postfix
        assert p.virtual_alias_source == "ldap"
        assert (p.ldap_aliases.server_host, p.ldap_aliases.search_base, p.ldap_aliases.query_filter) == \
            ("ldap.example.com", "dc=example,dc=com", "(mail=%s)")
        assert "postfix-ldap" in session.answers.features()


async def test_postfix_help_names_the_guide_sections(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await walk_to(pilot, "PostfixModeScreen")
        await press(pilot, "f1")
        assert screen_name(app) == "HelpScreen"
        assert "2.1, 2.3" in shown(app)
        await press(pilot, "escape")
        await forward(pilot, "PostfixAliasesScreen")
        await press(pilot, "f1")
        assert "2.4, 2.5" in shown(app)


# --- Submission --------------------------------------------------------------------------------

async def tick(pilot, selector: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()
    await press(pilot, "space")


async def test_submission_by_keyboard(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await walk_to(pilot, "PostfixSubmissionScreen")
        screen = app.screen
        assert app.focused is screen.query_one("#postfix-submission")
        assert not screen.query_one("#field-postfix-sender_login_mismatch").display  # pam.toml: off
        assert "mailbox_transport" in text_of(screen.query_one("#delivery-note"))  # PAM: system users
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
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await walk_to(pilot, "PostfixSubmissionScreen")
        assert "virtual_transport" in text_of(app.screen.query_one("#delivery-note")) or \
            "mailbox_transport" in text_of(app.screen.query_one("#delivery-note"))
        await forward(pilot, "PostfixSubmissionScreen")
        assert "is not one of reject" in field_message(app, "postfix.sender_login_mismatch")
        assert app.focused is app.screen.query_one("#postfix-sender_login_mismatch")
        await press(pilot, "right", "enter")
        await forward(pilot, "PostfixLimitsScreen")
        assert session.answers.postfix.sender_login_mismatch == "reject"


# --- Limits ------------------------------------------------------------------------------------

async def test_limits_show_the_defaults_and_refuse_a_small_queue_minfree(session):
    app = create_app(session, [])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await walk_to(pilot, "PostfixLimitsScreen")
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
                          "ReviewScreen"]
