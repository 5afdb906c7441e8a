# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage (reports): the fleet report, one JSON-ready dict keyed by inventory host, and its summary table.

Pure logic, used by the fleet_report and fleet_summary filters.
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils.classify import link_driver
from ansible_collections.guestnet.failover.plugins.module_utils.desired import detect_flavour
from ansible_collections.guestnet.failover.plugins.module_utils.findings import summary

SEVERITIES = ("error", "warning", "info")
# a host in the play that returned no guestnet_failover fact (unreachable, failed before discovery)
NOT_DISCOVERED = {"severity": "error", "code": "not-discovered",
                  "message": "no discovery result for this host (unreachable, or failed before netdev_facts)",
                  "remedy": "run the report again once the host answers; the play's output names the failure"}


class FleetError(ValueError):
    """The input is not a mapping of host to guestnet_failover fact."""


def addresses(link):
    """A device's addresses as ADDRESS/PREFIX strings, in the order the kernel lists them."""
    return ["%s/%s" % (a.get("address"), a.get("prefixlen")) for a in (link or {}).get("addresses") or []]


def state(link):
    """UP/DOWN and carrier of a device, or "absent" when discovery did not see it."""
    if not link:
        return "absent"
    return "%s %s" % ("UP" if "UP" in (link.get("flags") or []) else "DOWN",
                      "carrier" if link.get("carrier") else "no-carrier")


def _member(name, role, group, by_name):
    link = by_name.get(name) or {}
    return {"name": name, "role": role,
            "driver": link_driver(link) or group.get("vf_driver" if role == "primary" else "pv_driver"),
            "bus_info": link.get("bus_info"), "state": state(link if name in by_name else None),
            "addresses": addresses(link), "active": name is not None and name == group.get("active")}


def members(group, by_name):
    """Every device of a group with its role: upper, standby, primary (None when absent), ports."""
    out = [_member(group.get("upper"), "upper", group, by_name)] if group.get("upper") else []
    seen = set([group.get("upper")])
    for role in ("standby", "primary"):
        name = group.get(role)
        if name is None and role == "primary":
            out.append(_member(None, role, group, by_name))
        elif name is not None and name not in seen:
            seen.add(name)
            out.append(_member(name, role, group, by_name))
    for name in group.get("members") or []:
        if name not in seen:
            seen.add(name)
            out.append(_member(name, "port", group, by_name))
    return out


def host_entry(fact, virtualization_type=None):
    """One host's part of the report; ``fact`` is its guestnet_failover fact, or None when discovery gave none."""
    if fact is None:
        findings_ = [dict(NOT_DISCOVERED)]
        return {"discovered": False, "flavour": None, "groups": [], "addresses": {}, "findings": findings_,
                "summary": summary(findings_)}
    if not isinstance(fact, dict) or "groups" not in fact:
        raise FleetError("expected a guestnet_failover fact (a dict with 'groups'), got %s" % type(fact).__name__)
    by_name = dict((link.get("name"), link) for link in fact.get("links") or [])
    groups_ = fact.get("groups") or []
    findings_ = [dict((k, item.get(k)) for k in ("severity", "code", "device", "group_mac", "message", "remedy") if item.get(k))
                 for item in fact.get("findings") or []]
    return {
        "discovered": True,
        "flavour": detect_flavour(groups_, virtualization_type),
        "groups": [{"model": g.get("model"), "upper": g.get("upper"), "mac": g.get("mac"), "active": g.get("active"),
                    "members": members(g, by_name)} for g in groups_],
        # every device with an address, also those outside a group (management NICs, addresses on a lower)
        "addresses": dict((name, addresses(link)) for name, link in sorted(by_name.items()) if addresses(link)),
        "findings": findings_,
        "summary": summary(findings_),
    }


def fleet(hosts):
    """The report for ``{inventory_hostname: {"fact": fact or None, "virtualization_type": str or None}}``."""
    if not isinstance(hosts, dict):
        raise FleetError("expected a dict of inventory host to discovery result, got %s" % type(hosts).__name__)
    report = {}
    for host in sorted(hosts):
        item = hosts[host] or {}
        if not isinstance(item, dict):
            raise FleetError("host %s: expected a dict with 'fact', got %s" % (host, type(item).__name__))
        report[host] = host_entry(item.get("fact"), item.get("virtualization_type"))
    return report


def _table(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def _names(hosts, limit):
    shown = ", ".join(hosts[:limit])
    return shown + (" (+%d more)" % (len(hosts) - limit) if len(hosts) > limit else "")


def summary_lines(report, limit=10):
    """The fleet at a glance: hosts by flavour, then every host with error-level findings and their codes."""
    if not isinstance(report, dict):
        raise FleetError("expected the fleet report (a dict keyed by host), got %s" % type(report).__name__)
    by_flavour = {}
    for host, entry in sorted(report.items()):
        by_flavour.setdefault(entry.get("flavour") or "(not discovered)", []).append(host)
    lines = ["fleet: %d host%s" % (len(report), "" if len(report) == 1 else "s"), ""]
    rows = [["flavour", "hosts", "names"]]
    rows += [[flavour, str(len(hosts)), _names(hosts, limit)] for flavour, hosts in sorted(by_flavour.items())]
    lines += _table(rows)
    failing = [(host, entry) for host, entry in sorted(report.items()) if (entry.get("summary") or {}).get("error")]
    lines.append("")
    if not failing:
        lines.append("hosts with error-level findings: none")
        return lines
    lines.append("hosts with error-level findings: %d" % len(failing))
    rows = [["host", "errors", "codes"]]
    for host, entry in failing:
        codes = sorted(set(f.get("code") or "?" for f in entry.get("findings") or [] if f.get("severity") == "error"))
        rows.append([host, str(entry["summary"]["error"]), ", ".join(codes)])
    return lines + _table(rows)
