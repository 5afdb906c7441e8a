# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet: the fleet report and its summary over capture fixtures. Where each comes from (its _source):
kvm-failover, kvm-failover-lower-address, bond-fallback, two-triplets: real QEMU lab guests (Debian 12, captured with
tests/tools/capture_topology.py --lab); netvsc-mana: hand-built from the kernel's netvsc documentation (no Azure VM)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils.classify import groups
from ansible_collections.guestnet.failover.plugins.module_utils.findings import evaluate, summary
from ansible_collections.guestnet.failover.plugins.module_utils.fleet import FleetError, fleet, summary_lines
from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.capture_fixtures import load


def fact(name):
    """The guestnet_failover fact netdev_facts returns for a capture."""
    capture = load(name)
    found = groups(capture)
    findings_ = evaluate(capture, found)
    return {"links": capture["links"], "groups": found, "findings": findings_, "summary": summary(findings_)}


FLEET = {
    "vm1": {"fact": fact("kvm-failover"), "virtualization_type": "kvm"},
    "vm2": {"fact": fact("kvm-failover-lower-address"), "virtualization_type": "kvm"},
    "vm3": {"fact": fact("bond-fallback"), "virtualization_type": "VMware"},
    "az1": {"fact": fact("netvsc-mana"), "virtualization_type": "hyperv"},
    "gone": {"fact": None},
}


def test_host_keyed_document_with_members_roles_and_addresses():
    report = fleet(FLEET)
    assert list(report) == ["az1", "gone", "vm1", "vm2", "vm3"]
    vm1 = report["vm1"]
    assert vm1["discovered"] is True and vm1["flavour"] == "kvm"
    # the capture was taken before the collection configured the guest: the lowers still did IPv6
    assert [(f["severity"], f["code"], f["device"]) for f in vm1["findings"]] == [
        ("error", "UPPER_DAD_FAILED", "enp1s0"), ("warning", "LOWER_HAS_LINK_LOCAL", "enp1s0nsby"),
        ("warning", "LOWER_HAS_LINK_LOCAL", "enp2s0")]
    assert vm1["summary"] == {"error": 1, "warning": 2, "info": 0}
    (group,) = vm1["groups"]
    assert (group["model"], group["upper"], group["mac"], group["active"]) == (
        "net_failover", "enp1s0", "52:54:00:12:34:56", "enp2s0")
    assert [(m["name"], m["role"], m["driver"], m["bus_info"], m["state"], m["active"]) for m in group["members"]] == [
        # the master reports the driver and bus of the PV it is built on (sysfs device link)
        ("enp1s0", "upper", "virtio_net", "0000:01:00.0", "UP carrier", False),
        ("enp1s0nsby", "standby", "virtio_net", "0000:01:00.0", "UP carrier", False),
        ("enp2s0", "primary", "e1000e", "0000:02:00.0", "UP carrier", True),
    ]
    assert group["members"][0]["addresses"] == ["192.0.2.10/24", "fe80::5054:ff:fe12:3456/64"]
    # every device with an address, the management NIC outside any group too
    assert vm1["addresses"]["mgmt0"] == ["10.0.2.15/24", "fe80::5054:ff:fe00:1/64"]
    assert vm1["addresses"]["enp1s0"] == ["192.0.2.10/24", "fe80::5054:ff:fe12:3456/64"]


def test_flavours_and_bond_ports():
    report = fleet(FLEET)
    assert {host: entry["flavour"] for host, entry in report.items()} == {
        "az1": "hyperv", "gone": None, "vm1": "kvm", "vm2": "kvm", "vm3": "generic"}
    (bond,) = report["vm3"]["groups"]
    assert [(m["name"], m["role"], m["addresses"]) for m in bond["members"]] == [
        ("bond0", "upper", ["192.0.2.10/24", "fd99::5054:ff:fe12:3456/64", "fe80::5054:ff:fe12:3456/64"]),
        ("enp1s0", "standby", []), ("enp2s0", "primary", [])]


def test_findings_keep_severity_code_device_and_remedy():
    vm2 = fleet(FLEET)["vm2"]
    assert vm2["summary"]["error"] == 2
    errors = [f for f in vm2["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in errors] == ["UPPER_DAD_FAILED", "LOWER_HAS_ADDRESS"]
    assert all(f["device"] and f["message"] and f["remedy"] and f["group_mac"] for f in errors)
    json.dumps(fleet(FLEET))  # the document is JSON as it stands


def test_missing_host_is_an_error_level_finding():
    gone = fleet(FLEET)["gone"]
    assert gone["discovered"] is False and gone["groups"] == [] and gone["summary"]["error"] == 1
    assert gone["findings"][0]["code"] == "not-discovered"


def test_absent_primary_is_listed():
    (group,) = fleet({"vm": {"fact": fact("kvm-failover-vf-absent")}})["vm"]["groups"]
    assert group["members"][-1] == {"name": None, "role": "primary", "driver": None, "bus_info": None,
                                    "state": "absent", "addresses": [], "active": False}


def test_summary_table():
    assert summary_lines(fleet(FLEET)) == [
        "fleet: 5 hosts",
        "",
        "flavour           hosts  names",
        "(not discovered)  1      gone",
        "generic           1      vm3",
        "hyperv            1      az1",
        "kvm               2      vm1, vm2",
        "",
        "hosts with error-level findings: 3",
        "host  errors  codes",
        "gone  1       not-discovered",
        "vm1   1       UPPER_DAD_FAILED",
        "vm2   2       LOWER_HAS_ADDRESS, UPPER_DAD_FAILED",
    ]


def test_summary_of_a_clean_fleet_and_long_name_lists():
    report = fleet(dict(("vm%02d" % i, {"fact": fact("bond-fallback")}) for i in range(12)))
    lines = summary_lines(report, limit=3)
    assert lines[3] == "generic  12     vm00, vm01, vm02 (+9 more)"
    assert lines[-1] == "hosts with error-level findings: none"


@pytest.mark.parametrize("bad", [[], "vm1", {"vm1": "fact"}, {"vm1": {"fact": {"links": []}}}])
def test_bad_input(bad):
    with pytest.raises(FleetError):
        fleet(bad)
    with pytest.raises(FleetError):
        summary_lines([])
