# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure planning of failover_link: resolution, target views, ordered steps, idempotence."""
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import link_apply as la, link_execute, link_plan, link_state
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import teamd_runtime_json
from ansible_collections.guestnet.failover.plugins.module_utils.validate import normalize

MAC = "52:54:00:12:34:56"
VF_MAC = "52:54:00:aa:bb:cc"


def link(name, index, mac=MAC, perm=MAC, driver=None, kind=None, master=None, up=True, carrier=True,
         addresses=None, mtu=1500, ipv6_disabled=False, bond=None, ethtool=None):
    return {"name": name, "ifindex": index, "mac": mac, "perm_mac": perm, "kind": kind, "slave_kind": None,
            "master": master, "up": up, "carrier": carrier, "operstate": "UP", "mtu": mtu,
            "driver": ethtool or driver, "device_driver": driver, "addresses": addresses or [],
            "ipv6_disabled": ipv6_disabled, "bond": bond}


def addr(cidr, family="inet", scope="global", valid=0xFFFFFFFF):
    a, p = cidr.split("/")
    return {"family": family, "address": a, "prefixlen": int(p), "scope": scope, "permanent": valid == 0xFFFFFFFF,
            "valid_lft": valid, "preferred_lft": valid, "broadcast": None, "label": None}


def pair_state():
    """pv-vf-pair as booted: the PV carries the DHCP address and default route, the VF is idle."""
    return {"links": {
        "lo": link("lo", 1, mac="00:00:00:00:00:00", perm=None, addresses=[addr("127.0.0.1/8", scope="host")]),
        "mgmt0": link("mgmt0", 2, mac="52:54:00:00:00:01", perm="52:54:00:00:00:01", driver="virtio_net",
                      addresses=[addr("10.0.2.15/24")]),
        "enp1s0": link("enp1s0", 3, driver="virtio_net",
                       addresses=[addr("192.0.2.10/24", valid=3600), addr("fe80::5054:ff:fe12:3456/64", "inet6", "link")]),
        "enp2s0": link("enp2s0", 4, driver="e1000e", addresses=[addr("fe80::5054:ff:fe12:3456/64", "inet6", "link")]),
    }, "routes": [
        {"family": "inet", "dst": "default", "gateway": "192.0.2.1", "dev": "enp1s0", "priority": 100, "proto": 16, "scope": 0},
        {"family": "inet", "dst": "192.0.2.0/24", "gateway": None, "dev": "enp1s0", "priority": None, "proto": 2, "scope": 253},
        {"family": "inet", "dst": "10.0.2.0/24", "gateway": None, "dev": "mgmt0", "priority": None, "proto": 2, "scope": 253},
    ]}


def group(model="bond", **extra):
    g = {"name": "bond0" if model == "bond" else "team0", "model": model, "mac": MAC, "pv_driver": "virtio_net",
         "vf_drivers": ["mlx5_core", "e1000e"], "ipv4": {"method": "dhcp"}, "ipv6": {"method": "auto"}}
    g.update(extra)
    # the planner is fed only normalised groups (failover_link normalises its parameters first)
    return normalize([g], "NetworkManager")[0]


def converged_bond(state, fail_over_mac="none"):
    """What the kernel shows after a successful bond apply."""
    s = copy.deepcopy(state)
    links = s["links"]
    for name in ("enp1s0", "enp2s0"):
        links[name].update(master="bond0", addresses=[], ipv6_disabled=True)
    links["bond0"] = link("bond0", 5, kind="bond", perm=None, addresses=[addr("192.0.2.10/24", valid=3000)],
                          bond={"mode": "active-backup", "miimon": 100, "updelay": 0, "downdelay": 0,
                                "fail_over_mac": fail_over_mac, "primary_reselect": "always", "num_peer_notif": 3,
                                "primary": "enp2s0", "active_slave": "enp2s0"})
    s["routes"] = [dict(r, dev="bond0") if r["dev"] == "enp1s0" else r for r in s["routes"]]
    return s


def ops(steps):
    return [(s["op"], s.get("dev"), s.get("state") or s.get("master")) for s in steps]


