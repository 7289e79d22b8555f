"""Tier 2 for issue 16: the real postconf, postfix check, postmap, opendkim-genkey and opendkim agree.

- the relay login's and the DKIM milter's postconf edits, run by the real
  postconf on Debian's fresh main.cf, pass `postfix check` and `postconf -n`
  shows them; the emulation gives the same bytes;
- the real postmap builds sasl_passwd's indexed copy 0600 like its source,
  and `postmap -q` finds the login under relayhost as main.cf writes it;
- the DKIM record mailwizard derives from a key is the one opendkim-genkey
  writes beside it (the same p=);
- the real opendkim (`opendkim -n`, parse and exit) accepts every setting the
  wizard writes into Debian's opendkim.conf and refuses a wrong one. Its last
  check, that the key's path is writable by root alone, cannot pass under a
  test's /tmp (world-writable): the only complaint left must be about it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from mailwizard import postfix_conf as P
from mailwizard.steps import dkim, postfix_relay
from support import aged, fake_session

FRESH = Path(__file__).resolve().parents[1] / "mailwizard" / "platforms" / "fresh"


def run(*argv, **kw):
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)


def planned_edits(tmp_path) -> list[list[str]]:
    session = fake_session(tmp_path / "fake", "debian12")
    p = session.answers.postfix
    p.relayhost, p.relay_user, p.relay_password = "[smtp.example.net]:587", "mailer", "s3cret"
    session.answers.dkim.enabled = True
    plan = session.plan()
    argvs = [argv for c in plan.active() if c.step in ("postfix_relay", "dkim", "postfix_tls")
             for argv in c.commands() if argv[:1] == ["postconf"]]
    assert len(argvs) >= 6, argvs
    return argvs


def test_the_login_and_milter_settings_pass_postfix_check(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    for name in ("main.cf", "master.cf"):
        shutil.copyfile(FRESH / "debian12/etc/postfix" / name, real / name)
    files = {n: (real / n).read_text() for n in ("main.cf", "master.cf")}
    for argv in planned_edits(tmp_path):
        out = run("postconf", "-c", str(real), *argv[1:])
        assert out.returncode == 0, (argv, out.stderr)
        files = P.emulate(files, argv)
    assert (real / "main.cf").read_text() == files["main.cf"]  # the review's diff is what postconf does
    aged(real)
    check = run("postfix", "-c", str(real), "check")
    assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    shown = run("postconf", "-c", str(real), "-n").stdout
    for line in ("smtp_sasl_auth_enable = yes", "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd",
                 "smtp_sasl_security_options = noanonymous", "smtp_tls_security_level = encrypt",
                 "smtpd_milters = inet:127.0.0.1:8891", "non_smtpd_milters = $smtpd_milters",
                 "milter_default_action = accept"):
        assert line + "\n" in shown, shown


def test_postmap_keeps_the_map_private_and_finds_the_login(tmp_path):
    answers = fake_session(tmp_path / "fake", "debian12").answers
    answers.postfix.relayhost, answers.postfix.relay_user = "smtp.example.net:587", "mailer"
    conf = tmp_path / "conf"
    conf.mkdir()
    shutil.copyfile(FRESH / "debian12/etc/postfix/main.cf", conf / "main.cf")
    source = tmp_path / "sasl_passwd"
    source.write_bytes(postfix_relay.map_line(answers, "pa ss:word"))
    os.chmod(source, 0o600)
    aged(source, conf)
    out = run("postmap", "-c", str(conf), f"hash:{source}")
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(f"{source}.db").st_mode) == 0o600
    # the key is main.cf's relayhost, bracketed as the wizard writes it
    got = run("postmap", "-c", str(conf), "-q", "[smtp.example.net]:587", f"hash:{source}")
    assert got.returncode == 0 and got.stdout == "mailer:pa ss:word\n", got


def test_the_record_is_the_one_opendkim_genkey_writes(tmp_path):
    out = run("opendkim-genkey", "-b", "2048", "-D", str(tmp_path), "-d", "example.com", "-s", "mail")
    assert out.returncode == 0, out.stderr
    key = tmp_path / "mail.private"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600  # private from its first byte
    txt = (tmp_path / "mail.txt").read_text()
    theirs = "".join(txt.split("(", 1)[1].split(")", 1)[0].split('"')[1::2])
    ours = dkim.public_value(key.read_bytes())
    assert ours is not None and dkim._p(ours) == dkim._p(theirs) and len(dkim._p(ours)) > 300


@pytest.mark.parametrize("wrong, complaint", [(None, None), (("Mode", "x"), 'unknown mode "x"'),
                                              (("Canonicalization", "wrong/simple"),
                                               'unknown canonicalization algorithm "wrong"')])
def test_opendkim_accepts_the_settings(tmp_path, wrong, complaint):
    key = tmp_path / "mail.private"
    key.write_text("not read before the path check\n")
    answers = fake_session(tmp_path / "fake", "debian12").answers
    answers.dkim.enabled = True
    settings = [(k, str(key) if k == "KeyFile" else v) for k, v in dkim.conf_settings(answers, dkim_profile())]
    conf = tmp_path / "opendkim.conf"
    conf.write_text(dkim.edit_conf((FRESH / "debian12/etc/opendkim.conf").read_text(),
                                   settings + ([wrong] if wrong else [])))
    out = run("opendkim", "-n", "-x", str(conf))
    assert out.returncode != 0
    if wrong is None:
        # every setting parsed; what is left is the test directory's world-writable /tmp
        assert "can be read or written by other users" in out.stderr, out.stderr
    else:
        assert complaint in out.stderr, out.stderr


def dkim_profile():
    from mailwizard.platform import profile_for

    return profile_for("debian12")
