"""Network probes of a running mail server: TLS (implicit or STARTTLS) on every mail protocol, and relaying.

Plain sockets and `ssl`, no third-party client: each probe speaks just enough
of SMTP, LMTP, IMAP, POP3 or ManageSieve to reach the TLS handshake, and says
what the server offered before it (AUTH before STARTTLS is a finding). A probe
pinned to one TLS version tells whether the server accepts that version. The
relay probe stops at RCPT TO: nothing is ever sent.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass, field

# (protocol, implicit TLS) of each port the wizard may open
PORTS = {25: ("smtp", False), 587: ("smtp", False), 465: ("smtp", True), 24: ("lmtp", False),
         143: ("imap", False), 993: ("imap", True), 110: ("pop3", False), 995: ("pop3", True),
         4190: ("sieve", False)}


class ProbeError(Exception):
    """The server did not answer as the protocol says (the message says what it sent)."""


@dataclass
class TlsProbe:
    ok: bool
    version: str = ""  # e.g. TLSv1.3
    cipher: str = ""
    cert_pem: bytes = b""
    offered: list[str] = field(default_factory=list)  # capabilities before STARTTLS (upper case)
    after: list[str] = field(default_factory=list)  # ManageSieve: the capabilities sent again after TLS
    error: str = ""
    # asked with `trust`: why the served chain does not verify ("" when it does), the probe then made without
    chain_error: str = ""


class _Lines:
    """Line reading over a socket that is later wrapped in TLS (no buffered bytes left behind)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def line(self) -> str:
        data = bytearray()
        while not data.endswith(b"\n"):
            chunk = self.sock.recv(1)
            if not chunk:
                raise ProbeError("the server closed the connection" + (f" after {bytes(data)!r}" if data else ""))
            data += chunk
            if len(data) > 8192:
                raise ProbeError("a line longer than 8 KiB")
        return data.decode("utf-8", "replace").rstrip("\r\n")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def smtp_reply(self) -> tuple[int, list[str]]:
        lines = []
        while True:
            line = self.line()
            if len(line) < 3 or not line[:3].isdigit():
                raise ProbeError(f"not an SMTP reply: {line!r}")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines


def _sieve_response(conv: _Lines) -> tuple[list[str], str]:
    """ManageSieve capability lines (`"SIEVE" "fileinto ..."` as `SIEVE FILEINTO ...`) and the status line."""
    lines = []
    while not (line := conv.line()).upper().startswith(("OK", "NO", "BYE")):
        lines.append(line.replace('"', "").upper())
    return lines, line


def _starttls(conv: _Lines, proto: str) -> list[str]:
    """Speak `proto` up to the point where TLS starts; the capabilities offered before it."""
    if proto in ("smtp", "lmtp"):
        code, _ = conv.smtp_reply()
        if code != 220:
            raise ProbeError(f"greeting {code}")
        conv.send(("EHLO" if proto == "smtp" else "LHLO") + " mailwizard.verify")
        code, lines = conv.smtp_reply()
        offered = [w.split()[0].upper() for w in lines[1:] if w.split()]
        offered += [f"AUTH={m.upper()}" for w in lines[1:] if w.upper().startswith("AUTH ") for m in w.split()[1:]]
        if "STARTTLS" not in offered:
            return offered
        conv.send("STARTTLS")
        code, lines = conv.smtp_reply()
        if code != 220:
            raise ProbeError(f"STARTTLS refused: {code} {' '.join(lines)}")
        return offered
    if proto == "imap":
        greeting = conv.line()
        if not greeting.startswith("* OK"):
            raise ProbeError(f"greeting {greeting!r}")
        conv.send("a CAPABILITY")
        offered = []
        while not (line := conv.line()).startswith("a "):
            if line.upper().startswith("* CAPABILITY"):
                offered = line.split()[2:]
        if "STARTTLS" not in [o.upper() for o in offered]:
            return [o.upper() for o in offered]
        conv.send("b STARTTLS")
        while not (line := conv.line()).startswith("b "):
            pass
        if not line.startswith("b OK"):
            raise ProbeError(f"STARTTLS refused: {line}")
        return [o.upper() for o in offered]
    if proto == "pop3":
        if not conv.line().startswith("+OK"):
            raise ProbeError("no +OK greeting")
        conv.send("CAPA")
        offered = []
        if conv.line().startswith("+OK"):
            while (line := conv.line()) != ".":
                offered.append(line.upper())
        if not any(o.startswith("STLS") for o in offered):
            return offered
        conv.send("STLS")
        if not (line := conv.line()).startswith("+OK"):
            raise ProbeError(f"STLS refused: {line}")
        return offered
    if proto == "sieve":
        offered, line = _sieve_response(conv)
        if not line.upper().startswith("OK"):
            raise ProbeError(f"greeting {line!r}")
        if not any(o.startswith("STARTTLS") for o in offered):
            return offered
        conv.send("STARTTLS")
        if not (line := conv.line()).upper().startswith("OK"):
            raise ProbeError(f"STARTTLS refused: {line}")
        return offered
    raise ValueError(f"unknown protocol {proto}")


