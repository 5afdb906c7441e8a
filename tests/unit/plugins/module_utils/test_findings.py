# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.capture_fixtures import link, load

from ansible_collections.guestnet.failover.plugins.module_utils.classify import groups
from ansible_collections.guestnet.failover.plugins.module_utils.findings import CODES, evaluate, summary


def run(capture):
    return evaluate(capture, groups(capture))


def codes(found, device=None):
    return sorted(f["code"] for f in found if device is None or f["device"] == device)


def by_code(found, code):
    return [f for f in found if f["code"] == code]


def test_every_finding_has_the_contract_keys():
    for name in ("kvm-failover-lower-address", "pv-vf-pair", "netvsc-mlx5", "kvm-failover-vf-absent"):
        for item in run(load(name)):
            assert set(item) == {"code", "severity", "device", "group_mac", "message", "remedy"}
            assert item["severity"] == CODES[item["code"]]
            assert item["remedy"] and "\n" not in item["message"] + item["remedy"]


def test_real_guest_upper_link_local_dadfailed_and_lowers_with_link_local():
    # captured for real: the lowers do IPv6 autoconf with the shared MAC, so the upper's LL fails DAD
    found = run(load("kvm-failover"))
    assert codes(found) == ["LOWER_HAS_LINK_LOCAL", "LOWER_HAS_LINK_LOCAL", "UPPER_DAD_FAILED"]
    (dad,) = by_code(found, "UPPER_DAD_FAILED")
    assert dad["device"] == "enp1s0" and "fe80::5054:ff:fe12:3456/64" in dad["message"] and dad["severity"] == "error"
    assert found[0]["severity"] == "error"  # errors first


def test_address_on_a_lower_device():
    found = run(load("kvm-failover-lower-address"))
    (item,) = by_code(found, "LOWER_HAS_ADDRESS")
    assert item["device"] == "enp1s0nsby" and item["group_mac"] == "52:54:00:12:34:56"
    assert item["message"] == "enp1s0nsby (standby of enp1s0) carries 192.0.2.99/24"
    assert "enp1s0 only" in item["remedy"]
    # the upper's own address is not a finding
    assert not [f for f in found if f["code"] == "LOWER_HAS_ADDRESS" and f["device"] == "enp1s0"]


def test_clean_triplet_has_no_findings():
    capture = load("kvm-failover")
    for name in ("enp1s0nsby", "enp2s0"):
        link(capture, name)["addresses"] = []
    for addr in link(capture, "enp1s0")["addresses"]:
        addr["flags"] = ["permanent"]
    assert run(capture) == []


def test_dhcp_client_and_managers_on_lowers():
    capture = load("kvm-failover")
    capture["dhcp_clients"] = {"enp2s0": ["dhclient"], "enp1s0": ["dhclient"]}
    capture["managers"] = {"NetworkManager": {"enp1s0": True, "enp1s0nsby": True, "enp2s0": False},
                           "networkd": {"enp1s0": "configured", "enp1s0nsby": "unmanaged", "enp2s0": "configured"}}
    found = run(capture)
    assert [f["device"] for f in by_code(found, "LOWER_DHCP_CLIENT")] == ["enp2s0"]
    managed = dict((f["device"], f["message"]) for f in by_code(found, "LOWER_MANAGED"))
    assert set(managed) == {"enp1s0nsby", "enp2s0"}
    assert "NetworkManager" in managed["enp1s0nsby"] and "networkd" not in managed["enp1s0nsby"]
    assert "systemd-networkd (configured)" in managed["enp2s0"]


def test_managers_not_running_give_no_finding():
    capture = load("kvm-failover")
    capture["managers"] = {"NetworkManager": None, "networkd": None}
    assert not by_code(run(capture), "LOWER_MANAGED")


