"""The command line: parse arguments, build the session, run the TUI or the unattended path.

Exit codes: 0 done (or plan printed), 1 apply or a check failed (or stopped
before a file the administrator edited: --on-conflict), 2 invalid answers or
usage, 3 root needed.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time

from mailwizard import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ROOT = 0, 1, 2, 3


class Usage(Exception):
    """Bad usage or answers: printed, exit 2."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mailwizard",
        description="Set up a secure Postfix + Dovecot mail server, step by step.")
    p.add_argument("command", nargs="?", choices=["verify", "rollback"],
                   help="verify: re-run every check; rollback: restore every file mailwizard changed")
    p.add_argument("--answers", metavar="FILE", help="prefill the wizard from a TOML answers file")
    p.add_argument("--unattended", action="store_true", help="no TUI: validate, plan, apply, verify, report")
    p.add_argument("--dry-run", action="store_true", help="stop at the review; change nothing")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its journal")
    p.add_argument("--json", action="store_true", help="print the plan and the report as JSON")
    p.add_argument("--on-conflict", choices=["keep", "take", "stop"], default=None,
                   help="when a re-run (--unattended) or rollback would change a file you edited since "
                        "mailwizard wrote it: keep yours, take mailwizard's, or stop and change nothing "
                        "(the default; on a terminal, rollback asks file by file, showing the diff)")
    p.add_argument("--platform", choices=["rhel10", "rhel9", "debian12"],
                   help="plan for another platform, from its fresh-install facts (implies --dry-run)")
    p.add_argument("--state-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--version", action="version", version=f"mailwizard {__version__}")
    return p


SIMULATED_HOSTNAME = "mail.example.com"  # what --platform's simulated host calls itself (hostname -f)


def build_session(args):
    """The Session for these arguments (raises Usage with a message naming the problem)."""
    from mailwizard import answers as answers_mod
    from mailwizard.engine import Session
    from mailwizard.existing import prefill_session
    from mailwizard.host import Host
    from mailwizard.journal import DEFAULT_DIR, Journal
    from mailwizard.platform import UnsupportedPlatform, detect, profile_for
    from mailwizard.simulated import FakeHost

    state_dir = args.state_dir or DEFAULT_DIR
    try:
        if args.platform:
            profile = profile_for(args.platform)
        else:
            profile = detect()
    except UnsupportedPlatform as exc:
        raise Usage(str(exc)) from None
    host: Host = Host("/")
    text = None
    if args.answers:
        try:
            text = answers_mod.read_answers_file(args.answers)  # a regular file, a few MiB at most
        except answers_mod.AnswersError as exc:
            raise Usage(f"--answers: {exc}") from None
    elif args.resume or args.command == "verify":
        text = Journal(host, state_dir).load_answers()  # verify: the answers of the last run, if any
        if text is None and args.resume:
            raise Usage(f"--resume: no interrupted run to continue ({state_dir} holds no answers)")
    try:
        answers, problems = answers_mod.parse(text or "")
    except answers_mod.AnswersError as exc:
        raise Usage(f"{args.answers or 'journal answers'}: {exc}") from None
    tmp = None
    if args.platform:  # the simulated host's files: removed by main() when the run ends, whatever its end
        tmp = platform_root()
        # a fresh host with a fully-qualified name: the answers' when they give one, else an example's
        host = FakeHost.from_profile(profile, tmp, hostname=answers.server.hostname or SIMULATED_HOSTNAME)
    try:
        session = Session(answers, host, profile, offline=bool(args.platform),
                          dry_run=args.dry_run or bool(args.platform), journal_dir=state_dir)
        # without answers given (file, journal), a run starts from the host's own configuration
        prefill_session(session, given=text is not None or args.command == "rollback")
    except BaseException:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return session, problems


PLATFORM_PREFIX = "mailwizard-platform-"
_HELD: list[int] = []  # the locks on this process's --platform roots, held until it ends


