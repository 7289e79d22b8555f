"""Replication (guide 1.4): two-way dsync replication between this server and one partner.

- Prerequisites (checked before anything is planned, shown on the screen):
  the user database can list its users (`doveadm user '*'`; with PAM the
  passwd userdb lists the system users whose uid lies in
  first_valid_uid..last_valid_uid, with SQL the iterate_query does it), mail
  is accessed as the vmail user (the auth step's `override_fields =
  uid=vmail gid=vmail` for every backend; on a running Dovecot
  `doveadm user -f uid` says so), and both servers use the same user
  database, which only the administrator can confirm. What can only be seen
  on a running Dovecot is checked when it runs, else left to verify.
- conf.d/10-replication.conf, whole from templates/, 0600 root:root from the
  start: the notify and replication plugins, `service replicator`,
  `service aggregator`, `service doveadm { inet_listener { port } }`,
  `mail_replica = tcp:PARTNER:PORT`, `replication_max_conns`; no `doveadm_port`,
  which would make every `doveadm -u USER` ask the passdb whether USER is
  proxied (PAM cannot say: "Configured passdbs don't support credentials lookups").
- The doveadm password: with a password file, `doveadm_password = <FILE`:
  Dovecot's config process reads the file (all of it, a final line break
  included, so both servers must use the same file), and the configuration
  holds no secret. That process runs confined as dovecot_t under SELinux and
  may not search /root (admin_home_t): a file outside /etc/dovecot (such as
  the guide's /root/doveadm.pass) is copied byte for byte to
  /etc/dovecot/private/doveadm.pass (0600 root:root in a 0700 directory,
  dovecot_etc_t by the policy, no local rule needed), and Dovecot reads the
  copy; the answers keep naming the administrator's file. A password typed
  on the screen is written into 10-replication.conf itself (double-quoted),
  and that file is then secret-bearing.
- SELinux: `setsebool -P nis_enabled on` (Dovecot opens the doveadm port);
  firewalld: one rich rule per partner address, a reload (lmtp.admit_changes).
- The partner's answers file (0600 root:root): these answers with the partner
  and this host swapped, secrets only as file references, so that
  `mailwizard --answers partner.toml` on the partner asks only what differs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mailwizard import answers as answers_mod, safe_read
from mailwizard.answers import Answers, Problem, check_host, check_path, check_source, host_port
from mailwizard.dovecot_conf import doveconf_n, get_setting
from mailwizard.host import Host, readable_text
from mailwizard.plan import Change, Check, Effects, EnsureDir, PlanContext, WriteFile, service_running
from mailwizard.platform import Profile
from mailwizard.readback import file_ref
from mailwizard.steps import Step
from mailwizard.steps.auth_ldap import args_value, fill_template, secret_problem, secret_problems
from mailwizard.steps.firewall import managed
from mailwizard.steps.install import install_unfinished
from mailwizard.steps.lmtp import admit_changes, admit_checks, admit_problems
from mailwizard.steps.selinux import boolean_state, set_boolean

CONF_NAME = "conf.d/10-replication.conf"
DEFAULT_PARTNER_ANSWERS = "/var/lib/mailwizard/partner.toml"
SELINUX_BOOLEAN = "nis_enabled"
SECRET_TYPE = "dovecot_etc_t"  # a label Dovecot's config process may read
WHOSE = "the doveadm replication service"
KEY = "replication.prerequisites"  # problems of the prerequisites (no field of their own)


def conf_path(profile: Profile) -> str:
    return f"{profile.dovecot_dir}/{CONF_NAME}"


def partner_answers_path(answers: Answers) -> str:
    return answers.replication.partner_answers or DEFAULT_PARTNER_ANSWERS


def applies(answers: Answers) -> bool:
    return answers.dovecot_enabled and answers.replication.enabled


# --- prerequisites (guide 1.4, "Prerequisites") ----------------------------------

@dataclass
class Prerequisite:
    title: str
    status: str  # "pass", "fail", "unknown" (checked once Dovecot runs) or "confirm" (the admin's word)
    detail: str


def dovecot_running(ctx: PlanContext) -> bool:
    """Dovecot runs, completely installed: only then does doveadm speak for the configuration."""
    return not install_unfinished(ctx) and \
        ctx.fact("dovecot running", lambda: service_running(ctx.host, ctx.profile, "dovecot"))


def listed_users(host: Host) -> tuple[bool, list[str], str]:
    """`doveadm user '*'`: (ran, users, what it said)."""
    result = host.run(["doveadm", "user", "*"], timeout=60)
    users = [line.strip() for line in result.output.splitlines() if line.strip()]
    return result.ok, users if result.ok else [], result.output.strip()[-300:]


def _system_users(answers: Answers, ctx: PlanContext) -> list[str] | None:
    """System users the passwd userdb lists (uid in first..last_valid_uid), None when unknown."""
    text = None if ctx.offline else ctx.read_text("/etc/passwd")
    if text is None:
        return None
    first, last = answers.auth.first_valid_uid, answers.auth.last_valid_uid
    out = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[2].isdigit() and fields[0] != answers.mailbox.user:
            uid = int(fields[2])
            if uid >= first and (not last or uid <= last):
                out.append(fields[0])
    return out


def _listing(answers: Answers, ctx: PlanContext) -> tuple[Prerequisite, list[str]]:
    title = "the user database lists its users (doveadm user '*')"
    backend = answers.auth.backend
    if backend == "sql" and not answers.auth.sql.iterate_query.strip():
        return Prerequisite(title, "fail", "auth.sql.iterate_query is empty: Dovecot cannot list the "
                            "users, and the replicator would know nobody"), []
    if not ctx.offline and dovecot_running(ctx):
        _ran, users, said = ctx.fact("doveadm user *", lambda: listed_users(ctx.host))
        if users:
            shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
            return Prerequisite(title, "pass", f"doveadm user '*' lists {len(users)}: {shown}"), users
        return Prerequisite(title, "fail", f"doveadm user '*' lists nobody ({said or 'no output'})"
                            + ("; with PAM only system users with a uid in first_valid_uid.."
                               "last_valid_uid are listed" if backend == "pam" else "")), []
    if backend == "pam":
        users = _system_users(answers, ctx)
        if users is None:
            return Prerequisite(title, "unknown", "the passwd userdb lists the system users with a uid in "
                                "first_valid_uid..last_valid_uid; checked on the target host"), []
        if not users:
            last = answers.auth.last_valid_uid or "any"
            return Prerequisite(title, "fail", f"no system user has a uid in {answers.auth.first_valid_uid}.."
                                f"{last}: the passwd userdb would list nobody; add the mail users first"), []
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        return Prerequisite(title, "pass", f"the passwd userdb lists the system users with a uid in "
                            f"range: {shown}; doveadm confirms it once Dovecot runs"), []
    how = "iterate_query" if backend == "sql" else "its posixAccount entries (Dovecot's iterate_filter)"
    return Prerequisite(title, "unknown", f"the {backend} userdb lists users with {how}; "
                        "doveadm user '*' checks it once Dovecot runs"), []


def _vmail(answers: Answers, ctx: PlanContext, users: list[str]) -> Prerequisite:
    user = answers.mailbox.user
    title = f"mail is accessed as the {user} user"
    if users and not ctx.offline:
        uid = ctx.host.uid(user)
        got = ctx.fact(f"doveadm user -f uid {users[0]}",
                       lambda: ctx.host.run(["doveadm", "user", "-f", "uid", users[0]], timeout=60))
        value = got.output.strip()
        if got.ok and uid is not None and value == str(uid):
            return Prerequisite(title, "pass", f"doveadm user -f uid {users[0]}: {value} ({user})")
        return Prerequisite(title, "fail", f"doveadm user -f uid {users[0]} gives {value or got.output[-200:]!r}, "
                            f"not {user}'s uid {uid}: the userdb must return uid={user} gid={user}")
    return Prerequisite(title, "pass", f"the {answers.auth.backend} userdb gets override_fields = uid={user} "
                        f"gid={user} (Authentication step); doveadm confirms it once Dovecot runs")


def prerequisites(answers: Answers, ctx: PlanContext) -> list[Prerequisite]:
    """The guide's three prerequisites, checked where they can be (this host may run commands)."""
    listing, users = _listing(answers, ctx)
    partner = answers.replication.partner or "the partner"
    same = ("the same system users (names) on both servers" if answers.auth.backend == "pam"
            else f"the same {answers.auth.backend.upper()} server and settings on both servers")
    return [listing, _vmail(answers, ctx, users),
            Prerequisite("both servers use the same user database", "confirm",
                         f"{same}: the wizard cannot see {partner}'s; the guide prefers LDAP or SQL")]


