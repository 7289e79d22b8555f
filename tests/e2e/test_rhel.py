"""The RHEL-flavoured throwaway host (issue 14, item 1): layout, identity, dnf/rpm, firewalld, SELinux store.

Each test gets a fresh :class:`rhel.RhelHost` (firewalld running inside); the
layer under it is built once per test session (see ``rhel.py``).

Every reference answers file is applied once on such a host (``applied``: pam.toml
and full.toml on rhel10 and rhel9; ldap.toml, ldap-search.toml and sql.toml on rhel10,
each with a real slapd or MariaDB from ``authservers.py`` where it needs one;
null-client.toml below): the wizard's own ``dnf install`` of stand-in RPMs (Dovecot's
MySQL driver and Postfix's LDAP and LMDB maps come only with their sub-packages),
probes from the peer through the real firewall (ports, an IMAPS login, a delivery
on port 25 read back), ``verify``, a second run that plans nothing, and ``rollback``
back to the original tree, firewall and SELinux store. ``install.sh`` is run by an
administrator through real sudo with RHEL's ``secure_path``.

Product defects this host revealed (all fixed now; their tests below were strict xfails until then):

1. ``/var/mail`` is RHEL's symlink to ``spool/mail``: pam.toml (and every file
   with the default mail root) is refused, "exists and is not a directory".
2. Port 587: the plan runs ``firewall-cmd --permanent --add-service=smtp
   --add-service=submission --add-service=smtps``; firewalld 1.x (RHEL 9,
   Debian's 1.3.3) has no ``submission`` service, exits 0 with a warning and
   587 stays closed (the peer's probe proves it); ``smtp-submission`` exists.
3. A non-default mail root needs ``semanage``, absent on a minimal install
   (policycoreutils-python-utils): apply dies with exit 127.
4. A mail root the policy already labels (``/var/spool/mail``, RHEL's real
   spool): the plan runs ``semanage fcontext -a`` anyway, which exits 1
   "already defined" (only local rules, ``-l -C``, are consulted).
5. Rollback leaves the firewall services and rich rules and the SELinux
   fcontext rule it added: it lists their exact inverse but does not run it.
   (The packages it installed stay too, as it says; their files are back to
   what the packages installed: ``rpm -V``.)
6. With SELinux disabled, the report's "files carry the policy's labels" is a
   pass (``restorecon -n`` is a silent no-op); it should be "not checkable".
7. ``nis_enabled`` is read with ``getsebool`` (kernel): with SELinux disabled
   it is planned again on every run (a second run of full.toml is never
   empty) and verify fails it, though the store has it on.
8. Every run reports "SELinux is enforcing: fail (Disabled)" here; on a real
   host that is a finding, here it is what the kernel is (accepted below).
9. Rollback of ``setsebool -P nis_enabled on`` ran ``setsebool -P ... off``: the
   store kept a local setting it never had (``semanage export``: ``boolean -m -0
   nis_enabled``) and a policy built from it; now the store's booleans.local is put
   back as it was and the policy rebuilt (``semodule -B``).
10. Rollback left the mail store it created (full.toml's /srv/vmail, holding the
   peer's delivery) and the mailboxes in the one it took over (/var/spool/mail/alice)
   without a word, owned by the uid of the vmail account it removed; the report now
   lists them under "not undone".
11. README's ``mailwizard --dry-run`` (no root needed) stopped with "firewalld is not
   running": firewalld answers only root (polkit's NotAuthorized); now a warning.

Not checkable here: RHEL 9's ``dnf install python3.11`` in install.sh (this
machine's python3 is already 3.11); PyPI (pip installs offline from a local
directory); the LDAP and database servers are on the host's loopback, not on hosts
of their own (their accounts and data are not the RHEL host's: Debian's
``update-ca-certificates`` stands in for ``update-ca-trust``); the doveadm
password under ``/root`` (issue 14): refpolicy, unlike RHEL's targeted policy, labels /root ``user_home_dir_t`` and lets
``dovecot_t`` search it, so the denial cannot be shown; enforcing SELinux;
systemd units (PID 1 is not systemd, services run through ``service``);
``PROFILE=SYSTEM`` (Debian's OpenSSL lacks it, see ``rhel.py``).
"""

from __future__ import annotations

import json
import os
import stat
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from authcheck import answers_with as authcheck_answers, imap_login
from authservers import ALIAS_LDIF, LDAP_CONF_DIR, LdapUser, make_ca, put, start_mariadb, start_slapd, trust_ca
from helpers import diff_snapshots, prepare, snapshot, statuses, wizard_here
from rhel import FRESH, HIDDEN, PLATFORMS, SHARED_RHEL, RhelHost, log
from test_postfix import IMAP_FETCH, SERVER, peer_python, smtp

pytestmark = pytest.mark.e2e

DETECT = "from mailwizard import platform; print(platform.detect().name)"


@pytest.fixture(params=["rhel10", "rhel9"])
def rhel(request):
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    with RhelHost(request.param) as host:
        yield host


@pytest.fixture
def rhel10():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    with RhelHost("rhel10") as host:
        yield host


def run_ok(host, cmd, **kw):
    r = host.run(cmd, **kw)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r.stdout