def test_netlink_numbers_follow_the_read_adapter_tables():
    assert link_execute.BOND_MODES["active-backup"] == 1 and link_execute.BOND_MODES["802.3ad"] == 4
    assert link_execute.FAIL_OVER_MAC == {"none": 0, "active": 1, "follow": 2}
    assert link_execute.PRIMARY_RESELECT == {"always": 0, "better": 1, "failure": 2}


def test_resolve_by_mac_and_driver_not_name():
    res = link_plan.resolve(pair_state(), group())
    assert res == {"upper": "bond0", "pv": "enp1s0", "vf": "enp2s0", "upper_exists": False, "model": "bond"}


def test_resolve_takes_a_vf_of_another_driver_as_the_kernel_pairs():
    """A VF back as another NIC model (e1000 after e1000e, in no vf_drivers list) is still the group's VF; a
    virtual device with the MAC (a VLAN, kind set) is never a port."""
    state = pair_state()
    state["links"]["enp2s0"].update(driver="e1000", device_driver="e1000")
    state["links"]["vlan7"] = link("vlan7", 8, kind="vlan", perm=None)
    assert link_plan.resolve(state, group(vf_drivers=["mlx5_core"]))["vf"] == "enp2s0"


def test_resolve_vf_absent_is_fine_pv_absent_is_not():
    state = pair_state()
    del state["links"]["enp2s0"]
    assert link_plan.resolve(state, group())["vf"] is None
    del state["links"]["enp1s0"]
    with pytest.raises(link_state.LinkApplyError, match="PV must be present"):
        link_plan.resolve(state, group())


def test_resolve_refuses_ambiguity_and_wrong_kind():
    state = pair_state()
    state["links"]["enp3s0"] = link("enp3s0", 9, driver="e1000e")
    with pytest.raises(link_state.LinkApplyError, match="refusing to guess"):
        link_plan.resolve(state, group())
    state = pair_state()
    state["links"]["bond0"] = link("bond0", 9, kind="bridge", perm=None)
    with pytest.raises(link_state.LinkApplyError, match="not a bond"):
        link_plan.resolve(state, group())


def test_bond_plan_ordering():
    state = pair_state()
    plan = link_plan.plan_group(state, group())
    steps = plan["steps"]
    names = ops(steps)
    assert names[0] == ("bond_add", "bond0", None)
    assert steps[0]["mac"] == MAC and steps[0]["options"]["fail_over_mac"] == "none"
    assert steps[0]["options"]["mode"] == "active-backup"
    # PV enslaved before the VF, each lower flushed and down before it is enslaved
    enslave = [s["dev"] for s in steps if s.get("master") == "bond0"]
    assert enslave == ["enp1s0", "enp2s0"]
    for port in ("enp1s0", "enp2s0"):
        i_flush = names.index(("addr_flush", port, None))
        i_down = names.index(("link_set", port, "down"))
        i_master = names.index(("link_set", port, "bond0"))
        assert i_flush < i_down < i_master
    i_primary = next(i for i, s in enumerate(steps) if s["op"] == "bond_set" and "primary" in s["options"])
    assert steps[i_primary]["options"]["primary"] == "enp2s0"
    i_up = names.index(("link_set", "bond0", "up"))
    assert i_up > max(names.index(("link_set", p, "bond0")) for p in ("enp1s0", "enp2s0"))
    i_wait = names.index(("wait_carrier", "bond0", None))
    i_addr = names.index(("addr_add", "bond0", None))
    assert i_up < i_wait < i_addr
    added = [s["addr"] for s in steps if s["op"] == "addr_add"]
    assert [(a["address"], a["valid_lft"]) for a in added] == [("192.0.2.10", 3600)]
    routes = [s["route"] for s in steps if s["op"] == "route_add"]
    assert routes == [{"family": "inet", "dst": "default", "gateway": "192.0.2.1", "dev": "bond0",
                       "priority": 100, "proto": 16, "scope": 0}]
    # no step ever adds an address to a lower
    assert all(s["dev"] == "bond0" for s in steps if s["op"] == "addr_add")
    assert "mgmt0" not in link_plan.touched(steps)


