"""Tier 2 for Postfix: the real postconf, postfix check and postmap (Debian's Postfix 3.7) agree.

- the Python emulation of `postconf -e/-X/-#/-M/-P` gives byte for byte what the
  real postconf gives, for every command the plans run, on every platform's
  fresh files;
- the configuration after apply passes `postfix check` (Debian's files; the
  RHEL files name /usr/libexec paths this machine lacks, so for them
  `postconf -n` must parse it) and `postconf -n` shows the settings;
- on a real host (rooted in a scratch directory) the review diff comes from the
  real postconf on a copy, apply runs the real postconf and `postfix check`, and
  a configuration Postfix refuses is put back;
- the maps the wizard writes answer `postmap -q` as intended.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mailwizard import postfix_conf as P
from mailwizard.executor import execute
from mailwizard.host import Host
from mailwizard.journal import Journal
from mailwizard.plan import PlanContext
from mailwizard.platform import profile_for
from mailwizard.steps import postfix_aliases, postfix_site, postfix_submission, postfix_tls
from support import aged, fake_session, load_answers

FRESH = Path(__file__).resolve().parents[1] / "mailwizard" / "platforms" / "fresh"
EDITS = ("-e", "-X", "-#", "-M", "-P")


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)


def copy_fixture(platform: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("main.cf", "master.cf"):
        shutil.copyfile(FRESH / platform / "etc/postfix" / name, dest / name)
    aged(dest)
    return dest


def postconf_edits(host) -> list[list[str]]:
    return [c for c in host.commands if c[0] == "postconf" and len(c) > 2 and c[1] in EDITS]


@pytest.mark.parametrize("platform", ["debian12", "rhel9", "rhel10"])
@pytest.mark.parametrize("name", ["pam.toml", "ldap.toml", "full.toml", "null-client.toml"])
def test_emulation_equals_real_postconf(tmp_path, platform, name):
    session = fake_session(tmp_path / "fake", platform, name)
    session.answers.postfix.tls_loglevel = 1
    assert session.apply(session.plan()).status == "applied"
    edits = postconf_edits(session.host)
    assert edits, "the plan ran no postconf edit"
    real = copy_fixture(platform, tmp_path / "real")
    for argv in edits:
        out = run("postconf", "-c", str(real), *argv[1:])
        assert out.returncode == 0, (argv, out.stderr)
    for file in ("main.cf", "master.cf"):
        assert session.host.read_text(f"/etc/postfix/{file}") == (real / file).read_text(), file


@pytest.mark.parametrize("argvs", [
    [["postconf", "-e", "b=changed", "c = 3 "], ["postconf", "-e", "new="]],
    [["postconf", "-X", "b", "absent"]],
    [["postconf", "-#", "a", "b"]],
    [["postconf", "-M", "pickup/unix=pickup unix n - y 60 1 pickup -o content_filter= "
                        "-oreceive_override_options=no_header_body_checks"]],
    [["postconf", "-P", "smtp/inet/smtpd_tls_security_level=encrypt", "relay/unix/syslog_name=x"]],
    [["postconf", "-M", "mypipe/unix=mypipe unix - n n - - pipe flags=DRhu user=vmail argv=/usr/bin/true "
                        "${sender} ${recipient} ${original_recipient} ${nexthop} {a b}"]],
])
def test_emulation_equals_real_postconf_on_odd_files(tmp_path, argvs):
    real = copy_fixture("debian12", tmp_path)
    odd = "a = 1\nb = x\n  y\n# c\n  z\nb=2\n  #hm\nc = 3\n"
    (real / "main.cf").write_text(odd)
    files = {"main.cf": odd, "master.cf": (real / "master.cf").read_text()}
    for argv in argvs:
        out = run("postconf", "-c", str(real), *argv[1:])
        assert out.returncode == 0, out.stderr
        files = P.emulate(files, argv)
    assert files["main.cf"] == (real / "main.cf").read_text()
    assert files["master.cf"] == (real / "master.cf").read_text()


MAIN_FILES = sorted([*FRESH.glob("*/etc/postfix/main.cf"), *FRESH.glob("*/usr/share/postfix/main.cf.*")])


@pytest.mark.parametrize("path", MAIN_FILES, ids=lambda p: "/".join(p.parts[-4:]))
def test_main_cf_parsed_once_edits_as_the_text_emulation_does(path):
    """MainCf (main.cf parsed once per plan) gives, command after command, edit_main's text and main_values."""
    rng = random.Random(path.name)
    text = path.read_text()
    names = ["myhostname", "mydomain", "inet_interfaces", "mydestination", "alias_maps", "new_one", "other"]
    for _ in range(10):
        main, expected = P.MainCf.parse(text), text
        assert main is not None and main.values() == P.main_values(text)
        for _ in range(8):
            picked = rng.sample(names, rng.randint(1, 3))
            if rng.random() < 0.25:
                mode, args = "X", picked
            else:
                mode, args = "e", [f"{n} = {rng.choice(['', 'x', '$myhostname, localhost', ' y '])}" for n in picked]
            assert main.edit(mode, args)
            expected = P.edit_main(expected, mode, args)
            assert main.text() == expected and main.values() == P.main_values(expected), (mode, args)


