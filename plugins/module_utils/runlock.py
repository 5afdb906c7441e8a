# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage (serialisation): one guestnet.failover run at a time per root.

Two runs at once would interleave their writes, reloads and initramfs work. On the running system the lock is
``/run/guestnet-failover.lock`` (tmpfs: gone with the boot, never in an image); under an image root it is the
root directory itself (flock on its fd), so nothing is written into the image for it. The second run waits for
the first, up to a timeout, then fails with a message naming the lock and the holder's pid when it is known and alive.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time

LIVE_LOCK = "/run/guestnet-failover.lock"
DEFAULT_TIMEOUT = 900  # seconds: failover_config and failover_link's lock_timeout
POLL_SECONDS = 0.2


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
