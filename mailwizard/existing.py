"""The mail configuration already on a host, read back into Answers (issue 7).

On a host configured by hand (or by an earlier run) the wizard starts from
what is there, so a re-run changes only what the administrator changes.
Postfix is read with its own tools (`postconf -n`, `postconf -M`), Dovecot
with `doveconf -n` (block-aware) plus `doveconf -h` for the values it hides;
where doveconf prints no settings (no Dovecot binaries, or a simulated host) the
files are read directly, following `!include`. Files the steps own whole are
read too: the LDAP/SQL args files, /etc/postfix/virtual, ldap-aliases.cf and
the global Sieve filter. Most answers say themselves where they are read
from (a field's `read=` declaration, readback.py), and read_config walks
those; the code here reads only what a declaration cannot say (READ_BY_CODE).

A program (Postfix, Dovecot) whose settings are all still those of the
platform's fresh install (the same reader applied to platforms/fresh/<name>)
prefills nothing, so a fresh host keeps the wizard's defaults; once one of
them differs, all of that program's settings are taken as they are.
Passwords found inline are never taken: a file reference (`<path`) becomes
the `*_file` answer, an inline password is left for the administrator to
type (a note says so). Settings without an answer equivalent are not read:
the plan edits single settings, so they stay as they are.

cli.build_session prefills only when no answers were given (no --answers,
--resume, verify or rollback, no --platform): a given file is the whole
truth, so re-runs with it behave as before. prefill() itself would let a
file win key by key, should partial files be merged with the host later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailwizard.answers import (
    LIMIT_DEFAULTS,
    READ_BACKS,
    Answers,
    MailboxDef,
    check_domain,
    check_fqdn,
    default_mailboxes,
    in_file,
)
from mailwizard.host import Host, readable_text
from mailwizard.platform import Profile
from mailwizard.readback import address_host, address_port, words

DOVECOT_DEFAULT_PROTOCOLS = "imap pop3 lmtp"  # Dovecot 2.3's built-in value
HIDDEN = ("ssl_key", "ssl_dh", "doveadm_password")  # doveconf -n shows "# hidden" for these
_OPEN = re.compile(r'^\s*([A-Za-z_][\w-]*)(?:\s+("[^"]*"|[^\s{]+))?\s*\{\s*$')
_CLOSE = re.compile(r"^\s*\}\s*$")
_SETTING = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*=\s?(.*?)\s*$")
_INCLUDE = re.compile(r"^\s*!include(_try)?\s+(\S+)\s*$")


# The answers read by code rather than by a field's declaration (answers.py, readback.py): what a file's
# content decides, or several settings together; the rest of what existing.py reads is declared. Where a step
# owns the topic, its read_back reads them (steps/tls, acme, sieve, replication, postfix_relay, dkim).
READ_BY_CODE = (
    "tls.dh",  # the DH file's content: the group wizard writes, a generated one, or the file itself
    "tls.acme", "tls.acme_server",  # certbot's renewal configuration of the certificate's lineage (steps/acme)
    "mailboxes",  # the inbox namespace's mailbox blocks, less what the fresh install has
    "dovecot.enabled",  # a null client whose host has no Dovecot configuration
    "sieve.spam_filter", "sieve.spam_folder",  # sieve_before names the wizard's script, whose rule names the folder
    "replication.password_file",  # the copy under Dovecot's directory names the administrator's file
    "postfix.mode",  # mydestination and relayhost together; the other Postfix declarations ask it first
    # virtual_transport or mailbox_transport, whichever delivers by LMTP
    "postfix.delivery", "postfix.lmtp_host", "postfix.lmtp_port", "postfix.virtual_mailboxes",
    "postfix.virtual_mailbox_domains",
    # virtual_alias_maps: the kind of table it names, and that table's content
    "postfix.virtual_alias_source", "postfix.virtual_aliases", "postfix.virtual_alias_domains",
    "postfix.ldap_aliases.server_host", "postfix.ldap_aliases.search_base", "postfix.ldap_aliases.query_filter",
    "postfix.ldap_aliases.result_attribute",
    "postfix.limits",  # a table of Postfix's own parameters, each typed by its default
    "postfix.relay_user",  # the relay host's line of smtp_sasl_password_maps
    "dkim.enabled", "dkim.selector", "dkim.domains",  # the milter, then opendkim.conf
)


@dataclass
class Found:
    """What the host's configuration says, by answers key (`postfix.mynetworks`, `mailboxes`, ...)."""

    values: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was seen but not taken, and why


# --- Dovecot's configuration as a tree ----------------------------------------

