"""The simulated host (mailwizard/simulated/) is a Host like the real one: the product asks a host what it
can do, never which kind it is, and a check the simulated host cannot run is reported as not checked."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

from mailwizard.host import Host
from mailwizard.simulated import FakeHost
from mailwizard.steps import NOT_CHECKABLE
from support import fake_session

PRODUCT = Path(__file__).resolve().parents[1] / "mailwizard"


def product_modules() -> list[Path]:
    return [p for p in sorted(PRODUCT.rglob("*.py")) if "simulated" not in p.relative_to(PRODUCT).parts]


def test_the_product_never_asks_which_kind_of_host_it_has():
    asked, imports = [], []
    for path in product_modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "fake":
                asked.append(f"{path.relative_to(PRODUCT)}:{node.lineno}")
            if isinstance(node, ast.Constant) and node.value == "fake":  # getattr(host, "fake", ...)
                asked.append(f"{path.relative_to(PRODUCT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mailwizard.simulated"):
                imports.append(str(path.relative_to(PRODUCT)))
    assert asked == []
    assert imports == ["cli.py"]  # --platform builds one; everything else takes whatever Host it is given


def test_capabilities_of_the_real_and_the_simulated_host(tmp_path):
    real = Host(tmp_path)
    assert real.runs_real_tools and real.can_probe_network
    assert real.command_path("/etc/postfix") == f"{tmp_path}/etc/postfix"  # its tools run on this machine
    simulated = FakeHost(tmp_path)
    assert not simulated.runs_real_tools and not simulated.can_probe_network
    assert simulated.command_path("/etc/postfix") == "/etc/postfix"  # its tools work inside its root


@pytest.mark.parametrize("answers, rows", [
    ("ldap.toml", {"LDAP server answers", "STARTTLS with TLS 1.2 on port 25", "TLS 1.1 refused on 993"}),
    ("sql.toml", {"MariaDB server answers the queries", "DNS records published", "live checks"}),
    ("full.toml", {"port 587 listening", "port 465 listening", "Dovecot SASL at inet:192.0.2.20:12345 answers"}),
])
def test_the_simulated_host_probes_nothing_and_says_what_it_could_not_check(tmp_path, monkeypatch, answers, rows):
    session = fake_session(tmp_path, "debian12", answers)
    assert session.apply(session.plan()).status == "applied"
    if answers == "full.toml":
        session.answers.postfix.sasl_host = "192.0.2.20"  # Dovecot on another host: its SASL port is probed

    def connect(*args, **kwargs):
        raise AssertionError(f"a check on the simulated host connected to {args}")

    monkeypatch.setattr(socket, "create_connection", connect)
    monkeypatch.setattr(socket.socket, "connect", connect)
    checks = session.verify()
    unchecked = {c.name: c.status for c in checks if c.evidence == NOT_CHECKABLE}
    assert rows <= set(unchecked), sorted(unchecked)
    assert set(unchecked.values()) == {"warn"}
