"""RHEL-flavoured throwaway hosts (issue 14, item 1): RHEL's layout, identity, rpm/dnf, firewalld, SELinux store.

A :class:`RhelHost` is a :class:`~throwaway.ThrowawayHost` whose root has a
*layer* laid over this Debian machine's ``/``::

    with RhelHost("rhel10") as host:            # firewalld already running
        host.run(["dnf", "install", "-y", "postfix"], check=True)
        host.add_peer()
        host.run(["firewall-cmd", "--add-service=smtp"], check=True)

What the layer holds (built once, in a plain throwaway, then shared by every
RhelHost of the test session; see :func:`rhel_layer`):

* Debian's ``rpm``, ``dnf``, ``createrepo-c``, ``firewalld``,
  ``policycoreutils-python-utils``, ``selinux-policy-default``, ``sudo`` (with
  RHEL's /etc/sudoers: ``secure_path = /sbin:/bin:/usr/sbin:/usr/bin``) and
  ``postfix-lmdb``, installed from the ``.deb`` files that ``run-tests``
  downloads (``apt-get install --download-only``; never installed on this
  machine itself);
* AlmaLinux 9.3's directory layout (``../shared/rhel/layout-almalinux-9.3.txt``:
  ``/var/mail -> spool/mail``, ``/var/spool/mail`` 0775 root:mail,
  ``/var/run -> ../run``, ...) and its ``/etc`` identity files (os-release,
  redhat-release, passwd, group, nsswitch.conf, services, ...);
* an rpm database holding what a minimal RHEL install has (stand-ins for
  ``systemd``, ``firewalld``, ``policycoreutils``, ``selinux-policy-targeted``)
  and a local dnf repository per platform (``/etc/yum.repos.d/mailwizard-test.repo``)
  whose stand-in RPMs -- ``postfix``, ``postfix-lmdb``, ``postfix-ldap``,
  ``dovecot``, ``dovecot-pigeonhole``, ``dovecot-mysql``,
  ``policycoreutils-python-utils`` -- carry the platform's fresh-install
  configuration (``mailwizard/platforms/fresh/PLATFORM``, as
  ``%config(noreplace)``), create RHEL's accounts (postfix 89, postdrop 90,
  dovecot 97, dovenull) and link this machine's Debian binaries into RHEL's
  paths (``/usr/libexec/postfix``, ``/usr/lib64/postfix``,
  ``/usr/libexec/dovecot``, ``sendmail.postfix``...).  Until such a package
  is installed its commands are absent, as on a fresh RHEL host: the layer
  hides Debian's ``postfix``, ``postconf``, ``dovecot``, ``doveconf``,
  ``semanage``... under ``/usr/libexec/mw-debian``; likewise the plug-ins RHEL
  ships in sub-packages: Dovecot's MySQL driver (``dovecot-mysql``), Postfix's
  LDAP and LMDB maps (``postfix-ldap``, ``postfix-lmdb``, each with its
  ``dynamicmaps.cf.d`` entry), so a plan that forgets one fails as on RHEL;
* a SELinux policy store (refpolicy, ``/etc/selinux/config`` enforcing),
  with RHEL's ``nis_enabled`` boolean added by a one-line CIL module.

Per host, :class:`RhelHost` writes the platform's os-release (AlmaLinux 9.3,
or a 10.0 variant), points dnf at the platform's repository and, unless told
not to, starts a system D-Bus and firewalld (``firewalld --nofork --nopid``)
inside the host's network namespace.

What this host cannot be (write these down, don't test them as if real):

* The kernel has no SELinux: ``getenforce`` says Disabled, ``restorecon`` is a
  silent no-op; labels are checked against the store with
  ``matchpathcon``/``setfiles -n``, never on files.
* PID 1 is not systemd: the wizard manages services with ``service`` (Debian's
  init scripts, hidden until the stand-in package is installed).
* The binaries are Debian's (Postfix 3.7, Dovecot 2.3.19, OpenSSL without
  Red Hat's ``PROFILE=SYSTEM``): the stand-in ``dovecot`` package's
  ``10-ssl.conf`` therefore names the cipher string RHEL's DEFAULT crypto
  policy expands to, instead of ``PROFILE=SYSTEM`` (Debian's OpenSSL refuses it).
  Postfix's ``compatibility_level = 3.8`` (RHEL 10) is newer than Debian's 3.7.
* Postfix's install-time TLS pair (``/etc/pki/tls/certs/postfix.pem``) is
  2048-bit RSA here (4096 on RHEL): made in ``%post`` of every install, it
  must be quick.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throwaway import ThrowawayError, ThrowawayHost

REPO = Path(__file__).resolve().parents[2]
SHARED_RHEL = REPO.parent / "shared" / "rhel"
FRESH = REPO / "mailwizard" / "platforms" / "fresh"

#: Debian packages installed into the layer (from downloaded .debs: run-tests fetches them).
DEBS = ("rpm", "dnf", "createrepo-c", "firewalld", "policycoreutils-python-utils",
        "selinux-policy-default", "postfix-lmdb", "sudo")

#: Where the layers live: on a tmpfs, so that overlayfs accepts them above this machine's /.
LAYER_ROOT = Path("/dev/shm")
LAYER_PREFIX = "mailwizard-rhel-layer-"

HIDDEN = "/usr/libexec/mw-debian"       # Debian's binaries, until a stand-in package links them back
REPO_DIR = "/var/local/mailwizard-repo"  # + /PLATFORM

PLATFORMS = {
    "rhel9": {
        "os_release": None,   # AlmaLinux 9.3's own file, from ../shared/rhel/etc/os-release
        "release": "AlmaLinux release 9.3 (Shamrock Pampas Cat)",
        "cpe": "cpe:/o:almalinux:almalinux:9::baseos",
        "dist": "el9", "postfix": "3.5.25", "dovecot": "2.3.16", "pigeonhole": "0.5.16",
    },
    "rhel10": {
        "os_release": (
            'NAME="AlmaLinux"\nVERSION="10.0 (Purple Lion)"\nID="almalinux"\n'
            'ID_LIKE="rhel centos fedora"\nVERSION_ID="10.0"\nPLATFORM_ID="platform:el10"\n'
            'PRETTY_NAME="AlmaLinux 10.0 (Purple Lion)"\nANSI_COLOR="0;34"\n'
            'LOGO="fedora-logo-icon"\nCPE_NAME="cpe:/o:almalinux:almalinux:10::baseos"\n'
            'HOME_URL="https://almalinux.org/"\nDOCUMENTATION_URL="https://wiki.almalinux.org/"\n'
            'BUG_REPORT_URL="https://bugs.almalinux.org/"\n\n'
            'ALMALINUX_MANTISBT_PROJECT="AlmaLinux-10"\nALMALINUX_MANTISBT_PROJECT_VERSION="10.0"\n'
            'REDHAT_SUPPORT_PRODUCT="AlmaLinux"\nREDHAT_SUPPORT_PRODUCT_VERSION="10.0"\n'),
        "release": "AlmaLinux release 10.0 (Purple Lion)",
        "cpe": "cpe:/o:almalinux:almalinux:10::baseos",
        "dist": "el10", "postfix": "3.8.5", "dovecot": "2.3.21", "pigeonhole": "0.5.21",
    },
}

# What RHEL's DEFAULT crypto policy gives OpenSSL (/etc/crypto-policies/back-ends/openssl.config),
# standing in for PROFILE=SYSTEM, which only Red Hat's OpenSSL understands.
SYSTEM_CIPHERS = ("@SECLEVEL=2:kEECDH:kRSA:kEDH:kPSK:kDHEPSK:kECDHEPSK:kRSAPSK:-aDSS:-3DES:!DES:"
                  "!RC4:!RC2:!IDEA:-SEED:!eNULL:!aNULL:!MD5:-SHA384:-CAMELLIA:-ARIA:-AESCCM8")

# Debian packages whose commands a stand-in RPM brings back (hidden in the layer until then).
_HIDE = {
    "postfix": ("postfix",),
    "dovecot": ("dovecot-core",),
    "dovecot-pigeonhole": ("dovecot-sieve",),
    "policycoreutils-python-utils": ("policycoreutils-python-utils",),
}

# Debian's plug-ins that RHEL ships in a sub-package of their own: hidden until that stand-in links them back,
# so a plan that forgets the package fails here as on RHEL (Dovecot's LDAP driver is in RHEL's dovecot itself).
_HIDE_PLUGINS = {
    "dovecot-mysql": "dovecot-mysql",
    "postfix-ldap": "postfix-ldap",
    "postfix-lmdb": "postfix-lmdb",
}
# the Postfix map type each Postfix sub-package registers (/etc/postfix/dynamicmaps.cf.d/TYPE on RHEL)
_MAP_TYPES = {"postfix-ldap": "ldap", "postfix-lmdb": "lmdb"}

# RHEL 9's and 10's /etc/sudoers (sudo package), without its comments: secure_path has no /usr/local/bin.
RHEL_SUDOERS = """Defaults   !visiblepw
Defaults    always_set_home
Defaults    match_group_by_gid
Defaults    always_query_group_plugin
Defaults    env_reset
Defaults    env_keep =  "COLORS DISPLAY HOSTNAME HISTSIZE KDEDIR LS_COLORS"
Defaults    env_keep += "MAIL QTDIR USERNAME LANG LC_ADDRESS LC_CTYPE"
Defaults    env_keep += "LC_COLLATE LC_IDENTIFICATION LC_MEASUREMENT LC_MESSAGES"
Defaults    env_keep += "LC_MONETARY LC_NAME LC_NUMERIC LC_PAPER LC_TELEPHONE"
Defaults    env_keep += "LC_TIME LC_ALL LANGUAGE LINGUAS _XKB_CHARSET XAUTHORITY"
Defaults    secure_path = /sbin:/bin:/usr/sbin:/usr/bin
root\tALL=(ALL) \tALL
%wheel\tALL=(ALL)\tALL
#includedir /etc/sudoers.d
"""

# nis_enabled is a RHEL (targeted policy) boolean that refpolicy lacks.
NIS_CIL = "(boolean nis_enabled false)\n"

#: set by the e2e conftest for the whole session: every worker appends here, the summary prints it
TIMINGS_ENV = "MAILWIZARD_RHEL_TIMINGS"


def log(msg: str) -> None:
    """Setup timings: on stderr, and in the session's timings file that the test summary prints."""
    line = f"rhel host: {msg}"
    print(line, file=sys.stderr, flush=True)
    if os.environ.get(TIMINGS_ENV):
        with open(os.environ[TIMINGS_ENV], "a") as f:
            f.write(line + "\n")


