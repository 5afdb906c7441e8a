# SPDX-License-Identifier: GPL-3.0-or-later
"""desired.py: discovered groups -> desired groups per flavour."""
from __future__ import annotations

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils.desired import DesiredError, desired_groups, detect_flavour

TRIPLET = {"model": "net_failover", "mac": "52:54:00:12:34:56", "upper": "eth0", "standby": "eth1", "primary": "eth2",
           "active": "eth2", "pv_driver": "virtio_net", "vf_driver": "e1000e"}
UNPAIRED = {"model": "unpaired", "mac": "52:54:00:12:34:57", "upper": None, "standby": "ens3", "primary": "ens4",
            "active": None, "pv_driver": "virtio_net", "vf_driver": "e1000e"}
NETVSC = {"model": "netvsc", "mac": "00:0d:3a:00:00:01", "upper": "eth0", "standby": "eth0", "primary": "enP1s1",
          "active": "enP1s1", "pv_driver": "hv_netvsc", "vf_driver": "mlx5_core"}


def test_kvm_triplet_keeps_upper_name_and_adds_observed_vf_driver():
    (wanted,) = desired_groups([TRIPLET], "kvm")
    assert wanted["name"] == "eth0"
    assert wanted["model"] == "net_failover"
    assert wanted["vf_drivers"][0] == "e1000e"
    assert "mlx5_core" in wanted["vf_drivers"]
    assert wanted["ipv4"] == {"method": "dhcp"} and wanted["ipv6"] == {"method": "auto"}


def test_kvm_unpaired_falls_back_to_bond_with_generated_name():
    wanted = desired_groups([TRIPLET, UNPAIRED], "kvm")
    assert [(w["name"], w["model"]) for w in wanted] == [("eth0", "net_failover"), ("bond0", "bond")]


def test_kvm_unpaired_with_fail_fallback_names_both_devices():
    with pytest.raises(DesiredError, match="ens3 and ens4 share MAC 52:54:00:12:34:57"):
        desired_groups([UNPAIRED], "kvm", fallback="fail")


def test_generic_team_and_names_override():
    (wanted,) = desired_groups([UNPAIRED], "generic", fallback="team", names={"52:54:00:12:34:57": "uplink0"})
    assert (wanted["name"], wanted["model"]) == ("uplink0", "team")


def test_hyperv_dpdk_mac_gets_no_address_and_vf_list_covers_migrations():
    (wanted,) = desired_groups([NETVSC, TRIPLET], "hyperv", no_address_macs=["00:0D:3A:00:00:01"])
    assert wanted["model"] == "netvsc"
    assert wanted["ipv4"] == {"method": "disabled"} and wanted["ipv6"] == {"method": "disabled"}
    assert set(wanted["vf_drivers"]) == {"mana", "mlx4_core", "mlx5_core"}


def test_hyperv_refuses_bond_over_netvsc():
    bond = dict(NETVSC, model="bond", upper="bond0")
    with pytest.raises(DesiredError, match="bondvf.sh"):
        desired_groups([bond], "hyperv")


def test_static_addressing_is_passed_through():
    ipv4 = {"method": "static", "addresses": ["192.0.2.10/24"], "gateway": "192.0.2.1"}
    (wanted,) = desired_groups([TRIPLET], "kvm", ipv4=ipv4, dns=["192.0.2.53"])
    assert wanted["ipv4"] == ipv4 and wanted["dns"] == ["192.0.2.53"]


@pytest.mark.parametrize("flavour, fallback", [("vmware", "bond"), ("kvm", "lacp")])
def test_bad_flavour_or_fallback(flavour, fallback):
    with pytest.raises(DesiredError, match="unknown"):
        desired_groups([TRIPLET], flavour, fallback=fallback)


@pytest.mark.parametrize("groups, virt, vendor, expected", [
    ([NETVSC], None, None, "hyperv"),
    ([UNPAIRED], None, "QEMU", "kvm"),  # DMI alone (netdev_facts platform, no setup call): the lab's q35 guests
    ([UNPAIRED], None, "Google", "kvm"),
    ([UNPAIRED], None, None, "generic"),
    ([TRIPLET], "kvm", "QEMU", "kvm"),
    ([], "hyperv", None, "hyperv"),
    ([], None, "Microsoft Corporation", "hyperv"),
    ([UNPAIRED], "kvm", "QEMU", "kvm"),
    ([], "kvm", "QEMU", "kvm"),
    ([UNPAIRED], "VMware", "VMware, Inc.", "generic"),
])
def test_detect_flavour(groups, virt, vendor, expected):
    assert detect_flavour(groups, virt, vendor) == expected


def test_detect_flavour_from_the_dmi_product():
    assert detect_flavour([UNPAIRED], None, "Red Hat", "KVM") == "kvm"
    assert detect_flavour([UNPAIRED], None, "Red Hat", "RHEL") == "generic"


def test_declared_macs_for_image_builds_take_the_flavour_model_and_driver():
    wanted = desired_groups(["52:54:00:AA:00:02", {"mac": "52:54:00:aa:00:01", "pv_driver": "vmxnet3"}], "generic", fallback="team")
    assert [(w["mac"], w["model"], w["pv_driver"], w["name"]) for w in wanted] == [
        ("52:54:00:aa:00:01", "team", "vmxnet3", "team0"), ("52:54:00:aa:00:02", "team", "virtio_net", "team1")]
    (kvm,) = desired_groups(["52:54:00:12:34:56"], "kvm", names={"52:54:00:12:34:56": "eth0"})
    assert (kvm["model"], kvm["pv_driver"], kvm["name"]) == ("net_failover", "virtio_net", "eth0")


def test_declared_kernel_paired_upper_without_name_is_matched_by_mac_and_driver():
    (wanted,) = desired_groups(["00:0d:3a:00:00:09"], "hyperv")
    assert (wanted["model"], wanted["pv_driver"], wanted["name"]) == ("netvsc", "hv_netvsc", None)
