"""Authentication (guide 1.1.4 PAM, 1.2.4 LDAP, 1.3.4 MariaDB): one step for every backend.

What all backends share is planned here: `auth_mechanisms` and the switch of
the backend includes in conf.d/10-auth.conf (the chosen `auth-*.conf.ext`
uncommented, the other two commented out, exactly as the guide's step 1/2 do
it). PAM's own settings are planned here too: `first_valid_uid` /
`last_valid_uid` in 10-mail.conf, `override_fields` in the `userdb {}` of
auth-system.conf.ext, and `auth_username_format = %Ln` inside
`protocol lmtp {}` for every backend, because Postfix hands LMTP the full
address and the guide's users (system accounts, the LDAP uid, the SQL
username, mailboxes at /var/mail/%n) have no domain. LDAP and SQL are
planned by steps/auth_ldap.py and steps/auth_sql.py, called from here; their
files come before the include switch, so the backend is complete when
10-auth.conf names it. Dovecot SASL over TCP for a Postfix on another host
is steps/auth_sasl.py, also called from here.
"""

from __future__ import annotations

import re

from mailwizard import safe_read
from mailwizard.answers import Answers, Problem, check_path
from mailwizard.dovecot_conf import Setting, comment_out_include, edit_dovecot, enable_include
from mailwizard.host import Host
from mailwizard.plan import Change, Check, PlanContext
from mailwizard.platform import Profile
from mailwizard.steps import Step, auth_ldap, auth_sasl, auth_sql
from mailwizard.steps.vmail import mail_conf, mail_root

INCLUDES = {"pam": "auth-system.conf.ext", "ldap": "auth-ldap.conf.ext", "sql": "auth-sql.conf.ext"}
BACKENDS = {"ldap": auth_ldap, "sql": auth_sql}
# Dovecot 2.3's mechanisms; PAM checks a plaintext password, so it works with plain and login only
MECHANISMS = {"plain", "login", "cram-md5", "digest-md5", "scram-sha-1", "scram-sha-256", "external",
              "gssapi", "gss-spnego", "ntlm", "otp", "anonymous", "oauthbearer", "xoauth2", "apop"}
PLAINTEXT = {"plain", "login"}
_MECH = re.compile(r"^[a-z0-9-]+$")


def conf(profile: Profile, name: str) -> str:
    return f"{profile.dovecot_dir}/conf.d/{name}"


def override_fields(answers: Answers) -> str:
    user = answers.mailbox.user
    return f"uid={user} gid={user} home={mail_root(answers)}/%n/"


def mechanisms(answers: Answers) -> str:
    return " ".join(m.lower() for m in answers.auth.mechanisms)


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    auth = answers.auth
    problems: list[Problem] = []
    mechs = [m.lower() for m in auth.mechanisms]
    if not mechs:
        problems.append(Problem("auth.mechanisms", "is empty: give at least one, e.g. [\"plain\", \"login\"]"))
    for m in mechs:
        if not _MECH.match(m) or m not in MECHANISMS:
            problems.append(Problem("auth.mechanisms", f"{m!r} is not a Dovecot authentication mechanism; "
                                    "the guide's clients use plain (and login for old Outlook)"))
        elif auth.backend == "pam" and m not in PLAINTEXT:
            problems.append(Problem("auth.mechanisms", f"{m} needs the password stored in a form PAM does not "
                                    "give Dovecot: with PAM use plain and login"))
    if auth.backend == "pam":
        if auth.first_valid_uid < 1:
            problems.append(Problem("auth.first_valid_uid", "must be 1 or more: 0 would let root log in to mail"))
        if auth.last_valid_uid and auth.last_valid_uid < auth.first_valid_uid:
            problems.append(Problem("auth.last_valid_uid", f"{auth.last_valid_uid} is below first_valid_uid "
                                    f"{auth.first_valid_uid}: nobody could log in"))
        uid = ctx.host.uid(answers.mailbox.user)
        last = auth.last_valid_uid or None
        if uid is not None and (uid < auth.first_valid_uid or (last is not None and uid > last)):
            problems.append(Problem("auth.first_valid_uid", f"the mail user {answers.mailbox.user} has uid {uid}, "
                                    f"outside {auth.first_valid_uid}..{last or 'any'}: Dovecot would refuse "
                                    "every mailbox; widen the range"))
    if auth.test_password_file:
        if msg := check_path(auth.test_password_file, "file with the test account's password", "/root/alice.pass"):
            problems.append(Problem("auth.test_password_file", msg))
        else:
            data, error = safe_read.read_for(ctx, auth.test_password_file)
            if error:
                problems.append(Problem("auth.test_password_file", f"{error}: give the password file itself"))
            elif data is None and not ctx.offline:  # a dangling symbolic link too
                problems.append(Problem("auth.test_password_file", f"{auth.test_password_file} does not exist: "
                                        "the report cannot log in as the test user until it does", "warning"))
    backend = BACKENDS.get(auth.backend)
    if backend is not None:
        problems += backend.validate(answers, ctx)
    return problems + auth_sasl.validate(answers, ctx)


