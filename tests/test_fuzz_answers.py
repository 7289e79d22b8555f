"""Issue 7: hostile and broken answers, fed to every key of every answers section (hypothesis).

Keys are enumerated from the dataclasses of mailwizard/answers.py, so a new key
is fuzzed without editing this file, and a test proves the enumeration is
complete (every key is read by answers.parse at the place enumerated).

Two properties per key, on answers files written by a real TOML writer:

- validation (many examples): answers.parse and Session.problems() never raise;
  an error names the fuzzed key;
- rendering (fewer examples, real binaries): when the answers are accepted, the
  plan's commands are argv lists without line breaks and no `sh -c`; the files
  it renders pass Debian's real `doveconf -n` and `postconf -n`/`postconf -M`;
  the rendered configuration has exactly the settings and blocks the reference
  answers give (nothing injected, nothing lost), and the value typed is found,
  as typed, in a setting's value.

A last test feeds garbage bytes and invalid TOML to answers.parse/load.

Issue 13 adds a matrix, the same cases on every run (the end of this file): every path key against
paths with extra slashes and dots, relative paths, symbolic links (to /etc, /var/lib, mailwizard's own
directory, dangling), FIFOs, character devices, directories and a 2 MiB file; the names used as TOML
keys (mailboxes, aliases, unknown keys in every table); every address or network key against IPv6
forms (zone indexes, IPv4-mapped, brackets, bad prefixes) and addresses that name no host; every
numeric key against its daemons' range, floats, booleans and strings; and the answers file itself.
Each case: no exception, no hang, nothing changed on the host, refused at the key where its kind must
refuse it, else accepted and rendered as the real tools read it.
Example counts per key are printed at the end of the module's run (and kept in
pytest's cache under mailwizard/fuzz_answers_counts). The examples are
derandomized: every run, and CI, tries the same values.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import functools
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings, strategies as st

from mailwizard import answers as A
from mailwizard.engine import Session
from mailwizard.plan import WriteFile
from mailwizard.platform import profile_for
from mailwizard.postfix_conf import _PostfixEdit
from mailwizard.simulated import FakeHost
from support import ANSWERS_DIR, aged, cached_cert

# examples per key: free text (strings, lists) gets the most; yes/no and numbers are typed, so fewer
# suffice. The first RENDERED accepted examples of a text key are also rendered and read by the real tools.
# MAILWIZARD_FUZZ_SCALE multiplies both: the suite's default, 0.25 (50 examples per text key, 2 rendered),
# keeps this file near five minutes on two cores; 1 or 5 for a long hunt.
_SCALE = float(os.environ.get("MAILWIZARD_FUZZ_SCALE", "0.25"))
EXAMPLES = {"text": max(1, int(200 * _SCALE)), "typed": max(1, int(30 * _SCALE))}
RENDERED = {"text": max(1, int(8 * _SCALE)), "typed": 0}
HAVE_TOOLS = all(shutil.which(t) for t in ("doveconf", "postconf"))

# --- the keys -----------------------------------------------------------------------------------

# Answers fields that are not [section] dataclasses: where each lives in the file.
TOP_LEVEL = {"dovecot_enabled": ("dovecot", "enabled"), "firewall_manage": ("firewall", "manage")}
NOT_KEYS = {"raw", "normalised"}  # the file itself; the path answers as written before normalisation
MAILBOX = "Sent"  # the mailbox of the reference answers whose entry is fuzzed
ALIAS = "info@example.com"


@functools.cache
def answer_keys() -> dict[str, tuple[tuple[str, ...], object]]:
    """Every answers key: dotted name -> (its path in the TOML file, its default value)."""
    keys: dict[str, tuple[tuple[str, ...], object]] = {}

    def walk(obj, path: tuple[str, ...]) -> None:
        for f in fields(obj):
            value = getattr(obj, f.name)
            if is_dataclass(value):
                walk(value, (*path, f.name))
            elif path == ("postfix",) and f.name == "limits":
                for limit, default in A.LIMIT_DEFAULTS.items():
                    keys[f"postfix.limits.{limit}"] = (("postfix", "limits", limit), default)
            elif path == ("postfix",) and f.name == "virtual_aliases":
                keys["postfix.virtual_aliases"] = (("postfix", "virtual_aliases", ALIAS), "")
                keys["postfix.virtual_aliases.<alias>"] = (("postfix", "virtual_aliases", "<key>"), "")
            else:
                keys[".".join((*path, f.name))] = ((*path, f.name), value)

    answers = A.Answers()
    for f in fields(answers):
        value = getattr(answers, f.name)
        if is_dataclass(value):
            walk(value, (f.name,))
        elif f.name == "mailboxes":
            for box_field in fields(A.MailboxDef):
                if box_field.name == "name":
                    keys["mailboxes.<name>"] = (("mailboxes", "<key>"), "")
                else:
                    keys[f"mailboxes.{box_field.name}"] = (("mailboxes", MAILBOX, box_field.name),
                                                           box_field.default)
        elif f.name in TOP_LEVEL:
            keys[".".join(TOP_LEVEL[f.name])] = (TOP_LEVEL[f.name], value)
        else:
            assert f.name in NOT_KEYS, f"Answers.{f.name} is neither a section nor a known key: add it here"
    return keys


KEYS = sorted(answer_keys())

# The reference answers each key is fuzzed in (where the key is in use), and edits that put it in use.
SASL_TCP = {"auth": {"sasl_listener": "inet", "sasl_port": 12346, "sasl_allow_from": ["192.0.2.0/24"]}}
BASES: list[tuple[str, str, dict]] = [  # (key prefix, answers file, edits); the first match wins
    ("auth.ldap.bind_userdn", "ldap.toml", {}),
    ("tls.acme", "full.toml", {"tls": dict(zip(("cert", "key"), A.acme_paths("mail.example.com")), acme=True,
                                           acme_email="postmaster@example.com")}),
    ("auth.ldap.", "ldap-search.toml", {"auth": {"ldap": {"tls_ca_cert_file": "/etc/pki/tls/certs/ldap-ca.crt"}}}),
    ("auth.sql.", "sql.toml", {}),
    ("auth.sasl", "full.toml", SASL_TCP),
    ("postfix.ldap_aliases.", "ldap.toml", {"postfix": {"ldap_aliases": {"query_filter": "(mail=%s)",
                                                                          "result_attribute": "maildrop"}}}),
    ("postfix.relay_", "full.toml", {"postfix": {"relayhost": "[smtp.example.net]:587", "relay_user": "mailer",
                                                 "relay_password_file": "/root/relay.pass"}}),
    ("postfix.relayhost", "null-client.toml", {"server": {"hostname": "mail.example.com"}}),
    ("dkim.", "full.toml", {"dkim": {"enabled": True, "selector": "mail", "next_selector": "mail2",
                                     "domains": ["example.com", "example.net"]}}),
    ("postfix.lmtp_", "full.toml", {"postfix": {"lmtp_host": "dovecot.example.com"}}),
    ("postfix.sasl_", "full.toml", {"postfix": {"sasl_host": "dovecot.example.com"}}),
    ("postfix.tls_", "full.toml", {"postfix": {"tls_cert": "/etc/pki/tls/certs/postfix.crt",
                                                "tls_key": "/etc/pki/tls/private/postfix.key"}}),
    ("postfix.virtual_mailbox_domains", "full.toml", {"postfix": {"virtual_mailboxes": True,
                                                                   "virtual_mailbox_domains": ["example.com"]}}),
    ("postfix.virtual_alias_domains", "full.toml", {"postfix": {"virtual_alias_domains": ["example.net"]}}),
    ("sieve.", "full.toml", {"sieve": {"spam_folder": "Junk"}}),
    ("", "full.toml", {}),
]

# Files the fake host needs for the reference answers to be accepted (secrets read from files, CAs).
SECRET_FILES = {"/root/doveadm.pass": b"replication-secret\n", "/root/dovecot-ldap.pass": b"ldap-secret\n",
                "/root/dovecot-sql.pass": b"sql-secret\n", "/root/relay.pass": b"relay-secret\n"}
CA_FILES = ("/etc/pki/tls/certs/ca.crt", "/etc/pki/tls/certs/ldap-ca.crt", "/etc/pki/dovecot/certs/ca.crt",
            "/etc/pki/tls/certs/postfix.crt", "/etc/pki/tls/private/postfix.key")


def merge(data: dict, edits: dict) -> dict:
    for k, v in edits.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            merge(data[k], v)
        else:
            data[k] = copy.deepcopy(v)
    return data


@functools.cache
def _base(key: str) -> tuple[str, dict]:
    for prefix, name, edits in BASES:
        if key.startswith(prefix):
            return name, merge(tomllib.loads((ANSWERS_DIR / name).read_text()), edits)
    raise AssertionError(key)


def base_for(key: str) -> tuple[str, dict]:
    """(answers file name, its data with the edits that put `key` in use): a fresh copy."""
    name, data = _base(key)
    return name, copy.deepcopy(data)


def base_value(key: str):
    """The key's value in its reference answers (or its default)."""
    _, data = base_for(key)
    path, default = answer_keys()[key]
    if "<key>" in path:
        return MAILBOX if key.startswith("mailboxes") else ALIAS
    node = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def with_value(key: str, value) -> dict:
    """The key's reference answers with `value` at the key."""
    _, data = base_for(key)
    path, _ = answer_keys()[key]
    if key == "mailboxes.<name>":
        boxes = data.setdefault("mailboxes", {})
        spec = boxes.pop(MAILBOX, {"auto": "subscribe"})
        boxes[value] = spec
        return data
    if key == "postfix.virtual_aliases.<alias>":
        aliases = data["postfix"].setdefault("virtual_aliases", {})
        aliases[value] = aliases.pop(ALIAS, "user22@example.net")
        return data
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    if value is None:  # a key without a value (last_valid_uid, tls_loglevel) is left out
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return data


