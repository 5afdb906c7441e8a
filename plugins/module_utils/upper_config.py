# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decide stage (pure), shared: the one builder of each upper-device artifact for the runtime and persistent paths.

The runtime path (``link_plan``/``link_execute``) and the persistent renderers (``render_*``) take the teamd
JSON, the bond's kernel options and the upper-driver map from here, so a team or bond behaves the same before
and after the first reboot (tests/unit/plugins/module_utils/test_upper_config.py compares them).
Input is a group normalised by ``validate.normalize``: every default (miimon 100, notify_peers 3, ...) is set
there, once.

Where the runtime and the persistent team used to differ (the runtime had ``notify_peers``/``mcast_rejoin``
``interval: 50``, no ``sticky``, no link-watch delays), the persistent configuration wins: it is what the guest
runs for the rest of its life, and the on-disk formats are what users and other tools already read.
"""
from __future__ import annotations

import json

# the driver of a kernel-paired group's upper device, by model (its lowers share its MAC)
UPPER_DRIVER = {"net_failover": "net_failover", "netvsc": "hv_netvsc"}


def port_role(pv_driver, drv):
    """"pv" or "vf" for a physical device with a bond/team group's MAC and driver ``drv``; None for a virtual one.

    Matched as the kernel pairs a net_failover group: the PV by its driver, the VF as any other physical device
    with the MAC. ``vf_drivers`` find a group at discovery, but a VF that comes back as another NIC model (a
    migration to a host with other hardware) is still the group's VF: left out, a network stack would configure
    it as a second device with the MAC.
    """
    if drv is None or drv in UPPER_DRIVER.values():
        return None
    return "pv" if drv == pv_driver else "vf"


# teamd's activebackup runner picks the best port with "prio > best OR speed > best": virtio_net reports
# SPEED_UNKNOWN (0xffffffff Mb/s), so the PV outranks the VF whatever their prios and the team never moves
# back to the VF. Giving the PV a known low speed before teamd sees it (ethtool, speed is cosmetic on
# virtio_net) lets the VF's prio win. Seen on Debian 12 (libteam 1.31) in the lab.
TEAM_PV_SPEED = {"virtio_net": 10}

# bond options as the kernel keeps them (IFLA_BOND_*), in the order the runtime sets them
BOND_KERNEL_KEYS = ("mode", "miimon", "updelay", "downdelay", "fail_over_mac", "primary_reselect", "num_peer_notif")


def bond_kernel_options(bond, fail_over_mac=None):
    """The kernel options of a normalised ``group["bond"]`` (``fail_over_mac`` overrides, e.g. when the VF refuses the MAC).

    num_grat_arp and num_unsol_na are one kernel counter (IFLA_BOND_NUM_PEER_NOTIF); validate makes them equal.
    """
    out = dict((key, bond[key]) for key in ("mode", "miimon", "updelay", "downdelay", "fail_over_mac", "primary_reselect"))
    out["num_peer_notif"] = bond["num_grat_arp"]
    if fail_over_mac:
        out["fail_over_mac"] = fail_over_mac
    return out


def teamd_config(group, hwaddr_policy=None):
    """teamd's activebackup configuration of a normalised team group, without ports (a dict)."""
    team = group["team"]
    return {
        "device": group["name"],
        "hwaddr": group["mac"],
        "runner": {"name": "activebackup", "hwaddr_policy": hwaddr_policy or team["hwaddr_policy"]},
        "link_watch": {"name": team["link_watch"], "delay_up": team["delay_up"], "delay_down": team["delay_down"]},
        "notify_peers": {"count": team["notify_peers"]},
        "mcast_rejoin": {"count": team["mcast_rejoin"]},
    }


def teamd_port(role):
    """teamd port configuration: the VF wins whenever it has link, sticky off."""
    return {"prio": 100 if role == "vf" else 0, "sticky": False}


def teamd_runtime_json(group, pv, vf, hwaddr_policy=None):
    """The runtime team's JSON (/run/teamd/NAME.conf): the persistent configuration plus the ports present now."""
    config = teamd_config(group, hwaddr_policy)
    config["ports"] = dict([(pv, teamd_port("pv"))] + ([(vf, teamd_port("vf"))] if vf else []))
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def compact_json(value):
    """JSON on one line, keys sorted (NetworkManager keyfiles, ifupdown command lines)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
