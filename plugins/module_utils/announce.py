# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write stage: the announcer's files in the guest (the resident watcher's code, its systemd unit, a udev rule, its config).

The watcher is ``announce_watch``, an ordinary module of this collection, with the modules it reuses
(``l2_frames``, ``validate``, the runtime path's port join: ``link_plan`` and ``link_execute``). ``render_files()``
copies those module files as they are into ``/usr/local/lib/guestnet-failover`` (the collection's package layout,
so their imports work unchanged), with the ownership line on top. Their text comes from the loaded modules (the
AnsiballZ payload on a target), so the guest runs exactly what the unit tests, the linters and sanity saw. A udev
rule starts the unit once a lower with a group's MAC exists (coldplug at boot, or the "change" events
failover_config replays); the unit keeps the watcher resident (announce_watch says what it does and why resident).
"""
from __future__ import annotations

import json
import os
import re

from ansible_collections.guestnet.failover.plugins.module_utils import files as filesmod, files_root
# imported for their source: render_files() installs them into the guest (and AnsiballZ ships what is imported)
from ansible_collections.guestnet.failover.plugins.module_utils import (  # pylint: disable=unused-import
    announce_watch, l2_frames, link_execute, link_plan, link_state, netdev_read, render_udev, upper_config, validate,
    validate_values,
)
from ansible_collections.guestnet.failover.plugins.module_utils.validate import ConfigError, check_announce_group

PACKAGE = "ansible_collections.guestnet.failover.plugins.module_utils"
LIB_DIR = "/usr/local/lib/guestnet-failover"
MODULE_DIR = LIB_DIR + "/" + PACKAGE.replace(".", "/")
# announce_watch and everything it imports (test_announce.py checks the closure); files.py owns (prunes) them
INSTALLED_MODULES = filesmod.ANNOUNCER_MODULES
SERVICE = "guestnet-announce.service"
UNIT_PATH = "/etc/systemd/system/" + SERVICE
RULES_PATH = "/etc/udev/rules.d/61-guestnet-announce.rules"
CONFIG_PATH = "/etc/guestnet/announce.json"
MANAGED = "Managed by guestnet.failover: do not edit, the next run overwrites it."
# From this version systemd re-reads its unit directories when they changed before it calls a unit not found, so a
# unit file it never loaded starts without daemon-reload (2.4 s in an idle TCG guest, 7.5 s at load 8: issue 16)
SYSTEMD_LOADS_NEW_UNITS = 246

# Least privilege: the watcher needs raw frames (CAP_NET_RAW, AF_PACKET) and rtnetlink (AF_NETLINK); its port-join
# child re-enslaves a re-plugged lower (CAP_NET_ADMIN, AF_NETLINK, AF_UNIX for teamdctl) and writes only
# /proc/sys/net/ipv6/conf/*/disable_ipv6 and /sys/devices/virtual/net/*/bonding/primary. No PrivateTmp: with
# DefaultDependencies=no it may start before the root is writable (coldplug), and it never uses /tmp.
# tests/unit/test_announce_unit.py keeps the `systemd-analyze security` exposure <= 6.9.
UNIT = """# {managed}
[Unit]
Description=guestnet.failover: announce failover addresses when a lower device comes or goes
Documentation=https://github.com/guestnet/failover
DefaultDependencies=no
After=systemd-udevd.service
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=simple
Environment=PYTHONPATH={lib} PYTHONDONTWRITEBYTECODE=1
ExecStart=/usr/bin/python3 -m {package}.announce_watch
Restart=always
RestartSec=1
CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN
NoNewPrivileges=yes
RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_PACKET
ProtectSystem=strict
ProtectHome=yes
PrivateDevices=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ReadWritePaths=-/proc/sys/net/ipv6/conf -/sys/devices/virtual/net
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
UMask=0077
IPAddressDeny=any
KeyringMode=private
""".format(managed=MANAGED, lib=LIB_DIR, package=PACKAGE)

# The watcher is resident and reads unplug/re-plug from rtnetlink itself: the rule only makes sure it runs (a no-op
# when it does) once a lower with a group's MAC exists.
RULE = 'ACTION=="add|change", SUBSYSTEM=="net", ATTR{address}=="%s", RUN+="/bin/systemctl --no-block start ' + SERVICE + '"'


class AnnounceError(ValueError):
    """A group cannot be rendered into announcer files."""


def installed_paths():
    """Absolute paths of the watcher's code in the guest: the package markers, then the modules."""
    parts = PACKAGE.split(".")
    inits = ["%s/%s/__init__.py" % (LIB_DIR, "/".join(parts[:i])) for i in range(1, len(parts) + 1)]
    return inits + ["%s/%s.py" % (MODULE_DIR, name) for name in INSTALLED_MODULES]