# --- hostile values ------------------------------------------------------------------------------

FRAGMENTS = [
    "\n", "\r\n", "\r", "\x00", "\t", "\x1b[31m", "\x7f", "\u2028", "\x85", "\ufeff", '"', "'", "\\", '\\"',
    "\\n", "%u", "%n", "%d", "%Lu", "%{user}", "%{env:HOME}", "%{passwd}", "%%", "%", "$", "$mydomain",
    "${x}", "$(id)", "`id`", "$ENV:HOME", ";", "|", "&&", ">", "<", "</etc/shadow", "*", "?", "~", "{", "}",
    "[", "]", "=", "#", " #c", " ", "  ", ",", ":", "/", "..", "../", "!include /etc/passwd",
    "\n}\nfoo = bar\n", "\ndriver = passwd\n", "\nmynetworks = 0.0.0.0/0", "ä", "\U0001f642", "-o", "--",
    "x" * 300,
    # issue 13: Unicode bidi controls (in values and in names used as keys), IPv6 zone indexes
    "\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c", "%eth0", "%25eth0",
]

# issue 13: addresses and networks in IPv6's many spellings, zone indexes among them
IPV6_FORMS = ["fe80::1%eth0", "[fe80::1%eth0]/128", "fe80::%eth0/64", "fe80::1%25eth0", "::1", "[::1]/128",
              "::ffff:192.0.2.1", "[::ffff:192.0.2.1]/128", "2001:db8::/32", "[2001:db8::]/32", "2001:DB8::1",
              "2001:db8:0:0:0:0:0:1", "[2001:db8::1]", "2001:db8::1/128", "::", "[::]/0", "fe80::1%", "1::2::3"]

# issue 13: paths with extra slashes and dots, system directories, and the special files host_for makes
PATH_PIECES = ["", ".", "..", "etc", "srv", "mail", "var", "lib", "mailwizard", "dovecot", "spool", "postfix",
               "root", "home", "tmp", "dev", "proc", "x.pem"]
SPECIAL_PATHS = {"/srv/special/fifo": "fifo", "/srv/special/zero": "/dev/zero", "/srv/special/urandom": "/dev/urandom",
                 "/srv/special/etc-link": "etc", "/srv/special/big": "big", "/srv/special/dir": "dir",
                 "/srv/special/dangling": "dangling", "/srv/special/mw-link": "->/var/lib/mailwizard",
                 "/srv/special/varlib-link": "->/var/lib", "/srv/special/passwd": "passwd"}
PATHS = st.one_of(
    st.lists(st.sampled_from(PATH_PIECES), min_size=0, max_size=6).flatmap(
        lambda parts: st.sampled_from(["/", "//", "///"]).map(lambda lead: lead + "/".join(parts))),
    st.sampled_from([*SPECIAL_PATHS, "/srv/special/etc-link/vmail", "/srv/special/etc-link/../mail", "//etc",
                     "/srv/../etc", "/var/mail/.", "/var/mail/", "/var/lib/mailwizard/x", "/", "/dev/zero",
                     "/dev/urandom", "/proc/self/fd/0"]),
)
NUMBERS = [0, -1, 1, 1023, 1024, 65534, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1, 2**32, 2**63 - 1, -2**63]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


