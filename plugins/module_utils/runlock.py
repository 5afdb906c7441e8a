# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage (serialisation): one guestnet.failover run at a time per root.

Two runs at once would interleave their writes, reloads and initramfs work. On the running system the lock is
``/run/guestnet-failover.lock`` (tmpfs: gone with the boot, never in an image); under an image root it is the
root directory itself (flock on its fd), so nothing is written into the image for it. The second run waits for
the first, up to a timeout, then fails with a message naming the lock and the holder's pid when it is known and alive.

What a run still owes after its files are written (reloads, the announcer's restart) is recorded in
``run/guestnet-failover.pending`` under the root (``/run``: a reboot does that work anyway) before the first write and
removed once done: a run killed or failing in between leaves it, and the next run does that work even though the files
compare equal then. Likewise failover_link records the addresses and routes it carries from the lowers to an upper in
``/run/guestnet-failover.carry`` before it removes them from the lowers: killed in between, they exist nowhere else.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import time

from ansible_collections.guestnet.failover.plugins.module_utils import files_root

LIVE_LOCK = "/run/guestnet-failover.lock"
DEFAULT_TIMEOUT = 900  # seconds: failover_config and failover_link's lock_timeout
POLL_SECONDS = 0.2


PENDING = "run/guestnet-failover.pending"
CARRY = "run/guestnet-failover.carry"
_PENDING_PATH = re.compile(r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*(/[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*)*")


class Busy(Exception):
    """Another run held the lock for longer than the timeout."""


def _holder(fd, proc="/proc"):
    """The text " (pid N)" naming the run recorded in the lock file while that process lives, else "".

    A holder that is not a guestnet.failover run (flock(1), an admin's script) writes nothing, so the recorded pid
    may be an earlier run's that is gone: naming it would mislead (reliability run 1).
    """
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return " (pid %s)" % pid if pid.isdigit() and os.path.exists(os.path.join(proc, pid)) else ""


@contextlib.contextmanager
def held(root, timeout, live_lock=None, clock=time.monotonic, pause=time.sleep):
    """Hold the run lock of ``root`` (a files_root.Root) while the block runs; raise Busy after ``timeout`` seconds."""
    live = root.path == "/"
    if live:
        live_lock = live_lock or LIVE_LOCK
        fd = os.open(live_lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        shown = live_lock
    else:
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0), dir_fd=root.fd)
        shown = "%s (the image root)" % root.path
    try:
        deadline = clock() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    raise Busy("another guestnet.failover run holds %s%s; waited %d s (lock_timeout)"
                               % (shown, _holder(fd) if live else "", timeout))
                pause(POLL_SECONDS)
        if live:
            os.ftruncate(fd, 0)
            os.pwrite(fd, ("%d\n" % os.getpid()).encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def read_pending(root, everything):
    """Relative paths a killed or failed run wrote without doing the work after them ([] when none).

    A record that cannot be read or parsed stands for ``everything`` (the planned paths): redoing reloads is harmless.
    Paths only select which fixed commands run; anything but a plain relative path is dropped.
    """
    try:
        dfd, dummy, name = root.parent(PENDING)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise
    try:
        fd = os.open(name, files_root.O_FILE, dir_fd=dfd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        return sorted(everything)
    finally:
        os.close(dfd)
    try:
        with os.fdopen(fd, "rb") as handle:
            paths = json.loads(handle.read(1 << 20).decode("utf-8"))["paths"]
        if not isinstance(paths, list):
            raise ValueError("not a list")
    except (OSError, ValueError, KeyError, TypeError):
        return sorted(everything)
    return sorted(set(p for p in paths if isinstance(p, str) and _PENDING_PATH.fullmatch(p)
                      and ".." not in p.split("/")))


def write_pending(root, paths):
    """Record ``paths`` as written-but-not-yet-followed-up (replaced atomically, fsynced)."""
    dfd, dummy, name = root.parent(PENDING, create=True)
    tmp = name + ".tmp"
    try:
        files_root.replace_at(dfd, name, tmp, json.dumps({"paths": sorted(paths)}).encode("utf-8"), 0o600)
    finally:
        os.close(dfd)


def read_carry(root):
    """The addresses and routes a killed failover_link run was carrying, {group MAC: {"addresses", "routes"}} ({} when
    none or unreadable: the entries are checked again where they are used, link_apply.owed_state)."""
    try:
        dfd, dummy, name = root.parent(CARRY)
    except OSError:
        return {}
    try:
        fd = os.open(name, files_root.O_FILE, dir_fd=dfd)
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read(1 << 20).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    finally:
        os.close(dfd)
    return data if isinstance(data, dict) else {}


def write_carry(root, carried):
    """Record what failover_link is about to carry (replaced atomically, fsynced); None or {}: drop the record."""
    if not carried:
        clear_record(root, CARRY)
        return
    dfd, dummy, name = root.parent(CARRY, create=True)
    try:
        files_root.replace_at(dfd, name, name + ".tmp", json.dumps(carried, sort_keys=True).encode("utf-8"), 0o600)
    finally:
        os.close(dfd)


def clear_record(root, record=PENDING):
    """Drop a record (default: the pending one, once the work after the files is done)."""
    try:
        dfd, dummy, name = root.parent(record)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return
        raise
    try:
        os.unlink(name, dir_fd=dfd)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
    finally:
        os.close(dfd)
