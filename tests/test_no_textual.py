"""The domain core is importable without the TUI: steps and the engine never import Textual."""

import pkgutil
import subprocess
import sys

import mailwizard

UI_MODULES = {"mailwizard.app", "mailwizard.widgets"}


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(mailwizard.__path__, "mailwizard."):
        if info.name in UI_MODULES or info.name.startswith("mailwizard.screens"):
            continue
        if info.name == "mailwizard.__main__":
            continue
        names.append(info.name)
    return names


def test_core_modules_do_not_import_textual():
    modules = core_modules()
    assert "mailwizard.steps.tls" in modules and "mailwizard.engine" in modules
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
            + "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"textual imported by the core: {out.stdout}"


def test_unattended_dry_run_does_not_import_textual(answers_dir):
    code = ("import sys, contextlib, io\nfrom mailwizard.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    rc = main(['--platform', 'rhel10', '--answers', '{answers_dir}/full.toml',\n"
            "               '--unattended', '--dry-run'])\n"
            "print(rc, any(m.startswith('textual') for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]
