# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage: NetworkManager keyfiles (mode 0600) for the upper device and bond/team ports.

Uppers are matched by ``match.driver`` + ``ethernet.mac-address`` (NetworkManager compares
it with the permanent MAC), so the profile can never activate on a lower that shares the MAC;
the lowers are unmanaged through udev (NM_UNMANAGED, keyed on MAC + driver, see render_udev).
A driver-wide ``[keyfile] unmanaged-devices=driver:virtio_net`` would also unmanage virtio NICs
that are not part of a pair, so it is not used.

Ports use ``master=``/``slave-type=``: NetworkManager 1.42 (Debian 12) does not know the newer
``controller=``/``port-type=`` spellings, later versions still read the old ones.
"""
from __future__ import annotations

import uuid

from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import (
    UPPER_DRIVER, compact_json, teamd_config, teamd_port,
)

DIR = "etc/NetworkManager/system-connections"
# uuid5 namespace for stable, idempotent profile UUIDs
NAMESPACE = uuid.UUID("5b0f4c1e-6d0a-4b8e-9a55-2f6f1c0e7a31")


def _uuid(*parts):
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _path(ident):
    return "%s/guestnet-failover-%s.nmconnection" % (DIR, ident)


def profile_id(group):
    """connection.id of a bond/team group's master profile."""
    return "guestnet-failover-%s" % group["name"]


def master_path(group):
    """Root-relative path of a bond/team group's master profile."""
    return _path(group["name"])


def _ini(sections):
    out = []
    for name, items in sections:
        if out:
            out.append("")
        out.append("[%s]" % name)
        out.extend("%s=%s" % kv for kv in items)
    return "\n".join(out) + "\n"


def _ip_sections(group):
    v4, v6 = group["ipv4"], group["ipv6"]
    both = v4["method"] != "disabled" and v6["method"] != "disabled"
    dns4 = [s for s in group["dns"] if ":" not in s]
    dns6 = [s for s in group["dns"] if ":" in s]
    ipv4 = [("method", {"dhcp": "auto", "static": "manual", "disabled": "disabled"}[v4["method"]])]
    ipv6 = [("method", {"auto": "auto", "static": "manual", "disabled": "disabled"}[v6["method"]])]
    for section, cfg, dns in ((ipv4, v4, dns4), (ipv6, v6, dns6)):
        for i, addr in enumerate(cfg["addresses"], 1):
            section.append(("address%d" % i, addr))
        if cfg["gateway"]:
            section.append(("gateway", cfg["gateway"]))
        if dns and cfg["method"] != "disabled":
            section.append(("dns", ";".join(dns) + ";"))
        if cfg["method"] != "disabled":
            # with both families, either may fail; with one, it must succeed
            section.append(("may-fail", "true" if both else "false"))
    return [("ipv4", ipv4), ("ipv6", ipv6)]


def _upper(group):
    ident = group["id"]
    connection = [
        ("id", "guestnet-failover-%s" % ident),
        ("uuid", _uuid("upper", group["mac"])),
        ("type", "ethernet"),
        ("autoconnect", "true"),
        ("autoconnect-priority", "100"),
    ]
    sections = [("connection", connection),
                ("ethernet", [("mac-address", group["mac"].upper())]),
                ("match", [("driver", UPPER_DRIVER[group["model"]] + ";")])]
    return _ini(sections + _ip_sections(group))


def team_config(group):
    """teamd activebackup runner configuration (without ports) as compact JSON."""
    return compact_json(teamd_config(group))


def port_config(role):
    """teamd port configuration (upper_config.teamd_port) as compact JSON."""
    return compact_json(teamd_port(role))


def _master(group):
    model = group["model"]
    connection = [
        ("id", profile_id(group)),
        ("uuid", _uuid(model, group["mac"])),
        ("type", model),
        ("interface-name", group["name"]),
        ("autoconnect", "true"),
        ("autoconnect-priority", "100"),
        ("autoconnect-slaves", "1"),
    ]
    sections = [("connection", connection), ("ethernet", [("cloned-mac-address", group["mac"].upper())])]
    if model == "bond":
        bond = group["bond"]
        items = [("mode", bond["mode"])]
        if bond.get("miimon"):
            items += [("miimon", str(bond["miimon"])), ("updelay", str(bond["updelay"])), ("downdelay", str(bond["downdelay"]))]
        if bond.get("arp_interval"):
            items += [("arp_interval", str(bond["arp_interval"])), ("arp_ip_target", ",".join(bond["arp_ip_target"]))]
            for key in ("arp_validate", "arp_all_targets"):
                if key in bond:
                    items.append((key, bond[key]))
        items += [("primary", group["vf_name"]), ("primary_reselect", bond["primary_reselect"]),
                  ("fail_over_mac", bond["fail_over_mac"]), ("num_grat_arp", str(bond["num_grat_arp"])),
                  ("num_unsol_na", str(bond["num_unsol_na"]))]
        sections.append(("bond", items))
    else:
        sections.append(("team", [("config", team_config(group))]))
    return _ini(sections + _ip_sections(group))


def _port(group, role):
    model = group["model"]
    # ethernet.mac-address matches the permanent MAC; the VF is any device with it but the PV (upper_config.port_role)
    if role == "pv":
        mac, drivers = group["mac"], group["pv_driver"]
    else:
        mac, drivers = group["vf_mac"], "!" + group["pv_driver"]
    connection = [
        ("id", "guestnet-failover-%s-%s" % (group["name"], role)),
        ("uuid", _uuid(model, role, group["mac"])),
        ("type", "ethernet"),
        ("autoconnect", "true"),
        ("autoconnect-priority", "100"),
        ("master", _uuid(model, group["mac"])),
        ("slave-type", model),
    ]
    sections = [("connection", connection),
                ("ethernet", [("mac-address", mac.upper())]),
                ("match", [("driver", drivers + ";")])]
    if model == "team":
        sections.append(("team-port", [("config", port_config(role))]))
    return _ini(sections)


def render(groups, options):
    """Return {path: content} for NetworkManager keyfiles."""
    files = {}
    for group in groups:
        if group["model"] in UPPER_DRIVER:
            files[_path(group["id"])] = _upper(group)
            continue
        files[master_path(group)] = _master(group)
        files[_path(group["name"] + "-pv")] = _port(group, "pv")
        files[_path(group["name"] + "-vf")] = _port(group, "vf")
    return files
