"""Wheels for installing mailwizard inside a throwaway host, which has no network (issue 14, item 4).

:func:`wheelhouse` writes into a directory

* mailwizard's own wheel, built at test time from this checkout (a pure-Python
  package: its files, the metadata of pyproject.toml and the ``mailwizard``
  console script) without a build backend: the one pyproject.toml asks for
  (setuptools>=68, and ``wheel`` before setuptools 70.1) need not be
  installed here, and pip could not fetch it inside;
* every distribution mailwizard needs, repacked as a wheel from what is
  installed in this interpreter (the files its ``RECORD`` lists, its own
  ``WHEEL`` tags), so ``pip install --no-index --find-links DIR`` resolves
  them all offline.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as metadata
import io
import os
import re
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
SKIPPED = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def _write(path: Path, files: dict[str, bytes], dist_info: str) -> Path:
    """A wheel holding `files` (archive name -> bytes), with a RECORD of them."""
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append((name, f"sha256={digest}", str(len(data))))
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows([*rows, (f"{dist_info}/RECORD", "", "")])
        zf.writestr(f"{dist_info}/RECORD", record.getvalue())
    return path


def build_mailwizard(dest: Path) -> Path:
    """mailwizard's wheel from this checkout's mailwizard/ and pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    dist_info = f"{_norm(name)}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(REPO / "mailwizard"):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in filenames:
            if not f.endswith(".pyc"):
                p = Path(dirpath) / f
                files[str(p.relative_to(REPO))] = p.read_bytes()
    meta = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {project['description']}\n"
            f"Requires-Python: {project['requires-python']}\n"]
    meta += [f"Requires-Dist: {req}\n" for req in project["dependencies"]]
    files[f"{dist_info}/METADATA"] = "".join(meta).encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: mailwizard tests\nRoot-Is-Purelib: true\n" \
                                  b"Tag: py3-none-any\n"
    files[f"{dist_info}/entry_points.txt"] = ("[console_scripts]\n" + "".join(
        f"{script} = {target}\n" for script, target in project["scripts"].items())).encode()
    return _write(dest / f"{_norm(name)}-{version}-py3-none-any.whl", files, dist_info)


def repack(dist: metadata.Distribution, dest: Path) -> Path:
    """An installed distribution as the wheel it was installed from (near enough for pip)."""
    name, version = dist.metadata["Name"], dist.version
    files: dict[str, bytes] = {}
    dist_info = ""
    for f in dist.files or []:
        parts = Path(str(f)).parts
        if parts[0] == ".." or "__pycache__" in parts or str(f).endswith(".pyc"):
            continue                                  # scripts in bin/ (pip makes them anew), byte code
        if parts[0].endswith(".dist-info"):
            dist_info = parts[0]
            if parts[-1] in SKIPPED:
                continue
        files[str(f)] = Path(dist.locate_file(f)).read_bytes()
    wheel = (dist.read_text("WHEEL") or "Tag: py3-none-any\n")
    tags = [line.split(":", 1)[1].strip().split("-") for line in wheel.splitlines() if line.startswith("Tag:")]
    tag = "-".join(".".join(sorted({t[i] for t in tags})) for i in range(3))   # py2.py3-none-any
    return _write(dest / f"{_norm(name)}-{version}-{tag}.whl", files, dist_info)


def requirements(name: str) -> set[str]:
    """The distributions `name` needs, all the way down (with the extras asked for), by normalised name."""
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [(name, "")]
    while todo:
        dist, extra = todo.pop()
        for req in metadata.distribution(dist).requires or []:
            r = Requirement(req)
            if r.marker is not None and not r.marker.evaluate({"extra": extra}):
                continue
            for wanted in ("", *sorted(r.extras)):
                if (_norm(r.name).lower(), wanted) not in seen:
                    seen.add((_norm(r.name).lower(), wanted))
                    todo.append((r.name, wanted))
    return {n for n, _ in seen}


def wheelhouse(dest: Path) -> list[Path]:
    """mailwizard's wheel and those of everything it needs, in `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    needed = sorted(requirements("mailwizard"))
    return [build_mailwizard(dest), *(repack(metadata.distribution(n), dest) for n in needed)]