def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        out, chars = [], iter(value[1:-1])
        for ch in chars:
            out.append(next(chars, "") if ch == "\\" else ch)
        return "".join(out)
    return value


def parse_tree(text: str) -> dict:
    """`doveconf -n`-style text as nested dicts: {setting: value, "service lmtp": {...}}.

    A block named twice is merged and a later value wins, as Dovecot reads
    named blocks; a quoted block name loses its quotes (`mailbox Sent Messages`).
    """
    root: dict = {}
    stack = [root]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if m := _OPEN.match(line):
            header = m.group(1) + (f" {_unquote(m.group(2))}" if m.group(2) else "")
            child = stack[-1].setdefault(header, {})
            if not isinstance(child, dict):
                child = stack[-1][header] = {}
            stack.append(child)
        elif _CLOSE.match(line):
            if len(stack) > 1:
                stack.pop()
        elif m := _SETTING.match(line):
            key, value = m.group(1), _unquote(m.group(2))
            if key == "protocols" and len(stack) == 1:
                base = stack[-1].get("protocols", "")
                value = value.replace("$protocols", base)
            stack[-1][key] = value
    return root


def flatten_files(host: Host, path: str, depth: int = 0) -> str:
    """dovecot.conf with every `!include` replaced by the included files (sorted globs)."""
    text = readable_text(host, path)
    if text is None or depth > 10:
        return ""
    directory = path.rsplit("/", 1)[0]
    out = []
    for line in text.splitlines():
        m = _INCLUDE.match(line)
        if not m:
            out.append(line)
            continue
        pattern = m.group(2) if m.group(2).startswith("/") else f"{directory}/{m.group(2)}"
        folder, _, name = pattern.rpartition("/")
        if "*" in name:
            regex = re.compile("^" + re.escape(name).replace(r"\*", ".*") + "$")
            try:
                names = sorted(n for n in host.listdir(folder) if regex.match(n))
            except OSError:
                names = []
        else:
            names = [name]
        for n in names:
            out.append(flatten_files(host, f"{folder}/{n}", depth + 1))
    return "\n".join(out)


def dovecot_tree(host: Host, profile: Profile, use_doveconf: bool = True) -> dict:
    """The Dovecot configuration in effect: `doveconf -n` (and -h for hidden values), else the files."""
    if use_doveconf and host.runs_real_tools:  # a stand-in doveconf knows no configuration
        result = host.run(["doveconf", "-n"])
        lines = [line for line in result.output.splitlines() if not line.startswith("doveconf:")]
        tree = parse_tree("\n".join(lines)) if result.ok else {}
        if tree:
            hidden = [k for k in HIDDEN if str(tree.get(k, "")).startswith("# hidden")]
            if hidden:
                shown = host.run(["doveconf", "-h", *hidden])
                values = shown.output.splitlines() if shown.ok else []
                for key, value in zip(hidden, values):
                    tree[key] = value
                for key in hidden[len(values):]:
                    tree.pop(key, None)
            tree.setdefault("protocols", DOVECOT_DEFAULT_PROTOCOLS)  # -n leaves the default out
            return tree
    tree = parse_tree(flatten_files(host, f"{profile.dovecot_dir}/dovecot.conf"))
    if tree:
        tree.setdefault("protocols", DOVECOT_DEFAULT_PROTOCOLS)
    return tree


def _boxes(value: object) -> list[MailboxDef]:
    """The mailboxes a Found holds under "mailboxes"."""
    return [b for b in value if isinstance(b, MailboxDef)] if isinstance(value, list) else []


def _get(tree: dict, *path: str) -> str | None:
    node: object = tree
    for name in path:
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    return node if isinstance(node, str) else None


def read_args_file(text: str) -> dict[str, str]:
    """An LDAP/SQL args file as Dovecot 2.3 reads it: `key = value`, a quoted value taken literally."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if m := _SETTING.match(line):
            out[m.group(1)] = _unquote(m.group(2))
    return out


# --- Dovecot -> answers --------------------------------------------------------

class _Settings:
    """The host's settings as the fields' read-back declarations (readback.py) ask for them."""

    def __init__(self, tree: dict, values: dict[str, str], services: set, files: dict[str, dict[str, str]]):
        self.tree, self.values, self.services, self.files = tree, values, services, files

    def present(self, program: str) -> bool:
        return bool(self.tree if program == "dovecot" else self.values if program == "postfix"
                    else program in self.files)

    def dovecot(self, path: tuple[str, ...]) -> str | None:
        return _get(self.tree, *path)

    def postconf(self, name: str) -> str | None:
        return self.values.get(name)

    def master(self, services: tuple[str, ...]) -> bool:
        return any((name, "inet") in self.services for name in services)

    def args(self, backend: str, key: str) -> str | None:
        return self.files.get(backend, {}).get(key)


def _args_files(host: Host, tree: dict) -> dict[str, dict[str, str]]:
    """The LDAP or SQL args file Dovecot's passdb reads, by its driver: {} for PAM (or none readable)."""
    driver, path = _get(tree, "passdb", "driver"), _get(tree, "passdb", "args")
    if driver not in ("ldap", "sql") or not path or not path.startswith("/"):
        return {}
    text = readable_text(host, path)
    return {} if text is None else {driver: read_args_file(text)}


