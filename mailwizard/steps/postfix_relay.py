"""An authenticated smarthost (beyond the guide): Postfix logs in at its relay host.

When outbound port 25 is blocked, or a provider's relay must carry the mail,
Postfix hands every message to `[postfix] relayhost` (set by the site step)
and logs in there with `relay_user` and a password that is typed (kept in
memory only) or read from `relay_password_file`:

- `/etc/postfix/sasl_passwd`, 0600 root:root from the start, one line
  `[relay.example.net]:587 USER:PASSWORD` (the key is relayhost exactly as
  main.cf has it), then `postmap TYPE:/etc/postfix/sasl_passwd` with this
  Postfix's map type (never `hash:` by assumption; lmdb on RHEL 10). The
  review shows neither file's content; the journal keeps no copy of either.
- `smtp_sasl_auth_enable = yes`, `smtp_sasl_password_maps = TYPE:/etc/postfix/sasl_passwd`,
  `smtp_sasl_security_options = noanonymous`; `smtp_tls_security_level =
  encrypt` (set by the Postfix TLS step) so the password never crosses the
  network in clear.

Turned off again (no relay_user), a re-run takes the wizard's login out: the
three settings as main.cf had them before the wizard (removed with `postconf
-X`, where it had none), the map and its indexed copy removed (also by a re-run
after a run stopped between the two: the journal knows the map is the wizard's).

Verify: postconf shows the settings, the map and its indexed copy are 0600
root-owned, `postmap -q` finds the relay host's entry (its value is never
shown), and the relay host answers, offers STARTTLS and, after it, AUTH (no
login is tried: the report never handles the password).
"""

from __future__ import annotations

import smtplib
import ssl

from mailwizard import safe_read
from mailwizard.answers import Answers, Problem, relayhost_value
from mailwizard.host import Host, readable_text
from mailwizard.plan import Change, Check, PlanContext, RemoveFile, WriteFile
from mailwizard.platform import Profile
from mailwizard.postfix_conf import (
    Postconf,
    Postmap,
    database_type,
    live_values,
    map_suffix,
    settings_as_before,
    settings_check,
)
from mailwizard.steps import Step, not_checkable
from mailwizard.steps.auth_ldap import read_secret, secret_problems

NAME = "sasl_passwd"
KEYS = ("smtp_sasl_auth_enable", "smtp_sasl_password_maps", "smtp_sasl_security_options")


def map_path(profile: Profile) -> str:
    return f"{profile.postfix_dir}/{NAME}"


def applies(answers: Answers) -> bool:
    """Always: off, the step takes out a login it set before (and plans nothing on a host without one)."""
    return True


def ours(ctx: PlanContext) -> str | None:
    """The map type when main.cf holds the wizard's login settings (its sasl_passwd), else None."""
    from mailwizard.postfix_conf import main_now

    return ours_in(main_now(ctx), ctx.profile)


def ours_in(values: dict[str, str], profile: Profile) -> str | None:
    """The map type when these main.cf values log in with the wizard's sasl_passwd, else None."""
    kind, _, path = values.get("smtp_sasl_password_maps", "").partition(":")
    return kind if path == map_path(profile) else None


def undo(ctx: PlanContext) -> list[Change]:
    """The login taken out again: the settings (as main.cf had them before the wizard, or removed), then the
    map and its indexed copy, also when a run stopped after the settings went (the journal has the map)."""
    map_type = ours(ctx)
    path = map_path(ctx.profile)
    changes: list[Change] = []
    if map_type is not None:
        changes.append(settings_as_before(ctx, list(KEYS), "main.cf: no relay host login any more "
                                          f"(postfix.relay_user is empty); {', '.join(KEYS)}",
                                          lambda before: ours_in(before, ctx.profile) is not None))
    indexed = path + map_suffix(map_type or database_type(ctx))
    for file, why in ((path, "no relay host login any more"), (indexed, "its indexed copy")):
        if map_type is not None or (file in ctx.own_files and ctx.exists(file)):
            changes.append(RemoveFile(file, why, secret=True, service="postfix"))
    return changes


def settings(answers: Answers, map_type: str, profile: Profile) -> list[tuple[str, str]]:
    return list(zip(KEYS, ("yes", f"{map_type}:{map_path(profile)}", "noanonymous")))


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    p = answers.postfix
    if not p.relay_login:
        return []
    problems = secret_problems("postfix", "relay_password", p.relay_password, "relay_password_file",
                               p.relay_password_file, f"{p.relay_user} at {p.relayhost}", "/root/relay.pass",
                               "Outbound", ctx)
    if p.relay_password_file and not p.relay_password and not problems and not ctx.offline:
        meta = ctx.stat(p.relay_password_file)
        secret = _password(answers, ctx) or ""
        if meta is not None and meta.mode & 0o077:
            problems.append(Problem("postfix.relay_password_file",
                                    f"{p.relay_password_file} can be read by others (mode {meta.mode:04o}): "
                                    f"chmod 600 {p.relay_password_file}"))
        elif secret != secret.strip():  # never quoting it
            problems.append(Problem("postfix.relay_password_file", f"the password in {p.relay_password_file} "
                                    "starts or ends with a blank, which Postfix's map would drop"))
    return problems


def _password(answers: Answers, ctx: PlanContext) -> str | None:
    p = answers.postfix
    if p.relay_password:
        return p.relay_password
    secret, _error = read_secret(safe_read.bounded(ctx), p.relay_password_file)
    return secret