# --- validate ------------------------------------------------------------------

def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    if not applies(answers):
        return []
    r = answers.replication
    problems: list[Problem] = []

    def bad(key: str, message: str, severity: str = "error") -> None:
        problems.append(Problem(f"replication.{key}", message, severity))

    if not r.partner:
        bad("partner", "is empty: give the other server's host name, e.g. server2.example.com")
    elif msg := check_host(r.partner, "partner server"):
        bad("partner", msg.replace("relay.example.com", "server2.example.com"))
    elif r.partner.lower() == answers.server.hostname:
        bad("partner", f"{r.partner} is this server ([server] hostname): give the other server")
    if not 1 <= r.port <= 65535:
        bad("port", f"{r.port} is not a TCP port (1-65535); the guide uses 12345")
    elif answers.protocols.lmtp and answers.lmtp.listener == "inet" and r.port == answers.lmtp.port:
        bad("port", f"{r.port} is the LMTP port: choose another, e.g. 12345")
    elif answers.auth.sasl_listener == "inet" and r.port == answers.auth.sasl_port:
        bad("port", f"{r.port} is Dovecot's SASL port ([auth] sasl_port): choose another, e.g. 12345")
    if r.max_conns < 1:
        bad("max_conns", f"{r.max_conns}: at least 1 dsync process is needed (Dovecot's default is 10)")
    for value in r.partner_addresses:
        if msg := check_source(value):
            bad("partner_addresses", msg)
    if managed(answers, ctx.profile) and not r.partner_addresses:
        bad("partner_addresses", f"is empty: the firewall would keep port {r.port} closed to "
            f"{r.partner or 'the partner'}; give its addresses, e.g. 192.0.2.1/32 2001:db8:2::1/128")
    else:
        problems += admit_problems(answers, ctx, "replication.partner_addresses", r.port, r.partner_addresses,
                                   "the doveadm service", "serves every mailbox, to anyone with the password,",
                                   "the partner")
    problems += secret_problems("replication", "password", r.password, "password_file", r.password_file,
                                WHOSE, "/root/doveadm.pass", "Replication", ctx)
    if r.password_file and not r.password and not problems_at(problems, "replication.password_file"):
        meta = None if ctx.offline else ctx.stat(r.password_file)
        if meta is not None and meta.mode & 0o007:
            bad("password_file", f"{r.password_file} is readable by every user (mode {meta.mode:04o}): "
                f"chmod 600 {r.password_file}")
    msg = (r.partner_answers and check_path(r.partner_answers, "partner's answers file", DEFAULT_PARTNER_ANSWERS)) \
        or foreign_file(ctx, partner_answers_path(answers))
    if msg:
        bad("partner_answers", msg)
    for p in prerequisites(answers, ctx):
        if p.status == "fail":
            problems.append(Problem(KEY, f"{p.title}: {p.detail} (guide 1.4, Prerequisites)"))
        elif p.status == "confirm":
            problems.append(Problem(KEY, f"{p.title}: {p.detail}", "warning"))
    return problems