def _insert(base: str, at: int, piece: str) -> str:
    at = at % (len(base) + 1)
    return base[:at] + piece + base[at:]


def hostile_text(base: str) -> st.SearchStrategy[str]:
    """Arbitrary, long, control, quote, %-variable, $ and shell-metacharacter text, often near `base`."""
    piece = st.one_of(st.sampled_from(FRAGMENTS), TEXT)
    return st.one_of(
        st.builds(_insert, st.just(base), st.integers(0, 1000), st.sampled_from(FRAGMENTS)),
        st.builds(_insert, st.just(base), st.integers(0, 1000), TEXT),
        st.lists(st.one_of(piece, st.just(base)), max_size=6).map("".join),
        TEXT,
        st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=8), st.integers(40, 2500)),
        st.sampled_from(FRAGMENTS),
    )


WRONG_TYPES = st.one_of(
    st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False), st.booleans(),
    st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.sampled_from("abc"), st.integers(0, 9), max_size=2),
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1)),
)


def values_for(key: str) -> st.SearchStrategy:
    default = answer_keys()[key][1]
    base = base_value(key)
    if key.endswith(("<name>", "<alias>")):
        return hostile_text(base)  # a table key is always a string in TOML
    if key in A.PATH_KEYS:
        return st.one_of(PATHS, hostile_text(str(base)), WRONG_TYPES)
    if isinstance(default, bool):
        return st.one_of(st.booleans(), WRONG_TYPES, TEXT)
    if isinstance(default, int) or default is None:
        special = st.sampled_from(NUMBERS)
        return st.one_of(st.integers(-2**63, 2**63 - 1), st.integers(-10, 70000), special, WRONG_TYPES, TEXT)
    if isinstance(default, list):
        elements = base or ["192.0.2.0/24"]
        element = st.one_of(st.sampled_from(elements).flatmap(hostile_text), st.sampled_from(IPV6_FORMS))
        return st.one_of(st.lists(element, max_size=4), st.lists(st.sampled_from(elements), max_size=3),
                         WRONG_TYPES, TEXT)
    return st.one_of(hostile_text(str(base)), hostile_text(str(base)), st.sampled_from(IPV6_FORMS), WRONG_TYPES)


# --- sessions on fake hosts ----------------------------------------------------------------------

@functools.cache
def host_for(platform: str) -> tuple[FakeHost, object]:
    """One fake host per platform with the reference answers' certificates, CAs and secret files."""
    root = Path(tempfile.mkdtemp(prefix="fuzz-host-"))
    profile = profile_for(platform)
    host = FakeHost.from_profile(profile, root, hostname="mail.example.com")
    key, cert = cached_cert("mail.example.com")
    for directory in ("/etc/pki/dovecot/certs", "/etc/pki/dovecot/private", "/etc/pki/tls/certs",
                      "/etc/pki/tls/private", "/root"):
        host.makedirs(directory)
    for path in ("/etc/pki/dovecot/certs/server.example.com.crt", "/etc/pki/dovecot/certs/mail.example.com.crt",
                 *CA_FILES):
        host.write_atomic(path, key if path.endswith(".key") else cert, mode=0o644, uid=0, gid=0)
    for path in ("/etc/pki/dovecot/private/server.example.com.key", "/etc/pki/dovecot/private/mail.example.com.key"):
        host.write_atomic(path, key, mode=0o600, uid=0, gid=0)
    for path, data in SECRET_FILES.items():
        host.write_atomic(path, data, mode=0o600, uid=0, gid=0)
    make_special_paths(host)
    return host, profile


def make_special_paths(host) -> None:
    """Where a path answer may lead (issue 13): SPECIAL_PATHS under /srv/special, and /dev/zero, /dev/urandom,
    /dev/null as links to the machine's own character devices, where a real host has them."""
    host.makedirs("/srv/special")
    for path, what in SPECIAL_PATHS.items():  # where a path answer may lead (issue 13)
        real = host.real(path)
        if what == "fifo":
            os.mkfifo(real)
        elif what.startswith("/dev/"):
            os.symlink(what, real)  # a character device of this machine: followed, then refused
        elif what == "etc":
            os.symlink(host.real("/etc"), real)
        elif what == "big":
            real.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * (2 << 20))
        elif what == "dangling":
            os.symlink("/srv/special/gone", real)
        elif what.startswith("->"):  # a link to a directory of the fake host (mailwizard's own, /var/lib)
            host.makedirs(what[2:])
            os.symlink(host.real(what[2:]), real)
        elif what == "passwd":
            real.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
        else:
            real.mkdir()
    host.makedirs("/dev")
    for device in ("zero", "urandom", "null"):  # the machine's character devices, where a real host has them
        os.symlink(f"/dev/{device}", host.real(f"/dev/{device}"))


def session_for(toml_text: str, platform: str):
    answers, problems = A.parse(toml_text)
    host, profile = host_for(platform)
    return answers, problems, Session(answers, host, profile, journal_dir="/var/lib/mailwizard-fuzz")


def names_key(problem: A.Problem, key: str) -> bool:
    """Whether `problem` is at `key` (or inside it), or at another key whose message names this one."""
    last = key.rsplit(".", 1)[-1]
    if re.search(rf"(?<![\w.]){re.escape(last)}(?![\w])", problem.message) and not last.startswith("<"):
        return True
    if key.startswith("mailboxes"):
        return problem.key.startswith("mailboxes")
    if key.startswith("postfix.virtual_aliases"):
        return problem.key.split(".")[:2] == ["postfix", "virtual_aliases"]
    return problem.key == key or problem.key.startswith(key + ".")


COUNTS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if not COUNTS or reporter is None:
        return
    reporter.write_line("")
    reporter.write_line("fuzz examples per answers key: validated, accepted, rendered and read by doveconf/postconf; "
                        "the issue-13 matrix's cases")
    total = collections.Counter()
    for key in sorted(COUNTS):
        c = COUNTS[key]
        total.update(c)
        reporter.write_line(f"  {key:40} {c['validated']:4} validated {c['accepted']:4} accepted "
                            f"{c['rendered']:3} rendered; matrix {c['matrix']:3} cases {c['matrix accepted']:3} "
                            "accepted")
    reporter.write_line(f"  total: {total['validated']} validated, {total['matrix']} matrix cases, "
                        f"{total['rendered']} rendered by the real tools")
    if getattr(request.config, "cache", None) is not None:
        request.config.cache.set("mailwizard/fuzz_answers_counts", {k: dict(v) for k, v in COUNTS.items()})


_FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                 suppress_health_check=list(HealthCheck))


def fuzz(examples: int) -> settings:
    """Deterministic settings (the same examples on every run, no example database) for `examples` runs."""
    return settings(_FUZZ, max_examples=examples)


# --- the enumeration is complete -----------------------------------------------------------------

def test_every_key_is_enumerated_and_read_where_enumerated():
    keys = answer_keys()
    leaves = sum(1 for s in fields(A.Answers) if s.name not in NOT_KEYS)
    assert len(keys) > leaves  # the sections were walked
    for key in KEYS:
        path, default = keys[key]
        wrong = {"no": "table"} if not isinstance(default, dict) else "text"
        if "<key>" in path:
            continue  # a table key is a string by construction; fuzzed below
        _, problems = A.parse(tomli_w.dumps(with_value(key, wrong)))
        assert [p for p in problems if names_key(p, key)], f"{key}: a table there is not reported: {problems}"
    # every dataclass field of every section is a key
    for section in (A.Server, A.TLS, A.Protocols, A.MailStore, A.Lmtp, A.Sieve, A.Replication, A.Dns,
                    A.LdapAuth, A.SqlAuth, A.LdapAliases, A.Dkim):
        prefix = {A.LdapAuth: "auth.ldap", A.SqlAuth: "auth.sql", A.LdapAliases: "postfix.ldap_aliases",
                  A.MailStore: "mailbox"}.get(section, section.__name__.lower())
        for f in fields(section):
            assert f"{prefix}.{f.name}" in keys


@pytest.mark.parametrize("key", KEYS)
def test_reference_value_is_accepted(key):
    """Each key's reference answers (the property's starting point) are accepted, so a refusal is the value's."""
    _answers, problems, session = session_for(tomli_w.dumps(with_value(key, base_value(key))), "debian12")
    assert problems == []
    assert [p for p in session.problems() if p.severity == "error"] == []


# --- property 1: validation ----------------------------------------------------------------------

def kind(key: str) -> str:
    default = answer_keys()[key][1]
    return "typed" if default is None or isinstance(default, (bool, int)) else "text"


def well_typed(key: str, value) -> bool:
    default = answer_keys()[key][1]
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int) or default is None:
        return isinstance(value, int) and not isinstance(value, bool)
    return True


def check_validation(key: str, value, platform: str) -> tuple[object, list[A.Problem]] | None:
    """Parse and validate `value` at `key`: never an exception; an error names the key. The answers when accepted."""
    text = tomli_w.dumps(with_value(key, value))
    answers, problems, session = session_for(text, platform)
    if not problems:
        problems = session.problems()
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        assert isinstance(p.message, str) and p.message.strip(), p
        assert "Traceback" not in p.message
    if errors:
        # a well-typed yes/no or number may be refused for what it implies elsewhere (lmtp = false while
        # Postfix delivers over LMTP): the message then names the other key, which is fine
        consequence = well_typed(key, value) and not isinstance(answer_keys()[key][1], str)
        assert consequence or any(names_key(p, key) for p in errors), \
            f"{key}={value!r}: errors name other keys: {errors}"
        return None
    return answers, session


# --- property 2: what is accepted renders to exactly what was typed ------------------------------

_DOVE_OPEN = re.compile(r"^([A-Za-z_][\w-]*)(?:\s+(.*?))?\s*\{$")
_DOVE_SET = re.compile(r"^([A-Za-z_][\w/-]*)\s*=\s?(.*)$")


def dovecot_settings(text: str) -> list[tuple[tuple[str, ...], str, str]]:
    """`doveconf -n` output as (block kinds, key, value), with each block's name as a pseudo-setting."""
    out, scope = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == "}":
            scope.pop()
        elif m := _DOVE_OPEN.match(line):
            out.append((tuple(scope), f"{m.group(1)} {{", m.group(2) or ""))
            scope.append(m.group(1))
        elif m := _DOVE_SET.match(line):
            out.append((tuple(scope), m.group(1), m.group(2)))
        else:
            raise AssertionError(f"doveconf -n printed a line that is neither a setting nor a block: {line!r}")
    return out


def args_file_settings(text: str) -> list[tuple[tuple[str, ...], str, str]]:
    """A Dovecot 2.3 args file (dovecot-ldap/sql.conf.ext) read as settings_read_i() reads it."""
    out = []
    for raw in text.split("\n"):
        line = raw.strip(" \t\r")
        if not line or line.startswith("#"):
            continue
        i, quote = 0, None
        while i < len(line):  # a # outside quotes starts a comment (Dovecot tracks both quote kinds)
            c = line[i]
            if quote:
                if c == "\\" and i + 1 < len(line):
                    i += 1
                elif c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "#":
                line = line[:i].rstrip(" \t")
                break
            i += 1
        key, eq, value = line.partition("=")
        assert eq, f"an args-file line without '=': {raw!r}"
        value = value.strip(" \t")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = re.sub(r"\\(.)", r"\1", value[1:-1], flags=re.S)
        out.append(((), key.strip(), value))
    return out


def postconf_settings(text: str) -> list[tuple[tuple[str, ...], str, str]]:
    out = []
    for line in text.splitlines():
        key, eq, value = line.partition(" = ")
        if not eq:
            key, eq, value = line.partition(" =")
        assert eq, f"postconf printed {line!r}"
        out.append(((), key, value))
    return out


ARGS_FILES = ("dovecot-ldap.conf.ext", "dovecot-sql.conf.ext")


SECRETS = ("auth.ldap.dnpass", "auth.sql.password", "replication.password")


def shown_text(plan) -> str:
    """Everything the review shows of a plan: descriptions, diffs, commands."""
    return "\n".join(f"{c.describe()}\n{c.diff()}\n{c.commands()}" for c in plan.changes)