# -- identity and layout --------------------------------------------------------------------------

def test_platform_detection_sees_rhel(rhel):
    out = run_ok(rhel, ["python3", "-c", DETECT], env={"PYTHONPATH": str(FRESH.parents[2])})
    assert out.strip() == rhel.platform
    release = PLATFORMS[rhel.platform]["release"]
    assert rhel.path("/etc/redhat-release").read_text().strip() == release
    assert os.readlink(rhel.path("/etc/redhat-release", follow_symlinks=False)) == "almalinux-release"
    assert not os.path.lexists(rhel.path("/etc/debian_version"))
    if rhel.platform == "rhel9":   # AlmaLinux 9.3's own os-release, byte for byte
        assert rhel.path("/etc/os-release").read_bytes() == (SHARED_RHEL / "etc/os-release").read_bytes()
    assert run_ok(rhel, "rpm -q --qf '%{VERSION}' almalinux-release") == release.split()[2]


def test_layout_and_accounts_are_almalinux_9_3s(rhel10):
    wrong = []
    for line in (SHARED_RHEL / "layout-almalinux-9.3.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[0].startswith("/") or parts[0].startswith(("/tmp", "/proc", "/sys", "/dev")):
            continue
        path, kind, mode, owner = parts[:4]
        st = os.lstat(rhel10.path(path, follow_symlinks=False))
        got_kind = "l" if stat.S_ISLNK(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else "?"
        got = (got_kind, f"{stat.S_IMODE(st.st_mode):o}", f"{st.st_uid}:{st.st_gid}")
        if kind == "l":
            got += (os.readlink(rhel10.path(path, follow_symlinks=False)),)
            want = (kind, mode, owner, parts[5])
            got = (got[0], mode, owner, got[3])           # a link's mode and owner say nothing
        else:
            want = (kind, mode, owner)
        if got != want:
            wrong.append(f"{path}: {got} != {want}")
    assert wrong == []
    # the mail spool is RHEL's: /var/mail -> spool/mail, 0775 root:mail (gid 12)
    st = rhel10.path("/var/mail").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o775, 0, 12)
    assert rhel10.path("/etc/passwd").read_text().startswith((SHARED_RHEL / "etc/passwd").read_text())
    assert run_ok(rhel10, ["id", "-g", "mail"]).strip() == "12"
    # a fresh minimal install: no mail server, no semanage, but firewalld and the policy
    installed = run_ok(rhel10, "rpm -qa --qf '%{NAME}\\n'").split()
    assert "postfix" not in installed and "dovecot" not in installed
    assert {"firewalld", "selinux-policy-targeted", "policycoreutils"} <= set(installed)
    for cmd in ("postconf", "postfix", "dovecot", "doveconf", "semanage"):
        assert rhel10.run(["sh", "-c", f"command -v {cmd}"]).returncode != 0, cmd
    assert rhel10.run(["id", "postfix"]).returncode != 0


# -- rpm and dnf --------------------------------------------------------------------------------

def test_dnf_installs_the_platforms_fresh_packages(rhel):
    out = run_ok(rhel, ["dnf", "install", "-y", "postfix", "postfix-lmdb", "dovecot", "dovecot-pigeonhole"],
                 timeout=300)
    assert "Complete!" in out
    assert run_ok(rhel, "rpm -q postfix").startswith("postfix-" + PLATFORMS[rhel.platform]["postfix"])
    fresh = FRESH / rhel.platform / "etc"
    for rel in ("postfix/main.cf", "postfix/master.cf", "dovecot/dovecot.conf", "dovecot/conf.d/10-mail.conf",
                "dovecot/conf.d/90-sieve.conf"):
        assert rhel.path(f"/etc/{rel}").read_bytes() == (fresh / rel).read_bytes(), rel
    # this machine's binaries run with RHEL's paths and accounts
    assert run_ok(rhel, "postconf -h daemon_directory").strip() == "/usr/libexec/postfix"
    run_ok(rhel, "postfix check")
    assert "ssl_cipher_list" in run_ok(rhel, "doveconf -n")
    ids = run_ok(rhel, "id -u postfix; getent group postdrop | cut -d: -f3; id -u dovecot")
    assert ids.split() == ["89", "90", "97"]
    assert "mail" in run_ok(rhel, "id -nG postfix").split()
    assert rhel.path("/etc/pki/tls/certs/postfix.pem").exists()   # RHEL's %post makes a TLS pair
    # %config(noreplace): an administrator's main.cf survives a reinstall; rpm -V names it
    with open(rhel.path("/etc/postfix/main.cf"), "a") as f:
        f.write("# local change\n")
    run_ok(rhel, "dnf reinstall -y postfix", timeout=300)
    assert rhel.path("/etc/postfix/main.cf").read_text().endswith("# local change\n")
    assert "/etc/postfix/main.cf" in rhel.run("rpm -V postfix").stdout


# -- firewalld ----------------------------------------------------------------------------------

LISTEN = r'''
import socket, sys, time
socks = []
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen()
    socks.append(s)
print("listening", flush=True)
time.sleep(600)
'''

PROBE = r'''
import socket, sys
for port in map(int, sys.argv[2:]):
    try:
        socket.create_connection((sys.argv[1], port), timeout=3).close()
        print(port, "open")
    except OSError as e:
        print(port, "closed", type(e).__name__)
'''


def probe(host, *ports: int) -> dict[int, str]:
    out = host.run_peer(["python3", "-c", PROBE, host.peer().host_addr, *map(str, ports)], timeout=60)
    assert out.returncode == 0, out.stderr
    return {int(line.split()[0]): line.split()[1] for line in out.stdout.splitlines()}


def test_firewalld_opens_a_service_to_the_peer_and_keeps_others_closed(rhel10):
    host = rhel10
    assert run_ok(host, ["firewall-cmd", "--state"]).strip() == "running"
    listener = listening(host, 993, 995, 587)
    host.add_peer()
    assert probe(host, 993, 995, 587) == {993: "closed", 995: "closed", 587: "closed"}
    run_ok(host, ["firewall-cmd", "--permanent", "--add-service=imaps", "--add-service=smtp-submission"])
    assert probe(host, 993) == {993: "closed"}                 # permanent only: not yet
    run_ok(host, ["firewall-cmd", "--reload"])
    assert probe(host, 993, 995, 587) == {993: "open", 995: "closed", 587: "open"}
    # loopback is trusted: 995 listens, the firewall alone keeps the peer out
    assert "open" in host.run(["python3", "-c", PROBE, "127.0.0.1", "995"]).stdout
    # Debian's firewalld 1.3.3, like RHEL 9's 1.x, has no service named "submission" (issue 14)
    bad = host.run(["firewall-cmd", "--permanent", "--add-service=submission"])
    assert bad.returncode == 101 and "INVALID_SERVICE" in bad.stderr + bad.stdout
    listener.kill()


# -- SELinux policy store -----------------------------------------------------------------------

def test_selinux_store_takes_fcontext_port_and_boolean(rhel10):
    host = rhel10
    # a minimal install has no semanage; the stand-in policycoreutils-python-utils brings it
    assert host.run(["semanage", "boolean", "-l"]).returncode == 127
    run_ok(host, ["dnf", "install", "-y", "policycoreutils-python-utils"], timeout=300)
    assert run_ok(host, ["getenforce"]).strip() == "Disabled"   # the kernel has no SELinux
    t = time.monotonic()
    run_ok(host, ["semanage", "fcontext", "-a", "-t", "mail_spool_t", "/srv/vmail(/.*)?"], timeout=300)
    run_ok(host, ["semanage", "port", "-a", "-t", "pop_port_t", "-p", "tcp", "10110"], timeout=300)
    run_ok(host, ["setsebool", "-P", "nis_enabled", "on"], timeout=300)
    log(f"three semanage/setsebool -P changes took {time.monotonic() - t:.1f} s")
    assert "mail_spool_t" in run_ok(host, ["matchpathcon", "/srv/vmail/alice/cur"])
    assert "mail_spool_t" in run_ok(host, ["semanage", "fcontext", "-l", "-C"])
    ports = run_ok(host, ["semanage", "port", "-l"])
    assert any(line.startswith("pop_port_t") and "10110" in line for line in ports.splitlines())
    booleans = run_ok(host, ["semanage", "boolean", "-l"]).splitlines()
    assert any(line.split()[:2] == ["nis_enabled", "(on"] for line in booleans)
    # restorecon is a silent no-op here; setfiles -n shows what a relabel would do, without doing it
    host.path("/srv/vmail/alice").mkdir(parents=True)
    r = host.run(["restorecon", "-Rv", "/srv/vmail"])
    assert (r.returncode, r.stdout) == (0, "")
    relabel = run_ok(host, ["setfiles", "-n", "-v", "/etc/selinux/default/contexts/files/file_contexts", "/srv/vmail"])
    assert "Would relabel /srv/vmail/alice from (null) to system_u:object_r:mail_spool_t:s0" in relabel


# -- the wizard ---------------------------------------------------------------------------------

TREES = ("/etc", "/srv", "/var/spool/mail", "/root")


def answers_with(host, name: str, **replace: str) -> str:
    """An answers file prepared in the host, with `old = new` line replacements."""
    path = prepare(host, name)
    text = host.path(path).read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    host.path(path).write_text(text)
    return path


def tree_state(host) -> dict:
    """TREES as `snapshot` has them; /root only its own entries (below it may lie this machine's big trees,
    such as a Python installation, which the wizard never writes)."""
    return {top: snapshot(host, top, deep=top != "/root") for top in TREES}


def listening(host, *ports: int):
    """Stand-in listeners on every port (the plan's daemons are not installed): only the firewall decides."""
    proc = host.popen(["python3", "-c", LISTEN, *map(str, ports)])
    deadline = time.monotonic() + 10
    while host.run(["python3", "-c", PROBE, "127.0.0.1", str(ports[-1])]).stdout.split()[1:2] != ["open"]:
        assert time.monotonic() < deadline, "the listener did not start"
        time.sleep(0.1)
    return proc


# what each answers file serves to any client (the rest, LMTP 24 and doveadm 12345 too, only to the
# partner 192.0.2.1 by rich rules, or to nobody)
SERVED = {"pam.toml": (25, 110, 143, 993, 995), "full.toml": (25, 110, 143, 993, 995, 587, 465, 4190)}
PORTS = (25, 110, 143, 993, 995, 587, 465, 4190, 24, 12345)


@pytest.mark.parametrize("name", ["pam.toml", "full.toml"])
def test_every_firewall_command_of_the_plan_runs_and_opens_what_it_serves(rhel10, name):
    """The plan's firewall-cmd commands (from the dry run), run for real; probes from the peer."""
    host = rhel10
    run_ok(host, ["useradd", "-m", "alice"])           # full.toml's replication lists the system users
    answers = prepare(host, name)
    out = wizard_here(host, "--answers", answers, "--unattended", "--dry-run", "--json")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    commands = [argv for change in json.loads(out.stdout)["plan"]["changes"] if not change["noop"]
                for argv in change["commands"] if argv[0] == "firewall-cmd"]
    assert commands
    for argv in commands:
        run_ok(host, argv)
    listener = listening(host, *PORTS)
    host.add_peer()
    assert probe(host, *PORTS) == {p: "open" if p in SERVED[name] else "closed" for p in PORTS}
    listener.kill()


ACCOUNTS = tuple(f"/etc/{n}{s}" for n in ("passwd", "group", "shadow", "gshadow") for s in ("", "-"))
# what the packages' %pre/%post leave besides their files: accounts, Postfix's TLS pair, a 0700 private/
SCRIPTLETS = (*ACCOUNTS, "/etc/pki/tls/certs/postfix.pem", "/etc/pki/tls/private/postfix.key",
              "/etc/pki/dovecot/private")
FIREWALL_SELINUX = ("/etc/firewalld/zones/public.xml", "/etc/firewalld/zones/public.xml.old",
                    "/etc/selinux/default/contexts/files/file_contexts.local",
                    "/etc/selinux/default/contexts/files/file_contexts.local.bin")


def apply_answers(host, name: str, answers: str) -> dict:
    """The wizard applied unattended with `answers` (prepared in the host); the state before."""
    before = tree_state(host)
    t = time.monotonic()
    out = wizard_here(host, "--answers", answers, "--unattended")
    log(f"{name} applied in {time.monotonic() - t:.1f} s")
    # exit 1: the report's one failure here is "SELinux is enforcing" (the kernel has none)
    assert out.returncode in (0, 1) and "apply failed" not in out.stdout + out.stderr, \
        out.stdout[-4000:] + out.stderr[-2000:]
    return before


def rollback(host, before: dict) -> list[str]:
    """`mailwizard rollback`; what then differs from `before`."""
    return rollback_saying(host, before)[0]


def rollback_saying(host, before: dict) -> tuple[list[str], str]:
    """`mailwizard rollback`; what then differs from `before`, and what the rollback said."""
    t = time.monotonic()
    back = wizard_here(host, "rollback")
    log(f"rollback in {time.monotonic() - t:.1f} s")
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    after = tree_state(host)
    return [f"{top}/{line}" for top in TREES for line in diff_snapshots(before[top], after[top])], back.stdout


def rpm_names(host) -> set[str]:
    return set(run_ok(host, "rpm -qa --qf '%{NAME}\\n'").split())


# -- every reference answers file, applied on a RHEL host ----------------------------------------------
#
# Each answers file gets what it needs first -- a system account with a password (PAM), a real slapd
# (ldap.toml, ldap-search.toml: tests/e2e/authservers.py, as the Debian tier) or a real MariaDB (sql.toml)
# on the host's loopback under the names the file gives -- then one apply, and from the peer through the
# real firewall: the ports, an IMAPS login and a delivery on port 25 read back over IMAPS; then verify, a
# second (dry) run, rollback.

ALICE_PW = "Alice-on-RHEL 1"
LDAP_ALICE = LdapUser("alice", "alice's LDAP pw", "People", 2001)
LDAP_BOB = LdapUser("bob", "bob #1 \"pw\"", "Staff", 2002)     # only the search account may read ou=Staff
DNPASS = "Dn 'pass' #1 100%"
SQL_USERS = {"carol": "carol's SQL pw"}


def system_user(host) -> None:
    run_ok(host, ["useradd", "-m", "alice"])
    run_ok(host, ["chpasswd"], input=f"alice:{ALICE_PW}\n")


def setup_pam(host) -> str:
    system_user(host)
    return prepare(host, "pam.toml")


def setup_full(host) -> str:
    system_user(host)                    # full.toml's replication lists the system users too
    return prepare(host, "full.toml")


def setup_ldap(host) -> str:
    ca = make_ca()
    start_slapd(host, ca, [LDAP_ALICE], "search-pw", extra_ldif=ALIAS_LDIF)
    trust_ca(host, ca)                   # ldap.toml gives no CA: the system store must trust the server
    return authcheck_answers(host, "ldap.toml", {"[postfix.ldap_aliases]": [
        'query_filter = "(mail=%s)"', 'result_attribute = "uid"']})


def setup_ldap_search(host) -> str:
    ca = make_ca()
    start_slapd(host, ca, [LDAP_ALICE, LDAP_BOB], DNPASS)
    put(host, "/root/dovecot-ldap.pass", DNPASS + "\n", 0o600)
    return authcheck_answers(host, "ldap-search.toml",
                             {"[auth.ldap]": [f'tls_ca_cert_file = "{LDAP_CONF_DIR}/ca.crt"']})


def setup_sql(host) -> str:
    # the database server's account (it stands for another host): Debian's ids, which own its data directory
    st = os.stat("/var/lib/mysql")
    run_ok(host, ["groupadd", "-r", "-g", str(st.st_gid), "mysql"])
    run_ok(host, ["useradd", "-r", "-u", str(st.st_uid), "-g", "mysql", "-d", "/var/lib/mysql",
                  "-s", "/sbin/nologin", "mysql"])
    ca = make_ca()
    start_mariadb(host, ca, "db-pw", SQL_USERS)
    put(host, "/etc/pki/tls/certs/ca.crt", ca.pem)               # sql.toml's ssl_ca
    put(host, "/root/dovecot-sql.pass", "db-pw\n", 0o600)
    return authcheck_answers(host, "sql.toml", {})


@dataclass(frozen=True)
class Cycle:
    """One answers file on one platform: what it needs, who logs in, what it installs and serves."""
    platform: str
    name: str
    setup: Callable[[RhelHost], str]
    user: str
    password: str
    rcpts: tuple[str, ...]          # delivered to over port 25 from the peer, read back as `user`
    installed: frozenset[str]       # what the wizard's dnf install brings
    served: tuple[int, ...]         # what the peer reaches (the rest of PORTS stays closed)

    def __str__(self) -> str:
        return f"{self.platform}-{self.name}"


BASE_RPMS = {"rhel10": {"postfix", "postfix-lmdb", "dovecot"}, "rhel9": {"postfix", "dovecot"}}
ALL_MAIL = (25, 110, 143, 993, 995)


def cycle(platform: str, name: str, setup, user: str, password: str, rcpts: tuple[str, ...],
          extra_rpms: tuple[str, ...] = (), served: tuple[int, ...] = ALL_MAIL):
    c = Cycle(platform, name, setup, user, password, rcpts, frozenset(BASE_RPMS[platform] | set(extra_rpms)), served)
    return pytest.param(c, id=str(c), marks=pytest.mark.xdist_group(f"rhel-cycle-{c}"))


CYCLES = [
    *(cycle(p, "pam.toml", setup_pam, "alice", ALICE_PW, ("alice@example.com",)) for p in ("rhel10", "rhel9")),
    cycle("rhel10", "ldap.toml", setup_ldap, "alice", LDAP_ALICE.password,
          ("alice@example.com", "sales@example.com"), ("postfix-ldap",), (25, 143, 993)),
    cycle("rhel10", "ldap-search.toml", setup_ldap_search, "bob", LDAP_BOB.password, ("bob@example.com",)),
    cycle("rhel10", "sql.toml", setup_sql, "carol", SQL_USERS["carol"], ("carol@example.com",), ("dovecot-mysql",)),
    *(cycle(p, "full.toml", setup_full, "alice", ALICE_PW, ("alice@example.com",),
            ("dovecot-pigeonhole", "policycoreutils-python-utils"), (*ALL_MAIL, 587, 465, 4190))
      for p in ("rhel10", "rhel9")),    # rhel9: hash maps instead of LMDB
]


@pytest.fixture(scope="module", params=CYCLES)
def applied(request):
    """One answers file applied once on a RHEL host, then probed, verified, planned again and rolled back:
    what each step gave, for the tests below (one apply for all of them: it costs half a minute)."""
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    c: Cycle = request.param
    got: dict = {"cycle": c}
    started = time.monotonic()
    with RhelHost(c.platform) as host:
        answers = c.setup(host)
        root = tomllib.loads(host.path(answers).read_text()).get("mailbox", {}).get("root", "/var/mail")
        firewall = [run_ok(host, ["firewall-cmd", *perm, "--list-all"]) for perm in (["--permanent"], [])]
        packages = rpm_names(host)
        selinux = selinux_customizations(host, f"{HIDDEN}/usr/sbin/semanage")  # Debian's, before the plan's
        real_root = run_ok(host, ["readlink", "-f", root]).strip()       # RHEL: /var/mail -> /var/spool/mail
        root_before = run_ok(host, ["stat", "-c", "%a %U:%G", real_root]) if host.path(real_root).is_dir() else ""
        before = apply_answers(host, c.name, answers)
        got["installed"] = rpm_names(host) - packages
        host.add_peer()
        got["probes"] = probe(host, *PORTS)
        got["login"] = imap_login(host, c.user, c.password)
        got["refused"] = imap_login(host, c.user, "not " + c.password)
        got["sent"] = [smtp(host, port=25, mail_from="bob@example.net", rcpt=rcpt, subject=f"to {rcpt}")["result"]
                       for rcpt in c.rcpts]
        found = peer_python(host, IMAP_FETCH % (SERVER, c.user, c.password, [f"to {r}" for r in c.rcpts]), 90)
        got["read back"] = [r for r in c.rcpts if any(f"to {r}" in f for f in found)]
        got["mail root"] = (real_root, run_ok(host, ["stat", "-c", "%a %U:%G", real_root]).strip(),
                            run_ok(host, ["matchpathcon", f"{real_root}/{c.user}"]).split()[-1])
        got["symlink"] = os.readlink(host.path("/var") / "mail")
        t = time.monotonic()
        report = wizard_here(host, "verify", "--json")
        log(f"{c}: verify in {time.monotonic() - t:.1f} s")
        got["verify"] = statuses(json.loads(report.stdout))
        t = time.monotonic()
        again = wizard_here(host, "--answers", answers, "--unattended", "--dry-run", "--json")
        log(f"{c}: second (dry) run in {time.monotonic() - t:.1f} s")
        got["replan"] = [ch["description"] for ch in json.loads(again.stdout)["plan"]["changes"] if not ch["noop"]]
        owned = set(run_ok(host, ["rpm", "-ql", *got["installed"]]).split())
        diff, got["rollback said"] = rollback_saying(host, before)
        # the mail the peer delivered stays (a rollback never deletes mail), and the report says so
        mail = f"{real_root}/{c.user}"
        left = (mail,) if root_before else (real_root,)
        got["mail left"] = [line.split(":")[0] for line in diff if line.startswith(tuple(p + ":" for p in left))]
        got["rollback"] = [line for line in diff if not line.startswith((f"{real_root}/", f"{real_root}:"))
                           and line.split(":")[0] not in owned | set(SCRIPTLETS) | set(FIREWALL_SELINUX)]
        if root_before:   # the mail store it owned: its owner and mode as they were
            got["rollback"] += [f"{real_root}: {now}" for now in [run_ok(host, ["stat", "-c", "%a %U:%G", real_root])]
                                if now != root_before]
        verify_rpms = host.run(["rpm", "-V", "--nomtime", *got["installed"]])   # rollback keeps no mtimes
        got["rpm -V"] = (verify_rpms.returncode, verify_rpms.stdout)
        got["firewall"] = (firewall, [run_ok(host, ["firewall-cmd", *perm, "--list-all"])
                                      for perm in (["--permanent"], [])])
        got["selinux"] = (selinux, selinux_customizations(host, f"{HIDDEN}/usr/sbin/semanage"))
    log(f"{c}: the whole cycle in {time.monotonic() - started:.1f} s")
    return got


def test_apply_installs_with_dnf_and_the_peer_reaches_what_it_serves(applied):
    c: Cycle = applied["cycle"]
    assert applied["installed"] == c.installed
    assert applied["probes"] == {p: "open" if p in c.served else "closed" for p in PORTS}


def test_the_peer_logs_in_and_mail_it_sends_is_delivered(applied):
    c: Cycle = applied["cycle"]
    assert applied["login"][0], applied["login"]
    assert not applied["refused"][0] and "NO" in applied["refused"][1], applied["refused"]
    assert applied["sent"] == ["accepted"] * len(c.rcpts)
    assert applied["read back"] == list(c.rcpts)


def test_the_mail_root_is_labelled_and_owned_and_var_mail_stays_a_link(applied):
    real_root, owner, label = applied["mail root"]
    want = "/srv/vmail" if applied["cycle"].name == "full.toml" else "/var/spool/mail"
    assert (real_root, owner, label.split(":")[2]) == (want, "700 vmail:vmail", "mail_spool_t"), label
    assert applied["symlink"] == "spool/mail"


def test_verify_passes_but_what_the_kernel_cannot_have(applied):
    failed = {k for k, v in applied["verify"].items() if v == "fail"}
    assert failed <= {"selinux/SELinux is enforcing"}, failed


def test_second_run_plans_nothing(applied):
    assert applied["replan"] == []


def selinux_customizations(host, semanage: str = "semanage") -> list[str]:
    """The policy store's local customizations (`semanage export`: fcontext, port, boolean, module...)."""
    return run_ok(host, [semanage, "export"], timeout=300).splitlines()


def test_rollback_returns_the_tree(applied):
    """The tree as it was, but for the packages the wizard installed (they stay, as it says; their files
    as the packages installed them); the firewall's and SELinux store's own files are compared by what
    they hold (the test below), not by their bytes (firewalld rewrites its zone file)."""
    assert applied["rollback"] == [], applied["rollback said"]
    assert applied["rpm -V"] == (0, "")
    [left] = applied["mail left"]
    if left.endswith(applied["cycle"].user):    # the user's mail in the store that was there before
        assert f"left in {left.rsplit('/', 1)[0]}: {applied['cycle'].user}, owned by uid " in applied["rollback said"]
    else:                                      # the store it created
        assert f"{left} (created by mailwizard) is left: it holds what came since (alice), owned by uid " \
            in applied["rollback said"]


def test_rollback_closes_the_firewall_and_drops_the_selinux_customizations(applied):
    before, after = applied["firewall"]
    assert after == before
    before, after = applied["selinux"]
    assert after == before


def test_null_client_applies_reruns_and_rolls_back_on_rhel10():
    """null-client.toml (Postfix only, no firewall change): loopback only, the peer is refused on 25."""
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    with RhelHost("rhel10", hostname="app1.example.com") as host:
        answers = prepare(host, "null-client.toml")
        before = tree_state(host)
        firewall = run_ok(host, ["firewall-cmd", "--list-all"])
        out = wizard_here(host, "--answers", answers, "--unattended")
        assert out.returncode in (0, 1) and "apply failed" not in out.stdout + out.stderr, \
            out.stdout[-4000:] + out.stderr[-2000:]
        failed = {k for k, v in statuses(json.loads(wizard_here(host, "verify", "--json").stdout)).items()
                  if v == "fail"}
        assert failed <= {"selinux/SELinux is enforcing"}, failed
        assert run_ok(host, "rpm -q --qf '%{NAME}' postfix") == "postfix"
        assert run_ok(host, ["postconf", "-h", "inet_interfaces"]).strip() == "loopback-only"
        assert run_ok(host, ["firewall-cmd", "--list-all"]) == firewall
        host.add_peer()
        assert probe(host, 25) == {25: "closed"}
        again = wizard_here(host, "--answers", answers, "--unattended", "--dry-run", "--json")
        assert [c["description"] for c in json.loads(again.stdout)["plan"]["changes"] if not c["noop"]] == []
        installed = rpm_names(host) & {"postfix", "postfix-lmdb"}
        owned = set(run_ok(host, ["rpm", "-ql", *installed]).split())
        assert [line for line in rollback(host, before) if line.split(":")[0] not in owned | set(SCRIPTLETS)] == []
        verify_rpms = host.run(["rpm", "-V", "--nomtime", *installed])
        assert (verify_rpms.returncode, verify_rpms.stdout) == (0, "")


def test_pam_answers_as_shipped_plan_on_rhel(rhel10):
    host = rhel10
    out = wizard_here(host, "--answers", prepare(host, "pam.toml"), "--unattended", "--dry-run")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_non_default_mail_root_applies_on_a_minimal_install(rhel10):
    host = rhel10
    answers = answers_with(host, "pam.toml", **{'root = "/var/mail"': 'root = "/srv/vmail"'})
    out = wizard_here(host, "--answers", answers, "--unattended")
    assert "apply failed" not in out.stdout + out.stderr, out.stdout[-3000:] + out.stderr[-3000:]
    assert "/srv/vmail" in run_ok(host, ["semanage", "fcontext", "-l", "-C"])


def test_mail_root_the_policy_labels_needs_no_fcontext_rule(rhel10):
    host = rhel10
    answers = answers_with(host, "pam.toml", **{'root = "/var/mail"': 'root = "/var/spool/mail"'})
    run_ok(host, ["dnf", "install", "-y", "policycoreutils-python-utils"], timeout=300)
    out = wizard_here(host, "--answers", answers, "--unattended", "--dry-run", "--json")
    plan = json.loads(out.stdout)["plan"]
    assert not [c for c in plan["changes"]
                if not c["noop"] and any("fcontext" in " ".join(cmd) for cmd in c["commands"])]


def test_boolean_already_on_in_the_store_is_not_planned_again(rhel10):
    host = rhel10
    run_ok(host, ["dnf", "install", "-y", "policycoreutils-python-utils"], timeout=300)
    run_ok(host, ["setsebool", "-P", "nis_enabled", "on"], timeout=300)
    run_ok(host, ["useradd", "-m", "alice"])
    out = wizard_here(host, "--answers", prepare(host, "full.toml"), "--unattended", "--dry-run", "--json")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    planned = [c["commands"] for c in json.loads(out.stdout)["plan"]["changes"] if not c["noop"]]
    assert not [argv for cmds in planned for argv in cmds if argv[:1] == ["setsebool"]]


LABELS_CHECK = """
from mailwizard.answers import parse
from mailwizard.host import Host
from mailwizard.platform import detect
from mailwizard.steps import selinux
answers, _ = parse("")
check = next(c for c in selinux.verify(answers, Host(), detect()) if c.name == "files carry the policy's labels")
print(check.status, check.evidence)
"""


def test_label_check_is_not_a_pass_when_selinux_is_disabled(rhel10):
    out = run_ok(rhel10, ["python3", "-c", LABELS_CHECK], env={"PYTHONPATH": str(FRESH.parents[2])})
    assert out.startswith("warn not checkable: SELinux is disabled"), out


def test_run_tests_downloads_the_layers_debs():
    """run-tests fetches (download only) exactly the .debs the layer installs."""
    import re

    from rhel import DEBS, REPO

    m = re.search(r"^\s*RHEL_DEBS=\(([^)]*)\)", (REPO / "run-tests").read_text(), re.MULTILINE)
    assert m and tuple(m.group(1).split()) == DEBS


# -- install.sh: the two commands of the README, and sudo's secure_path ---------------------------------

RHEL_USER_PATH = "/home/admin/.local/bin:/home/admin/bin:/usr/local/bin:/usr/bin:/usr/local/sbin:/usr/sbin"
ADMIN_PW = "Admin-pw 1"
WHEELS = "/var/local/mailwizard-wheels"


def as_admin(host, script: str, timeout: float = 300):
    """`script` run by the wheel group's `admin` in a login-like environment (RHEL's PATH for users)."""
    return host.run(["runuser", "-u", "admin", "--", "env", "-i", "HOME=/home/admin", "USER=admin",
                     "LOGNAME=admin", f"PATH={RHEL_USER_PATH}", "LANG=C.UTF-8", "/bin/sh", "-c", script],
                    timeout=timeout, cwd="/home/admin")


@pytest.mark.parametrize("platform", ["rhel10", "rhel9"])
def test_install_in_two_commands_and_sudo_finds_mailwizard(platform, tmp_path):
    """README's `sudo ./install.sh && mailwizard --dry-run` by an administrator in the wheel group, with
    real sudo and RHEL's /etc/sudoers (secure_path /sbin:/bin:/usr/sbin:/usr/bin); then `sudo mailwizard`.
    Offline: pip finds mailwizard's wheel (built from this checkout) and its dependencies (repacked
    from this interpreter's) in a local directory, named in /etc/pip.conf; the machine's own pip
    configuration is not there. The Python is the host's /usr/bin/python3 (Debian's 3.11; RHEL 9's
    python3.11 from AppStream is already there, so install.sh's `dnf install python3.11` does not run)."""
    if os.geteuid() != 0:
        pytest.skip("end-to-end tier needs root")
    from wheels import REPO, wheelhouse

    t = time.monotonic()
    built = wheelhouse(tmp_path / "wheels")
    with RhelHost(platform) as host:
        for path in (f"{WHEELS}/x", "/etc/pip.conf"):
            host.path(os.path.dirname(path)).mkdir(parents=True, exist_ok=True)
        for wheel in built:
            host.path(f"{WHEELS}/{wheel.name}").write_bytes(wheel.read_bytes())
        host.path("/etc/pip.conf").write_text(f"[global]\nno-index = true\nfind-links = {WHEELS}\n")
        for machine_conf in ("/etc/xdg/pip/pip.conf", "/root/.config/pip/pip.conf"):
            if os.path.lexists(host.path(machine_conf, follow_symlinks=False)):
                host.path(machine_conf).unlink()
        run_ok(host, ["useradd", "-m", "-G", "wheel", "admin"])
        run_ok(host, ["chpasswd"], input=f"admin:{ADMIN_PW}\n")
        files = run_ok(host, ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard"]).split()
        checkout = host.path("/home/admin/mailwizard")
        for rel in files:
            if (REPO / rel).is_file():
                (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
                (checkout / rel).write_bytes((REPO / rel).read_bytes())
                os.chmod(checkout / rel, (REPO / rel).stat().st_mode & 0o777)
        prepare(host, "pam.toml")
        host.path("/home/admin/answers.toml").write_bytes(host.path("/root/answers.toml").read_bytes())
        run_ok(host, ["chown", "-R", "admin:admin", "/home/admin"])
        # sudo's secure_path: what lies in /usr/local/bin is not found (the admin's own PATH has it)
        host.path("/usr/local/bin/mw-where").write_text("#!/bin/sh\necho here\n")
        os.chmod(host.path("/usr/local/bin/mw-where"), 0o755)
        sudo = f"echo '{ADMIN_PW}' | sudo -S -p '' "
        probe_path = as_admin(host, f"mw-where && {sudo}mw-where; {sudo}sh -c 'echo $PATH'; {sudo}mailwizard --help")
        assert probe_path.stdout.splitlines()[:2] == ["here", "/sbin:/bin:/usr/sbin:/usr/bin"], probe_path
        assert "sudo: mw-where: command not found" in probe_path.stderr
        assert "sudo: mailwizard: command not found" in probe_path.stderr      # not installed yet

        # the two commands (the dry run without a terminal: from the answers file)
        two = as_admin(host, f"cd ~/mailwizard && {sudo}./install.sh {WHEELS}/{built[0].name} && "
                       "mailwizard --dry-run --answers ~/answers.toml --unattended", timeout=600)
        assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
        assert "installed: /usr/sbin/mailwizard -> /opt/mailwizard/bin/mailwizard" in two.stdout
        said = two.stdout + two.stderr
        assert "firewall-cmd --permanent --add-service=imaps" in said and "run it with sudo" in said, said[-3000:]
        assert os.readlink(host.path("/usr/sbin/mailwizard", follow_symlinks=False)) == "/opt/mailwizard/bin/mailwizard"
        python = os.path.realpath(host.path("/opt/mailwizard/bin/python"))
        assert os.path.basename(python) == "python3.11", python
        # sudo mailwizard, found through secure_path; it runs the installed copy, not this checkout
        after = as_admin(host, f"{sudo}mailwizard --help && {sudo}mailwizard --answers ~/answers.toml "
                         "--unattended --dry-run --json")
        assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
        assert after.stdout.startswith("usage: mailwizard")
        plan = json.loads(after.stdout[after.stdout.index("\n{") + 1:])
        assert plan["plan"]["changes"], plan
        where = run_ok(host, ["/opt/mailwizard/bin/python", "-c", "import mailwizard; print(mailwizard.__file__)"])
        assert where.startswith("/opt/mailwizard/lib/python3.11/site-packages/mailwizard/"), where
    log(f"{platform}: install.sh and sudo mailwizard in {time.monotonic() - t:.1f} s")