# ------------------------------------------------------------------------------------------------
# The layer
# ------------------------------------------------------------------------------------------------

def _key() -> str:
    """What the layer is built from: this file, the fresh-install trees, ../shared/rhel, the .debs."""
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    for top in (FRESH / "rhel9", FRESH / "rhel10", SHARED_RHEL):
        for p in sorted(top.rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(top)).encode() + b"\0" + p.read_bytes())
    h.update(subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\n"],
                            capture_output=True, text=True, check=False).stdout.encode())
    return h.hexdigest()[:16]


def missing_debs() -> list[str]:
    """What apt would still have to download for DEBS (run-tests downloads it; nothing is installed here)."""
    r = subprocess.run(["apt-get", "install", "--print-uris", "-qq", "--no-install-recommends", "-y", *DEBS],
                       capture_output=True, text=True, check=False)
    if r.returncode:
        return [r.stderr.strip() or f"apt-get exited {r.returncode}"]
    return [line.split()[1] for line in r.stdout.splitlines() if line.strip()]


def rhel_layer() -> Path:
    """The layer's directory (built now unless this session, or an earlier one, built it)."""
    key = _key()
    layer = LAYER_ROOT / f"{LAYER_PREFIX}{key}"
    LAYER_ROOT.mkdir(exist_ok=True)
    with open(LAYER_ROOT / f"{LAYER_PREFIX}{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one builder; xdist workers wait for it
        if (layer / ".complete").exists():
            return layer
        _prune(key)
        start = time.monotonic()
        tmp = LAYER_ROOT / f"{LAYER_PREFIX}{key}.building"
        if tmp.exists():
            shutil.rmtree(tmp)
        _build(tmp)
        (tmp / ".complete").write_text(key + "\n")
        os.rename(tmp, layer)
        log(f"layer built in {time.monotonic() - start:.1f} s: {layer}")
        return layer


def _in_use() -> str:
    """Every mount table on this machine, joined: a layer some host still uses is named in one."""
    tables = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                tables.append(Path(f"/proc/{pid}/mountinfo").read_text())
            except OSError:
                pass
    return "".join(tables)


def remove_layers(keep: str | None = None, only: str | None = None) -> None:
    """Remove the layers no host uses and no one builds: all but `keep`'s, or `only`'s."""
    used = _in_use()
    for p in LAYER_ROOT.glob(LAYER_PREFIX + "*.lock"):
        name = p.name[:-len(".lock")]
        if (name == f"{LAYER_PREFIX}{keep}" or (only and name != f"{LAYER_PREFIX}{only}")
                or str(LAYER_ROOT / name) in used):
            continue
        with open(p, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue                  # being built
            for d in (LAYER_ROOT / name, LAYER_ROOT / f"{name}.building"):
                shutil.rmtree(d, ignore_errors=True)
            p.unlink(missing_ok=True)


def _prune(key: str) -> None:
    remove_layers(keep=key)


def remove_this_layer() -> None:
    """At the end of a test session: this checkout's layer, unless a host (of a concurrent session) uses it."""
    remove_layers(only=_key())


def _build(dest: Path) -> None:
    bad = missing_debs()
    if bad:
        raise ThrowawayError("the .debs for the RHEL-flavoured host are not downloaded (run-tests does it: "
                             f"apt-get install --download-only --no-install-recommends {' '.join(DEBS)}): "
                             + ", ".join(bad))
    with ThrowawayHost(hostname="layer.example.com", size="3g") as host:
        t = time.monotonic()

        def sh(script: str, timeout: float = 900) -> str:
            r = host.run(["/bin/bash", "-euo", "pipefail", "-c", script], timeout=timeout)
            if r.returncode:
                raise ThrowawayError(f"building the RHEL layer: {script[:200]!r} exited {r.returncode}:\n"
                                     f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
            return r.stdout

        sh("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d\n"
           "DEBIAN_FRONTEND=noninteractive apt-get install --no-download --no-install-recommends -y -q "
           + " ".join(DEBS) + " >/tmp/apt.log 2>&1 || { tail -50 /tmp/apt.log; exit 1; }\n"
           "rm -f /usr/sbin/policy-rc.d")
        log(f"  debs installed in the layer: {time.monotonic() - t:.1f} s")
        _selinux(sh)
        log(f"  SELinux store ready: {time.monotonic() - t:.1f} s")
        _hide_debian(host, sh)
        _layout(host, sh)
        _identity(host, sh)
        _rpms(host, sh)
        log(f"  RPMs built, minimal install recorded: {time.monotonic() - t:.1f} s")
        sh("rm -rf /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /root/rpmbuild /root/.cache "
           "/etc/hostname /etc/hosts")
        # The overlay's upper directory is the layer: copied (with whiteouts and opaque
        # directories) from the init's mount namespace, where it is /tmp/upper.
        dest.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["nsenter", f"--mount=/proc/{host._init.proc.pid}/ns/mnt", "--",
                            "cp", "-a", "/tmp/upper", str(dest)], capture_output=True, text=True, check=False)
        if r.returncode:
            raise ThrowawayError(f"copying the layer out: {r.stderr}")
    for name in ("etc/hostname", "etc/hosts"):   # written by the init, below the removals above
        p = dest / name
        if p.exists() or p.is_symlink():
            p.unlink()


def _selinux(sh) -> None:
    sh("cd /tmp && printf '%s' '" + NIS_CIL + "' > nis_enabled.cil && semodule -i nis_enabled.cil\n"
       "sed -i 's/^SELINUX=.*/SELINUX=enforcing/' /etc/selinux/config\n"
       "semanage boolean -l | grep -q '^nis_enabled '", timeout=900)


def _debian_commands(host, packages) -> list[str]:
    r = host.run(["dpkg", "-L", *packages], check=True)
    return [p for p in r.stdout.split()
            if p.startswith(("/usr/bin/", "/usr/sbin/", "/etc/init.d/")) and host.path(p).is_file()
            and p != "/etc/init.d"]


def _hide_debian(host, sh) -> None:
    """Move Debian's commands (and its configuration) away: the stand-in packages bring them back."""
    for rpm, debs in _HIDE.items():
        cmds = _debian_commands(host, debs)
        if rpm == "policycoreutils-python-utils":
            cmds = ["/usr/sbin/semanage"]
        if rpm == "dovecot":
            cmds += _debian_commands(host, ["dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd",
                                            "dovecot-managesieved"])
        _HIDDEN_CMDS[rpm] = sorted(set(cmds))
        sh(" ; ".join(f"mkdir -p {HIDDEN}{os.path.dirname(c)} && mv {c} {HIDDEN}{c}" for c in _HIDDEN_CMDS[rpm]))
    for rpm, deb in _HIDE_PLUGINS.items():
        files = [p for p in host.run(["dpkg", "-L", deb], check=True).stdout.split()
                 if p.startswith("/usr/lib/") and host.path(p).is_file()]
        assert files, deb
        _HIDDEN_CMDS[rpm] = files
        sh(" ; ".join(f"mkdir -p {HIDDEN}{os.path.dirname(f)} && mv {f} {HIDDEN}{f}" for f in files))
    # Postfix's non-configuration files in /etc/postfix come back with the stand-in postfix package.
    sh(f"mkdir -p {HIDDEN}/etc && mv /etc/postfix {HIDDEN}/etc/postfix && rm -f {HIDDEN}/etc/postfix/main.cf"
       f" && mv /etc/dovecot {HIDDEN}/etc/dovecot && rm -rf /var/mail/* ")


_HIDDEN_CMDS: dict[str, list[str]] = {}    # stand-in package -> Debian's commands (or plug-ins) it links back


def _layout(host, sh) -> None:
    """AlmaLinux 9.3's directories and links (/run and /tmp are per host: tmpfs)."""
    script = []
    for line in (SHARED_RHEL / "layout-almalinux-9.3.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[0].startswith("/"):
            continue
        path, kind, mode, owner = parts[:4]
        if path.startswith(("/run", "/tmp", "/proc", "/sys", "/dev")):
            continue
        if kind == "l":
            target = parts[5]
            script.append(f"if [ \"$(readlink {path} || true)\" != {target} ]; then "
                          f"rm -rf {path}; ln -s {target} {path}; fi")
        elif kind == "d":
            script.append(f"if [ -L {path} ]; then rm -f {path}; fi; mkdir -p {path}; "
                          f"chmod 0{int(mode, 8):04o} {path}; chown {owner} {path}")   # 00755 clears a setgid bit too
    sh("\n".join(script))


def _identity(host, sh) -> None:
    etc = SHARED_RHEL / "etc"
    for name in ("aliases", "group", "passwd", "nsswitch.conf", "services", "shells", "system-release-cpe"):
        dst = host.path(f"/etc/{name}")
        dst.write_bytes((etc / name).read_bytes())
        os.chmod(dst, 0o644)
    host.path("/etc/almalinux-release").write_bytes((etc / "redhat-release").read_bytes())
    host.path("/etc/sudoers").write_text(RHEL_SUDOERS)
    os.chmod(host.path("/etc/sudoers"), 0o440)
    host.path("/usr/lib/os-release").write_bytes((etc / "os-release").read_bytes())
    sh("rm -f /etc/debian_version /etc/shadow /etc/gshadow /etc/shadow- /etc/gshadow- /etc/passwd- /etc/group-\n"
       "ln -sfn ../usr/lib/os-release /etc/os-release\n"
       "ln -sfn almalinux-release /etc/redhat-release; ln -sfn almalinux-release /etc/system-release\n"
       "pwconv && grpconv && chmod 000 /etc/shadow /etc/gshadow\n"
       # a minimal RHEL install's message bus account (dbus-common); Debian's dbus-daemon is told to use it
       "groupadd -r -g 81 dbus && useradd -r -u 81 -g dbus -d / -s /sbin/nologin -c 'System Message Bus' dbus\n"
       "printf '<busconfig><user>dbus</user></busconfig>\\n' > /etc/dbus-1/system-local.conf\n"
       # OpenSSL's and the CA bundle's RHEL paths
       "mkdir -p /etc/pki/tls/certs /etc/pki/tls/private && chmod 755 /etc/pki/tls/private\n"
       "ln -sfn /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt\n"
       "ln -sfn /etc/pki/tls/certs/ca-bundle.crt /etc/pki/tls/cert.pem\n")


# -- stand-in RPMs ---------------------------------------------------------------------------------

def _spec(name: str, version: str, release: str, summary: str, files: list[str], *,
          pre: str = "", post: str = "", provides: tuple[str, ...] = ()) -> str:
    prov = "".join(f"Provides: {p}\n" for p in provides)
    return (f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {summary}\n"
            f"License: MIT\nBuildArch: noarch\nAutoReqProv: no\n{prov}"
            f"%description\nStand-in for RHEL's {name}: mailwizard's RHEL-flavoured test host.\n"
            "%install\ncp -a %{_sourcedir}/" + name + "/. %{buildroot}/\n"
            + (f"%pre\n{pre}\n" if pre else "") + (f"%post\n{post}\n" if post else "")
            + "%files\n" + "".join(f + "\n" for f in files))


def _tree_files(root: Path, config_under: tuple[str, ...] = ("/etc/",)) -> list[str]:
    out = []
    for p in sorted(root.rglob("*")):
        rel = "/" + str(p.relative_to(root))
        if p.is_symlink() or p.is_file():
            if rel.startswith(config_under) and not p.is_symlink():
                out.append(f"%config(noreplace) {rel}")
            else:
                out.append(rel)
        elif p.is_dir() and rel.startswith(("/etc/postfix", "/etc/dovecot", "/etc/pki/dovecot", "/usr/libexec/")):
            out.append(f"%dir {rel}")
    return out


_POSTFIX_PRE = """getent group postdrop >/dev/null || groupadd -r -g 90 postdrop
getent group postfix >/dev/null || groupadd -r -g 89 postfix
getent passwd postfix >/dev/null || \
    useradd -r -u 89 -g postfix -d /var/spool/postfix -s /sbin/nologin -c Postfix postfix
usermod -a -G mail postfix
exit 0"""

# The queue and the setgid commands belong to RHEL's accounts now; RHEL's %post makes a TLS pair.
_POSTFIX_POST = """/usr/sbin/postfix set-permissions >/dev/null 2>&1 || :
if [ ! -e /etc/pki/tls/private/postfix.key ]; then
  umask 077
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$(hostname -f 2>/dev/null || hostname)" \\
    -keyout /etc/pki/tls/private/postfix.key -out /etc/pki/tls/certs/postfix.pem >/dev/null 2>&1
  chmod 644 /etc/pki/tls/certs/postfix.pem
fi
exit 0"""

_DOVECOT_PRE = """getent group dovecot >/dev/null || groupadd -r -g 97 dovecot
getent passwd dovecot >/dev/null || \
    useradd -r -u 97 -g dovecot -d /usr/libexec/dovecot -s /sbin/nologin -c "Dovecot IMAP server" dovecot
getent group dovenull >/dev/null || groupadd -r dovenull
getent passwd dovenull >/dev/null || \
    useradd -r -g dovenull -d /usr/libexec/dovecot -s /sbin/nologin -c "Dovecot's unauthorized user" dovenull
exit 0"""


def _rpms(host, sh) -> None:
    """Build the stand-in RPMs for both platforms, a repository each, and record a minimal install."""
    src = host.path("/root/rpmbuild/SOURCES")
    specs = host.path("/root/rpmbuild/SPECS")
    # Debian's rpm keeps its database in ~/.rpmdb; RHEL's is /var/lib/rpm
    script = ["set -e", "mkdir -p /etc/rpm", "echo '%_dbpath /var/lib/rpm' > /etc/rpm/macros.dbpath",
              "rm -rf /var/lib/rpm/* /root/.rpmdb", "rpm --initdb"]
    for platform, info in PLATFORMS.items():
        fresh = FRESH / platform / "etc"
        rel = f"1.mw.{info['dist']}"
        pkgs: dict[str, tuple[str, str, list[str], dict]] = {}

        def stage(name: str, platform: str = platform) -> Path:
            d = src / f"{platform}-{name}" / name
            d.mkdir(parents=True, exist_ok=True)
            return d

        def link(root: Path, path: str, target: str) -> None:
            p = root / path.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            if not p.is_symlink():
                p.symlink_to(target)

        # postfix: Debian's non-config files of /etc/postfix, the platform's main.cf/master.cf, RHEL's paths.
        d = stage("postfix")
        shutil.copytree(host.path(f"{HIDDEN}/etc/postfix"), d / "etc/postfix", symlinks=True)
        for n in ("main.cf", "master.cf"):
            shutil.copy(fresh / "postfix" / n, d / "etc/postfix" / n)
        link(d, "/usr/libexec/postfix", "../lib/postfix/sbin")
        link(d, "/usr/lib64/postfix", "../lib/postfix")
        link(d, "/usr/sbin/sendmail.postfix", "sendmail")
        link(d, "/usr/bin/newaliases.postfix", "newaliases")
        link(d, "/usr/bin/mailq.postfix", "mailq")
        for c in _HIDDEN_CMDS["postfix"]:
            link(d, c, f"{HIDDEN}{c}")
        # the map types of Postfix's sub-packages come with them (RHEL: dynamicmaps.cf.d/TYPE)
        maps = d / "etc/postfix/dynamicmaps.cf"
        registered = maps.read_text().splitlines(keepends=True)
        maps.write_text("".join(line for line in registered if line.split()[:1] not in
                                [[kind] for kind in _MAP_TYPES.values()]))
        for sub, kind in _MAP_TYPES.items():
            entry = [line for line in registered if line.split()[:1] == [kind]]
            assert entry, f"Debian's dynamicmaps.cf does not register {kind}"
            sub_dir = stage(sub)
            (sub_dir / "etc/postfix/dynamicmaps.cf.d").mkdir(parents=True, exist_ok=True)
            (sub_dir / "etc/postfix/dynamicmaps.cf.d" / kind).write_text("".join(entry))
            listed = d / "etc/postfix/postfix-files.d" / f"{kind}.files"
            if listed.exists():
                (sub_dir / "etc/postfix/postfix-files.d").mkdir(parents=True, exist_ok=True)
                shutil.move(listed, sub_dir / "etc/postfix/postfix-files.d" / f"{kind}.files")
        pkgs["postfix"] = (info["postfix"], "Postfix mail transport agent",
                           _tree_files(d),
                           {"pre": _POSTFIX_PRE, "post": _POSTFIX_POST,
                            "provides": ("MTA", "smtpd", "smtpdaemon", "server(smtp)")})
        # dovecot and dovecot-pigeonhole: the platform's /etc/dovecot, RHEL's paths.
        d = stage("dovecot")
        pig = stage("dovecot-pigeonhole")
        shutil.copytree(fresh / "dovecot", d / "etc/dovecot")
        (pig / "etc/dovecot/conf.d").mkdir(parents=True, exist_ok=True)
        for n in ("90-sieve.conf", "90-sieve-extprograms.conf", "20-managesieve.conf"):
            if (d / "etc/dovecot/conf.d" / n).exists():
                shutil.move(d / "etc/dovecot/conf.d" / n, pig / "etc/dovecot/conf.d" / n)
        ssl = d / "etc/dovecot/conf.d/10-ssl.conf"
        text = ssl.read_text()
        if "ssl_cipher_list = PROFILE=SYSTEM" in text:
            ssl.write_text(text.replace("ssl_cipher_list = PROFILE=SYSTEM", f"ssl_cipher_list = {SYSTEM_CIPHERS}"))
        for sub in ("certs", "private"):
            (d / "etc/pki/dovecot" / sub).mkdir(parents=True, exist_ok=True)
        link(d, "/usr/libexec/dovecot", "../lib/dovecot")
        for c in _HIDDEN_CMDS["dovecot"]:
            link(d, c, f"{HIDDEN}{c}")
        for c in _HIDDEN_CMDS["dovecot-pigeonhole"]:
            link(pig, c, f"{HIDDEN}{c}")
        dfiles = [f.replace("%dir /etc/pki/dovecot/private", "%dir %attr(0700,root,root) /etc/pki/dovecot/private")
                  for f in _tree_files(d)]
        pkgs["dovecot"] = (info["dovecot"], "Secure imap and pop3 server", dfiles,
                           {"pre": _DOVECOT_PRE, "provides": ("server(imap)",)})
        pkgs["dovecot-pigeonhole"] = (info["dovecot"], "Sieve and managesieve plug-in for dovecot",
                                      [f for f in _tree_files(pig) if f != "%dir /etc/dovecot"], {})
        d = stage("policycoreutils-python-utils")
        link(d, "/usr/sbin/semanage", f"{HIDDEN}/usr/sbin/semanage")
        pkgs["policycoreutils-python-utils"] = ("3.6", "SELinux policy core python utilities",
                                                _tree_files(d), {})
        for name, summary in (("postfix-lmdb", "Postfix LMDB map support"),
                              ("postfix-ldap", "Postfix LDAP map support"),
                              ("dovecot-mysql", "MySQL back end for dovecot")):
            d = stage(name)
            for f in _HIDDEN_CMDS[name]:
                link(d, f, f"{HIDDEN}{f}")
            version = info["postfix"] if name.startswith("postfix") else info["dovecot"]
            pkgs[name] = (version, summary, [f for f in _tree_files(d) if not f.startswith("%dir")], {})
        for name, summary in (  # what a minimal install already has
                              ("systemd", "System and Service Manager"),
                              ("firewalld", "A firewall daemon with D-Bus interface"),
                              ("policycoreutils", "SELinux policy core utilities"),
                              ("selinux-policy-targeted", "SELinux targeted policy"),
                              ("bash", "The GNU Bourne Again shell"),
                              ("almalinux-release", "AlmaLinux release files")):
            stage(name)
            version = info["postfix"] if name.startswith("postfix") else (
                info["dovecot"] if name.startswith("dovecot") else "1.0")
            extra = {}
            if name == "bash":
                extra = {"provides": ("/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash")}
            if name == "almalinux-release":
                version = info["release"].split()[2]
                major = version.split(".")[0]
                extra = {"provides": ("system-release", f"system-release(releasever) = {major}",
                                      "redhat-release", "almalinux-release")}
            pkgs[name] = (version, summary, [], extra)
        out = f"{REPO_DIR}/{platform}"
        for name, (version, summary, files, extra) in pkgs.items():
            specs.mkdir(parents=True, exist_ok=True)
            (specs / f"{platform}-{name}.spec").write_text(_spec(name, version, rel, summary, files, **extra))
            script.append(f"rpmbuild --quiet -bb --define '_topdir /root/rpmbuild' "
                          f"--define '_sourcedir /root/rpmbuild/SOURCES/{platform}-{name}' "
                          f"--define '_rpmdir {out}' "
                          "--define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' "
                          f"/root/rpmbuild/SPECS/{platform}-{name}.spec")
        script.append(f"createrepo_c -q {out}")
    # A minimal install has these (rhel10's; a rhel9 host replaces them when it starts).
    script.append("rpm -i --nodeps " + minimal_rpms("rhel10"))
    sh("\n".join(script))


MINIMAL = ("bash", "almalinux-release", "systemd", "firewalld", "policycoreutils", "selinux-policy-targeted")


def minimal_rpms(platform: str) -> str:
    """The stand-in RPMs of a minimal install of the platform, as paths inside the host."""
    return " ".join(f"{REPO_DIR}/{platform}/{n}-[0-9]*.noarch.rpm" for n in MINIMAL)


# ------------------------------------------------------------------------------------------------
# The host
# ------------------------------------------------------------------------------------------------

class RhelHost(ThrowawayHost):
    """A throwaway host that looks, installs, firewalls and labels like RHEL 9 or 10 (module docstring).

    :param platform: ``"rhel10"`` (AlmaLinux 10.0's os-release) or ``"rhel9"`` (AlmaLinux 9.3's).
    :param firewall: start a system D-Bus and firewalld inside (RHEL runs firewalld by default).
    """

    def __init__(self, platform: str = "rhel10", hostname: str = "mail.example.com", *,
                 firewall: bool = True, **kwargs):
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}")
        self.platform = platform
        self.firewall = firewall
        self.setup_seconds: dict[str, float] = {}
        t = time.monotonic()
        layers = [str(rhel_layer()), *kwargs.pop("layers", ())]
        self.setup_seconds["layer"] = time.monotonic() - t
        super().__init__(hostname, layers=layers, **kwargs)

    def start(self) -> RhelHost:
        t = time.monotonic()
        super().start()
        try:
            self._flavour()
            if self.firewall:
                self.start_firewalld()
        except BaseException:
            self.close()
            raise
        self.setup_seconds["host"] = time.monotonic() - t
        log(f"{self.platform} host ready in {self.setup_seconds['host']:.1f} s "
            f"(layer {self.setup_seconds['layer']:.1f} s)")
        return self

    def _flavour(self) -> None:
        info = PLATFORMS[self.platform]
        if info["os_release"]:
            self.path("/usr/lib/os-release").write_text(info["os_release"])
            self.path("/etc/almalinux-release").write_text(info["release"] + "\n")
            self.path("/etc/system-release-cpe").write_text(info["cpe"] + "\n")
        self.path("/etc/yum.repos.d/mailwizard-test.repo").write_text(
            f"[mailwizard-test]\nname=mailwizard stand-in packages ({self.platform})\n"
            f"baseurl=file://{REPO_DIR}/{self.platform}\nenabled=1\ngpgcheck=0\nmetadata_expire=never\n")
        script = "chmod 755 /run/lock && mkdir -p /run/motd.d /run/setrans /run/dbus"  # /run: a tmpfs per host
        if self.platform != "rhel10":      # the layer's rpm database holds a minimal rhel10 install
            script += (f" && rpm -U --oldpackage --nodeps --noscripts --justdb {minimal_rpms(self.platform)}")
        r = self.run(script)
        if r.returncode:
            raise ThrowawayError(r.stderr)

    def start_firewalld(self, timeout: float = 60) -> None:
        """A system D-Bus and firewalld (``--nofork --nopid``), in this host's network namespace."""
        t = time.monotonic()
        r = self.run(["dbus-daemon", "--system", "--fork"])
        if r.returncode:
            raise ThrowawayError(f"dbus-daemon --system: {r.stderr}")
        self.run("exec firewalld --nofork --nopid >/var/log/firewalld.out 2>&1 &")
        deadline = time.monotonic() + timeout
        while True:
            r = self.run(["firewall-cmd", "--state"])
            if r.stdout.strip() == "running":
                break
            if time.monotonic() > deadline:
                out = self.path("/var/log/firewalld.out").read_text(errors="replace")
                raise ThrowawayError(f"firewalld did not start: {r.stdout}{r.stderr}\n{out[-3000:]}")
            time.sleep(0.3)
        self.setup_seconds["firewalld"] = time.monotonic() - t