def render(answers, session, secret: str = "") -> dict[str, list]:
    """The plan's files put in a scratch copy of the platform's configuration, read by the real tools.

    `secret`: a password typed in the answers, which the review must never show."""
    plan = session.plan()
    if secret:
        assert secret not in shown_text(plan), "the review shows a password"
    for change in plan.changes:
        for argv in change.commands():
            assert all(isinstance(a, str) and "\n" not in a and "\0" not in a for a in argv), argv
            assert not (len(argv) > 1 and argv[0].rsplit("/", 1)[-1] in ("sh", "bash") and "-c" in argv), argv
    profile = session.profile
    with tempfile.TemporaryDirectory(prefix="fuzz-render-") as tmp:
        dove, post = Path(tmp, "dovecot"), Path(tmp, "postfix")
        shutil.copytree(profile.fresh_root() / profile.dovecot_dir.lstrip("/"), dove)
        shutil.copytree(profile.fresh_root() / profile.postfix_dir.lstrip("/"), post)
        others: dict[str, bytes] = {}
        for change in plan.changes:
            if isinstance(change, WriteFile):
                if change.path.startswith(profile.dovecot_dir + "/"):
                    target = dove / change.path[len(profile.dovecot_dir) + 1:]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(change.content)
                others[change.path] = change.content
            elif isinstance(change, _PostfixEdit):
                for name, text in change.after.items():
                    (post / name).write_text(text, encoding="utf-8", errors="surrogateescape")
        aged(post)
        out: dict[str, list] = {}
        if answers.dovecot_enabled:
            shown = subprocess.run(["doveconf", "-c", str(dove / "dovecot.conf"), "-n", "-P"],
                                   capture_output=True, text=True, errors="surrogateescape")
            assert shown.returncode == 0 and "Warning" not in shown.stderr, shown.stderr
            out["doveconf -n"] = dovecot_settings(shown.stdout)
        for what in ("-n", "-M", "-P"):
            shown = subprocess.run(["postconf", "-c", str(post), what], capture_output=True, text=True,
                                   errors="surrogateescape")
            warnings = [w for w in shown.stderr.splitlines() if "/etc/postfix/ldap-aliases.cf" not in w]
            assert shown.returncode == 0 and warnings == [], shown.stderr
            out[f"postconf {what}"] = (postconf_settings(shown.stdout) if what != "-M"
                                       else [((), "service", " ".join(line.split()))
                                             for line in shown.stdout.splitlines()])
        for path, content in others.items():
            name = path.rsplit("/", 1)[-1]
            text = content.decode("utf-8", "surrogateescape")
            if name in ARGS_FILES:
                out[path] = args_file_settings(text)
            elif name.endswith(".cnf"):  # a MariaDB option file: [group] lines, then quoted key = value
                out[path] = args_file_settings("\n".join(line for line in text.split("\n")
                                                          if not line.startswith("[")))
            elif not path.startswith((profile.dovecot_dir + "/", profile.postfix_dir + "/main.cf",
                                      profile.postfix_dir + "/master.cf")):
                out[path] = [((), "line", line) for line in text.splitlines()
                             if line.strip() and not line.lstrip().startswith("#")]
    return out


def shape(rendered: dict[str, list]) -> collections.Counter:
    """What settings and blocks there are, without their values: an injected line or block changes it."""
    return collections.Counter((source, scope, key) for source, items in rendered.items()
                               for scope, key, _ in items)


@functools.cache
def reference_render(key: str):
    answers, _, session = session_for(tomli_w.dumps(with_value(key, base_value(key))), "debian12")
    return render(answers, session)


@functools.cache
def reference_shown(key: str) -> str:
    _, _, session = session_for(tomli_w.dumps(with_value(key, base_value(key))), "debian12")
    return shown_text(session.plan())


def typed_strings(key: str, answers) -> list[str]:
    """The value as the answers hold it (after the documented normalisation), as strings to find."""
    if key == "mailboxes.<name>":
        return [answers.mailboxes[-1].name]
    if key == "postfix.virtual_aliases.<alias>":
        return [next(iter(answers.postfix.virtual_aliases))]
    if key == "postfix.virtual_aliases":
        return [t for t in re.split(r"[\s,]+", answers.postfix.virtual_aliases[ALIAS]) if t]
    path, _ = answer_keys()[key]
    node = answers
    for part in path:
        node = next(b for b in node if b.name == part) if isinstance(node, list) else \
            (node[part] if isinstance(node, dict) else getattr(node, part))
    return [v for v in (node if isinstance(node, list) else [node]) if isinstance(v, str) and v]


# Keys whose value is not written into any configuration file (the reason, for the reader).
NOT_RENDERED = {
    "dns.addresses": "DNS records shown in the report",
    "replication.partner_answers": "where the partner's answers are saved",
    "replication.partner_addresses": "firewalld rich rules (commands)",
    "lmtp.allow_from": "firewalld rich rules (commands)",
    "auth.sasl_allow_from": "firewalld rich rules (commands)",
    "auth.ldap.dnpass_file": "read when planning; the password is written",
    "auth.sql.password_file": "read when planning; the password is written",
    "postfix.inet_interfaces": "written in Postfix's canonical form",
    "auth.test_user": "the report's test login, used by its probes",
    "auth.test_password": "the report's test login, never written",
    "auth.test_password_file": "the report's test login, read by its probes",
    "tls.acme_email": "certbot's command line (the account's address)",
    "tls.acme_server": "certbot's command line (the directory it asks)",
}


@pytest.mark.parametrize("key", KEYS)
def test_hostile_values(key):
    """Validation for every example; the first accepted ones rendered and read back by the real tools."""
    reference = reference_render(key) if HAVE_TOOLS and kind(key) == "text" else None
    shown: set[str] = set()

    @fuzz(EXAMPLES[kind(key)])
    @given(value=values_for(key))
    def run(value):
        COUNTS[key]["validated"] += 1
        accepted = check_validation(key, value, "debian12")
        if accepted is None:
            return
        COUNTS[key]["accepted"] += 1
        # the first accepted values are rendered, and the same ones again when hypothesis replays them
        if reference is None or (repr(value) not in shown and len(shown) >= RENDERED[kind(key)]):
            return
        shown.add(repr(value))
        answers, session = accepted
        secret = value if key in SECRETS and isinstance(value, str) and len(value) >= 6 and \
            value not in reference_shown(key) else ""
        rendered = render(answers, session, secret)
        COUNTS[key]["rendered"] += 1
        check_rendering(key, value, answers, reference, rendered)

    run()


# keys whose empty value is not "off" but "Dovecot on this host": Dovecot's listener for Postfix appears
ON_THIS_HOST = {"postfix.sasl_host", "postfix.lmtp_host"}


def blank(value) -> bool:
    return value == [] or (isinstance(value, str) and not value.strip())


