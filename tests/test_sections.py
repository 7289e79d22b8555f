"""The section registry (sections.py) is the only place that lists the wizard's pages, and the core
(wizard.py) that both the TUI and the command line drive runs without Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from mailwizard import answers as A
from mailwizard.sections import SECTIONS, key_matches, owner, resume_at, section

PACKAGE = Path(__file__).resolve().parents[1] / "mailwizard"
KEYS = {s.key for s in SECTIONS}


def test_every_section_has_its_screen_module_and_class_under_its_own_name():
    import importlib

    for s in SECTIONS:
        module = importlib.import_module(f"mailwizard.screens.{s.key}")
        view = getattr(module, s.view)
        assert s.key == view.KEY, s.key


def test_every_page_screen_is_a_section():
    import importlib

    from mailwizard.screens.base import WizardScreen
    pages = set()
    for path in (PACKAGE / "screens").glob("*.py"):
        module = importlib.import_module(f"mailwizard.screens.{path.stem}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, WizardScreen) and value.KEY \
                    and value.__module__ == module.__name__:
                pages.add(value.KEY)
                assert path.stem == value.KEY, f"{value.__name__} of page {value.KEY!r} lives in {path.name}"
    assert pages == KEYS


def _listings(tree: ast.AST):
    """Literal tuples, lists, sets and dicts in a module that name three or more sections, and mostly them."""
    for node in ast.walk(tree):
        items = [*node.keys, *node.values] if isinstance(node, ast.Dict) else \
            node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else []
        constants = [i.value for i in items if isinstance(i, ast.Constant)]
        named = {c for c in constants if c in KEYS}
        # three sections or more, and mostly sections: a package map by feature (lmtp, sieve, postfix among
        # dovecot, imap, ldap, ...) names features, not pages
        if len(named) >= 3 and 2 * len(named) >= len(set(constants)):
            yield node.lineno, sorted(named)


# the answers file's tables in the order a saved file has them: a file format's names, not the pages
# (the Postfix pages share [postfix]; [dns], [dovecot] and [firewall] have no page of their own)
TABLE_ORDER = ("answers.py", "SECTION_ORDER")


def test_no_module_but_the_registry_lists_sections():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "sections.py":
            continue
        tree = ast.parse(path.read_text())
        allowed = {n.value.lineno for n in ast.walk(tree) if isinstance(n, ast.Assign)
                   and (path.name, getattr(n.targets[0], "id", "")) == TABLE_ORDER}
        hits = [hit for hit in _listings(tree) if hit[0] not in allowed]
        if hits:
            found[str(path.relative_to(PACKAGE))] = hits
    assert found == {}


def test_the_guard_finds_a_listing():
    # the test above can fail: a table of screens as app.py had one is found
    assert list(_listings(ast.parse('RESUME_AT = {"tls": "tls", "vmail": "vmail", "auth": "auth"}')))


def test_every_answers_key_has_one_owner_and_owners_are_in_page_order():
    assert owner("mailbox.root").key == "vmail"
    assert owner("postfix.relayhost").key == "postfix"  # also Outbound's: the first page owns it
    assert owner("dkim.selector").key == "outbound"
    assert owner("dns.whatever") is None
    assert key_matches("auth.ldap.uris", ("auth.ldap.",)) and not key_matches("auth.ldapx", ("auth.ldap.",))


def test_a_resumed_run_opens_at_the_page_of_its_first_unverified_step():
    assert resume_at("vmail") == "vmail"
    assert resume_at("acme") == "tls"
    assert resume_at("firewall") == "protocols"
    assert resume_at("dkim") == "outbound"
    assert resume_at("services") == "review"
    assert resume_at(None) == "review"
    with pytest.raises(KeyError, match="no section 'nope'"):
        section("nope")


def test_every_step_that_changes_the_host_resumes_somewhere_named():
    from mailwizard.steps import all_steps

    resumed = {step for s in SECTIONS for step in s.resumes}
    checks_only = {"files", "selinux", "live", "dns"}  # they plan nothing a page answers: Review
    assert {s.name for s in all_steps()} - resumed == checks_only


def test_the_core_and_the_unattended_path_run_without_textual(tmp_path):
    answers = Path(__file__).resolve().parents[2] / "shared" / "answers" / "pam.toml"
    script = f"""
import sys
sys.modules["textual"] = None  # any import of Textual fails
from mailwizard import cli
from mailwizard.wizard import Wizard
args = cli.parser().parse_args(["--answers", {str(answers)!r}, "--platform", "rhel10"])
session, structural = cli.build_session(args)
core = Wizard(session, structural, answers_file=True)
print(core.first_to_ask(), core.pages()[:3])
reviewed = core.review(core.check())
print(len(reviewed.plan.changes) > 10, reviewed.errors)
sys.exit(cli.main(["--answers", {str(answers)!r}, "--platform", "rhel10", "--unattended"]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    first, second = out.stdout.splitlines()[:2]
    assert first == "review ['welcome', 'install', 'tls']"
    assert second == "True []"


def test_a_new_run_on_the_short_path_asks_only_what_no_default_answers(tmp_path):
    from mailwizard.engine import Session
    from mailwizard.platform import profile_for
    from mailwizard.simulated import FakeHost
    from mailwizard.wizard import Wizard

    answers, _ = A.parse("")
    host = FakeHost.from_profile(profile_for("debian12"), str(tmp_path), hostname="mail.example.com")
    core = Wizard(Session(answers, host, profile_for("debian12"), offline=True, dry_run=True,
                          journal_dir=str(tmp_path / "j")), short_path=True)
    assert core.pages() == ["welcome", "tls", "auth", "postfix", "more", "review"]
    assert "vmail" in core.summarised() and "install" in core.summarised()
    assert core.previous("vmail") == "more" and core.following("vmail") == "more"
    assert answers.postfix.submission  # a new mail server's users send through it
