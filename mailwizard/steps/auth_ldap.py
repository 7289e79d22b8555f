"""LDAP as Dovecot's authentication backend (guide 1.2.4, steps 2-4).

steps/auth.py switches the `!include` lines in 10-auth.conf and calls this
module for backend "ldap":

- step 2: `override_fields = uid=VMAIL gid=VMAIL home=ROOT/%n/` in the userdb
  block of conf.d/auth-ldap.conf.ext;
- step 3: /etc/dovecot/dovecot-ldap.conf.ext, written whole from
  templates/dovecot-ldap.conf.ext.tmpl: a DN template (`auth_bind_userdn`) or
  a dynamic lookup (`dn`, `dnpass`, `pass_filter`), `auth_bind = yes`, `uris`,
  `tls = yes` for STARTTLS, `tls_require_cert`, `base`, `scope`;
- step 4: that file 0600 root:root (created so from the start).

The search account's password (dnpass) comes from `dnpass_file`, read as
root when planning, or from the value typed on the screen; it is never shown
in a diff, a message or a log.

Dovecot 2.3 reads this "args file" with its old settings parser
(src/lib-settings/settings.c, settings_read_i): an unquoted value loses
everything from a `#` on (a comment), a trailing `\\` joins the next line,
`$ENV:name` is replaced by the environment, and surrounding whitespace is
dropped. A value wholly enclosed in double quotes is taken literally after
str_unescape(): a backslash makes the next character literal. A line break
cannot be written at all. `args_value()` applies these rules: a value that
is safe as it is stays as the guide writes it, any other is quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from string import Template

from mailwizard import safe_read
from mailwizard.answers import Answers, LdapAuth, Problem, address_problem, check_path, ip_or_none
from mailwizard.dovecot_conf import edit_dovecot, get_setting
from mailwizard.host import Host
from mailwizard.plan import Change, Check, FileAttrs, PlanContext, WriteFile
from mailwizard.platform import Profile
from mailwizard.steps import not_checkable
from mailwizard.steps.tls import named_file_problem

ARGS_NAME = "dovecot-ldap.conf.ext"
AUTH_CONF = "conf.d/auth-ldap.conf.ext"
SCOPES = ("onelevel", "subtree")
REQUIRE_CERT = ("hard", "demand", "try", "allow", "never")
MAX_SECRET = 1024

# A Dovecot %-variable that names the user: %u %n %d, %Lu, %{user}, %{username | lower}...
USER_VARIABLE = re.compile(r"%-?\d*(?:\.\d+)?[A-Z]*(?:[und]|\{(?:orig_)?(?:user|username|domain)\b[^}]*\})")
_URI = re.compile(r"^(ldaps?)://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?/?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN = re.compile(r"^[^\s#$\\\"'<][^#$\x00-\x1f\x7f]*(?<![\s\\])$")


class Unwritable(ValueError):
    """A value that no quoting can put into a Dovecot args file; the message says why."""


def args_value(value: str) -> str:
    """`value` written so that Dovecot 2.3's args-file parser reads it back exactly.

    Values without `#` or `$`, not starting with a quote, `<` or a backslash,
    not ending with a backslash, and without whitespace at either end are
    written as they are (as in the guide); all others are put in double quotes
    with `\\` and `"` escaped by a backslash. (dovecot.conf's own parser reads
    such values the same way, so `doveconf` can check them.) Control
    characters (a line break above all) cannot be written: Unwritable.
    """
    if _CONTROL.search(value):
        raise Unwritable("contains a line break or another control character, which a Dovecot "
                         "configuration line cannot hold")
    if value and _PLAIN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_args_value(text: str) -> str:
    """How Dovecot 2.3 reads a value written by args_value (for tests and verify)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        out, chars = [], iter(text[1:-1])
        for ch in chars:
            out.append(next(chars, "") if ch == "\\" else ch)
        return "".join(out)
    return text


def read_secret(read: Callable[[str], bytes | None], path: str) -> tuple[str | None, str | None]:
    """(secret, None) from a one-line file, trailing line break stripped, or (None, what is wrong)."""
    try:
        data = read(path)
    except PermissionError:
        return None, f"{path} cannot be read (permission denied): run the wizard as root"
    except safe_read.UnsafeFile as exc:  # a FIFO or a device: refused before it is opened for reading
        return None, f"{path} {exc.strerror}"
    except OSError as exc:
        return None, f"{path} cannot be read: {exc.strerror or exc}"
    if data is None:
        return None, f"{path} does not exist"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{path} is not UTF-8 text"
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    if text == "":
        return None, f"{path} is empty"
    if "\n" in text:
        return None, f"{path} holds more than one line: put only the password in it"
    return text, None


