# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decide stage: findings (what is wrong, how to fix it) from a capture and its groups.

Pure logic over plain dicts, see docs/data-model.md "Finding". Codes are stable: roles and users
may key on them. ``CODES`` lists every code with its severity.
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils.classify import is_pv, is_physical, link_driver, group_mac

CODES = {
    "LOWER_HAS_ADDRESS": "error",
    "LOWER_HAS_LINK_LOCAL": "warning",
    "LOWER_DHCP_CLIENT": "error",
    "LOWER_MANAGED": "error",
    "MAC_MISMATCH": "error",
    "UPPER_PERM_MAC_UNSET": "warning",
    "BOND_MAC_NOT_PV": "warning",
    "PRIMARY_MISSING": "warning",
    "SAME_MAC_NOT_ENSLAVED": "warning",
    "STANDBY_NOT_NEGOTIATED": "warning",
    "UNPAIRED_SAME_MAC": "warning",
    "UPPER_NAME_UNSTABLE": "warning",
    "UPPER_DAD_FAILED": "error",
    "LEGACY_BONDVF": "warning",
    "LEGACY_AZURE_VF_RULE": "warning",
}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
NET_NAME_ENUM = 1
# systemd-networkd ADMIN_STATE values that mean "networkd configures this link".
NETWORKD_MANAGED = ("pending", "initialized", "configuring", "configured", "failed", "linger")
CONFIG = "guestnet.failover.failover_config"


def _finding(code, device, group, message, remedy):
    return {
        "code": code,
        "severity": CODES[code],
        "device": device,
        "group_mac": group.get("mac") if group else None,
        "message": message,
        "remedy": remedy,
    }


def _lowers(group):
    """(name, role) of the devices that must carry no L3 configuration."""
    if group["model"] == "unpaired":
        return []
    out = []
    if group["model"] != "netvsc" and group.get("standby"):
        out.append((group["standby"], "standby"))
    if group.get("primary"):
        out.append((group["primary"], "primary"))
    return out


def _role_text(name, role, group):
    return "%s (%s of %s)" % (name, role, group.get("upper"))


def _check_lowers(capture, group, by_name, out):
    managers = capture.get("managers") or {}
    nm_state = managers.get("NetworkManager") or {}
    nd_state = managers.get("networkd") or {}
    dhcp = capture.get("dhcp_clients") or {}
    upper = group.get("upper")
    for name, role in _lowers(group):
        link = by_name.get(name) or {}
        who = _role_text(name, role, group)
        addrs = link.get("addresses") or []
        routable = ["%s/%s" % (a["address"], a["prefixlen"]) for a in addrs if a.get("scope") not in ("link", "host")]
        local = ["%s/%s" % (a["address"], a["prefixlen"]) for a in addrs
                 if a.get("scope") == "link" and a.get("family") == "inet6"]
        if routable:
            out.append(_finding("LOWER_HAS_ADDRESS", name, group, "%s carries %s" % (who, ", ".join(routable)),
                                "Mark %s unmanaged and configure L3 on %s only (%s)." % (name, upper, CONFIG)))
        elif local:
            out.append(_finding("LOWER_HAS_LINK_LOCAL", name, group, "%s has IPv6 link-local %s" % (who, ", ".join(local)),
                                "Disable IPv6 on %s (net.ipv6.conf.%s.disable_ipv6=1 via %s)." % (name, name, CONFIG)))
        if dhcp.get(name):
            out.append(_finding("LOWER_DHCP_CLIENT", name, group, "%s is named by DHCP client %s" % (who, ", ".join(dhcp[name])),
                                "Stop DHCP on %s; run it on %s only (%s)." % (name, upper, CONFIG)))
        managed_by = []
        if nm_state.get(name):
            managed_by.append("NetworkManager")
        if nd_state.get(name) in NETWORKD_MANAGED:
            managed_by.append("systemd-networkd (%s)" % nd_state[name])
        if managed_by:
            out.append(_finding("LOWER_MANAGED", name, group, "%s is managed by %s" % (who, " and ".join(managed_by)),
                                "Mark %s unmanaged (udev NM_UNMANAGED/ID_NET_MANAGED_BY, networkd Unmanaged=yes) with %s."
                                % (name, CONFIG)))


def _check_macs(group, by_name, out):
    upper = by_name.get(group.get("upper") or "")
    if upper is None:
        return
    if group["model"] in ("net_failover", "netvsc"):
        for name, role in (("standby", group.get("standby")), ("primary", group.get("primary"))):
            lower = by_name.get(role or "")
            if lower is None or lower is upper:
                continue
            lower_mac = group_mac(lower)
            if lower_mac and upper.get("mac") and lower_mac != upper["mac"]:
                out.append(_finding("MAC_MISMATCH", lower["name"], group,
                                    "%s (%s) has MAC %s, %s has %s" % (lower["name"], name, lower_mac, upper["name"], upper["mac"]),
                                    "Give the VF the PV's MAC on the host (ip link set PF vf N mac ...) and re-plug it."))
    if group["model"] == "net_failover" and not upper.get("perm_mac"):
        out.append(_finding("UPPER_PERM_MAC_UNSET", upper["name"], group,
                            "%s has no permanent MAC (kernel without the net_failover perm_addr fix)" % upper["name"],
                            "Match %s by driver and the standby's MAC, not by permanent MAC; update the guest kernel." % upper["name"]))
    if group["model"] == "bond":
        pv = by_name.get(group.get("standby") or "")
        pv_mac = group_mac(pv) if pv else None
        if pv_mac and upper.get("mac") and pv_mac != upper["mac"]:
            out.append(_finding("BOND_MAC_NOT_PV", upper["name"], group,
                                "%s has MAC %s, the PV %s has %s" % (upper["name"], upper["mac"], pv["name"], pv_mac),
                                "Set the bond MAC to the PV's permanent MAC (%s) or use fail_over_mac=active." % CONFIG))