def module_source(name):
    """The text of this collection's module_utils ``name`` as loaded (a file, or the AnsiballZ zip on a target)."""
    module = globals()[name]
    source = module.__loader__.get_source(module.__name__)
    if isinstance(source, bytes):  # ansible's collection loader (controller, ansible-test units) returns bytes
        source = source.decode("utf-8")
    if not source:
        raise AnnounceError("the source of %s is not available to install" % module.__name__)
    return source


def announce_groups(groups, rejoin=True):
    """The announcer's view of the groups, checked as the watcher checks them: {upper, mac, model, pv_driver, rejoin}.

    ``rejoin`` False where NetworkManager owns the uppers (it re-attaches re-plugged ports itself).
    """
    out = []
    for index, group in enumerate(groups):
        try:
            out.append(check_announce_group(dict(group, upper=group.get("upper") or group.get("name"), rejoin=rejoin),
                                            "groups[%d]" % index))
        except ConfigError as exc:
            raise AnnounceError(str(exc))
    return sorted(out, key=lambda g: g["mac"])


def render_files(groups, root="/", rejoin=True):
    """Files the announcer needs, as ``[{path, content, mode}]`` with paths under ``root`` (``rejoin``: announce_groups)."""
    view = announce_groups(groups, rejoin)
    rules = ["# " + MANAGED, "# A lower with a failover MAC exists: the resident announcer (%s) must run." % SERVICE]
    for group in view:
        rules.append("# %s %s (%s)" % (group["model"], group["upper"] or "(upper named by the kernel)", group["mac"]))
        rules.append(RULE % group["mac"])
    header = "# %s\n" % MANAGED
    paths = installed_paths()
    files = [(path, header, "0644") for path in paths[:-len(INSTALLED_MODULES)]]
    files += [(path, header + module_source(name), "0644") for path, name in zip(paths[-len(INSTALLED_MODULES):], INSTALLED_MODULES)]
    files += [
        (UNIT_PATH, UNIT, "0644"),
        (RULES_PATH, "\n".join(rules) + "\n", "0644"),
        (CONFIG_PATH, json.dumps({"comment": MANAGED, "groups": view}, indent=2, sort_keys=True) + "\n", "0644"),
    ]
    return [{"path": os.path.join(root, path.lstrip("/")), "content": content, "mode": mode}
            for path, content, mode in files]


def install(files, check_mode=False):
    """Write ``files`` (absolute paths on this host) whose content, mode or owner differs; returns the changed paths.

    Through files.changes/apply: atomic, owned by root, a symlink at a target replaced and never followed.
    """
    planned, modes = {}, {}
    for item in files:
        rel = os.path.normpath(item["path"]).lstrip("/")
        planned[rel] = item["content"]
        modes[rel] = int(item["mode"], 8)
    with files_root.Root("/") as root:
        change_list = filesmod.changes(root, planned, modes=modes)
        if change_list and not check_mode:
            filesmod.apply(root, change_list)
    return ["/" + change["path"] for change in change_list]


def needs_daemon_reload(unit_is_new, run_command):
    """Whether systemd must re-read its units before the announcer's unit starts: it may hold an older copy of a unit
    file that existed before, and before SYSTEMD_LOADS_NEW_UNITS it does not see a new one. A read-only query."""
    if not unit_is_new:
        return True
    rc, out, dummy = run_command(["systemctl", "--version"])
    version = re.match(r"systemd (\d+)\b", out or "")
    return rc != 0 or version is None or int(version.group(1)) < SYSTEMD_LOADS_NEW_UNITS
