# SPDX-License-Identifier: GPL-3.0-or-later
"""Two runs on one root never interleave: the second waits, then fails clearly (issue 15)."""
from __future__ import annotations

import fcntl
import os

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import files_root
from ansible_collections.guestnet.failover.plugins.module_utils import runlock
from ansible_collections.guestnet.failover.plugins.modules import failover_config as fc


class FakeClock:
    """Time that moves only when the lock waits, so the test is instant and exact."""

    def __init__(self):
        self.now = 0.0
        self.pauses = 0

    def clock(self):
        return self.now

    def pause(self, seconds):
        self.pauses += 1
        self.now += seconds


def _hold_dir(path):
    fd = os.open(str(path), os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_image_root_lock_waits_then_fails_naming_the_root(tmp_path):
    other = _hold_dir(tmp_path)  # another run holds the image root
    fake = FakeClock()
    try:
        with files_root.Root(str(tmp_path)) as root:
            with pytest.raises(runlock.Busy) as err:
                with runlock.held(root, 5, clock=fake.clock, pause=fake.pause):
                    pytest.fail("entered while another run held the lock")
        assert str(tmp_path) in str(err.value) and "waited 5 s" in str(err.value)
        assert fake.pauses == int(5 / runlock.POLL_SECONDS)
    finally:
        os.close(other)
    with files_root.Root(str(tmp_path)) as root:
        with runlock.held(root, 5, clock=fake.clock, pause=fake.pause):
            pass  # free again once the other run closed its descriptor
    assert os.listdir(str(tmp_path)) == []  # nothing written into the image for the lock


def test_live_lock_file_names_the_holder(tmp_path, monkeypatch):
    lock = tmp_path / "guestnet-failover.lock"
    monkeypatch.setattr(files_root, "resolve_root", lambda path: "/")
    fake = FakeClock()
    with files_root.Root("/") as root:
        with runlock.held(root, 1, live_lock=str(lock)):
            assert lock.read_text().strip() == str(os.getpid())
            with pytest.raises(runlock.Busy) as err:
                with runlock.held(root, 1, live_lock=str(lock), clock=fake.clock, pause=fake.pause):
                    pytest.fail("entered while another run held the lock")
    assert str(lock) in str(err.value) and "(pid %d)" % os.getpid() in str(err.value)


def test_a_gone_pid_is_not_named(tmp_path):
    """Another tool holds the lock (flock(1)) and the file still records an earlier run's pid, now gone."""
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    lock = tmp_path / "lock"
    for recorded, shown in (("4242\n", " (pid 4242)"), ("1819\n", ""), ("", ""), ("x y\n", "")):
        lock.write_text(recorded)
        fd = os.open(str(lock), os.O_RDONLY)
        try:
            assert runlock._holder(fd, str(proc)) == shown
        finally:
            os.close(fd)


def test_failover_config_refuses_while_another_run_holds_the_root(tmp_path):
    other = _hold_dir(tmp_path)
    try:
        with pytest.raises(runlock.Busy):
            fc.configure({"groups": [], "backend": "networkd", "initramfs": "none", "root": str(tmp_path),
                          "lock_timeout": 0})
    finally:
        os.close(other)
    assert os.listdir(str(tmp_path)) == []


def test_carry_record_written_read_and_dropped(tmp_path):
    (tmp_path / "run").mkdir()
    carried = {"52:54:00:12:34:56": {"addresses": [{"address": "10.99.0.158", "prefixlen": 24}], "routes": []}}
    with files_root.Root(str(tmp_path)) as root:
        assert runlock.read_carry(root) == {}
        runlock.write_carry(root, carried)
        assert runlock.read_carry(root) == carried
        assert oct((tmp_path / "run" / "guestnet-failover.carry").stat().st_mode & 0o777) == "0o600"
        runlock.write_carry(root, None)
        assert not (tmp_path / "run" / "guestnet-failover.carry").exists() and runlock.read_carry(root) == {}
        (tmp_path / "run" / "guestnet-failover.carry").write_text("[not a mapping")
        assert runlock.read_carry(root) == {}  # unreadable: nothing is carried (what is owed is re-checked anyway)
