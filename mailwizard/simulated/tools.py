"""The system tools a simulated host runs, simulated on its state and its file tree.

Every command is recorded (`FakeHost.commands`) and answered as the real tool
would for what the plans use: package managers (dnf, apt-get, dpkg, rpm),
services (systemctl, service), accounts (useradd, chown, chmod), firewall-cmd
(with the services each firewalld version ships), the SELinux tools (semanage,
setsebool, getsebool, getenforce, matchpathcon, restorecon), Postfix's postconf
(mailwizard's own emulation), postmap and postalias, sievec, openssl dhparam,
opendkim-genkey (a real RSA key, one per process), rm.
Any other command succeeds and prints nothing: its output proves nothing.
"""

from __future__ import annotations

import functools

from mailwizard.host import CommandFailed, Result
from mailwizard.simulated.tree import FileTree

# firewalld services the simulated firewall knows, in every firewalld version the platforms ship (1.x on
# RHEL 9 and Debian 12, 2.x on RHEL 10; checked in Debian's firewalld 1.3.3), and those added later
FIREWALLD_SERVICES = {"ssh", "dhcpv6-client", "cockpit", "http", "https", "smtp", "smtps", "smtp-submission",
                      "imap", "imaps", "pop3", "pop3s", "managesieve", "mysql", "ldap", "ldaps"}
FIREWALLD_LATER_SERVICES = {"submission": (2, 1)}
# the configuration file without which Debian's init script answers `status` with exit 0 and no word (a package
# killed between unpacking and configuring has its directory, not yet the file)
QUIET_WITHOUT_CONFIG = {"dovecot": "/etc/dovecot/dovecot.conf", "postfix": "/etc/postfix/main.cf"}


def firewalld_has_service(version: str, service: str) -> bool:
    """Whether firewalld `version` ships the service `service` ("" for the version: any name is taken)."""
    if not version:
        return True
    if service in FIREWALLD_SERVICES:
        return True
    since = FIREWALLD_LATER_SERVICES.get(service)
    have = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    return since is not None and have >= since