def _dovecot(tree: dict, host: Host, profile: Profile, args: dict[str, dict[str, str]], found: Found) -> None:
    from mailwizard.steps import acme, replication, sieve, tls

    v = found.values
    v.update(acme.read_back(host, str(v.get("tls.cert", ""))))
    v.update(tls.read_back(host, profile, _get(tree, "ssl_dh")))
    if args.get("ldap", {}).get("dnpass"):
        found.notes.append("auth.ldap.dnpass: the search account's password is in dovecot-ldap.conf.ext; "
                           "type it on the LDAP screen (or give dnpass_file)")
    connect = args.get("sql", {}).get("connect", "").split()
    if any(w.startswith(("password=", "option_file=")) for w in connect):
        found.notes.append("auth.sql.password: the database password is in Dovecot's SQL configuration; "
                           "type it on the SQL screen (or give password_file)")

    inbox = tree.get("namespace inbox")
    if isinstance(inbox, dict):
        boxes = []
        for header, block in inbox.items():
            if header.startswith("mailbox ") and isinstance(block, dict):
                boxes.append(MailboxDef(header[len("mailbox "):], " ".join(block.get("special_use", "").split()),
                                        block.get("auto", "no")))
        usual = [b.name for b in default_mailboxes()]  # doveconf -n sorts blocks by name: the usual order first
        v["mailboxes"] = sorted(boxes, key=lambda b: usual.index(b.name) if b.name in usual else len(usual))

    if v.get("protocols.sieve"):
        v.update(sieve.read_back(host, _get(tree, "plugin", "sieve_before")))
    if v.get("replication.enabled"):
        values, notes = replication.read_back(host, profile, _get(tree, "doveadm_password"))
        v.update(values)
        found.notes += notes


# --- Postfix -> answers ---------------------------------------------------------

def postfix_values(host: Host) -> dict[str, str]:
    """`postconf -n` as a dict (warnings left out); {} without a main.cf."""
    result = host.run(["postconf", "-n"])
    if not result.ok:
        return {}
    out = {}
    for line in result.output.splitlines():
        key, sep, value = line.partition(" = ")
        if sep and re.fullmatch(r"[A-Za-z0-9_]+", key):
            out[key] = value.strip()
        elif line.endswith(" =") and re.fullmatch(r"[A-Za-z0-9_]+", line[:-2]):
            out[line[:-2]] = ""
    return out


def postfix_services(host: Host) -> set[tuple[str, str]]:
    """(service, type) of every active master.cf entry, from `postconf -M`."""
    result = host.run(["postconf", "-M"])
    if not result.ok:
        return set()
    entries = (line.split() for line in result.output.splitlines()
               if line and not line[0].isspace() and not line.startswith("postconf:"))
    return {(entry[0], entry[1]) for entry in entries if len(entry) >= 8}


def postfix_mode(values: dict[str, str]) -> str:
    """A main.cf that delivers to no domain of its own and relays everything is a null client (guide 2.3)."""
    null = values.get("mydestination") == "" and bool(values.get("relayhost"))
    return "null-client" if null else "internet-site"


