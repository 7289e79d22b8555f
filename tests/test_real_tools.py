"""Tier 2: what the wizard writes is accepted by the real `doveconf -n` (Debian's Dovecot 2.3)."""

import shutil
import subprocess

import pytest

from mailwizard import validators
from mailwizard.executor import execute
from mailwizard.host import Host
from support import fake_session


def doveconf_n(root):
    return subprocess.run(["doveconf", "-c", str(root / "etc/dovecot/dovecot.conf"), "-n"],
                          capture_output=True, text=True)


@pytest.mark.parametrize("platform", ["debian12", "rhel9", "rhel10"])
@pytest.mark.parametrize("name", ["pam.toml", "full.toml", "ldap.toml"])
def test_applied_tls_config_passes_doveconf(tmp_path, platform, name):
    session = fake_session(tmp_path, platform, name)
    assert session.apply(session.plan()).status == "applied"
    out = doveconf_n(tmp_path / "root")
    assert out.returncode == 0, out.stderr
    settings = dict(line.split(" = ", 1) for line in out.stdout.splitlines() if " = " in line and
                    not line.startswith(" "))
    assert settings["ssl_cert"] == f"<{session.answers.tls.cert}"
    min_protocol = subprocess.run(["doveconf", "-c", str(tmp_path / "root/etc/dovecot/dovecot.conf"),
                                   "-h", "ssl_min_protocol"], capture_output=True, text=True)
    assert min_protocol.stdout.strip() == "TLSv1.2"
    if session.answers.tls.ca:
        assert settings["ssl_ca"] == f"<{session.answers.tls.ca}"
    assert "ssl_key" in settings and "ssl_dh" in settings  # hidden by doveconf, but set


def test_validator_refuses_a_config_dovecot_rejects(tmp_path):
    shutil.copytree("/etc/dovecot", tmp_path / "etc/dovecot")
    host = Host(tmp_path)
    path = "/etc/dovecot/conf.d/10-ssl.conf"
    good = host.read(path)
    assert validators.dovecot(host, "/etc/dovecot", path, good) is None
    complaint = validators.dovecot(host, "/etc/dovecot", path, good + b"ssl_bogus = 1\n")
    assert "Unknown setting: ssl_bogus" in complaint
    assert str(tmp_path) not in complaint.replace(str(tmp_path) + "/etc", "")  # names the real path
    assert host.read(path) == good


def test_write_refused_by_doveconf_leaves_the_file_untouched(tmp_path):
    from mailwizard.journal import Journal
    from mailwizard.plan import PlanContext, WriteFile
    from mailwizard.platform import profile_for

    shutil.copytree("/etc/dovecot", tmp_path / "etc/dovecot")
    host = Host(tmp_path)
    path = "/etc/dovecot/conf.d/10-ssl.conf"
    before = host.read(path)
    change = WriteFile(path, before + b"ssl_bogus = yes\n", validate_with="/etc/dovecot")
    change.check(PlanContext(host, profile_for("debian12")))
    with Journal(host) as j, pytest.raises(RuntimeError, match="Dovecot refuses"):
        execute(change, host, j, lambda line: None)
    assert host.read(path) == before


def test_background_dh_generation_with_real_openssl(tmp_path):
    import threading

    from mailwizard.steps.tls import PREGENERATED, pregenerate_dh

    host = Host(tmp_path)
    lines: list[str] = []
    assert pregenerate_dh(host, "/var/lib/mailwizard", lines.append, bits=512)
    made = host.read(f"/var/lib/mailwizard/{PREGENERATED}")
    assert made.startswith(b"-----BEGIN DH PARAMETERS-----")
    assert lines[-1] == "512-bit DH parameters ready"
    check = subprocess.run(["openssl", "dhparam", "-check", "-noout"], input=made, capture_output=True)
    assert check.returncode == 0
    # cancelled: nothing is left behind
    cancel = threading.Event()
    cancel.set()
    other = Host(tmp_path / "other")
    assert not pregenerate_dh(other, "/var/lib/mailwizard", lines.append, cancel=cancel, bits=2048)
    assert list((tmp_path / "other/var/lib/mailwizard").iterdir()) == []


def test_tls_probe_can_tell_an_old_protocol_server(tmp_path):
    """The 'TLS 1.1 refused' check is meaningful: our client does speak TLS 1.1 when a server allows it."""
    import ssl

    from mailwizard.steps.tls import handshake
    from support import openssl_server

    with openssl_server(tmp_path, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0") as port:
        old_ok, evidence = handshake("127.0.0.1", port, ssl.TLSVersion.TLSv1_1)
        assert old_ok and evidence.startswith("TLSv1.1")
        new_ok, _ = handshake("127.0.0.1", port, ssl.TLSVersion.TLSv1_2)
        assert not new_ok


def test_a_listener_held_only_by_a_child_is_named_after_its_master(monkeypatch, tmp_path):
    """Dovecot's lmtp child may be the only holder psutil lists for port 24: the report names dovecot."""
    import socket

    import psutil

    from mailwizard import host as host_mod

    me = psutil.Process().name()
    monkeypatch.setattr(host_mod, "MASTERS", (me,))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        child = subprocess.Popen(["sleep", "30"], pass_fds=[s.fileno()])
    try:  # our copy is closed: only the child (named sleep) holds the socket now
        assert host_mod.Host(tmp_path).listening().get(port) == me
    finally:
        child.kill()
        child.wait()
