# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import glob
import os

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils.classify import group_of, groups, is_failover_master

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.capture_fixtures import DIR, link, load


def test_every_fixture_says_where_it_came_from():
    names = glob.glob(os.path.join(DIR, "*.json"))
    assert len(names) >= 10
    for path in names:
        capture = load(os.path.basename(path)[:-5])
        assert capture["_source"].startswith(("real:", "hand-built")), path


def test_net_failover_triplet_from_lab_guest():
    capture = load("kvm-failover")
    assert groups(capture) == [{
        "model": "net_failover", "mac": "52:54:00:12:34:56", "upper": "enp1s0", "standby": "enp1s0nsby",
        "primary": "enp2s0", "active": "enp2s0", "pv_driver": "virtio_net", "vf_driver": "e1000e",
        "members": ["enp1s0", "enp1s0nsby", "enp2s0"],
    }]


def test_net_failover_master_has_no_kind_but_is_found_by_driver_and_parent():
    capture = load("kvm-failover")
    master = link(capture, "enp1s0")
    assert master["kind"] is None and master["driver"] == "net_failover"
    assert master["device_path"] == link(capture, "enp1s0nsby")["device_path"]
    # without the ethtool answer the shared parent + standby bit + master link still identify it
    master["driver"] = None
    assert is_failover_master(master, capture["links"])
    assert groups(capture)[0]["upper"] == "enp1s0"
    # a plain virtio NIC (the lab's management NIC) is not a master
    assert not is_failover_master(link(capture, "mgmt0"), capture["links"])


def test_standby_is_picked_by_shared_parent_not_by_order():
    capture = load("kvm-failover")
    capture["links"].reverse()
    group = groups(capture)[0]
    assert (group["standby"], group["primary"]) == ("enp1s0nsby", "enp2s0")


def test_two_triplets_are_two_groups():
    found = groups(load("two-triplets"))
    assert [(g["upper"], g["standby"], g["primary"], g["mac"]) for g in found] == [
        ("enp1s0", "enp1s0nsby", "enp2s0", "52:54:00:12:34:56"),
        ("enp3s0", "enp3s0nsby", "enp4s0", "52:54:00:12:34:57"),
    ]
    assert all(g["model"] == "net_failover" and g["active"] == g["primary"] for g in found)


def test_vf_absent_keeps_the_group_and_runs_on_standby():
    (group,) = groups(load("kvm-failover-vf-absent"))
    assert group["model"] == "net_failover"
    assert group["primary"] is None and group["vf_driver"] is None
    assert group["active"] == "enp1s0nsby"
    assert group["members"] == ["enp1s0", "enp1s0nsby"]


def test_vf_back_at_new_pci_address_is_the_same_group():
    before = groups(load("kvm-failover"))[0]
    after = groups(load("kvm-failover-vf-replugged"))[0]
    capture = load("kvm-failover-vf-replugged")
    assert link(capture, "enp3s0")["bus_info"] == "0000:03:00.0"  # was 0000:02:00.0
    assert (after["mac"], after["upper"], after["standby"]) == (before["mac"], before["upper"], before["standby"])
    assert after["primary"] == "enp3s0" and after["active"] == "enp3s0"


def test_inactive_primary_is_not_active():
    capture = load("kvm-failover")
    link(capture, "enp2s0")["carrier"] = False
    link(capture, "enp2s0")["flags"].remove("LOWER_UP")
    assert groups(capture)[0]["active"] == "enp1s0nsby"


@pytest.mark.parametrize("fixture, vf_driver, bus", [("netvsc-mlx5", "mlx5_core", "7870:00:02.0"), ("netvsc-mana", "mana", "7870:00:00.0")])
def test_netvsc_two_netdev(fixture, vf_driver, bus):
    capture = load(fixture)
    (group,) = groups(capture)
    assert group == {
        "model": "netvsc", "mac": "00:0d:3a:6e:8a:12", "upper": "eth0", "standby": "eth0", "primary": "enP30832s1",
        "active": "enP30832s1", "pv_driver": "hv_netvsc", "vf_driver": vf_driver, "members": ["eth0", "enP30832s1"],
    }
    assert link(capture, "enP30832s1")["bus_info"] == bus


def test_netvsc_without_vf():
    capture = load("netvsc-mlx5")
    capture["links"] = [item for item in capture["links"] if item["name"] != "enP30832s1"]
    (group,) = groups(capture)
    assert group["primary"] is None and group["active"] == "eth0"


def test_bond_fallback():
    (group,) = groups(load("bond-fallback"))
    assert group == {
        "model": "bond", "mac": "52:54:00:12:34:56", "upper": "bond0", "standby": "enp1s0", "primary": "enp2s0",
        "active": "enp2s0", "pv_driver": "virtio_net", "vf_driver": "e1000e", "members": ["bond0", "enp2s0", "enp1s0"],
    }


def test_team_fallback_active_unknown_while_both_ports_run():
    (group,) = groups(load("team-fallback"))
    assert (group["model"], group["upper"], group["standby"], group["primary"]) == ("team", "team0", "enp1s0", "enp2s0")
    assert group["active"] is None  # rtnetlink does not tell which team port is active


def test_team_single_running_port_is_active():
    capture = load("team-fallback")
    link(capture, "enp1s0")["carrier"] = False
    assert groups(capture)[0]["active"] == "enp2s0"


def test_unpaired_pv_and_vf():
    capture = load("pv-vf-pair")
    assert link(capture, "enp1s0")["standby_feature"] is False
    (group,) = groups(capture)
    assert (group["model"], group["upper"], group["standby"], group["primary"]) == ("unpaired", None, "enp1s0", "enp2s0")
    assert (group["pv_driver"], group["vf_driver"]) == ("virtio_net", "e1000e")


def test_plain_and_software_links_give_no_group():
    assert groups(load("netns-veth-bridge")) == []
    capture = load("pv-vf-pair")
    capture["links"] = [item for item in capture["links"] if item["name"] != "enp2s0"]
    assert groups(capture) == []


def test_group_of_roles():
    found = groups(load("two-triplets"))
    assert group_of(found, "enp4s0")[1] == "primary" and group_of(found, "enp4s0")[0]["upper"] == "enp3s0"
    assert group_of(found, "enp1s0")[1] == "upper"
    assert group_of(found, "mgmt0") == (None, None)
