# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage: udev, lower devices left alone, persistent names for uppers and bond/team ports.

Rules live in ``81-guestnet-failover.rules``: they need ``ID_NET_DRIVER`` (the ethtool driver,
set by ``80-net-setup-link.rules``), because ``DRIVERS==`` walks up to the parent device and the
net_failover master's parent is the virtio device, so it cannot tell master from standby.
They only set properties (NM_UNMANAGED, ID_NET_MANAGED_BY) and the lower's ``disable_ipv6``
sysctl, so running after 80 is fine; NetworkManager and networkd read the udev database later.

Names come from ``.link`` files (``10-guestnet-…`` sorts before the distro's ``99-default.link`` and netplan's
``10-netplan-…``): the ``net_setup_link`` builtin matches them on MAC + ethtool driver, which a rule before 80
cannot. Lowers of kernel-paired groups get a ``.link`` too, which keeps the distribution's name policy.
A name is never keyed on the VF's PCI address.

Every device of a group also gets ``NAME:="$name"``: the name chosen so far (ours from the ``.link``, or the
predictable one) becomes final. netplan turns a cloud-init ``set-name`` into ``99-netplan-<id>.rules``
(``DRIVERS=="?*", ATTR{address}=="<MAC>", NAME="data1"``), which matches every device of the MAC; without the
final assignment a lower wins the race for the name and the upper cannot be renamed (seen on Debian 12 with
cloud-init 22.4 and netplan 0.106).
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import TEAM_PV_SPEED, UPPER_DRIVER

RULES = "etc/udev/rules.d/81-guestnet-failover.rules"
LINK_DIR = "etc/systemd/network"
MANAGED_BY = "guestnet.failover"
ETHTOOL = "/usr/sbin/ethtool"
# "$name" is the name assigned so far (the .link's or the predictable one); ":=" lets no later rule change it
FINAL_NAME = 'NAME:="$name"'


def link_path(name):
    """Path of the .link file naming ``name``."""
    return "%s/10-guestnet-failover-%s.link" % (LINK_DIR, name)


def other_physical_match(mac, driver):
    """systemd ``[Match]`` lines (.link and .network) for every physical device whose permanent MAC is ``mac``
    and whose driver is not ``driver``: the lowers of a kernel-paired group (all but the upper), the VF of a
    bond/team group (all but the PV). Virtual devices (the bond itself, a VLAN on it) have no permanent MAC."""
    return ["PermanentMACAddress=%s" % mac, "Driver=!%s" % driver]


def other_physical_rule(driver):
    """The udev side of ``other_physical_match`` (the MAC is matched by the rule itself)."""
    return ['ENV{ID_NET_DRIVER}!="%s"' % driver, 'DEVPATH!="/devices/virtual/*"']


def lowers_link(group):
    """(path, content): the lowers of a kernel-paired group keep the distribution's name policy.

    Without it the first ``.link`` matching their MAC names them: netplan's ``10-netplan-<id>.link`` for a
    cloud-init ``set-name`` matches ``PermanentMACAddress`` alone, so the standby or the VF would be given the
    upper's name, the rename fails ("File exists") and networkd leaves the device "pending" for good.
    The kernel pairs by MAC whatever the VF's driver, so the match does too: every device whose permanent MAC
    is the group's (physical devices only: a VLAN or bridge on the upper has none) except the upper.
    """
    match = other_physical_match(group["mac"], UPPER_DRIVER[group["model"]])
    content = ("# lowers of %s group %s: the distribution's names, never the upper's\n"
               "[Match]\n"
               "%s\n"
               "\n"
               "[Link]\n"
               "NamePolicy=keep kernel database onboard slot path\n"
               "AlternativeNamesPolicy=database onboard slot path\n"
               "MACAddressPolicy=none\n") % (group["model"], group["mac"], "\n".join(match))
    return "%s/10-guestnet-failover-%s-lowers.link" % (LINK_DIR, group["id"]), content


def _link(name, match, comment):
    return ("# %s\n"
            "[Match]\n"
            "%s\n"
            "\n"
            "[Link]\n"
            "Name=%s\n"
            "MACAddressPolicy=none\n") % (comment, "\n".join(match), name)


