#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: guestnet.failover contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: failover_config
short_description: Write persistent network failover configuration (udev, networkd, NetworkManager, netplan, ifupdown)
version_added: 1.0.0
description:
  - Writes the files that make each desired failover group (see the collection's C(docs/data-model.md),
    "Desired group") come up right on every boot, for one network stack.
  - Lower devices (net_failover standby and primary, the netvsc VF) are left alone by every stack
    (udev C(NM_UNMANAGED), C(ID_NET_MANAGED_BY), networkd C(Unmanaged=yes)) and get IPv6 off, so only
    the upper device carries L3 configuration and its link-local address passes DAD.
  - Uppers are matched by MAC plus driver (C(net_failover), C(hv_netvsc)), never by MAC alone and never by
    the VF's PCI address; a group with a C(name) gets that persistent name through a C(.link) file.
  - Bond and team groups get an active-backup master with the PV's permanent MAC, the VF (matched by
    driver and MAC) as primary, and fast failover defaults.
  - Every value is validated before anything is written; an invalid group fails the task and writes nothing.
  - Files carry a C(Managed by guestnet.failover) header; files with that header that are no longer
    planned are removed, so changing the backend or the groups leaves nothing stale behind. The announcer's files
    are owned too and removed with O(announcer=false) or when no group is left.
  - Every target directory is checked before the first write and every file is staged first; a failure names the
    path, and C(changed) says whether something was written already. Files and created directories are owned by
    root, directories are created C(0755) whatever the umask, and a wrong owner is a change like a wrong mode.
  - With O(root) other than C(/) (building an image) only files under O(root) are written; nothing is
    reloaded or rebuilt and no service is asked anything.
author:
  - guestnet.failover developers (@guestnet)