def check_rendering(key: str, value, answers, reference: dict, rendered: dict) -> None:
    """Nothing injected or lost, and the value found as typed in a rendered setting."""
    if key == "replication.partner_answers":  # the value names the file written: compare it under one name
        from mailwizard.steps.replication import partner_answers_path

        rename = {partner_answers_path(answers): "<partner answers>", "/var/lib/mailwizard/partner.toml":
                  "<partner answers>"}
        reference = {rename.get(k, k): v for k, v in reference.items()}
        rendered = {rename.get(k, k): v for k, v in rendered.items()}
    if key.startswith("mailboxes") or key == "postfix.virtual_aliases" or isinstance(value, list):
        # a list, a mailbox or an alias may render as more or fewer entries: the top-level settings
        # and every other file's settings must stay as they were
        same = lambda shape_: {s for s in shape_ if s[1] == () or s[0] != "doveconf -n"}  # noqa: E731
        assert same(shape(rendered)) >= same(shape(reference)) - {s for s in same(shape(reference))
                                                                   if s[0] == "postconf -M"}, value
    elif blank(value) and key in ON_THIS_HOST:
        pass  # rendered and read by the real tools above; the feature moves to this host (its listener appears)
    elif blank(value) or blank(base_value(key)):
        # an optional setting left out (or given where the reference leaves it out): it, and the settings
        # of the feature it turns on, come or go, and nothing else appears; white space counts as empty
        small, big = (shape(rendered), shape(reference)) if blank(value) else (shape(reference), shape(rendered))
        assert not small - big, f"{key}={value!r} changed the settings rendered"
    else:
        assert shape(rendered) == shape(reference), f"{key}={value!r} changed the settings rendered"
    if key in NOT_RENDERED:
        return
    values = [v for items in rendered.values() for _, _, v in items]
    for typed in typed_strings(key, answers):
        assert any(typed in v for v in values), f"{key}={value!r}: {typed!r} is in no rendered setting"


# --- garbage files --------------------------------------------------------------------------------

@fuzz(300)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
                      st.sampled_from([b"[server", b"hostname = ", b"[a]\n[a]", b"x = 1\nx = 2", b"\xff\xfe[",
                                       b"a = \"\\q\"", b"[[mailboxes]]\nname = 1", b"= 1", b"\x00"])))
def test_garbage_is_a_clear_error(data):
    with tempfile.NamedTemporaryFile(suffix=".toml") as fh:
        fh.write(data)
        fh.flush()
        try:
            _answers, problems = A.load(fh.name)
        except A.AnswersError as exc:
            assert fh.name in str(exc) or "TOML" in str(exc)
            return
    for p in problems:
        assert p.key and p.message


# --- regressions: the shrunk examples of bugs the fuzzing found ------------------------------------

SERVER = "[server]\nhostname = \"mail.example.com\"\n"


@pytest.mark.parametrize("text, key", [(SERVER + "[firewall]\nmanage = { no = \"table\" }\n", "firewall.manage"),
                                       (SERVER + "[firewall]\nmanage = \"no\"\n", "firewall.manage"),
                                       ("firewall = 1\n" + SERVER, "firewall")])
def test_firewall_manage_of_another_type_is_reported_not_ignored(text, key):
    # found by test_every_key_is_enumerated_and_read_where_enumerated: the value was silently replaced by true
    _, problems = A.parse(text)
    assert [p.key for p in problems] == [key]
    assert "true or false" in problems[0].message or "table" in problems[0].message


# --- issue 13: the hostile-input matrix --------------------------------------------------------------
#
# Every key of a kind (paths, names used as TOML keys, addresses and networks, numbers) against every case
# of that kind, the same cases on every run: besides the properties above (no exception, an error names
# the key, what is accepted renders exactly), a case a kind must refuse is refused at the key, nothing
# takes longer than a few seconds (a FIFO or a device is never opened for reading), and nothing on the
# host changes (validation and planning have no side effect). Counts are printed with the others.

PEM, SECRET, DIR, WRITE = "pem", "secret", "dir", "write"
PATH_KIND = {"tls.cert": PEM, "tls.key": PEM, "tls.ca": PEM, "tls.dh": PEM, "auth.ldap.tls_ca_cert_file": PEM,
             "auth.sql.ssl_ca": PEM, "postfix.tls_cert": PEM, "postfix.tls_key": PEM,
             "auth.ldap.dnpass_file": SECRET, "auth.sql.password_file": SECRET, "replication.password_file": SECRET,
             "auth.test_password_file": SECRET, "mailbox.root": DIR, "replication.partner_answers": WRITE,
             "postfix.relay_password_file": SECRET}
ALL = frozenset((PEM, SECRET, DIR, WRITE))
READ = frozenset((PEM, SECRET))
# (value, the kinds that must refuse it; a kind not named may refuse or accept)
PATH_MATRIX: list[tuple[str, frozenset]] = [
    ("//etc", ALL), ("/./etc", ALL), ("/srv/../etc", ALL), ("/etc/", ALL), ("/", ALL), ("///", ALL),
    ("relative/x.pem", ALL), ("x", ALL), ("./x", ALL), ("../x", ALL), ("~/x", ALL), ("/srv/sp ace/x", ALL),
    ("/srv/x\u202e", ALL), ("/srv/x\u200b", ALL), ("/srv/x\n", ALL), ("/srv/" + "x" * 300, frozenset()),
    ("/srv/special/fifo", ALL), ("/srv/special/zero", ALL), ("/srv/special/urandom", ALL),
    ("/dev/zero", ALL), ("/dev/urandom", ALL), ("/dev/null", ALL), ("/proc/self/environ", frozenset({DIR, WRITE})),
    ("/srv/special/etc-link", ALL), ("/srv/special/etc-link/", ALL), ("/srv/special/mw-link", ALL),
    ("/srv/special/varlib-link", ALL), ("/srv/special/dangling", frozenset({PEM, DIR})), ("/srv/special/big", ALL),
    ("/srv/special/dir", READ | {WRITE}), ("/srv/special/dir/", READ | {WRITE}),
    ("/srv/special/passwd", frozenset({PEM, DIR, WRITE})), ("/var/lib/mailwizard", ALL),
    ("/var/lib/mailwizard/answers.toml", frozenset({DIR, WRITE})),
    ("/var/lib/mailwizard/backups/x", frozenset({DIR, WRITE})), ("/srv/mail.d/x", frozenset()),
]
NAME_MATRIX: dict[str, tuple[list[str], list[str]]] = {  # key -> (must be refused, must be accepted)
    "mailboxes.<name>": (
        ["", " ", ".", "..", "a//b", "a/./b", "/abs", "~x", "Se\u202ent", "Se\u2066nt", "Se\u200bnt", "\ufeffSent",
         "Se\u00adnt", "Se\u2060nt", 'Se"nt', "Se\nnt", "Se\tnt", "Se\x7fnt", "Sent\u2028", "x" * 300, "é" * 120,
         "INBOX", "inbox", "Sent{", "Sent}", "Sent*", "Sent%", "#Sent", "Sent ", " Sent"],
        ["Séñt", "\U0001f642", "Se nt", "a.b", "Sent/Old", "Se'nt", "Sent;", "x" * 255]),
    "postfix.virtual_aliases.<alias>": (
        ["", " info@example.com", "info@example.com ", "#info@example.com", "info@", "Se\u202ent@example.com",
         "in\u200bfo@example.com", "info@exa\u200bmple.com", 'in"fo@example.com', "info@example.com\n",
         "info@.", "info@ex ample.com", ".info@example.com", "in..fo@example.com", "info@-example.com",
         "info@example.com\x00"],
        ["a.b@example.com", "info+tag@example.com", "@example.com", "o'brien@example.com", "info"]),
}
ADDRESS_KIND = {"postfix.mynetworks": "network", "lmtp.allow_from": "source", "auth.sasl_allow_from": "source",
                "replication.partner_addresses": "source", "dns.addresses": "public",
                "postfix.inet_interfaces": "iface", "postfix.relayhost": "host", "postfix.lmtp_host": "host",
                "postfix.sasl_host": "host", "replication.partner": "host", "auth.sql.host": "host",
                "postfix.ldap_aliases.server_host": "host", "auth.ldap.uris": "uri"}
