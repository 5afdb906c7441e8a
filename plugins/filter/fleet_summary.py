# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter: the fleet report as a summary table (text lines)."""
from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_summary
short_description: Summary table of a fleet report
version_added: 1.0.0
description:
  - Text lines for the output of P(guestnet.failover.fleet_report#filter) - the number of hosts, hosts by flavour
    (with the first names of each), and every host with error-level findings with their count and codes.
options:
  _input:
    description: The fleet report (inventory host name to that host's report).
    type: dict
    required: true
  names:
    description: How many host names to show per flavour before C((+N more)).
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Print the fleet summary
  ansible.builtin.debug:
    msg: "{{ fleet | guestnet.failover.fleet_summary }}"
"""

RETURN = r"""
_value:
  description: Summary lines.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.guestnet.failover.plugins.module_utils.fleet import FleetError, summary_lines


def fleet_summary(report, names=10):
    """Validate the input and delegate to module_utils.fleet.summary_lines."""
    if not isinstance(names, int) or isinstance(names, bool) or names < 1:
        raise AnsibleFilterError("fleet_summary: names must be a positive integer")
    try:
        return summary_lines(report, limit=names)
    except FleetError as exc:
        raise AnsibleFilterError("fleet_summary: %s" % exc) from exc


class FilterModule:
    """guestnet.failover fleet summary filter."""

    def filters(self):
        return {"fleet_summary": fleet_summary}