def secret_problem(secret: str) -> str | None:
    """What makes a password impossible to write into a Dovecot args file (never quoting it)."""
    if len(secret) > MAX_SECRET:
        return f"is longer than {MAX_SECRET} characters"
    if _CONTROL.search(secret):
        return ("contains a line break, a tab or another control character, which Dovecot's "
                "configuration files cannot hold: choose a password without them")
    return None


def args_path(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/{ARGS_NAME}"


def auth_conf_path(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/{AUTH_CONF}"


def override_fields(answers: Answers) -> str:
    """The guide's userdb override_fields: the vmail user, and a home under the mail root."""
    from mailwizard.steps.vmail import mail_root

    user = answers.mailbox.user
    return f"uid={user} gid={user} home={mail_root(answers).rstrip('/')}/%n/"


def typed_or_file(typed: str, path: str, read: Callable[[str], bytes | None]) -> tuple[str | None, str | None]:
    """A password typed on the screen, else the one in `path`: (secret, None) or (None, what is wrong)."""
    if typed:
        return typed, None
    if path:
        return read_secret(read, path)
    return None, "no password given"


def dnpass(ldap: LdapAuth, read: Callable[[str], bytes | None]) -> tuple[str | None, str | None]:
    """The search account's password: typed on the screen, else from dnpass_file."""
    return typed_or_file(ldap.dnpass, ldap.dnpass_file, read)


def check_dn(value: str) -> str | None:
    import warnings

    with warnings.catch_warnings():  # ldap3 uses names pyasn1 has deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from ldap3.core.exceptions import LDAPInvalidDnError
        from ldap3.utils.dn import parse_dn

    if not value:
        return "is empty"
    try:
        parse_dn(value)
    except LDAPInvalidDnError as exc:
        return f"{value!r} is not a distinguished name ({exc}): write it like ou=People,dc=example,dc=com"
    return None


def check_filter(value: str) -> str | None:
    if not value:
        return "is empty"
    depth = 0
    for ch in value:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            break
    if not (value.startswith("(") and value.endswith(")")) or depth != 0:
        return f"{value!r} is not an LDAP filter: write it in parentheses, e.g. (&(objectClass=posixAccount)(uid=%n))"
    return None


# --- shared with auth_sql: the secret, the userdb override, the file checks ---

def secret_problems(section: str, typed_key: str, typed: str, file_key: str, path: str, whose: str,
                    example: str, screen: str, ctx: PlanContext) -> list[Problem]:
    """What is wrong with a secret typed on `screen` (`typed`) or kept in the file `path`.

    Never quotes the secret. A missing file is an error on this host, a warning
    when planning for another platform (the file is on the target machine).
    """
    def bad(key: str, message: str, severity: str = "error") -> list[Problem]:
        return [Problem(f"{section}.{key}", message, severity)]

    if not typed and not path:
        return bad(file_key, f"give the file holding the password of {whose} (e.g. {example}, mode 0600), "
                   f"or type the password on the {screen} screen")
    if typed:
        msg = secret_problem(typed)
        return bad(typed_key, f"the password {msg}") if msg else []
    if msg := check_path(path, f"file with the password of {whose}"):
        return bad(file_key, msg)
    secret, error = read_secret(safe_read.bounded(ctx), path)
    if secret is None:
        return bad(file_key, f"{error}: put the password of {whose} in it (one line, mode 0600) or type it "
                   f"on the {screen} screen", "warning" if ctx.offline else "error")
    msg = secret_problem(secret)
    return bad(file_key, f"the password in {path} {msg}") if msg else []


def userdb_override(ctx: PlanContext, conf_path: str, answers: Answers, backend: str) -> Change:
    """Guide 1.2.4 step 2 / 1.3.4 step 3: override_fields in the userdb block of the backend's file."""
    fields = override_fields(answers)
    return edit_dovecot(ctx, conf_path, [(("userdb",), "override_fields", fields)],
                        summary=f"userdb override_fields = {fields}",
                        noop_reason=f"the {backend} userdb already has override_fields = {fields}")


def override_check(host: Host, conf_path: str, answers: Answers, backend: str) -> Check:
    fields = override_fields(answers)
    got = get_setting(host.read_text(conf_path) or "", "override_fields", ("userdb",))
    return Check("auth", f"{backend} userdb override_fields", "pass" if got == fields else "fail",
                 f"override_fields = {got}" if got else "not set",
                 "" if got == fields else f"set override_fields = {fields} in the userdb block of {conf_path}")


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    ldap = answers.auth.ldap
    problems: list[Problem] = []

    def bad(key: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(f"auth.ldap.{key}", message, severity))

    # uris: ldaps://, or ldap:// with STARTTLS (the guide requires an encrypted connection)
    if not ldap.uris:
        bad("uris", "is empty: give the LDAP server, e.g. [\"ldaps://ldap.example.com\"]")
    kinds = set()
    for uri in ldap.uris:
        m = _URI.match(uri)
        if not m:
            bad("uris", f"{uri!r} is not an LDAP URI: write ldaps://HOST[:PORT] or ldap://HOST[:PORT]")
            continue
        host = m.group(2)[1:-1] if m.group(2).startswith("[") else m.group(2)
        if ":" in host and ip_or_none(host) is None:
            bad("uris", f"{uri!r}: {host!r} is not an IPv6 address")
            continue
        if problem := address_problem(host):
            bad("uris", f"{uri!r}: {problem}")
            continue
        kinds.add(m.group(1))
    if kinds == {"ldap", "ldaps"}:
        bad("uris", "mixes ldap:// and ldaps://: Dovecot uses STARTTLS (tls = yes) for all servers "
            "or none; give all of one kind")
    elif kinds == {"ldap"} and not ldap.starttls:
        bad("uris", "ldap:// without STARTTLS sends the users' passwords unencrypted: use ldaps://, "
            "or set starttls = true (the guide requires an encrypted connection)")
    elif kinds == {"ldaps"} and ldap.starttls:
        bad("starttls", "ldaps:// is already encrypted: Dovecot refuses STARTTLS (tls = yes) on an "
            "ldaps:// connection; set starttls = false, or use ldap:// URIs")
    if msg := check_dn(ldap.base):
        bad("base", msg if ldap.base else "is empty: give the DN where users are searched, "
            "e.g. ou=People,dc=example,dc=com")
    if ldap.scope not in SCOPES:
        bad("scope", f"{ldap.scope!r} is not one of onelevel (only directly below base) or subtree")
    if ldap.tls_require_cert not in REQUIRE_CERT:
        bad("tls_require_cert", f"{ldap.tls_require_cert!r} is not one of {', '.join(REQUIRE_CERT)} "
            "(the guide uses hard)")
    elif ldap.tls_require_cert not in ("hard", "demand"):
        bad("tls_require_cert", f"{ldap.tls_require_cert} does not insist on a valid certificate of "
            "the LDAP server: anyone in the path can read the passwords; the guide uses hard", "warning")
    if ldap.tls_ca_cert_file:
        if msg := check_path(ldap.tls_ca_cert_file, "LDAP server's CA certificate"):
            bad("tls_ca_cert_file", msg)
        elif found := named_file_problem(ctx, ldap.tls_ca_cert_file, "CA certificate", "copy the CA certificate "
                                         "there, or leave it empty to trust the system's CA store"):
            bad("tls_ca_cert_file", *found)

    # exactly one of the DN template and the dynamic lookup
    if ldap.bind_userdn and ldap.dn:
        bad("dn", "give either a DN template (bind_userdn) or a search account (dn), not both")
    elif not ldap.bind_userdn and not ldap.dn:
        bad("bind_userdn", "give a DN template such as cn=%n,ou=People,dc=example,dc=com "
            "(all users under one entry), or a search account in dn (users in different trees)")
    elif ldap.bind_userdn:
        if msg := check_dn(ldap.bind_userdn):
            bad("bind_userdn", msg)
        elif not USER_VARIABLE.search(ldap.bind_userdn):
            bad("bind_userdn", f"{ldap.bind_userdn!r} has no user variable: every user would bind "
                "as the same entry; use %n (the user name), e.g. cn=%n,ou=People,dc=example,dc=com")
    else:
        if msg := check_dn(ldap.dn):
            bad("dn", msg)
        if msg := check_filter(ldap.pass_filter):
            bad("pass_filter", msg)
        elif not USER_VARIABLE.search(ldap.pass_filter):
            bad("pass_filter", f"{ldap.pass_filter!r} does not use the user name: add (uid=%n)")
        problems += secret_problems("auth.ldap", "dnpass", ldap.dnpass, "dnpass_file", ldap.dnpass_file,
                                    ldap.dn or "the search account", "/root/dovecot-ldap.pass", "LDAP", ctx)
    # everything else must be writable into the args file
    for key in ("base", "bind_userdn", "dn", "pass_filter", "tls_ca_cert_file"):
        try:
            args_value(getattr(ldap, key))
        except Unwritable as exc:
            bad(key, str(exc))
    return problems


def render(answers: Answers, secret: str | None) -> str:
    """The whole dovecot-ldap.conf.ext; `secret` None writes a placeholder (offline review only)."""
    ldap = answers.auth.ldap
    if ldap.bind_userdn:
        lookup = f"auth_bind_userdn = {args_value(ldap.bind_userdn)}"
    else:
        shown = args_value(secret) if secret is not None else \
            f"(read from {ldap.dnpass_file or 'the screen'} when applied)"
        lookup = "\n".join([f"dn = {args_value(ldap.dn)}", f"dnpass = {shown}",
                            f"pass_filter = {args_value(ldap.pass_filter)}"])
    starttls = ldap.starttls and all(u.startswith("ldap://") for u in ldap.uris)
    values = {
        "lookup": lookup,
        "uris": args_value(" ".join(ldap.uris)),
        "tls": "tls = yes" if starttls else "",
        "tls_require_cert": args_value(ldap.tls_require_cert),
        "tls_ca_cert_file": f"tls_ca_cert_file = {args_value(ldap.tls_ca_cert_file)}"
        if ldap.tls_ca_cert_file else "",
        "base": args_value(ldap.base),
        "scope": args_value(ldap.scope),
    }
    return fill_template("dovecot-ldap.conf.ext.tmpl", values)


def fill_template(name: str, values: dict[str, str]) -> str:
    """A template from templates/, with lines whose only placeholder is empty left out."""
    text = (resources.files("mailwizard") / "templates" / name).read_text()
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("$") and stripped[1:] in values and values[stripped[1:]] == "":
            continue
        out.append(Template(line).substitute(values))
    return "\n".join(out) + "\n"


def _usable(answers: Answers, ctx: PlanContext) -> bool:
    return not any(p.severity == "error" for p in validate(answers, ctx))


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    profile, ldap = ctx.profile, answers.auth.ldap
    changes: list[Change] = []
    changes.append(userdb_override(ctx, auth_conf_path(profile), answers, "LDAP"))
    if not _usable(answers, ctx):
        return changes  # the problems are shown; nothing is written from answers that cannot work
    secret = None
    if ldap.lookup:
        secret, _error = dnpass(ldap, ctx.read)
        if secret is None and not ctx.offline:
            return changes
    path = args_path(profile)
    content = render(answers, secret).encode()
    kind = "DN template" if ldap.bind_userdn else f"lookup as {ldap.dn}"
    changes.append(WriteFile(
        path, content, mode=0o600, owner="root", group="root", secret=secret is not None,
        service="dovecot", summary=f"LDAP {kind}, {' '.join(ldap.uris)}, base {ldap.base}",
        noop_reason=f"{path} already holds these LDAP settings",
        transform=lambda _installed: content))
    changes.append(FileAttrs(path, 0o600, "root", "root", service="dovecot"))
    return changes


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    from mailwizard import backends

    ldap = answers.auth.ldap
    checks = [override_check(host, auth_conf_path(profile), answers, "LDAP")]
    if not host.can_probe_network:
        return checks + [not_checkable("auth", "LDAP server answers")]
    secret = None
    if ldap.lookup:
        secret, error = dnpass(ldap, host.read)
        if secret is None:
            checks.append(Check("auth", "LDAP server answers", "fail", error or "",
                                "give the search account's password"))
            return checks
    result = backends.test_ldap(ldap, secret)
    checks.append(Check("auth", "LDAP server answers", "pass" if result.ok else "fail",
                        "; ".join(result.lines)[-600:],
                        "" if result.ok else "check the URIs, the CA certificate and the account"))
    return checks
