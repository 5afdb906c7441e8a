# SPDX-License-Identifier: GPL-3.0-or-later
"""The runtime team/bond (failover_link's plan) and the rendered one (failover_config's files) are one configuration."""
from __future__ import annotations

import json
import re

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import link_plan, plan, upper_config
from ansible_collections.guestnet.failover.plugins.module_utils.validate import normalize

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.test_link_apply import MAC, pair_state

BOND_VARIANTS = [
    {},
    {"miimon": 200, "updelay": 400, "downdelay": 200, "primary_reselect": "better", "num_grat_arp": 5},
    {"fail_over_mac": "active"},
]
TEAM_VARIANTS = [{}, {"delay_up": 300, "delay_down": 100, "notify_peers": 7, "mcast_rejoin": 2}, {"hwaddr_policy": "by_active"}]


def _raw(model, options):
    return {"name": "%s0" % model, "model": model, "mac": MAC, "pv_driver": "virtio_net", "vf_drivers": ["e1000e"],
            "ipv4": {"method": "dhcp"}, "ipv6": {"method": "auto"}, model: options}


def _runtime_steps(raw):
    group = normalize([raw], "NetworkManager")[0]
    return link_plan.plan_group(pair_state(), group)["steps"]


def _ms(text):
    return int(text[:-2]) if text.endswith("ms") else int(text)


def _section(ini, name):
    match = re.search(r"^\[%s\]\n(.*?)(?:\n\n|\Z)" % re.escape(name), ini, re.S | re.M)
    return dict(line.split("=", 1) for line in match.group(1).splitlines())


# each stack's spelling of the kernel's bond options -> (kernel key, parser)
STACK_KEYS = {
    "networkd": {"Mode": ("mode", str), "MIIMonitorSec": ("miimon", _ms), "UpDelaySec": ("updelay", _ms),
                 "DownDelaySec": ("downdelay", _ms), "FailOverMACPolicy": ("fail_over_mac", str),
                 "PrimaryReselectPolicy": ("primary_reselect", str), "GratuitousARP": ("num_peer_notif", int)},
    "NetworkManager": {"mode": ("mode", str), "miimon": ("miimon", int), "updelay": ("updelay", int),
                       "downdelay": ("downdelay", int), "fail_over_mac": ("fail_over_mac", str),
                       "primary_reselect": ("primary_reselect", str), "num_grat_arp": ("num_peer_notif", int)},
    "ifupdown": {"bond-mode": ("mode", str), "bond-miimon": ("miimon", int), "bond-updelay": ("updelay", int),
                 "bond-downdelay": ("downdelay", int), "bond-fail-over-mac": ("fail_over_mac", str),
                 "bond-primary-reselect": ("primary_reselect", str), "bond-num-grat-arp": ("num_peer_notif", int)},
    "netplan": {"mode": ("mode", str), "mii-monitor-interval": ("miimon", int), "up-delay": ("updelay", int),
                "down-delay": ("downdelay", int), "fail-over-mac-policy": ("fail_over_mac", str),
                "primary-reselect-policy": ("primary_reselect", str), "gratuitous-arp": ("num_peer_notif", int)},
}


def _rendered_bond(stack, raw):
    files = plan.plan_files([raw], stack)
    if stack == "networkd":
        pairs = _section(files["etc/systemd/network/05-guestnet-failover-bond0.netdev"], "Bond").items()
    elif stack == "NetworkManager":
        pairs = _section(files["etc/NetworkManager/system-connections/guestnet-failover-bond0.nmconnection"], "bond").items()
    elif stack == "ifupdown":
        text = files["etc/network/interfaces.d/guestnet-failover"]
        pairs = [line.strip().split(" ", 1) for line in text.splitlines() if line.startswith("    bond-")]
    else:
        text = files["etc/netplan/90-guestnet-failover.yaml"]
        pairs = [line.strip().split(": ", 1) for line in text.split("parameters:")[1].splitlines()[1:]
                 if line.startswith("        ") and ": " in line]
    out = {}
    for key, value in pairs:
        if key in STACK_KEYS[stack]:
            kernel, parse = STACK_KEYS[stack][key]
            out[kernel] = parse(value)
    return out


@pytest.mark.parametrize("stack", sorted(STACK_KEYS))
@pytest.mark.parametrize("options", BOND_VARIANTS, ids=["defaults", "tuned", "fail_over_mac_active"])
def test_runtime_bond_is_the_rendered_bond(stack, options):
    raw = _raw("bond", options)
    add = next(s for s in _runtime_steps(raw) if s["op"] == "bond_add")
    rendered = _rendered_bond(stack, raw)
    assert sorted(rendered) == sorted(upper_config.BOND_KERNEL_KEYS)
    assert add["options"] == rendered


def _nm_files(raw):
    return plan.plan_files([raw], "NetworkManager")


@pytest.mark.parametrize("options", TEAM_VARIANTS, ids=["defaults", "tuned", "by_active"])
def test_runtime_team_is_the_rendered_team(options):
    raw = _raw("team", options)
    start = next(s for s in _runtime_steps(raw) if s["op"] == "teamd_start")
    runtime = json.loads(start["config"])
    ports = runtime.pop("ports")
    nm = _nm_files(raw)
    base = "etc/NetworkManager/system-connections/guestnet-failover-team0"
    assert runtime == json.loads(_section(nm[base + ".nmconnection"], "team")["config"])
    ifupdown = plan.plan_files([raw], "ifupdown")["etc/teamd/guestnet-failover-team0.conf"]
    assert runtime == json.loads(ifupdown)
    # the ports: PV and VF with the rendered port configuration (VF preferred, sticky off)
    assert ports == {"enp1s0": json.loads(_section(nm[base + "-pv.nmconnection"], "team-port")["config"]),
                     "enp2s0": json.loads(_section(nm[base + "-vf.nmconnection"], "team-port")["config"])}
    assert ports["enp2s0"] == {"prio": 100, "sticky": False}


def test_upper_driver_map_is_the_one_the_renderers_use():
    from ansible_collections.guestnet.failover.plugins.module_utils import (
        render_netplan, render_networkd, render_networkmanager, render_udev,
    )
    for module in (render_netplan, render_networkd, render_networkmanager, render_udev):
        assert module.UPPER_DRIVER is upper_config.UPPER_DRIVER


def test_port_role_pairs_like_the_kernel():
    """The PV by its driver; the VF is any other physical device with the MAC, whatever its driver; a virtual
    device (no driver) and an upper are no port."""
    assert upper_config.port_role("virtio_net", "virtio_net") == "pv"
    assert upper_config.port_role("virtio_net", "e1000e") == "vf"
    assert upper_config.port_role("virtio_net", "e1000") == "vf"
    assert upper_config.port_role("virtio_net", None) is None
    assert upper_config.port_role("virtio_net", "net_failover") is None
