# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runtime failover topology: read links over netlink, plan, apply, probe, roll back.

The data flow is the collection's: ``read_state()`` turns one netlink dump (plus a little
sysfs/ethtool) into plain dicts, built from the read adapter's decoders (``netdev_read``)
in the view the planner needs; ``resolve()``, ``target_view()``, ``current_view()``,
``plan_steps()`` and ``summary()`` are pure and unit-tested on fixtures; ``Applier`` executes
the steps with the synchronous pyroute2 ``IPRoute`` API common to 0.7.x and 0.9.x, and
``rollback()`` restores a snapshot taken by ``read_state()`` when the probe does not answer.
"""
from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import time

from ansible_collections.guestnet.failover.plugins.module_utils import l2_frames, netdev_read
from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import read_text
from ansible_collections.guestnet.failover.plugins.module_utils.render_udev import ETHTOOL
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import (
    TEAM_PV_SPEED, bond_kernel_options, teamd_runtime_json,
)
from ansible_collections.guestnet.failover.plugins.module_utils.validate import (
    ConfigError, check_link_options, check_runtime_group,
)


def _numbers(names):
    return dict((name, number) for number, name in enumerate(names))


# option name to the number netlink takes (the read adapter decodes the other way)
BOND_MODES = _numbers(netdev_read.BOND_MODES)
FAIL_OVER_MAC = _numbers(netdev_read.FAIL_OVER_MAC)
PRIMARY_RESELECT = _numbers(netdev_read.PRIMARY_RESELECT)
TEAMD_RUN_DIR = "/run/teamd"
# route protocols worth moving from a lower to the upper (kernel/ra routes come back by themselves)
MOVABLE_PROTOS = (3, 4, 16)  # boot, static, dhcp
IFF_UP = 0x1
RTN_UNICAST = 1
FOREVER = 0xFFFFFFFF  # IFA_CACHEINFO lifetime of a permanent address
MAC_REFUSED = (errno.EPERM, errno.EADDRNOTAVAIL, errno.EOPNOTSUPP, errno.EACCES)


class LinkApplyError(Exception):
    """The requested runtime topology cannot be applied to what the guest has."""


# --------------------------------------------------------------------------- read
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


# --------------------------------------------------------------------------- decide (pure)
def _ident(link):
    return (link.get("perm_mac") or link.get("mac") or "").lower()


def _drv(link):
    return link.get("device_driver") or link.get("driver")


def resolve(state, group):
    """Find the PV, the VF and the upper of ``group`` in ``state``.

    Lowers are matched by permanent MAC **and** driver, never by name or MAC alone.
    Returns ``{"upper", "pv", "vf", "upper_exists"}``.
    """
    links = state["links"]
    mac = group["mac"].lower()
    model = group["model"]
    vf_drivers = group.get("vf_drivers") or []
    pv, vf = [], []
    for link in links.values():
        if link.get("kind") or link.get("driver") == "net_failover" or _ident(link) != mac:
            continue
        if _drv(link) == group.get("pv_driver"):
            pv.append(link["name"])
        elif _drv(link) in vf_drivers:
            vf.append(link["name"])
    if not pv:
        raise LinkApplyError("no %s device with permanent MAC %s: the PV must be present" % (group.get("pv_driver"), mac))
    if len(pv) > 1 or len(vf) > 1:
        raise LinkApplyError("MAC %s matches several devices per driver (%s); refusing to guess" % (mac, ", ".join(sorted(pv + vf))))
    pv, vf = pv[0], (vf[0] if vf else None)
    if model == "net_failover":
        master = links[pv].get("master")
        if not master or links.get(master, {}).get("driver") not in ("net_failover", None) or links[master].get("kind"):
            raise LinkApplyError("%s is not the standby of a net_failover master: the kernel did not pair it "
                                 "(VIRTIO_NET_F_STANDBY not negotiated?); use the bond or team model" % pv)
        upper = master
    elif model in ("bond", "team"):
        upper = group.get("name") or ("%s0" % model)
    else:
        raise LinkApplyError("model %s cannot be applied at runtime by failover_link" % model)
    existing = links.get(upper)
    if existing is not None and model in ("bond", "team") and existing.get("kind") != model:
        raise LinkApplyError("%s exists and is not a %s (kind %s)" % (upper, model, existing.get("kind")))
    return {"upper": upper, "pv": pv, "vf": vf, "upper_exists": existing is not None, "model": model}


def _cidr(addr):
    return "%s/%s" % (addr["address"], addr["prefixlen"])


def _global(addrs):
    return [a for a in addrs if a["scope"] != "link" and a["scope"] != "host"]


def _managed(addrs):
    """Addresses we own: global ones except IPv6 autoconf/DHCPv6 leases the kernel manages."""
    return [a for a in _global(addrs) if a["family"] == "inet" or a.get("permanent", True)]


def _route_text(route):
    text = route["dst"]
    if route.get("gateway"):
        text += " via %s" % route["gateway"]
    text += " dev %s" % route["dev"]
    if route.get("priority"):
        text += " metric %s" % route["priority"]
    return text


def bond_options(group, fail_over_mac=None):
    """The runtime bond's kernel options: upper_config's builder over the normalised ``group["bond"]``."""
    if group["bond"].get("arp_interval"):
        raise LinkApplyError("ARP link monitoring (arp_interval) is not applied at runtime; use miimon for PV/VF failover")
    return bond_kernel_options(group["bond"], fail_over_mac)


def _wanted_addresses(state, res, group):
    """Global addresses the upper must carry: static ones, else those found on upper and lowers."""
    links = state["links"]
    want, seen = [], set()
    for family, key in (("inet", "ipv4"), ("inet6", "ipv6")):
        cfg = group.get(key) or {}
        if cfg.get("method") == "static":
            for cidr in cfg.get("addresses") or []:
                iface = ipaddress.ip_interface(cidr)
                want.append({"family": family, "address": str(iface.ip), "prefixlen": iface.network.prefixlen,
                             "scope": "global", "permanent": True, "valid_lft": FOREVER, "preferred_lft": FOREVER})
            continue
        if cfg.get("method") == "disabled":
            continue
        for name in (res["upper"], res["pv"], res["vf"]):
            if not name or name not in links:
                continue
            for addr in _global(links[name]["addresses"]):
                if family == "inet6" and not addr.get("permanent", True) and cfg.get("method", "auto") == "auto":
                    continue  # SLAAC/DHCPv6 address: the upper autoconfigures its own
                if addr["family"] == family and _cidr(addr) not in seen:
                    seen.add(_cidr(addr))
                    want.append(dict(addr))
    return want


def _wanted_routes(state, res, group):
    want = []
    for family, key in (("inet", "ipv4"), ("inet6", "ipv6")):
        cfg = group.get(key) or {}
        if cfg.get("method") == "static":
            if cfg.get("gateway"):
                want.append({"family": family, "dst": "default", "gateway": cfg["gateway"], "dev": res["upper"],
                             "priority": None, "proto": 4, "scope": 0})
            continue
        if cfg.get("method") == "disabled":
            continue
        for route in state.get("routes", []):
            if route["family"] == family and route["dev"] in (res["upper"], res["pv"], res["vf"]) \
                    and (route["proto"] in MOVABLE_PROTOS or (route["dev"] == res["upper"] and route["proto"] != 2)) \
                    and not route["dst"].startswith("fe80:"):
                moved = dict(route)
                moved["dev"] = res["upper"]
                if _route_text(moved) not in [_route_text(r) for r in want]:
                    want.append(moved)
    return want


def current_view(state, res):
    """Normalised runtime view of one group as it is now."""
    links = state["links"]
    upper = links.get(res["upper"])
    view = {"model": res["model"], "upper": res["upper"], "exists": upper is not None, "ports": {}}
    if upper:
        view.update({"up": upper["up"], "mac": upper["mac"], "mtu": upper["mtu"],
                     "addresses": sorted(_cidr(a) for a in _managed(upper["addresses"])),
                     "routes": sorted(_route_text(r) for r in state.get("routes", []) if r["dev"] == res["upper"]
                                      and not r["dst"].startswith("fe80:") and r["proto"] != 2)})
        view["dadfailed"] = sorted(_cidr(a) for a in upper["addresses"] if a.get("dadfailed"))
        if upper.get("bond"):
            bond = upper["bond"]
            keys = ("mode", "miimon", "updelay", "downdelay", "fail_over_mac", "primary_reselect", "num_peer_notif", "primary")
            view["options"] = dict((k, bond.get(k)) for k in keys)
        if upper.get("teamd_config") is not None:
            view["teamd_config"] = upper["teamd_config"]
            view["teamd_running"] = upper.get("teamd_running")
    for name in (res["pv"], res["vf"]):
        if not name:
            continue
        link = links[name]
        view["ports"][name] = {
            "driver": _drv(link), "master": link["master"], "up": link["up"], "mtu": link["mtu"],
            "addresses": sorted(_cidr(a) for a in link["addresses"]),
            "ipv6_disabled": link.get("ipv6_disabled"),
        }
    return view


def target_view(state, res, group, mac_refused=False):
    """Normalised runtime view of one group as it should be."""
    links = state["links"]
    pv_link = links[res["pv"]]
    mac = (pv_link.get("perm_mac") or pv_link.get("mac")).lower()
    upper = links.get(res["upper"]) or {}
    mtu = upper.get("mtu") or pv_link["mtu"]
    view = {"model": res["model"], "upper": res["upper"], "exists": True, "up": True, "mtu": mtu, "ports": {}, "dadfailed": [],
            "addresses": sorted(_cidr(a) for a in _wanted_addresses(state, res, group)),
            "routes": sorted(_route_text(r) for r in _wanted_routes(state, res, group))}
    notes = []
    if res["model"] == "bond":
        opts = bond_options(group, "active" if mac_refused else None)
        opts["primary"] = res["vf"]
        view["options"] = opts
        if opts["fail_over_mac"] == "none":
            view["mac"] = mac
        else:
            # the bond follows the active port; report what is there or will be
            view["mac"] = upper.get("mac") or (links[res["vf"]]["mac"] if res["vf"] else mac)
            if mac_refused:
                notes.append("%s refuses a MAC change: fail_over_mac=active, %s follows the active port's MAC" % (res["vf"], res["upper"]))
    elif res["model"] == "team":
        policy = "by_active" if mac_refused else None
        view["teamd_config"] = teamd_runtime_json(group, res["pv"], res["vf"], policy)
        view["teamd_running"] = True
        view["mac"] = upper.get("mac") if mac_refused and upper else mac
        if mac_refused:
            notes.append("%s refuses a MAC change: teamd hwaddr_policy=by_active" % res["vf"])
    else:
        view["mac"] = upper.get("mac") or mac
    for name in (res["pv"], res["vf"]):
        if not name:
            continue
        link = links[name]
        view["ports"][name] = {"driver": _drv(link), "master": res["upper"], "up": True, "mtu": mtu,
                               "addresses": [], "ipv6_disabled": True}
    return view, notes


def summary(view):
    """Before/after text for diff mode: one line per fact, stable ordering."""
    if not view.get("exists"):
        lines = ["%s: absent" % view["upper"]]
    else:
        lines = ["%s: %s %s mac %s mtu %s" % (view["upper"], view["model"], "up" if view.get("up") else "down",
                                              view.get("mac"), view.get("mtu"))]
        for key, value in sorted((view.get("options") or {}).items()):
            lines.append("  option %s=%s" % (key, value))
        if "teamd_config" in view:
            lines.append("  teamd %s" % ("running" if view.get("teamd_running") else "stopped"))
            lines.extend("  teamd.conf " + line for line in (view["teamd_config"] or "(none)").splitlines())
        lines.extend("  address %s" % a for a in view.get("addresses", []))
        lines.extend("  route %s" % r for r in view.get("routes", []))
        lines.extend("  dadfailed %s" % a for a in view.get("dadfailed", []))
    for name, port in sorted(view["ports"].items()):
        lines.append("  lower %s (%s) master %s %s mtu %s ipv6 %s addresses [%s]" % (
            name, port["driver"], port["master"] or "-", "up" if port["up"] else "down", port["mtu"],
            "disabled" if port["ipv6_disabled"] else "enabled", ", ".join(port["addresses"])))
    return "\n".join(lines) + "\n"


def _role(res, port):
    return "vf" if port == res["vf"] else "pv"


def port_join_steps(model, upper, port, role, driver, master=None):
    """Steps putting one lower into its bond/team: silent (no address, no IPv6), down, out of ``master``, enslaved.

    The runtime planner uses them for every port it enslaves, the announcer for a re-plugged one (port_rejoin_steps).
    """
    steps = [{"op": "addr_flush", "dev": port}, {"op": "sysctl_ipv6", "dev": port, "disable": True}]
    if master:
        steps.append({"op": "link_set", "dev": port, "nomaster": True})
    steps.append({"op": "link_set", "dev": port, "state": "down"})
    if model == "bond":
        steps.append({"op": "link_set", "dev": port, "master": upper})
    else:
        if role == "pv" and TEAM_PV_SPEED.get(driver):
            steps.append({"op": "port_speed", "dev": port, "speed": TEAM_PV_SPEED[driver]})
        steps.append({"op": "teamd_port_add", "dev": upper, "port": port})
    return steps


def port_rejoin_steps(model, upper, port, role, driver):
    """A re-plugged lower back into a running bond/team, up, and the VF preferred again (the announcer's join)."""
    steps = port_join_steps(model, upper, port, role, driver)
    if model == "bond" and role == "vf":
        steps.append({"op": "bond_set", "dev": upper, "options": {"primary": port}})
    steps.append({"op": "link_set", "dev": port, "state": "up"})
    if model == "team" and role == "vf":
        # teamd keeps the active port on a port add: make the VF active like a bond primary
        steps.append({"op": "teamd_active", "dev": upper, "port": port})
    return steps


def plan_steps(state, res, group, target):
    """Ordered steps taking the guest from ``state`` to ``target`` (empty when nothing differs).

    Ordering rules: the upper is created down; lowers lose their addresses, go down and are
    enslaved PV first, VF second; the upper comes up only after its ports are enslaved;
    addresses go onto the upper only after it has carrier; no lower ever carries an address.
    """
    links = state["links"]
    before = current_view(state, res)
    if summary(before) == summary(target):
        return []
    upper, model = res["upper"], res["model"]
    ports = [p for p in (res["pv"], res["vf"]) if p]
    steps = []
    add = steps.append
    cur_addrs = set(before.get("addresses", []))
    wanted = _wanted_addresses(state, res, group)
    routes = _wanted_routes(state, res, group)
    recreate = False

    if model == "bond":
        opts = target["options"]
        exists = before["exists"]
        cur = before.get("options") or {}
        if exists and (cur.get("mode") != opts["mode"] or cur.get("fail_over_mac") != opts["fail_over_mac"]):
            # mode and fail_over_mac only change on an empty, down bond: rebuild it
            add({"op": "link_del", "dev": upper})
            exists = False
            recreate = True
            cur_addrs = set()
        if not exists:
            add({"op": "bond_add", "dev": upper, "mac": target["mac"] if opts["fail_over_mac"] == "none" else None,
                 "mtu": target["mtu"], "options": dict((k, v) for k, v in opts.items() if k != "primary")})
        else:
            changed = dict((k, v) for k, v in opts.items() if k not in ("primary", "mode", "fail_over_mac") and cur.get(k) != v)
            if changed:
                add({"op": "bond_set", "dev": upper, "options": changed})
            if opts["fail_over_mac"] == "none" and before.get("mac") != target["mac"]:
                add({"op": "link_set", "dev": upper, "address": target["mac"]})
        for port in ports:
            link = links[port]
            if link["master"] == upper and not recreate:
                continue
            steps.extend(port_join_steps(model, upper, port, _role(res, port), _drv(link),
                                         link["master"] if link["master"] != upper else None))
        if res["vf"] and (recreate or cur.get("primary") != res["vf"]):
            add({"op": "bond_set", "dev": upper, "options": {"primary": res["vf"]}})
    elif model == "team":
        running = before.get("teamd_running") and before.get("teamd_config") == target["teamd_config"]
        if not running or not before["exists"]:
            if before["exists"] or before.get("teamd_running"):
                add({"op": "teamd_stop", "dev": upper})
                cur_addrs = set()
            for port in ports:
                add({"op": "addr_flush", "dev": port})
                add({"op": "sysctl_ipv6", "dev": port, "disable": True})
                if links[port]["master"]:
                    add({"op": "link_set", "dev": port, "nomaster": True})
                add({"op": "link_set", "dev": port, "state": "down"})
            speed = TEAM_PV_SPEED.get(_drv(links[res["pv"]]))
            if speed:
                add({"op": "port_speed", "dev": res["pv"], "speed": speed})
            add({"op": "teamd_start", "dev": upper, "config": target["teamd_config"]})
            recreate = True
        else:
            for port in ports:
                if links[port]["master"] != upper:
                    steps.extend(port_join_steps(model, upper, port, _role(res, port), _drv(links[port]), links[port]["master"]))

    # lowers silent: no addresses, no IPv6 autoconf (net_failover lowers, leftovers elsewhere)
    for port in ports:
        link = links[port]
        if any(s.get("dev") == port and s["op"] == "addr_flush" for s in steps):
            continue
        if link["addresses"]:
            add({"op": "addr_flush", "dev": port})
        if not link.get("ipv6_disabled"):
            add({"op": "sysctl_ipv6", "dev": port, "disable": True})
    mtu = target["mtu"]
    if model != "net_failover" or before.get("up") is False or recreate:
        add({"op": "link_set", "dev": upper, "state": "up"})
    elif not before.get("up"):
        add({"op": "link_set", "dev": upper, "state": "up"})
    for port in ports:
        if links[port]["mtu"] != mtu and model == "net_failover":
            add({"op": "link_set", "dev": port, "mtu": mtu})
        if not links[port]["up"] or any(s.get("dev") == port and s.get("state") == "down" for s in steps):
            add({"op": "link_set", "dev": port, "state": "up"})
    if before.get("dadfailed") and not recreate and (group.get("ipv6") or {}).get("method") != "disabled":
        # DAD failed while a lower still had IPv6 on (same MAC, same link-local): the kernel never retries it.
        # With the lowers silent now, cycling IPv6 on the upper re-runs DAD (and SLAAC on the next RA).
        add({"op": "sysctl_ipv6", "dev": upper, "disable": True})
        add({"op": "sysctl_ipv6", "dev": upper, "disable": False})
    add({"op": "wait_carrier", "dev": upper})
    if model == "team" and recreate and res["vf"]:
        # teamd keeps the first port that came up; make the VF active like the bond's primary
        add({"op": "teamd_active", "dev": upper, "port": res["vf"]})
    for addr in wanted:
        if _cidr(addr) not in cur_addrs:
            add({"op": "addr_add", "dev": upper, "addr": addr})
    for cidr in sorted(cur_addrs - set(_cidr(a) for a in wanted)):
        add({"op": "addr_del", "dev": upper, "cidr": cidr})
    cur_routes = set(before.get("routes", [])) if not recreate else set()
    for route in routes:
        if _route_text(route) not in cur_routes:
            add({"op": "route_add", "route": route})
    # drop no-op tails: a lone up/wait on an already-up upper

    def noop(step):
        if step["op"] == "wait_carrier":
            return True
        return step["op"] == "link_set" and step.get("state") == "up" and links.get(step["dev"], {}).get("up")
    if all(noop(s) for s in steps):
        return []
    return steps


def plan_group(state, group, mac_refused=False):
    """Everything the module needs for one group: resolution, before/after text, steps, notes."""
    res = resolve(state, group)
    target, notes = target_view(state, res, group, mac_refused)
    before = current_view(state, res)
    steps = plan_steps(state, res, group, target)
    return {"resolved": res, "before": summary(before), "after": summary(target) if steps else summary(before),
            "steps": steps, "notes": notes, "target": target}


# --------------------------------------------------------------------------- write
def teamd_unit_available():
    for base in ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"):
        if os.path.exists(os.path.join(base, "teamd@.service")):
            return os.path.isdir("/run/systemd/system")
    return False


def teamd_state(upper):
    """(config text we wrote or None, daemon running) for ``upper``."""
    conf = read_text(os.path.join(TEAMD_RUN_DIR, upper + ".conf"))
    running = False
    pid = read_text(os.path.join(TEAMD_RUN_DIR, upper + ".pid"))
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


@contextlib.contextmanager
def _tolerating(*codes):
    """Swallow a netlink error whose errno is one of ``codes`` (already there / already gone)."""
    try:
        yield
    except Exception as exc:  # pylint: disable=broad-except
        if getattr(exc, "code", None) not in codes:
            raise


class Applier(object):
    """Execute planned steps with a synchronous pyroute2 ``IPRoute``."""

    def __init__(self, ipr, carrier_timeout=10.0, log=None, proc="/proc/sys/net/ipv6/conf"):
        self.ipr = ipr
        self.carrier_timeout = carrier_timeout
        self.proc = proc
        self.log = log if log is not None else []
        self.current = None

    def index(self, name):
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            raise LinkApplyError("device %s not found" % name)
        return found[0]

    def carrier(self, name):
        """Up with carrier (True/False), None when there is no such device."""
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            return None
        msg = self.ipr.get_links(found[0])[0]
        return bool(msg.get_attr("IFLA_CARRIER", 0) and msg["flags"] & IFF_UP)

    def run(self, steps):
        """Execute ``steps`` in order; each one is logged once done (``current`` is the one running)."""
        for step in steps:
            self.current = step
            getattr(self, "op_" + step["op"])(step)
            self.log.append(step)
        self.current = None

    # one method per step kind -------------------------------------------------
    def op_bond_add(self, step):
        opts = step["options"]
        kwargs = {"ifname": step["dev"], "kind": "bond",
                  "bond_mode": BOND_MODES[opts["mode"]], "bond_miimon": opts["miimon"],
                  "bond_updelay": opts["updelay"], "bond_downdelay": opts["downdelay"],
                  "bond_fail_over_mac": FAIL_OVER_MAC[opts["fail_over_mac"]],
                  "bond_primary_reselect": PRIMARY_RESELECT[opts["primary_reselect"]],
                  "bond_num_peer_notif": opts["num_peer_notif"]}
        if step.get("mac"):
            kwargs["address"] = step["mac"]
        if step.get("mtu"):
            kwargs["mtu"] = step["mtu"]
        self.ipr.link("add", **kwargs)
        # created down; make sure of it whatever the kernel's default is
        self.ipr.link("set", index=self.index(step["dev"]), state="down")

    def op_bond_set(self, step):
        kwargs = {"index": self.index(step["dev"]), "kind": "bond"}
        for key, value in step["options"].items():
            if key == "primary":
                kwargs["bond_primary"] = self.index(value)
            elif key == "fail_over_mac":
                kwargs["bond_fail_over_mac"] = FAIL_OVER_MAC[value]
            elif key == "primary_reselect":
                kwargs["bond_primary_reselect"] = PRIMARY_RESELECT[value]
            else:
                kwargs["bond_" + key] = value
        try:
            self.ipr.link("set", **kwargs)
        except Exception:  # pylint: disable=broad-except
            # older pyroute2/kernels: the bonding sysfs takes the same options by name
            for key, value in step["options"].items():
                name = "num_grat_arp" if key == "num_peer_notif" else key
                with open("/sys/class/net/%s/bonding/%s" % (step["dev"], name), "w") as handle:
                    handle.write(str(value))

    def op_link_del(self, step):
        self.ipr.link("del", index=self.index(step["dev"]))

    def op_link_set(self, step):
        kwargs = {"index": self.index(step["dev"])}
        if "state" in step:
            kwargs["state"] = step["state"]
        if "mtu" in step:
            kwargs["mtu"] = step["mtu"]
        if "address" in step:
            kwargs["address"] = step["address"]
        if step.get("nomaster"):
            kwargs["master"] = 0
        if step.get("master"):
            kwargs["master"] = self.index(step["master"])
        self.ipr.link("set", **kwargs)

    def op_addr_flush(self, step):
        idx = self.index(step["dev"])
        for msg in self.ipr.get_addr(index=idx):
            addr = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            with _tolerating(errno.EADDRNOTAVAIL, errno.ENOENT):
                self.ipr.addr("del", index=idx, address=addr, prefixlen=msg["prefixlen"])

    def op_addr_add(self, step):
        addr = step["addr"]
        kwargs = {"index": self.index(step["dev"]), "address": addr["address"], "prefixlen": addr["prefixlen"]}
        if addr["family"] == "inet":
            net = ipaddress.ip_interface(_cidr(addr)).network
            if net.prefixlen < 31:
                kwargs["broadcast"] = str(net.broadcast_address)
        if addr.get("valid_lft") not in (None, FOREVER):
            kwargs["IFA_CACHEINFO"] = {"ifa_valid": addr["valid_lft"], "ifa_preferred": addr["preferred_lft"]}
        with _tolerating(errno.EEXIST):
            self.ipr.addr("add", **kwargs)

    def op_addr_del(self, step):
        iface = ipaddress.ip_interface(step["cidr"])
        self.ipr.addr("del", index=self.index(step["dev"]), address=str(iface.ip), prefixlen=iface.network.prefixlen)

    def op_route_add(self, step):
        route = step["route"]
        kwargs = {"oif": self.index(route["dev"]),
                  "family": socket.AF_INET if route["family"] == "inet" else socket.AF_INET6}
        if route["dst"] != "default":
            kwargs["dst"] = route["dst"]
        if route.get("gateway"):
            kwargs["gateway"] = route["gateway"]
        if route.get("priority"):
            kwargs["priority"] = route["priority"]
        if route.get("proto"):
            kwargs["proto"] = route["proto"]
        with _tolerating(errno.EEXIST):
            self.ipr.route("add", **kwargs)

    def op_sysctl_ipv6(self, step):
        path = os.path.join(self.proc, step["dev"], "disable_ipv6")
        if os.path.exists(path):
            with open(path, "w") as handle:
                handle.write("1" if step["disable"] else "0")

    def op_wait_carrier(self, step):
        l2_frames.wait_carrier(step["dev"], self.carrier_timeout, has_carrier=self.carrier)

    def op_teamd_start(self, step):
        teamd_start(step["dev"], step["config"])

    def op_teamd_stop(self, step):
        teamd_stop(step["dev"])

    def op_teamd_active(self, step):
        l2_frames.wait_carrier(step["port"], self.carrier_timeout, has_carrier=self.carrier)
        subprocess.run(["teamdctl", step["dev"], "state", "item", "set", "runner.active_port", step["port"]],
                       check=False, capture_output=True)

    def op_port_speed(self, step):
        # see render_udev.TEAM_PV_SPEED; a driver that refuses only loses the VF preference
        subprocess.run([shutil.which("ethtool") or ETHTOOL, "-s", step["dev"], "speed", str(step["speed"]), "duplex", "full"],
                       check=False, capture_output=True)

    def op_mac_test(self, step):
        """Can ``dev`` take ``address``? Sets it (down, then back up) and records ``refused``/``changed`` in the step.

        The device keeps the MAC when the driver takes it; rollback puts the old one back (it compares MACs too).
        """
        idx = self.index(step["dev"])
        msg = self.ipr.get_links(idx)[0]
        step["refused"] = step["changed"] = False
        if (msg.get_attr("IFLA_ADDRESS") or "").lower() == step["address"].lower():
            return
        was_up = bool(msg["flags"] & IFF_UP)
        try:
            if was_up:
                self.ipr.link("set", index=idx, state="down")
            self.ipr.link("set", index=idx, address=step["address"])
            step["changed"] = True
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, "code", None) not in MAC_REFUSED:
                raise
            step["refused"] = True
        finally:
            if was_up:
                self.ipr.link("set", index=idx, state="up")

    def op_teamd_port_add(self, step):
        subprocess.run(["teamdctl", step["dev"], "port", "add", step["port"]], check=True, capture_output=True)


