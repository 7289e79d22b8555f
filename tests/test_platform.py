"""Platform detection and refusals."""

import pytest

from mailwizard.platform import UnsupportedPlatform, check_dovecot_version, detect


@pytest.mark.parametrize("os_id, version, like, expected", [
    ("rhel", "10", "fedora", "rhel10"),
    ("rhel", "9", "fedora", "rhel9"),
    ("almalinux", "9", "rhel centos fedora", "rhel9"),
    ("rocky", "10", "rhel centos fedora", "rhel10"),
    ("centos", "10", "rhel fedora", "rhel10"),
    ("debian", "12", "", "debian12"),
])
def test_detects_supported_platforms(os_id, version, like, expected):
    assert detect(os_id, version, like, systemd=True).name == expected


def test_fedora_is_refused_with_the_reason():
    with pytest.raises(UnsupportedPlatform, match=r"Dovecot 2\.4"):
        detect("fedora", "41", "", systemd=True)


@pytest.mark.parametrize("os_id, version", [("rhel", "8"), ("ubuntu", "24"), ("debian", "13")])
def test_other_platforms_are_refused(os_id, version):
    with pytest.raises(UnsupportedPlatform, match="not supported"):
        detect(os_id, version, "", systemd=True)


def test_service_manager_follows_pid1():
    assert detect("debian", "12", "", systemd=False).service_manager == "service"
    assert detect("debian", "12", "", systemd=True).service_manager == "systemd"


def test_dovecot_24_is_refused():
    assert "2.4" in check_dovecot_version("2.4.1-4 (7d8c0e5759)")
    assert check_dovecot_version("2.3.21 (47349e2482)") is None
    assert check_dovecot_version("2.3.19.1 (9b53102964)") is None
