# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter: the guestnet_failover fact as a topology tree plus findings (text lines)."""
from __future__ import annotations

DOCUMENTATION = r"""
name: topology_report
short_description: Render discovered failover groups and findings as text
version_added: 1.0.0
description:
  - Turns the fact set by M(guestnet.failover.netdev_facts) into a list of text lines, one tree per
    failover group (upper device, then standby and primary with driver and bus address, the active
    lower marked), followed by the findings with their remedies.
options:
  _input:
    description: The C(ansible_facts.guestnet_failover) fact.
    type: dict
    required: true
  ascii:
    description: Draw the tree with ASCII characters only.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Print the topology
  ansible.builtin.debug:
    msg: "{{ ansible_facts.guestnet_failover | guestnet.failover.topology_report }}"

- name: ASCII only, e.g. for a log file
  ansible.builtin.copy:
    content: "{{ ansible_facts.guestnet_failover | guestnet.failover.topology_report(ascii=true) | join('\n') }}\n"
    dest: /tmp/topology.txt
    mode: "0644"
"""

RETURN = r"""
_value:
  description: Report lines.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.guestnet.failover.plugins.module_utils.report import ReportError, render


def topology_report(facts, ascii=False):  # pylint: disable=redefined-builtin
    """Validate the input and delegate to module_utils.report.render."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("topology_report expects the guestnet_failover fact (a dict), got %s" % type(facts).__name__)
    if not isinstance(ascii, bool):
        raise AnsibleFilterError("topology_report: ascii must be a boolean")
    try:
        return render(facts, ascii_only=ascii)
    except ReportError as exc:
        raise AnsibleFilterError("topology_report: %s" % exc) from exc


class FilterModule:
    """guestnet.failover report filter."""

    def filters(self):
        return {"topology_report": topology_report}
