"""The simulated host: a machine that exists only in a temporary directory.

`--platform NAME` plans against it (a fresh install of that platform, from
mailwizard/platforms/fresh/), and most tests apply, verify and roll back on it.
It is a `Host` like the real one: the product never asks which one it has, only
what the host can do (`Host.runs_real_tools`, `Host.can_probe_network`,
`Host.command_path`).

- `state`: what the simulated machine knows beyond its files (packages,
  services, accounts, owners, firewall, SELinux, ...).
- `tree`: its file tree under the temporary root: a fresh install laid out,
  the files a package brings, owners kept in the state.
- `tools`: the system tools it simulates (package managers, systemctl,
  useradd, firewall-cmd, the SELinux tools, postconf/postmap, ...).
- `host`: `FakeHost`, the whole of it, with its accounts and facts.
"""

from mailwizard.simulated.host import FakeHost
from mailwizard.simulated.state import FakeState

__all__ = ["FakeHost", "FakeState"]
