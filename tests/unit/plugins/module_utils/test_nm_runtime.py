# SPDX-License-Identifier: GPL-3.0-or-later
"""nm_runtime: which master profiles come up, and the bond's primary under the VF's current name.

The sysfs trees below copy the layout of the lab's pv-vf-pair guest (Debian 12, kernel 6.1): virtio_net at
0000:01:00.0 and e1000e at 0000:02:00.0 sharing the MAC, ``bonding_slave/perm_hwaddr`` on enslaved ports and
``bonding/primary`` on the bond (empty when none).
"""
from __future__ import annotations

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import nm_runtime, validate
from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import BOND, TEAM, variant

MAC = "52:54:00:aa:bb:cc"
PROFILE_PATH = "etc/NetworkManager/system-connections/guestnet-failover-bond0.nmconnection"
UP = ["nmcli", "--wait", "90", "connection", "up", "id", "guestnet-failover-bond0"]


def _normal(*groups):
    return validate.normalize(list(groups), "NetworkManager")


def _netdev(sysfs, name, driver=None, mac=MAC, perm=None, primary=None):
    base = sysfs / "class" / "net" / name
    base.mkdir(parents=True)
    (base / "address").write_text(mac + "\n")
    if driver:
        device = sysfs / "devices" / ("pci-" + name)
        device.mkdir(parents=True)
        drivers = sysfs / "bus" / "pci" / "drivers" / driver
        drivers.mkdir(parents=True, exist_ok=True)
        (device / "driver").symlink_to(drivers)
        (base / "device").symlink_to(device)
    if perm:
        (base / "bonding_slave").mkdir()
        (base / "bonding_slave" / "perm_hwaddr").write_text(perm + "\n")
    if primary is not None:
        (base / "bonding").mkdir()
        (base / "bonding" / "primary").write_text(primary + "\n")


def _as_booted(sysfs):
    """Before the first converge: both NICs by their kernel names, no bond."""
    _netdev(sysfs, "mgmt0", "virtio_net", mac="52:54:00:00:00:01")
    _netdev(sysfs, "enp1s0", "virtio_net")
    _netdev(sysfs, "enp2s0", "e1000e")


def _bonded(sysfs, vf="enp2s0", vf_driver="e1000e", primary="enp2s0"):
    """NetworkManager's bond up, the ports enslaved (their address is the bond's, the PV's MAC here)."""
    _netdev(sysfs, "mgmt0", "virtio_net", mac="52:54:00:00:00:01")
    _netdev(sysfs, "bond0", mac=MAC, primary=primary)
    _netdev(sysfs, "enp1s0", "virtio_net", perm=MAC)
    _netdev(sysfs, vf, vf_driver, perm=MAC)


def test_first_converge_brings_the_profile_up_and_points_the_primary_at_the_vf_now(tmp_path):
    _as_booted(tmp_path)
    asked = []
    out = nm_runtime.actions(_normal(BOND), [PROFILE_PATH], asked.append, str(tmp_path))
    assert out == [UP, ["ip", "link", "set", "dev", "bond0", "type", "bond", "primary", "enp2s0"]]
    assert asked == []  # a written profile comes up whatever its state


def test_rerun_with_the_primary_in_place_runs_nothing(tmp_path):
    _bonded(tmp_path)
    asked = []

    def activated(profile):
        asked.append(profile)
        return True
    assert nm_runtime.actions(_normal(BOND), [], activated, str(tmp_path)) == []
    assert asked == ["guestnet-failover-bond0"]


def test_profile_not_active_comes_up_again(tmp_path):
    _bonded(tmp_path, primary="")
    out = nm_runtime.actions(_normal(BOND), [], lambda profile: False, str(tmp_path))
    assert out == [UP, ["ip", "link", "set", "dev", "bond0", "type", "bond", "primary", "enp2s0"]]


def test_vf_under_its_persistent_name_needs_no_primary(tmp_path):
    """After a reboot the VF is bond0vf, the name the profile gives as primary."""
    _bonded(tmp_path, vf="bond0vf", primary="bond0vf")
    assert nm_runtime.actions(_normal(BOND), [PROFILE_PATH], lambda profile: True, str(tmp_path)) == [UP]


def test_primary_drifted_away_from_the_vf_is_set_again(tmp_path):
    _bonded(tmp_path, primary="enp1s0")
    out = nm_runtime.actions(_normal(BOND), [], lambda profile: True, str(tmp_path))
    assert out == [["ip", "link", "set", "dev", "bond0", "type", "bond", "primary", "enp2s0"]]


@pytest.mark.parametrize("driver", ["e1000e", "e1000", "mlx5_core"])
def test_vf_of_any_driver_but_the_pvs(tmp_path, driver):
    """The VF back as another NIC model is still the group's VF (upper_config.port_role)."""
    _bonded(tmp_path, vf_driver=driver, primary="")
    assert nm_runtime.vf_now(_normal(BOND)[0], str(tmp_path)) == "enp2s0"


def test_no_vf_no_primary(tmp_path):
    """VF unplugged: the profile still comes up, nothing names a missing port."""
    _netdev(tmp_path, "enp1s0", "virtio_net")
    assert nm_runtime.actions(_normal(BOND), [PROFILE_PATH], lambda profile: True, str(tmp_path)) == [UP]


def test_other_macs_are_not_the_vf(tmp_path):
    _netdev(tmp_path, "enp1s0", "virtio_net")
    _netdev(tmp_path, "enp3s0", "e1000e", mac="52:54:00:aa:bb:cd")
    assert nm_runtime.vf_now(_normal(BOND)[0], str(tmp_path)) is None


def test_team_comes_up_without_a_primary(tmp_path):
    team = variant(TEAM, pv_driver="virtio_net", mac=MAC, vf_mac_settable=True)
    _as_booted(tmp_path)
    path = "etc/NetworkManager/system-connections/guestnet-failover-team0.nmconnection"
    out = nm_runtime.actions(_normal(team), [path], lambda profile: True, str(tmp_path))
    assert out == [["nmcli", "--wait", "90", "connection", "up", "id", "guestnet-failover-team0"]]


def test_kernel_paired_groups_are_not_activated_here(tmp_path):
    from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import NET_FAILOVER

    assert nm_runtime.actions(_normal(NET_FAILOVER), ["x"], lambda profile: False, str(tmp_path)) == []


def test_missing_sysfs_reads_as_no_vf(tmp_path):
    assert nm_runtime.vf_now(_normal(BOND)[0], str(tmp_path / "absent")) is None
    assert nm_runtime.bond_primary("bond0", str(tmp_path)) is None
