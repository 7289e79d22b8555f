"""TLS for Dovecot (guide 1.1.2): certificate, key, CA, DH parameters in 10-ssl.conf.

The key is set to 0600 root:root with the guide's chown/chmod, the four
`ssl_* = <path` settings are written into 10-ssl.conf with
`ssl_min_protocol = TLSv1.2`, and the DH parameters are RFC 7919's ffdhe4096
(instant) unless the administrator asks for `openssl dhparam 4096`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from importlib import resources
from typing import TypeGuard

from mailwizard import certs, probes, safe_read
from mailwizard.answers import Answers, Problem
from mailwizard.dovecot_conf import Setting, edit_dovecot
from mailwizard.host import FileMeta, Host, LineSink
from mailwizard.plan import Change, Check, Effects, FileAttrs, PlanContext, Work, WriteFile, parent_dir
from mailwizard.platform import Profile
from mailwizard.readback import file_ref
from mailwizard.steps import Step, not_checkable

MIN_PROTOCOL = "TLSv1.2"


def ffdhe4096() -> bytes:
    return (resources.files("mailwizard") / "templates" / "ffdhe4096.pem").read_bytes()


def dh_file(answers: Answers, profile: Profile) -> str:
    return profile.dh_path if answers.tls.dh in ("ffdhe4096", "generate") else answers.tls.dh


def wanted_settings(answers: Answers, profile: Profile) -> list[tuple[str, str]]:
    tls = answers.tls
    out = [("ssl_cert", f"<{tls.cert}"), ("ssl_key", f"<{tls.key}")]
    if tls.ca:
        out.append(("ssl_ca", f"<{tls.ca}"))
    out += [("ssl_dh", f"<{dh_file(answers, profile)}"), ("ssl_min_protocol", MIN_PROTOCOL)]
    return out


@dataclass(eq=False)
class SelfSignedCert(Change):
    """A new key (0600 root:root) and a self-signed certificate for the FQDN."""

    cert: str
    key_path: str
    fqdn: str
    service: str | None = "dovecot"

    kind = "self-signed"
    reversible = True

    def key(self) -> str:
        return f"self-signed:{self.cert}"

    def describe(self) -> str:
        return (f"create a SELF-SIGNED certificate for {self.fqdn} ({certs.SELF_SIGNED_DAYS} days): "
                f"{self.cert}, key {self.key_path} (0600 root:root). Clients will warn until you "
                "install one from a CA")

    def check(self, ctx: PlanContext) -> str | None:
        (cert, _), (key, _) = safe_read.read_for(ctx, self.cert), safe_read.read_for(ctx, self.key_path)
        if cert is not None and key is not None and not certs.check_pair(cert, key, self.fqdn):
            return f"{self.cert} is already a valid certificate for {self.fqdn} with its key"
        ctx.stage(self.key_path, b"(new key)", FileMeta(0o600, 0, 0))
        ctx.stage(self.cert, b"(new certificate)", FileMeta(0o644, 0, 0))
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        key_pem, cert_pem = certs.self_signed(self.fqdn)
        effects = Effects(dirs=host.missing_dirs(parent_dir(self.cert)))
        effects |= Effects(dirs=host.missing_dirs(parent_dir(self.key_path)))
        return effects.write(self.cert, cert_pem).write(self.key_path, key_pem, secret=True)

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        # the certificate first: a run killed between the two leaves a lone self-signed certificate, which
        # validation lets a resumed run replace (a lone key could be anybody's, and is never overwritten)
        for path, mode in ((self.cert, 0o644), (self.key_path, 0o600)):
            data = effects.files[path]
            assert data is not None
            host.makedirs(parent_dir(path))
            host.write_atomic(path, data, mode=mode, uid=0, gid=0)
            work.on_line(f"wrote {path}")


PREGENERATED = "dh-4096.pem"  # in the journal directory, made while the admin fills the screens


def is_generated_dh(data: bytes | None) -> TypeGuard[bytes]:
    return data is not None and b"-----BEGIN DH PARAMETERS-----" in data and data != ffdhe4096()


def read_back(host: Host, profile: Profile, ssl_dh: str | None) -> dict[str, object]:
    """[tls] dh of a configured host (existing.py): the group the wizard writes or one it generated, at the
    platform's path, else the file Dovecot's ssl_dh names."""
    dh = file_ref(ssl_dh or "")
    if not dh:
        return {}
    try:
        data = host.read(dh)
    except OSError:
        data = None
    if dh == profile.dh_path and data == ffdhe4096():
        return {"tls.dh": "ffdhe4096"}
    if dh == profile.dh_path and is_generated_dh(data):
        return {"tls.dh": "generate"}
    return {"tls.dh": dh}


def pregenerate_dh(host: Host, journal_dir: str, on_line: LineSink, cancel=None, bits: int = 4096) -> bool:
    """Generate 4096-bit parameters in the background into the journal directory.

    The apply step then installs them instead of waiting minutes for openssl.
    Returns True when the file is ready; a cancelled or failed run leaves nothing.
    """
    import os
    import subprocess

    directory = host.real(journal_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = directory / PREGENERATED
    if is_generated_dh(host.read(f"{journal_dir}/{PREGENERATED}")):
        return True
    tmp = directory / (PREGENERATED + ".part")
    proc = subprocess.Popen(["openssl", "dhparam", "-out", str(tmp), str(bits)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    dots = 0
    while True:
        ch = proc.stderr.read(1)
        if not ch:
            break
        if cancel is not None and cancel.is_set():
            proc.kill()
            break
        if ch in b".+*":
            dots += 1
            if dots % 50 == 0:
                on_line(f"generating {bits}-bit DH parameters: {dots} candidate primes tried")
    proc.wait()
    if proc.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        return False
    os.replace(tmp, final)
    on_line(f"{bits}-bit DH parameters ready")
    return True


@dataclass(eq=False)
class GenerateDH(Change):
    """4096-bit DH parameters: the guide's `openssl dhparam`, or the ones already made in the background."""

    path: str
    journal_dir: str = "/var/lib/mailwizard"
    service: str | None = "dovecot"

    kind = "dhparam"

    def key(self) -> str:
        return f"dhparam:{self.path}"

    def commands(self) -> list[list[str]]:
        return [["openssl", "dhparam", "-out", self.path, "4096"]]

    def describe(self) -> str:
        return (f"generate 4096-bit Diffie-Hellman parameters into {self.path} (several minutes, "
                "unless already generated in the background)")

    def check(self, ctx: PlanContext) -> str | None:
        if is_generated_dh(ctx.read(self.path)):
            return f"{self.path} already holds generated parameters"
        ctx.stage(self.path, b"(generated)", FileMeta(0o644, 0, 0))
        return None

    def effects(self, host: Host, work: Work) -> Effects:
        ready = host.read(f"{self.journal_dir}/{PREGENERATED}")
        if not is_generated_dh(ready):  # generated into the scratch directory: nothing changes meanwhile
            work.on_line("$ " + " ".join(self.commands()[0]))
            scratch = work.scratch_path("dh.pem")
            host.run(["openssl", "dhparam", "-out", scratch, "4096"], on_line=work.on_line, check=True)
            ready = host.read(scratch)
            if ready is None:
                raise RuntimeError(f"openssl dhparam left no {scratch}")
        else:
            work.on_line("using the parameters generated in the background")
        return Effects().write(self.path, ready)

    def perform(self, host: Host, effects: Effects, work: Work) -> None:
        data = effects.files[self.path]
        assert data is not None
        host.write_atomic(self.path, data, mode=0o644, uid=0, gid=0)