def _postfix(values: dict[str, str], host: Host, found: Found) -> None:
    from mailwizard.steps import dkim, postfix_relay

    v = found.values
    # a null client too may log in to its relay host and sign what it sends
    relay, notes = postfix_relay.read_back(host, values)
    v.update(relay)
    found.notes += notes
    v.update(dkim.read_back(host, values))
    if v["postfix.mode"] == "null-client":
        return
    for key, virtual in (("virtual_transport", True), ("mailbox_transport", False)):
        transport = values.get(key, "")
        if not transport.startswith("lmtp:"):
            continue
        v["postfix.delivery"] = "lmtp"
        v["postfix.virtual_mailboxes"] = virtual
        if (host_name := address_host("lmtp:inet")(transport)) is not None:
            v["postfix.lmtp_host"] = host_name
            v["postfix.lmtp_port"] = address_port("lmtp:inet")(transport)
        if virtual:
            domains = words(values.get("virtual_mailbox_domains", ""))
            v["postfix.virtual_mailbox_domains"] = [] if domains == ["$mydomain"] else domains
        break
    table = values.get("virtual_alias_maps", "")
    kind, _, path = table.partition(":")
    aliases: dict[str, str] = {}
    if kind == "ldap" and path.startswith("/"):
        v["postfix.virtual_alias_source"] = "ldap"
        text = readable_text(host, path) or ""
        for key, value in values_of_cf(text).items():
            if key in ("server_host", "search_base", "query_filter", "result_attribute"):
                v[f"postfix.ldap_aliases.{key}"] = value
    elif kind and path.startswith("/") and (table_text := readable_text(host, path)) is not None:
        v["postfix.virtual_alias_source"] = "file"
        for line in table_text.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and not line[0].isspace() and not line.startswith("#"):
                aliases[parts[0]] = ", ".join(words(parts[1]))
        v["postfix.virtual_aliases"] = aliases
    alias_domains = {a.rpartition("@")[2].lower() for a in aliases}
    v["postfix.virtual_alias_domains"] = [d for d in words(values.get("virtual_alias_domains", ""))
                                          if d.lower() not in alias_domains and not d.startswith("$")]
    limits: dict[str, int | str] = {}
    for key, default in LIMIT_DEFAULTS.items():
        if key in values:
            value = values[key]
            if isinstance(default, int) and value.isdigit():
                limits[key] = int(value)
            elif isinstance(default, str):
                limits[key] = value
    v["postfix.limits"] = limits


def values_of_cf(text: str) -> dict[str, str]:
    """A Postfix lookup-table configuration (ldap_table(5)): `key = value` lines."""
    from mailwizard.postfix_conf import main_values

    return main_values(text)


# --- reading, and the difference from a fresh install ----------------------------

def read_config(host: Host, profile: Profile, use_doveconf: bool = True,
                postfix: tuple[dict[str, str], set] | None = None) -> Found:
    """Every answers key the host's configuration determines (fresh-install values included)."""
    found = Found()
    values, services = postfix if postfix is not None else (postfix_values(host), postfix_services(host))
    tree = dovecot_tree(host, profile, use_doveconf)
    settings = _Settings(tree, values, services, _args_files(host, tree))
    if values:
        found.values["postfix.mode"] = postfix_mode(values)  # what the declarations' `when` asks first
    for key, read in READ_BACKS:
        if (value := read.read(settings, found.values)) is not None:
            found.values[key] = value
    if tree:
        _dovecot(tree, host, profile, settings.files, found)
    if values:
        _postfix(values, host, found)
        if found.values.get("postfix.mode") == "null-client" and not tree:
            found.values["dovecot.enabled"] = False
    return found


def fresh_config(profile: Profile) -> Found:
    """The same reading of the platform's fresh-install files (platforms/fresh/<name>)."""
    from mailwizard.postfix_conf import main_values, master_entries

    fresh = Host(profile.fresh_root())
    main = fresh.read_text(f"{profile.postfix_dir}/main.cf") or ""
    services = set(master_entries(fresh.read_text(f"{profile.postfix_dir}/master.cf") or ""))
    return read_config(fresh, profile, use_doveconf=False, postfix=(main_values(main), services))


def _program(key: str) -> str:
    return "postfix" if key.startswith(("server.", "postfix.", "dovecot.")) else "dovecot"


def read_host(host: Host, profile: Profile) -> Found:
    """The host's settings, for each of Postfix and Dovecot whose configuration is no longer the fresh one.

    A program counts as configured when one of its answers keys differs from
    the fresh install (Dovecot's protocols and mailboxes left aside: they
    follow the installed packages). Then all its keys are taken, fresh values
    included: what the administrator left in place stays in place. Of the
    mailboxes only those that differ from the fresh install's are taken (an
    empty list leaves the mailbox settings alone).
    """
    found = read_config(host, profile)
    fresh = fresh_config(profile).values
    missing = object()
    configured = {_program(k) for k, v in found.values.items()
                  if not k.startswith(("protocols.", "mailboxes")) and fresh.get(k, missing) != v}
    values: dict[str, object] = {}
    for key, value in found.values.items():
        if _program(key) not in configured:
            continue
        if key == "mailboxes":
            before = {b.name: b for b in _boxes(fresh.get("mailboxes"))}
            value = [b for b in _boxes(value) if before.get(b.name) != b]
        values[key] = value
    found.values = values
    return found


