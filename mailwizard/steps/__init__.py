"""The wizard's steps, in order. Each is plain Python over a Host: no Textual here.

A step validates the answers against the host, plans Changes, and verifies
the running result. The TUI, --unattended and the tests all use these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailwizard.answers import Answers, Problem
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile


def _always(answers: Answers) -> bool:
    return True


def _nothing(*args) -> list:
    return []


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    guide: str  # the guide's section numbers
    plan: Callable[[Answers, PlanContext], Sequence[Change]] = _nothing
    verify: Callable[[Answers, Host, Profile], list[Check]] = _nothing
    validate: Callable[[Answers, PlanContext], list[Problem]] = _nothing
    applies: Callable[[Answers], bool] = _always


NOT_CHECKABLE = "not checked: a simulated host"


def not_checkable(step: str, name: str) -> Check:
    """The check `name`, which this host cannot run (`Host.can_probe_network` is False): WARN, saying so."""
    return Check(step, name, "warn", NOT_CHECKABLE)


def all_steps() -> list[Step]:
    from mailwizard.steps import (
        acme,
        auth,
        dkim,
        dns,
        files,
        firewall,
        install,
        live,
        lmtp,
        mailboxes,
        postfix_aliases,
        postfix_delivery,
        postfix_relay,
        postfix_security,
        postfix_site,
        postfix_submission,
        postfix_tls,
        preflight,
        protocols,
        replication,
        selinux,
        services,
        sieve,
        tls,
        vmail,
    )

    return [preflight.STEP, install.STEP, acme.STEP, tls.STEP, vmail.STEP, auth.STEP, protocols.STEP,
            mailboxes.STEP, lmtp.STEP, sieve.STEP, replication.STEP, firewall.STEP,
            # Postfix (guide chapter 2)
            postfix_site.STEP, postfix_tls.STEP, postfix_aliases.STEP, postfix_delivery.STEP,
            postfix_submission.STEP, postfix_security.LIMITS, postfix_security.HARDENING,
            # beyond the guide: an authenticated smarthost, DKIM signing
            postfix_relay.STEP, dkim.STEP,
            services.STEP, files.STEP, selinux.STEP, live.STEP, dns.STEP]