def platform_root() -> str:
    """The temporary directory of --platform's simulated host. main() removes it when the run ends, and the run
    holds a lock on it meanwhile: one left by a run killed from outside (SIGKILL, its terminal's SIGHUP) is
    found unlocked and removed by the next --platform run."""
    base = tempfile.gettempdir()
    with os.scandir(base) as entries:
        for entry in entries:
            if entry.name.startswith(PLATFORM_PREFIX) and entry.is_dir(follow_symlinks=False):
                _remove_if_abandoned(entry.path)
    root = tempfile.mkdtemp(prefix=PLATFORM_PREFIX)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _HELD.append(fd)
    return root


def _remove_if_abandoned(path: str) -> None:
    """Remove a --platform root whose run has ended: it is ours, older than a minute (a run that has just made
    its root may not hold the lock yet) and nobody holds its lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or time.time() - st.st_mtime < 60:
            return
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its run goes on
        return
    finally:
        os.close(fd)
    shutil.rmtree(path, ignore_errors=True)


def _print_problems(problems) -> None:
    for p in problems:
        print(f"{p.severity}: {p.key}: {p.message}", file=sys.stderr)


def run_unattended(session, structural, args) -> int:
    """The wizard's core driven without a screen: nothing is asked; a conflict is decided by --on-conflict."""
    from mailwizard import report
    from mailwizard.wizard import Wizard

    core = Wizard(session, structural, resume=args.resume, answers_file=bool(args.answers))
    checked = core.check()
    problems, said = [], set()  # the file's refusals that validation finds again are said once
    for problem in structural + checked:
        if (problem.key, problem.message) not in said:
            said.add((problem.key, problem.message))
            problems.append(problem)
    errors = [p for p in problems if p.severity == "error"]
    out: dict = {"platform": session.profile.name,
                 "problems": [vars(p) for p in problems]}
    if errors:
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            _print_problems(problems)
            print(f"{len(errors)} problem(s) in the answers; nothing was changed", file=sys.stderr)
        return EXIT_USAGE
    # before planning: a run killed while it plans can be resumed
    if not session.dry_run and (error := session.keep_answers()):
        if args.json:
            out["apply"] = {"status": "failed", "done": 0, "error": error, "failed_change": "journal"}
            print(json.dumps(out, indent=2))
        else:
            print(f"apply failed: {error}\nnothing was changed; fix the cause and run the same command again",
                  file=sys.stderr)
        return EXIT_FAILED
    reviewed = core.review(problems)  # the file's own warnings (an unknown key) printed with the plan's
    plan, conflicts = reviewed.plan, reviewed.conflicts
    assert plan is not None  # no errors
    if conflicts:
        out["conflicts"] = [c.to_json() for c in conflicts]
    if conflicts and not session.dry_run:
        from mailwizard.conflicts import STOP, ConflictStop, advice, fixed
        try:
            core.decide(plan, conflicts, fixed(args.on_conflict or STOP))
        except ConflictStop as exc:
            again = "mailwizard --resume --unattended" if args.resume else \
                f"mailwizard --answers {args.answers} --unattended"
            if args.json:
                out["plan"] = plan.to_json()
                print(json.dumps(out, indent=2))
            print(advice(exc.conflicts, "sudo " + again), file=sys.stderr)
            return EXIT_FAILED
    # the plan is described once, in the form that is printed: as JSON, or as text
    if args.json:
        out["plan"] = plan.to_json()
    if session.dry_run:
        print(json.dumps(out, indent=2) if args.json else plan.render_text(), end="" if not args.json else "\n")
        return EXIT_OK
    if not args.json:
        print(plan.render_text())

    def show(event):
        from mailwizard.engine import ChangeFailed, ChangeStarted, OutputLine
        if args.json:
            return
        if isinstance(event, ChangeStarted):
            print(f"[{event.index + 1}/{event.total}] {event.change.describe()}", flush=True)
        elif isinstance(event, OutputLine):
            print(f"    {event.line}", flush=True)
        elif isinstance(event, ChangeFailed):
            print(f"FAILED: {event.error}", file=sys.stderr, flush=True)

    result = core.apply(plan, show)
    out["apply"] = vars(result)
    if result.status != "applied":
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            print(f"apply {result.status}: {result.error}\nfix the cause, then run "
                  "`mailwizard --resume --unattended` to continue", file=sys.stderr)
        return EXIT_FAILED
    checks = core.verify()
    core.record(checks)
    out["report"] = [c.to_json() for c in checks]
    out["dns_records"] = report.dns_records_json(session)
    print(json.dumps(out, indent=2) if args.json else
          report.dns_records_text(session) + "\n" + report.render_text(checks))
    return EXIT_FAILED if any(c.status == "fail" for c in checks) else EXIT_OK


