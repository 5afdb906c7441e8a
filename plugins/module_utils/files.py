# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write stage: our files under a root: ownership header, current state, change set, diff, all-or-nothing apply.

Paths are relative to a ``files_root.Root``, which resolves them inside the root like a chroot would.
A symlink where a planned file belongs is replaced, never followed. Writes are all-or-nothing where the
file system allows it: every target directory is checked before the first write, every file is
staged in a temporary file first, and any ``OSError`` becomes one ``FileError`` naming the path
and saying whether anything was changed already.
"""
from __future__ import annotations

import binascii
import errno
import os
import stat
import time

from ansible_collections.guestnet.failover.plugins.module_utils.files_root import (
    FS_APPEND_FL, FS_IMMUTABLE_FL, O_DIR, O_FILE, FileError, as_root, check_rel, create_at, fill, fs_flags, full_path,
    lstat_at, want_owner,
)

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
# Files of ours outside the naming scheme above: the announcer's (announce.py: installed_paths(), UNIT_PATH,
# RULES_PATH, CONFIG_PATH) and those of its older design (a script and a template unit, pruned on upgrade).
# Owned when they carry the marker; the JSON (no comments) by its path.
ANNOUNCER_LIB = "usr/local/lib/guestnet-failover"
ANNOUNCER_MODULES = ("announce_watch", "l2_frames", "link_execute", "link_plan", "link_state", "netdev_read", "render_udev",
                     "upper_config", "validate", "validate_values")
# modules an earlier install had and the watcher no longer imports (link_apply before the runtime path's split)
ANNOUNCER_OLD_MODULES = ("link_apply",)
_PACKAGE_PARTS = ("ansible_collections", "guestnet", "failover", "plugins", "module_utils")
ANNOUNCER_PACKAGE_DIRS = tuple("%s/%s" % (ANNOUNCER_LIB, "/".join(_PACKAGE_PARTS[:i])) for i in range(1, len(_PACKAGE_PARTS) + 1))
OWNED_PATHS = tuple("%s/__init__.py" % d for d in ANNOUNCER_PACKAGE_DIRS) + tuple(
    "%s/%s.py" % (ANNOUNCER_PACKAGE_DIRS[-1], name) for name in ANNOUNCER_MODULES + ANNOUNCER_OLD_MODULES) + (
    "etc/systemd/system/guestnet-announce.service",
    "etc/udev/rules.d/61-guestnet-announce.rules",
    "etc/guestnet/announce.json",
    "usr/local/libexec/guestnet-announce",
    "etc/systemd/system/guestnet-announce@.service",
)
# Directories only we create: removed when a prune leaves them empty (deepest first).
OWNED_EMPTY_DIRS = ("usr/lib/dracut/modules.d/90guestnet-failover", "etc/guestnet") + tuple(
    reversed(ANNOUNCER_PACKAGE_DIRS)) + (ANNOUNCER_LIB,)
# Temporary files of ours (".guestnet-failover.*"; older announcer installs used ".guestnet-"): a killed run leaves
# them behind, the next run removes them.
TEMP_PREFIX = ".guestnet-failover."
STALE_TEMP_PREFIX = ".guestnet-"

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
    if path in OWNED_PATHS:
        if path.endswith(".json"):
            return True  # our own directory and name; JSON has no comment for a header
        return MARKER in "\n".join(content.splitlines()[:3])
    if OWNED_TOKEN not in os.path.basename(path) and OWNED_TOKEN not in path:
        return False
    if path.startswith("etc/teamd/"):
        return os.path.basename(path).startswith(OWNED_TOKEN + "-") and path.endswith(".conf")
    head = "\n".join(content.splitlines()[:3])
    return MARKER in head


def read(root, rel):
    """Return (content, mode) of a regular file, or (None, None) when absent, a symlink or not a regular file."""
    root = as_root(root)
    info = root.state(rel)
    if info["kind"] != "file":
        return None, None
    return info["content"], info["mode"]


def owned_files(root):
    """Relative paths of regular files under ``root`` that carry our ownership mark (symlinks never count)."""
    root = as_root(root)
    found = []
    for rel_dir in OWNED_DIRS:
        for name in root.listdir(rel_dir):
            if name.startswith(".") or name.endswith("~"):
                continue  # our temporary files and Ansible backups
            rel = "%s/%s" % (rel_dir, name)
            if OWNED_TOKEN not in rel or rel in OWNED_PATHS:
                continue
            info = root.state(rel)
            if info["kind"] == "file" and is_owned(rel, info["content"]):
                found.append(rel)
    for rel in OWNED_PATHS:
        info = root.state(rel)
        if info["kind"] == "file" and is_owned(rel, info["content"]):
            found.append(rel)
    return sorted(found)


def stale_temps(root, rel_dirs):
    """Relative paths of our temporary files (left by killed runs) in ``rel_dirs``: regular files or symlinks."""
    root = as_root(root)
    found = set()
    for rel_dir in sorted(set(rel_dirs)):
        for name in root.listdir(rel_dir):
            if not name.startswith(STALE_TEMP_PREFIX):
                continue
            rel = "%s/%s" % (rel_dir, name)
            kind = root.state(rel)["kind"]
            if kind in ("file", "symlink"):
                found.add(rel)
    return sorted(found)


def changes(root, planned, remove=(), modes=None, temps=()):
    """Compare ``planned`` {rel: content} (plus ``remove`` and ``temps`` paths) with what is under ``root``.

    ``modes`` overrides file_mode() for some paths. Content, mode and owner (root's, when we run as root) are
    compared. A symlink where a planned file belongs is replaced (reason ``symlink``), never followed; a
    directory or device there is an error before anything is written.
    Returns a sorted list of dicts: path, before, after (None = delete), mode, reason, link.
    """
    root = as_root(root)
    owner = want_owner()
    out = []
    for rel in sorted(planned):
        after = planned[rel]
        info = root.state(rel)
        want = (modes or {}).get(rel, file_mode(rel))
        if info["kind"] == "other":
            raise FileError(info["shown"], "is not a regular file; refusing to replace it")
        if info["kind"] == "symlink":
            reason = "symlink"
        elif info["kind"] == "absent":
            reason = "create"
        elif info["content"] != after:
            reason = "update"
        elif info["mode"] != want:
            reason = "mode"
        elif owner is not None and (info["uid"], info["gid"]) != owner:
            reason = "owner"
        else:
            continue
        out.append({"path": rel, "before": info["content"], "after": after, "mode": want, "reason": reason,
                    "link": info["link"]})
    for rel in sorted(set(remove) - set(planned)):
        info = root.state(rel)
        if info["kind"] != "file":
            continue  # never remove (or look through) a symlink
        out.append({"path": rel, "before": info["content"], "after": None, "mode": None, "reason": "remove", "link": None})
    for rel in sorted(set(temps) - set(planned) - set(remove)):
        info = root.state(rel)
        if info["kind"] in ("file", "symlink"):
            out.append({"path": rel, "before": None, "after": None, "mode": None, "reason": "temp", "link": info["link"]})
    return sorted(out, key=lambda c: c["path"])


def ansible_diff(root, change_list):
    """Ansible's diff list: one before/after dict per changed file."""
    diff = []
    for change in change_list:
        shown = full_path(root, change["path"])
        if change.get("link") is not None:
            before_header = "%s (symlink to %s)" % (shown, change["link"])
        elif change["before"] is None:
            before_header = "%s (absent)" % shown
        else:
            before_header = shown
        diff.append({
            "before_header": before_header,
            "after_header": shown if change["after"] is not None else "%s (removed)" % shown,
            "before": change["before"] or "",
            "after": change["after"] or "",
        })
    return diff


def _fsync(fd):
    try:
        os.fsync(fd)
    except OSError:
        pass


def _error(root, exc, fallback):
    path = exc.filename if isinstance(exc.filename, str) and exc.filename.startswith("/") else fallback
    return path, exc.strerror or str(exc)


def preflight(root, change_list):
    """Check, before the first write, that every change can be carried out; raise FileError naming the path.

    Each target directory exists (following symlinks inside the root) or can be created below a directory;
    nothing on the way is a file; the directory that will be written is writable and not immutable; a file
    to replace, remove, chmod or chown is not immutable or append-only.
    """
    root = as_root(root)
    checked = {}
    for change in change_list:
        rel = change["path"]
        parts = check_rel(rel)
        directory = tuple(parts[:-1])
        if directory not in checked:
            checked[directory] = _check_dir(root, list(directory))
        dfd = checked[directory]
        if dfd is None:
            continue  # created below a checked, writable directory
        if change["reason"] in ("update", "mode", "owner", "remove"):
            try:
                fd = os.open(parts[-1], O_FILE, dir_fd=dfd)
            except OSError as exc:
                raise FileError(full_path(root, rel), exc.strerror)
            try:
                if fs_flags(fd) & (FS_IMMUTABLE_FL | FS_APPEND_FL):
                    raise FileError(full_path(root, rel), "the file is immutable or append-only (chattr); nothing was written")
            finally:
                os.close(fd)
    for dfd in checked.values():
        if dfd is not None:
            os.close(dfd)


def _check_dir(root, parts):
    """fd of the existing directory ``parts`` after checking it is writable, or None when it will be created."""
    for depth in range(len(parts), -1, -1):
        try:
            fd, resolved = root.walk(parts[:depth])
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                continue
            path, message = _error(root, exc, full_path(root, "/".join(parts)) if parts else root.path)
            raise FileError(path, "%s; nothing was written" % message)
        shown = root.show(resolved)
        if depth < len(parts):
            # the first missing component must be creatable here
            try:
                info = lstat_at(fd, parts[depth])
                if info is not None and stat.S_ISLNK(info.st_mode):
                    raise FileError(os.path.join(shown, parts[depth]),
                                    "a symlink (to %s) whose target does not exist inside the root; nothing was written"
                                    % os.readlink(parts[depth], dir_fd=fd))
                if info is not None and not stat.S_ISDIR(info.st_mode):
                    raise FileError(os.path.join(shown, parts[depth]), "not a directory; nothing was written")
                _writable(fd, shown)
            finally:
                os.close(fd)
            return None
        try:
            _writable(fd, shown)
        except FileError:
            os.close(fd)
            raise
        return fd
    return None


def _writable(fd, shown):
    # the cause first: access() also says "not writable" on a read-only file system
    try:
        read_only = bool(os.fstatvfs(fd).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        raise FileError(shown, "read-only file system; nothing was written")
    if not os.access(".", os.W_OK | os.X_OK, dir_fd=fd):
        raise FileError(shown, "directory is not writable; nothing was written")
    if fs_flags(fd) & (FS_IMMUTABLE_FL | FS_APPEND_FL):
        raise FileError(shown, "directory is immutable or append-only (chattr); nothing was written")


def _backup_name(name):
    return "%s.%d.%s~" % (name, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S"))


def _fill_new(dfd, name, chunks, mode):
    """Create ``name`` in ``dfd`` (exclusive, no symlink followed) and fill it; a file that cannot be completed
    (a full file system) is removed again, so a failed run leaves no partial file behind."""
    fd = create_at(dfd, name)
    try:
        try:
            fill(fd, chunks, mode)
        finally:
            os.close(fd)
    except BaseException:
        try:
            os.unlink(name, dir_fd=dfd)
        except OSError:
            pass
        raise


def _write_new(dfd, name, content, mode):
    """Create ``name`` in ``dfd`` with ``content`` and ``mode``, owned by root."""
    _fill_new(dfd, name, [content.encode("utf-8")], mode)


def _copy_at(dfd, name, dest):
    """Copy regular file ``name`` to new ``dest`` in the same directory, bytes and mode, no symlink followed."""
    src = os.open(name, O_FILE, dir_fd=dfd)
    try:
        info = os.fstat(src)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        _fill_new(dfd, dest, iter(lambda: os.read(src, 1 << 16), b""), stat.S_IMODE(info.st_mode))
    finally:
        os.close(src)


def apply(root, change_list, backup=None, do_backup=False):
    """Carry out ``change_list``: check everything, stage every new file, then replace/remove in one pass.

    ``backup(path)`` (a callable) or ``do_backup`` (a copy next to the file, written inside the root) saves a
    file before it is replaced or removed. Returns {path: backup_file}. Raises FileError naming the path;
    its ``changed`` tells whether anything was already written.
    """
    root = as_root(root)
    preflight(root, change_list)
    created = []
    done = []
    staged = []  # (change, dfd, tmp name, name)
    dirs = {}
    backups = {}

    def fail(exc, rel):
        path, message = _error(root, exc, full_path(root, rel))
        return FileError(path, message, changed=bool(created or done), done=[full_path(root, p) for p in done])

    try:
        # 1. directories and temporary files: nothing visible changes yet except new directories
        for change in change_list:
            rel = change["path"]
            try:
                key = tuple(check_rel(rel)[:-1])
                if key not in dirs:
                    dirs[key] = root.walk(list(key), create=change["after"] is not None, created=created)[0]
                dfd, name = dirs[key], check_rel(rel)[-1]
                if change["after"] is not None and change["reason"] not in ("mode", "owner"):
                    tmp = "%s%s" % (TEMP_PREFIX, binascii.hexlify(os.urandom(6)).decode("ascii"))
                    _write_new(dfd, tmp, change["after"], change["mode"])
                    staged.append((change, dfd, tmp, name))
                else:
                    staged.append((change, dfd, None, name))
            except OSError as exc:
                raise fail(exc, rel)
        # 2. backups, then replace / remove / chmod / chown
        for change, dfd, tmp, name in staged:
            rel = change["path"]
            try:
                if change["before"] is not None and change["reason"] not in ("mode", "owner", "temp"):
                    if backup is not None:
                        saved = backup(full_path(root, rel))
                        if saved:
                            backups[rel] = saved
                    elif do_backup:
                        saved = _backup_name(name)
                        _copy_at(dfd, name, saved)
                        backups[rel] = os.path.join(os.path.dirname(full_path(root, rel)), saved)
                if tmp is not None:
                    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
                    tmp = None
                elif change["after"] is None:
                    os.unlink(name, dir_fd=dfd)
                else:
                    fd = os.open(name, O_FILE, dir_fd=dfd)
                    try:
                        if not stat.S_ISREG(os.fstat(fd).st_mode):
                            raise OSError(errno.EINVAL, "not a regular file")
                        os.fchmod(fd, change["mode"])
                        owner = want_owner()
                        if owner:
                            os.fchown(fd, *owner)
                    finally:
                        os.close(fd)
                done.append(rel)
            except OSError as exc:
                raise fail(exc, rel)
        for dfd in dirs.values():
            _fsync(dfd)
    finally:
        for change, dfd, tmp, name in staged:
            if tmp is not None and change["path"] not in done:
                try:
                    os.unlink(tmp, dir_fd=dfd)
                except OSError:
                    pass
        for dfd in dirs.values():
            os.close(dfd)
    return backups


def prune_empty_dirs(root, check_mode=False):
    """Remove our own directories (OWNED_EMPTY_DIRS) when they are empty; returns their display paths."""
    root = as_root(root)
    removed = []
    for rel in OWNED_EMPTY_DIRS:
        parts = check_rel(rel)
        try:
            dfd, dummy = root.walk(parts[:-1])
        except OSError:
            continue
        try:
            info = lstat_at(dfd, parts[-1])
            if info is None or not stat.S_ISDIR(info.st_mode):
                continue
            fd = os.open(parts[-1], O_DIR, dir_fd=dfd)
            try:
                empty = not os.listdir(fd)
            finally:
                os.close(fd)
            if not empty:
                continue
            if not check_mode:
                os.rmdir(parts[-1], dir_fd=dfd)
            removed.append(full_path(root, rel))
        except OSError:
            continue
        finally:
            os.close(dfd)
    return removed
