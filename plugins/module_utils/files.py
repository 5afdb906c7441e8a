# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files under a root: ownership header, read current state, change set, diff, atomic write.

Paths handed around are relative to ``root`` (``etc/udev/rules.d/...``), so the same plan
works for a running host (root ``/``) and an image being built (root ``/mnt/image``).
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile

MARKER = "Managed by guestnet.failover"
HEADER = "%s (failover_config); do not edit, changes will be overwritten." % MARKER

# Where files we own can live; stale ones (carrying our header) are removed from here.
OWNED_DIRS = (
    "etc/udev/rules.d",
    "etc/systemd/network",
    "etc/NetworkManager/system-connections",
    "etc/netplan",
    "etc/network/interfaces.d",
    "etc/cloud/cloud.cfg.d",
    "etc/initramfs-tools/hooks",
    "usr/lib/dracut/modules.d/90guestnet-failover",
    "etc/teamd",
)
OWNED_TOKEN = "guestnet-failover"

MODE_PRIVATE = 0o600
MODE_EXEC = 0o755
MODE_DEFAULT = 0o644


def file_mode(path):
    """The mode a planned file must have."""
    if path.startswith("etc/NetworkManager/system-connections/") or path.startswith("etc/netplan/"):
        return MODE_PRIVATE
    if path.startswith("etc/initramfs-tools/hooks/") or path.endswith("/module-setup.sh"):
        return MODE_EXEC
    return MODE_DEFAULT


def add_header(path, content):
    """Return ``content`` with the ownership header in the file's comment syntax.

    JSON (teamd) has no comments; those files are recognised by name instead.
    """
    if path.endswith(".json") or path.startswith("etc/teamd/"):
        return content
    if content.startswith("#!"):
        first, rest = content.split("\n", 1)
        return "%s\n# %s\n%s" % (first, HEADER, rest)
    return "# %s\n%s" % (HEADER, content)


def is_owned(path, content):
    """True when a file at relative ``path`` with ``content`` was written by us."""
    if OWNED_TOKEN not in os.path.basename(path) and OWNED_TOKEN not in path:
        return False
    if path.startswith("etc/teamd/"):
        return os.path.basename(path).startswith(OWNED_TOKEN + "-") and path.endswith(".conf")
    head = "\n".join(content.splitlines()[:3])
    return MARKER in head


def full_path(root, rel):
    """Join ``rel`` under ``root`` refusing anything that would escape it."""
    if rel.startswith("/") or ".." in rel.split("/"):
        raise ValueError("refusing path outside the root: %r" % rel)
    return os.path.join(root, rel)


def read(root, rel):
    """Return (content, mode) of a file, or (None, None) when absent."""
    path = full_path(root, rel)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None, None
        raise
    return data.decode("utf-8", "replace"), mode


def owned_files(root):
    """Relative paths of files under ``root`` that carry our ownership mark."""
    found = []
    for rel_dir in OWNED_DIRS:
        directory = full_path(root, rel_dir)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if name.startswith(".") or name.endswith("~"):
                continue  # our temporary files and Ansible backups
            rel = "%s/%s" % (rel_dir, name)
            if not os.path.isfile(full_path(root, rel)) or os.path.islink(full_path(root, rel)):
                continue
            if OWNED_TOKEN not in rel:
                continue
            content, dummy = read(root, rel)
            if content is not None and is_owned(rel, content):
                found.append(rel)
    return found


def changes(root, planned, remove=(), modes=None):
    """Compare ``planned`` {rel: content} (plus ``remove`` paths) with what is under ``root``.

    ``modes`` overrides file_mode() for some paths.
    Returns a sorted list of dicts: path, before, after (None = delete), mode, reason.
    """
    out = []
    for rel in sorted(planned):
        after = planned[rel]
        before, mode = read(root, rel)
        want = (modes or {}).get(rel, file_mode(rel))
        if before == after and mode == want:
            continue
        reason = "create" if before is None else ("update" if before != after else "mode")
        out.append({"path": rel, "before": before, "after": after, "mode": want, "reason": reason})
    for rel in sorted(set(remove) - set(planned)):
        before, mode = read(root, rel)
        if before is None:
            continue
        out.append({"path": rel, "before": before, "after": None, "mode": None, "reason": "remove"})
    return sorted(out, key=lambda c: c["path"])


def ansible_diff(root, change_list):
    """Ansible's diff list: one before/after dict per changed file."""
    diff = []
    for change in change_list:
        shown = full_path(root, change["path"])
        diff.append({
            "before_header": shown if change["before"] is not None else "%s (absent)" % shown,
            "after_header": shown if change["after"] is not None else "%s (removed)" % shown,
            "before": change["before"] or "",
            "after": change["after"] or "",
        })
    return diff


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _makedirs(directory):
    if not os.path.isdir(directory):
        os.makedirs(directory, MODE_EXEC)


def write_atomic(path, content, mode):
    """Write ``content`` to ``path`` through a temporary file in the same directory."""
    directory = os.path.dirname(path)
    _makedirs(directory)
    fd, tmp = tempfile.mkstemp(prefix=".guestnet-failover.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if os.geteuid() == 0:
            os.chown(tmp, 0, 0)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def apply(root, change_list, backup=None):
    """Carry out ``change_list``; ``backup(path)`` is called before a file is replaced or removed.

    Returns {path: backup_file} for the files backed up.
    """
    backups = {}
    for change in change_list:
        path = full_path(root, change["path"])
        if backup is not None and change["before"] is not None and change["reason"] != "mode":
            saved = backup(path)
            if saved:
                backups[change["path"]] = saved
        if change["after"] is None:
            os.unlink(path)
            _fsync_dir(os.path.dirname(path))
        elif change["reason"] == "mode":
            os.chmod(path, change["mode"])
        else:
            write_atomic(path, change["after"], change["mode"])
    return backups
