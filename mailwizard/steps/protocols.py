"""Protocols (guide 1.1.5 step 1, 1.7): `protocols = ...` in dovecot.conf, only the enabled ones.

RHEL ships a commented `#protocols = imap pop3 lmtp submission`, which is
uncommented and set, as the guide says. Debian has no such line: every
installed protocol package drops a file into /usr/share/dovecot/protocols.d
that appends itself (`protocols = $protocols imap`) through
`!include_try /usr/share/dovecot/protocols.d/*.protocol`. An explicit line
placed right after that include replaces what the files added, so Debian gets
exactly the chosen protocols too (a package installed later cannot silently
open another port). ManageSieve (`sieve`) is added by its own step (steps/sieve.py),
which also gives this step the edit that turns it off again.

The firewall services of a disabled protocol are removed by the firewall step.
"""

from __future__ import annotations

import re

from mailwizard.answers import Answers
from mailwizard.dovecot_conf import edit_dovecot, get_setting, set_setting
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step
from mailwizard.steps.sieve import turned_off

NAMES = ("imap", "pop3", "lmtp")
LABELS = {"imap": "IMAP", "pop3": "POP3", "lmtp": "LMTP"}
PORTS = {"imap": (143, 993), "pop3": (110, 995)}  # LMTP listens on a port only with an inet listener
_PROTOCOLS_D = re.compile(r"^\s*!include_try\s+\S*/protocols\.d/\S*\s*$")
DEBIAN_NOTE = "# Only these protocols, whatever the protocols.d files above enabled (mailwizard)"


def wanted(answers: Answers) -> list[str]:
    return [p for p in NAMES if getattr(answers.protocols, p)]


def dovecot_conf(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/dovecot.conf"


def set_protocols(text: str, value: str) -> str:
    """`protocols = value` at top level: the existing (or commented) line, else after the protocols.d include."""
    if get_setting(text, "protocols") == value:
        return text
    lines = text.splitlines()
    has_line = any(re.match(r"^\s*#?\s*protocols\s*=", line) for line in lines)
    include = next((i for i, line in enumerate(lines) if _PROTOCOLS_D.match(line)), None)
    if has_line or include is None:
        return set_setting(text, "protocols", value)
    lines[include + 1:include + 1] = [DEBIAN_NOTE, f"protocols = {value}"]
    return "\n".join(lines) + "\n"


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled:
        return []
    value = " ".join(wanted(answers))

    def transform(data: bytes) -> bytes:
        return set_protocols(data.decode("utf-8", "surrogateescape"), value).encode("utf-8", "surrogateescape")

    return [edit_dovecot(ctx, dovecot_conf(ctx.profile), transform=transform,
                         summary=f"protocols = {value}", noop_reason=f"protocols = {value} already set"),
            *turned_off(answers, ctx)]


def lmtp_port(answers: Answers) -> int | None:
    return answers.lmtp.port if answers.protocols.lmtp and answers.lmtp.listener == "inet" else None


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled:
        return []
    value = " ".join(wanted(answers) + (["sieve"] if answers.protocols.sieve else []))  # sieve: steps/sieve.py
    result = host.run(["doveconf", "-h", "protocols"])
    got = " ".join(result.output.split())
    checks = [Check("protocols", "doveconf shows the protocols", "pass" if result.ok and got == value else "fail",
                    f"protocols = {got}", "" if got == value else f"set protocols = {value} in "
                    f"{dovecot_conf(profile)}")]
    listening = host.listening()  # as `ss -tlp` shows it: port -> process
    ports: dict[str, tuple[int, ...]] = dict(PORTS)
    if (port := lmtp_port(answers)) is not None:
        ports["lmtp"] = (port,)
    for name, numbers in ports.items():
        held = {n: listening.get(n) for n in numbers}
        evidence = ", ".join(f"{n}: {owner or 'nothing'}" for n, owner in held.items())
        if getattr(answers.protocols, name):
            ok = all(owner and owner.startswith("dovecot") for owner in held.values())
            checks.append(Check("protocols", f"{LABELS[name]}: Dovecot listens on {', '.join(map(str, numbers))}",
                                "pass" if ok else "fail", evidence,
                                "" if ok else "is Dovecot running? see `doveconf -n` and its log"))
        else:
            ok = not any(owner and owner.startswith("dovecot") for owner in held.values())
            checks.append(Check("protocols", f"{LABELS[name]} disabled: Dovecot does not listen on "
                                f"{', '.join(map(str, numbers))}", "pass" if ok else "fail", evidence,
                                "" if ok else f"reload Dovecot: protocols = {value}"))
    return checks


STEP = Step("protocols", "Protocols", "1.1.5, 1.7", plan=plan, verify=verify,
            applies=lambda a: a.dovecot_enabled)
