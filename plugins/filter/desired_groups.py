# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter: discovered failover groups to desired groups for a flavour."""
from __future__ import annotations

DOCUMENTATION = r"""
name: desired_groups
short_description: Desired failover groups for a hypervisor flavour
version_added: 1.0.0
description:
  - Turns the groups reported by M(guestnet.failover.netdev_facts) into the C(groups) input of
    M(guestnet.failover.failover_config) and M(guestnet.failover.failover_link).
options:
  _input:
    description: Discovered groups (C(ansible_facts.guestnet_failover.groups)).
    type: list
    elements: dict
    required: true
  flavour:
    description: Hypervisor flavour.
    type: str
    choices: [kvm, hyperv, generic]
    required: true
  ipv4:
    description: IPv4 settings of every upper device.
    type: dict
  ipv6:
    description: IPv6 settings of every upper device.
    type: dict
  dns:
    description: DNS servers.
    type: list
    elements: str
  fallback:
    description: What to do with a PV and VF that share a MAC but are not paired.
    type: str
    choices: [bond, team, fail]
    default: bond
  names:
    description: Map of MAC to upper device name.
    type: dict
  no_address_macs:
    description: MACs whose upper device gets no address at all.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Desired groups for a KVM guest
  ansible.builtin.set_fact:
    wanted: "{{ ansible_facts.guestnet_failover.groups | guestnet.failover.desired_groups('kvm') }}"
"""

RETURN = r"""
_value:
  description: Desired groups, see the collection's docs/data-model.md.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.guestnet.failover.plugins.module_utils.desired import DesiredError, desired_groups
from ansible_collections.guestnet.failover.plugins.module_utils.validate import (
    ConfigError, check_desired_options, check_discovered, normalize,
)


def _desired_groups(groups, flavour, **kwargs):
    """Validate the input and the options, delegate, then validate the result as failover_config will."""
    if not isinstance(groups, list):
        raise AnsibleFilterError("desired_groups expects a list of groups, got %s" % type(groups).__name__)
    try:
        check_discovered(groups)
        check_desired_options(**dict((k, kwargs.get(k)) for k in ("ipv4", "ipv6", "dns", "names", "no_address_macs")))
        wanted = desired_groups(groups, flavour, **kwargs)
        # the backend is not known here: the one without stack-specific limits (as failover_link)
        normalize(wanted, "NetworkManager")
    except (DesiredError, ConfigError) as exc:
        raise AnsibleFilterError("desired_groups: %s" % exc) from exc
    return wanted


class FilterModule:
    """guestnet.failover desired-state filters."""

    def filters(self):
        return {"desired_groups": _desired_groups}
