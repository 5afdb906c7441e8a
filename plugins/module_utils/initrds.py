# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage (initramfs): find the initrds under a root, tell which need their segment swapped or a rebuild,
and replace them. The byte-level work is initramfs.py's; the module decides when to call these."""
from __future__ import annotations

import os

from ansible_collections.guestnet.failover.plugins.module_utils import files_root
from ansible_collections.guestnet.failover.plugins.module_utils import initramfs as initramfsmod

BOOT_DIR = "boot"
MODULES_DIR = "lib/modules"
REBUILD = "rebuild"
TMP_SUFFIX = ".guestnet-failover.tmp"
REBUILD_COMMAND = {"initramfs-tools": ["update-initramfs", "-u"], "dracut": ["dracut", "-f"]}


def rebuild_argv(kind, root, rel, version):
    """The command that rebuilds one initrd of ``kind`` in place."""
    if kind == "initramfs-tools":
        return REBUILD_COMMAND[kind] + ["-k", version]
    return REBUILD_COMMAND[kind] + [files_root.full_path(root, rel), version]


def found(root, patterns=(initramfsmod.INITRD_RE,)):
    """Relative path and kernel version of the initrd of every kernel installed under ``root``."""
    found = []
    for name in root.listdir(BOOT_DIR):
        for pattern in patterns:
            match = pattern.fullmatch(name)
            if match and root.isdir("%s/%s" % (MODULES_DIR, match.group(1))):
                found.append(("%s/%s" % (BOOT_DIR, name), match.group(1)))
    return found


def dracut_updates(root, want, run_command):
    """[(relative path, version, REBUILD)] for every initrd whose dracut marker is not ``want``.

    Read with ``lsinitrd -f`` (read-only, so check mode predicts exactly): a run killed after writing the files, or
    an initrd built before them, is rebuilt by the next run; an unreadable initrd is rebuilt too.
    """
    updates = []
    for rel, version in found(root, (initramfsmod.INITRD_RE, initramfsmod.DRACUT_INITRD_RE)):
        rc, out, dummy = run_command(["lsinitrd", "-f", initramfsmod.MARKER, files_root.full_path(root, rel)])
        if rc != 0 or out != want:
            updates.append((rel, version, REBUILD))
    return updates


def _read_bytes(root, rel):
    dfd, dummy, name = root.parent(rel)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()
    finally:
        os.close(dfd)


def segment_updates(root, segment_files, main_may_hold_ours):
    """[(relative path, version, new bytes or REBUILD)] for every initrd whose early segment differs.

    A full rebuild is due when the initrd cannot be parsed (or is a symlink), or when our segment is missing and
    the main archive may hold our files from an earlier full-copy hook (``main_may_hold_ours``, a bool):
    adding the segment would leave those behind, and the main archive's copies would win.
    """
    updates = []
    for rel, version in found(root):
        try:
            data = _read_bytes(root, rel)
            new = initramfsmod.refreshed(data, segment_files)
        except (OSError, initramfsmod.InitrdError):
            updates.append((rel, version, REBUILD))
            continue
        if new is not None and segment_files and not initramfsmod.ours(initramfsmod.split(data)[0]) \
                and main_may_hold_ours:
            new = REBUILD
        if new is not None:
            updates.append((rel, version, new))
    return updates


def write(root, rel, data):
    """Replace ``rel`` under ``root`` through a temporary file in its directory, keeping its mode."""
    dfd, dummy, name = root.parent(rel)
    tmp = name + TMP_SUFFIX
    try:
        mode = os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode & 0o7777
        files_root.replace_at(dfd, name, tmp, data, mode)
    finally:
        os.close(dfd)
