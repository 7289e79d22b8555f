"""A real ACME CA for the end-to-end tier: Debian's `pebble` in a throwaway host's peer namespace.

`pebble-challtestsrv` runs beside it as its DNS, answering every name (the
throwaway's FQDN among them) with the throwaway's address, 198.51.100.1, so
pebble's HTTP-01 validation reaches certbot's standalone server on the
throwaway's port 80. Pebble's own HTTPS listener gets a certificate for its
TEST-NET address from a test CA made here; certbot in the throwaway trusts
that CA through REQUESTS_CA_BUNDLE (for the directory only: the certificates
pebble issues chain to pebble's own, per-run root).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEER = "acme"
HOST_ADDR, PEER_ADDR = "198.51.100.1", "198.51.100.2"
DIRECTORY = f"https://{PEER_ADDR}:14000/dir"
MANAGEMENT = f"https://{PEER_ADDR}:15000"
CA_BUNDLE = "/root/pebble-listener-ca.pem"  # in the throwaway: the CA of pebble's listener certificate


def _listener_pki() -> tuple[bytes, bytes, bytes]:
    """(CA certificate, listener certificate for PEER_ADDR, its key), all PEM; EC keys are quick to make."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailwizard test: pebble listener CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=7))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PEER_ADDR)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(PEER_ADDR))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), leaf.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def start(host) -> None:
    """Start challtestsrv and pebble in a new peer `acme` of `host`; return when the directory answers."""
    host.add_peer(PEER, HOST_ADDR, PEER_ADDR)
    ca, cert, key = _listener_pki()
    config = {"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
                         "certificate": "/tmp/pebble/cert.pem", "privateKey": "/tmp/pebble/key.pem",
                         "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
                         "externalAccountBindingRequired": False}}
    for name, data in (("cert.pem", cert), ("key.pem", key), ("config.json", json.dumps(config).encode())):
        host.run_peer(["sh", "-c", f"mkdir -p /tmp/pebble && cat > /tmp/pebble/{name}"], peer=PEER,
                      input=data, text=False, check=True)
    with open(host.path("/root").joinpath(CA_BUNDLE.rsplit("/", 1)[1]), "wb") as f:
        f.write(ca)
    host.popen_peer(["pebble-challtestsrv", "-defaultIPv4", HOST_ADDR, "-defaultIPv6", "", "-dns01",
                     "127.0.0.1:8053", "-http01", "", "-https01", "", "-tlsalpn01", "",
                     "-management", "127.0.0.1:8055"], peer=PEER, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
    # no random nonce rejections nor validation delays: the test waits on certbot, not on pebble's dice
    host.popen_peer(["pebble", "-config", "/tmp/pebble/config.json", "-dnsserver", "127.0.0.1:8053"],
                    peer=PEER, env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        got = host.run(["python3", "-c", "import urllib.request, ssl, sys; "
                        f"urllib.request.urlopen(sys.argv[1], context=ssl.create_default_context("
                        f"cafile={CA_BUNDLE!r}), timeout=2).read()", DIRECTORY], timeout=20)
        if got.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"pebble's directory {DIRECTORY} did not answer: {got.stderr[-500:]}")
        time.sleep(0.2)


def issuing_chain(host) -> list[x509.Certificate]:
    """Pebble's current intermediate and root, read from its management interface (inside the throwaway)."""
    out = []
    for what in ("intermediates/0", "roots/0"):
        got = host.run(["python3", "-c", "import urllib.request, ssl, sys; ctx = ssl.create_default_context("
                        f"cafile={CA_BUNDLE!r}); sys.stdout.write(urllib.request.urlopen(sys.argv[1], "
                        "context=ctx, timeout=5).read().decode())", f"{MANAGEMENT}/{what}"], check=True)
        out.append(x509.load_pem_x509_certificate(got.stdout.encode()))
    return out


def served(host, port: int) -> x509.Certificate:
    """The certificate the throwaway serves on `port` to a client on the peer (STARTTLS on 25 and 587)."""
    script = ("import smtplib, imaplib, ssl, sys\n"
              "port = int(sys.argv[1]); ctx = ssl._create_unverified_context()\n"
              "if port == 993:\n"
              "    c = imaplib.IMAP4_SSL(sys.argv[2], port, ssl_context=ctx); der = c.sock.getpeercert(True)\n"
              "else:\n"
              "    c = smtplib.SMTP(sys.argv[2], port, timeout=10); c.starttls(context=ctx)\n"
              "    der = c.sock.getpeercert(True)\n"
              "sys.stdout.write(ssl.DER_cert_to_PEM_cert(der))\n")
    got = host.run_peer(["python3", "-c", script, str(port), HOST_ADDR], peer=PEER, timeout=30, check=True)
    return x509.load_pem_x509_certificate(got.stdout.encode())


def trust_root(host) -> None:
    """Put pebble's root (made anew each time pebble starts) into the throwaway's system trust store, as
    Let's Encrypt's is on every host: the report's chain checks then verify what certbot obtained."""
    from cryptography.hazmat.primitives import serialization

    _intermediate, root = issuing_chain(host)
    path = host.path("/usr/local/share/ca-certificates")
    path.mkdir(parents=True, exist_ok=True)
    (path / "pebble-root.crt").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    host.run(["update-ca-certificates"], check=True)