def foreign_file(ctx: PlanContext, path: str) -> str | None:
    """Why the partner's answers must not be written over what is at `path` (None: nothing, or an answers
    file with a [replication] section, as the wizard writes there)."""
    import tomllib

    from mailwizard.journal import DEFAULT_DIR

    if msg := safe_read.destination_problem(ctx.host, path, DEFAULT_DIR, allowed=(DEFAULT_PARTNER_ANSWERS,)):
        return f"{msg} for the partner's answers"
    data, error = safe_read.read_for(ctx, path, safe_read.MAX_ANSWERS)
    if error:
        return f"{error}: give a file name for the partner's answers"
    if data is None:
        return None
    try:
        ours = "replication" in tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        ours = False
    return None if ours else (f"{path} exists and is not an answers file for the partner: the wizard would "
                              "overwrite it; move it away or give another path")


def problems_at(problems: list[Problem], key: str) -> list[Problem]:
    return [p for p in problems if p.key == key]


# --- plan ------------------------------------------------------------------------

PASSWORD_COPY = "private/doveadm.pass"  # under the Dovecot directory: dovecot_etc_t, which Dovecot may read
COPY_NOTE = "mailwizard's copy of "


def dovecot_reads(answers: Answers, dovecot_dir: str = "/etc/dovecot") -> str:
    """The password file Dovecot reads: the administrator's own under the Dovecot directory, else the copy."""
    path = answers.replication.password_file
    return path if path.startswith(dovecot_dir.rstrip("/") + "/") else f"{dovecot_dir}/{PASSWORD_COPY}"


