#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: guestnet.failover contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: failover_link
short_description: Apply a failover topology at runtime over netlink, with probe and rollback
version_added: 1.0.0
description:
  - Converges the running network devices of each desired failover group (see the collection's
    C(docs/data-model.md), "Desired group") without a reboot, over netlink (pyroute2).
  - C(bond) creates an active-backup bond down with its options and the PV's permanent MAC,
    enslaves the PV first and the VF second, makes the VF the primary, brings the bond up and
    moves the addresses and routes found on the lowers to it once it has carrier.
  - C(team) writes a teamd activebackup configuration (ethtool link watch, C(hwaddr_policy), PV
    priority 0, VF priority 100) to C(/run/teamd/NAME.conf) and starts C(teamd@NAME.service) when
    the distribution ships that unit, else C(teamd -d) with a pid file.
  - C(net_failover) leaves the pairing to the kernel and only brings the master up, keeps the lowers'
    MTU in sync with it, removes addresses from the lowers and disables IPv6 on them.
  - Whatever the model, lower devices never carry an address, an upper gets addresses only after it
    has carrier, and the upper comes up only after its ports are enslaved.
  - When the VF refuses the PV's MAC (C(EPERM), C(EADDRNOTAVAIL)), a bond uses C(fail_over_mac=active)
    and a team C(hwaddr_policy=by_active); the group's C(notes) say so.
  - With O(probe), the apply is a transaction. If O(probe) does not answer through the upper within
    O(rollback_timeout) seconds, or a step fails, the previous state of the touched devices is restored
    and the module fails with C(rolled_back=true).
  - With O(announcer=true), installs the announcer (a resident watcher on rtnetlink, C(guestnet-announce.service),
    run from a copy of this collection's module_utils in C(/usr/local/lib/guestnet-failover), and a udev rule
    that starts it) that sends gratuitous ARP and unsolicited NA for every address of the upper when a lower
    appears or goes away, and re-enslaves a re-plugged VF into its bond or team. The kernel's net_failover
    announces nothing when it switches.
author:
  - guestnet.failover contributors (@guestnet)
requirements:
  - pyroute2 >= 0.7.2 on the target (Debian/Ubuntu and Fedora package C(python3-pyroute2))
  - teamd (Debian package C(libteam-utils)) for the C(team) model
options:
  groups:
    description:
      - Desired groups as produced by the P(guestnet.failover.desired_groups#filter) filter and accepted by
        M(guestnet.failover.failover_config); validated by the same layer.
      - The PV is the device with the group's permanent MAC and C(pv_driver), the VF any other physical device
        with the MAC, whatever its driver, as the kernel pairs net_failover lowers (a VF that comes back as another
        NIC model is still the group's VF); names are never used to find them.
      - C(ipv4) and C(ipv6) with C(method=static) put exactly those addresses (and the
        default route via C(gateway)) on the upper; otherwise the addresses found on the upper and its
        lowers are kept or moved to the upper, with their remaining lifetimes.
    type: list
    elements: dict
    required: true
  probe:
    description:
      - IPv4 address (usually the gateway) that must answer through the upper after the change.
      - Leave unset to apply without a reachability check and without rollback.
    type: str
  probe_method:
    description:
      - C(arp) sends ARP requests from the upper with a raw socket (no tools needed);
        C(icmp) runs C(ping -I UPPER).
    type: str
    choices: [arp, icmp]
    default: arp
  probe_device:
    description:
      - Device to probe through; defaults to the upper of the first group.
    type: str
  rollback_timeout:
    description:
      - Seconds the probe may take before the previous state is restored.
    type: int
    default: 30
  carrier_timeout:
    description:
      - Seconds to wait for the upper's carrier before adding its addresses (the addresses are added
        after the timeout anyway; the probe decides about rollback).
    type: int
    default: 10
  announcer:
    description:
      - Install the announcer files under C(/) and reload udev and systemd and restart the announcer when they change.
      - After a change it also sends one burst from each changed upper.
    type: bool
    default: false
  carry_l3:
    description:
      - For groups without static addressing, carry the addresses and routes found on the lowers to the upper, so the
        upper keeps connectivity until a network stack configures it.
      - Set to V(false) when a running stack already owns the upper's addressing (NetworkManager re-activates the
        upper with its own DHCP lease); the upper then keeps only its own addresses and routes, and the lowers' are
        dropped rather than carried beside the stack's.
      - What is carried is recorded in C(/run/guestnet-failover.carry) before the lowers lose it and the record is
        removed when the run is over; a run killed in between leaves it, and the next run puts those addresses and
        routes on the upper.
    type: bool
    default: true
  lock_timeout:
    description:
      - Runs are serialised with the lock of M(guestnet.failover.failover_config) (C(/run/guestnet-failover.lock)).
        A run waits up to this many seconds for another one to finish, then fails naming the lock and the holder's pid.
    type: int
    default: 900
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Returns the before/after topology summary of every group.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: linux
notes:
  - Runtime only. M(guestnet.failover.failover_config) writes the configuration that survives a reboot
    (and can ship the announcer files with it).
  - The rollback runs in the module process on the target and ignores SIGHUP, so it also completes when
    the controller's connection was cut by the change.
  - The bond and team announcer re-enslaving covers a VF that comes back with the group's MAC.
  - Kernel carrier changes without a device appearing or going away emit no uevent; the bond and the
    team driver announce those themselves (C(num_grat_arp), C(notify_peers)).
