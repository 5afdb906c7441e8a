# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decide stage: failover groups from a raw capture (pure logic over plain dicts).

See docs/data-model.md, "Failover group". One group per shared MAC set; a netdev belongs to at
most one group. Order of the checks matters: bond/team ports are claimed first (a bondvf.sh-era
bond of hv_netvsc + VF is a bond, not a netvsc pair), then net_failover masters, then netvsc
devices, then what is left over with a shared MAC (unpaired).
"""
from __future__ import annotations

# Paravirtual NIC drivers: (sysfs device driver or ethtool driver name).
PV_DRIVERS = ("virtio_net", "hv_netvsc", "vmxnet3", "vif", "xen_netfront", "xen-netfront")
FAILOVER_DRIVER = "net_failover"
MODELS = ("net_failover", "netvsc", "bond", "team", "unpaired")


def link_driver(link):
    """The driver name used in groups and reports: sysfs device driver, else ethtool driver."""
    if link is None:
        return None
    return link.get("device_driver") or link.get("driver")


def is_pv(link):
    return link is not None and (link.get("device_driver") in PV_DRIVERS or link.get("driver") in PV_DRIVERS) \
        and link.get("driver") != FAILOVER_DRIVER


def is_failover_master(link, links):
    """net_failover master: ethtool driver, or (when ethtool failed) no kind + a same-device slave."""
    if link.get("driver") == FAILOVER_DRIVER:
        return True
    if link.get("kind") or link.get("driver") or not link.get("device_path"):
        return False
    return any(other.get("master") == link["name"] and other.get("device_path") == link["device_path"]
               and other.get("standby_feature") for other in links)


def is_physical(link):
    """A netdev backed by a device (PCI, VMBus, virtio...), not a software link."""
    return bool(link.get("device_path")) and not link.get("kind") and link.get("driver") != FAILOVER_DRIVER


def group_mac(link):
    return link.get("perm_mac") or link.get("mac")


def is_running(link):
    if link is None:
        return False
    flags = link.get("flags") or []
    return "UP" in flags and bool(link.get("carrier")) and "LOWER_UP" in flags


def _group(model, mac, upper, standby, primary, active, members):
    return {
        "model": model,
        "mac": mac,
        "upper": upper["name"] if upper else None,
        "standby": standby["name"] if standby else None,
        "primary": primary["name"] if primary else None,
        "active": active["name"] if active else None,
        "pv_driver": link_driver(standby),
        "vf_driver": link_driver(primary),
        "members": [m["name"] for m in members if m],
    }


def _split_ports(ports, upper=None):
    """Pick (standby, primary) among ports: the PV (same parent device as the upper first) and the other."""
    standby = None
    if upper is not None:
        standby = next((p for p in ports if upper.get("device_path") and p.get("device_path") == upper["device_path"]), None)
    if standby is None:
        standby = next((p for p in ports if is_pv(p)), None)
    others = [p for p in ports if p is not standby]
    primary = next((p for p in others if is_physical(p) and not is_pv(p)), None)
    if primary is None and others:
        primary = others[0]
    return standby, primary


def _ports(name, links):
    return sorted((link for link in links if link.get("master") == name), key=lambda item: item.get("ifindex") or 0)


def groups(capture):
    """Failover groups of a raw capture, sorted by upper (or standby) name."""
    links = list(capture.get("links") or [])
    by_name = dict((link["name"], link) for link in links)
    claimed = set()
    result = []

    # bond / team: userspace pairing (and legacy bondvf.sh bonds)
    for link in links:
        if link.get("kind") not in ("bond", "team"):
            continue
        ports = _ports(link["name"], links)
        standby, primary = _split_ports(ports)
        active = None
        if link["kind"] == "bond":
            active = by_name.get((link.get("bond") or {}).get("active_slave"))
        else:
            running = [p for p in ports if is_running(p)]
            active = running[0] if len(running) == 1 else None
        result.append(_group(link["kind"], link.get("mac"), link, standby, primary, active, [link] + ports))
        claimed.update([link["name"]] + [p["name"] for p in ports])

    # net_failover: 3-netdev, paired by the kernel
    for link in links:
        if link["name"] in claimed or not is_failover_master(link, links):
            continue
        ports = _ports(link["name"], links)
        standby, primary = _split_ports(ports, upper=link)
        active = primary if is_running(primary) else (standby if is_running(standby) else None)
        result.append(_group("net_failover", group_mac(link), link, standby, primary, active, [link, standby, primary]))
        claimed.update([link["name"]] + [p["name"] for p in ports])

    # netvsc: 2-netdev, the hv_netvsc device is upper and standby at once, the VF is its slave
    for link in links:
        if link["name"] in claimed or link_driver(link) != "hv_netvsc":
            continue
        ports = _ports(link["name"], links)
        primary = ports[0] if ports else None
        active = primary if is_running(primary) else (link if is_running(link) else None)
        result.append(_group("netvsc", group_mac(link), link, link, primary, active, [link, primary]))
        claimed.update([link["name"]] + [p["name"] for p in ports])

    # unpaired: PV and VF share a MAC but nothing pairs them
    by_mac = {}
    for link in links:
        if link["name"] in claimed or not is_physical(link) or link.get("master") or not group_mac(link):
            continue
        by_mac.setdefault(group_mac(link), []).append(link)
    for mac, members in sorted(by_mac.items()):
        pvs = [m for m in members if is_pv(m)]
        vfs = [m for m in members if not is_pv(m)]
        if not pvs or not vfs:
            continue
        standby, primary = pvs[0], vfs[0]
        active = standby if is_running(standby) else None
        result.append(_group("unpaired", mac, None, standby, primary, active, [standby, primary]))

    result.sort(key=lambda g: (g["upper"] or g["standby"] or "", g["mac"] or ""))
    return result


def group_of(groups_, name):
    """The group a netdev belongs to, and its role in it (upper, standby, primary, member)."""
    for group in groups_:
        for role in ("upper", "standby", "primary"):
            if group.get(role) == name:
                return group, role
        if name in (group.get("members") or []):
            return group, "member"
    return None, None
