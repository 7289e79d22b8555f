"""The command line: exit codes, messages naming the key, JSON, --platform planning."""

import json
import subprocess
import sys

import pytest

from mailwizard import __version__, cli
from support import ANSWER_FILES, ANSWERS_DIR


def run(*args, user=None):
    argv = [sys.executable, "-m", "mailwizard", *args]
    return subprocess.run(argv, capture_output=True, text=True, user=user, timeout=60)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"mailwizard {__version__}"


@pytest.mark.parametrize("name", ANSWER_FILES)
def test_every_reference_file_plans_cleanly_for_rhel10(name, capsys):
    rc = cli.main(["--platform", "rhel10", "--answers", str(ANSWERS_DIR / name), "--unattended", "--dry-run"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert out.out.startswith("Plan for rhel10:")
    assert "error:" not in out.err


def test_unattended_says_the_files_unknown_keys_when_it_goes_on(tmp_path, capsys):
    """A misspelt key is a warning, not a refusal: the run goes on, and says so, in text and in JSON."""
    given = tmp_path / "a.toml"
    given.write_text((ANSWERS_DIR / "pam.toml").read_text().replace("[tls]\n", "[tls]\nself_sigend = true\n"))
    assert cli.main(["--platform", "rhel10", "--answers", str(given), "--unattended"]) == 0
    assert "warning: tls.self_sigend: unknown key, ignored; did you mean self_signed?" in capsys.readouterr().out
    assert cli.main(["--platform", "rhel10", "--answers", str(given), "--unattended", "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any(w.startswith("tls.self_sigend: unknown key") for w in data["plan"]["warnings"]), data["plan"]


def test_json_plan_is_machine_readable(capsys):
    rc = cli.main(["--platform", "rhel10", "--answers", str(ANSWERS_DIR / "pam.toml"),
                   "--unattended", "--dry-run", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert data["platform"] == "rhel10"
    kinds = {c["kind"] for c in data["plan"]["changes"]}
    assert {"command", "attrs", "file", "service"} <= kinds
    assert all(p["severity"] == "warning" for p in data["problems"])


def test_invalid_answers_exit_2_naming_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text((ANSWERS_DIR / "pam.toml").read_text().replace('hostname = "mail.example.com"',
                                                                   'hostname = "mail"'))
    rc = cli.main(["--platform", "rhel10", "--answers", str(bad), "--unattended", "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "server.hostname" in err and "not fully qualified" in err
    assert "nothing was changed" in err


def test_not_toml_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    assert cli.main(["--platform", "rhel10", "--answers", str(bad), "--unattended"]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_missing_answers_file_exit_2(capsys):
    assert cli.main(["--platform", "rhel10", "--answers", "/nonexistent.toml", "--unattended"]) == 2
    assert "/nonexistent.toml" in capsys.readouterr().err


def test_unattended_needs_answers(capsys):
    assert cli.main(["--unattended"]) == 2
    assert "--answers" in capsys.readouterr().err


def test_usage_error_exit_2():
    assert run("--platform", "solaris").returncode == 2


def test_apply_without_root_exits_3(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    rc = cli.main(["--answers", str(ANSWERS_DIR / "pam.toml"), "--unattended"])
    assert rc == 3
    assert "needs root" in capsys.readouterr().err
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert cli.main(["rollback"]) == 3


def test_dry_run_needs_no_root(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    rc = cli.main(["--platform", "debian12", "--answers", str(ANSWERS_DIR / "pam.toml"), "--unattended", "--dry-run"])
    assert rc == 0


def test_resume_without_a_journal_explains(tmp_path, capsys):
    rc = cli.main(["--resume", "--unattended", "--state-dir", str(tmp_path / "none")])
    assert rc == 2
    assert "no interrupted run" in capsys.readouterr().err


def test_platform_with_rollback_is_refused(capsys):
    assert cli.main(["rollback", "--platform", "rhel10"]) == 2


def test_a_run_killed_while_planning_can_be_resumed(tmp_path, monkeypatch, capsys):
    """The answers reach the journal before the plan is made, so `--resume` starts the run again."""
    from mailwizard.engine import Session
    from mailwizard.journal import Journal
    from support import fake_session

    class Killed(BaseException):
        pass

    def killed(self, *args):
        raise Killed

    session = fake_session(tmp_path, "rhel10", "full.toml")
    monkeypatch.setattr(Session, "plan", killed)
    args = cli.parser().parse_args(["--answers", "full.toml", "--unattended"])
    with pytest.raises(Killed):
        cli.run_unattended(session, [], args)
    journal_dir = str(session.host.real(session.journal_dir))
    assert Journal(session.host, session.journal_dir).load_answers() == session.answers.to_toml()
    resumed, problems = cli.build_session(cli.parser().parse_args(
        ["--resume", "--unattended", "--dry-run", "--state-dir", journal_dir]))
    assert problems == [] and resumed.answers.to_toml() == session.answers.to_toml()


def test_the_simulated_host_of_platform_gives_its_names(tmp_path):
    """Issue 15 (3): --platform's fresh host has a fully-qualified name, prefilled with the mail domain when no
    answers are given; a given file keeps its own."""
    import shutil

    session, _ = cli.build_session(cli.parser().parse_args(["--dry-run", "--platform", "rhel10"]))
    try:
        assert session.host.fqdn() == cli.SIMULATED_HOSTNAME == "mail.example.com"
        assert (session.answers.server.hostname, session.answers.server.domain) == ("mail.example.com",
                                                                                    "example.com")
    finally:
        shutil.rmtree(session.host.root, ignore_errors=True)
    given = tmp_path / "a.toml"
    given.write_text('[server]\nhostname = "mx.example.org"\n')
    session, _ = cli.build_session(cli.parser().parse_args(["--dry-run", "--platform", "rhel10",
                                                            "--answers", str(given)]))
    try:
        assert session.host.fqdn() == session.answers.server.hostname == "mx.example.org"
    finally:
        shutil.rmtree(session.host.root, ignore_errors=True)


# --- --platform's temporary directory (issue 13: "every --platform run leaves a temporary directory behind") ---

def platform_roots(base) -> list[str]:
    return sorted(p.name for p in base.iterdir() if p.name.startswith(cli.PLATFORM_PREFIX))


def test_a_platform_run_leaves_no_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert cli.main(["--platform", "rhel10", "--answers", str(ANSWERS_DIR / "pam.toml"), "--unattended"]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[mailbox]\nroot = '//etc//'\n")
    assert cli.main(["--platform", "rhel10", "--answers", str(bad), "--unattended"]) == cli.EXIT_USAGE
    assert platform_roots(tmp_path) == []


HOLD_ROOT = """
import sys
from mailwizard import cli
print(cli.platform_root(), flush=True)
sys.stdin.read()
"""


def test_the_root_of_a_platform_run_killed_from_outside_is_removed_by_the_next(tmp_path, monkeypatch):
    """SIGKILL (or the terminal's SIGHUP) ends a --platform run before main() can remove its root: the next run
    removes it -- and only it: a run still going holds a lock on its own, and a link is not followed."""
    import os
    import signal

    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": os.path.dirname(os.path.dirname(cli.__file__))}

    def run_holding():
        proc = subprocess.Popen([sys.executable, "-c", HOLD_ROOT], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        return proc, proc.stdout.readline().strip()

    killed, killed_root = run_holding()
    going, going_root = run_holding()
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("mine")
    link = tmp_path / (cli.PLATFORM_PREFIX + "link")
    link.symlink_to(elsewhere)
    for root in (killed_root, going_root, str(elsewhere)):
        os.utime(root, (0, os.stat(root).st_mtime - 120))  # older than a minute
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    try:
        mine = cli.platform_root()
        names = platform_roots(tmp_path)
        assert os.path.basename(killed_root) not in names, names
        assert os.path.basename(going_root) in names and os.path.basename(mine) in names
        assert link.is_symlink() and (elsewhere / "keep").read_text() == "mine"
    finally:
        going.communicate("")
