"""Platform profiles: everything that differs between RHEL 10, RHEL 9 and Debian 12.

Steps never test for a distribution; they ask the profile for package names,
paths, the firewall, SELinux, the map type and how services are managed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from mailwizard.pkglock import WAIT_SECONDS


class UnsupportedPlatform(Exception):
    """The host is not one mailwizard can configure; the message says why."""


@dataclass(frozen=True)
class Profile:
    name: str
    label: str
    family: str  # "rhel" or "debian"
    install_argv: tuple[str, ...]
    remove_argv: tuple[str, ...]
    install_env: tuple[tuple[str, str], ...]
    # feature -> packages that provide it
    packages: dict[str, tuple[str, ...]]
    firewall: str  # "firewalld" or "none"
    selinux: bool
    map_type: str
    service_manager: str = "systemd"  # or "service" where PID 1 is not systemd
    dovecot_dir: str = "/etc/dovecot"
    postfix_dir: str = "/etc/postfix"
    dovecot_versions: tuple[str, ...] = ()
    postfix_version: str = ""
    default_cert: str = "/etc/pki/dovecot/certs/server.example.com.crt"
    default_key: str = "/etc/pki/dovecot/private/server.example.com.key"
    debconf: tuple[str, ...] = ()
    semanage_package: str = ""  # brings `semanage`, absent on a minimal install
    crypto_policy: bool = False  # TLS protocols and ciphers follow `update-crypto-policies`
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def dh_path(self) -> str:
        return f"{self.dovecot_dir}/dh.pem"

    @property
    def ssl_conf(self) -> str:
        return f"{self.dovecot_dir}/conf.d/10-ssl.conf"

    def packages_for(self, features: list[str]) -> list[str]:
        """Packages for the features, in a stable order and without repeats."""
        out: list[str] = []
        for feature in features:
            for pkg in self.packages.get(feature, ()):
                if pkg not in out:
                    out.append(pkg)
        return out

    def query_argv(self, package: str) -> list[str]:
        if self.family == "rhel":
            return ["rpm", "-q", package]
        return ["dpkg-query", "-W", "-f=${Status}", package]

    def service_argv(self, action: str, name: str) -> list[str]:
        """The command that performs a service action: start, stop, reload, enable, disable, status
        (systemd's enable-now and disable-now: both at once)."""
        if self.service_manager == "systemd":
            verb = {"enable": "enable", "start": "start", "reload": "reload",
                    "restart": "restart", "status": "is-active", "stop": "stop",
                    "enable-now": "enable", "disable": "disable", "disable-now": "disable"}[action]
            argv = ["systemctl", verb]
            if action.endswith("-now"):
                argv.append("--now")
            return argv + [name]
        if action in ("enable", "disable"):
            return ["update-rc.d", name, action]
        return ["service", name, action]

    def fresh_root(self) -> Path:
        """Directory holding this platform's configuration files as a fresh install leaves them."""
        return Path(str(resources.files("mailwizard") / "platforms" / "fresh" / self.name))


_RHEL_PACKAGES = {
    "dovecot": ("dovecot",),
    "imap": (), "pop3": (), "lmtp": (),
    "sieve": ("dovecot-pigeonhole",),
    "ldap": (),
    "sql": ("dovecot-mysql",),
    "postfix": ("postfix",),
    "postfix-ldap": ("postfix-ldap",),
}

PROFILES: dict[str, Profile] = {
    "rhel10": Profile(
        name="rhel10", label="Red Hat Enterprise Linux 10", family="rhel",
        install_argv=("dnf", "install", "-y"), remove_argv=("dnf", "remove", "-y"),
        install_env=(),
        packages={**_RHEL_PACKAGES, "postfix": ("postfix", "postfix-lmdb")},
        firewall="firewalld", selinux=True, map_type="lmdb",
        dovecot_versions=("2.3",), postfix_version="3.8.5",
        semanage_package="policycoreutils-python-utils", crypto_policy=True,
    ),
    "rhel9": Profile(
        name="rhel9", label="Red Hat Enterprise Linux 9", family="rhel",
        install_argv=("dnf", "install", "-y"), remove_argv=("dnf", "remove", "-y"),
        install_env=(),
        packages=dict(_RHEL_PACKAGES),
        firewall="firewalld", selinux=True, map_type="hash",
        dovecot_versions=("2.3",), postfix_version="3.5",
        semanage_package="policycoreutils-python-utils", crypto_policy=True,
    ),
    "debian12": Profile(
        name="debian12", label="Debian 12 (bookworm)", family="debian",
        install_argv=("apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confold",
                      "-o", f"Dpkg::Lock::Timeout={WAIT_SECONDS}"),  # wait for another apt-get (steps/install.py)
        remove_argv=("apt-get", "remove", "-y", "-q"),
        install_env=(("DEBIAN_FRONTEND", "noninteractive"),),
        packages={
            "dovecot": ("dovecot-core",),
            "imap": ("dovecot-imapd",), "pop3": ("dovecot-pop3d",), "lmtp": ("dovecot-lmtpd",),
            "sieve": ("dovecot-sieve", "dovecot-managesieved"),
            "ldap": ("dovecot-ldap",), "sql": ("dovecot-mysql",),
            "postfix": ("postfix",), "postfix-ldap": ("postfix-ldap",),
        },
        firewall="none", selinux=False, map_type="hash",
        dovecot_versions=("2.3",), postfix_version="3.7",
        # Postfix must not ask its debconf questions during an unattended install;
        # "No configuration" leaves main.cf to the wizard.
        debconf=("postfix postfix/main_mailer_type select No configuration",),
    ),
}

# Rebuilds that behave as RHEL: distro id -> profile family
_RHEL_LIKE = {"rhel", "almalinux", "rocky", "centos", "ol"}


def profile_for(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnsupportedPlatform(
            f"unknown platform {name!r}: choose one of {', '.join(sorted(PROFILES))}") from None


def pid1_is_systemd() -> bool:
    try:
        return Path("/proc/1/comm").read_text().strip() == "systemd"
    except OSError:
        return False


def detect(os_id: str | None = None, version: str | None = None,
           like: str | None = None, systemd: bool | None = None) -> Profile:
    """The profile for the running host (arguments override what `distro` reports)."""
    import distro

    os_id = (os_id if os_id is not None else distro.id()).lower()
    version = version if version is not None else distro.major_version()
    like = (like if like is not None else distro.like()).lower()
    if os_id == "fedora":
        raise UnsupportedPlatform(
            "Fedora ships Dovecot 2.4, whose configuration syntax differs from the 2.3 syntax "
            "this wizard writes; use RHEL 9/10 (or Alma, Rocky, CentOS Stream) or Debian 12")
    if os_id in _RHEL_LIKE or ("rhel" in like.split() and os_id != "fedora"):
        if version in ("9", "10"):
            profile = PROFILES[f"rhel{version}"]
        else:
            raise UnsupportedPlatform(
                f"{os_id} {version} is not supported: mailwizard supports RHEL 9 and 10 "
                "and their rebuilds, and Debian 12")
    elif os_id == "debian" and version == "12":
        profile = PROFILES["debian12"]
    else:
        raise UnsupportedPlatform(
            f"{os_id} {version or ''} is not supported: mailwizard supports RHEL 9 and 10 "
            "(and Alma, Rocky, CentOS Stream) and Debian 12".replace("  ", " "))
    if systemd is None:
        systemd = pid1_is_systemd()
    if not systemd:
        profile = replace(profile, service_manager="service")
    return profile


def check_dovecot_version(version_output: str) -> str | None:
    """A refusal message when the installed Dovecot is not 2.3, else None."""
    m = re.match(r"\s*(\d+)\.(\d+)", version_output or "")
    if not m:
        return None
    major, minor = int(m.group(1)), int(m.group(2))
    if (major, minor) >= (2, 4):
        return (f"Dovecot {m.group(1)}.{m.group(2)} is installed; its configuration syntax differs "
                "from Dovecot 2.3, which this wizard writes. Refusing rather than writing 2.3 "
                "settings into a 2.4 configuration.")
    if (major, minor) < (2, 3):
        return f"Dovecot {major}.{minor} is too old; mailwizard needs Dovecot 2.3"
    return None