@pytest.mark.parametrize("text, mode, args, done", [
    ("a = 1\nb = x\n  y\n# c\n  z\nb=2\n  #hm\nc = 3\n", "e", ["b=changed", "c = 3 ", "new="], True),
    ("a = 1\nb = x\n  y\n# c\n  z\nb=2\n  #hm\nc = 3", "X", ["b", "absent"], True),
    ("a = 1\n", "e", ["a=x\x0cy"], False),  # a value str.splitlines would split: left to edit_main
    ("a = 1\n", "#", ["a"], False),
])
def test_main_cf_parsed_once_on_odd_files(text, mode, args, done):
    main = P.MainCf.parse(text)
    assert main is not None and main.edit(mode, args) == done
    if done:
        assert main.text() == P.edit_main(text, mode, args)
        assert main.values() == P.main_values(main.text())
    else:
        assert main.values() == P.main_values(text)  # nothing done


def test_main_cf_left_to_the_text_emulation_in_the_middle_of_a_change(tmp_path):
    ctx = fake_session(tmp_path, "debian12").context()
    text = "a = 1\n"
    argvs = [["postconf", "-e", "a=2"], ["postconf", "-e", "b=x\x0cy"], ["postconf", "-X", "a"],
             ["postconf", "-e", "c=3"]]
    files, tool, main = P.compute_after(ctx, "/etc/postfix", {"main.cf": text, "master.cf": ""}, argvs,
                                        P.MainCf.parse(text))
    expected = text
    for argv in argvs:
        expected = P.edit_main(expected, argv[1][1], argv[2:])
    assert (files["main.cf"], tool, main) == (expected, "emulation", None)


@pytest.mark.parametrize("text", ["  x = 1\na = 1\n", "a = 1\nb\n", "a b = 1\n"])
def test_main_cf_a_file_the_runs_cannot_stand_for_is_left_to_the_text_emulation(text):
    assert P.MainCf.parse(text) is None


@pytest.mark.parametrize("name", ["pam.toml", "ldap.toml", "full.toml", "null-client.toml"])
def test_applied_debian_config_passes_postfix_check(tmp_path, name):
    session = fake_session(tmp_path, "debian12", name)
    assert session.apply(session.plan()).status == "applied"
    conf = tmp_path / "root/etc/postfix"
    check = run("postfix", "-c", str(conf), "check")
    assert check.returncode == 0, check.stdout + check.stderr
    shown = run("postconf", "-c", str(conf), "-n")
    # the LDAP table is named by its live path, which only the real host has
    warnings = [w for w in shown.stderr.splitlines() if "/etc/postfix/ldap-aliases.cf" not in w]
    assert shown.returncode == 0 and warnings == [], shown.stderr
    lines = set(shown.stdout.splitlines())
    for key, value in postfix_site.site_settings(session.answers):
        assert (f"{key} = {value}" if value else f"{key} =") in lines
    for key, value in postfix_tls.tls_settings(session.answers, session.profile):
        assert f"{key} = {value}" in lines
    if session.answers.postfix.submission:
        services = run("postconf", "-c", str(conf), "-M", "submission/inet")
        assert "-o smtpd_tls_security_level=encrypt" in services.stdout
        assert "-o smtpd_client_restrictions=permit_sasl_authenticated,reject" in services.stdout