def test_bond_converged_is_idempotent():
    state = converged_bond(pair_state())
    plan = link_plan.plan_group(state, group())
    assert plan["steps"] == []
    assert plan["before"] == plan["after"]
    assert "option primary=enp2s0" in plan["before"]
    assert "lower enp1s0 (virtio_net) master bond0 up mtu 1500 ipv6 disabled addresses []" in plan["before"]


def test_bond_option_drift_is_set_in_place():
    state = converged_bond(pair_state())
    state["links"]["bond0"]["bond"]["miimon"] = 200
    state["links"]["bond0"]["bond"]["primary"] = None
    steps = link_plan.plan_group(state, group())["steps"]
    assert {"op": "bond_set", "dev": "bond0", "options": {"miimon": 100}} in steps
    assert {"op": "bond_set", "dev": "bond0", "options": {"primary": "enp2s0"}} in steps
    assert not any(s["op"] in ("bond_add", "link_del") for s in steps)


def test_bond_fail_over_mac_change_rebuilds():
    state = converged_bond(pair_state())
    plan = link_plan.plan_group(state, group(), mac_refused=True)
    kinds = [s["op"] for s in plan["steps"]]
    assert kinds[:2] == ["link_del", "bond_add"]
    assert plan["steps"][1]["options"]["fail_over_mac"] == "active" and plan["steps"][1]["mac"] is None
    assert any("fail_over_mac=active" in n for n in plan["notes"])
    # addresses go back on the rebuilt bond
    assert any(s["op"] == "addr_add" for s in plan["steps"])


def test_bond_static_addressing():
    g = group(ipv4={"method": "static", "addresses": ["198.51.100.7/24"], "gateway": "198.51.100.1"},
              ipv6={"method": "disabled"})
    steps = link_plan.plan_group(pair_state(), g)["steps"]
    assert [s["addr"]["address"] for s in steps if s["op"] == "addr_add"] == ["198.51.100.7"]
    assert [s["route"]["gateway"] for s in steps if s["op"] == "route_add"] == ["198.51.100.1"]


def test_bond_arp_monitoring_refused():
    with pytest.raises(link_state.LinkApplyError, match="arp_interval"):
        link_plan.plan_group(pair_state(), group(bond={"arp_interval": 100, "miimon": 0, "arp_ip_target": ["192.0.2.1"]}))


def test_team_plan_and_config():
    plan = link_plan.plan_group(pair_state(), group("team"))
    steps = plan["steps"]
    start = next(s for s in steps if s["op"] == "teamd_start")
    assert '"name": "activebackup"' in start["config"] and '"hwaddr": "%s"' % MAC in start["config"]
    assert '"enp2s0": {\n      "prio": 100' in start["config"]
    i_start = steps.index(start)
    for port in ("enp1s0", "enp2s0"):
        assert ops(steps).index(("link_set", port, "down")) < i_start
    assert ops(steps).index(("link_set", "team0", "up")) > i_start
    assert ops(steps).index(("addr_add", "team0", None)) > ops(steps).index(("wait_carrier", "team0", None))
    # the virtio PV gets a known speed before teamd sees it, else teamd prefers it over the VF's prio
    speed = next(s for s in steps if s["op"] == "port_speed")
    assert speed == {"op": "port_speed", "dev": "enp1s0", "speed": 10} and steps.index(speed) < i_start


def test_team_converged_and_config_drift():
    state = pair_state()
    g = group("team")
    conf = teamd_runtime_json(g, "enp1s0", "enp2s0")
    state = converged_bond(state)
    state["links"]["team0"] = dict(state["links"].pop("bond0"), name="team0", kind="team", bond=None,
                                   teamd_config=conf, teamd_running=True)
    for name in ("enp1s0", "enp2s0"):
        state["links"][name]["master"] = "team0"
    state["routes"] = [dict(r, dev="team0") if r["dev"] == "bond0" else r for r in state["routes"]]
    assert link_plan.plan_group(state, g)["steps"] == []
    state["links"]["team0"]["teamd_running"] = False
    steps = link_plan.plan_group(state, g)["steps"]
    assert [s["op"] for s in steps][:1] == ["teamd_stop"] and any(s["op"] == "teamd_start" for s in steps)


