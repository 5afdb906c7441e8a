# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage (runtime transaction): read, plan, apply, probe, and roll back on failure; the ``run`` of failover_link.

The stages are their own modules: ``link_state`` (read), ``link_plan`` (plan, pure), ``link_execute`` (execute,
probe, rollback). This one only strings them together and keeps the snapshot rollback restores.
"""
from __future__ import annotations

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


def run(ipr, groups, check_mode=False, probe_target=None, probe_method="arp", probe_device=None,
        rollback_timeout=30, carrier_timeout=10.0, reader=None, prober=None, announcer=None, carry_l3=True):
    """Plan and (unless ``check_mode``) apply ``groups``; probe and roll back on failure.

    Returns ``{"changed", "groups", "before", "after"}``; raises ``RolledBack`` after a restore.
    ``announcer(upper)`` is called for each changed upper once the probe (if any) succeeded. ``carry_l3`` False:
    the lowers' addresses and routes are dropped instead of carried to the upper (link_plan._wanted_addresses).
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
            plan = plan_group(state, group, refused, carry_l3)
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