def _check_pairing(capture, group, by_name, out):
    model = group["model"]
    if model in ("net_failover", "netvsc", "bond", "team") and not group.get("primary"):
        out.append(_finding("PRIMARY_MISSING", group.get("upper"), group,
                            "%s (%s) has no primary/VF: traffic runs on %s only" % (group.get("upper"), model, group.get("standby")),
                            "Expected during migration; otherwise check the VF assignment on the host."))
    if model == "unpaired":
        standby = by_name.get(group["standby"]) or {}
        if link_driver(standby) == "virtio_net" and standby.get("standby_feature") is False:
            out.append(_finding("STANDBY_NOT_NEGOTIATED", group["standby"], group,
                                "%s (virtio_net) and %s share MAC %s but VIRTIO_NET_F_STANDBY (bit 62) is not negotiated"
                                % (group["standby"], group["primary"], group["mac"]),
                                "Enable failover=on on the host, or pair them in an active-backup bond (fallback=bond)."))
        else:
            out.append(_finding("UNPAIRED_SAME_MAC", group["standby"], group,
                                "%s (%s) and %s (%s) share MAC %s but nothing pairs them"
                                % (group["standby"], group["pv_driver"], group["primary"], group["vf_driver"], group["mac"]),
                                "Pair them in an active-backup bond or team (guestnet.failover.generic role)."))
    if model == "bond" and group.get("pv_driver") == "hv_netvsc" and group.get("primary"):
        out.append(_finding("LEGACY_BONDVF", group["upper"], group,
                            "%s bonds hv_netvsc %s with VF %s (bondvf.sh era)" % (group["upper"], group["standby"], group["primary"]),
                            "Remove the bond; hv_netvsc pairs the VF itself (2-netdev), configure %s only." % group["standby"]))
    members = set(group.get("members") or [])
    for link in capture.get("links") or []:
        if link["name"] in members or not is_physical(link) or link.get("master"):
            continue
        if group_mac(link) == group.get("mac") and model != "unpaired" and not is_pv(link):
            out.append(_finding("SAME_MAC_NOT_ENSLAVED", link["name"], group,
                                "%s (%s) has the MAC of %s but is not part of it" % (link["name"], link_driver(link), group.get("upper")),
                                "Check the VF driver and MAC; re-plug the VF or reload the failover pairing."))


def _check_upper(group, by_name, out):
    upper = by_name.get(group.get("upper") or "")
    if upper is None:
        return
    if upper.get("name_assign_type") == NET_NAME_ENUM:
        out.append(_finding("UPPER_NAME_UNSTABLE", upper["name"], group,
                            "%s has a kernel-enumerated name that may change between boots" % upper["name"],
                            "Give it a persistent name keyed on the PV's PCI path or MAC plus driver (%s names)." % CONFIG))
    for addr in upper.get("addresses") or []:
        if addr.get("family") == "inet6" and "dadfailed" in (addr.get("flags") or []):
            out.append(_finding("UPPER_DAD_FAILED", upper["name"], group,
                                "%s: IPv6 %s/%s failed duplicate address detection" % (upper["name"], addr["address"], addr["prefixlen"]),
                                "A lower device is doing IPv6 with the same MAC: disable IPv6 on the lowers, then re-add the address."))


def evaluate(capture, groups_):
    """Findings for a capture and its groups, errors first, then by device and code."""
    by_name = dict((link["name"], link) for link in capture.get("links") or [])
    out = []
    for group in groups_:
        _check_lowers(capture, group, by_name, out)
        _check_macs(group, by_name, out)
        _check_pairing(capture, group, by_name, out)
        _check_upper(group, by_name, out)
    for item in capture.get("legacy") or []:
        if item.get("kind") == "azure-vf-rule":
            out.append(_finding("LEGACY_AZURE_VF_RULE", None, None, "%s: stale Azure VF udev rule: %s" % (item["path"], item.get("line", "")),
                                "Remove %s; the VF is marked unmanaged by azure-vm-utils or %s." % (item["path"], CONFIG)))
    out.sort(key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["device"] or "", f["code"]))
    return out


def summary(findings_):
    """Count findings per severity."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for item in findings_:
        counts[item["severity"]] = counts.get(item["severity"], 0) + 1
    return counts