def test_team_by_active_when_mac_refused():
    plan = link_plan.plan_group(pair_state(), group("team"), mac_refused=True)
    assert '"hwaddr_policy": "by_active"' in plan["target"]["teamd_config"]


def failover_state():
    s = pair_state()
    links = s["links"]
    links["eth0"] = link("eth0", 5, driver="virtio_net", ethtool="net_failover",
                         addresses=[addr("fe80::5054:ff:fe12:3456/64", "inet6", "link")])
    links["enp1s0"].update(master="eth0")
    links["enp2s0"].update(master="eth0", mtu=9000)
    s["routes"] = [r for r in s["routes"] if r["dev"] == "mgmt0"] + [
        dict(r) for r in s["routes"] if r["dev"] == "enp1s0" and r["proto"] == 16]
    return s


def test_net_failover_moves_addresses_and_silences_lowers():
    state = failover_state()
    g = group("net_failover", name=None)
    plan = link_plan.plan_group(state, g)
    steps = plan["steps"]
    assert plan["resolved"]["upper"] == "eth0"
    assert ("addr_flush", "enp1s0", None) in ops(steps) and ("addr_flush", "enp2s0", None) in ops(steps)
    assert {"op": "sysctl_ipv6", "dev": "enp1s0", "disable": True} in steps
    assert {"op": "link_set", "dev": "enp2s0", "mtu": 1500} in steps
    assert not any(s["op"] in ("bond_add", "teamd_start", "link_del") for s in steps)
    assert [s["addr"]["address"] for s in steps if s["op"] == "addr_add"] == ["192.0.2.10"]
    assert [s["route"]["dev"] for s in steps if s["op"] == "route_add"] == ["eth0"]


def test_net_failover_with_a_stack_owning_l3_drops_the_lowers_lease_instead_of_carrying_it():
    """Debian 13 + NetworkManager (two-triplets): NM re-activated the master with its own lease (.11) while a lower
    still had the old one (.10) and its default route; carried over they stayed beside NM's (or the route add
    failed once NM had moved on). carry_l3=False: the master keeps its own address, the lowers are flushed."""
    state = failover_state()
    state["links"]["eth0"]["addresses"].append(addr("192.0.2.11/24", valid=3600))
    g = group("net_failover", name=None)
    steps = link_plan.plan_group(state, g, carry=False)["steps"]
    assert ("addr_flush", "enp1s0", None) in ops(steps) and ("addr_flush", "enp2s0", None) in ops(steps)
    assert [s for s in steps if s["op"] in ("addr_add", "addr_del", "route_add")] == []
    # carried (the default), the lower's lease and route land on the master beside its own
    carried = link_plan.plan_group(state, g)["steps"]
    assert [s["addr"]["address"] for s in carried if s["op"] == "addr_add"] == ["192.0.2.10"]
    assert [s["route"]["dev"] for s in carried if s["op"] == "route_add"] == ["eth0"]


def test_net_failover_converged():
    state = failover_state()
    links = state["links"]
    for name in ("enp1s0", "enp2s0"):
        links[name].update(addresses=[], ipv6_disabled=True, mtu=1500)
    links["eth0"]["addresses"].append(addr("192.0.2.10/24"))
    state["routes"] = [dict(r, dev="eth0") if r["dev"] == "enp1s0" else r for r in state["routes"]]
    assert link_plan.plan_group(state, group("net_failover", name=None))["steps"] == []


def test_dadfailed_master_reruns_dad_once_lowers_are_silent():
    """A master whose link-local failed DAD (a lower still had IPv6 on) is healed by cycling IPv6 on it."""
    state = failover_state()
    links = state["links"]
    for name in ("enp1s0", "enp2s0"):
        links[name].update(addresses=[], ipv6_disabled=True, mtu=1500)
    links["eth0"]["addresses"] = [addr("192.0.2.10/24"), dict(addr("fe80::5054:ff:fe12:3456/64", "inet6", "link"), dadfailed=True)]
    state["routes"] = [dict(r, dev="eth0") if r["dev"] == "enp1s0" else r for r in state["routes"]]
    plan = link_plan.plan_group(state, group("net_failover", name=None))
    assert "dadfailed fe80::5054:ff:fe12:3456/64" in plan["before"] and "dadfailed" not in plan["after"]
    assert [s for s in plan["steps"] if s["op"] == "sysctl_ipv6"] == [
        {"op": "sysctl_ipv6", "dev": "eth0", "disable": True}, {"op": "sysctl_ipv6", "dev": "eth0", "disable": False}]
    # with IPv6 disabled by choice the address is left alone
    assert link_plan.plan_group(state, group("net_failover", name=None, ipv6={"method": "disabled"}))["steps"] == []