options:
  groups:
    description:
      - Desired groups, as produced by the P(guestnet.failover.desired_groups#filter) filter.
      - Keys C(name), C(model) (C(net_failover), C(netvsc), C(bond), C(team)), C(mac) (the PV's permanent MAC),
        C(pv_driver), C(vf_drivers), C(ipv4) (C(method) C(dhcp), C(static) or C(disabled), C(addresses), C(gateway)),
        C(ipv6) (C(method) C(auto), C(static) or C(disabled), C(addresses), C(gateway)), C(dns).
      - C(vf_drivers) tell the VF from the PV when groups are found. The files match a bond or team VF as any
        physical device with its permanent MAC but the PV, whatever its driver (as the kernel pairs net_failover
        lowers), so a VF that comes back as another NIC model is still a port and never a second device with the
        MAC; only netplan, which cannot negate a driver match, matches the VF port on C(vf_drivers).
      - Bond and team groups also take C(vf_mac_settable) (default true; false selects C(fail_over_mac=active)
        and C(hwaddr_policy=by_active)), C(vf_mac) (default C(mac)), C(pv_name) and C(vf_name) (port names,
        default C(name) + C(pv) / C(vf)), and C(bond) (C(miimon), C(updelay), C(downdelay), C(arp_interval),
        C(arp_ip_target), C(arp_validate), C(arp_all_targets), C(fail_over_mac), C(primary_reselect),
        C(num_grat_arp), C(num_unsol_na)) or C(team) (C(hwaddr_policy), C(link_watch), C(delay_up),
        C(delay_down), C(notify_peers), C(mcast_rejoin)) options.
      - Bond options follow the kernel rules (miimon and arp_interval exclusive, arp_ip_target needs arp_interval,
        updelay/downdelay multiples of miimon, num_grat_arp equal to num_unsol_na).
    type: list
    elements: dict
    required: true
  backend:
    description:
      - Network stack to write for.
      - C(auto) picks netplan when it has configuration of its own, else the first of NetworkManager,
        systemd-networkd and ifupdown (C(networking.service)) that is active, or, under an image O(root),
        enabled (unit symlinks under C(etc/systemd/system/*.wants)).
      - systemd-networkd and netplan have no team support; team groups need C(NetworkManager) or C(ifupdown).
    type: str
    choices: [auto, networkd, NetworkManager, netplan, ifupdown]
    default: auto
  root:
    description:
      - Root of the system to configure, an existing directory given as an absolute path. An empty string is an error.
      - Image or running system is decided once from the resolved path; a root that is the same directory as C(/)
        (C(//), C(/./), a symlink to C(/)) is the running system. Anything else is an image root where only files
        are written (RV(image_mode)).
      - An image root is untrusted; every path in it is resolved like a chroot would (symlinks followed relative to
        the root, never to this host) and a symlink where a planned file belongs is replaced, not followed.
    type: path
    default: /
  initramfs:
    description:
      - Copy the udev rules and C(.link) files into the initramfs with an initramfs-tools hook or a dracut module.
      - C(auto) picks by what is installed under O(root).
    type: str
    choices: [auto, initramfs-tools, dracut, none]
    default: auto
  initramfs_rebuild:
    description:
      - Bring the initramfs up to date when a file it contains changed. With initramfs-tools the udev rules and
        C(.link) files are an early cpio segment of their own that is swapped in place in every
        C(boot/initrd.img-*) under O(root) (seconds, where C(update-initramfs -u) takes minutes), on a running host
        and in an image alike; the hook adds the same segment whenever the distribution rebuilds an initrd.
      - A full rebuild is only needed when an initrd's main archive may hold copies from an earlier hook. That
        hook (it copies the files, C(copy_file)) is still in place when the segment is first added, so the
        decision reads the hook, never unpacks the initrd, and check mode predicts it. On a
        running host it runs C(update-initramfs -u -k VERSION); under an image O(root) nothing is run and
        RV(initramfs_rebuild_needed) tells the caller to do it in the chroot.
      - dracut builds one compressed archive; its module also writes a marker with a digest of the files it copied.
        On a running host each initrd's marker is read (C(lsinitrd -f), check mode too) and C(dracut -f INITRD
        VERSION) runs for every initrd that does not hold the current files; under an image root
        RV(initramfs_rebuild_needed) is set when the files changed.
    type: bool
    default: true
  cloud_init:
    description:
      - "Install C(/etc/cloud/cloud.cfg.d/99-guestnet-failover.cfg) with C(network: {config: disabled}) so cloud-init
        stops rewriting the network configuration (it matches the shared MAC alone)."
    type: bool
    default: false
  remove_legacy:
    description:
      - Remove bondvf.sh-era bond files (C(ifcfg-bondvf*) and their slaves, C(interfaces.d/bondvf*)) and stale Azure VF
        udev rules (C(68-azure-sriov-nm-unmanaged.rules), C(10-azure-unmanaged-sriov.rules) under C(/etc)), only when
        their content matches the known pattern.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of every file before it is replaced or removed, next to it inside O(root).
    type: bool
    default: false
  lowers_silent:
    description:
      - Turn IPv6 off on lower devices (udev C(SYSCTL{net/ipv6/conf/%k/disable_ipv6})).
    type: bool
    default: true
  announcer:
    description:
      - Also write the announcer files of M(guestnet.failover.failover_link) (udev rule, systemd unit, the watcher's code),
        so an image built under O(root) sends gratuitous ARP and unsolicited NA on failover from the first boot.
      - Every group needs a C(name) for it.
    type: bool
    default: false
  reload:
    description:
      - On a running host, when files changed, run C(udevadm control --reload) and replay C(change) events for net devices
        (udev rules or C(.link) files changed)
        and C(networkctl reload), C(nmcli connection reload) or C(netplan generate) (stack files changed).
      - ifupdown has no reload; C(ifup NAME) brings up the net_failover/netvsc uppers of a changed file. It is a no-op for
        an upper that is up already, so changed addressing of such an upper needs C(ifdown)/C(ifup) or a reboot.
      - A stack whose service is not running is not asked to reload; it reads the files when it starts.
      - The announcer's unit is restarted; C(systemctl daemon-reload) runs first when its unit file changed or was
        removed, or when it is new and systemd is older than 246 (from 246 systemd loads a unit file it never loaded
        when asked to start it).
      - These commands are owed until they succeed. A run killed or failing after it wrote files leaves a note
        (C(/run/guestnet-failover.pending)), and the next run runs them even when the files are already in place.
    type: bool
    default: true
  activate:
    description:
      - On a running host whose backend is C(NetworkManager) (running), bring up each bond/team master profile that this
        run wrote (or still owes) or that is not active, with C(nmcli --wait 90 connection up). NetworkManager keeps an
        active profile's old settings until then, and owns the bond or team at runtime.
      - For a bond, also make the VF the primary under the name it has now (C(ip link set dev BOND type bond primary VF))
        when that differs. The profile names it by its persistent name, which it gets at the next boot or re-plug.
      - Owed like the reloads (see O(reload)). Check mode predicts both from the same reads.
    type: bool
    default: true
  lock_timeout:
    description:
      - Runs are serialised per root (C(/run/guestnet-failover.lock) on the running system, the root directory itself
        under an image root). A second run waits up to this many seconds for the first, then fails naming the lock.
    type: int
    default: 900
attributes:
  check_mode:
    support: full
    description: Reports exactly the files and actions a real run would change and run.
  diff_mode:
    support: full
    description: One before/after entry per changed file.
  platform:
    description: Target OS/families that can be operated against.
    platforms: linux
    support: full
notes:
  - Upper names through C(.link) files apply when a device is added (next boot or hotplug); renaming a live
    device is the job of M(guestnet.failover.failover_link).
  - Pick upper names outside the kernel's C(ethN) namespace where possible, a rename onto a name the kernel
    gave another device fails.
seealso:
  - module: guestnet.failover.netdev_facts
  - module: guestnet.failover.failover_link
"""

EXAMPLES = r"""
- name: Persistent configuration for the discovered KVM failover groups
  guestnet.failover.failover_config:
    groups: "{{ ansible_facts.guestnet_failover.groups | guestnet.failover.desired_groups('kvm') }}"
    backend: auto

- name: net_failover group with a static address, for systemd-networkd
  guestnet.failover.failover_config:
    backend: networkd
    groups:
      - name: lan0
        model: net_failover
        mac: "52:54:00:12:34:56"
        pv_driver: virtio_net
        vf_drivers: [mlx5_core, ixgbevf, iavf]
        ipv4: {method: static, addresses: [192.0.2.10/24], gateway: 192.0.2.1}
        ipv6: {method: auto}
        dns: [192.0.2.53]

- name: Bond fallback for a VF that cannot take the PV's MAC, in an image being built
  guestnet.failover.failover_config:
    root: /srv/image
    backend: NetworkManager
    cloud_init: true
    groups:
      - name: bond0
        model: bond
        mac: "52:54:00:aa:bb:cc"
        pv_driver: virtio_net
        vf_drivers: [iavf]
        vf_mac_settable: false
        bond: {miimon: 100, num_grat_arp: 3}
  register: image_net

- name: Rebuild the image's initramfs when the rules changed
  ansible.builtin.command: chroot /srv/image update-initramfs -u
  when: image_net.initramfs_rebuild_needed
  changed_when: true
"""

RETURN = r"""
changed:
  description: Whether any file was (or in check mode would be) written or removed.
  returned: always
  type: bool
files:
  description: Absolute paths of the files written or removed (or that would be in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/network/05-guestnet-failover-lan0.network, /etc/udev/rules.d/81-guestnet-failover.rules]
removed:
  description: The subset of RV(files) that was removed (stale files of ours, legacy files).
  returned: always
  type: list
  elements: str
backups:
  description: Map of changed file to its backup copy, with O(backup=true).
  returned: always
  type: dict
backend:
  description:
    - The backend written for (the detected one with O(backend=auto)).
    - V(null) when O(groups) is empty and no network stack was found (only stale files are pruned then).
  returned: always
  type: str
  sample: networkd
initramfs:
  description: The initramfs kind used (the detected one with O(initramfs=auto)).
  returned: always
  type: str
  sample: initramfs-tools
image_mode:
  description: True when the resolved O(root) is not the running system's root; roles follow this answer.
  returned: always
  type: bool
root:
  description: The resolved root (C(/) for the running system).
  returned: always
  type: str
  sample: /srv/image
temp_files_removed:
  description: Temporary files (C(.guestnet-failover.*)) left by killed runs that were (or would be) removed.
  returned: always
  type: list
  elements: str
path:
  description: The file or directory a failure is about.
  returned: failed
  type: str
actions:
  description: Commands run (or that would run in check mode) after the files changed.
  returned: always
  type: list
  elements: str
  sample: [udevadm control --reload, networkctl reload, update-initramfs -u]
initrds:
  description:
    - Initrds under O(root) whose early segment with the udev rules and C(.link) files was refreshed
      (initramfs-tools; a file copy, no rebuild) or that were rebuilt (see RV(initrds_rebuilt); with dracut every one is rebuilt).
    - Compared by content on every run, so a run killed after writing the files is completed by the next one.
  returned: always
  type: list
  elements: str
  sample: [/boot/initrd.img-6.1.0-50-amd64]
initrds_rebuilt:
  description:
    - The subset of RV(initrds) rebuilt with C(update-initramfs -u -k VERSION) instead, once, because the main
      archive held files of an earlier hook, legacy rules were removed, or the initrd could not be parsed; with
      dracut, every initrd rebuilt with C(dracut -f INITRD VERSION).
  returned: always
  type: list
  elements: str
  sample: []
initramfs_rebuild_needed:
  description:
    - True when a file copied into the initramfs changed and the initramfs was not rebuilt here
      (image mode, or O(initramfs_rebuild=false)); rebuild it in the chroot.
  returned: always
  type: bool
planned:
  description: Every file of the plan (absolute paths), changed or not.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.guestnet.failover.plugins.module_utils import announce, files as filesmod, files_root
from ansible_collections.guestnet.failover.plugins.module_utils import initramfs as initramfsmod
from ansible_collections.guestnet.failover.plugins.module_utils import initrds
from ansible_collections.guestnet.failover.plugins.module_utils import (
    nm_runtime, plan, render_extras, render_ifupdown, runlock, validate,
)

# files inside the initramfs (ours and the legacy rules we may remove), and the files putting them there
INITRAMFS_PREFIXES = ("etc/udev/rules.d/81-guestnet-failover", "etc/udev/rules.d/68-azure-", "etc/udev/rules.d/10-azure-",
                      "etc/systemd/network/10-guestnet-failover-", "etc/initramfs-tools/hooks/guestnet-failover",
                      "usr/lib/dracut/modules.d/90guestnet-failover/")
UDEV_PREFIXES = ("etc/udev/rules.d/", "etc/systemd/network/10-guestnet-failover-")
STACK_PREFIXES = {
    "networkd": ("etc/systemd/network/0",),
    "NetworkManager": ("etc/NetworkManager/",),
    "netplan": ("etc/netplan/",),
    "ifupdown": (),
}
STACK_RELOAD = {
    "networkd": ["networkctl", "reload"],
    "NetworkManager": ["nmcli", "connection", "reload"],
    "netplan": ["netplan", "generate"],
}
STACK_UNIT = {"networkd": "systemd-networkd.service", "NetworkManager": "NetworkManager.service", "ifupdown": "networking.service"}
# long enough for another run's full initramfs rebuild under emulation (update-initramfs -u: ~10 min in a TCG guest)
LOCK_TIMEOUT = runlock.DEFAULT_TIMEOUT
# legacy rules we remove that an initrd's main archive may still hold: only a full rebuild drops them
LEGACY_INITRAMFS_PREFIXES = ("etc/udev/rules.d/68-azure-", "etc/udev/rules.d/10-azure-")
ANNOUNCER_UNIT = "etc/systemd/system/guestnet-announce.service"  # announce.UNIT_PATH (test_failover_config checks)
SYSFS = "/sys"  # the running system's, read for NetworkManager's bonds (nm_runtime)


def _announcer_files(groups, backend):
    """The announcer's files as {relative path: (content, mode)}; its module owns their format. None without groups.

    NetworkManager's port profiles re-attach a re-plugged bond/team port: there the announcer only announces.
    """
    if not groups:
        return {}
    files = announce.render_files(groups, "/", rejoin=backend != "NetworkManager")
    return dict((item["path"].lstrip("/"), (item["content"], int(item["mode"], 8))) for item in files)


def is_image_root(root):
    """True when ``root`` (resolved by files_root.resolve_root) is not the running system's root."""
    return files_root.resolve_root(root) != "/"


def configure(params, check_mode=False, run_command=None, backup=None):
    """Plan, compare and (unless ``check_mode``) write; return the module result.

    ``run_command(argv) -> (rc, out, err)`` runs commands on a live host; ``backup(path)`` saves a file (without it
    O(backup) copies inside the root). Raises validate.ConfigError before touching anything when the input is
    invalid, files.FileError (path named, ``changed`` truthful) when the root or a file operation fails, and
    RuntimeError when a command fails after the files were written.
    """
    root_param = params.get("root")
    root = files_root.Root("/" if root_param is None else root_param)
    try:
        with runlock.held(root, params.get("lock_timeout", LOCK_TIMEOUT)):
            return _configure(root, params, check_mode, run_command, backup)
    except OSError as exc:
        # reading the root (planning) failed: nothing was written yet
        path = exc.filename if isinstance(exc.filename, str) else root.path
        raise filesmod.FileError(path, exc.strerror or str(exc), changed=False)
    finally:
        root.close()


def _configure(root, params, check_mode, run_command, backup):
    # decided once, from the resolved root: "", "//", "/./" or a symlink to / never pass for an image
    image_mode = is_image_root(root.path)
    backend = params.get("backend") or "auto"

    def is_active(unit):
        if run_command is None:
            return False
        rc, dummy, dummy2 = run_command(["systemctl", "is-active", "--quiet", unit])
        return rc == 0

    def nm_profile_activated(profile):
        rc, out, dummy = run_command(["nmcli", "-g", "GENERAL.STATE", "connection", "show", "id", profile])
        return rc == 0 and out.strip() == "activated"

    groups = params.get("groups") or []
    if backend == "auto":
        try:
            backend = plan.detect_backend(root, image_mode, None if image_mode else is_active)
        except validate.ConfigError:
            if groups:
                raise
            backend = None  # nothing to render for any stack; what earlier runs wrote is still pruned below
    initramfs = params.get("initramfs") or "auto"
    if initramfs == "auto":
        initramfs = plan.detect_initramfs(root)
    planned = {}
    if backend is not None:
        planned = plan.plan_files(groups, backend, {
            "lowers_silent": params.get("lowers_silent", True),
            "cloud_init": params.get("cloud_init", False),
            "initramfs": initramfs,
        })
    modes = {}
    if params.get("announcer"):
        try:
            extra = _announcer_files(groups, backend)
        except ValueError as exc:
            raise validate.ConfigError("announcer: %s" % exc)
        for rel, (content, mode) in extra.items():
            planned[rel] = content
            modes[rel] = mode

    stale = [p for p in filesmod.owned_files(root) if p not in planned]
    legacy = plan.legacy_files(root) if params.get("remove_legacy") else []
    temp_dirs = set(filesmod.OWNED_DIRS) | set(os.path.dirname(p) for p in list(planned) + list(filesmod.OWNED_PATHS))
    temps = filesmod.stale_temps(root, temp_dirs)
    change_list = filesmod.changes(root, planned, stale + legacy, modes, temps)
    changed_paths = [c["path"] for c in change_list if c["reason"] != "temp"]

    actions = []
    rebuild_needed = False
    initramfs_changed = any(p.startswith(INITRAMFS_PREFIXES) for p in changed_paths)
    # files an earlier run wrote without its reloads (killed, or a reload failed): their work is still due
    pending = [] if image_mode else runlock.read_pending(root, planned)
    work_paths = sorted(set(changed_paths) | set(pending))
    # a stack that is not running reads its files when it starts: asking it to reload would fail
    wants_activation = backend == "NetworkManager" and params.get("activate", True) \
        and any(group.get("model") in nm_runtime.MASTER_MODELS for group in groups)
    stack_running = not image_mode and (work_paths and params.get("reload", True) or wants_activation) \
        and (backend not in STACK_UNIT or is_active(STACK_UNIT[backend]))
    if work_paths and not image_mode and params.get("reload", True):
        if any(p.startswith(UDEV_PREFIXES) for p in work_paths):
            actions.append(["udevadm", "control", "--reload"])
            # Devices that exist already only see new rules on an event: replay "change" so the lowers get
            # NM_UNMANAGED / ID_NET_MANAGED_BY and disable_ipv6 before the stack below brings the upper up
            # (a lower with IPv6 on while the upper runs DAD makes the upper's link-local dadfailed).
            actions.append(["udevadm", "trigger", "--subsystem-match=net", "--action=change"])
            actions.append(["udevadm", "settle", "--timeout=30"])
        unit_paths = [p for p in work_paths if p.startswith("etc/systemd/system/")]
        created = set(c["path"] for c in change_list if c["reason"] == "create")
        if unit_paths and announce.needs_daemon_reload(set(unit_paths) <= created, run_command):
            actions.append(["systemctl", "daemon-reload"])
        if any(p in filesmod.OWNED_PATHS for p in work_paths):
            # the announcer is resident: restarted to load its new code and configuration, stopped when pruned
            if ANNOUNCER_UNIT in planned or is_active(os.path.basename(ANNOUNCER_UNIT)):
                actions.append(["systemctl", "restart" if ANNOUNCER_UNIT in planned else "stop", os.path.basename(ANNOUNCER_UNIT)])
        if backend in STACK_RELOAD and stack_running and any(p.startswith(STACK_PREFIXES[backend]) for p in work_paths):
            actions.append(STACK_RELOAD[backend])
        if backend == "ifupdown" and stack_running and render_ifupdown.PATH in work_paths:
            # ifupdown has no reload: bring up the kernel-paired uppers it now knows (a no-op when already up;
            # bonds and teams are built by failover_link). Changed addressing of an upper that is up needs ifdown/ifup.
            for group in params.get("groups") or []:
                if group.get("model") in ("net_failover", "netvsc") and group.get("name"):
                    actions.append(["ifup", group["name"]])
    if wants_activation and stack_running:
        # NetworkManager owns bonds and teams at runtime too: their profiles come up now (nm_runtime)
        actions += nm_runtime.actions(validate.normalize(groups, backend), work_paths, nm_profile_activated, SYSFS)
    initrd_updates = []
    if initramfs == "initramfs-tools" and params.get("initramfs_rebuild", True):
        # compared by content on every run: a run killed after writing the files is completed by the next one.
        # Only the old hook copied our files into the main archive, and it stays in place until this run replaces
        # it: it tells what the main archive may hold without unpacking it (lsinitramfs: 6-12 s under TCG).
        old_hook = "copy_file" in (filesmod.read(root, render_extras.INITRAMFS_TOOLS_HOOK)[0] or "")
        if any(p.startswith(LEGACY_INITRAMFS_PREFIXES) for p in changed_paths):
            initrd_updates = [(rel, version, initrds.REBUILD) for rel, version in initrds.found(root)]
        else:
            initrd_updates = initrds.segment_updates(root, initramfsmod.segment_files(planned), old_hook)
        if image_mode and any(new == initrds.REBUILD for dummy, dummy2, new in initrd_updates):
            rebuild_needed = True
            initrd_updates = [u for u in initrd_updates if u[2] != initrds.REBUILD]
    elif initramfs == "dracut" and params.get("initramfs_rebuild", True) and not image_mode:
        initrd_updates = initrds.dracut_updates(root, plan.initramfs_marker(planned), run_command)
    elif initramfs_changed and initramfs in initrds.REBUILD_COMMAND:
        # an image (no decompressor for its initrds here) or initramfs_rebuild=false: the caller rebuilds
        rebuild_needed = True

    backups = {}
    removed_dirs = []
    if not check_mode and actions:
        runlock.write_pending(root, work_paths)  # before the first write: a kill from here on leaves it
    if not check_mode and change_list:
        wants_backup = bool(params.get("backup"))
        backups = filesmod.apply(root, change_list, backup if wants_backup else None,
                                 do_backup=wants_backup and backup is None)
        if any(c["after"] is None for c in change_list):
            removed_dirs = filesmod.prune_empty_dirs(root)
    if not check_mode:
        for argv in actions:
            rc, out, err = run_command(argv)
            if rc != 0:
                raise RuntimeError("%s failed (rc %d): %s" % (" ".join(argv), rc, (err or out).strip()))
        if pending or actions:
            runlock.clear_record(root)
    if not check_mode:
        for rel, version, new in initrd_updates:
            if new == initrds.REBUILD:
                argv = initrds.rebuild_argv(initramfs, root, rel, version)
                rc, out, err = run_command(argv)
                if rc != 0:
                    raise RuntimeError("%s failed (rc %d): %s" % (" ".join(argv), rc, (err or out).strip()))
            else:
                try:
                    initrds.write(root, rel, new)
                except OSError as exc:
                    raise filesmod.FileError(filesmod.full_path(root, rel), "cannot replace the initrd: %s" % exc.strerror,
                                             changed=True, done=[filesmod.full_path(root, p) for p in changed_paths])

    return {
        "changed": bool(change_list) or bool(removed_dirs) or bool(initrd_updates) or bool(actions),
        "initrds": [filesmod.full_path(root, rel) for rel, dummy, dummy2 in initrd_updates],
        "initrds_rebuilt": [filesmod.full_path(root, rel) for rel, dummy, new in initrd_updates if new == initrds.REBUILD],
        "files": [filesmod.full_path(root, p) for p in changed_paths],
        "removed": [filesmod.full_path(root, c["path"]) for c in change_list if c["after"] is None and c["reason"] != "temp"] + removed_dirs,
        "temp_files_removed": [filesmod.full_path(root, c["path"]) for c in change_list if c["reason"] == "temp"],
        "backups": dict((filesmod.full_path(root, k), v) for k, v in backups.items()),
        "backend": backend,
        "initramfs": initramfs,
        "image_mode": image_mode,
        "root": root.path,
        "actions": [" ".join(argv) for argv in actions],
        "initramfs_rebuild_needed": rebuild_needed,
        "planned": [filesmod.full_path(root, p) for p in sorted(planned)],
        "diff": filesmod.ansible_diff(root, change_list),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            groups=dict(type="list", elements="dict", required=True),
            backend=dict(type="str", default="auto", choices=["auto"] + list(validate.BACKENDS)),
            root=dict(type="path", default="/"),
            initramfs=dict(type="str", default="auto", choices=list(plan.INITRAMFS_CHOICES)),
            initramfs_rebuild=dict(type="bool", default=True),
            cloud_init=dict(type="bool", default=False),
            remove_legacy=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
            lowers_silent=dict(type="bool", default=True),
            announcer=dict(type="bool", default=False),
            reload=dict(type="bool", default=True),
            activate=dict(type="bool", default=True),
            lock_timeout=dict(type="int", default=LOCK_TIMEOUT),
        ),
        supports_check_mode=True,
    )

    def run_command(argv):
        binary = module.get_bin_path(argv[0], required=True)
        return module.run_command([binary] + argv[1:])

    try:
        # backups are written inside the root by files.apply (module.backup_local would follow symlinks out of it)
        result = configure(module.params, module.check_mode, run_command)
    except validate.ConfigError as exc:
        module.fail_json(msg=str(exc), changed=False)
    except filesmod.FileError as exc:
        module.fail_json(msg=str(exc), changed=exc.changed, path=exc.path, files=exc.done)
    except runlock.Busy as exc:
        module.fail_json(msg=str(exc), changed=False)
    except RuntimeError as exc:
        module.fail_json(msg=str(exc), changed=True)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
