"""Dovecot SASL over TCP for a Postfix on another host (guide 2.9.3 step 1b).

With `[auth] sasl_listener = "inet"`, `service auth { inet_listener {
port = N } }` in conf.d/10-master.conf (the guide's unnamed listener; its
example port is 12345). Postfix there names it `smtpd_sasl_path =
inet:THIS-HOST:N` (steps/postfix_submission.py, `[postfix] sasl_host`).
The socket for a Postfix on this host (private/auth) is the submission
step's and stays as it is.

The auth protocol carries the users' passwords in clear and Dovecot has no
address list for it, so on firewalld hosts only `sasl_allow_from` may reach
the port: one rich rule per source and a reload, as for LMTP's TCP listener
(steps/lmtp.py's admit_* helpers). On SELinux hosts the guide lets Dovecot
open such a port with `setsebool -P nis_enabled on` (1.4 step 3, for the
replication port). Going back to "unix" sets the listener's `port = 0`
(Dovecot then opens none); rules and the boolean are left for rollback.
Called by steps/auth.py.
"""

from __future__ import annotations

from mailwizard.answers import Answers, Problem
from mailwizard.dovecot_conf import doveconf_n, edit_dovecot, get_setting
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps.lmtp import admit_changes, admit_checks, admit_problems, master_conf
from mailwizard.steps.selinux import boolean_state, set_boolean

SECTION = ("service auth", "inet_listener")
BOOLEAN = "nis_enabled"


def tcp(answers: Answers) -> bool:
    return answers.dovecot_enabled and answers.auth.sasl_listener == "inet"


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    """Host-dependent warnings; the keys' syntax is checked by answers.validate_sasl_listener."""
    if not tcp(answers):
        return []
    auth = answers.auth
    return admit_problems(answers, ctx, "auth.sasl_allow_from", auth.sasl_port, auth.sasl_allow_from,
                          "Dovecot SASL", "checks passwords, sent in clear,", "the Postfix host")


def _boolean_on(ctx: PlanContext) -> bool:
    return ctx.fact(f"getsebool {BOOLEAN}", lambda: boolean_state(ctx.host, BOOLEAN))[0]


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled:
        return []
    auth, profile = answers.auth, ctx.profile
    conf = master_conf(profile)
    if not tcp(answers):
        if get_setting(ctx.read_text(conf) or "", "port", SECTION) in (None, "", "0"):
            return []
        return [edit_dovecot(ctx, conf, [(SECTION, "port", "0")],
                             summary="service auth: no TCP listener (port = 0)",
                             noop_reason="Dovecot's auth service has no TCP listener")]
    changes: list[Change] = [edit_dovecot(
        ctx, conf, [(SECTION, "port", str(auth.sasl_port))],
        summary=f"service auth {{ inet_listener {{ port = {auth.sasl_port} }} }}: Dovecot checks the logins "
                "of a Postfix on another host (2.9.3)",
        noop_reason=f"Dovecot's auth service already listens on TCP {auth.sasl_port}")]
    if profile.selinux:
        on = _boolean_on(ctx)
        changes.append(set_boolean(ctx, BOOLEAN, f"SELinux: let Dovecot listen on TCP {auth.sasl_port} ({BOOLEAN})",
                                   f"{BOOLEAN} is already on" if on else None))
    return changes + admit_changes(answers, ctx, auth.sasl_allow_from, auth.sasl_port, "Dovecot SASL")


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not tcp(answers):
        return []
    auth = answers.auth
    ok, text = doveconf_n(host)
    port = get_setting(text, "port", SECTION) if ok else None
    owner = host.listening().get(auth.sasl_port)
    # Dovecot's master opens the port and hands it to its auth process, which may be the one seen holding it
    good = port == str(auth.sasl_port) and owner is not None and (owner.startswith("dovecot") or owner == "auth")
    checks = [Check("auth", f"Dovecot SASL listens on TCP {auth.sasl_port}", "pass" if good else "fail",
                    f"held by {owner}" if owner else "nothing listens",
                    "" if good else f"service auth {{ inet_listener {{ port = {auth.sasl_port} }} }} in "
                    f"{master_conf(profile)}; reload Dovecot")]
    return checks + admit_checks(answers, host, profile, "auth", auth.sasl_allow_from, auth.sasl_port)