def test_net_failover_without_pairing_is_refused():
    with pytest.raises(link_state.LinkApplyError, match="VIRTIO_NET_F_STANDBY"):
        link_plan.resolve(pair_state(), group("net_failover", name=None))


def test_summary_absent_and_teamd():
    res = link_plan.resolve(pair_state(), group())
    text = link_plan.summary(link_plan.current_view(pair_state(), res))
    assert text.startswith("bond0: absent\n")
    assert "addresses [192.0.2.10/24, fe80::5054:ff:fe12:3456/64]" in text


class FakeIPR(object):
    """Just enough IPRoute for the orchestration: records calls, no kernel."""

    def __init__(self):
        self.calls = []

    def link_lookup(self, ifname):
        return [1]

    def link(self, cmd, **kw):
        self.calls.append(("link", cmd, kw))

    def get_links(self, *a):
        return []


def test_run_check_mode_and_rollback(monkeypatch):
    state = pair_state()
    reads = []

    def reader(_ipr):
        reads.append(1)
        return copy.deepcopy(state)

    result = la.run(FakeIPR(), [group()], check_mode=True, reader=reader)
    assert result["changed"] and result["after"] != result["before"]
    assert "bond0: active-backup" not in result["before"]

    applied, restored = [], []
    monkeypatch.setattr(link_execute.Applier, "run", lambda self, steps: applied.extend(steps))
    monkeypatch.setattr(la, "rollback", lambda ipr, before, after, created, **kw: restored.append((before, created)) or [])
    with pytest.raises(la.RolledBack, match="did not answer"):
        la.run(FakeIPR(), [group()], probe_target="192.0.2.1", rollback_timeout=1, reader=reader,
               prober=lambda *a: False)
    assert applied and restored
    before, created = restored[0]
    assert created == [("bond0", "bond")]
    assert set(before["links"]) == {"enp1s0", "enp2s0"}
    assert before["links"]["enp1s0"]["addresses"][0]["address"] == "192.0.2.10"


def test_run_rolls_back_to_the_state_before_the_vf_mac_test(monkeypatch):
    """The MAC test is an executed, logged step: the rollback snapshot predates it, so the VF gets its own MAC back."""
    state = pair_state()
    state["links"]["enp2s0"]["mac"] = VF_MAC
    tested = copy.deepcopy(state)
    tested["links"]["enp2s0"]["mac"] = MAC  # the driver took the PV's MAC
    reads = []

    def reader(_ipr):
        reads.append(1)
        return copy.deepcopy(state if len(reads) == 1 else tested)

    def run(self, steps):  # the MAC test "succeeds", the planned steps are only logged
        for step in steps:
            if step["op"] == "mac_test":
                step.update(refused=False, changed=True)
            self.log.append(step)
    monkeypatch.setattr(link_execute.Applier, "run", run)
    restored = []
    monkeypatch.setattr(la, "rollback", lambda ipr, before, after, created, **kw: restored.append(before) or [])
    with pytest.raises(la.RolledBack, match="did not answer"):
        la.run(FakeIPR(), [group()], probe_target="192.0.2.1", rollback_timeout=1, reader=reader,
               prober=lambda *a: False)
    assert restored[0]["links"]["enp2s0"]["mac"] == VF_MAC

    # a planning error after the test restores the VF too
    restored[:] = []
    reads[:] = []

    def no_plan(*args):
        raise link_state.LinkApplyError("no plan")
    monkeypatch.setattr(la, "plan_group", no_plan)
    with pytest.raises(link_state.LinkApplyError, match="no plan"):
        la.run(FakeIPR(), [group()], reader=reader)
    assert set(restored[0]["links"]) == {"enp2s0"} and restored[0]["links"]["enp2s0"]["mac"] == VF_MAC