# --- onto the answers ------------------------------------------------------------

def _set(answers: Answers, key: str, value) -> None:
    if key == "dovecot.enabled":
        answers.dovecot_enabled = value
        return
    if key == "mailboxes":
        answers.mailboxes = list(value)
        return
    *path, name = key.split(".")
    obj = answers
    for part in path:
        obj = getattr(obj, part)
    setattr(obj, name, value)


def prefill(answers: Answers, found: Found) -> list[str]:
    """Set the answers the host determines, except those the answers file gives; the keys set."""
    from mailwizard.steps.postfix_site import virtual_mailboxes

    done = []
    for key, value in found.values.items():
        if in_file(answers.raw, key):
            continue
        _set(answers, key, value)
        done.append(key)
    if "server.hostname" in done and not in_file(answers.raw, "tls") and "tls.cert" not in done:
        answers.tls.cert, answers.tls.key = answers.default_cert_paths()
    p = answers.postfix
    if "postfix.virtual_mailboxes" in done:  # the automatic choice is kept automatic
        wanted, p.virtual_mailboxes = p.virtual_mailboxes, None
        if virtual_mailboxes(answers) != wanted:
            p.virtual_mailboxes = wanted
    for key, mine in (("postfix.tls_cert", answers.tls.cert), ("postfix.tls_key", answers.tls.key)):
        if key in done and getattr(p, key.split(".")[1]) == mine and answers.dovecot_enabled:
            setattr(p, key.split(".")[1], "")  # the same as Dovecot's: "" means "Dovecot's"
    return done


def prefill_from_host(answers: Answers, host: Host, profile: Profile) -> Found:
    """Read the host and prefill `answers`; the Found holds the keys set (values) and notes."""
    found = read_host(host, profile)
    keys = prefill(answers, found)
    found.values = {k: found.values[k] for k in keys}
    return found


MAILNAME = "/etc/mailname"


def host_identity(host: Host) -> dict[str, tuple[str, str]]:
    """What the host says its name and mail domain are: {answers key: (value, where from)}.

    The host name is `hostname -f`'s (a name with a dot only); the mail domain
    /etc/mailname's (Debian's name for the mail domain) when it holds a domain
    other than the host name, else the host name without its first label.
    """
    found: dict[str, tuple[str, str]] = {}
    try:
        name = host.fqdn().strip().lower().rstrip(".")
    except OSError:
        name = ""
    if name and check_fqdn(name) is None:
        found["server.hostname"] = (name, "hostname -f")
    mailname = (host.read_text(MAILNAME) or "").strip().lower().rstrip(".")
    if mailname and mailname != name and check_domain(mailname) is None:
        found["server.domain"] = (mailname, MAILNAME)
    elif "server.hostname" in found and check_domain(parent := name.split(".", 1)[1]) is None:
        found["server.domain"] = (parent, "the host name")
    return found


def prefill_identity(answers: Answers, host: Host) -> None:
    """The host name and the mail domain the host gives, where the answers have none."""
    for key, (value, _) in host_identity(host).items():
        section, name = key.split(".")
        server = getattr(answers, section)
        if not getattr(server, name):
            setattr(server, name, value)


def prefill_session(session, given: bool) -> None:
    """cli.build_session: without answers given (file, journal), start from the host's own configuration.

    The host name and mail domain come from the host itself (host_identity), for another
    platform's simulated host too. Planning for another platform reads nothing else. A
    configuration this user cannot read (a --dry-run without root) leaves the defaults.
    """
    if given:
        return
    prefill_identity(session.answers, session.host)
    if session.offline:
        return
    try:
        found = prefill_from_host(session.answers, session.host, session.profile)
    except OSError:
        return
    session.prefilled = sorted(found.values)


def inferred_notes(session) -> list:
    """`mailwizard verify` with no journal: what the checks compare against, and what was assumed."""
    from dataclasses import fields, is_dataclass

    from mailwizard.plan import Check

    read = {key.split(".")[0] for key in session.prefilled}
    sections = [f.name for f in fields(session.answers)
                if is_dataclass(getattr(session.answers, f.name)) and f.name != "dns"]
    assumed = [name for name in sections if name not in read]
    notes = [Check("configuration", "what is verified", "pass",
                   f"no journal: this host's own Postfix and Dovecot settings ({len(session.prefilled)} read)")]
    if assumed:
        notes.append(Check("configuration", "settings not read from this host", "warn",
                           "not inferable: the defaults were assumed for " + ", ".join(f"[{n}]" for n in assumed),
                           "give what the server should be with --answers FILE to check those too"))
    return notes