def named_file_problem(ctx: PlanContext, path: str, what: str, absent: str) -> tuple[str, str] | None:
    """(message, severity) for a CA certificate or DH parameters file an answer names, or None when it is
    usable: not a regular file (a FIFO, a device, a directory) or too large, absent (a dangling symbolic
    link too: `absent` says what to do; a warning offline), or without its PEM marker."""
    data, error = safe_read.read_for(ctx, path)
    if error:
        return f"{error}: give the {what} file itself", "error"
    if data is None:
        return f"{path} does not exist: {absent}", "warning" if ctx.offline else "error"
    if msg := certs.pem_problem(data, what):
        return f"{path} {msg}", "error"
    return None


def validate(answers: Answers, ctx: PlanContext) -> list[Problem]:
    if not answers.dovecot_enabled:
        return []
    tls = answers.tls
    severity = "warning" if ctx.offline else "error"
    problems: list[Problem] = []
    unreadable: set[str] = set()

    def read(key: str, path: str) -> bytes | None:
        """The file at an answer's path: a regular file of at most 1 MiB (a FIFO or a device is refused)."""
        data, error = safe_read.read_for(ctx, path)
        if error:
            problems.append(Problem(f"tls.{key}", f"{error}: give the {key} file itself"))
            unreadable.add(key)
        return data

    # with a self-signed certificate, a CA that is not there at all is left for later, as before; one that is
    # there but is a directory, a FIFO, a device or no PEM file is refused all the same (//etc was taken)
    ca_absent = bool(tls.ca) and tls.self_signed and ctx.host.stat(tls.ca) is None
    if tls.ca and not ca_absent and (found := named_file_problem(ctx, tls.ca, "CA certificate", "copy the CA "
                                                                 "certificate there, or leave it empty")):
        problems.append(Problem("tls.ca", *found))
    if tls.dh not in ("ffdhe4096", "generate") and (
            found := named_file_problem(ctx, tls.dh, "DH parameters", "give a file of DH parameters, or "
                                        "ffdhe4096")):
        problems.append(Problem("tls.dh", *found))
    if tls.acme:  # certbot makes them when applying (steps/acme.py)
        return problems
    cert, key = read("cert", tls.cert), read("key", tls.key)
    if unreadable & {"cert", "key"}:
        return problems
    fqdn = answers.server.hostname
    if tls.self_signed:
        for field, path, data in (("cert", tls.cert, cert), ("key", tls.key, key)):
            if data is None and ctx.host.stat(path) is not None and ctx.host.realpath(path) != path:
                # a link that leads nowhere (a certbot live/ link whose archive/ is gone): the self-signed
                # file would replace the link, the administrator's own, without a word
                problems.append(Problem(f"tls.{field}", f"{path} is a symbolic link to "
                                        f"{ctx.host.realpath(path)}, which does not exist: self_signed = true "
                                        "would replace the link; remove it or give another path"))
        if any(p.key in ("tls.cert", "tls.key") for p in problems):
            return problems
        return problems + self_signed_problems(tls.cert, cert, tls.key, key, fqdn)
    if cert is None:
        problems.append(Problem("tls.cert", f"{tls.cert} does not exist: copy the certificate there, "
                                "or choose a self-signed certificate", severity))
    if key is None:
        problems.append(Problem("tls.key", f"{tls.key} does not exist: copy the private key there", severity))
    if cert is not None:
        for field, msg in certs.check_pair(cert, key, fqdn):
            problems.append(Problem(f"tls.{field}", msg))
    return problems