def _context(version: ssl.TLSVersion | None, trust: str | None = None) -> ssl.SSLContext:
    """A client context; with `trust` ("" for the system's store alone, or also that CA file) the served chain
    must verify (names are checked by the caller, from the PEM); without, anything is accepted."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if trust is None:
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_default_certs()
        if trust:
            ctx.load_verify_locations(cafile=trust)
    if version is not None:
        with warnings.catch_warnings():  # probing an old version on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


def tls(host: str, port: int, proto: str | None = None, implicit: bool | None = None,
        version: ssl.TLSVersion | None = None, timeout: float = 5.0, trust: str | None = None) -> TlsProbe:
    """Connect, reach TLS (implicit, or STARTTLS/STLS for `proto`), handshake; the result, never raising.

    With `trust` (see _context) the chain is verified too: when it does not verify, the probe is made again
    without, and `chain_error` says why (OpenSSL's reason and the issuer it could not find).
    """
    if proto is None or implicit is None:
        proto, implicit = PORTS[port]
    try:
        ctx = _context(version, trust)
    except (ValueError, ssl.SSLError, OSError) as exc:
        return TlsProbe(False, error=f"this client cannot offer {version.name if version else 'TLS'}: {exc}")
    offered: list[str] = []
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if not implicit:
                offered = _starttls(_Lines(sock), proto)
                if not any(o.startswith(("STARTTLS", "STLS")) for o in offered):
                    return TlsProbe(False, offered=offered, error="STARTTLS is not offered")
            with ctx.wrap_socket(sock, server_hostname=host) as tls_sock:
                der = tls_sock.getpeercert(binary_form=True) or b""
                after = _sieve_response(_Lines(tls_sock))[0] if proto == "sieve" and not implicit else []
                return TlsProbe(True, tls_sock.version() or "", (tls_sock.cipher() or ("",))[0],
                                ssl.DER_cert_to_PEM_cert(der).encode() if der else b"", offered, after)
    except ssl.SSLCertVerificationError as exc:
        got = tls(host, port, proto, implicit, version, timeout)
        got.chain_error = exc.verify_message or str(exc)
        return got
    except (OSError, ssl.SSLError, ProbeError) as exc:
        return TlsProbe(False, offered=offered, error=str(exc) or type(exc).__name__)


def relay(host: str, port: int = 25, recipient: str = "relay-test@mailwizard-relay-test.invalid",
          timeout: float = 10.0) -> tuple[int, str]:
    """Ask to relay to a foreign domain without authentication: the RCPT TO reply (code, text).

    The transaction is reset before DATA, so nothing is sent.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        conv = _Lines(sock)
        code, lines = conv.smtp_reply()
        if code != 220:
            return code, " ".join(lines)
        for command in ("EHLO mailwizard.verify", "MAIL FROM:<>", f"RCPT TO:<{recipient}>"):
            conv.send(command)
            code, lines = conv.smtp_reply()
            if code >= 400 or command.startswith("RCPT"):
                break
        conv.send("RSET")
        conv.smtp_reply()
        conv.send("QUIT")
        return code, " ".join(lines)
