# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read stage (runtime): links, addresses and main-table routes as plain dicts, and teamd's state.

``read_state()`` turns one netlink dump (plus a little sysfs/ethtool) into the view the runtime planner
(``link_plan``) needs, built from the read adapter's decoders (``netdev_read``); its snapshots are also what
``link_execute.rollback()`` restores. docs/data-model.md "Runtime state" describes the dicts.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from ansible_collections.guestnet.failover.plugins.module_utils import netdev_read
from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import read_text

TEAMD_RUN_DIR = "/run/teamd"
RTN_UNICAST = 1
FOREVER = 0xFFFFFFFF  # IFA_CACHEINFO lifetime of a permanent address


# the runtime path's one error: every link_* module raises it, and this one is at the bottom of their imports
class LinkApplyError(Exception):
    """The requested runtime topology cannot be applied to what the guest has."""


def _address(msg):
    """The read adapter's address dict, plus what putting it back needs (lifetimes, broadcast, label)."""
    index, addr = netdev_read.address_from_msg(msg)
    cache = msg.get_attr("IFA_CACHEINFO")
    flags = addr.pop("flags")
    addr["permanent"] = "permanent" in flags
    addr["dadfailed"] = "dadfailed" in flags
    addr.update(valid_lft=cache["ifa_valid"] if cache else FOREVER,
                preferred_lft=cache["ifa_preferred"] if cache else FOREVER,
                broadcast=msg.get_attr("IFA_BROADCAST"), label=msg.get_attr("IFA_LABEL"))
    return index, addr


def _route(msg, names):
    """A unicast main-table route through a known link as a dict route_add can replay, else None."""
    oif = msg.get_attr("RTA_OIF")
    if msg["type"] != RTN_UNICAST or oif not in names:
        return None
    dst = msg.get_attr("RTA_DST")
    return {
        "family": "inet" if msg["family"] == socket.AF_INET else "inet6",
        "dst": "%s/%d" % (dst, msg["dst_len"]) if dst else "default",
        "gateway": msg.get_attr("RTA_GATEWAY"), "dev": names[oif],
        "priority": msg.get_attr("RTA_PRIORITY"), "proto": msg["proto"], "scope": msg["scope"],
    }


def read_state(ipr, proc="/proc/sys/net/ipv6/conf", sys_net="/sys/class/net"):
    """One dump of links, addresses and main-table routes as plain dicts keyed by name."""
    msgs = list(ipr.get_links())
    names = netdev_read.link_names(msgs)
    addrs = {}
    for msg in ipr.get_addr():
        index, addr = _address(msg)
        addrs.setdefault(index, []).append(addr)
    links = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for msg in msgs:
            link = netdev_read.link_from_msg(msg, names)
            name = link["name"]
            perm = link["perm_mac"]
            if perm is None and link["kind"] is None:
                perm = netdev_read.ethtool_perm_addr(sock, name)
            dis = read_text(os.path.join(proc, name, "disable_ipv6"))
            links[name] = {
                "name": name, "ifindex": link["ifindex"], "mac": link["mac"], "perm_mac": perm,
                "kind": link["kind"], "slave_kind": link["slave_kind"], "master": link["master"],
                "up": "UP" in link["flags"], "carrier": link["carrier"], "operstate": link["operstate"],
                "mtu": link["mtu"],
                "driver": netdev_read.ethtool_drvinfo(sock, name)[0],
                "device_driver": netdev_read.device_driver(os.path.join(sys_net, name)),
                "addresses": addrs.get(link["ifindex"], []),
                "ipv6_disabled": None if dis is None else dis == "1",
                "bond": netdev_read.bond_from_msg(msg, names),
            }
    routes = [_route(msg, names) for msg in netdev_read.main_routes(ipr)]
    return {"links": links, "routes": [route for route in routes if route]}


def restrict(state, names):
    """The part of a ``read_state`` snapshot about ``names`` (for rollback and the result)."""
    return {"links": dict((n, state["links"][n]) for n in names if n in state["links"]),
            "routes": [r for r in state.get("routes", []) if r["dev"] in names]}


def addr_cidr(addr):
    return "%s/%s" % (addr["address"], addr["prefixlen"])


def global_addrs(addrs):
    return [a for a in addrs if a["scope"] != "link" and a["scope"] != "host"]


# --------------------------------------------------------------------------- teamd (a team's state lives in its daemon)
def teamd_unit_available():
    for base in ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"):
        if os.path.exists(os.path.join(base, "teamd@.service")):
            return os.path.isdir("/run/systemd/system")
    return False


def teamd_paths(upper):
    """teamd's configuration and pid file for ``upper`` (the runtime team's, under TEAMD_RUN_DIR)."""
    return os.path.join(TEAMD_RUN_DIR, upper + ".conf"), os.path.join(TEAMD_RUN_DIR, upper + ".pid")


def teamd_state(upper):
    """(config text we wrote or None, daemon running) for ``upper``."""
    conf_path, pid_path = teamd_paths(upper)
    conf = read_text(conf_path)
    running = False
    pid = read_text(pid_path)
    if pid and pid.isdigit():
        running = os.path.exists("/proc/%s" % pid)
    elif teamd_unit_available():
        running = subprocess.run(["systemctl", "is-active", "--quiet", "teamd@%s.service" % upper], check=False).returncode == 0
    return (conf + "\n" if conf else None), running


def annotate_team(state, upper):
    link = state["links"].get(upper)
    if link is not None:
        conf, running = teamd_state(upper)
        link["teamd_config"] = conf
        link["teamd_running"] = running
    return state


def main(teams):
    """Print one snapshot (teams annotated) as JSON: scripts/capture_runtime_state.py captures lab guests with it."""
    with netdev_read.open_iproute() as ipr:
        state = read_state(ipr)
    for upper in teams:
        annotate_team(state, upper)
    sys.stdout.write(json.dumps(state, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
