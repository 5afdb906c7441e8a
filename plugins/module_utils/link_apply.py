# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage (runtime transaction): read, plan, apply, probe, and roll back on failure; the ``run`` of failover_link.

The stages are their own modules: ``link_state`` (read), ``link_plan`` (plan, pure), ``link_execute`` (execute,
probe, rollback). This one only strings them together and keeps the snapshot rollback restores.
"""
from __future__ import annotations

import ipaddress
import json
import time

from ansible_collections.guestnet.failover.plugins.module_utils.link_execute import Applier, probe, rollback
from ansible_collections.guestnet.failover.plugins.module_utils.link_plan import current_view, plan_group, resolve, summary, touched
from ansible_collections.guestnet.failover.plugins.module_utils.link_state import LinkApplyError, annotate_team, read_state, restrict
from ansible_collections.guestnet.failover.plugins.module_utils.validate import ConfigError, check_link_options, check_runtime_group


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


def _valid_owed(addr, route):
    """An address or route entry of the carry record that is safe to hand to netlink (else None)."""
    try:
        if addr is not None:
            iface = ipaddress.ip_interface("%s/%d" % (addr["address"], int(addr["prefixlen"])))
            family = "inet" if iface.version == 4 else "inet6"
            return {"family": family, "address": str(iface.ip), "prefixlen": iface.network.prefixlen, "scope": "global",
                    "permanent": True, "valid_lft": 0xFFFFFFFF, "preferred_lft": 0xFFFFFFFF}
        family = route["family"]
        dst = route["dst"] if route["dst"] == "default" else str(ipaddress.ip_network(route["dst"]))
        gateway = str(ipaddress.ip_address(route["gateway"])) if route.get("gateway") else None
        if family not in ("inet", "inet6"):
            return None
        return {"family": family, "dst": dst, "gateway": gateway, "priority": int(route["priority"]) if route.get(
            "priority") else None, "proto": int(route.get("proto") or 0), "scope": int(route.get("scope") or 0)}
    except (KeyError, TypeError, ValueError):
        return None


def owed_state(state, res, owed):
    """``state`` with what a killed run was carrying to this group's upper (``owed``: its carry record entry) put back
    on the PV, where the planner carries it from: the kill fell after the lowers lost it, before the upper had it."""
    if not owed or not res.get("pv"):
        return state
    state = _copy(state)
    links, pv = state["links"], res["pv"]
    names = [n for n in (res["upper"], res["pv"], res["vf"]) if n in links]
    present = set((a["address"], a["prefixlen"]) for n in names for a in links[n]["addresses"])
    for entry in owed.get("addresses") or []:
        addr = _valid_owed(entry, None)
        if addr and (addr["address"], addr["prefixlen"]) not in present:
            links[pv]["addresses"].append(addr)
    for entry in owed.get("routes") or []:
        route = _valid_owed(None, entry)
        if route:
            route["dev"] = pv
            state.setdefault("routes", []).append(route)
    return state


def carried(plans):
    """What the plans put on uppers, {group MAC: {"addresses", "routes"}}: recorded before the lowers lose it."""
    out = {}
    for plan in plans:
        adds = [s["addr"] for s in plan["steps"] if s["op"] == "addr_add"]
        routes = [s["route"] for s in plan["steps"] if s["op"] == "route_add"]
        if adds or routes:
            out[plan["mac"]] = {"addresses": adds, "routes": routes}
    return out


def run(ipr, groups, check_mode=False, probe_target=None, probe_method="arp", probe_device=None,
        rollback_timeout=30, carrier_timeout=10.0, reader=None, prober=None, announcer=None, carry_l3=True,
        owed=None, record=None):
    """Plan and (unless ``check_mode``) apply ``groups``; probe and roll back on failure.

    Returns ``{"changed", "groups", "before", "after"}``; raises ``RolledBack`` after a restore.
    ``announcer(upper)`` is called for each changed upper once the probe (if any) succeeded. ``carry_l3`` False:
    the lowers' addresses and routes are dropped instead of carried to the upper (link_plan._wanted_addresses).
    ``owed``: the carry record a killed run left ({group MAC: ...}, owed_state); ``record(carried)`` is called with
    what this run carries before its first step and with None once the run is over (done or rolled back).
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
            owed_here = (owed or {}).get(group["mac"]) if carry_l3 else None
            plan = plan_group(owed_state(state, res, owed_here), group, refused, carry_l3)
            plan["mac"] = group["mac"]
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
    if check_mode:
        return result
    if not steps:
        if owed and record:
            record(None)  # nothing left to carry: it is where it belongs
        return result

    created = [(p["resolved"]["upper"], p["resolved"]["model"]) for p in plans
               if p["steps"] and not p["resolved"]["upper_exists"] and p["resolved"]["model"] in ("bond", "team")]
    names = touched(steps + applier.log) | set(n for p in plans for n in (p["resolved"]["pv"], p["resolved"]["vf"]) if n)
    saved = _copy(restrict(pristine, names))
    if record:
        record(carried(plans) or None)  # before the lowers lose what the upper is to carry
    started = time.monotonic()
    try:
        for plan in plans:
            applier.run(plan["steps"])
    except Exception as exc:  # pylint: disable=broad-except
        errors = rollback(ipr, saved, reader(ipr), created)
        if record and not errors:
            record(None)
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
            if record and not errors:
                record(None)
            err = RolledBack("%s did not answer %s probes through %s within %ss; the previous state was restored" % (
                probe_target, probe_method, device, rollback_timeout), errors)
            err.result = result
            raise err
    if announcer:
        for plan in plans:
            if plan["steps"]:
                announcer(plan["resolved"]["upper"])
    if record:
        record(None)
    final = snapshot()
    result["after"] = "".join(summary(current_view(final, p["resolved"])) for p in plans)
    return result
