#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: guestnet.failover contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: netdev_facts
short_description: Discover net_failover, netvsc, bond and team failover groups and what is wrong with them
version_added: 1.0.0
description:
  - Reads every network device of the host (or of one network namespace) with one netlink dump
    (pyroute2), sysfs and the ethtool driver query, without changing anything.
  - Groups the devices that share a MAC into failover groups
    (C(net_failover) 3-netdev, C(netvsc) 2-netdev, C(bond), C(team), or C(unpaired)) and reports
    findings such as an address or DHCP client on a lower device, a MAC mismatch, a missing VF,
    VIRTIO_NET_F_STANDBY not negotiated, kernel-enumerated upper names and legacy configuration.
  - NetworkManager and systemd-networkd are asked only when they run; systemd-networkd is read
    from its state files under C(/run/systemd/netif).
  - The data layout is described in the collection's C(docs/data-model.md).
author:
  - guestnet.failover developers (@guestnet)
requirements:
  - pyroute2 >= 0.7.2 on the target (Debian/Ubuntu and Fedora package C(python3-pyroute2))
options:
  netns:
    description:
      - Name of a network namespace under C(/run/netns) to read instead of the host's.
      - The namespace is read from a forked child process with its own sysfs mount; NetworkManager,
        systemd-networkd and legacy files are not examined for it.
      - The module fails when the namespace does not exist.
    type: str
  include_links:
    description:
      - Include the per-device C(links) list in the facts. Groups and findings are always returned.
    type: bool
    default: true
  probe_managers:
    description:
      - Ask NetworkManager (C(nmcli)) and systemd-networkd (state files) which devices they manage,
        when they run.
    type: bool
    default: true
  sysfs_root:
    description:
      - Where sysfs is mounted. Only useful for tests.
    type: path
    default: /sys
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: linux
notes:
  - The failover master of net_failover has no link kind; it is recognised by its ethtool driver
    C(net_failover), the parent device it shares with the standby, the C(master) links of its lowers
    and virtio feature bit 62 (C(VIRTIO_NET_F_STANDBY)).
seealso:
  - name: Linux net_failover documentation
    description: The 3-netdev failover model.
    link: https://docs.kernel.org/networking/net_failover.html
  - name: Linux netvsc documentation
    description: The Hyper-V 2-netdev model.
    link: https://docs.kernel.org/networking/device_drivers/ethernet/microsoft/netvsc.html
"""

EXAMPLES = r"""
- name: Discover failover groups
  guestnet.failover.netdev_facts:

- name: Read a network namespace, groups and findings only
  guestnet.failover.netdev_facts:
    netns: lab0
    include_links: false

- name: Fail when a lower device carries an address
  ansible.builtin.assert:
    that: >-
      ansible_facts.guestnet_failover.findings
      | selectattr('code', 'equalto', 'LOWER_HAS_ADDRESS') | list | length == 0

