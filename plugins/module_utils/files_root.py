# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write stage: a root directory resolved like a chroot would, for every file read or written under it.

Paths handed around are relative to ``root`` (``etc/udev/rules.d/...``), so the same plan
works for a running host (root ``/``) and an image being built (root ``/mnt/image``).

An image root is untrusted input. Every path is resolved inside it like a chroot would: one
component at a time from a directory file descriptor opened with ``O_NOFOLLOW``, symlinks read
with ``readlink`` and followed relative to the root (absolute targets re-rooted, ``..`` clamped
at the root, at most ``MAX_LINKS`` links), so nothing outside the root is ever read, written,
chmod-ed or removed, and there is no window between checking a path and using it. New files are
created exclusively (``create_at``) and filled completely (``fill``) before anything renames them in;
``files`` builds the change set and the all-or-nothing write on top of this.
"""
from __future__ import annotations

import errno
import fcntl
import fnmatch
import os
import stat
import struct

MODE_DIR = 0o755
MAX_LINKS = 40

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_FS_IOC_GETFLAGS = 0x80086601
FS_IMMUTABLE_FL = 0x10
FS_APPEND_FL = 0x20


class FileError(Exception):
    """A file operation failed; ``path`` names it, ``changed`` tells whether something was written already."""

    def __init__(self, path, message, changed=False, done=None):
        Exception.__init__(self, "%s: %s" % (path, message))
        self.path = path
        self.changed = changed
        self.done = list(done or [])


class RootError(FileError):
    """The root is unusable (empty, relative, missing, not a directory)."""


def resolve_root(root):
    """Validate ``root`` and return its resolved absolute path; ``/`` when it is the running system's root.

    ``None`` means ``/``. An empty string is an error (``-e image_root=`` must not configure the build host), as
    is a relative, missing or non-directory path. A path that resolves to ``/`` (``//``, ``/./``, a symlink to
    ``/``) is the running system. A bind mount of ``/`` elsewhere is an image root by its path: files only, as
    an image pipeline that builds on a mounted copy of a root expects.
    """
    if root is None:
        root = "/"
    if not isinstance(root, str) or not root:
        raise RootError("root", "an empty root is not a root; give / for the running system or an image's absolute path")
    if not os.path.isabs(root):
        raise RootError(root, "root must be an absolute path")
    real = os.path.realpath(root)
    try:
        info = os.stat(real)
    except OSError as exc:
        raise RootError(root, "root does not exist or is not accessible (%s)" % exc.strerror)
    if not stat.S_ISDIR(info.st_mode):
        raise RootError(root, "root is not a directory")
    if real == "/":
        return "/"
    return real


def check_rel(rel):
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/"):
        raise ValueError("refusing path outside the root: %r" % (rel,))
    return [part for part in rel.split("/") if part not in ("", ".")]


def full_path(root, rel):
    """Join ``rel`` under ``root`` refusing anything that would escape it (for display and reports)."""
    check_rel(rel)
    return os.path.join(getattr(root, "path", root), rel)


def fs_flags(fd):
    """chattr flags of an open file, 0 when the file system has none."""
    try:
        data = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)
    except (IOError, OSError):
        return 0
    return struct.unpack("=i", data[:4])[0]


def lstat_at(dfd, name):
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def want_owner():
    """(uid, gid) every file and directory we write must have: root's, when we run as root."""
    return (0, 0) if os.geteuid() == 0 else None