seealso:
  - module: guestnet.failover.failover_config
  - module: guestnet.failover.netdev_facts
  - name: Linux net_failover documentation
    description: The 3-netdev failover model.
    link: https://docs.kernel.org/networking/net_failover.html
  - name: Linux bonding documentation
    description: Active-backup mode, fail_over_mac, primary.
    link: https://docs.kernel.org/networking/bonding.html
"""

EXAMPLES = r"""
- name: Bond the virtio NIC and its VF now, roll back if the gateway stops answering
  guestnet.failover.failover_link:
    groups:
      - name: bond0
        model: bond
        mac: "52:54:00:12:34:56"
        pv_driver: virtio_net
        vf_drivers: [mlx5_core, iavf, ixgbevf]
        bond:
          miimon: 100
    probe: 192.0.2.1
    rollback_timeout: 20

- name: Quiet net_failover lowers and install the announcer
  guestnet.failover.failover_link:
    groups: "{{ guestnet_failover.groups | guestnet.failover.desired_groups('kvm') }}"
    announcer: true

- name: Team variant, predicted only
  guestnet.failover.failover_link:
    groups:
      - name: team0
        model: team
        mac: "52:54:00:12:34:56"
        pv_driver: virtio_net
        vf_drivers: [e1000e]
        team:
          hwaddr_policy: same_all
  check_mode: true
  diff: true
"""

RETURN = r"""
groups:
  description: One entry per group, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    upper:
      description: The upper device (bond, team or failover master).
      type: str
      sample: bond0
    model:
      description: The group's model.
      type: str
      sample: bond
    pv:
      description: The PV found by permanent MAC and driver.
      type: str
      sample: enp1s0
    vf:
      description: The VF found by MAC and driver, null when absent.
      type: str
      sample: enp2s0
    changed:
      description: Whether this group needed steps.
      type: bool
    steps:
      description: The netlink/teamd steps planned (and, unless check mode, applied), in order.
      type: list
      elements: dict
      sample: [{"op": "bond_add", "dev": "bond0", "mac": "52:54:00:12:34:56"}]
    notes:
      description: Decisions worth knowing, e.g. fail_over_mac=active because the VF refused the MAC.
      type: list
      elements: str
    fail_over_mac:
      description: The bond's fail_over_mac (null for other models).
      type: str
      sample: none
rolled_back:
  description: Whether the previous state was restored (the module then fails).
  returned: always
  type: bool
  sample: false
rollback_errors:
  description: Steps of the rollback that failed, if any.
  returned: when rolled back
  type: list
  elements: str
probe:
  description: Probe outcome (C(target), C(device), C(method), C(reachable), C(seconds)), null without probe or change.
  returned: always
  type: dict
  sample: {"target": "192.0.2.1", "device": "bond0", "method": "arp", "reachable": true, "seconds": 0.41}
apply_seconds:
  description: Time the steps took.
  returned: when changed and not in check mode
  type: float
  sample: 1.2
announcer:
  description: Announcer files written (C(changed_files)); null when O(announcer=false).
  returned: always
  type: dict
  sample: {"changed_files": ["/etc/udev/rules.d/61-guestnet-announce.rules"]}
