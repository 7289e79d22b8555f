"""What a simulated host knows beyond its files: packages, services, accounts, owners, listening ports,
firewall, SELinux, and the facts a fresh install of its platform gives (mailwizard/platforms/fresh/)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeState:
    """The simulated machine's state; tests set it up and read it back."""

    installed: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    enabled: set[str] = field(default_factory=set)
    users: dict[str, int] = field(default_factory=lambda: {"root": 0, "dovecot": 97, "dovenull": 976,
                                                           "postfix": 89, "mail": 8})
    groups: dict[str, int] = field(default_factory=lambda: {"root": 0, "dovecot": 97, "dovenull": 976,
                                                            "postfix": 89, "mail": 12})
    owners: dict[str, tuple[int, int]] = field(default_factory=dict)
    hostname: str = ""
    dovecot_version: str = "2.3.21"
    default_database_type: str = "hash"
    listening: dict[int, str] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1", "192.0.2.10"])
    failing: set[str] = field(default_factory=set)  # argv[0]s that fail
    firewall_services: set[str] = field(default_factory=set)
    firewall_rich_rules: set[str] = field(default_factory=set)
    firewall_ports: set[str] = field(default_factory=set)
    # the running firewall where it differs from the permanent sets above (None: the permanent rules are loaded)
    firewall_running: dict[str, set[str]] | None = None
    selinux_fcontexts: dict[str, str] = field(default_factory=dict)  # spec -> type
    selinux_ports: dict[str, str] = field(default_factory=dict)  # "tcp/24" -> type
    selinux_booleans: dict[str, bool] = field(default_factory=dict)
    selinux_mode: str = "Enforcing"  # what getenforce says
    selinux_labels: dict[str, str] = field(default_factory=dict)  # path -> type it carries, when set by hand
    # firewalld's version ("" accepts any service name): which services exist depends on it
    firewalld_version: str = ""
    # packages an interrupted dpkg left half-configured (a killed apt-get): apt-get refuses until repaired
    dpkg_interrupted: list[str] = field(default_factory=list)
    crypto_policy: str = ""  # what `update-crypto-policies --show` says ("": the command is absent)
    # commands that exist only once their package is installed (a minimal RHEL has no semanage)
    command_packages: dict[str, str] = field(default_factory=dict)
    # directories a package's maintainer scripts make: package -> (path, octal mode, owner)
    package_dirs: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
