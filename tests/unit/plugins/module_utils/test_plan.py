# SPDX-License-Identifier: GPL-3.0-or-later
"""plan: one renderer per stack, header on every file, backend and initramfs detection, legacy files."""
from __future__ import annotations

import os

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import files, plan, validate

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import (
    BOND, NET_FAILOVER, NETVSC, STACKS, TEAM,
)


@pytest.mark.parametrize("stack", STACKS)
def test_every_file_has_the_header_or_is_json(stack):
    groups = [NET_FAILOVER, BOND, NETVSC] + ([TEAM] if stack in ("NetworkManager", "ifupdown") else [])
    planned = plan.plan_files(groups, stack, {"initramfs": "dracut", "cloud_init": True})
    for path, content in planned.items():
        if path.startswith("etc/teamd/"):
            assert content.startswith("{")
            continue
        assert files.is_owned(path, content), path


@pytest.mark.parametrize("stack", STACKS)
def test_only_one_stack_is_rendered(stack):
    planned = plan.plan_files([NET_FAILOVER], stack)
    kinds = {
        "networkd": any(p.endswith(".network") and "/05-" in p for p in planned),
        "NetworkManager": any(p.endswith(".nmconnection") for p in planned),
        "netplan": any(p.startswith("etc/netplan/") for p in planned),
        "ifupdown": any(p.startswith("etc/network/") for p in planned),
    }
    assert [k for k, v in kinds.items() if v] == [stack]


def test_no_groups_no_files():
    assert plan.plan_files([], "networkd", {"initramfs": "initramfs-tools"}) == {}


def test_lowers_never_matched_by_mac_alone():
    planned = plan.plan_files([NET_FAILOVER, NETVSC], "networkd")
    for path, content in planned.items():
        if "MACAddress=" in content:
            assert "Driver=" in content, path


def test_vf_pci_path_never_used():
    for stack in STACKS:
        for content in plan.plan_files([NET_FAILOVER, BOND], stack).values():
            assert "Path=" not in content and "KERNELS==" not in content and "ID_PATH" not in content


def test_initramfs_choice_checked():
    with pytest.raises(validate.ConfigError, match="initramfs"):
        plan.plan_files([NET_FAILOVER], "networkd", {"initramfs": "auto"})


def test_unknown_backend():
    with pytest.raises(validate.ConfigError, match="backend: unknown backend"):
        plan.plan_files([NET_FAILOVER], "wicked")


def _wants(root, unit):
    wants = os.path.join(str(root), "etc/systemd/system/multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("/lib/systemd/system/" + unit, os.path.join(wants, unit))


@pytest.mark.parametrize("unit,backend", [("NetworkManager.service", "NetworkManager"),
                                          ("systemd-networkd.service", "networkd"),
                                          ("networking.service", "ifupdown")])
def test_detect_backend_in_image(tmp_path, unit, backend):
    _wants(tmp_path, unit)
    assert plan.detect_backend(str(tmp_path), True) == backend


def test_detect_backend_nm_wins_over_networkd(tmp_path):
    _wants(tmp_path, "systemd-networkd.service")
    _wants(tmp_path, "NetworkManager.service")
    assert plan.detect_backend(str(tmp_path), True) == "NetworkManager"


def test_detect_backend_live_uses_is_active(tmp_path):
    assert plan.detect_backend(str(tmp_path), False, lambda unit: unit == "networking.service") == "ifupdown"


def test_detect_backend_live_run_dirs(tmp_path):
    os.makedirs(str(tmp_path / "run/systemd/netif/links"))
    assert plan.detect_backend(str(tmp_path), False, lambda unit: False) == "networkd"


def test_netplan_own_file_does_not_count(tmp_path):
    os.makedirs(str(tmp_path / "usr/sbin"))
    (tmp_path / "usr/sbin/netplan").write_text("")
    os.makedirs(str(tmp_path / "etc/netplan"))
    (tmp_path / "etc/netplan/90-guestnet-failover.yaml").write_text("")
    _wants(tmp_path, "systemd-networkd.service")
    assert plan.detect_backend(str(tmp_path), True) == "networkd"


def test_detect_initramfs(tmp_path):
    assert plan.detect_initramfs(str(tmp_path)) == "none"
    os.makedirs(str(tmp_path / "etc/initramfs-tools"))
    assert plan.detect_initramfs(str(tmp_path)) == "initramfs-tools"
    # Debian's dracut replaces initramfs-tools and leaves etc/initramfs-tools (conffiles) behind
    os.makedirs(str(tmp_path / "usr/bin"))
    (tmp_path / "usr/bin/dracut").write_text("")
    assert plan.detect_initramfs(str(tmp_path)) == "dracut"


def test_legacy_patterns(tmp_path):
    rules = tmp_path / "etc/udev/rules.d"
    rules.mkdir(parents=True)
    (rules / "10-azure-unmanaged-sriov.rules").write_text('SUBSYSTEM=="net", DRIVERS=="mana", ENV{NM_UNMANAGED}="1"\n')
    (rules / "68-azure-sriov-nm-unmanaged.rules").write_text("# emptied by the admin\n")
    interfaces = tmp_path / "etc/network/interfaces.d"
    interfaces.mkdir(parents=True)
    (interfaces / "bondvf0").write_text("auto bondvf0\niface bondvf0 inet dhcp\n  bond-mode active-backup\n")
    assert plan.legacy_files(str(tmp_path)) == ["etc/network/interfaces.d/bondvf0", "etc/udev/rules.d/10-azure-unmanaged-sriov.rules"]


def test_team_virtio_pv_gets_a_known_speed():
    """teamd ranks SPEED_UNKNOWN above the VF's prio (seen in the lab): only a virtio team PV gets the ethtool RUN."""
    rules = "etc/udev/rules.d/81-guestnet-failover.rules"
    team = dict(TEAM, pv_driver="virtio_net")
    line = [x for x in plan.plan_files([team], "NetworkManager")[rules].splitlines() if "RUN+=" in x]
    assert line == ['ENV{ID_NET_DRIVER}=="virtio_net", ATTR{address}=="52:54:00:dd:ee:ff", '
                    'RUN+="/usr/sbin/ethtool -s $name speed 10 duplex full"']
    for other in (TEAM, BOND):
        assert "RUN+=" not in plan.plan_files([other], "NetworkManager")[rules]