EVERY = frozenset(("network", "source", "public", "iface", "host", "uri"))
HOSTS = frozenset(("source", "public", "host", "uri"))
ADDRESS_MATRIX: list[tuple[str, frozenset]] = [
    ("fe80::1%eth0", EVERY), ("fe80::1%25eth0", EVERY), ("[fe80::1%eth0]/128", EVERY), ("fe80::%eth0/64", EVERY),
    ("fe80::1%eth0\n", EVERY), ("fe80::1%\x1b[31m", EVERY), ("fe80::1%\u202e0", EVERY), ("fe80::1%", EVERY),
    ("1::2::3", EVERY), ("[::1", EVERY), ("::1]", EVERY), ("[[::1]]", EVERY), ("2001:db8::/129", EVERY),
    ("[2001:db8::]/129", EVERY), ("[2001:db8::]/-1", EVERY), ("192.0.2.0/33", EVERY), ("192.0.2.0/-1", EVERY),
    ("192.0.2.1/32/32", EVERY), ("::ffff:192.0.2.1", HOSTS | {"iface"}), ("[::ffff:192.0.2.1]/128", frozenset()),
    ("0.0.0.0", HOSTS), ("::", HOSTS), ("0.0.0.0/0", EVERY - {"iface"}), ("::/0", EVERY - {"iface"}),
    ("255.255.255.255", HOSTS), ("224.0.0.1", HOSTS), ("192.0.2.01", HOSTS | {"iface", "network"}),
    ("127.1", HOSTS | {"iface", "network"}), ("0x7f.1", HOSTS | {"iface", "network"}),
    ("1.2.3.4.5", HOSTS | {"iface", "network"}), ("2001:db8::1", frozenset()), ("[2001:db8::1]", frozenset()),
    ("192.0.2.1", frozenset()), ("2001:DB8:0:0:0:0:0:1", frozenset()),
]
# numeric keys: the range the daemons take (a value outside it must be refused; inside, it may still be
# refused for what it implies elsewhere)
PORT = (1, 65535)
NUMBER_RANGE: dict[str, tuple[int, int]] = {
    "auth.sasl_port": PORT, "auth.sql.port": PORT, "lmtp.port": PORT, "sieve.port": PORT, "replication.port": PORT,
    "postfix.lmtp_port": PORT, "postfix.sasl_port": PORT, "auth.first_valid_uid": (1, 2**32 - 2),
    "auth.last_valid_uid": (0, 2**32 - 2), "replication.max_conns": (1, 2**31 - 1), "postfix.tls_loglevel": (0, 4),
    "postfix.limits.smtpd_client_connection_rate_limit": (0, 2**31 - 1),
    "postfix.limits.smtpd_client_message_rate_limit": (0, 2**31 - 1),
    "postfix.limits.default_process_limit": (1, 2**31 - 1), "postfix.limits.header_size_limit": (0, 2**31 - 1),
    "postfix.limits.message_size_limit": (0, A.MAILBOX_SIZE_LIMIT), "postfix.limits.queue_minfree": (0, 2**63 - 1),
}
NUMBER_MATRIX: list = [0, -1, 1, 4, 5, 24, 1023, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1, 2**32,
                       2**63 - 1, -2**63, 1.5, 24.0, -0.0, 1e300, float("inf"), float("nan"), True, False, "24",
                       "0x18", "", [24], {"n": 24}]


def _matrix_value(key: str, case):
    if key == "auth.ldap.uris":
        return [f"ldap://{case}"]
    return [case] if isinstance(answer_keys()[key][1], list) else case