def _switch_includes(backend: str):
    def transform(data: bytes) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        for name, include in INCLUDES.items():
            text = enable_include(text, include) if name == backend else comment_out_include(text, include)
        return text.encode("utf-8", "surrogateescape")
    return transform


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled:
        return []
    auth, profile = answers.auth, ctx.profile
    changes: list[Change] = []
    if auth.backend == "pam":
        uids: list[Setting] = [((), "first_valid_uid", str(auth.first_valid_uid))]
        if auth.last_valid_uid is not None:
            uids.append(((), "last_valid_uid", str(auth.last_valid_uid)))
        names = " and ".join(k for _, k, _ in uids)
        changes.append(edit_dovecot(ctx, mail_conf(profile), uids,
                                    summary="set " + ", ".join(f"{k} = {v}" for _, k, v in uids),
                                    noop_reason=f"{names} already set"))
        fields = override_fields(answers)
        changes.append(edit_dovecot(ctx, conf(profile, INCLUDES["pam"]), [(("userdb",), "override_fields", fields)],
                                    summary=f"userdb {{ override_fields = {fields} }}",
                                    noop_reason="the passwd userdb already overrides uid, gid and home"))
    else:
        changes += BACKENDS[auth.backend].plan(answers, ctx)
    include = INCLUDES[auth.backend]
    changes.append(edit_dovecot(ctx, conf(profile, "10-auth.conf"), [((), "auth_mechanisms", mechanisms(answers))],
                                transform=_switch_includes(auth.backend),
                                summary=f"auth_mechanisms = {mechanisms(answers)}; include only {include}",
                                noop_reason=f"{include} is the only backend included, "
                                            f"auth_mechanisms = {mechanisms(answers)}"))
    if answers.protocols.lmtp:
        changes.append(edit_dovecot(ctx, conf(profile, "20-lmtp.conf"),
                                    [(("protocol lmtp",), "auth_username_format", "%Ln")],
                                    summary="protocol lmtp { auth_username_format = %Ln }: Postfix hands LMTP "
                                            "user@domain, users log in (and are looked up) without the domain",
                                    noop_reason="LMTP already looks users up without the domain"))
    return changes + auth_sasl.plan(answers, ctx)


def _doveconf(host: Host, *keys: str) -> tuple[bool, list[str]]:
    result = host.run(["doveconf", "-h", *keys])
    return result.ok, result.output.splitlines()


def user_listing(answers: Answers, host: Host) -> Check:
    """`doveadm user '*'`: the userdb can list its users (replication needs this later)."""
    result = host.run(["doveadm", "user", "*"], timeout=60)
    users = [line.strip() for line in result.output.splitlines() if line.strip()]
    if result.ok and users:
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        return Check("auth", "doveadm user '*' lists users", "pass", f"{len(users)}: {shown}")
    evidence = result.output.strip()[-300:] or "no users listed"
    return Check("auth", "doveadm user '*' lists users", "warn", evidence,
                 "the userdb lists no users: logins still work, but replication needs a userdb "
                 "that can be iterated" if answers.auth.backend == "pam" else
                 "check the backend's iterate settings")


def auth_test(host: Host, user: str, password: str) -> Check:
    """`doveadm auth test USER`, the password on its standard input: never on a command line, never shown.

    Without a terminal doveadm reads the password from standard input; `setsid` takes the
    terminal away even when the wizard runs in one (doveadm would prompt there).
    """
    result = host.run(["setsid", "--wait", "doveadm", "auth", "test", user], input=password + "\n", timeout=60)
    lines = [line for line in result.output.splitlines() if password not in line]
    evidence = "\n".join(lines).strip()[-300:]
    if result.ok and "auth succeeded" in result.output:
        return Check("auth", f"doveadm auth test {user}", "pass", evidence)
    return Check("auth", f"doveadm auth test {user}", "fail", evidence or f"exit {result.returncode}",
                 "check the user's password and the backend settings")


def given_test_login(answers: Answers, host: Host) -> tuple[str, str] | None:
    """The test account the administrator gave: [auth] test_user with the password typed on the Report
    screen (kept in memory only), else the one in test_password_file (read on the host); None without."""
    auth = answers.auth
    if not auth.test_user:
        return None
    if auth.test_password:
        return auth.test_user, auth.test_password
    if not auth.test_password_file:
        return None
    data, _error = safe_read.read_for(host, auth.test_password_file)  # a FIFO or a device is never read
    if data is None:
        return None
    return auth.test_user, data.decode("utf-8", "replace").rstrip("\n")


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled:
        return []
    auth = answers.auth
    checks: list[Check] = []
    want = {"auth_mechanisms": mechanisms(answers)}
    if auth.backend == "pam":
        want["first_valid_uid"] = str(auth.first_valid_uid)
        if auth.last_valid_uid is not None:
            want["last_valid_uid"] = str(auth.last_valid_uid)
    ok, got = _doveconf(host, *want)
    good = ok and got == list(want.values())
    checks.append(Check("auth", "doveconf shows the authentication settings", "pass" if good else "fail",
                        ", ".join(f"{k} = {v}" for k, v in zip(want, got)) if ok else " ".join(got)[-300:],
                        "" if good else "want " + ", ".join(f"{k} = {v}" for k, v in want.items())))
    result = host.run(["doveconf", "-n", "passdb", "userdb"])
    drivers = re.findall(r"^\s*driver = (\S+)", result.output, re.M)
    expected = {"pam": "pam", "ldap": "ldap", "sql": "sql"}[auth.backend]
    good = result.ok and expected in drivers
    checks.append(Check("auth", f"the {auth.backend} backend is configured", "pass" if good else "fail",
                        "drivers: " + ", ".join(drivers) if drivers else result.output.strip()[-300:],
                        "" if good else f"!include {INCLUDES[auth.backend]} in {conf(profile, '10-auth.conf')}"))
    backend = BACKENDS.get(auth.backend)
    if backend is not None:
        checks += backend.verify(answers, host, profile)
    checks += auth_sasl.verify(answers, host, profile)
    checks.append(user_listing(answers, host))
    creds = given_test_login(answers, host)
    if creds is not None:
        checks.append(auth_test(host, *creds))
    return checks


STEP = Step("auth", "Authentication", "1.1.4, 1.2.4, 1.3.4", plan=plan, verify=verify, validate=validate,
            applies=lambda a: a.dovecot_enabled)
