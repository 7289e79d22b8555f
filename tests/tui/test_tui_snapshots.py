"""Snapshots of every screen at 80x24, stored as SVGs in the top-level snapshots/ directory.

Update them with `python3 -m pytest tests/tui --snapshot-update` and look at
the changed SVGs before committing. The fake host keeps everything on screen
fixed: the paths shown are the host's (/etc/...), never the temporary root.
Each snapshot opens the wizard at its screen, as Posting starts its snapshots
from a configured state: the answers are set on the session, and
`create_app(session, [], start=KEY)` opens there (the Report's on a session
whose plan was applied).
"""

from __future__ import annotations

from textual.widgets import Input

from mailwizard.app import create_app
from tui_support import applied, make_session, press, settle

SIZE = (80, 24)


def walk(*keys: str):
    """Press the keys, let the workers finish, and stop the text cursor blinking (a steady picture).

    Each snapshot opens the wizard at its screen (create_app(..., start=KEY)) from the session's
    answers; the keys are only what is done there (the walk from Welcome is test_tui_wizard's).
    """
    async def run_before(pilot) -> None:
        await settle(pilot)
        await press(pilot, *keys)
        await settle(pilot)  # what the last key started (Apply's worker starts on the screen's mount)
        for screen in pilot.app.screen_stack:
            for field in screen.query(Input):
                field.cursor_blink = False
        await steady(pilot)
    return run_before


async def steady(pilot, rounds: int = 40) -> None:
    """Pause until the picture stops changing: on a loaded machine a focus change's repaint (the Review's
    chosen line drawn or not) can still be pending once the workers are done."""
    last = None
    for _ in range(rounds):
        await pilot.pause(0.05)
        now = pilot.app.export_screenshot()
        if now == last:
            return
        last = now


def test_snapshot_welcome(snap_compare, session):
    assert snap_compare(create_app(session, []), terminal_size=SIZE, run_before=walk())


def test_snapshot_welcome_invalid_hostname(snap_compare, session):
    session.answers.server.hostname = "mail"
    assert snap_compare(create_app(session, []), terminal_size=SIZE, run_before=walk("ctrl+n"))


def test_snapshot_install(snap_compare, session):
    assert snap_compare(create_app(session, [], start="install"), terminal_size=SIZE, run_before=walk())


def test_snapshot_tls(snap_compare, session):
    assert snap_compare(create_app(session, [], start="tls"), terminal_size=SIZE, run_before=walk())


def test_snapshot_review(snap_compare, session):
    assert snap_compare(create_app(session, [], start="review"), terminal_size=SIZE,
                        run_before=walk())


def test_snapshot_review_section_opened(snap_compare, session):
    """The TLS section opened (Down, Down, Enter): its commands, the DH block as one line."""
    assert snap_compare(create_app(session, [], start="review"), terminal_size=SIZE,
                        run_before=walk("down", "down", "enter"))


def test_snapshot_review_dry_run_leaving(snap_compare, dry_session):
    assert snap_compare(create_app(dry_session, [], start="review"), terminal_size=SIZE,
                        run_before=walk("ctrl+n"))


def test_snapshot_everything_else(snap_compare, dry_session):
    """The short path's page of the screens whose defaults suit most servers."""
    assert snap_compare(create_app(dry_session, [], start="more", short_path=True), terminal_size=SIZE,
                        run_before=walk())


def test_snapshot_review_dry_run(snap_compare, dry_session):
    assert snap_compare(create_app(dry_session, [], start="review"), terminal_size=SIZE,
                        run_before=walk())


def test_snapshot_apply_confirm(snap_compare, session):
    assert snap_compare(create_app(session, [], start="review"), terminal_size=SIZE,
                        run_before=walk("ctrl+n"))


def test_snapshot_apply(snap_compare, session):
    assert snap_compare(create_app(session, [], start="review"), terminal_size=SIZE,
                        run_before=walk("ctrl+n", "y"))


def test_snapshot_report(snap_compare, session):
    """The Report after the test account was skipped: passes, warnings and failures, the cursor on the
    first warning (its evidence and fix below the table): the simulated host probes nothing, so its live rows
    say "not checked"."""
    before = walk("escape")

    async def run_before(pilot) -> None:
        await before(pilot)
        checks = pilot.app.checks
        assert {c.status for c in checks} == {"pass", "warn", "fail"}
        first_warning = next(i for i, c in enumerate(checks) if c.status == "warn")
        await pilot.press(*["down"] * first_warning)
        await settle(pilot)

    assert snap_compare(create_app(applied(session), [], start="report"), terminal_size=SIZE, run_before=run_before)


def test_snapshot_report_dns_records(snap_compare, session):
    """The Report's DNS records (d): the zone's lines across the terminal's width, a long one wrapped whole,
    and how to copy them."""
    session.answers.dns.addresses = ["203.0.113.25", "2001:db8::25"]
    assert snap_compare(create_app(applied(session), [], start="report"), terminal_size=SIZE,
                        run_before=walk("escape", "d"))


def test_snapshot_report_test_account(snap_compare, session):
    """The Report's test-account prompt, the user typed and the password masked."""
    assert snap_compare(create_app(applied(session), [], start="report"), terminal_size=SIZE,
                        run_before=walk(*"alice", "enter", *"s3cret"))