class Root(object):
    """A root directory, resolved once; every path below it is resolved like a chroot would."""

    def __init__(self, path):
        self.path = resolve_root(path)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def show(self, parts):
        """Absolute display path of resolved ``parts``."""
        return os.path.join(self.path, *parts) if parts else self.path

    def walk(self, parts, create=False, created=None):
        """Open the directory ``parts`` (a list of names) resolved inside the root.

        Returns (fd, resolved parts); the caller closes fd. With ``create`` missing directories are made
        (mode 0755 whatever the umask, owned by root when we are root) and their resolved parts appended to
        ``created``. Raises OSError (filename: the resolved path of the failing component).
        """
        stack = []  # [(name, fd)] of the directories entered below the root
        todo = list(parts)
        links = 0
        try:
            while todo:
                name = todo.pop(0)
                if name in ("", "."):
                    continue
                if name == "..":
                    if stack:  # clamped at the root, like a chroot
                        os.close(stack.pop()[1])
                    continue
                cur = stack[-1][1] if stack else self.fd
                here = [n for n, dummy in stack] + [name]
                try:
                    fd = os.open(name, O_DIR, dir_fd=cur)
                except OSError as exc:
                    if exc.errno == errno.ENOENT and create:
                        self._mkdir(cur, name, here, created)
                        fd = os.open(name, O_DIR, dir_fd=cur)
                    elif exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        info = os.stat(name, dir_fd=cur, follow_symlinks=False)
                        if not stat.S_ISLNK(info.st_mode):
                            raise OSError(errno.ENOTDIR, "not a directory", self.show(here))
                        links += 1
                        if links > MAX_LINKS:
                            raise OSError(errno.ELOOP, "too many levels of symbolic links", self.show(here))
                        target = os.readlink(name, dir_fd=cur)
                        if target.startswith("/"):  # re-rooted
                            while stack:
                                os.close(stack.pop()[1])
                        todo[0:0] = target.split("/")
                        continue
                    else:
                        if exc.filename is None or not isinstance(exc.filename, str) or not exc.filename.startswith("/"):
                            exc.filename = self.show(here)
                        raise
                stack.append((name, fd))
            resolved = [n for n, dummy in stack]
            fd = stack.pop()[1] if stack else os.dup(self.fd)
            return fd, resolved
        finally:
            for dummy, fd in stack:
                os.close(fd)

    def _mkdir(self, cur, name, here, created):
        try:
            os.mkdir(name, MODE_DIR, dir_fd=cur)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return
            exc.filename = self.show(here)
            raise
        fd = os.open(name, O_DIR, dir_fd=cur)
        try:
            os.fchmod(fd, MODE_DIR)  # whatever the umask
            owner = want_owner()
            if owner:
                os.fchown(fd, *owner)
        finally:
            os.close(fd)
        if created is not None:
            created.append("/".join(here))

    def parent(self, rel, create=False, created=None):
        """(directory fd, resolved directory parts, file name) of ``rel``; the file name is not followed."""
        parts = check_rel(rel)
        fd, resolved = self.walk(parts[:-1], create, created)
        return fd, resolved, parts[-1]

    def state(self, rel):
        """What is at ``rel`` without following a final symlink.

        {kind: absent | file | symlink | other, content, mode, uid, gid, link, shown (resolved path)}.
        """
        try:
            dfd, resolved, name = self.parent(rel)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return {"kind": "absent", "content": None, "mode": None, "uid": None, "gid": None, "link": None,
                        "shown": full_path(self, rel)}
            raise
        try:
            return self._state_at(dfd, name, self.show(resolved + [name]))
        finally:
            os.close(dfd)

    @staticmethod
    def _state_at(dfd, name, shown):
        out = {"kind": "absent", "content": None, "mode": None, "uid": None, "gid": None, "link": None, "shown": shown}
        info = lstat_at(dfd, name)
        if info is None:
            return out
        if stat.S_ISLNK(info.st_mode):
            out.update(kind="symlink", link=os.readlink(name, dir_fd=dfd))
            return out
        if not stat.S_ISREG(info.st_mode):
            # never opened: a device node in an image is the host's device
            out.update(kind="other", mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid)
            return out
        try:
            fd = os.open(name, O_FILE, dir_fd=dfd)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return out
            if exc.errno == errno.ELOOP:
                info = lstat_at(dfd, name)
                if info is not None and stat.S_ISLNK(info.st_mode):
                    out.update(kind="symlink", link=os.readlink(name, dir_fd=dfd))
                    return out
            if exc.errno in (errno.ENXIO, errno.EISDIR):
                out["kind"] = "other"
                return out
            exc.filename = shown
            raise
        try:
            info = os.fstat(fd)
            out.update(mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid)
            if not stat.S_ISREG(info.st_mode):
                out["kind"] = "other"
                return out
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            out.update(kind="file", content=b"".join(chunks).decode("utf-8", "replace"))
            return out
        finally:
            os.close(fd)

    def resolve(self, rel):
        """Resolved parts of ``rel`` with every symlink (the last one too) followed inside the root, or None."""
        parts = check_rel(rel)
        for dummy in range(MAX_LINKS):
            if not parts or parts[-1] == "..":
                fd, resolved = self._walk_quiet(parts)
                if fd is None:
                    return None
                os.close(fd)
                return resolved
            try:
                dfd, resolved = self.walk(parts[:-1])
            except OSError:
                return None
            try:
                info = lstat_at(dfd, parts[-1])
                if info is None:
                    return None
                if not stat.S_ISLNK(info.st_mode):
                    return resolved + parts[-1:]
                target = os.readlink(parts[-1], dir_fd=dfd)
            finally:
                os.close(dfd)
            base = [] if target.startswith("/") else resolved
            parts = base + [p for p in target.split("/") if p not in ("", ".")]
        return None

    def _walk_quiet(self, parts):
        try:
            return self.walk(parts)
        except OSError:
            return None, None

    def exists(self, rel):
        """True when ``rel`` exists (symlinks followed inside the root)."""
        return self.resolve(rel) is not None

    def isdir(self, rel):
        """True when ``rel`` is a directory (symlinks followed inside the root)."""
        fd, dummy = self._walk_quiet(check_rel(rel))
        if fd is None:
            return False
        os.close(fd)
        return True

    def lexists(self, rel):
        """True when something (a dangling symlink too) is at ``rel``."""
        try:
            dfd, dummy, name = self.parent(rel)
        except OSError:
            return False
        try:
            return lstat_at(dfd, name) is not None
        finally:
            os.close(dfd)

    def listdir(self, rel_dir):
        """Sorted names in directory ``rel_dir`` (resolved inside the root), [] when it is not one."""
        fd, dummy = self._walk_quiet(check_rel(rel_dir))
        if fd is None:
            return []
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def glob(self, pattern):
        """Relative paths matching ``pattern`` (shell wildcards per component, no '**'), resolved inside the root."""
        parts = check_rel(pattern)
        found = [[]]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            nxt = []
            for base in found:
                if any(c in part for c in "*?["):
                    names = [n for n in self.listdir("/".join(base) or ".") if fnmatch.fnmatchcase(n, part)
                             and (part.startswith(".") or not n.startswith("."))]
                else:
                    names = [part]
                for name in names:
                    candidate = base + [name]
                    rel = "/".join(candidate)
                    if last and not self.lexists(rel):
                        continue
                    nxt.append(candidate)
            found = nxt
        return sorted("/".join(p) for p in found)


def as_root(root):
    """A Root for ``root`` (a Root or a path)."""
    return root if isinstance(root, Root) else Root(root)


def create_at(dfd, name):
    """Open a new file ``name`` in ``dfd`` for writing: exclusive, no symlink followed, private until filled."""
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600,
                   dir_fd=dfd)


def fill(fd, chunks, mode):
    """Write ``chunks`` (bytes), then set ``mode`` and root ownership and fsync: complete before it is renamed in."""
    for data in chunks:
        while data:
            data = data[os.write(fd, data):]
    os.fchmod(fd, mode)
    owner = want_owner()
    if owner:
        os.fchown(fd, *owner)
    os.fsync(fd)


def replace_at(dfd, name, tmp, data, mode):
    """Replace ``name`` in directory ``dfd`` by ``data`` through ``tmp`` (a killed run's leftover removed first, the
    temporary removed on any failure), then fsync the directory: the one atomic single-file replace."""
    try:
        os.unlink(tmp, dir_fd=dfd)  # left by a killed run
    except OSError:
        pass
    fd = create_at(dfd, tmp)
    try:
        try:
            fill(fd, [data], mode)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise
    os.fsync(dfd)
