"""Sieve and ManageSieve (guide 1.8): users' filters uploaded over TLS and run on delivery.

- `conf.d/20-managesieve.conf`: its commented `protocols = $protocols sieve`
  is uncommented, as the guide says (after dovecot.conf's own `protocols`
  line on both platforms, so it adds to the protocols step's list);
  `service managesieve-login { inet_listener sieve { port = N } }`; and,
  as the guide's warning asks, `protocol sieve { ssl = required,
  disable_plaintext_auth = yes }`: no login before STARTTLS.
- The guide stops at ManageSieve; uploaded scripts run only when the
  delivery agent loads the Sieve plugin: `protocol lmtp { mail_plugins =
  $mail_plugins sieve }` in `conf.d/20-lmtp.conf`.
- The administrator's global filter the guide mentions: a `sieve_before`
  script (`/etc/dovecot/sieve/spam-to-junk.sieve`) files mail flagged
  `X-Spam-Flag: YES` into the spam folder (`fileinto :create`, so the
  folder exists even if no mailbox setting auto-creates it), compiled with
  `sievec`: the delivery process runs as the mail user and cannot write a
  compiled copy into /etc/dovecot.
- A port other than 4190 gets its SELinux label (`sieve_port_t`) and a
  firewalld port; the `managesieve` service itself is the firewall step's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailwizard import probes
from mailwizard.answers import Answers, Problem
from mailwizard.dovecot_conf import doveconf_n, edit_dovecot, get_setting, set_setting
from mailwizard.host import Host, readable_text
from mailwizard.plan import Change, Check, Command, Effects, PlanContext, RemoveFile, WriteFile
from mailwizard.platform import Profile
from mailwizard.steps import NOT_CHECKABLE, Step
from mailwizard.steps.firewall import managed, query, reload_change

STANDARD_PORT = 4190  # firewalld's managesieve service; labelled sieve_port_t by the SELinux policy
SCRIPT_DIR = "/etc/dovecot/sieve"
SPAM_SCRIPT = f"{SCRIPT_DIR}/spam-to-junk.sieve"
SPAM_BINARY = f"{SCRIPT_DIR}/spam-to-junk.svbin"
LOGIN = ("service managesieve-login", "inet_listener sieve")
PROTOCOL = ("protocol sieve",)
LMTP = ("protocol lmtp",)
PLUGIN = ("plugin",)
ADD_SIEVE = "$protocols sieve"
_FOLDER_FORBIDDEN = set('"\\*%') | {"\n", "\r", "\t"}


def conf(profile: Profile, name: str) -> str:
    return f"{profile.dovecot_dir}/conf.d/{name}"


def spam_script(folder: str) -> bytes:
    """The global filter: flagged mail into the folder, and nothing else runs for it."""
    return ("# Written by mailwizard (guide 1.8): mail a spam filter flagged goes to the spam folder.\n"
            "# Runs before the users' own scripts (sieve_before in conf.d/90-sieve.conf); compiled\n"
            f"# with `sievec {SPAM_SCRIPT}` after every change.\n"
            'require ["fileinto", "mailbox"];\n'
            'if header :is "X-Spam-Flag" "YES" {\n'
            f'  fileinto :create "{folder}";\n'
            "  stop;\n"
            "}\n").encode()


def read_back(host: Host, sieve_before: str | None) -> dict[str, object]:
    """The spam filter answers of a configured host (existing.py): on where sieve_before names the wizard's
    script, whose rule names the folder."""
    on = sieve_before == SPAM_SCRIPT
    out: dict[str, object] = {"sieve.spam_filter": on}
    script = readable_text(host, SPAM_SCRIPT) if on else None
    if script and (m := re.search(r'fileinto :create "((?:[^"\\]|\\.)*)"', script)):
        out["sieve.spam_folder"] = m.group(1)
    return out


def auto_created(answers: Answers) -> set[str]:
    """Mailboxes Dovecot creates itself (Mailboxes screen, auto = create or subscribe)."""
    return {box.name for box in answers.mailboxes if box.auto in ("create", "subscribe")}


def enabled(answers: Answers) -> bool:
    return answers.dovecot_enabled and answers.protocols.sieve


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    if not enabled(answers):
        return []
    s = answers.sieve
    problems: list[Problem] = []
    if not 1 <= s.port <= 65535:
        problems.append(Problem("sieve.port", f"{s.port} is not a TCP port (1-65535); ManageSieve's is 4190"))
    else:
        taken = {143: "IMAP", 993: "IMAPS", 110: "POP3", 995: "POP3S", 25: "SMTP", 587: "submission",
                 465: "submissions"}
        if answers.protocols.lmtp and answers.lmtp.listener == "inet":
            taken[answers.lmtp.port] = "LMTP"
        if s.port in taken:
            problems.append(Problem("sieve.port", f"{s.port} is {taken[s.port]}'s port; ManageSieve's is 4190"))
    if s.lmtp_plugin and not answers.protocols.lmtp:
        problems.append(Problem("sieve.lmtp_plugin", "LMTP is off (Protocols screen): the Sieve plugin is "
                                "loaded for LMTP, so scripts will not run on delivery", "warning"))
    if not s.spam_filter:
        return problems
    if not s.lmtp_plugin:
        problems.append(Problem("sieve.spam_filter", "the global filter runs when scripts run on delivery: "
                                "turn on running the users' scripts too, or turn the filter off"))
    folder = s.spam_folder
    bad = sorted(_FOLDER_FORBIDDEN & set(folder))
    if not folder.strip():
        problems.append(Problem("sieve.spam_folder", "is empty: give the folder spam goes to, e.g. Junk"))
    elif bad or folder != folder.strip():
        shown = " ".join(repr(c) for c in bad) if bad else "spaces at either end"
        problems.append(Problem("sieve.spam_folder", f"{folder!r} cannot be a folder name in a Sieve script "
                                f"({shown}): use letters, digits, spaces, . _ -"))
    elif folder.upper() == "INBOX":
        problems.append(Problem("sieve.spam_folder", "INBOX is where mail goes anyway: name a spam folder, "
                                "e.g. Junk"))
    elif folder not in auto_created(answers):
        problems.append(Problem("sieve.spam_folder", f"{folder} is not among the mailboxes Dovecot creates "
                                "(Mailboxes screen): it will be created at the first flagged message", "warning"))
    return problems


@dataclass(eq=False)
class CompileSieve(Command):
    """`sievec SCRIPT`: the compiled .svbin beside it is journalled, so rollback removes it too."""

    binary: str = SPAM_BINARY
    reversible: bool = True

    def effects(self, host: Host, work) -> Effects:
        return super().effects(host, work).write(self.binary, None)


def compiled_current(ctx: PlanContext, content: bytes) -> bool:
    """Whether the script on the host already has this content and an up-to-date .svbin."""
    if ctx.read(SPAM_SCRIPT) != content or not ctx.exists(SPAM_BINARY):
        return False
    script, binary = ctx.host.real(SPAM_SCRIPT), ctx.host.real(SPAM_BINARY)
    try:
        return binary.stat().st_mtime_ns >= script.stat().st_mtime_ns
    except OSError:
        return False


def _comment_out_before(data: bytes) -> bytes:
    """`sieve_before = SPAM_SCRIPT` commented out (the filter was turned off)."""
    pattern = re.compile(rf"^(\s*)(sieve_before\s*=\s*{re.escape(SPAM_SCRIPT)}\s*)$")
    lines = [pattern.sub(r"\1#\2", line) for line in data.decode("utf-8", "surrogateescape").splitlines()]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def lmtp_plugins(current: str | None, on: bool) -> str:
    words = (current or "$mail_plugins").split()
    if on and "sieve" not in words:
        words.append("sieve")
    if not on:
        words = [w for w in words if w != "sieve"]
    return " ".join(words or ["$mail_plugins"])


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not enabled(answers):
        return []
    s, profile = answers.sieve, ctx.profile

    def protocols_line(data: bytes) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        if get_setting(text, "protocols") != ADD_SIEVE:
            text = set_setting(text, "protocols", ADD_SIEVE)
        return text.encode("utf-8", "surrogateescape")

    changes: list[Change] = [edit_dovecot(
        ctx, conf(profile, "20-managesieve.conf"),
        [(LOGIN, "port", str(s.port)), (PROTOCOL, "ssl", "required"), (PROTOCOL, "disable_plaintext_auth", "yes")],
        transform=protocols_line,
        summary=f"ManageSieve: protocols = {ADD_SIEVE}, port {s.port}, TLS required before login",
        noop_reason=f"ManageSieve is already enabled on port {s.port} with TLS required")]
    if answers.protocols.lmtp:
        lmtp_conf = conf(profile, "20-lmtp.conf")
        current = get_setting(ctx.read_text(lmtp_conf) or "", "mail_plugins", LMTP)
        value = lmtp_plugins(current, s.lmtp_plugin)
        what = "run the users' Sieve scripts when LMTP delivers" if s.lmtp_plugin else \
            "LMTP delivers without running Sieve scripts"
        changes.append(edit_dovecot(ctx, lmtp_conf, [(LMTP, "mail_plugins", value)],
                                    summary=f"protocol lmtp {{ mail_plugins = {value} }}: {what}",
                                    noop_reason=f"protocol lmtp already has mail_plugins = {value}"))
    changes += spam_filter(answers, ctx)
    changes += port_access(answers, ctx)
    return changes


def _comment_out_protocols(data: bytes) -> bytes:
    pattern = re.compile(r"^(\s*)(protocols\s*=\s*\$protocols\s+sieve\s*)$")
    lines = [pattern.sub(r"\1#\2", line) for line in data.decode("utf-8", "surrogateescape").splitlines()]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def turned_off(answers: Answers, ctx: PlanContext) -> list[Change]:
    """ManageSieve off (planned by the protocols step, as this step then does not apply): the line
    an earlier run uncommented is commented out again, so Dovecot stops listening on the port."""
    path = conf(ctx.profile, "20-managesieve.conf")
    if not answers.dovecot_enabled or answers.protocols.sieve or \
            get_setting(ctx.read_text(path) or "", "protocols") != ADD_SIEVE:
        return []
    return [edit_dovecot(ctx, path, transform=_comment_out_protocols,
                         summary="ManageSieve is off: `protocols = $protocols sieve` commented out",
                         noop_reason="ManageSieve is not enabled")]


def spam_filter(answers: Answers, ctx: PlanContext) -> list[Change]:
    s = answers.sieve
    sieve_conf = conf(ctx.profile, "90-sieve.conf")
    before = get_setting(ctx.read_text(sieve_conf) or "", "sieve_before", PLUGIN)
    if not s.spam_filter:
        out: list[Change] = []
        if before == SPAM_SCRIPT:
            out.append(edit_dovecot(ctx, sieve_conf, transform=_comment_out_before,
                                    summary="the global spam filter is off: sieve_before commented out",
                                    noop_reason="no global spam filter runs"))
        out += [RemoveFile(SPAM_SCRIPT, "the global spam filter is off"),
                RemoveFile(SPAM_BINARY, "the global spam filter is off")]
        return out
    content = spam_script(s.spam_folder)
    current = compiled_current(ctx, content)
    return [
        WriteFile(SPAM_SCRIPT, content, mode=0o644, summary=f"global filter: X-Spam-Flag: YES into {s.spam_folder}",
                  noop_reason=f"{SPAM_SCRIPT} already files spam into {s.spam_folder}"),
        edit_dovecot(ctx, sieve_conf, [(PLUGIN, "sieve_before", SPAM_SCRIPT)],
                     summary=f"plugin {{ sieve_before = {SPAM_SCRIPT} }}: the global filter runs first",
                     noop_reason="the global filter already runs before the users' scripts"),
        CompileSieve(argv=["sievec", SPAM_SCRIPT], summary=f"compile the global filter into {SPAM_BINARY}",
                     noop_reason=f"{SPAM_BINARY} is up to date" if current else None),
    ]


def port_access(answers: Answers, ctx: PlanContext) -> list[Change]:
    """A non-standard port: its SELinux label and a firewalld port (4190 is the firewall step's service)."""
    from mailwizard.steps.lmtp import port_label_undo, selinux_port_type

    port, profile = answers.sieve.port, ctx.profile
    if port == STANDARD_PORT:
        return []
    out: list[Change] = []
    if profile.selinux:
        label = selinux_port_type(ctx, port)
        verb = "-m" if label not in (None, "sieve_port_t") else "-a"
        out.append(Command(
            argv=["semanage", "port", verb, "-t", "sieve_port_t", "-p", "tcp", str(port)],
            summary=f"label TCP port {port} sieve_port_t for SELinux, so Dovecot may listen on it",
            noop_reason=f"port {port} is already labelled sieve_port_t" if label == "sieve_port_t" else None,
            undo=[port_label_undo(label, port)]))
    if managed(answers, profile):
        present = query(ctx, ["--permanent", f"--query-port={port}/tcp"])
        opened = Command(argv=["firewall-cmd", "--permanent", f"--add-port={port}/tcp"],
                         summary=f"open ManageSieve's port {port} in the firewall",
                         noop_reason=f"the firewall already allows TCP {port}" if present else None,
                         undo=[["firewall-cmd", "--permanent", f"--remove-port={port}/tcp"]])
        out += [opened, reload_change([opened])]
    return out


# --- verify -------------------------------------------------------------------

def words(value: str | None) -> list[str]:
    """A list setting as `doveconf -n` shows it: quoted when it starts with a space (`" sieve"`)."""
    return (value or "").strip('"').split()


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not enabled(answers):
        return []
    s = answers.sieve
    checks: list[Check] = []
    ok, text = doveconf_n(host)
    protocols = words(get_setting(text, "protocols"))
    good = ok and "sieve" in protocols and get_setting(text, "ssl", PROTOCOL) == "required"
    checks.append(Check("sieve", "doveconf shows ManageSieve with TLS required", "pass" if good else "fail",
                        f"protocols = {' '.join(protocols)}; protocol sieve {{ ssl = "
                        f"{get_setting(text, 'ssl', PROTOCOL)} }}",
                        "" if good else f"see {conf(profile, '20-managesieve.conf')}"))
    checks.append(managesieve_check(host, s.port))
    if answers.protocols.lmtp:
        plugins = words(get_setting(text, "mail_plugins", LMTP))
        good = ("sieve" in plugins) == s.lmtp_plugin
        checks.append(Check("sieve", "LMTP runs Sieve scripts" if s.lmtp_plugin else "LMTP runs no Sieve scripts",
                            "pass" if good else "fail", f"protocol lmtp {{ mail_plugins = {' '.join(plugins)} }}",
                            "" if good else f"see protocol lmtp in {conf(profile, '20-lmtp.conf')}"))
    if s.spam_filter:
        before = get_setting(text, "sieve_before", PLUGIN)
        result = host.run(["sievec", "-d", SPAM_SCRIPT, "-"], timeout=60)  # dumps to stdout: writes nothing
        good = result.ok and before == SPAM_SCRIPT and host.exists(SPAM_BINARY)
        evidence = f"sieve_before = {before}; sievec {'compiles' if result.ok else 'fails'} {SPAM_SCRIPT}"
        if not result.ok:
            evidence += ": " + result.output.strip()[-300:]
        checks.append(Check("sieve", f"global filter files X-Spam-Flag: YES into {s.spam_folder}",
                            "pass" if good else "fail", evidence,
                            "" if good else f"sievec {SPAM_SCRIPT}; see plugin in {conf(profile, '90-sieve.conf')}"))
    return checks


def managesieve_check(host: Host, port: int) -> Check:
    name = f"ManageSieve on {port} offers STARTTLS and SIEVE"
    if not host.can_probe_network:  # who holds the port is known; what it offers is not
        owner = host.listening().get(port)
        good = owner is not None and owner.startswith("dovecot")
        if good:
            return Check("sieve", name, "warn", f"held by {owner}; STARTTLS and SIEVE {NOT_CHECKABLE}")
        return Check("sieve", name, "fail", f"held by {owner}" if owner else "nothing listens",
                     "is Dovecot running? see `doveconf -n` and its log")
    got = probes.tls("127.0.0.1", port, "sieve", False)
    if not got.ok and not got.offered:
        return Check("sieve", name, "fail", got.error,
                     "is Dovecot running with protocols including sieve? see its log")
    starttls = any(o.startswith("STARTTLS") for o in got.offered)
    sieve_ext = next((o.split(" ", 1)[1] for o in got.after + got.offered
                      if o.startswith("SIEVE ")), "")
    sasl = next((o.split(" ", 1)[1] for o in got.after if o.startswith("SASL ")), "(none)")
    implementation = next((o.split(" ", 1)[1] for o in got.offered if o.startswith("IMPLEMENTATION ")), "?")
    good = got.ok and starttls and bool(sieve_ext)
    evidence = (f"{implementation}; STARTTLS {'offered' if starttls else 'missing'}"
                f"{f', then {got.version}' if got.ok else ''}; SASL after TLS: {sasl}; SIEVE: {sieve_ext or '(none)'}")
    return Check("sieve", name, "pass" if good else "fail", evidence,
                 "" if good else "check ssl_cert/ssl_key (10-ssl.conf) and the Dovecot log")


STEP = Step("sieve", "Sieve", "1.8", plan=plan, verify=verify, validate=validate, applies=enabled)
