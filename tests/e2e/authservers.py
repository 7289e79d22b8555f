"""Real directory and database servers for the LDAP and MariaDB end-to-end tests.

Inside a throwaway host (tests/e2e/throwaway.py) these start:

* ``slapd`` (OpenLDAP) for dc=example,dc=com with a test CA and a server
  certificate for LDAP-srv.example.com, listening on ldap:// (STARTTLS) and
  ldaps://; users under ou=People (found by the DN template) and one under
  ou=Staff that only an authenticated account may read (found by the search
  account cn=dovecot_LDAP,dc=example,dc=com);
* ``mariadbd`` with the guide's dovecotDB.users table (SHA512-CRYPT
  passwords), TLS required, and a ``dovecot`` account allowed to read it.

The host names are added to the throwaway's /etc/hosts (127.0.0.1), so the
reference answers files work as they are. The servers are installed on this
machine by run-tests (slapd, ldap-utils, mariadb-server) but never started
here: only inside throwaway hosts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import subprocess
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LDAP_HOST = "LDAP-srv.example.com"
SQL_HOST = "mariadb_srv.example.com"
LDAP_CONF_DIR = "/etc/test-ldap"
LDAP_DATA_DIR = "/var/lib/test-ldap"
SQL_TLS_DIR = "/etc/mysql/test-tls"


@dataclass
class TestCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    __test__ = False

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, *names: str) -> tuple[bytes, bytes]:
        """A server certificate for `names` (key PEM, certificate PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(self.cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
                .sign(self.key, hashes.SHA256()))
        return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
                cert.public_bytes(serialization.Encoding.PEM))


def make_ca(name: str = "mailwizard test CA") -> TestCA:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), True)
            .sign(key, hashes.SHA256()))
    return TestCA(key, cert)


# --- files and processes in the throwaway ---------------------------------