def test_run_unchanged_does_nothing(monkeypatch):
    state = converged_bond(pair_state())
    monkeypatch.setattr(link_execute.Applier, "run", lambda self, steps: pytest.fail("applied"))
    result = la.run(FakeIPR(), [group()], reader=lambda _i: copy.deepcopy(state), probe_target="192.0.2.1",
                    prober=lambda *a: pytest.fail("probed"))
    assert not result["changed"] and result["before"] == result["after"]


# --------------------------------------------------------------------------- netns: real netlink
@pytest.fixture()
def netns():
    import os
    import subprocess
    if os.geteuid() != 0:
        pytest.skip("needs root")
    name = "gnt-link"
    if subprocess.run(["ip", "netns", "add", name], capture_output=True, check=False).returncode:
        pytest.skip("no network namespaces")
    try:
        for cmd in (["link", "add", "lowA", "type", "veth", "peer", "name", "peerA"],
                    ["link", "add", "br0", "type", "bridge"],
                    ["link", "set", "peerA", "up"], ["link", "set", "lowA", "up"],
                    ["addr", "add", "192.0.2.10/24", "dev", "lowA"],
                    ["route", "add", "198.51.100.0/24", "via", "192.0.2.1", "dev", "lowA", "proto", "static"]):
            subprocess.run(["ip", "-n", name] + cmd, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


@pytest.mark.netns
def test_applier_moves_addresses_and_rollback_restores(netns):
    from pyroute2 import IPRoute
    with IPRoute(netns=netns) as ipr:
        before = link_state.read_state(ipr, proc="/nonexistent", sys_net="/nonexistent")
        low = before["links"]["lowA"]
        assert [a["address"] for a in link_state.global_addrs(low["addresses"])] == ["192.0.2.10"]
        moved = [r for r in before["routes"] if r["proto"] == 4]
        assert moved and moved[0]["dst"] == "198.51.100.0/24"
        steps = [
            {"op": "addr_flush", "dev": "lowA"},
            {"op": "link_set", "dev": "lowA", "state": "down"},
            {"op": "link_set", "dev": "lowA", "master": "br0"},
            {"op": "link_set", "dev": "br0", "state": "up"},
            {"op": "link_set", "dev": "lowA", "state": "up"},
            {"op": "wait_carrier", "dev": "br0"},
            {"op": "addr_add", "dev": "br0", "addr": low["addresses"][0]},
            {"op": "route_add", "route": dict(moved[0], dev="br0")},
        ]
        link_execute.Applier(ipr, carrier_timeout=5, proc="/nonexistent").run(steps)
        after = link_state.read_state(ipr, proc="/nonexistent", sys_net="/nonexistent")
        assert after["links"]["lowA"]["master"] == "br0"
        assert link_state.global_addrs(after["links"]["lowA"]["addresses"]) == []
        assert [a["address"] for a in link_state.global_addrs(after["links"]["br0"]["addresses"])] == ["192.0.2.10"]
        assert any(r["dev"] == "br0" and r["dst"] == "198.51.100.0/24" for r in after["routes"])
        errors = link_execute.rollback(ipr, link_state.restrict(before, {"lowA", "br0"}), after, [], proc="/nonexistent")
        assert errors == []
        again = link_state.read_state(ipr, proc="/nonexistent", sys_net="/nonexistent")
        assert again["links"]["lowA"]["master"] is None
        assert [a["address"] for a in link_state.global_addrs(again["links"]["lowA"]["addresses"])] == ["192.0.2.10"]
        assert link_state.global_addrs(again["links"]["br0"]["addresses"]) == []
        assert any(r["dev"] == "lowA" and r["dst"] == "198.51.100.0/24" for r in again["routes"])


@pytest.mark.netns
def test_mac_test_is_logged_and_rollback_restores_the_mac(netns):
    from pyroute2 import IPRoute
    with IPRoute(netns=netns) as ipr:
        before = link_state.read_state(ipr, proc="/nonexistent", sys_net="/nonexistent")
        old_mac = before["links"]["lowA"]["mac"]
        applier = link_execute.Applier(ipr, carrier_timeout=1, proc="/nonexistent")
        step = {"op": "mac_test", "dev": "lowA", "address": VF_MAC}
        applier.run([step])
        assert applier.log == [step] and step["changed"] and not step["refused"]
        after = link_state.read_state(ipr, proc="/nonexistent", sys_net="/nonexistent")
        assert after["links"]["lowA"]["mac"] == VF_MAC and after["links"]["lowA"]["up"]
        assert link_plan.touched(applier.log) == {"lowA"}
        assert link_execute.rollback(ipr, link_state.restrict(before, {"lowA"}), after, [], proc="/nonexistent") == []
        again = link_state.read_state(ipr, proc="/nonexistent", sys_net="/nonexistent")
        assert again["links"]["lowA"]["mac"] == old_mac and again["links"]["lowA"]["up"]


def test_a_run_killed_while_carrying_the_lowers_address_is_completed_by_the_next(monkeypatch):
    """reliability run 5 (rel-25, kvm-failover/networkd): failover_link SIGKILLed at its first address removal. The
    standby had lost 10.99.0.158, the master did not have it yet; the rerun found it nowhere and left the master
    without an IPv4 address for good. The run records what it carries before the first step; the next run puts it back."""
    state = failover_state()
    g = group("net_failover", name=None)
    records = []
    monkeypatch.setattr(link_execute.Applier, "run", lambda self, steps: None)
    la.run(FakeIPR(), [g], reader=lambda _ipr: copy.deepcopy(state), record=records.append)
    assert records[0] == {MAC: {"addresses": [s["addr"] for s in link_plan.plan_group(state, g)["steps"]
                                              if s["op"] == "addr_add"],
                                "routes": [s["route"] for s in link_plan.plan_group(state, g)["steps"]
                                           if s["op"] == "route_add"]}}
    assert [a["address"] for a in records[0][MAC]["addresses"]] == ["192.0.2.10"]
    assert records[-1] is None  # the run completed: nothing owed

    killed = copy.deepcopy(state)  # the kill: the lower flushed and silenced, the master without the address yet
    killed["links"]["enp1s0"].update(addresses=[], ipv6_disabled=True)
    killed["routes"] = [r for r in killed["routes"] if r["dev"] == "mgmt0"]
    lost = link_plan.plan_group(killed, g)["steps"]
    assert not [s for s in lost if s["op"] == "addr_add"]  # without the record the address is gone for good

    applied, records = [], []
    monkeypatch.setattr(link_execute.Applier, "run", lambda self, steps: applied.extend(steps))
    la.run(FakeIPR(), [g], reader=lambda _ipr: copy.deepcopy(killed), owed=json.loads(json.dumps({MAC: {
        "addresses": [addr("192.0.2.10/24", valid=3600)],
        "routes": [dict(r, dev="eth0") for r in state["routes"] if r["dev"] == "enp1s0"]}})), record=records.append)
    assert [(s["dev"], s["addr"]["address"], s["addr"]["prefixlen"]) for s in applied if s["op"] == "addr_add"] == [
        ("eth0", "192.0.2.10", 24)]
    assert [(s["route"]["dev"], s["route"]["gateway"]) for s in applied if s["op"] == "route_add"] == [("eth0", "192.0.2.1")]
    assert records[-1] is None


def test_a_carry_record_is_checked_before_use():
    state = failover_state()
    res = link_plan.resolve(state, group("net_failover", name=None))
    owed = {"addresses": [{"address": "192.0.2.10; reboot", "prefixlen": 24}, {"address": "192.0.2.20", "prefixlen": 99},
                          {"address": "2001:db8::5", "prefixlen": 64}, "junk"],
            "routes": [{"family": "inet", "dst": "default", "gateway": "not an address"}, {"family": "bogus", "dst": "default"}]}
    out = la.owed_state(state, res, owed)
    assert [(a["family"], a["address"]) for a in out["links"]["enp1s0"]["addresses"] if a["scope"] == "global"] == [
        ("inet", "192.0.2.10"), ("inet6", "2001:db8::5")]  # the PV's own lease, then the one valid owed entry
    assert out["routes"] == state["routes"]
    assert la.owed_state(state, res, None) is state