def copied_from(conf_text: str) -> str | None:
    """The administrator's password file that 10-replication.conf says its copy was made from."""
    import re

    m = re.search(rf"^# .*{re.escape(COPY_NOTE)}(/\S+?)[,;:]?(?:\s|$)", conf_text, re.M)
    return m.group(1) if m else None


def read_back(host: Host, profile: Profile, doveadm_password: str | None) -> tuple[dict[str, object], list[str]]:
    """[replication] password_file of a configured host (existing.py): the administrator's file the copy
    Dovecot reads was made from (else the file Dovecot reads), never an inline password (a note says so)."""
    if path := file_ref(doveadm_password or ""):
        return {"replication.password_file": copied_from(readable_text(host, conf_path(profile)) or "") or path}, []
    if doveadm_password:
        return {}, ["replication.password: the doveadm password is written inline in Dovecot's configuration; "
                    "type it (or give password_file)"]
    return {}, []


def password_line(answers: Answers, dovecot_dir: str = "/etc/dovecot") -> tuple[str, bool] | None:
    """(the doveadm_password value, whether it is the secret itself), or None without a password."""
    r = answers.replication
    if r.password:
        if secret_problem(r.password):
            return None
        return args_value(r.password), True
    if r.password_file:
        return "<" + dovecot_reads(answers, dovecot_dir), False
    return None


def render(answers: Answers, password: str, inline: bool, dovecot_dir: str = "/etc/dovecot") -> str:
    r = answers.replication
    comment = ""
    if not inline:
        reads = dovecot_reads(answers, dovecot_dir)
        comment = f"# read by Dovecot from {reads} (the whole file, as it is)"
        if reads != r.password_file:
            comment += (f":\n# {COPY_NOTE}{r.password_file}, where Dovecot (confined as dovecot_t under "
                        "SELinux)\n# may not read; run mailwizard again after changing that file")
    return fill_template("10-replication.conf.tmpl", {
        "partner": r.partner, "port": str(r.port), "replica": "tcp:" + host_port(r.partner, r.port),
        "vmail": answers.mailbox.user,
        "password": password, "password_comment": comment, "max_conns": str(r.max_conns)})


def own_addresses(answers: Answers, ctx: PlanContext) -> list[str]:
    """The addresses this host's name resolves to here (loopback left out), as /32 and /128."""
    if ctx.offline or not answers.server.hostname:
        return []
    result = ctx.fact(f"getent ahosts {answers.server.hostname}",
                      lambda: ctx.host.run(["getent", "ahosts", answers.server.hostname]))
    out: list[str] = []
    for line in result.output.splitlines() if result.ok else []:
        try:
            addr = ipaddress.ip_address(line.split()[0])
        except (ValueError, IndexError):
            continue
        net = f"{addr}/{32 if addr.version == 4 else 128}"
        if not (addr.is_loopback or addr.is_link_local or addr.is_unspecified) and net not in out:
            out.append(net)
    return out