@functools.cache
def _dkim_key() -> bytes:
    """A private key as opendkim-genkey writes it (PEM, RSA 2048), made once per process."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())


class SimulatedTools(FileTree):
    """A host whose commands are simulated: `run` records the argv and answers from the state."""

    commands: list[list[str]]
    runs_real_tools = False  # stand-ins: doveconf prints nothing, openssl dhparam writes a placeholder

    def command_path(self, path: str) -> str:
        """The host's own path: the simulated tools work inside its root."""
        return path

    def run(self, argv, *, input=None, env=None, on_line=None, check=False, timeout=None) -> Result:
        argv = list(argv)
        self.commands.append(argv)
        rc, out = self._simulate(argv, input)
        if on_line:
            for line in out.splitlines():
                on_line(line)
        result = Result(argv, rc, out)
        if check and rc != 0:
            raise CommandFailed(result)
        return result

    def _simulate(self, argv: list[str], input: str | None) -> tuple[int, str]:
        s = self.state
        cmd = argv[0]
        if cmd in s.failing:
            return 1, f"{cmd}: simulated failure"
        package = s.command_packages.get(cmd)
        if package and package not in s.installed:
            return 127, f"{cmd}: No such file or directory (it comes with {package})"
        if cmd == "update-crypto-policies":
            return (0, s.crypto_policy + "\n") if s.crypto_policy else (127, f"{cmd}: No such file or directory")
        if cmd == "dpkg" and argv[1:] == ["--audit"]:
            return 0, "".join(f" {p}  (half-configured)\n" for p in s.dpkg_interrupted)
        if cmd == "dpkg" and argv[1:] == ["--configure", "-a"]:
            for pkg in s.dpkg_interrupted:  # their postinst (ucf) puts the configuration files in place
                self._unpack(pkg)
            s.dpkg_interrupted.clear()
            return 0, ""
        if cmd == "apt-get" and s.dpkg_interrupted:
            return 100, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem."
        if cmd in ("dnf", "apt-get"):
            pkgs = [a for a in argv[2:] if not a.startswith("-") and not a.startswith("Dpkg::")]
            if argv[1] == "install":
                s.installed.update(pkgs)
                for pkg in pkgs:
                    self._unpack(pkg)
            elif argv[1] == "remove":
                s.installed.difference_update(pkgs)
            return 0, ""
        if cmd == "rpm" or cmd == "dpkg-query":
            name = argv[-1]
            if name in s.installed:
                return 0, "install ok installed" if cmd == "dpkg-query" else name
            return 1, f"package {name} is not installed"
        if cmd == "debconf-set-selections":
            return 0, ""
        if cmd == "systemctl":
            verb, name = argv[1], argv[-1]
            if verb == "is-active":
                return (0, "active") if name in s.running else (3, "inactive")
            if verb == "is-enabled":
                return (0, "enabled") if name in s.enabled else (1, "disabled")
            if verb == "enable":
                s.enabled.add(name)
                if "--now" in argv:
                    s.running.add(name)
            elif verb == "disable":
                s.enabled.discard(name)
                if "--now" in argv:
                    s.running.discard(name)
            else:
                self._service(name, verb)
            return 0, ""
        if cmd == "service":
            name, verb = argv[1], argv[2]
            if verb == "status":
                conf = QUIET_WITHOUT_CONFIG.get(name, "")
                if name not in s.running and conf and self.exists(conf.rsplit("/", 1)[0]) and not self.exists(conf):
                    return 0, ""  # Debian's init script: "Exit if the configuration file doesn't exist", with 0
                return (0, f"{name} is running") if name in s.running else (3, f"{name} is not running")
            self._service(name, verb)
            return 0, ""
        if cmd == "update-rc.d":
            if argv[2:] == ["disable"]:
                s.enabled.discard(argv[1])
            else:
                s.enabled.add(argv[1])
            return 0, ""
        if cmd == "chmod":
            self.chmod(argv[2], int(argv[1], 8))
            return 0, ""
        if cmd == "chown":
            user, _, group = argv[1].partition(":")
            self.chown(argv[2], s.users[user], s.groups[group or user])
            return 0, ""
        if cmd == "useradd":
            name = argv[-1]
            if name in s.users:
                return 9, f"useradd: user '{name}' already exists"
            s.users[name] = max(list(s.users.values()) + [999]) + 1
            s.groups.setdefault(name, s.users[name])
            return 0, ""
        if cmd == "firewall-cmd":
            return self._firewall(argv[1:])
        if cmd == "semanage":
            kind, args = argv[1], argv[2:]
            if kind == "fcontext" and "-a" in args:
                s.selinux_fcontexts[args[-1]] = args[args.index("-t") + 1]
            elif kind == "port" and ("-a" in args or "-m" in args):
                s.selinux_ports[f"{args[args.index('-p') + 1]}/{args[-1]}"] = args[args.index("-t") + 1]
            elif kind == "fcontext" and "-d" in args:
                if s.selinux_fcontexts.pop(args[-1], None) is None:
                    return 1, f"ValueError: File context for {args[-1]} is not defined\n"
            elif kind == "port" and "-d" in args:
                if s.selinux_ports.pop(f"{args[args.index('-p') + 1]}/{args[-1]}", None) is None:
                    return 1, f"ValueError: Port tcp/{args[-1]} is not defined\n"
            elif kind == "fcontext" and "-l" in args:
                return 0, "".join(f"{k}  all files  system_u:object_r:{v}:s0\n"
                                  for k, v in s.selinux_fcontexts.items())
            elif kind == "boolean" and "-l" in args:  # the policy store's values: (current , default)
                return 0, "".join(f"{k:30} ({'on' if v else 'off'}  ,  off)  {k}\n"
                                  for k, v in s.selinux_booleans.items())
            elif kind == "port" and "-l" in args:
                return 0, "".join(f"{v}  {k.split('/')[0]}  {k.split('/')[1]}\n" for k, v in s.selinux_ports.items())
            return 0, ""
        if cmd == "setsebool":
            s.selinux_booleans[argv[-2]] = argv[-1] in ("on", "1", "true")
            from mailwizard.steps.selinux import booleans_local
            local = self.real(booleans_local(self))
            if "-P" in argv and local.parent.is_dir():  # the store's local settings (`semodule -B` reads them)
                old = dict(line.split("=") for line in local.read_text().split()) if local.exists() else {}
                old[argv[-2]] = "1" if s.selinux_booleans[argv[-2]] else "0"
                local.write_text("".join(f"{k}={v}\n" for k, v in old.items()))
            return 0, ""
        if argv[:2] == ["semodule", "-B"]:  # the policy rebuilt: the booleans as the store says
            from mailwizard.steps.selinux import booleans_local
            local = self.real(booleans_local(self))
            s.selinux_booleans = {k: v == "1" for k, v in (line.split("=") for line in
                                                           (local.read_text().split() if local.exists() else []))}
            return 0, ""
        if cmd == "getsebool":
            if s.selinux_mode == "Disabled":  # the kernel has no SELinux to ask
                return 1, "getsebool:  SELinux is disabled\n"
            on = s.selinux_booleans.get(argv[-1], False)
            return 0, f"{argv[-1]} --> {'on' if on else 'off'}\n"
        if cmd in ("postmap", "postalias"):
            return self._postmap(argv)
        if cmd == "sievec" and len(argv) == 2:  # SCRIPT.sieve -> SCRIPT.svbin beside it
            self.real(argv[1].removesuffix(".sieve") + ".svbin").write_bytes(b"(compiled sieve script)")
            return 0, ""
        if cmd == "rm":  # rm -f PATH...: a rollback's undo of a command that made files
            for path in (a for a in argv[1:] if not a.startswith("-")):
                if self.exists(path):
                    self.remove(path)
            return 0, ""
        if cmd == "opendkim-genkey":  # -b BITS -D DIR -d DOMAIN -s SELECTOR: DIR/SELECTOR.private and .txt
            directory, selector = argv[argv.index("-D") + 1], argv[argv.index("-s") + 1]
            if not (meta := self.stat(directory)) or not meta.is_dir:  # the package makes it; the tool needs it
                return 2, f"opendkim-genkey: {directory}: chdir(): No such file or directory\n"
            self.write_atomic(f"{directory}/{selector}.private", _dkim_key(), mode=0o600, uid=0, gid=0)
            self.write_atomic(f"{directory}/{selector}.txt", f"{selector}._domainkey\tIN\tTXT\t( ... )\n".encode(),
                              mode=0o600, uid=0, gid=0)
            return 0, ""
        if cmd == "getenforce":
            return 0, s.selinux_mode + "\n"
        if cmd == "matchpathcon":
            return 0, "".join(f"{p}\tsystem_u:object_r:{self._policy_type(p)}:s0\n" for p in argv[1:])
        if cmd == "restorecon":
            return self._restorecon(argv[1:])
        if cmd in ("mkdir", "newaliases", "sievec"):
            return 0, ""
        if cmd == "dovecot" and argv[1:] == ["--version"]:
            return 0, s.dovecot_version
        if cmd == "postconf" and argv[1:] == ["-h", "default_database_type"]:
            return 0, s.default_database_type + "\n"
        if cmd == "postconf":
            return self._postconf(argv)
        if cmd == "openssl" and argv[1] == "dhparam" and "-out" in argv:
            out = argv[argv.index("-out") + 1]
            self.real(out).parent.mkdir(parents=True, exist_ok=True)
            self.real(out).write_bytes(b"-----BEGIN DH PARAMETERS-----\nFAKE\n-----END DH PARAMETERS-----\n")
            return 0, "Generating DH parameters, 4096 bit long safe prime\n"
        return 0, ""

    def _postconf(self, argv: list[str]) -> tuple[int, str]:
        """postconf's edits (-e -X -# -M -P) done by mailwizard's emulation; queries read main.cf."""
        from mailwizard import postfix_conf

        directory = self.real("/etc/postfix")
        files = {n: (directory / n).read_text() if (directory / n).exists() else "" for n in ("main.cf", "master.cf")}
        args = list(argv[1:])
        if args and args[0] in ("-e", "-X", "-#", "-M", "-P") and len(args) > 1:
            try:
                new = postfix_conf.emulate(files, argv)
            except postfix_conf.PostconfError as exc:
                return 1, f"postconf: fatal: {exc}"
            for name, text in new.items():
                if text != files[name]:
                    (directory / name).write_text(text)
            return 0, ""
        if args == ["-M"]:
            return 0, "".join(" ".join(e) + "\n" for e in postfix_conf.master_entries(files["master.cf"]).values())
        values = postfix_conf.main_values(files["main.cf"])
        if args[:1] == ["-n"]:
            return 0, "".join(f"{k} = {v}\n" for k, v in sorted(values.items()))
        hide = args[:1] == ["-h"]
        names = [a for a in args if not a.startswith("-")]
        return 0, "".join((f"{values.get(n, '')}\n" if hide else f"{n} = {values.get(n, '')}\n") for n in names)

    def _service(self, name: str, verb: str) -> None:
        """What `systemctl VERB NAME` and `service NAME VERB` alike do to whether it runs."""
        if verb in ("start", "restart", "reload"):
            self.state.running.add(name)
        elif verb == "stop":
            self.state.running.discard(name)

    def _postmap(self, argv: list[str]) -> tuple[int, str]:
        """postmap/postalias TYPE:FILE makes FILE's indexed copy; -q looks a key up in the source."""
        from mailwizard import postfix_conf

        args = argv[1:]
        if args[:1] == ["-q"]:
            key, table = args[1], args[2]
            kind, _, path = table.partition(":")
            text = self.read_text(path) or ""
            for line in text.splitlines():
                fields = line.split(None, 1)
                if len(fields) == 2 and not line.startswith(("#", " ")) and fields[0] == key:
                    return 0, fields[1] + "\n"
            return 1, ""
        table = args[-1]
        kind, _, path = table.rpartition(":")
        kind = kind or self.state.default_database_type
        if self.read(path) is None:
            return 1, f"{argv[0]}: fatal: open {path}: No such file or directory"
        self.real(path + postfix_conf.map_suffix(kind)).write_bytes(b"(indexed map)")
        return 0, ""

    # the policy's types for the trees a fresh RHEL labels (the rest is default_t), before local fcontext rules
    POLICY = {"/var/mail": "mail_spool_t", "/var/spool/mail": "mail_spool_t", "/etc/pki": "cert_t",
              "/etc/dovecot": "dovecot_etc_t", "/root": "admin_home_t", "/srv": "var_t", "/var": "var_t"}

    def _policy_type(self, path: str) -> str:
        """The type `matchpathcon` gives: a local `semanage fcontext` rule, else the closest labelled tree."""
        import re

        for spec, type_ in self.state.selinux_fcontexts.items():
            if re.fullmatch(spec, path):
                return type_
        tree = max((t for t in self.POLICY if path == t or path.startswith(t + "/")), key=len, default=None)
        return self.POLICY[tree] if tree else "default_t"

    def _restorecon(self, args: list[str]) -> tuple[int, str]:
        """Labels set by hand (state.selinux_labels) differ from the policy: -n says so, otherwise they are reset."""
        paths = [a for a in args if not a.startswith("-")]
        recursive, dry = "-R" in args or any(a.startswith("-") and "R" in a for a in args), "-n" in args
        lines = []
        for path, actual in sorted(self.state.selinux_labels.items()):
            under = any(path == p or (recursive and path.startswith(p.rstrip("/") + "/")) for p in paths)
            want = self._policy_type(path)
            if not under or actual == want:
                continue
            lines.append(f"{'Would relabel' if dry else 'Relabeled'} {path} from system_u:object_r:{actual}:s0 "
                         f"to system_u:object_r:{want}:s0\n")
            if not dry:
                self.state.selinux_labels[path] = want
        return 0, "".join(lines) if "-v" in args or any(a.startswith("-") and "v" in a for a in args) else ""

    def _firewall(self, args: list[str]) -> tuple[int, str]:
        s = self.state
        if args == ["--reload"]:
            s.firewall_running = None
            return 0, "success"
        if args == ["--state"]:
            return 0, "running"
        kinds = {"service": s.firewall_services, "rich-rule": s.firewall_rich_rules, "port": s.firewall_ports}
        if any(a.startswith(("--add-", "--remove-")) for a in args) and s.firewall_running is None:
            s.firewall_running = {kind: set(rules) for kind, rules in kinds.items()}  # from now on they differ
        if "--permanent" not in args and s.firewall_running is not None:
            kinds = s.firewall_running
        rc, invalid = 0, []
        for arg in args:
            opt, _, value = arg.partition("=")
            if opt == "--list-services":
                return 0, " ".join(sorted(s.firewall_services)) + "\n"
            verb, _, kind = opt.removeprefix("--").partition("-")
            if kind not in kinds:
                continue
            if kind == "service" and not firewalld_has_service(s.firewalld_version, value):
                invalid.append(value)
                continue
            if verb == "add":
                kinds[kind].add(value)
            elif verb == "remove":
                kinds[kind].discard(value)
            elif verb == "query":
                rc = 0 if value in kinds[kind] else 1
        if invalid:  # firewall-cmd: one bad service alone fails; among others, a warning and exit 0
            said = "".join(f"Error: INVALID_SERVICE: '{v}' not among existing services\n" for v in invalid)
            ops = [a for a in args if a.startswith(("--add-", "--remove-", "--query-"))]
            if len(ops) == len(invalid):
                return 101, said
            return rc, said.replace("Error:", "Warning:") + "success"
        return rc, "yes" if rc == 0 else "no"

    def which(self, name: str) -> str | None:
        package = self.state.command_packages.get(name)
        return None if package and package not in self.state.installed else f"/usr/bin/{name}"