def map_line(answers: Answers, password: str) -> bytes:
    p = answers.postfix
    return f"{relayhost_value(p.relayhost)} {p.relay_user}:{password}\n".encode()


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    p, profile = answers.postfix, ctx.profile
    if not p.relay_login:
        return undo(ctx)
    map_type = database_type(ctx)
    password = _password(answers, ctx)
    # planning for another platform, the file is on the target: the review says so, nothing is applied
    content = map_line(answers, password if password is not None else f"(the password in {p.relay_password_file})")
    relay = relayhost_value(p.relayhost)
    source = "typed on the Outbound screen" if p.relay_password else f"read from {p.relay_password_file}"
    return [
        WriteFile(map_path(profile), content, 0o600, secret=True, service="postfix",
                  summary=f"the login at {relay}: {p.relay_user} and the password ({source})"),
        Postmap(map_path(profile), map_type, secret=True,
                summary=f"build {map_path(profile)}{map_suffix(map_type)} ({map_type}), 0600 like its source"),
        Postconf(settings(answers, map_type, profile),
                 summary=f"main.cf: log in at {relay} (smtp_sasl_auth_enable, smtp_sasl_password_maps, "
                         "noanonymous); the Postfix TLS step makes outbound TLS mandatory"),
    ]


def _owner_only(host: Host, path: str) -> tuple[bool, str]:
    meta = host.stat(path)
    if meta is None:
        return False, f"{path} is missing"
    ok = meta.uid == 0 and not meta.mode & 0o077
    return ok, f"{path} {meta.mode:04o} uid {meta.uid}"


def relay_address(relayhost: str) -> tuple[str, int]:
    """(host, port) Postfix connects to for `relayhost` ([host]:port, host:port or host; port 25 by default)."""
    value = relayhost_value(relayhost)
    name, _, port = value[1:].partition("]")
    name = name[5:] if name.lower().startswith("ipv6:") else name
    return name, int(port[1:]) if port.startswith(":") and port[1:].isdigit() else 25


def offers_auth(relayhost: str, timeout: float = 10.0) -> tuple[bool, str]:
    """Whether the relay host speaks SMTP, offers STARTTLS and then AUTH; what it said. No login is tried."""
    name, port = relay_address(relayhost)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # as smtp_tls_security_level = encrypt
    try:
        with smtplib.SMTP(name, port, timeout=timeout) as smtp:
            smtp.ehlo("mailwizard.verify")
            if not smtp.has_extn("starttls"):
                return False, f"{name}:{port} offers no STARTTLS: Postfix (encrypt) would not send the password"
            smtp.starttls(context=context)
            smtp.ehlo("mailwizard.verify")
            mechanisms = smtp.esmtp_features.get("auth", "").strip()
            if not mechanisms:
                return False, f"{name}:{port} offers no AUTH after STARTTLS"
            return True, f"STARTTLS, then AUTH {mechanisms}"
    except (OSError, smtplib.SMTPException) as exc:
        return False, f"cannot talk to {name}:{port}: {type(exc).__name__}: {exc}"


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    p = answers.postfix
    if not p.relay_login:
        return []
    _, values, _ = live_values(host, ["smtp_sasl_password_maps"])
    table = values.get("smtp_sasl_password_maps", "")
    map_type = table.partition(":")[0] if ":" in table else profile.map_type
    checks = [settings_check(host, "postfix_relay", f"postconf: log in at {p.relayhost}",
                             settings(answers, map_type, profile) + [("smtp_tls_security_level", "encrypt")])]
    path = map_path(profile)
    for shown in (path, path + map_suffix(map_type)):
        ok, evidence = _owner_only(host, shown)
        checks.append(Check("postfix_relay", f"{shown} readable by root only", "pass" if ok else "fail", evidence,
                            "" if ok else f"chown root:root {shown}; chmod 600 {shown}"))
    looked = host.run(["postmap", "-q", relayhost_value(p.relayhost), f"{map_type}:{path}"])
    user = looked.output.strip().partition(":")[0] if looked.ok else ""
    found = looked.ok and user == p.relay_user
    checks.append(Check("postfix_relay", f"the map holds the login for {relayhost_value(p.relayhost)}",
                        "pass" if found else "fail",
                        f"user {p.relay_user} (password not shown)" if found else
                        ("another user" if looked.ok else "no entry"),
                        "" if found else f"run mailwizard again, or postmap {map_type}:{path}"))
    title = f"relay host {relayhost_value(p.relayhost)} offers AUTH after STARTTLS"
    if not host.can_probe_network:
        checks.append(not_checkable("postfix_relay", title))
    else:
        ok, said = offers_auth(p.relayhost)
        checks.append(Check("postfix_relay", title, "pass" if ok else "fail", said,
                            "" if ok else "check the relay host's name and port, and that this host may reach it "
                                          "(outbound 587 open)"))
    return checks


STEP = Step("postfix_relay", "Authenticated smarthost", "beyond the guide", plan=plan, verify=verify,
            validate=validate, applies=applies)


def read_back(host: Host, values: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """The relay login of a configured host (existing.py): its user from the relay host's line of the password
    map, never its password (a note says where it is); with the notes."""
    relay = values.get("relayhost", "")
    table = values.get("smtp_sasl_password_maps", "").partition(":")[2]
    if values.get("smtp_sasl_auth_enable") != "yes" or not relay or not table.startswith("/"):
        return {}, []
    for line in (readable_text(host, table) or "").splitlines():
        key, _, login = line.strip().partition(" ")
        if key == relay and not line.startswith("#"):
            return {"postfix.relay_user": login.strip().partition(":")[0]}, [
                f"postfix.relay_password: the relay host's password is in {table}; type it on the Outbound "
                "screen (or give relay_password_file)"]
    return {}, []