def test_snapshot_help(snap_compare, session):
    assert snap_compare(create_app(session, [], start="tls"), terminal_size=SIZE, run_before=walk("f1"))


# --- the Dovecot screens -----------------------------------------------------------------

def dovecot_session(tmp_path, answers: str, platform: str = "debian12"):
    """A session for `answers` whose secret files and CA certificates exist on the fake host,
    so that the forms show the answers as an administrator would see them on a prepared host."""
    session = make_session(tmp_path / "root", answers=answers, platform=platform)
    for path, data in (("/root/dovecot-ldap.pass", "ldap-pass\n"), ("/root/dovecot-sql.pass", "sql-pass\n"),
                       ("/etc/pki/tls/certs/ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")):
        real = session.host.real(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(data)
    return session


def test_snapshot_mail_store(snap_compare, session):
    assert snap_compare(create_app(session, [], start="vmail"), terminal_size=SIZE, run_before=walk())


def test_snapshot_auth(snap_compare, session):
    assert snap_compare(create_app(session, [], start="auth"), terminal_size=SIZE, run_before=walk())


def test_snapshot_auth_pam(snap_compare, session):
    assert snap_compare(create_app(session, [], start="auth_pam"), terminal_size=SIZE, run_before=walk())


def test_snapshot_auth_ldap(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "ldap-search.toml", "rhel10"), [], start="auth_ldap")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_auth_ldap_test_failed(snap_compare, tmp_path, monkeypatch):
    from mailwizard.backends import TestResult

    monkeypatch.setattr("mailwizard.backends.test_ldap", lambda *args, **kwargs: TestResult(False, [
        "ldap://LDAP-srv.example.com: connected, STARTTLS, server certificate verified",
        "bind as cn=dovecot_LDAP,dc=example,dc=com: invalid credentials (wrong password, or no such entry)"]))
    app = create_app(dovecot_session(tmp_path, "ldap-search.toml", "rhel10"), [], start="auth_ldap")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk("ctrl+t"))


def test_snapshot_auth_sql(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "sql.toml", "rhel10"), [], start="auth_sql")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_protocols(snap_compare, session):
    assert snap_compare(create_app(session, [], start="protocols"), terminal_size=SIZE, run_before=walk())


def test_snapshot_mailboxes(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "full.toml", "rhel10"), [], start="mailboxes")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_lmtp_tcp(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "full.toml", "rhel10"), [], start="lmtp")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


# --- the Postfix screens -----------------------------------------------------------------

def test_snapshot_postfix_mode(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "full.toml", "rhel10"), [], start="postfix")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_postfix_mode_null_client(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "null-client.toml", "rhel10"), [], start="postfix")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_postfix_mode_bad_network(snap_compare, tmp_path):
    session = dovecot_session(tmp_path, "full.toml", "rhel10")
    session.answers.postfix.mynetworks = ["127.0.0.0/8", "2001:db8::/32"]
    app = create_app(session, [], start="postfix")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk("ctrl+n"))


def test_snapshot_postfix_aliases(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "full.toml", "rhel10"), [], start="postfix_aliases")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_postfix_aliases_ldap(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "ldap.toml", "rhel10"), [], start="postfix_aliases")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_postfix_submission(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "full.toml", "rhel10"), [], start="postfix_submission")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_postfix_limits_refused(snap_compare, tmp_path):
    session = dovecot_session(tmp_path, "full.toml", "rhel10")
    session.answers.postfix.limits["queue_minfree"] = 10000000
    app = create_app(session, [], start="postfix_limits")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk("ctrl+n"))


def test_snapshot_postfix_tls(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "ldap.toml", "rhel10"), [], start="postfix_tls")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_postfix_tls_own_pair_refused(snap_compare, tmp_path):
    session = dovecot_session(tmp_path, "ldap.toml", "rhel10")
    session.answers.postfix.tls_cert = "/etc/pki/tls/certs/postfix.pem"  # not copied to the host
    app = create_app(session, [], start="postfix_tls")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk("ctrl+n"))


def test_snapshot_postfix_delivery(snap_compare, tmp_path):
    app = create_app(dovecot_session(tmp_path, "ldap.toml", "rhel10"), [], start="postfix_delivery")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk())


def test_snapshot_postfix_delivery_remote_refused(snap_compare, tmp_path):
    session = dovecot_session(tmp_path, "pam.toml")
    session.answers.postfix.lmtp_host, session.answers.postfix.lmtp_port = "dovecot..example", 70000
    app = create_app(session, [], start="postfix_delivery")
    assert snap_compare(app, terminal_size=SIZE, run_before=walk("ctrl+n"))


def test_snapshot_postfix_limits_hardening_notes(snap_compare, tmp_path):
    session = dovecot_session(tmp_path, "pam.toml")
    for path, data in (("/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"),
                       ("/proc/mounts", "/dev/sda1 / ext4 rw 0 0\nnfs:/spool /var/spool nfs4 rw 0 0\n")):
        real = session.host.real(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(data)
    walk_there = walk()

    async def run_before(pilot) -> None:
        await walk_there(pilot)
        pilot.app.screen.query_one("#body").scroll_end(animate=False)
        await settle(pilot)

    app = create_app(session, [], start="postfix_limits")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
