# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plan stage: the files for a set of desired groups (pure), and the backend and initramfs kind to use.

``plan_files`` validates, then calls udev + exactly one stack renderer + extras; each renderer
module has ``render(groups, options) -> {relative path: content}``. The ownership header is
added here so every file carries it.
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils import (
    files as filesmod,
    files_root,
    initramfs as initramfsmod,
    render_extras,
    render_ifupdown,
    render_netplan,
    render_networkd,
    render_networkmanager,
    render_udev,
    validate,
)

RENDERERS = {
    "networkd": render_networkd,
    "NetworkManager": render_networkmanager,
    "netplan": render_netplan,
    "ifupdown": render_ifupdown,
}
INITRAMFS_CHOICES = ("auto",) + render_extras.INITRAMFS_KINDS


def plan_files(groups, backend, options=None):
    """Return {relative path: content} for ``groups`` on ``backend``; raise validate.ConfigError.

    ``options``: lowers_silent (default true), cloud_init (default false),
    initramfs (initramfs-tools | dracut | none, default none).
    """
    options = dict(options or {})
    validate.check_backend(backend)
    initramfs = options.get("initramfs", "none")
    if initramfs not in render_extras.INITRAMFS_KINDS:
        raise validate.ConfigError("initramfs: %r is not one of %s (resolve auto first)" % (initramfs, ", ".join(render_extras.INITRAMFS_KINDS)))
    normalized = validate.normalize(groups, backend)
    opts = {"backend": backend, "lowers_silent": options.get("lowers_silent", True),
            "cloud_init": options.get("cloud_init", False), "initramfs": initramfs}
    planned = {}
    udev = render_udev.render(normalized, opts)
    stack = RENDERERS[backend].render(normalized, opts)
    opts["initramfs_files"] = sorted(udev)
    opts["initramfs_marker"] = initramfs_marker(dict((path, filesmod.add_header(path, text)) for path, text in udev.items()))
    extras = render_extras.render(normalized, opts)
    for part in (udev, stack, extras):
        for path, content in part.items():
            if path in planned and planned[path] != content:
                raise validate.ConfigError("two renderers want different content for %s" % path)
            planned[path] = content
    return {path: filesmod.add_header(path, content) for path, content in sorted(planned.items())}


def initramfs_marker(planned):
    """The dracut marker of the planned files that belong in the initramfs (empty when there are none)."""
    return initramfsmod.dracut_marker(initramfsmod.segment_files(planned))


def _enabled_unit(root, unit):
    return bool(root.glob("etc/systemd/system/*.wants/%s" % unit))


def _netplan_in_use(root):
    if not (root.exists("usr/sbin/netplan") or root.exists("usr/bin/netplan")):
        return False
    others = [p for p in root.glob("etc/netplan/*.yaml") if "guestnet-failover" not in p]
    return bool(others)


def detect_backend(root, image_mode, is_active=None):
    """Pick the stack that configures the system under ``root``.

    On a running host ``is_active(unit)`` tells whether a unit is active (``systemctl is-active``);
    in an image the enabled unit symlinks under ``etc/systemd/system/*.wants`` decide.
    Netplan wins when it has configuration of its own (it generates for networkd or NM).
    Returns the backend or raises ConfigError listing what was looked at. ``root`` (a path or a files_root.Root) is
    looked at like a chroot would: symlinks in it never lead outside.
    """
    root = files_root.as_root(root)
    if _netplan_in_use(root):
        return "netplan"
    units = (("NetworkManager", "NetworkManager.service"), ("networkd", "systemd-networkd.service"),
             ("ifupdown", "networking.service"))
    for backend, unit in units:
        if image_mode or is_active is None:
            if _enabled_unit(root, unit):
                return backend
        elif is_active(unit):
            return backend
    if not image_mode:
        if root.isdir("run/NetworkManager"):
            return "NetworkManager"
        if root.isdir("run/systemd/netif/links"):
            return "networkd"
    raise validate.ConfigError("backend: auto found no netplan configuration and none of NetworkManager, systemd-networkd "
                               "or ifupdown (networking.service) %s; set backend explicitly"
                               % ("enabled in the image" if image_mode else "running"))


def detect_initramfs(root):
    """initramfs-tools, dracut or none, by what is installed under ``root`` (symlinks followed inside it)."""
    root = files_root.as_root(root)
    # dracut first: Debian's dracut replaces initramfs-tools and leaves its conffiles (etc/initramfs-tools) behind
    for candidate in ("usr/bin/dracut", "usr/sbin/dracut"):
        if root.exists(candidate):
            return "dracut"
    if root.exists("usr/sbin/update-initramfs") or root.isdir("etc/initramfs-tools"):
        return "initramfs-tools"
    return "none"


# bondvf.sh (tools/hv/bondvf.sh) and old Azure images left these behind. Each entry: glob under
# the root and substrings that must all be present before a file is removed.
LEGACY = (
    ("etc/sysconfig/network-scripts/ifcfg-bondvf*", ("BONDING_OPTS", "active-backup")),
    ("etc/sysconfig/network-scripts/ifcfg-*", ("MASTER=bondvf", "SLAVE=yes")),
    ("etc/sysconfig/network/ifcfg-bondvf*", ("BONDING_MASTER", "active-backup")),
    ("etc/sysconfig/network/ifcfg-*", ("BONDING_MODULE_OPTS", "bondvf")),
    ("etc/network/interfaces.d/bondvf*", ("bond-mode", "active-backup")),
    ("etc/udev/rules.d/68-azure-sriov-nm-unmanaged.rules", ("NM_UNMANAGED", "hv_pci")),
    ("etc/udev/rules.d/10-azure-unmanaged-sriov.rules", ("NM_UNMANAGED",)),
)


def legacy_files(root):
    """Relative paths of recognised legacy files whose content matches a known pattern.

    Only regular files inside ``root`` count: a symlink there is neither read nor removed.
    """
    root = files_root.as_root(root)
    found = set()
    for pattern, needles in LEGACY:
        for rel in root.glob(pattern):
            if rel in found:
                continue
            content, dummy = filesmod.read(root, rel)
            if content is not None and all(n in content for n in needles) and filesmod.MARKER not in content:
                found.add(rel)
    return sorted(found)