diff:
  description: Before/after topology summary text.
  returned: when diff mode
  type: dict
"""

import os
import signal

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.guestnet.failover.plugins.module_utils import announce, announce_watch, link_apply, runlock
from ansible_collections.guestnet.failover.plugins.module_utils.files_root import FileError, Root
from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import open_iproute
from ansible_collections.guestnet.failover.plugins.module_utils.pyroute2_support import require_pyroute2
from ansible_collections.guestnet.failover.plugins.module_utils.validate import ConfigError, check_link_options, normalize


def install_announcer(module, groups, uppers):
    files = announce.render_files([dict(g, upper=uppers.get(g["mac"]) or g.get("name")) for g in groups])
    unit_is_new = not os.path.lexists(announce.UNIT_PATH)
    changed = announce.install(files, check_mode=module.check_mode)
    if changed and not module.check_mode:
        module.run_command(["udevadm", "control", "--reload"])
        if announce.needs_daemon_reload(unit_is_new, module.run_command):
            module.run_command(["systemctl", "daemon-reload"])
        # the watcher is resident: a restart loads the new configuration and code
        module.run_command(["systemctl", "restart", announce.SERVICE])
    return changed


def apply(module, root):
    params = module.params
    try:
        # runtime apply has no network stack: validate with the backend that has no stack-specific limits
        groups = normalize(params["groups"], "NetworkManager")
        check_link_options(params["probe"], params["probe_method"], params["probe_device"],
                           params["rollback_timeout"], params["carrier_timeout"])
    except ConfigError as exc:
        module.fail_json(msg=str(exc), changed=False)
    if params["probe"]:
        # the rollback must finish even when the change cut the controller's connection
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with open_iproute() as ipr:
        try:
            result = link_apply.run(
                ipr, groups, check_mode=module.check_mode, probe_target=params["probe"],
                probe_method=params["probe_method"], probe_device=params["probe_device"],
                rollback_timeout=params["rollback_timeout"], carrier_timeout=params["carrier_timeout"],
                announcer=announce_watch.send_burst if params["announcer"] else None, carry_l3=params["carry_l3"],
                # what a killed run was carrying from the lowers to an upper (recorded before the lowers lost it)
                owed=runlock.read_carry(root), record=lambda carried: runlock.write_carry(root, carried))
        except link_apply.RolledBack as exc:
            extra = getattr(exc, "result", {}) or {}
            module.fail_json(msg=str(exc), rolled_back=True, rollback_errors=exc.errors,
                             probe=extra.get("probe"), groups=extra.get("groups", []))
        except link_apply.LinkApplyError as exc:
            module.fail_json(msg=str(exc), rolled_back=False)
    changed = result["changed"]
    result["announcer"] = None
    if params["announcer"]:
        uppers = dict((g["mac"], r["upper"]) for g, r in zip(groups, result["groups"]))
        try:
            files = install_announcer(module, groups, uppers)
        except (FileError, OSError, ValueError) as exc:  # FileError names the path; the links are applied already
            module.fail_json(msg="announcer: %s" % exc, changed=changed, groups=result["groups"])
        result["announcer"] = {"changed_files": files}
        changed = changed or bool(files)
    out = {"changed": changed, "groups": result["groups"], "rolled_back": False, "probe": result["probe"],
           "announcer": result["announcer"]}
    if "apply_seconds" in result:
        out["apply_seconds"] = result["apply_seconds"]
    if module._diff:
        out["diff"] = {"before": result["before"], "after": result["after"]}
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            groups=dict(type="list", elements="dict", required=True),
            probe=dict(type="str"),
            probe_method=dict(type="str", choices=["arp", "icmp"], default="arp"),
            probe_device=dict(type="str"),
            rollback_timeout=dict(type="int", default=30),
            carrier_timeout=dict(type="int", default=10),
            announcer=dict(type="bool", default=False),
            lock_timeout=dict(type="int", default=runlock.DEFAULT_TIMEOUT),
            carry_l3=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    require_pyroute2(module)
    try:
        # the same lock as failover_config: a run of either module waits for the other's writes, reloads and links
        with Root("/") as root, runlock.held(root, module.params["lock_timeout"]):
            out = apply(module, root)
    except runlock.Busy as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
