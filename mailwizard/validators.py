"""Check a configuration file with its daemon's own tool before it replaces the live one.

For Dovecot the whole configuration directory is copied to a scratch directory,
the new file put in the copy, and `doveconf -n` run on the copy: a file that
Dovecot would refuse never reaches /etc.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mailwizard.host import Host


def dovecot(host: Host, conf_dir: str, path: str, content: bytes, workdir: Path | None = None) -> str | None:
    """Dovecot's complaint about the configuration with `path` replaced by `content`, or None.

    The copy is made in `workdir` (the journal's scratch directory), never in /etc.
    """
    if not host.runs_real_tools or not host.which("doveconf") or not host.exists(f"{conf_dir}/dovecot.conf"):
        return None
    real_dir = host.real(conf_dir)
    with tempfile.TemporaryDirectory(prefix="check-", dir=workdir) as tmp:
        copy = Path(tmp) / "dovecot"
        shutil.copytree(real_dir, copy, symlinks=True)
        rel = Path(path).relative_to(conf_dir)
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(content)
        result = host.run(["doveconf", "-c", str(copy / "dovecot.conf"), "-n"])
    if result.ok:
        return None
    errors = [line.replace(str(copy), conf_dir) for line in result.output.splitlines()
              if "Fatal" in line or "Error" in line]
    return "\n".join(errors[:3]) or result.output.strip()[-500:]