- name: Print the topology tree
  ansible.builtin.debug:
    msg: "{{ ansible_facts.guestnet_failover | guestnet.failover.topology_report }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts set by the module.
  returned: always
  type: complex
  contains:
    guestnet_failover:
      description: Discovered topology.
      returned: always
      type: complex
      contains:
        netns:
          description: The network namespace read, null for the host's.
          returned: always
          type: str
          sample: null
        links:
          description:
            - One dict per netdev (docs/data-model.md "Raw capture").
            - Keys are C(name), C(ifindex), C(altnames), C(mac), C(perm_mac), C(kind), C(slave_kind),
              C(master), C(flags), C(carrier), C(operstate), C(mtu), C(driver) (ethtool), C(bus_info),
              C(device_driver) (sysfs), C(device_path), C(virtio_features), C(standby_feature) (bit 62),
              C(phys_port_name), C(name_assign_type), C(addresses) (C(family), C(address), C(prefixlen),
              C(scope), C(flags)), C(has_route), and C(bond) for bonds.
          returned: when O(include_links=true)
          type: list
          elements: dict
          sample:
            - name: eth0
              ifindex: 3
              mac: "52:54:00:12:34:56"
              perm_mac: "52:54:00:12:34:56"
              kind: null
              master: null
              driver: net_failover
              device_driver: virtio_net
              bus_info: "0000:01:00.0"
              standby_feature: true
              name_assign_type: 1
              flags: [UP, BROADCAST, RUNNING, MULTICAST, LOWER_UP]
              carrier: true
              addresses: [{family: inet, address: 192.0.2.10, prefixlen: 24, scope: global, flags: [permanent]}]
              has_route: true
        groups:
          description:
            - One dict per failover group with C(model) (C(net_failover), C(netvsc), C(bond), C(team), C(unpaired)),
              C(mac), C(upper), C(standby), C(primary), C(active), C(pv_driver), C(vf_driver) and C(members).
          returned: always
          type: list
          elements: dict
          sample:
            - model: net_failover
              mac: "52:54:00:12:34:56"
              upper: eth0
              standby: eth0nsby
              primary: enp2s0
              active: enp2s0
              pv_driver: virtio_net
              vf_driver: e1000e
              members: [eth0, eth0nsby, enp2s0]
        findings:
          description: Problems found, errors first, each with C(code), C(severity), C(device), C(group_mac), C(message), C(remedy).
          returned: always
          type: list
          elements: dict
          sample:
            - code: LOWER_HAS_ADDRESS
              severity: error
              device: eth0nsby
              group_mac: "52:54:00:12:34:56"
              message: "eth0nsby (standby of eth0) carries 192.0.2.10/24"
              remedy: "Mark eth0nsby unmanaged and configure L3 on eth0 only (guestnet.failover.failover_config)."
        summary:
          description: Number of findings per severity.
          returned: always
          type: dict
          sample: {error: 1, warning: 0, info: 0}
        managers:
          description: Per device, whether C(NetworkManager) manages it and the C(networkd) admin state; null when not running.
          returned: always
          type: dict
          sample: {NetworkManager: null, networkd: {eth0: configured, eth0nsby: unmanaged}}
        nm_connections:
          description:
            - Per device NetworkManager has connected, the id of the profile it runs (from the same nmcli call as
              C(managers)); null when NetworkManager is not running.
            - Lets the roles see that NetworkManager already runs the collection's profiles without asking again.
          returned: always
          type: dict
          sample: {bond0: guestnet-failover-bond0, bond0pv: guestnet-failover-bond0-pv}
        dhcp_clients:
          description: Device name to the DHCP clients whose command line names it.
          returned: always
          type: dict
          sample: {eth0nsby: [dhclient]}
        legacy:
          description: Legacy configuration files found (C(path), C(kind), C(line)).
          returned: always
          type: list
          elements: dict
          sample: []
        ifenslave_hooks:
          description:
            - SHA-1 of each of ifenslave's post-down hook, its diverted original (C(ifenslave.distrib)) and
              NetworkManager's C(01-ifupdown) dispatcher that are present, by file name; null for a named netns.
            - What the apply role's ifenslave guard decides from (Debian bug 982841), read with discovery.
          returned: always
          type: dict
          sample: {ifenslave: 0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33, 01-ifupdown: 62cdb7020ff920e5aa642c3d4066950dd1f01f4d}
        platform:
          description:
            - DMI C(system_vendor) and C(product_name) of the host (null when unreadable), what
              P(guestnet.failover.flavour#filter) decides from when no kernel pairing tells; no C(setup) call needed.
          returned: always
          type: dict
          sample: {system_vendor: QEMU, product_name: "Standard PC (Q35 + ICH9, 2009)"}
        tools:
          description: Whether C(teamd) and C(ethtool), which a team needs, are on the PATH.
          returned: always
          type: dict
          sample: {teamd: false, ethtool: true}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.guestnet.failover.plugins.module_utils import host_read, netdev_read
from ansible_collections.guestnet.failover.plugins.module_utils.classify import groups as classify_groups
from ansible_collections.guestnet.failover.plugins.module_utils.findings import evaluate, summary
from ansible_collections.guestnet.failover.plugins.module_utils.pyroute2_support import require_pyroute2
from ansible_collections.guestnet.failover.plugins.module_utils.validate_values import ConfigError, check_abspath, check_netns


def discover(module):
    """Capture, classify and evaluate; return the guestnet_failover fact."""
    params = module.params
    capture = netdev_read.capture(netns=params["netns"], sysfs_root=params["sysfs_root"],
                                  run_command=module.run_command, probe_managers=params["probe_managers"])
    found_groups = classify_groups(capture)
    found = evaluate(capture, found_groups)
    fact = {
        "netns": capture.get("netns"),
        "groups": found_groups,
        "findings": found,
        "summary": summary(found),
        "managers": capture.get("managers") or {},
        "nm_connections": capture.get("nm_connections"),
        "dhcp_clients": capture.get("dhcp_clients") or {},
        "legacy": capture.get("legacy") or [],
        # the host's, also when a netns is read: the roles decide from them (host_read)
        "ifenslave_hooks": host_read.ifenslave_hooks() if params["netns"] is None else None,
        "platform": host_read.platform(params["sysfs_root"]),
        "tools": host_read.tools(),
    }
    if params["include_links"]:
        fact["links"] = capture["links"]
    return fact


def main():
    module = AnsibleModule(
        argument_spec=dict(
            netns=dict(type="str"),
            include_links=dict(type="bool", default=True),
            probe_managers=dict(type="bool", default=True),
            sysfs_root=dict(type="path", default="/sys"),
        ),
        supports_check_mode=True,
    )
    try:
        if module.params["netns"] is not None:
            check_netns(module.params["netns"], "netns")
        check_abspath(module.params["sysfs_root"], "sysfs_root")
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    require_pyroute2(module)
    try:
        fact = discover(module)
    except netdev_read.CaptureError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ansible_facts={"guestnet_failover": fact})


if __name__ == "__main__":
    main()