def _lone_self_signed(cert: bytes | None, fqdn: str) -> bool:
    """Whether `cert` is a self-signed certificate for `fqdn` (which, without its key, nothing can use)."""
    try:
        parsed = certs.load_cert(cert or b"")
    except ValueError:
        return False
    return parsed.issuer == parsed.subject and any(certs.name_matches(n, fqdn) for n in certs.cert_names(parsed))


def self_signed_problems(cert_path: str, cert: bytes | None, key_path: str, key: bytes | None,
                         fqdn: str) -> list[Problem]:
    """A self-signed certificate is written only where nothing is, or over its own earlier pair.

    An existing certificate and key for the same name that belong together are kept (the change is then a
    no-op); any other file at either path (an administrator's certificate, a key alone, a file that is no
    certificate at all) is refused at its key rather than overwritten."""
    if cert is None and key is None:
        return []
    if key is None and _lone_self_signed(cert, fqdn):
        return []  # what a run killed between the certificate and its key leaves: useless without a key
    if cert is not None and key is not None:
        wrong = certs.check_pair(cert, key, fqdn)
        if not wrong:
            return []
        fields = {f for f, _ in wrong}
    else:
        fields = {"cert"} if cert is not None else {"key"}
    advice = ("self_signed = true would overwrite it: move it away, give another path, or use it "
              "(self_signed = false)")
    out = []
    for field, path, what in (("cert", cert_path, f"a certificate for {fqdn} with its key"),
                              ("key", key_path, f"the key of a certificate for {fqdn} beside it")):
        if field in fields:
            out.append(Problem(f"tls.{field}", f"{path} exists and is not {what}: {advice}"))
    return out


