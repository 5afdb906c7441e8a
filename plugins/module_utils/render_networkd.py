# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage: systemd-networkd, .network for the upper, Unmanaged=yes for lowers, .netdev for bonds.

The upper is matched by MAC + its own driver (net_failover, hv_netvsc) or by name + Kind=bond;
lowers by MAC + their drivers, so the upper and lower files never match the same device and
the order of the files does not matter. ``05-`` sorts before netplan's ``10-netplan-*`` files
and cloud-init's, which may match the shared MAC alone.
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils.render_udev import other_physical_match
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import UPPER_DRIVER

DIR = "etc/systemd/network"


def _path(prefix, ident, suffix):
    return "%s/%s-guestnet-failover-%s%s" % (DIR, prefix, ident, suffix)


def lowers_file(group):
    """(path, content) of the file that keeps networkd off a kernel-paired group's lowers: matched like
    render_udev.lowers_link (permanent MAC, any driver but the upper's), so a VF of any driver is covered."""
    content = ("# lowers of %s group %s: never configured\n"
               "[Match]\n"
               "%s\n"
               "\n"
               "[Link]\n"
               "Unmanaged=yes\n") % (group["model"], group["mac"], "\n".join(other_physical_match(group["mac"], UPPER_DRIVER[group["model"]])))
    return _path("06", group["id"], "-lowers.network"), content


def has_l3(group):
    """True when the upper gets any address."""
    return group["ipv4"]["method"] != "disabled" or group["ipv6"]["method"] != "disabled"


def _network_section(group):
    v4, v6 = group["ipv4"], group["ipv6"]
    lines = ["[Network]"]
    lines.append("DHCP=%s" % ("ipv4" if v4["method"] == "dhcp" else "no"))
    lines.append("IPv6AcceptRA=%s" % ("yes" if v6["method"] == "auto" else "no"))
    lines.append("LinkLocalAddressing=%s" % ("ipv6" if v6["method"] != "disabled" else "no"))
    # no DHCP before a port gives the upper carrier
    lines.append("ConfigureWithoutCarrier=no")
    for addr in v4["addresses"] + v6["addresses"]:
        lines.append("Address=%s" % addr)
    for gw in (v4["gateway"], v6["gateway"]):
        if gw:
            lines.append("Gateway=%s" % gw)
    for server in group["dns"]:
        lines.append("DNS=%s" % server)
    return lines


def _upper(group, match):
    lines = ["# upper of %s group %s: the only device with L3 configuration" % (group["model"], group["mac"]), "[Match]"]
    lines += match
    lines += ["", "[Link]", "RequiredForOnline=%s" % ("routable" if has_l3(group) else "no"), ""]
    lines += _network_section(group)
    return "\n".join(lines) + "\n"


def _seconds(ms):
    return "%dms" % ms


def _netdev(group):
    bond = group["bond"]
    lines = [
        "# active-backup bond over PV %s and VF %s" % (group["pv_name"], group["vf_name"]),
        "[NetDev]",
        "Name=%s" % group["name"],
        "Kind=bond",
        "MACAddress=%s" % group["mac"],
        "",
        "[Bond]",
        "Mode=%s" % bond["mode"],
        "PrimaryReselectPolicy=%s" % bond["primary_reselect"],
        "FailOverMACPolicy=%s" % bond["fail_over_mac"],
        "GratuitousARP=%d" % bond["num_grat_arp"],
    ]
    if bond.get("miimon"):
        lines += ["MIIMonitorSec=%s" % _seconds(bond["miimon"]),
                  "UpDelaySec=%s" % _seconds(bond.get("updelay", 0)),
                  "DownDelaySec=%s" % _seconds(bond.get("downdelay", 0))]
    if bond.get("arp_interval"):
        lines += ["ARPIntervalSec=%s" % _seconds(bond["arp_interval"]),
                  "ARPIPTargets=%s" % " ".join(bond["arp_ip_target"])]
        if "arp_validate" in bond:
            lines.append("ARPValidate=%s" % bond["arp_validate"])
        if "arp_all_targets" in bond:
            lines.append("ARPAllTargets=%s" % bond["arp_all_targets"])
    return "\n".join(lines) + "\n"


def _port(group, role):
    if role == "pv":
        match = ["PermanentMACAddress=%s" % group["mac"], "Driver=%s" % group["pv_driver"]]
    else:
        match = other_physical_match(group["vf_mac"], group["pv_driver"])
    lines = ["# %s port of %s" % (role.upper(), group["name"]), "[Match]"] + match
    lines += ["", "[Link]", "RequiredForOnline=no", "", "[Network]", "Bond=%s" % group["name"], "LinkLocalAddressing=no"]
    if role == "vf":
        lines.append("PrimarySlave=yes")
    return "\n".join(lines) + "\n"


def render(groups, options):
    """Return {path: content} for systemd-networkd."""
    files = {}
    for group in groups:
        model = group["model"]
        if model == "team":
            raise ValueError("systemd-networkd has no team support")  # validate.normalize refuses earlier
        if model in UPPER_DRIVER:
            match = ["MACAddress=%s" % group["mac"], "Driver=%s" % UPPER_DRIVER[model]]
            files[_path("05", group["id"], ".network")] = _upper(group, match)
            path, content = lowers_file(group)
            files[path] = content
            continue
        files[_path("05", group["name"], ".netdev")] = _netdev(group)
        files[_path("05", group["name"], ".network")] = _upper(group, ["Name=%s" % group["name"], "Kind=bond"])
        files[_path("06", group["name"], "-pv.network")] = _port(group, "pv")
        files[_path("06", group["name"], "-vf.network")] = _port(group, "vf")
    return files
