# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter: which flavour role fits a host."""
from __future__ import annotations

DOCUMENTATION = r"""
name: flavour
short_description: Pick the hypervisor flavour role for a host
version_added: 1.0.0
description:
  - Returns C(hyperv) when netvsc pairs exist, C(kvm) when net_failover groups exist, else decides from
    virtualisation facts and DMI, falling back to C(generic) (bond or team).
options:
  _input:
    description: Discovered groups (C(ansible_facts.guestnet_failover.groups)).
    type: list
    elements: dict
    required: true
  virtualization_type:
    description: C(ansible_facts.virtualization_type).
    type: str
  system_vendor:
    description: DMI vendor (C(ansible_facts.system_vendor), or C(platform.system_vendor) of the discovery fact).
    type: str
  product_name:
    description: DMI product (C(ansible_facts.product_name), or C(platform.product_name) of the discovery fact).
    type: str
"""

EXAMPLES = r"""
- name: Pick the role
  ansible.builtin.set_fact:
    flavour: "{{ groups_found | guestnet.failover.flavour(ansible_facts.virtualization_type, ansible_facts.system_vendor) }}"
"""

RETURN = r"""
_value:
  description: One of C(kvm), C(hyperv), C(generic).
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.guestnet.failover.plugins.module_utils.desired import detect_flavour


def _flavour(groups, virtualization_type=None, system_vendor=None, product_name=None):
    if not isinstance(groups, list):
        raise AnsibleFilterError("flavour expects a list of groups, got %s" % type(groups).__name__)
    return detect_flavour(groups, virtualization_type, system_vendor, product_name)


class FilterModule:
    """guestnet.failover flavour filter."""

    def filters(self):
        return {"flavour": _flavour}