def run_verify(session, args) -> int:
    from mailwizard import existing, report

    inferred = not args.answers and session.journal().load_answers() is None
    if inferred and not session.prefilled:
        print(f"mailwizard verify: nothing to verify: {session.journal_dir} holds no run of mailwizard and "
              "neither Postfix nor Dovecot is configured on this host (give --answers FILE to say what "
              "it should be)", file=sys.stderr)
        return EXIT_USAGE
    checks = session.verify()
    if inferred:  # no journal: the host's own configuration says what it should be
        checks = [*existing.inferred_notes(session), *checks]
    print(json.dumps([c.to_json() for c in checks], indent=2) if args.json else
          report.dns_records_text(session) + "\n" + report.render_text(checks))
    return EXIT_FAILED if any(c.status == "fail" for c in checks) else EXIT_OK


def run_rollback(session, args) -> int:
    from mailwizard.conflicts import STOP, ConflictStop, advice, ask_terminal, fixed
    from mailwizard.journal import JournalLocked

    journal = session.journal()
    if not journal.exists():
        print(f"nothing to roll back: {session.journal_dir} holds no run", file=sys.stderr)
        return EXIT_OK
    if args.on_conflict:
        decide = fixed(args.on_conflict)
    elif sys.stdin.isatty() and sys.stdout.isatty() and not args.json:
        decide = ask_terminal()  # as dpkg does: the diff, then keep / take / stop
    else:
        decide = fixed(STOP)
    try:
        with journal:
            report = journal.rollback(session.profile, on_line=lambda line: None, decide=decide)
    except JournalLocked as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except ConflictStop as exc:
        if args.json:
            print(json.dumps({"stopped": [c.to_json() for c in exc.conflicts]}, indent=2))
        print(advice(exc.conflicts, "sudo mailwizard rollback"), file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(vars(report), indent=2) if args.json else report.render(), end="")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not (args.unattended or args.command):
        # the TUI's start allocates much and frees little: no collections until its first screen is
        # painted, then the app collects again (MailWizard.screen_shown, create_app(freeze_gc=True))
        import gc
        gc.disable()
    if (args.command in ("rollback", "verify") or args.resume) and args.platform:
        print("mailwizard: --platform plans only; verify, rollback and --resume act on this host",
              file=sys.stderr)
        return EXIT_USAGE
    if args.unattended and not (args.answers or args.resume or args.dry_run):
        print("mailwizard: --unattended needs --answers FILE (or --resume); with --dry-run it plans from this "
              "host's own configuration", file=sys.stderr)
        return EXIT_USAGE
    needs_root = not (args.dry_run or args.platform)
    if needs_root and os.geteuid() != 0:
        print("mailwizard: changing the mail server needs root: run it with sudo, "
              "or use --dry-run to review the plan without changing anything", file=sys.stderr)
        return EXIT_ROOT
    try:
        session, structural = build_session(args)
    except Usage as exc:
        print(f"mailwizard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(session, structural, args)
    finally:
        if args.platform:  # --platform's simulated host lives in a temporary directory: leave none behind
            shutil.rmtree(session.host.root, ignore_errors=True)


def _run(session, structural, args) -> int:
    if args.command == "verify":
        return run_verify(session, args)
    if args.command == "rollback":
        return run_rollback(session, args)
    if args.unattended:
        from mailwizard.journal import JournalLocked
        try:
            return run_unattended(session, structural, args)
        except JournalLocked as exc:
            print(f"mailwizard: {exc}", file=sys.stderr)
            return EXIT_USAGE
    from mailwizard.app import create_app

    app = create_app(session, structural, resume=args.resume, answers_file=bool(args.answers), freeze_gc=True,
                     short_path=not (args.answers or args.resume))
    code = app.run()
    if app.farewell:
        print(app.farewell)
    if isinstance(code, int):
        return code
    return app.return_code or EXIT_OK  # Textual sets 1 when the app crashed