def _host_state(host) -> dict[str, tuple]:
    """Every path under the fake host's root with its type, mode, size and mtime."""
    out = {}
    for path in sorted(host.root.rglob("*")):
        st = path.lstat()
        out[str(path)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@functools.cache
def _matrix_state() -> dict[str, tuple]:
    return _host_state(host_for("debian12")[0])


def _within(seconds: int):
    """A context that fails the test, instead of hanging it, when its body runs longer than `seconds`."""
    import contextlib
    import signal

    @contextlib.contextmanager
    def guard():
        def expired(*_):
            raise AssertionError(f"took longer than {seconds} s (a FIFO or a device read?)")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.alarm(seconds)
        try:
            yield
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    return guard()


MATRIX_RENDERED = max(1, int(8 * _SCALE))  # accepted cases rendered and read back by the real tools, per key


def matrix_case(key: str, value, must_refuse: bool, must_accept: bool = False, shown: list | None = None):
    """One key × case: the common properties, then the case's own expectation; the accepted answers or None."""
    COUNTS[key]["matrix"] += 1
    with _within(20):
        accepted = check_validation(key, value, "debian12")
        if accepted is not None:
            accepted[1].plan()  # planning the accepted answers raises nothing, and changes nothing either
    assert _host_state(host_for("debian12")[0]) == _matrix_state(), f"{key}={value!r} changed the host"
    if must_refuse:
        assert accepted is None, f"{key}={value!r} was accepted"
    if must_accept:
        assert accepted is not None, f"{key}={value!r} was refused"
    if accepted is None:
        return None
    answers, session = accepted
    COUNTS[key]["matrix accepted"] += 1
    if HAVE_TOOLS and shown is not None and len(shown) < MATRIX_RENDERED and kind(key) == "text":
        shown.append(value)
        check_rendering(key, value, answers, reference_render(key), render(answers, session))
        COUNTS[key]["rendered"] += 1
    return accepted


@pytest.mark.parametrize("key", sorted(PATH_KIND))
def test_path_matrix(key):
    assert set(PATH_KIND) == set(A.PATH_KEYS)  # every path key has its kind
    shown: list = []
    base = base_value(key) or ("/var/vmail" if PATH_KIND[key] == DIR else "")
    # the key's own reference path, written with extra slashes and dots: accepted, normalised, said, rendered
    spelled = [("/" + base, "accept"), (base.replace("/", "/./", 1), "accept"),
               (base.replace("/", "//", 2), "accept")] if base.startswith("/") else []
    for value, expect in [*spelled, *PATH_MATRIX]:
        refuse = expect != "accept" and PATH_KIND[key] in expect
        accepted = matrix_case(key, value, refuse, must_accept=expect == "accept", shown=shown)
        if accepted is not None:  # accepted: held in its normalised form, and the rewriting said at the key
            answers, session = accepted
            held = typed_strings(key, answers)
            assert held == [A.normalise_path(value)] or not value, (key, value, held)
            if held and held[0] != value:
                assert any(p.key == key and p.severity == "warning" and "is read as" in p.message
                           for p in session.problems()), f"{key}={value!r}: normalised without a word"


@pytest.mark.parametrize("key", sorted(NAME_MATRIX))
def test_name_matrix(key):
    refused, good = NAME_MATRIX[key]
    shown: list = []
    for value in refused:
        matrix_case(key, value, must_refuse=True)
    for value in good:
        matrix_case(key, value, must_refuse=False, must_accept=True, shown=shown)


@pytest.mark.parametrize("name", ["sub\u202emission", "sub\u200bmission", "sub\nmission", "", ".", "a.b", '"q"',
                                  "submision", "x" * 300])
@pytest.mark.parametrize("table", ["", "server", "postfix", "postfix.limits", "auth.ldap", "mailboxes.Sent"])
def test_unknown_names_used_as_keys_anywhere(table, name):
    """A name in any table: a control, bidi or invisible character is an error at the table; any other unknown
    name a warning naming it (a limit the wizard does not set is an error); never an exception."""
    _, data = base_for("server.hostname")
    node = data
    for part in [p for p in table.split(".") if p]:
        node = node.setdefault(part, {})
    node[name] = True
    _answers, problems = A.parse(tomli_w.dumps(data))
    where = f"{table}.{name}" if table else name
    bad = A.control_character(name)
    mine = [p for p in problems if p.key in (table or name, where)]
    assert mine, problems
    if bad:
        assert any(p.severity == "error" and bad in p.message for p in mine), mine
    elif table != "mailboxes.Sent" or name not in ("special_use", "auto"):
        assert all(p.severity == "warning" or table == "postfix.limits" for p in mine), mine


@pytest.mark.parametrize("key", sorted(ADDRESS_KIND))
def test_address_matrix(key):
    shown: list = []
    for case, refusers in ADDRESS_MATRIX:
        matrix_case(key, _matrix_value(key, case), ADDRESS_KIND[key] in refusers, shown=shown)


@pytest.mark.parametrize("key", sorted(NUMBER_RANGE))
def test_number_matrix(key):
    assert set(NUMBER_RANGE) == {k for k in KEYS if kind(k) == "typed" and not isinstance(answer_keys()[k][1], bool)
                                 and k != "postfix.virtual_mailboxes"}  # every numeric key has its range
    low, high = NUMBER_RANGE[key]
    rendered = 0
    for value in NUMBER_MATRIX:
        whole = isinstance(value, int) and not isinstance(value, bool)
        accepted = matrix_case(key, value, must_refuse=not whole or not low <= value <= high)
        if accepted is None or not HAVE_TOOLS or rendered >= 2 or value == base_value(key):
            continue
        answers, session = accepted
        out = render(answers, session)  # a number accepted is written as it is, and the real tools take it
        rendered += 1
        COUNTS[key]["rendered"] += 1
        values = [v for items in out.values() for _, _, v in items]
        assert any(re.search(rf"(?<![\d-]){value}(?!\d)", v) for v in values), f"{key}={value} is in no setting"


def _answers_file_cases(tmp: Path) -> list[tuple[str, str | None]]:
    """(the --answers path, a fragment of the error it must give; None: it must plan)."""
    good = (ANSWERS_DIR / "pam.toml").read_bytes()
    (tmp / "ok.toml").write_bytes(good)
    os.mkfifo(tmp / "fifo.toml")
    (tmp / "dir.toml").mkdir()
    os.symlink(tmp / "gone.toml", tmp / "dangling.toml")
    os.symlink(tmp / "dir.toml", tmp / "link-to-dir.toml")
    os.symlink(tmp / "ok.toml", tmp / "link.toml")
    (tmp / "huge.toml").write_bytes(good + b"#" * (5 << 20))
    (tmp / "binary.toml").write_bytes(b"\xff\xfe\x00[server]")
    (tmp / "bidi.toml").write_bytes(good.replace(b"[server]", b"[server]\n\"x\xe2\x80\xae\" = 1"))
    return [(str(tmp / "ok.toml"), None), ("//" + str(tmp / "ok.toml").lstrip("/"), None),
            (str(tmp / "link.toml"), None), (str(tmp / "fifo.toml"), "FIFO"), ("/dev/zero", "character device"),
            ("/dev/urandom", "character device"), ("/dev/null", "character device"),
            (str(tmp / "dir.toml"), "directory"), (str(tmp / "link-to-dir.toml"), "directory"),
            (str(tmp / "dangling.toml"), "No such file"), (str(tmp / "huge.toml"), "larger than 4 MiB"),
            (str(tmp / "binary.toml"), "not UTF-8"), (str(tmp / "bidi.toml"), "U+202E"),
            (str(tmp / "absent.toml"), "No such file")]


def test_answers_file_matrix(tmp_path, capsys):
    """The answers file itself, hostile: a FIFO, devices, directories, links, a 5 MiB file, binary, a bidi
    control in a name: exit 2 at once with the path and the reason, no traceback; a usable file (also
    through a link, or spelled //) plans."""
    from mailwizard import cli

    for path, fragment in _answers_file_cases(tmp_path):
        COUNTS["--answers"]["matrix"] += 1
        with _within(20):
            code = cli.main(["--platform", "debian12", "--answers", path, "--unattended", "--dry-run"])
        out = capsys.readouterr()
        assert "Traceback" not in out.err + out.out
        if fragment is None:
            assert code == 0, (path, out.err[-2000:])
        else:
            assert code == 2 and fragment in out.err, (path, code, out.err[-2000:])
