# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage: netplan, one YAML file (mode 0600) for every group.

Devices are matched by MAC + driver and never get ``set-name`` (netplan would write a .link
file keyed on the match; names come from our own .link files). Netplan cannot mark a device
unmanaged, so the kernel-paired lowers get the networkd ``Unmanaged=yes`` file as well (netplan
renders for networkd here) and the udev NM_UNMANAGED rule.
The YAML is written by hand: every value passed validate.normalize, MACs are quoted.
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils import render_networkd
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import UPPER_DRIVER

PATH = "etc/netplan/90-guestnet-failover.yaml"


# netplan writes 10-netplan-<id>.network; networkd takes the first matching file, and cloud-init's own id for the
# same MAC (data1, eth0, ...) must not come first: ids start with "0-"
ID_PREFIX = "0-guestnet-"


def _id(ident, suffix=""):
    return "%s%s%s" % (ID_PREFIX, ident, suffix)


def _list(items):
    return "[%s]" % ", ".join(items)


def _l3(group, indent):
    pad = " " * indent
    v4, v6 = group["ipv4"], group["ipv6"]
    lines = [
        "%sdhcp4: %s" % (pad, "true" if v4["method"] == "dhcp" else "false"),
        "%sdhcp6: false" % pad,
        "%saccept-ra: %s" % (pad, "true" if v6["method"] == "auto" else "false"),
        "%slink-local: %s" % (pad, "[ipv6]" if v6["method"] != "disabled" else "[]"),
    ]
    addresses = v4["addresses"] + v6["addresses"]
    if addresses:
        lines.append("%saddresses: %s" % (pad, _list('"%s"' % a for a in addresses)))
    routes = []
    if v4["gateway"]:
        routes.append('{to: "0.0.0.0/0", via: "%s"}' % v4["gateway"])
    if v6["gateway"]:
        routes.append('{to: "::/0", via: "%s"}' % v6["gateway"])
    if routes:
        lines.append("%sroutes:" % pad)
        lines.extend("%s  - %s" % (pad, r) for r in routes)
    if group["dns"]:
        lines.append("%snameservers:" % pad)
        lines.append("%s  addresses: %s" % (pad, _list('"%s"' % s for s in group["dns"])))
    if not render_networkd.has_l3(group):
        lines.append("%soptional: true" % pad)
    return lines


def _match(mac, drivers, indent):
    pad = " " * indent
    driver = drivers[0] if len(drivers) == 1 else _list(drivers)
    return ["%smatch:" % pad, '%s  macaddress: "%s"' % (pad, mac), "%s  driver: %s" % (pad, driver)]


def _port(ident, mac, drivers):
    lines = ["    %s:" % ident]
    lines += _match(mac, drivers, 6)
    lines += ["      dhcp4: false", "      dhcp6: false", "      accept-ra: false", "      link-local: []", "      optional: true"]
    return lines


def _bond_parameters(group):
    bond = group["bond"]
    lines = ["      parameters:", "        mode: %s" % bond["mode"], "        primary: %s" % _id(group["name"], "-vf")]
    if bond.get("miimon"):
        lines += ["        mii-monitor-interval: %d" % bond["miimon"],
                  "        up-delay: %d" % bond["updelay"], "        down-delay: %d" % bond["downdelay"]]
    if bond.get("arp_interval"):
        lines += ["        arp-interval: %d" % bond["arp_interval"],
                  "        arp-ip-targets: %s" % _list('"%s"' % t for t in bond["arp_ip_target"])]
        if "arp_validate" in bond:
            lines.append("        arp-validate: %s" % bond["arp_validate"])
        if "arp_all_targets" in bond:
            lines.append("        arp-all-targets: %s" % bond["arp_all_targets"])
    lines += ["        fail-over-mac-policy: %s" % bond["fail_over_mac"],
              "        primary-reselect-policy: %s" % bond["primary_reselect"],
              "        gratuitous-arp: %d" % bond["num_grat_arp"]]
    return lines


def render(groups, options):
    """Return {path: content} for netplan (plus the networkd lowers files)."""
    files = {}
    ethernets = []
    bonds = []
    for group in groups:
        model = group["model"]
        if model == "team":
            raise ValueError("netplan has no team support")  # validate.normalize refuses earlier
        if model in UPPER_DRIVER:
            ethernets.append("    %s:" % _id(group["id"]))
            ethernets += _match(group["mac"], [UPPER_DRIVER[model]], 6)
            ethernets += _l3(group, 6)
            path, content = render_networkd.lowers_file(group)
            files[path] = content
            continue
        ethernets += _port(_id(group["name"], "-pv"), group["mac"], [group["pv_driver"]])
        ethernets += _port(_id(group["name"], "-vf"), group["vf_mac"], group["vf_match"])
        bonds.append("    %s:" % group["name"])
        bonds.append("      interfaces: %s" % _list([_id(group["name"], "-pv"), _id(group["name"], "-vf")]))
        bonds.append('      macaddress: "%s"' % group["mac"])
        bonds += _bond_parameters(group)
        bonds += _l3(group, 6)
    if not groups:
        return files
    lines = ["network:", "  version: 2"]
    if ethernets:
        lines += ["  ethernets:"] + ethernets
    if bonds:
        lines += ["  bonds:"] + bonds
    files[PATH] = "\n".join(lines) + "\n"
    return files