def _mac_driver(mac, driver):
    return ["MACAddress=%s" % mac, "Driver=%s" % driver]


def _rule(mac, driver_match, unmanaged_nm, managed_by, silent):
    keys = driver_match + ['ATTR{address}=="%s"' % mac, FINAL_NAME]
    if unmanaged_nm:
        keys.append('ENV{NM_UNMANAGED}="1"')
    if managed_by:
        keys.append('ENV{ID_NET_MANAGED_BY}="%s"' % MANAGED_BY)
    if silent:
        # %k: the kernel name the device has while the rules run (a rename happens after them)
        keys.append('SYSCTL{net/ipv6/conf/%k/disable_ipv6}="1"')
    return ", ".join(keys)


def _upper_rule(model, mac):
    return 'ENV{ID_NET_DRIVER}=="%s", ATTR{address}=="%s", %s' % (UPPER_DRIVER[model], mac, FINAL_NAME)


def render(groups, options):
    """Return {path: content} for the udev rules and .link files of ``groups``."""
    backend = options["backend"]
    silent = options.get("lowers_silent", True)
    files = {}
    lines = [
        "# Lower devices of failover groups carry no L3 configuration: NetworkManager and",
        "# systemd-networkd (>= 255, ID_NET_MANAGED_BY) leave them alone and IPv6 is off so",
        "# only the upper device has a link-local address (no DAD failure).",
        'SUBSYSTEM!="net", GOTO="guestnet_failover_end"',
        'ACTION=="remove", GOTO="guestnet_failover_end"',
    ]
    for group in groups:
        model = group["model"]
        lines.append("")
        if model in ("net_failover", "netvsc"):
            upper = group["name"] or "(unnamed, matched by MAC)"
            lines.append("# %s group %s, upper %s" % (model, group["mac"], upper))
            # any driver but the upper's (the kernel pairs by MAC alone); no virtual device (VLAN, bridge) on top
            lines.append(_rule(group["mac"], other_physical_rule(UPPER_DRIVER[model]), True, True, silent))
            path, content = lowers_link(group)
            files[path] = content
            if group["name"]:
                lines.append(_upper_rule(model, group["mac"]))
                files[link_path(group["name"])] = _link(
                    group["name"], _mac_driver(group["mac"], UPPER_DRIVER[model]),
                    "%s upper of %s: matched by MAC and driver, never the VF's PCI path" % (model, group["mac"]))
            continue
        # bond/team: the stack enslaves the ports, so it has to manage them
        lines.append("# %s %s ports: PV %s, VF %s" % (model, group["name"], group["pv_name"], group["vf_name"]))
        nm_off = backend in ("networkd", "ifupdown")
        networkd_off = backend in ("NetworkManager", "ifupdown")
        # the VF as the kernel would pair it: any physical device with its MAC but the PV (upper_config.port_role)
        for mac, match in ((group["mac"], ['ENV{ID_NET_DRIVER}=="%s"' % group["pv_driver"]]),
                           (group["vf_mac"], other_physical_rule(group["pv_driver"]))):
            lines.append(_rule(mac, match, nm_off, networkd_off, silent))
        speed = TEAM_PV_SPEED.get(group["pv_driver"]) if model == "team" else None
        if speed:
            lines.append('ENV{ID_NET_DRIVER}=="%s", ATTR{address}=="%s", RUN+="%s -s $name speed %d duplex full"'
                         % (group["pv_driver"], group["mac"], ETHTOOL, speed))
        files[link_path(group["pv_name"])] = _link(
            group["pv_name"], _mac_driver(group["mac"], group["pv_driver"]), "%s port (PV) of %s" % (model, group["name"]))
        files[link_path(group["vf_name"])] = _link(
            group["vf_name"], other_physical_match(group["vf_mac"], group["pv_driver"]),
            "%s port (VF) of %s: any physical device with its MAC but the PV, whatever its driver" % (model, group["name"]))
    lines.append("")
    lines.append('LABEL="guestnet_failover_end"')
    if groups:
        files[RULES] = "\n".join(lines) + "\n"
    return files
