# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter: the discovery results of every host as one fleet report keyed by inventory host."""
from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report
short_description: One report for a fleet, keyed by inventory host
version_added: 1.0.0
description:
  - Turns the discovery results of many hosts (C(ansible_facts.guestnet_failover) set by
    M(guestnet.failover.netdev_facts), and C(ansible_facts.virtualization_type) when gathered) into one dict keyed
    by inventory host, ready for C(to_json).
  - Each host has C(discovered), C(flavour) (C(kvm), C(hyperv) or C(generic)), C(groups) (model, upper, MAC, active
    device and C(members), each with its C(role) - upper, standby, primary or port - driver, bus address, state and
    addresses), C(addresses) (every device with an address), C(findings) (severity, code, device, message, remedy)
    and C(summary) (findings per severity).
  - A host without a fact (unreachable, or failed before discovery) has C(discovered=false) and one error-level
    finding C(not-discovered), so a gate on error-level findings also catches hosts that were not looked at.
options:
  _input:
    description: C(hostvars), or any mapping of inventory host name to that host's variables.
    type: dict
    required: true
  hosts:
    description:
      - The hosts to report, usually C(ansible_play_hosts_all) (every host the play started with, also those that
        failed or were unreachable).
    type: list
    elements: str
    required: true
seealso:
  - plugin: guestnet.failover.fleet_summary
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Write the fleet report on the controller
  ansible.builtin.copy:
    content: "{{ hostvars | guestnet.failover.fleet_report(ansible_play_hosts_all) | to_nice_json }}\n"
    dest: /tmp/fleet.json
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: Inventory host name to that host's report.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.guestnet.failover.plugins.module_utils.fleet import FleetError, fleet


def fleet_report(hostvars, hosts):
    """Pick each host's discovery result out of its variables and delegate to module_utils.fleet.fleet."""
    if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) for h in hosts):
        raise AnsibleFilterError("fleet_report: hosts must be a list of inventory host names")
    results = {}
    for host in hosts:
        try:
            facts = (hostvars[host] or {}).get("ansible_facts") or {}
        except KeyError:
            facts = {}
        results[host] = {"fact": facts.get("guestnet_failover"), "virtualization_type": facts.get("virtualization_type")}
    try:
        return fleet(results)
    except FleetError as exc:
        raise AnsibleFilterError("fleet_report: %s" % exc) from exc


class FilterModule:
    """guestnet.failover fleet report filter."""

    def filters(self):
        return {"fleet_report": fleet_report}