@pytest.mark.parametrize("platform", ["rhel9", "rhel10"])
def test_applied_rhel_config_parses(tmp_path, platform):
    session = fake_session(tmp_path, platform, "full.toml")
    assert session.apply(session.plan()).status == "applied"
    conf = tmp_path / "root/etc/postfix"
    shown = run("postconf", "-c", str(conf), "-n")
    assert shown.returncode == 0, shown.stderr
    assert not [line for line in shown.stderr.splitlines() if "unused parameter" in line]
    assert "smtpd_tls_mandatory_protocols = " in shown.stdout and "mailbox_transport = lmtp:unix:/run/dovecot/lmtp" in \
        shown.stdout
    master = run("postconf", "-c", str(conf), "-M")
    assert master.returncode == 0 and "submission inet" in master.stdout


def real_host(tmp_path: Path, platform: str = "debian12") -> tuple[Host, PlanContext]:
    root = tmp_path / "root"
    copy_fixture(platform, root / "etc/postfix")
    host = Host(root)
    return host, PlanContext(host, profile_for(platform))


def test_real_host_diff_comes_from_postconf_and_apply_runs_it(tmp_path):
    host, ctx = real_host(tmp_path)
    answers = load_answers("pam.toml")
    change = postfix_tls.plan(answers, ctx)[0]
    assert change.check(ctx) is None
    assert change.tool == "postconf"  # the real tool on a scratch copy
    assert "+smtpd_tls_auth_only = yes" in change.diff()
    with Journal(host, "/var/lib/mailwizard") as journal:
        execute(change, host, journal, lambda line: None)
    assert host.read_text("/etc/postfix/main.cf") == change.after["main.cf"]
    # dated back, so that postfix check and the reload after it do not sleep on Postfix's cool-down
    assert host.real("/etc/postfix/main.cf").stat().st_mtime < time.time() - 2
    assert "smtpd_tls_auth_only = yes" in run("postconf", "-c", str(host.real("/etc/postfix")), "-n").stdout
    again = postfix_tls.plan(answers, PlanContext(host, ctx.profile))[0]
    assert again.check(PlanContext(host, ctx.profile)).startswith("main.cf already has")


def test_real_postfix_check_failure_puts_the_file_back(tmp_path):
    host, ctx = real_host(tmp_path)
    before = host.read("/etc/postfix/main.cf")
    change = P.Postconf([("mynetworks", "127.0.0.0/8 bogus$")])  # an empty macro: postfix check fails
    assert change.check(ctx) is None
    lines: list[str] = []
    with Journal(host, "/var/lib/mailwizard") as journal, pytest.raises(RuntimeError) as err:
        execute(change, host, journal, lines.append)
    assert "Postfix refuses the new configuration" in str(err.value)
    assert "macro" in str(err.value)
    assert host.read("/etc/postfix/main.cf") == before


def test_real_master_service_edit(tmp_path):
    host, ctx = real_host(tmp_path)
    answers = load_answers("full.toml")
    changes = [c for c in postfix_submission.plan(answers, ctx) if isinstance(c, P.MasterService)]
    assert [c.name for c in changes] == ["submission", "submissions"]
    with Journal(host, "/var/lib/mailwizard") as journal:
        for change in changes:
            assert change.check(ctx) is None and change.tool == "postconf"
            execute(change, host, journal, lambda line: None)
    shown = run("postconf", "-c", str(host.real("/etc/postfix")), "-P", "submissions/inet/smtpd_tls_wrappermode")
    assert shown.stdout.strip() == "submissions/inet/smtpd_tls_wrappermode = yes"
    fresh = PlanContext(host, ctx.profile)
    assert all(c.check(fresh) for c in postfix_submission.plan(answers, fresh) if isinstance(c, P.MasterService))


