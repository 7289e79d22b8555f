"""`FakeHost`: the simulated host as a whole, built from a platform's fresh-install facts.

Its files live under a temporary root (tree.py), its commands are simulated
(tools.py), and its accounts, host name, listening ports and addresses come
from its state (state.py).
"""

from __future__ import annotations

from pathlib import Path

from mailwizard.simulated.state import FakeState
from mailwizard.simulated.tools import SimulatedTools


class FakeHost(SimulatedTools):
    """A host whose files live under a temporary root and whose commands are simulated."""

    can_probe_network = False  # nothing of it runs: its listening ports are what a test puts in its state

    def __init__(self, root: str | Path, state: FakeState | None = None):
        super().__init__(root)
        self.state = state or FakeState()
        self.commands: list[list[str]] = []

    @classmethod
    def from_profile(cls, profile, root: str | Path, hostname: str = "") -> FakeHost:
        """A fresh minimal install of `profile`: no mail packages, their files arrive with `install`."""
        import tomllib

        fresh = profile.fresh_root()
        facts_file = fresh / "facts.toml"
        facts = tomllib.loads(facts_file.read_text()) if facts_file.exists() else {}
        state = FakeState(hostname=hostname)
        state.installed = set(facts.get("installed_packages", []))
        state.dovecot_version = str(facts.get("dovecot_version", profile.dovecot_versions[0] + ".0"))
        state.default_database_type = str(facts.get("default_database_type", profile.map_type))
        state.firewalld_version = str(facts.get("firewalld_version", ""))
        state.crypto_policy = str(facts.get("crypto_policy", ""))
        state.command_packages = dict(facts.get("command_packages", {}))
        state.package_dirs = {k: [tuple(d) for d in v] for k, v in facts.get("package_dirs", {}).items()}
        host = cls(root, state)
        host.fresh = fresh
        host._lay_out(fresh / "layout.txt")
        if facts.get("postfix_main_cf_shipped") is False:  # Debian's "No configuration": no main.cf
            host.unshipped = {"etc/postfix/main.cf"}
        return host

    def uid(self, user: str) -> int | None:
        return self.state.users.get(user)

    def gid(self, group: str) -> int | None:
        return self.state.groups.get(group)

    def user_name(self, uid: int) -> str:
        return next((n for n, u in self.state.users.items() if u == uid), str(uid))

    def group_name(self, gid: int) -> str:
        return next((n for n, g in self.state.groups.items() if g == gid), str(gid))

    def fqdn(self) -> str:
        return self.state.hostname

    def is_root(self) -> bool:
        return True

    def listening(self) -> dict[int, str]:
        return dict(self.state.listening)

    def addresses(self) -> list[str]:
        return list(self.state.addresses)

    def free_bytes(self, path: str) -> int:
        return 50 * 2**30
