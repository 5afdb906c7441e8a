# SPDX-License-Identifier: GPL-3.0-or-later
"""The runtime planner over real captures (tests/unit/fixtures/runtime/*.json, each with its ``_source``).

Captured with scripts/capture_runtime_state.py on one lab guest, in this order: as booted with a DHCP lease on the
PV, after failover_link applied the bond, and after the VF came back as another NIC model. The expected steps are
the ones failover_link executed on that guest (its result's ``steps``), so the pure planner is checked against
what the kernel made of them.
"""
from __future__ import annotations

import json
import os

from ansible_collections.guestnet.failover.plugins.module_utils import link_plan
from ansible_collections.guestnet.failover.plugins.module_utils.validate import normalize

DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "runtime")
BOND = {"name": "bond0", "model": "bond", "mac": "52:54:00:12:34:56", "pv_driver": "virtio_net", "vf_drivers": ["e1000e"],
        "ipv4": {"method": "dhcp"}, "ipv6": {"method": "auto"}}
# what the VF's re-join and every fresh enslaving ends with
JOIN_VF = [("addr_flush", "enp2s0", None), ("sysctl_ipv6", "enp2s0", None), ("link_set", "enp2s0", "down"),
           ("link_set", "enp2s0", "bond0")]


def capture(name):
    with open(os.path.join(DIR, name + ".json")) as handle:
        state = json.load(handle)
    assert state.pop("_source").startswith("real: ")
    return state


def plan(name):
    return link_plan.plan_group(capture(name), normalize([BOND], "NetworkManager")[0])


def ops(steps):
    return [(s["op"], s.get("dev"), s.get("state") or s.get("master")) for s in steps]


def test_booted_with_the_lease_on_the_pv():
    """The steps failover_link ran on the guest: bond with the PV's MAC, ports quiet and enslaved (PV first), the VF
    primary, then the PV's DHCP lease and default route carried to the bond with their remaining lifetimes."""
    result = plan("pv-vf-pair-dhcp-on-pv")
    steps = result["steps"]
    assert result["resolved"] == {"upper": "bond0", "pv": "enp1s0", "vf": "enp2s0", "upper_exists": False, "model": "bond"}
    assert ops(steps) == [("bond_add", "bond0", None)] + [
        ("addr_flush", "enp1s0", None), ("sysctl_ipv6", "enp1s0", None), ("link_set", "enp1s0", "down"),
        ("link_set", "enp1s0", "bond0")] + JOIN_VF + [
        ("bond_set", "bond0", None), ("link_set", "bond0", "up"), ("link_set", "enp1s0", "up"),
        ("link_set", "enp2s0", "up"), ("wait_carrier", "bond0", None), ("addr_add", "bond0", None),
        ("route_add", None, None)]
    assert steps[0]["mac"] == "52:54:00:12:34:56" and steps[0]["options"]["mode"] == "active-backup"
    assert steps[9]["options"] == {"primary": "enp2s0"}
    carried = steps[-2]["addr"]
    assert (carried["address"], carried["prefixlen"], carried["valid_lft"]) == ("10.99.0.158", 24, 3586)
    assert steps[-1]["route"] == dict(capture("pv-vf-pair-dhcp-on-pv")["routes"][0], dev="bond0")
    # the VF's link-local address failed DAD (same MAC as the PV): flushed with the rest, never carried
    assert [a["address"] for s in steps if s["op"] == "addr_add" for a in [s["addr"]]] == ["10.99.0.158"]


def test_applied_bond_plans_nothing():
    """Idempotence on what the kernel really shows after the apply (bond options as IFLA_BOND_* read them back)."""
    result = plan("pv-vf-pair-bond-applied")
    assert result["steps"] == [] and result["before"] == result["after"]


def test_vf_back_as_another_nic_model_rejoins():
    """Reliability defect 2 on the runtime path: the VF re-plugged as an e1000 (driver in no vf_drivers list) is the
    group's VF; the plan makes it a port and the primary again, and touches nothing else."""
    result = plan("pv-vf-pair-bond-vf-back-as-e1000")
    assert result["resolved"]["vf"] == "enp2s0"
    assert ops(result["steps"]) == JOIN_VF + [("bond_set", "bond0", None), ("link_set", "bond0", "up"),
                                              ("link_set", "enp2s0", "up"), ("wait_carrier", "bond0", None)]


NET_FAILOVER = dict(BOND, name="enp1s0", model="net_failover")


def test_net_failover_with_the_lease_on_the_upper():
    """The steps failover_link ran on the kvm-failover guest: the lowers (standby and VF) lose their link-local
    addresses and IPv6, the upper's IPv6 is toggled so it redoes the DAD its lowers' copies failed; the lease stays."""
    result = link_plan.plan_group(capture("kvm-failover-dhcp-on-upper"), normalize([NET_FAILOVER], "networkd")[0])
    assert (result["resolved"]["upper"], result["resolved"]["pv"], result["resolved"]["vf"]) == ("enp1s0", "enp1s0nsby", "enp2s0")
    assert [(s["op"], s["dev"], s.get("disable")) for s in result["steps"]] == [
        ("addr_flush", "enp1s0nsby", None), ("sysctl_ipv6", "enp1s0nsby", True),
        ("addr_flush", "enp2s0", None), ("sysctl_ipv6", "enp2s0", True),
        ("sysctl_ipv6", "enp1s0", True), ("sysctl_ipv6", "enp1s0", False), ("wait_carrier", "enp1s0", None)]


def test_applied_net_failover_plans_nothing():
    result = link_plan.plan_group(capture("kvm-failover-applied"), normalize([NET_FAILOVER], "networkd")[0])
    assert result["steps"] == [] and result["before"] == result["after"]