def put(host, path: str, data: bytes | str, mode: int = 0o644, owner: tuple[int, int] = (0, 0)) -> None:
    real = host.path(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(real, mode)
    os.chown(real, *owner)


def add_hosts(host, *names: str) -> None:
    """Point `names` at 127.0.0.1 inside the throwaway."""
    hosts = host.path("/etc/hosts")
    hosts.write_text(hosts.read_text() + "".join(f"127.0.0.1\t{n}\n" for n in names))


def trust_ca(host, ca: TestCA) -> None:
    """Add the test CA to the throwaway's system CA store (what the guide's prerequisite asks)."""
    put(host, "/usr/local/share/ca-certificates/mailwizard-test-ca.crt", ca.pem)
    out = host.run(["update-ca-certificates"], timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def wait_port(host, port: int, timeout: float = 60) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port inside the throwaway."""
    code = ("import socket,sys,time\n"
            f"end=time.time()+{timeout}\n"
            "while time.time()<end:\n"
            "    try:\n"
            f"        socket.create_connection(('127.0.0.1',{port}),1).close(); sys.exit(0)\n"
            "    except OSError: time.sleep(0.1)\n"
            "sys.exit(1)\n")
    out = host.run(["python3", "-c", code], timeout=timeout + 10)
    assert out.returncode == 0, f"nothing listens on port {port} after {timeout}s"


def free_port(host) -> int:
    """A TCP port on which nothing listens inside the throwaway (for 'unreachable' tests)."""
    out = host.run(["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); "
                    "print(s.getsockname()[1]); s.close()"])
    return int(out.stdout.strip())


# --- OpenLDAP -------------------------------------------------------------

def ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


@dataclass
class LdapUser:
    uid: str
    password: str
    ou: str = "People"
    number: int = 2001


def _ldif_value(value: str) -> str:
    return ": " + value if value.isascii() and value[:1] not in (" ", ":", "<") else \
        ":: " + base64.b64encode(value.encode()).decode()


SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile /run/test-slapd.pid
TLSCACertificateFile {dir}/ca.crt
TLSCertificateFile {dir}/server.crt
TLSCertificateKeyFile {dir}/server.key

database mdb
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
directory {data}
maxsize 104857600
access to attrs=userPassword by self write by anonymous auth by * none
access to dn.subtree="ou=Staff,dc=example,dc=com" by users read by anonymous auth by * none
access to * by * read
"""


# an alias entry for Postfix's LDAP alias lookups (ldap.toml with query_filter (mail=%s), result_attribute uid)
ALIAS_LDIF = """dn: cn=sales-alias,ou=People,dc=example,dc=com
objectClass: inetOrgPerson
cn: sales-alias
sn: alias
mail: sales@example.com
uid: alice
"""


def start_slapd(host, ca: TestCA, users: list[LdapUser], search_password: str, extra_ldif: str = "") -> None:
    """slapd for dc=example,dc=com on ldap://:389 (STARTTLS) and ldaps://:636, named LDAP-srv.

    `extra_ldif`: more entries (LDIF, blank-line separated) loaded with the others.
    """
    key, cert = ca.issue(LDAP_HOST)
    put(host, f"{LDAP_CONF_DIR}/ca.crt", ca.pem)
    put(host, f"{LDAP_CONF_DIR}/server.crt", cert)
    put(host, f"{LDAP_CONF_DIR}/server.key", key, 0o600)
    put(host, f"{LDAP_CONF_DIR}/slapd.conf", SLAPD_CONF.format(dir=LDAP_CONF_DIR, data=LDAP_DATA_DIR))
    host.path(LDAP_DATA_DIR).mkdir(parents=True, exist_ok=True)
    entries = [
        "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        "dn: ou=People,dc=example,dc=com\nobjectClass: organizationalUnit\nou: People\n",
        "dn: ou=Staff,dc=example,dc=com\nobjectClass: organizationalUnit\nou: Staff\n",
        "dn: cn=dovecot_LDAP,dc=example,dc=com\nobjectClass: organizationalRole\n"
        f"objectClass: simpleSecurityObject\ncn: dovecot_LDAP\nuserPassword{_ldif_value(ssha(search_password))}\n",
    ]
    for u in users:
        entries.append(
            f"dn: cn={u.uid},ou={u.ou},dc=example,dc=com\nobjectClass: inetOrgPerson\n"
            f"objectClass: posixAccount\ncn: {u.uid}\nsn: {u.uid}\nuid: {u.uid}\n"
            f"uidNumber: {u.number}\ngidNumber: {u.number}\nhomeDirectory: /home/{u.uid}\n"
            f"userPassword{_ldif_value(ssha(u.password))}\n")
    if extra_ldif:
        entries.append(extra_ldif)
    put(host, f"{LDAP_CONF_DIR}/data.ldif", "\n".join(entries), 0o600)
    out = host.run(["slapadd", "-f", f"{LDAP_CONF_DIR}/slapd.conf", "-l", f"{LDAP_CONF_DIR}/data.ldif"])
    assert out.returncode == 0, out.stdout + out.stderr
    # ldap.example.com is the directory that ldap.toml's Postfix alias lookups (guide 2.5) ask
    add_hosts(host, LDAP_HOST, "ldap.example.com")
    out = host.run(["slapd", "-f", f"{LDAP_CONF_DIR}/slapd.conf",
                    "-h", "ldap://127.0.0.1:389/ ldaps://127.0.0.1:636/"])
    assert out.returncode == 0, out.stdout + out.stderr
    wait_port(host, 389)
    wait_port(host, 636)


# --- MariaDB ----------------------------------------------------------------

def sql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def sha512_crypt(password: str) -> str:
    """The password hashed as the guide's table holds it, by Dovecot's own tool."""
    out = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", password],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def start_mariadb(host, ca: TestCA, db_password: str, users: dict[str, str]) -> None:
    """mariadbd on 127.0.0.1:3306 (TLS required), named mariadb_srv, with dovecotDB.users."""
    mysql = (int(host.run(["id", "-u", "mysql"]).stdout), int(host.run(["id", "-g", "mysql"]).stdout))
    key, cert = ca.issue(SQL_HOST)
    put(host, f"{SQL_TLS_DIR}/ca.crt", ca.pem)
    put(host, f"{SQL_TLS_DIR}/server.crt", cert)
    put(host, f"{SQL_TLS_DIR}/server.key", key, 0o600, owner=mysql)
    run_dir = host.path("/run/mysqld")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chown(run_dir, *mysql)
    add_hosts(host, SQL_HOST)
    host.popen(["mariadbd", "--user=mysql", "--datadir=/var/lib/mysql",
                "--socket=/run/mysqld/mysqld.sock", "--pid-file=/run/mysqld/mysqld.pid",
                "--bind-address=127.0.0.1", "--port=3306", "--skip-name-resolve",
                f"--ssl-ca={SQL_TLS_DIR}/ca.crt", f"--ssl-cert={SQL_TLS_DIR}/server.crt",
                f"--ssl-key={SQL_TLS_DIR}/server.key", "--require-secure-transport=ON",
                "--log-error=/var/log/test-mariadb.err"],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(host, 3306, timeout=90)
    rows = ",\n".join(f"({sql_literal(u)}, {sql_literal(sha512_crypt(p))})" for u, p in users.items())
    script = f"""
CREATE DATABASE dovecotDB;
CREATE TABLE dovecotDB.users (username VARCHAR(128) NOT NULL PRIMARY KEY,
                              password VARCHAR(255) NOT NULL);
INSERT INTO dovecotDB.users VALUES {rows};
CREATE USER 'dovecot'@'%' IDENTIFIED BY {sql_literal(db_password)} REQUIRE SSL;
GRANT SELECT ON dovecotDB.users TO 'dovecot'@'%';
FLUSH PRIVILEGES;
"""
    out = host.run(["mariadb", "--protocol=socket", "-uroot"], input=script, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
