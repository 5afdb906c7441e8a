# SPDX-License-Identifier: GPL-3.0-or-later
"""failover_link module: argument handling, validation errors, rollback and diff plumbing."""
from __future__ import annotations

import json

import pytest


from ansible_collections.guestnet.failover.plugins.module_utils import link_apply, netdev_read, pyroute2_support, runlock
from ansible_collections.guestnet.failover.plugins.modules import failover_link

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import module_runner

GROUP = {"name": "bond0", "model": "bond", "mac": "52:54:00:12:34:56", "pv_driver": "virtio_net",
         "vf_drivers": ["e1000e"]}


class FakeIPRoute(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture()
def module_run(monkeypatch, tmp_path):
    monkeypatch.setattr(runlock, "LIVE_LOCK", str(tmp_path / "guestnet-failover.lock"))
    monkeypatch.setattr(failover_link, "open_iproute", FakeIPRoute)
    monkeypatch.setattr(netdev_read, "pyroute2_import_error", lambda: None)
    return module_runner(monkeypatch, failover_link.main)


def fake_result(**over):
    res = {"changed": True, "before": "bond0: absent\n", "after": "bond0: bond up\n", "rolled_back": False,
           "probe": None, "groups": [{"upper": "bond0", "model": "bond", "pv": "enp1s0", "vf": "enp2s0",
                                      "changed": True, "steps": [], "notes": [], "fail_over_mac": "none"}]}
    res.update(over)
    return res


def test_validation_error_names_the_field(module_run):
    out = module_run({"groups": [dict(GROUP, mac="nope")]})
    assert out["failed"] and "groups[0]" in out["msg"] and "mac" in out["msg"]


def test_passes_options_and_returns_diff(module_run, monkeypatch):
    seen = {}

    def run(ipr, groups, **kw):
        seen.update(kw, groups=groups)
        return fake_result(apply_seconds=0.5)
    monkeypatch.setattr(link_apply, "run", run)
    out = module_run({"groups": [GROUP], "probe": "192.0.2.1", "rollback_timeout": 7, "_ansible_diff": True})
    assert out["changed"] and out["diff"] == {"before": "bond0: absent\n", "after": "bond0: bond up\n"}
    assert seen["probe_target"] == "192.0.2.1" and seen["rollback_timeout"] == 7 and not seen["check_mode"]
    assert seen["groups"][0]["bond"]["fail_over_mac"] == "none"
    assert out["apply_seconds"] == 0.5 and out["announcer"] is None


def test_rollback_fails_the_task(module_run, monkeypatch):
    def run(ipr, groups, **kw):
        err = link_apply.RolledBack("192.0.2.1 did not answer; the previous state was restored", ["x"])
        err.result = fake_result(probe={"reachable": False})
        raise err
    monkeypatch.setattr(link_apply, "run", run)
    out = module_run({"groups": [GROUP], "probe": "192.0.2.1"})
    assert out["failed"] and out["rolled_back"] and out["rollback_errors"] == ["x"]
    assert out["probe"] == {"reachable": False}


def test_announcer_files_installed_in_check_mode_prediction(module_run, monkeypatch, tmp_path):
    monkeypatch.setattr(link_apply, "run", lambda ipr, groups, **kw: fake_result(changed=False))
    monkeypatch.setattr(failover_link.announce, "render_files",
                        lambda groups: [{"path": str(tmp_path / "rule"), "content": json.dumps(groups), "mode": "0644"}])
    out = module_run({"groups": [GROUP], "announcer": True, "_ansible_check_mode": True})
    assert out["changed"] and out["announcer"]["changed_files"] == [str(tmp_path / "rule")]
    assert not (tmp_path / "rule").exists()


def test_missing_pyroute2_names_the_package(module_run, monkeypatch):
    monkeypatch.setattr(netdev_read, "pyroute2_import_error", lambda: ImportError("No module named 'pyroute2'"))
    monkeypatch.setattr(pyroute2_support, "has_respawned", lambda: True)
    out = module_run({"groups": [GROUP]})
    assert out["failed"] and "pyroute2" in out["msg"] and "python3-pyroute2" in out["msg"]


def test_a_second_run_waits_for_the_lock_then_fails_naming_it(module_run, monkeypatch):
    """failover_link takes failover_config's lock: while another run holds it, nothing is applied."""
    import fcntl
    import os

    applied = []
    monkeypatch.setattr(link_apply, "run", lambda *a, **kw: applied.append(1) or fake_result())
    fd = os.open(runlock.LIVE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, b"%d\n" % os.getpid(), 0)  # a live holder is named
        fcntl.flock(fd, fcntl.LOCK_EX)
        out = module_run({"groups": [GROUP], "lock_timeout": 0})
    finally:
        os.close(fd)
    assert out["failed"] and not out["changed"] and applied == []
    assert runlock.LIVE_LOCK in out["msg"] and "pid %d" % os.getpid() in out["msg"] and "lock_timeout" in out["msg"]
    assert module_run({"groups": [GROUP]})["changed"] and applied == [1]
