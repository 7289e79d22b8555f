"""Large answers (issue 12): 3,000 mailboxes and 3,000 virtual aliases are planned correctly.

Correctness only; how the plan time grows with the answers is measured by
bench/plan_scale.py, not asserted here.
"""

from __future__ import annotations

import re

import pytest

from mailwizard import answers as answers_mod
from mailwizard.engine import Session
from mailwizard.platform import profile_for
from mailwizard.simulated import FakeHost
from support import ANSWERS_DIR

N = 3000


def large_answers() -> str:
    """pam.toml with N mailboxes (every tenth one quoted, with a space) and N virtual aliases."""
    text = (ANSWERS_DIR / "pam.toml").read_text().replace("[postfix]\n", '[postfix]\nvirtual_alias_source = "file"\n')
    boxes = [f'{"Box" if i % 10 else "Project "}{i} = {{ auto = "create" }}' if i % 10 else
             f'"Project {i}" = {{ special_use = "\\\\Archive", auto = "subscribe" }}' for i in range(1, N + 1)]
    aliases = [f'"alias{i}@example.com" = "user{i}@example.net"' for i in range(1, N + 1)]
    return text + "\n[mailboxes]\n" + "\n".join(boxes) + "\n\n[postfix.virtual_aliases]\n" + "\n".join(aliases) + "\n"


def headers(conf: str) -> list[str]:
    return [line.strip()[:-2] for line in conf.splitlines() if re.match(r"^\s*mailbox .* \{$", line)]


@pytest.mark.parametrize("platform", ["rhel10", "debian12"])
def test_the_last_of_3000_mailboxes_and_aliases_is_planned_exactly_once(tmp_path, platform):
    answers, problems = answers_mod.parse(large_answers())
    assert problems == [] and len(answers.mailboxes) == N and len(answers.postfix.virtual_aliases) == N
    profile = profile_for(platform)
    host = FakeHost.from_profile(profile, tmp_path / "root", hostname=answers.server.hostname)
    plan = Session(answers, host, profile, offline=True, dry_run=True).plan()
    files = {c.path: c for c in plan.active() if c.kind == "file"}
    edit = files[f"{profile.dovecot_dir}/conf.d/15-mailboxes.conf"]
    boxes = edit.content.decode()
    assert boxes.count(f"  mailbox Box{N - 1} {{\n    auto = create\n  }}\n") == 1
    assert boxes.count(f'  mailbox "Project {N}" {{\n    special_use = \\Archive\n    auto = subscribe\n  }}\n') == 1
    shipped = headers(edit.base.decode())  # the blocks Dovecot ships (Drafts, Junk, Trash, Sent...)
    assert headers(boxes) == shipped + [f"mailbox {b.name}" if b.name.startswith("Box") else f'mailbox "{b.name}"'
                                        for b in answers.mailboxes]  # each once, in the answers' order
    virtual = files["/etc/postfix/virtual"].content.decode()
    assert virtual.count(f"alias{N}@example.com") == 1 and virtual.count("alias1@example.com ") == 1
    assert sum(1 for line in virtual.splitlines() if line.startswith("alias")) == N
    text = plan.render_text()
    assert text.count(f'+  mailbox "Project {N}" {{') == 1 and text.count(f"+alias{N}@example.com ") == 1
