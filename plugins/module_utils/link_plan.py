# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plan stage (runtime, pure): resolve a group's devices, its current and target views, the steps between them.

Fed a ``link_state.read_state()`` snapshot and groups normalised by ``validate.normalize``; nothing here touches
the system, so it is unit-tested on fixture states (tests/unit/plugins/module_utils/test_link_apply.py). The
steps are executed by ``link_execute.Applier``; docs/data-model.md "Step" lists them.
"""
from __future__ import annotations

import ipaddress

from ansible_collections.guestnet.failover.plugins.module_utils.link_state import FOREVER, LinkApplyError, addr_cidr, global_addrs
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import TEAM_PV_SPEED, bond_kernel_options, port_role, teamd_runtime_json

# route protocols worth moving from a lower to the upper (kernel/ra routes come back by themselves)
MOVABLE_PROTOS = (3, 4, 16)  # boot, static, dhcp


def _ident(link):
    return (link.get("perm_mac") or link.get("mac") or "").lower()


def _drv(link):
    return link.get("device_driver") or link.get("driver")


def resolve(state, group):
    """Find the PV, the VF and the upper of ``group`` in ``state``.

    Lowers are matched by permanent MAC and driver (``upper_config.port_role``: the PV's driver, or any other
    physical device for the VF), never by name or MAC alone. Returns ``{"upper", "pv", "vf", "upper_exists"}``.
    """
    links = state["links"]
    mac = group["mac"].lower()
    model = group["model"]
    pv, vf = [], []
    for link in links.values():
        if link.get("kind") or link.get("driver") == "net_failover" or _ident(link) != mac:
            continue
        role = port_role(group.get("pv_driver"), _drv(link))
        if role == "pv":
            pv.append(link["name"])
        elif role == "vf":
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


def _managed(addrs):
    """Addresses we own: global ones except IPv6 autoconf/DHCPv6 leases the kernel manages."""
    return [a for a in global_addrs(addrs) if a["family"] == "inet" or a.get("permanent", True)]


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


def _wanted_addresses(state, res, group, carry=True):
    """Global addresses the upper must carry: static ones, else those found on upper and lowers.

    ``carry`` False (a running stack's DHCP owns the upper's addressing): the upper's own addresses only; the
    lowers' are dropped, not carried, or the upper would keep a lower's old lease beside the stack's new one.
    """
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
        for name in (res["upper"], res["pv"], res["vf"]) if carry else (res["upper"],):
            if not name or name not in links:
                continue
            for addr in global_addrs(links[name]["addresses"]):
                if family == "inet6" and not addr.get("permanent", True) and cfg.get("method", "auto") == "auto":
                    continue  # SLAAC/DHCPv6 address: the upper autoconfigures its own
                if addr["family"] == family and addr_cidr(addr) not in seen:
                    seen.add(addr_cidr(addr))
                    want.append(dict(addr))
    return want


def _wanted_routes(state, res, group, carry=True):
    """Routes the upper must carry: the static gateway, else those found on upper and lowers (upper only: ``carry``)."""
    want = []
    sources = (res["upper"], res["pv"], res["vf"]) if carry else (res["upper"],)
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
            if route["family"] == family and route["dev"] in sources \
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
                     "addresses": sorted(addr_cidr(a) for a in _managed(upper["addresses"])),
                     "routes": sorted(_route_text(r) for r in state.get("routes", []) if r["dev"] == res["upper"]
                                      and not r["dst"].startswith("fe80:") and r["proto"] != 2)})
        view["dadfailed"] = sorted(addr_cidr(a) for a in upper["addresses"] if a.get("dadfailed"))
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
            "addresses": sorted(addr_cidr(a) for a in link["addresses"]),
            "ipv6_disabled": link.get("ipv6_disabled"),
        }
    return view


def target_view(state, res, group, mac_refused=False, carry=True):
    """Normalised runtime view of one group as it should be (``carry``: _wanted_addresses)."""
    links = state["links"]
    pv_link = links[res["pv"]]
    mac = (pv_link.get("perm_mac") or pv_link.get("mac")).lower()
    upper = links.get(res["upper"]) or {}
    mtu = upper.get("mtu") or pv_link["mtu"]
    view = {"model": res["model"], "upper": res["upper"], "exists": True, "up": True, "mtu": mtu, "ports": {}, "dadfailed": [],
            "addresses": sorted(addr_cidr(a) for a in _wanted_addresses(state, res, group, carry)),
            "routes": sorted(_route_text(r) for r in _wanted_routes(state, res, group, carry))}
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


def plan_steps(state, res, group, target, carry=True):
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
    wanted = _wanted_addresses(state, res, group, carry)
    routes = _wanted_routes(state, res, group, carry)
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
        if addr_cidr(addr) not in cur_addrs:
            add({"op": "addr_add", "dev": upper, "addr": addr})
    for cidr in sorted(cur_addrs - set(addr_cidr(a) for a in wanted)):
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


def plan_group(state, group, mac_refused=False, carry=True):
    """Everything the module needs for one group: resolution, before/after text, steps, notes (``carry``:
    _wanted_addresses)."""
    res = resolve(state, group)
    target, notes = target_view(state, res, group, mac_refused, carry)
    before = current_view(state, res)
    steps = plan_steps(state, res, group, target, carry)
    return {"resolved": res, "before": summary(before), "after": summary(target) if steps else summary(before),
            "steps": steps, "notes": notes, "target": target}


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