def test_netvsc_vf_address_is_an_error_but_netvsc_device_address_is_fine():
    capture = load("netvsc-mlx5")
    assert not by_code(run(capture), "LOWER_HAS_ADDRESS")  # eth0 has 10.0.0.4 and DHCP: that is right
    assert not by_code(run(capture), "LOWER_DHCP_CLIENT")
    link(capture, "enP30832s1")["addresses"] = [{"family": "inet", "address": "10.0.0.5", "prefixlen": 24, "scope": "global", "flags": []}]
    (item,) = by_code(run(capture), "LOWER_HAS_ADDRESS")
    assert item["device"] == "enP30832s1" and "primary of eth0" in item["message"]


def test_mac_mismatch_and_unset_perm_mac_on_master():
    capture = load("kvm-failover")
    link(capture, "enp2s0")["perm_mac"] = "52:54:00:99:99:99"
    link(capture, "enp1s0")["perm_mac"] = None
    found = run(capture)
    (mismatch,) = by_code(found, "MAC_MISMATCH")
    assert mismatch["device"] == "enp2s0" and "52:54:00:99:99:99" in mismatch["message"]
    (unset,) = by_code(found, "UPPER_PERM_MAC_UNSET")
    assert unset["device"] == "enp1s0"


def test_primary_missing():
    (item,) = by_code(run(load("kvm-failover-vf-absent")), "PRIMARY_MISSING")
    assert item["device"] == "enp1s0" and item["severity"] == "warning" and "enp1s0nsby only" in item["message"]
    assert not by_code(run(load("kvm-failover-vf-replugged")), "PRIMARY_MISSING")


def test_standby_not_negotiated_recommends_bond():
    (item,) = by_code(run(load("pv-vf-pair")), "STANDBY_NOT_NEGOTIATED")
    assert item["device"] == "enp1s0" and "bond" in item["remedy"]


def test_unpaired_non_virtio_pv():
    capture = load("pv-vf-pair")
    pv = link(capture, "enp1s0")
    pv.update(driver="vmxnet3", device_driver="vmxnet3", virtio_features=None, standby_feature=None)
    found = run(capture)
    assert codes(found) == ["UNPAIRED_SAME_MAC"]


def test_kernel_enumerated_upper_name():
    capture = load("kvm-failover")
    assert not by_code(run(capture), "UPPER_NAME_UNSTABLE")  # udev renamed it (name_assign_type 4)
    link(capture, "enp1s0")["name_assign_type"] = 1
    (item,) = by_code(run(capture), "UPPER_NAME_UNSTABLE")
    assert item["device"] == "enp1s0"


def test_legacy_bondvf_bond():
    capture = load("bond-fallback")
    pv = link(capture, "enp1s0")
    pv.update(driver="hv_netvsc", device_driver="hv_netvsc", virtio_features=None, standby_feature=None)
    link(capture, "enp2s0").update(driver="mlx4_en", device_driver="mlx4_core")
    (item,) = by_code(run(capture), "LEGACY_BONDVF")
    assert item["device"] == "bond0" and "hv_netvsc" in item["message"]
    assert groups(capture)[0]["model"] == "bond"  # not mistaken for a netvsc pair


def test_legacy_azure_rule_file():
    capture = load("netvsc-mana")
    capture["legacy"] = [{"path": "/etc/udev/rules.d/68-azure-sriov-nm-unmanaged.rules", "kind": "azure-vf-rule",
                          "line": 'SUBSYSTEM=="net", DRIVERS=="mlx4_core", ENV{NM_UNMANAGED}="1"'}]
    (item,) = by_code(run(capture), "LEGACY_AZURE_VF_RULE")
    assert item["device"] is None and "68-azure-sriov-nm-unmanaged.rules" in item["remedy"]


def test_same_mac_vf_not_enslaved():
    capture = load("kvm-failover")
    link(capture, "enp2s0")["master"] = None
    found = run(capture)
    (item,) = by_code(found, "SAME_MAC_NOT_ENSLAVED")
    assert item["device"] == "enp2s0"
    assert groups(capture)[0]["primary"] is None


def test_summary_counts():
    assert summary(run(load("kvm-failover-lower-address"))) == {"error": 2, "warning": 1, "info": 0}