def partner_answers(answers: Answers, addresses: list[str]) -> str:
    """The answers file for the partner: the two servers swapped, no secret, a note of what to do there."""
    here, r = answers.server.hostname, answers.replication
    twin, _ = answers_mod.parse(answers.to_toml())
    is_name = check_host(r.partner) is None and not _is_ip(r.partner)
    if is_name:
        default_cert, default_key = answers.default_cert_paths()
        twin.server.hostname = r.partner.lower()
        if (answers.tls.cert, answers.tls.key) == (default_cert, default_key):
            twin.tls.cert, twin.tls.key = twin.default_cert_paths()
        elif twin.tls.acme:  # the partner obtains its own certificate, kept under its own name
            twin.tls.cert, twin.tls.key = answers_mod.acme_paths(twin.server.hostname)
    twin.replication.partner = here
    twin.replication.partner_addresses = list(addresses)
    twin.replication.partner_answers = ""
    notes = [f"Answers for {r.partner}, the replication partner of {here}: written by mailwizard",
             f"on {here} (guide 1.4, step 5). On {r.partner}, run: mailwizard --answers partner.toml"]
    if r.password_file and not r.password:
        notes.append(f"First copy {r.password_file} from {here} to {r.partner} (same path, mode 0600,")
        notes.append("byte for byte): both servers must use the same doveadm password.")
    else:
        notes.append(f"The doveadm password was typed on {here}: type the same one on the Replication")
        notes.append("screen, or set [replication] password_file to a file holding it.")
    if not addresses:
        notes.append(f"[replication] partner_addresses is empty: {here}'s addresses were not known here;")
        notes.append(f"give the addresses {here} connects from, e.g. [\"192.0.2.1/32\"].")
    if not is_name:
        notes.append(f"[server] hostname is still {here}'s: set {r.partner}'s own name.")
    return "".join(f"# {n}\n" for n in notes) + "\n" + twin.to_toml()


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not applies(answers):
        return []
    r, profile = answers.replication, ctx.profile
    value = password_line(answers, profile.dovecot_dir)
    if value is None:
        return []  # no usable password: validate says why
    password, inline = value
    path = conf_path(profile)
    content = render(answers, password, inline, profile.dovecot_dir).encode()
    changes: list[Change] = []
    copy = dovecot_reads(answers, profile.dovecot_dir)
    if not inline and copy != r.password_file:
        private = copy.rsplit("/", 1)[0]
        changes += [EnsureDir(private, 0o700, "root", "root"),
                    CopySecret(copy, ctx.read(r.password_file) or b"", mode=0o600, owner="root", group="root",
                               secret=True, service="dovecot", source=r.password_file,
                               summary=f"a copy of {r.password_file}, which Dovecot reads (confined as dovecot_t "
                                       "under SELinux, it may not read /root; this file is dovecot_etc_t)",
                               noop_reason=f"{copy} already holds the password of {r.password_file}")]
    changes.append(WriteFile(
        path, content, mode=0o600, owner="root", group="root", secret=inline, service="dovecot",
        validate_with=profile.dovecot_dir,
        summary=f"replicate with tcp:{host_port(r.partner, r.port)} (notify and replication plugins, replicator, "
                f"aggregator, doveadm listener on {r.port}, replication_max_conns = {r.max_conns}); "
                + ("the password inline" if inline else f"the password read from {r.password_file}"),
        noop_reason=f"{path} already holds these replication settings",
        transform=lambda _installed: content))
    if profile.selinux:
        on = ctx.fact(f"getsebool {SELINUX_BOOLEAN}", lambda: boolean_state(ctx.host, SELINUX_BOOLEAN))[0]
        changes.append(set_boolean(
            ctx, SELINUX_BOOLEAN, f"SELinux boolean {SELINUX_BOOLEAN} on: Dovecot may open the doveadm port {r.port}",
            f"{SELINUX_BOOLEAN} is already on" if on else None))
    changes += admit_changes(answers, ctx, r.partner_addresses, r.port, "the replication partner")
    target = partner_answers_path(answers)
    twin = partner_answers(answers, own_addresses(answers, ctx)).encode()
    changes.append(WriteFile(
        target, twin, mode=0o600, owner="root", group="root",
        summary=f"the answers for {r.partner}: `mailwizard --answers {target.rsplit('/', 1)[-1]}` there",
        noop_reason=f"{target} already holds the partner's answers", transform=lambda _installed: twin))
    return changes


@dataclass(eq=False)
class CopySecret(WriteFile):
    """A secret file copied where a confined daemon may read it; the bytes are read again when applied."""

    source: str = ""

    def describe(self) -> str:
        return f"copy {self.source} to {self.path} (0600 root:root): {self.summary}"

    def effects(self, host: Host, work) -> Effects:
        data = host.read(self.source)
        if data is None:
            raise RuntimeError(f"{self.source} does not exist: put the doveadm password in it first")
        self.content = data
        return super().effects(host, work)