def postmap(conf: Path, *args: str, **kw):
    return run("postmap", "-c", str(conf), *args, **kw)


def test_sender_login_map_with_real_postmap(tmp_path):
    conf = copy_fixture("debian12", tmp_path / "conf")
    answers = load_answers("full.toml")
    path = tmp_path / "sender_login_maps"
    path.write_bytes(postfix_submission.sender_maps_text(answers))
    table = f"regexp:{path}"
    assert postmap(conf, "-q", "alice@example.com", table).stdout.strip() == "alice, alice@example.com"
    assert postmap(conf, "-q", "bob+lists@example.com", table).stdout.strip() == "bob, bob@example.com"
    assert postmap(conf, "-q", "alice@example.org", table).returncode == 1
    assert postmap(conf, "-q", "alice@example.com.evil", table).returncode == 1


def test_virtual_alias_map_with_real_postmap(tmp_path):
    conf = copy_fixture("debian12", tmp_path / "conf")
    answers = load_answers("full.toml")
    path = tmp_path / "virtual"
    path.write_bytes(postfix_aliases.virtual_text(answers, "hash"))
    assert postmap(conf, f"hash:{path}").returncode == 0
    assert postmap(conf, "-q", "info@example.com", f"hash:{path}").stdout.strip() == "user22@example.net"
    assert postmap(conf, "-q", "sales@example.com", f"hash:{path}").stdout.strip() == "user11@example.org"


def test_ldap_table_parses_with_postfix_ldap(tmp_path):
    conf = copy_fixture("debian12", tmp_path / "conf")
    answers = load_answers("ldap.toml")
    answers.postfix.ldap_aliases.server_host = "ldap://127.0.0.1:1"  # nothing listens: a quick failure
    path = tmp_path / "ldap-aliases.cf"
    path.write_bytes(postfix_aliases.ldap_text(answers))
    aged(path)  # read as main.cf is: young, it makes postmap pause
    out = postmap(conf, "-q", "@example.com", f"ldap:{path}", timeout=60)
    assert "unsupported dictionary type" not in out.stderr  # postfix-ldap is installed
    assert out.returncode != 0 and "Can't contact LDAP server" in out.stderr, out.stderr


@pytest.mark.parametrize("platform", ["debian12", "rhel10"])
@pytest.mark.parametrize("name", ["ldap.toml", "sql.toml"])
def test_virtual_users_refused_unknown_at_rcpt_real_postconf(tmp_path, platform, name):
    session = fake_session(tmp_path, platform, name)
    session.answers.postfix.submission = True
    assert session.apply(session.plan()).status == "applied"
    conf = tmp_path / "root/etc/postfix"
    if platform == "debian12":
        check = run("postfix", "-c", str(conf), "check")
        assert check.returncode == 0, check.stdout + check.stderr
    shown = run("postconf", "-c", str(conf), "-n")
    assert shown.returncode == 0 and "unused parameter" not in shown.stderr, shown.stderr
    lines = set(shown.stdout.splitlines())
    assert "smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, " \
           "reject_unverified_recipient" in lines
    assert "unverified_recipient_reject_code = 550" in lines
    assert ("address_verify_map = lmdb:$data_directory/verify_cache" in lines) == (platform == "rhel10")


@pytest.mark.parametrize("platform", ["debian12", "rhel10"])
def test_doveconf_accepts_the_sasl_tcp_listener(tmp_path, platform):
    from mailwizard.dovecot_conf import get_setting

    session = fake_session(tmp_path, platform, "pam.toml")
    session.answers.auth.sasl_listener = "inet"
    session.answers.auth.sasl_allow_from = ["192.0.2.25/32"]
    assert session.apply(session.plan()).status == "applied"
    out = run("doveconf", "-c", str(tmp_path / "root/etc/dovecot/dovecot.conf"), "-n")
    assert out.returncode == 0 and "Warning" not in out.stdout + out.stderr, out.stderr
    assert get_setting(out.stdout, "port", ("service auth", "inet_listener")) == "12345"