def _teamd_paths(upper):
    return os.path.join(TEAMD_RUN_DIR, upper + ".conf"), os.path.join(TEAMD_RUN_DIR, upper + ".pid")


def teamd_start(upper, config):
    """Start teamd for ``upper``: ``teamd@.service`` when the distro ships it, else ``teamd -d``."""
    conf, pidfile = _teamd_paths(upper)
    os.makedirs(TEAMD_RUN_DIR, exist_ok=True)
    with open(conf, "w") as handle:
        handle.write(config)
    if teamd_unit_available():
        subprocess.run(["systemctl", "start", "teamd@%s.service" % upper], check=True, capture_output=True)
    else:
        teamd = shutil.which("teamd") or "/usr/bin/teamd"
        subprocess.run([teamd, "-d", "-r", "-f", conf, "-p", pidfile], check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join("/sys/class/net", upper)):
        if time.monotonic() > deadline:
            raise LinkApplyError("teamd did not create %s" % upper)
        time.sleep(0.05)


def teamd_stop(upper):
    conf, pidfile = _teamd_paths(upper)
    if teamd_unit_available():
        subprocess.run(["systemctl", "stop", "teamd@%s.service" % upper], capture_output=True, check=False)
    pid = read_text(pidfile)
    if pid and pid.isdigit():
        subprocess.run([shutil.which("teamd") or "/usr/bin/teamd", "-k", "-t", upper, "-p", pidfile], capture_output=True, check=False)
    deadline = time.monotonic() + 5
    while os.path.exists(os.path.join("/sys/class/net", upper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for path in (conf, pidfile):
        if os.path.exists(path):
            os.unlink(path)
    if os.path.exists(os.path.join("/sys/class/net", upper)):
        subprocess.run(["ip", "link", "del", upper], capture_output=True, check=False)


# --------------------------------------------------------------------------- probe + rollback
def arp_probe(device, target, timeout=1.0, sender_ip=None):
    """ARP who-has ``target`` out of ``device``; True when the target answers within ``timeout``."""
    mac = read_text("/sys/class/net/%s/address" % device)
    if not mac:
        return False
    tgt_ip = socket.inet_aton(target)
    frame = l2_frames.arp_frame(mac, socket.inet_aton(sender_ip) if sender_ip else b"\0\0\0\0", tgt_ip)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(l2_frames.ETH_P_ARP))
    try:
        sock.bind((device, l2_frames.ETH_P_ARP))
        sock.settimeout(0.1)
        deadline = time.monotonic() + timeout
        sock.send(frame)
        while time.monotonic() < deadline:
            try:
                data = sock.recv(128)
            except socket.timeout:
                continue
            if l2_frames.is_arp_reply_from(data, tgt_ip):
                return True
        return False
    finally:
        sock.close()


def icmp_probe(device, target, timeout=1.0):
    ping = shutil.which("ping")
    if not ping:
        raise LinkApplyError("probe_method=icmp needs the ping command")
    cmd = [ping, "-c", "1", "-W", str(max(1, int(timeout))), "-I", device, target]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def probe(ipr, device, target, method="arp", deadline=30.0, sleep=time.sleep):
    """Poll ``target`` through ``device`` until it answers or ``deadline`` seconds pass."""
    end = time.monotonic() + deadline
    sender = None
    while True:
        if method == "arp":
            idx = ipr.link_lookup(ifname=device)
            if idx:
                for msg in ipr.get_addr(index=idx[0], family=socket.AF_INET):
                    sender = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
                    break
            if arp_probe(device, target, 0.5, sender):
                return True
        elif icmp_probe(device, target, 1.0):
            return True
        if time.monotonic() >= end:
            return False
        sleep(0.2)


def rollback(ipr, before, after, created, proc="/proc/sys/net/ipv6/conf"):
    """Restore ``before`` (a ``read_state`` snapshot) on the links the apply touched.

    ``created`` names uppers that did not exist before (removed; teamd stopped for teams).
    Lowers get back their master, MAC, MTU, up state, IPv6 sysctl, addresses; missing routes are
    re-added. Errors are collected, not raised: the goal is to get as much back as possible.
    """
    errors = []
    app = Applier(ipr, proc=proc)

    def attempt(step):
        try:
            app.run([step])
        except Exception as exc:  # pylint: disable=broad-except
            errors.append("%s: %s" % (step, exc))

    for name, kind in created:
        if kind == "team":
            try:
                teamd_stop(name)
            except Exception as exc:  # pylint: disable=broad-except
                errors.append("teamd_stop %s: %s" % (name, exc))
        if ipr.link_lookup(ifname=name):
            attempt({"op": "link_del", "dev": name})
    for name, old in sorted(before["links"].items()):
        if name in [c[0] for c in created] or not ipr.link_lookup(ifname=name):
            continue
        new = after["links"].get(name)
        if new is None:
            continue
        if new.get("master") != old.get("master"):
            if old.get("master") and ipr.link_lookup(ifname=old["master"]):
                attempt({"op": "link_set", "dev": name, "state": "down"})
                attempt({"op": "link_set", "dev": name, "master": old["master"]})
            else:
                attempt({"op": "link_set", "dev": name, "nomaster": True})
        if old.get("kind") not in ("bond", "team") and old.get("mac") and new.get("mac") != old.get("mac"):
            # a lower's MAC (the VF-MAC test, a bond's fail_over_mac=none): the driver takes it only while down
            attempt({"op": "link_set", "dev": name, "state": "down"})
            attempt({"op": "link_set", "dev": name, "address": old["mac"]})
        if new.get("mtu") != old.get("mtu"):
            attempt({"op": "link_set", "dev": name, "mtu": old["mtu"]})
        if old.get("ipv6_disabled") is not None and new.get("ipv6_disabled") != old.get("ipv6_disabled"):
            attempt({"op": "sysctl_ipv6", "dev": name, "disable": old["ipv6_disabled"]})
        attempt({"op": "link_set", "dev": name, "state": "up" if old["up"] else "down"})
        have = set(_cidr(a) for a in _global(new.get("addresses", [])))
        keep = set(_cidr(a) for a in _global(old.get("addresses", [])))
        for addr in _global(old.get("addresses", [])):
            if _cidr(addr) not in have:
                attempt({"op": "addr_add", "dev": name, "addr": addr})
        for cidr in sorted(have - keep):
            attempt({"op": "addr_del", "dev": name, "cidr": cidr})
    for route in before.get("routes", []):
        if route["proto"] != 2 and ipr.link_lookup(ifname=route["dev"]):
            attempt({"op": "route_add", "route": route})
    return errors


def touched(steps):
    """Device names a step list modifies."""
    names = set()
    for step in steps:
        for key in ("dev", "master", "port"):
            if step.get(key):
                names.add(step[key])
        if step.get("route"):
            names.add(step["route"]["dev"])
    return names


def restrict(state, names):
    """The part of a ``read_state`` snapshot about ``names`` (for rollback and the result)."""
    return {"links": dict((n, state["links"][n]) for n in names if n in state["links"]),
            "routes": [r for r in state.get("routes", []) if r["dev"] in names]}


# --------------------------------------------------------------------------- orchestration
class RolledBack(LinkApplyError):
    """The apply failed or the probe did not answer; the previous state was restored."""

    def __init__(self, msg, errors=None):
        super(RolledBack, self).__init__(msg)
        self.errors = errors or []


def _copy(data):
    return json.loads(json.dumps(data))


def _mac_refused(applier, state, res, check_mode):
    """Does the VF refuse the PV's MAC? Tested (an executed, logged step) only before the VF is enslaved, never on reruns."""
    vf = res["vf"]
    if res["model"] not in ("bond", "team") or not vf:
        return False
    links = state["links"]
    pv_mac = links[res["pv"]].get("perm_mac") or links[res["pv"]]["mac"]
    vf_link = links[vf]
    upper = links.get(res["upper"]) or {}
    if vf_link["master"] == res["upper"]:
        if res["model"] == "bond":
            return (upper.get("bond") or {}).get("fail_over_mac") == "active"
        return '"by_active"' in (upper.get("teamd_config") or "")
    if vf_link["mac"] == pv_mac or check_mode:
        return False
    step = {"op": "mac_test", "dev": vf, "address": pv_mac}
    applier.run([step])
    return step["refused"]


def run(ipr, groups, check_mode=False, probe_target=None, probe_method="arp", probe_device=None,
        rollback_timeout=30, carrier_timeout=10.0, reader=None, prober=None, announcer=None):
    """Plan and (unless ``check_mode``) apply ``groups``; probe and roll back on failure.

    Returns ``{"changed", "groups", "before", "after"}``; raises ``RolledBack`` after a restore.
    ``announcer(upper)`` is called for each changed upper once the probe (if any) succeeded.
    """
    try:
        for index, group in enumerate(groups):
            check_runtime_group(index, group)
        opts = check_link_options(probe_target, probe_method, probe_device, rollback_timeout, carrier_timeout)
    except ConfigError as exc:
        raise LinkApplyError(str(exc))
    probe_target, probe_device = opts["probe"], opts["probe_device"]
    reader = reader or read_state
    prober = prober or probe

    def snapshot():
        current = reader(ipr)
        for group in groups:
            if group.get("model") == "team":
                annotate_team(current, group.get("name") or "team0")
        return current

    state = snapshot()
    pristine = _copy(state)  # what rollback restores: taken before the first change, the MAC test included
    applier = Applier(ipr, carrier_timeout=carrier_timeout)
    plans = []
    try:
        for group in groups:
            res = resolve(state, group)
            refused = _mac_refused(applier, state, res, check_mode)
            if applier.log:
                state = snapshot()  # the MAC test toggled the VF (and may have left it the PV's MAC)
            plan = plan_group(state, group, refused)
            plan["fail_over_mac"] = (plan["target"].get("options") or {}).get("fail_over_mac")
            plans.append(plan)
    except LinkApplyError:
        if applier.log:
            errors = rollback(ipr, _copy(restrict(pristine, touched(applier.log))), reader(ipr), [])
            if errors:
                raise RolledBack("planning failed after the VF MAC test; restoring it failed", errors)
        raise
    before = "".join(p["before"] for p in plans)
    steps = [s for p in plans for s in p["steps"]]
    result = {"changed": bool(steps), "before": before, "after": "".join(p["after"] for p in plans),
              "groups": [], "rolled_back": False, "probe": None}
    for plan in plans:
        res = plan["resolved"]
        result["groups"].append({"upper": res["upper"], "model": res["model"], "pv": res["pv"], "vf": res["vf"],
                                 "changed": bool(plan["steps"]), "steps": plan["steps"], "notes": plan["notes"],
                                 "fail_over_mac": plan["fail_over_mac"]})
    if check_mode or not steps:
        return result

    created = [(p["resolved"]["upper"], p["resolved"]["model"]) for p in plans
               if p["steps"] and not p["resolved"]["upper_exists"] and p["resolved"]["model"] in ("bond", "team")]
    names = touched(steps + applier.log) | set(n for p in plans for n in (p["resolved"]["pv"], p["resolved"]["vf"]) if n)
    saved = _copy(restrict(pristine, names))
    started = time.monotonic()
    try:
        for plan in plans:
            applier.run(plan["steps"])
    except Exception as exc:  # pylint: disable=broad-except
        errors = rollback(ipr, saved, reader(ipr), created)
        raise RolledBack("applying %s failed (%s); the previous state was restored" % (
            (applier.current or {}).get("op", "a step"), exc), errors)
    result["apply_seconds"] = round(time.monotonic() - started, 3)
    if probe_target:
        device = probe_device or plans[0]["resolved"]["upper"]
        t0 = time.monotonic()
        ok = prober(ipr, device, probe_target, probe_method, rollback_timeout)
        result["probe"] = {"target": probe_target, "device": device, "method": probe_method, "reachable": ok,
                           "seconds": round(time.monotonic() - t0, 3)}
        if not ok:
            errors = rollback(ipr, saved, reader(ipr), created)
            err = RolledBack("%s did not answer %s probes through %s within %ss; the previous state was restored" % (
                probe_target, probe_method, device, rollback_timeout), errors)
            err.result = result
            raise err
    if announcer:
        for plan in plans:
            if plan["steps"]:
                announcer(plan["resolved"]["upper"])
    final = snapshot()
    result["after"] = "".join(summary(current_view(final, p["resolved"])) for p in plans)
    return result