def copy_check(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    """The copy Dovecot reads holds the same bytes as the administrator's password file (never shown)."""
    r = answers.replication
    copy = dovecot_reads(answers, profile.dovecot_dir)
    if r.password or not r.password_file or copy == r.password_file:
        return []
    mine, theirs = host.read(copy), host.read(r.password_file)
    good = mine is not None and mine == theirs
    return [Check("replication", f"{copy} is a copy of {r.password_file}", "pass" if good else "fail",
                  "the same bytes" if good else ("missing" if mine is None else "the two files differ"),
                  "" if good else "run mailwizard again: it copies the file (Dovecot reads the copy)")]


# --- verify ----------------------------------------------------------------------

def replicator_failed(table: str) -> list[str]:
    """Users whose last sync failed, from `doveadm replicator status '*'` (last column y)."""
    out = []
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 2 and fields[-1] == "y":
            out.append(fields[0])
    return out


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not applies(answers):
        return []
    r = answers.replication
    checks = []  # 10-replication.conf's mode is checked with every secret-bearing file (steps/files.py)
    ok, text = doveconf_n(host)
    plugins = get_setting(text, "mail_plugins") or ""
    replica = get_setting(text, "mail_replica", ("plugin",))
    want = "tcp:" + host_port(r.partner, r.port)
    good = ok and {"notify", "replication"} <= set(plugins.strip('"').split()) and replica == want
    checks += copy_check(answers, host, profile)
    checks.append(Check("replication", "doveconf shows the replication settings", "pass" if good else "fail",
                        f"mail_plugins = {plugins}; mail_replica = {replica}",
                        "" if good else f"want the notify and replication plugins and mail_replica = {want} "
                        f"({conf_path(profile)})"))
    owner = host.listening().get(r.port)
    good = owner is not None and owner.startswith(("dovecot", "doveadm"))  # or a child holding the socket
    checks.append(Check("replication", f"the doveadm service listens on TCP {r.port}", "pass" if good else "fail",
                        f"held by {owner}" if owner else "nothing listens",
                        "" if good else "reload Dovecot and see its log"))
    _ran, users, said = listed_users(host)
    checks.append(Check("replication", "doveadm user '*' lists the users to replicate",
                        "pass" if users else "fail", f"{len(users)} user(s)" if users else said or "nobody",
                        "" if users else "replication needs a userdb that lists its users (guide 1.4)"))
    summary = host.run(["doveadm", "replicator", "status"], timeout=60)
    checks.append(Check("replication", "doveadm replicator status", "pass" if summary.ok else "fail",
                        summary.output.rstrip(), "" if summary.ok else "is the replicator service running? "
                        "see Dovecot's log"))
    table = host.run(["doveadm", "replicator", "status", "*"], timeout=60)
    failed = replicator_failed(table.output) if table.ok else []
    status = "fail" if not table.ok else "warn" if failed else "pass"
    checks.append(Check("replication", "doveadm replicator status '*'", status, table.output.rstrip(),
                        "" if status == "pass" else
                        f"the last sync failed for {', '.join(failed)}: is {r.partner} reachable on port "
                        f"{r.port} with the same doveadm password? (failures from before the partner was set "
                        "up are retried within minutes; `doveadm replicator replicate -f USER` retries now)"
                        if failed else "see Dovecot's log"))
    test_user = answers.raw.get("auth", {}).get("test_user") if isinstance(answers.raw.get("auth"), dict) else None
    user = test_user if isinstance(test_user, str) and test_user else (users[0] if users else None)
    if user:  # the guide's second table: one user's syncs
        one = host.run(["doveadm", "replicator", "status", user], timeout=60)
        failed = replicator_failed(one.output) if one.ok else []
        status = "fail" if not one.ok else "warn" if failed else "pass"
        checks.append(Check("replication", f"doveadm replicator status {user}", status, one.output.rstrip(),
                            "" if status == "pass" else f"`doveadm replicator replicate -f {user}` retries now; "
                            "see Dovecot's log"))
    if profile.selinux:
        good, said = boolean_state(host, SELINUX_BOOLEAN)
        checks.append(Check("replication", f"SELinux boolean {SELINUX_BOOLEAN}", "pass" if good else "fail", said,
                            "" if good else f"setsebool -P {SELINUX_BOOLEAN} on"))
    checks += admit_checks(answers, host, profile, "replication", r.partner_addresses, r.port)
    return checks


STEP = Step("replication", "Replication", "1.4", plan=plan, verify=verify, validate=validate, applies=applies)
