# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decide stage (host): what ``failover_config`` runs so NetworkManager uses its bond/team profiles now.

NetworkManager owns a bond or team it has a profile for, at runtime too (a bond built beside it loses the PV to the
auto-activated "Wired connection" profile). Bringing the master profile up (``autoconnect-slaves``) moves both ports
onto it; it is due when the profile was (re)written, since NetworkManager keeps an active profile's old settings
until then, or when the profile is not active.

The bond profile names the VF primary by its persistent name, which the VF gets from its ``.link`` file at the next
boot or re-plug (the announcer then makes it primary again); until then the bond would run on the PV. So the
primary is also set under the name the VF has now. Done here, beside the reloads, a first converge costs no extra
round trips for it, and check mode predicts it from the same reads.
"""
from __future__ import annotations

import os

from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import device_driver, read_text
from ansible_collections.guestnet.failover.plugins.module_utils.render_networkmanager import master_path, profile_id
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import port_role

MASTER_MODELS = ("bond", "team")
# NetworkManager waits for the master's addresses (DHCP under emulation is slow): its own bound, not ours
ACTIVATE_WAIT = "90"


def vf_now(group, sysfs_root="/sys"):
    """Name of the group's VF as the kernel calls it now: the physical device with the group's MAC (enslaved: its
    permanent MAC) whose driver is not the PV's. None when there is none."""
    net = os.path.join(sysfs_root, "class", "net")
    try:
        names = sorted(os.listdir(net))
    except OSError:
        return None
    for name in names:
        base = os.path.join(net, name)
        mac = read_text(os.path.join(base, "bonding_slave", "perm_hwaddr")) or read_text(os.path.join(base, "address"))
        if (mac or "").lower() == group["mac"] and port_role(group["pv_driver"], device_driver(base)) == "vf":
            return name
    return None


def bond_primary(name, sysfs_root="/sys"):
    """The bond's primary port name ("" for none), or None when ``name`` is not a bond now."""
    return read_text(os.path.join(sysfs_root, "class", "net", name, "bonding", "primary"))


def actions(groups, work_paths, is_activated, sysfs_root="/sys"):
    """argv lists, in order: bring up the master profiles that changed or are not active, then point each bond's
    primary at the VF's current name where it differs from what the bond will have.

    ``work_paths`` are the root-relative files this run writes or still owes; ``is_activated(profile_id)`` asks
    NetworkManager (asked only for profiles that did not change).
    """
    out = []
    for group in groups:
        if group.get("model") not in MASTER_MODELS:
            continue
        profile = profile_id(group)
        activate = master_path(group) in work_paths or not is_activated(profile)
        if activate:
            out.append(["nmcli", "--wait", ACTIVATE_WAIT, "connection", "up", "id", profile])
        if group["model"] != "bond":
            continue
        vf = vf_now(group, sysfs_root)
        # an activation sets the profile's primary (the persistent name); otherwise the bond keeps what it has
        expected = group["vf_name"] if activate else bond_primary(group["name"], sysfs_root)
        if vf and vf != expected:
            out.append(["ip", "link", "set", "dev", group["name"], "type", "bond", "primary", vf])
    return out
