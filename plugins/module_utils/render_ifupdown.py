# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage: ifupdown's ``/etc/network/interfaces.d/guestnet-failover`` (ifenslave for bonds, teamd for teams).

ifupdown configures interfaces by name, so every group needs a persistent upper name (the
.link files from render_udev give it) and bond/team ports get names too. Lowers of the kernel
pairs are never mentioned: ifupdown leaves unmentioned devices alone.
Debian's /etc/network/interfaces sources /etc/network/interfaces.d/*.
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils.render_networkmanager import port_config

PATH = "etc/network/interfaces.d/guestnet-failover"
TEAMD = "/usr/bin/teamd"
TEAMDCTL = "/usr/bin/teamdctl"


def teamd_conf_path(name):
    """Relative path of the teamd configuration of team ``name``."""
    return "etc/teamd/guestnet-failover-%s.conf" % name


def _family(name, family, cfg, extra, dns):
    method = cfg["method"]
    lines = []
    if method == "disabled":
        return lines
    if method in ("dhcp", "auto"):
        lines.append("iface %s %s %s" % (name, family, method))
        lines.extend(extra)
    else:
        lines.append("iface %s %s static" % (name, family))
        lines.extend(extra)
        lines.append("    address %s" % cfg["addresses"][0])
        if cfg["gateway"]:
            lines.append("    gateway %s" % cfg["gateway"])
        for addr in cfg["addresses"][1:]:
            lines.append("    up ip -%s addr add %s dev %s" % ("6" if family == "inet6" else "4", addr, name))
    if dns:
        lines.append("    dns-nameservers %s" % " ".join(dns))
    return lines


def _l3(group, extra):
    """inet/inet6 stanzas; options and DNS go into the first stanza."""
    name = group["name"]
    lines = _family(name, "inet", group["ipv4"], extra, group["dns"])
    if lines:
        lines += _family(name, "inet6", group["ipv6"], [], [])
    else:
        lines = _family(name, "inet6", group["ipv6"], extra, group["dns"])
    if not lines:
        lines = ["iface %s inet manual" % name] + extra
    return lines


def _bond_options(group):
    bond = group["bond"]
    lines = ["    bond-slaves none", "    bond-mode %s" % bond["mode"], "    bond-primary %s" % group["vf_name"]]
    if bond.get("miimon"):
        lines += ["    bond-miimon %d" % bond["miimon"], "    bond-updelay %d" % bond["updelay"],
                  "    bond-downdelay %d" % bond["downdelay"]]
    if bond.get("arp_interval"):
        lines += ["    bond-arp-interval %d" % bond["arp_interval"],
                  "    bond-arp-ip-target %s" % " ".join(bond["arp_ip_target"])]
        if "arp_validate" in bond:
            lines.append("    bond-arp-validate %s" % bond["arp_validate"])
        if "arp_all_targets" in bond:
            lines.append("    bond-arp-all-targets %s" % bond["arp_all_targets"])
    lines += ["    bond-fail-over-mac %s" % bond["fail_over_mac"],
              "    bond-primary-reselect %s" % bond["primary_reselect"],
              "    bond-num-grat-arp %d" % bond["num_grat_arp"],
              "    bond-num-unsol-na %d" % bond["num_unsol_na"],
              "    hwaddress ether %s" % group["mac"]]
    return lines


def _team_options(group):
    name = group["name"]
    return ["    pre-up %s -d -r -t %s -f /%s" % (TEAMD, name, teamd_conf_path(name)),
            "    post-down %s -k -t %s" % (TEAMD, name)]


def _ports(group):
    lines = []
    for role in ("pv", "vf"):
        port = group["%s_name" % role]
        lines += ["", "allow-hotplug %s" % port, "iface %s inet manual" % port]
        if group["model"] == "bond":
            lines.append("    bond-master %s" % group["name"])
        else:
            # teamd refuses to start when a port in its config is missing (the VF may be), so ports join here
            lines.append("    pre-up %s %s port add %s" % (TEAMDCTL, group["name"], port))
            lines.append("    up %s %s port config update %s '%s'" % (TEAMDCTL, group["name"], port, port_config(role)))
            lines.append("    post-down %s %s port remove %s || true" % (TEAMDCTL, group["name"], port))
    return lines


def render(groups, options):
    """Return {path: content} for ifupdown."""
    if not groups:
        return {}
    lines = ["# Lower devices of kernel-paired groups are deliberately not configured here."]
    for group in groups:
        name = group["name"]
        model = group["model"]
        lines.append("")
        lines.append("# %s group %s" % (model, group["mac"]))
        if model in ("net_failover", "netvsc"):
            lines.append("allow-hotplug %s" % name)
            lines += _l3(group, [])
            continue
        lines.append("auto %s" % name)
        lines += _l3(group, _bond_options(group) if model == "bond" else _team_options(group))
        lines += _ports(group)
    return {PATH: "\n".join(lines) + "\n"}
