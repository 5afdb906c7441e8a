# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage (reports): discovered groups and findings as text lines (pure logic, for the topology_report filter)."""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils.classify import link_driver
from ansible_collections.guestnet.failover.plugins.module_utils.fleet import addresses, state

UNICODE = {"tee": "\u251c\u2500", "end": "\u2514\u2500", "active": "\u2190 active"}
ASCII = {"tee": "|-", "end": "`-", "active": "<- active"}


class ReportError(ValueError):
    """The input is not a guestnet_failover fact."""


def _state(link):
    return state(link) if link else ""


def _addresses(link):
    """The device's addresses, "-" for none (what a lower should show), "" when discovery sent no links."""
    return " ".join(addresses(link)) or "-" if link else ""


def _columns(rows):
    """Left-align columns; the last column is never padded."""
    widths = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell))
    out = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        out.append("  ".join(cells).rstrip())
    return out


def _children(group, by_name):
    rows = []
    seen = set([group.get("upper")])
    for role in ("standby", "primary"):
        name = group.get(role)
        if name is None:
            if role == "primary":
                rows.append((None, role))
            continue
        if name in seen:
            continue
        seen.add(name)
        rows.append((name, role))
    for name in group.get("members") or []:
        if name not in seen:
            seen.add(name)
            rows.append((name, "port"))
    return rows


def render_group(group, by_name, glyphs=None):
    glyphs = glyphs or UNICODE
    upper = by_name.get(group.get("upper") or "")
    active = group.get("active")
    head = [group.get("upper") or "(no upper)", group.get("model") or "?", group.get("mac") or "-"]
    if upper:
        head.extend([_state(upper), _addresses(upper)])
    if group.get("model") == "netvsc":
        head.append("standby %s %s" % (link_driver(upper) or group.get("pv_driver") or "?", (upper or {}).get("bus_info") or "-"))
    if active and active == group.get("upper"):
        head.append(glyphs["active"])
    lines = ["  ".join(head)]
    children = _children(group, by_name)
    rows = []
    for name, role in children:
        if name is None:
            rows.append(["(%s absent)" % role, "", "", "", "", "", ""])
            continue
        link = by_name.get(name) or {}
        driver = link_driver(link) or group.get("vf_driver" if role == "primary" else "pv_driver") or "?"
        rows.append([name, role, driver, link.get("bus_info") or "-", _state(link), _addresses(link),
                     glyphs["active"] if name == active else ""])
    for i, text in enumerate(_columns(rows)):
        branch = glyphs["end"] if i == len(rows) - 1 else glyphs["tee"]
        lines.append("%s %s" % (branch, text))
    return lines


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def render_findings(findings_):
    if not findings_:
        return ["findings: none"]
    counts = {}
    for item in findings_:
        counts[item.get("severity")] = counts.get(item.get("severity"), 0) + 1
    parts = [_plural(counts[sev], sev) for sev in ("error", "warning", "info") if counts.get(sev)]
    lines = ["findings: %s" % ", ".join(parts)]
    code_width = max(len(item.get("code") or "") for item in findings_)
    for item in findings_:
        lines.append("  %-7s  %s  %s" % (item.get("severity"), (item.get("code") or "").ljust(code_width), item.get("message")))
        if item.get("remedy"):
            lines.append("  %-7s  %s  fix: %s" % ("", "".ljust(code_width), item["remedy"]))
    return lines


def render(facts, ascii_only=False):
    """Text lines for a guestnet_failover fact: one tree per group (each device with its state and addresses),
    a blank line, the findings."""
    if not isinstance(facts, dict) or "groups" not in facts:
        raise ReportError("expected the guestnet_failover fact (a dict with 'groups'), got %s" % type(facts).__name__)
    glyphs = ASCII if ascii_only else UNICODE
    by_name = dict((link.get("name"), link) for link in facts.get("links") or [])
    lines = []
    if facts.get("netns"):
        lines.append("netns %s" % facts["netns"])
    groups_ = facts.get("groups") or []
    if not groups_:
        lines.append("no failover groups")
    for group in groups_:
        lines.extend(render_group(group, by_name, glyphs))
    lines.append("")
    lines.extend(render_findings(facts.get("findings") or []))
    return lines