def plan(answers: Answers, ctx: PlanContext) -> list[Change]:
    if not answers.dovecot_enabled:
        return []
    profile, tls = ctx.profile, answers.tls
    changes: list[Change] = []
    if tls.self_signed:
        changes.append(SelfSignedCert(tls.cert, tls.key, answers.server.hostname))
    if not tls.acme:  # certbot keeps its keys 0600 root:root itself
        changes.append(FileAttrs(tls.key, 0o600, "root", "root", service="dovecot"))
    if tls.dh == "ffdhe4096":
        changes.append(WriteFile(profile.dh_path, ffdhe4096(), 0o644, service="dovecot",
                                 summary="RFC 7919 ffdhe4096 group",
                                 noop_reason=f"{profile.dh_path} already holds ffdhe4096"))
    elif tls.dh == "generate":
        changes.append(GenerateDH(profile.dh_path))
    settings: list[Setting] = [((), key, value) for key, value in wanted_settings(answers, profile)]
    names = ", ".join(key for _, key, _ in settings)
    changes.append(edit_dovecot(ctx, profile.ssl_conf, settings, summary=f"set {names}",
                                noop_reason=f"{names} already set"))
    return changes


def handshake(host: str, port: int, version: ssl.TLSVersion, timeout: float = 5.0) -> tuple[bool, str]:
    """A TLS handshake on an implicit-TLS port pinned to one protocol version; (succeeded, evidence)."""
    got = probes.tls(host, port, "imap", True, version=version, timeout=timeout)
    return got.ok, f"{got.version} {got.cipher}" if got.ok else got.error


def verify(answers: Answers, host: Host, profile: Profile) -> list[Check]:
    if not answers.dovecot_enabled:
        return []
    checks: list[Check] = []
    # ssl_key and ssl_dh are hidden by doveconf (secrets); the others are shown as written
    shown = [(k, v) for k, v in wanted_settings(answers, profile) if k not in ("ssl_key", "ssl_dh")]
    result = host.run(["doveconf", "-h", *[k for k, _ in shown]])
    got = result.output.splitlines()
    want = [v for _, v in shown]
    if result.ok and got == want:
        checks.append(Check("tls", "doveconf shows the TLS settings", "pass",
                            ", ".join(f"{k} = {v}" for k, v in shown)))
    else:
        checks.append(Check("tls", "doveconf shows the TLS settings", "fail",
                            result.output.strip()[-300:] or "no output",
                            f"check {profile.ssl_conf}: want " + ", ".join(f"{k} = {v}" for k, v in shown)))
    cert = host.read(answers.tls.cert)
    if cert:
        left = certs.days_left(cert)
        status = certs.expiry_status(left)
        checks.append(Check("tls", "certificate validity", status, f"{left} days left",
                            "" if status == "pass" else "renew the certificate"))
    ports = [p for p, on in ((993, answers.protocols.imap), (995, answers.protocols.pop3)) if on]
    for port in ports:
        if not host.can_probe_network:  # a handshake would reach this machine's port, not the host's
            checks += [not_checkable("tls", f"TLS 1.2 handshake on {port}"),
                       not_checkable("tls", f"TLS 1.1 refused on {port}")]
            continue
        ok, evidence = handshake("127.0.0.1", port, ssl.TLSVersion.TLSv1_2)
        checks.append(Check("tls", f"TLS 1.2 handshake on {port}", "pass" if ok else "fail", evidence,
                            "" if ok else "is Dovecot running with the certificate?"))
        old_ok, old_evidence = handshake("127.0.0.1", port, ssl.TLSVersion.TLSv1_1)
        checks.append(Check("tls", f"TLS 1.1 refused on {port}", "fail" if old_ok else "pass",
                            old_evidence, f"set ssl_min_protocol = {MIN_PROTOCOL}" if old_ok else ""))
    return checks


STEP = Step("tls", "TLS", "1.1.2", plan=plan, verify=verify, validate=validate,
            applies=lambda a: a.dovecot_enabled)
