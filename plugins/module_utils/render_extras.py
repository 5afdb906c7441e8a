# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage: the extras around the stack files: cloud-init drop-in, initramfs hook / dracut module, teamd JSON."""
from __future__ import annotations

import json

from ansible_collections.guestnet.failover.plugins.module_utils import initramfs, render_ifupdown
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import teamd_config

CLOUD_INIT = "etc/cloud/cloud.cfg.d/99-guestnet-failover.cfg"
INITRAMFS_TOOLS_HOOK = "etc/initramfs-tools/hooks/guestnet-failover"
DRACUT_MODULE = "usr/lib/dracut/modules.d/90guestnet-failover/module-setup.sh"
INITRAMFS_KINDS = ("initramfs-tools", "dracut", "none")


def cloud_init():
    """Stop cloud-init from writing network configuration that matches the shared MAC."""
    return ("# cloud-init would match the PV/VF MAC alone (\"duplicate mac found!\") and rewrite\n"
            "# the network configuration on every boot; guestnet.failover owns it instead.\n"
            "network: {config: disabled}\n")


def initramfs_tools_hook(paths):
    """initramfs-tools hook: our udev rules and .link files as an early cpio segment of their own.

    The same segment failover_config refreshes in place (module_utils/initramfs.py), so a changed rule never
    needs a full rebuild and a rebuild by the distribution (kernel upgrade) carries the rules too.
    """
    lines = [
        "#!/bin/sh",
        "# Put the failover udev rules and .link files into the initramfs as an early (uncompressed) segment of",
        "# their own, so that the lower devices are left alone and the uppers keep their names there too.",
        'PREREQ=""',
        'prereqs() { echo "$PREREQ"; }',
        'case "$1" in',
        "prereqs)",
        "    prereqs",
        "    exit 0",
        "    ;;",
        "esac",
        ". /usr/share/initramfs-tools/hook-functions",
        'stage=$(mktemp -d "${TMPDIR:-/var/tmp}/guestnet-failover.XXXXXX") || exit 1',
        'for file in %s; do' % " ".join("/" + p for p in paths),
        '    [ -e "$file" ] || continue',
        '    mkdir -p "$stage${file%/*}" && cp "$file" "$stage$file" || exit 1',
        "done",
        'mkdir -p "$stage/etc" && printf \'%%s\\n\' \'%s\' > "$stage/%s" || exit 1' % (
            initramfs.MARKER_CONTENT.rstrip("\n"), initramfs.MARKER),
        '(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$stage.cpio" || exit 1',
        'prepend_earlyinitramfs "$stage.cpio"',
        'rm -rf "$stage" "$stage.cpio"',
        "exit 0",
    ]
    return "\n".join(lines) + "\n"


def dracut_module(paths, marker):
    """dracut module-setup.sh installing the same files, plus ``marker`` (initramfs.dracut_marker of them) so a run
    can tell whether an initrd holds the current files without a rebuild."""
    lines = [
        "#!/usr/bin/env bash",
        "# Copy the failover udev rules and .link files into the initramfs.",
        "check() {",
        "    return 0",
        "}",
        "depends() {",
        '    echo "udev-rules"',
        "    return 0",
        "}",
        "install() {",
        "    local file",
        "    for file in %s; do" % " ".join("/" + p for p in paths),
        '        [ -e "$file" ] && inst_simple "$file"',
        "    done",
        "    # initdir is dracut's staging directory",
        "    # shellcheck disable=SC2154",
        '    mkdir -p "${initdir}/etc" && printf \'%%s\\n\' %s > "${initdir}/%s"' % (
            " ".join("'%s'" % line for line in marker.splitlines()), initramfs.MARKER),
        "    return 0",
        "}",
    ]
    return "\n".join(lines) + "\n"


def teamd_conf(group):
    """teamd JSON for ifupdown: runner and link watch; ports join from their own stanzas."""
    return json.dumps(teamd_config(group), sort_keys=True, indent=4) + "\n"


def render(groups, options):
    """Return {path: content} for the extras asked for in ``options``.

    ``options``: backend, cloud_init (bool), initramfs (initramfs-tools | dracut | none),
    initramfs_files (relative paths to copy into the initramfs), initramfs_marker (dracut: the marker text).
    """
    files = {}
    if options.get("cloud_init"):
        files[CLOUD_INIT] = cloud_init()
    paths = sorted(options.get("initramfs_files") or [])
    kind = options.get("initramfs", "none")
    if paths and kind == "initramfs-tools":
        files[INITRAMFS_TOOLS_HOOK] = initramfs_tools_hook(paths)
    elif paths and kind == "dracut":
        files[DRACUT_MODULE] = dracut_module(paths, options["initramfs_marker"])
    if options.get("backend") == "ifupdown":
        for group in groups:
            if group["model"] == "team":
                files[render_ifupdown.teamd_conf_path(group["name"])] = teamd_conf(group)
    return files
