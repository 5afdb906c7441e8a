# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure checks of the reliability suite (benchmarks/reliability_checks.py) on snapshots captured from a lab guest."""
from __future__ import annotations

import copy
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "benchmarks"))

import reliability_checks as rc  # noqa: E402  pylint: disable=wrong-import-position,import-error

FIXTURES = os.path.join(HERE, "fixtures", "reliability")


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return rc.parse_snapshot(handle.read())


@pytest.fixture(name="conv")
def converged():
    return load("bond-converged.txt")


def unplugged(snap):
    """The converged snapshot as it looks with the VF gone: no enp2s0, the PV active."""
    snap = copy.deepcopy(snap)
    snap["links"] = [link for link in snap["links"] if link["ifname"] != "enp2s0"]
    snap["devices"].pop("enp2s0")
    snap["active"] = "enp1s0"
    return snap


def link(snap, name):
    return next(item for item in snap["links"] if item["ifname"] == name)


def test_summary_nearest_rank():
    assert rc.summary(list(range(1, 21))) == {"n": 20, "median": 10.5, "p95": 19, "max": 20}
    assert rc.summary([3, None, 1, 2]) == {"n": 3, "median": 2, "p95": 3, "max": 3}
    assert rc.summary([]) == {"n": 0, "median": None, "p95": None, "max": None}


def test_converged_bond_is_read_from_the_snapshot(conv):
    grp = rc.group(conv)
    assert (grp["upper"], grp["pv"], grp["vf"], grp["active"]) == ("bond0", "enp1s0", "enp2s0", "enp2s0")
    assert (grp["vf_driver"], grp["vf_pci"], grp["ipv4"]) == ("e1000e", "0000:02:00.0", ["10.99.0.158"])
    assert rc.check_state(conv, "plugged") == []
    assert len(conv["files"]) == 23 and conv["announcer"]["NRestarts"] == "0"
    assert [p["pid"] for p in rc.announcers(conv)] == [857]


def test_own_and_ansible_ssh_sessions_are_not_counted(conv):
    args = [p["args"] for p in conv["procs"]]
    assert not [a for a in args if a.startswith(("sshd: root@", "bash -c echo @@self", "ps ")) or "systemd --user" in a]
    assert "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups" in args
    assert len(conv["procs"]) == 9


def test_before_the_converge_there_is_no_upper():
    snap = load("bond-before-converge.txt")
    assert rc.check_state(snap, "plugged") == ["no single upper: the MAC's links have masters []"]


def test_phases(conv):
    assert rc.check_state(conv, "unplugged") == ["a VF (enp2s0) is present while unplugged"]
    gone = unplugged(conv)
    assert rc.check_state(gone, "unplugged") == []
    assert rc.check_state(gone, "plugged") == ["the VF None is not enslaved to bond0 (lowers ['enp1s0'])"]
    gone["active"] = "None"  # what /proc/net/bonding says when the bond has no active port
    assert rc.check_state(gone, "unplugged") == ["active lower None, not the PV enp1s0"]


def test_vf_back_but_not_active_or_not_enslaved(conv):
    snap = copy.deepcopy(conv)
    snap["active"] = "enp1s0"
    assert rc.check_state(snap, "plugged") == ["the VF enp2s0 is not the active lower (up=True, active enp1s0)"]
    del link(snap, "enp2s0")["master"]
    assert rc.check_state(snap, "plugged") == [
        "links with the MAC outside the group: ['enp2s0']",
        "the VF enp2s0 is not enslaved to bond0 (lowers ['enp1s0'])"]


def test_addresses_off_the_upper(conv):
    snap = copy.deepcopy(conv)
    link(snap, "enp2s0")["addr_info"] = [{"family": "inet6", "local": "fe80::1"}]
    link(snap, "bond0")["addr_info"].append({"family": "inet", "local": "10.99.0.159"})
    assert rc.check_state(snap, "plugged") == [
        "upper bond0 has IPv4 ['10.99.0.158', '10.99.0.159'], not exactly one address",
        "addresses on lowers/other links with the MAC: ['enp2s0 (inet6)']"]


def test_net_failover_active_lower_without_bond_state(conv):
    snap = copy.deepcopy(conv)
    snap["active"] = None  # no /proc/net/bonding: the primary is active while it is up
    assert rc.group(snap)["active"] == "enp2s0"
    link(snap, "enp2s0")["operstate"] = "DOWN"
    assert rc.group(snap)["active"] == "enp1s0"


def test_drift(conv):
    assert rc.drift(conv, conv) == []
    snap = copy.deepcopy(conv)
    path = "/etc/guestnet/announce.json"
    snap["files"][path] = "0" * 64
    snap["files"].pop("/etc/udev/rules.d/81-guestnet-failover.rules")
    snap["nm"].append("1234:Wired connection 4")
    snap["nm"] = [n.replace("4808f0b2-af52-4dcc-a658-2c38f9fb4602:lo", "5678:lo") for n in snap["nm"]]  # a boot's UUID
    snap["announcer"]["NRestarts"] = "1"
    snap["procs"].append(dict(rc.announcers(conv)[0], pid=2000))
    snap["failed"] = ["NetworkManager-wait-online.service"]
    snap["nm"].remove("8e73b623-fd24-30ff-b7ac-7e6efa37d88e:Wired connection 2")  # NM forgets a gone device's
    assert rc.drift(conv, snap) == [
        "files drift: added [] removed ['/etc/udev/rules.d/81-guestnet-failover.rules'] changed ['%s']" % path,
        "nm drift: added ['Wired connection 4'] removed [] changed []",
        "2 announcer processes",
        "announcer NRestarts 0 -> 1",
        "failed units: ['NetworkManager-wait-online.service']"]
    snap = copy.deepcopy(conv)
    snap["announcer"]["MainPID"] = "242"
    assert rc.drift(conv, snap) == ["announcer MainPID 857 -> 242"]
    # run 6: at some boots NetworkManager makes a default profile for the lab's mgmt0 (bound to it by name)
    snap = copy.deepcopy(conv)
    snap["nm"] += ["6e3e:Wired connection 1", "0075:mgmt0"]
    snap["nm_lab"] = ["Wired connection 1", "mgmt0"]
    assert rc.drift(conv, snap) == []
    assert rc.drift(conv, snap, rebooted=True) == []


def test_leaks(conv):
    snap = copy.deepcopy(conv)
    assert rc.leaks(conv, snap) == {}
    snap["procs"] += [{"pid": 3000 + i, "ppid": 1, "rss": 1, "comm": "teamd", "args": "teamd"} for i in range(2)]
    assert rc.leaks(conv, snap) == {"teamd": (0, 2)}
    # run 5: nm-dispatcher, started on D-Bus by the last re-plug's events and gone when idle, is not a leak
    snap["procs"].append({"pid": 4000, "ppid": 1, "rss": 1, "comm": "nm-dispatcher", "args": "/usr/libexec/nm-dispatcher"})
    assert rc.leaks(conv, snap) == {"teamd": (0, 2)}


LOG_A = """\
2026-12-02 00:30:00,100 p=1 u=root n=ansible INFO| TASK [guestnet.failover.apply : Write persistent failover configuration] ***
2026-12-02 00:30:05,600 p=1 u=root n=ansible INFO| ok: [rel-1]
2026-12-02 00:30:06,000 p=1 u=root n=ansible INFO| TASK [guestnet.failover.apply : Something else] ***
2026-12-02 00:30:07,000 p=1 u=root n=ansible INFO| ok: [rel-1]
2026-12-02 00:30:08,000 p=1 u=root n=ansible INFO| TASK [guestnet.failover.apply : Apply failover groups now] ***
2026-12-02 00:30:09,500 p=1 u=root n=ansible INFO| changed: [rel-1]
"""
LOG_B = """\
2026-12-02 00:30:05,000 p=2 u=root n=ansible INFO| TASK [guestnet.failover.apply : Write persistent failover configuration] ***
2026-12-02 00:30:11,000 p=2 u=root n=ansible INFO| fatal: [rel-1]: FAILED! => {}
"""


def test_task_spans_and_overlaps():
    spans_a, spans_b = rc.task_spans(LOG_A), rc.task_spans(LOG_B)
    start = 30 * 60
    assert spans_a == [("Write persistent failover configuration", start + 0.1, start + 5.6),
                       ("Apply failover groups now", start + 8.0, start + 9.5)]
    assert spans_b == [("Write persistent failover configuration", start + 5.0, start + 11.0)]
    assert rc.overlaps(spans_a, spans_b) == [(spans_a[0], spans_b[0]), (spans_a[1], spans_b[0])]
    assert rc.overlaps(spans_a[1:], []) == []


@pytest.fixture(name="units_text")
def units_snapshot_text():
    with open(os.path.join(FIXTURES, "bond-converged-udev-units.txt"), encoding="utf-8") as handle:
        return handle.read()


def with_lines(text, section, *lines):
    """The raw snapshot text with lines added at the end of one section (as the guest would print them)."""
    marker = "@@%s\n" % section
    head, dummy, tail = text.partition(marker)
    return head + marker + "".join(line + "\n" for line in lines) + tail


def test_udev_and_units_are_read_from_the_snapshot(units_text):
    snap = rc.parse_snapshot(units_text)
    assert snap["udev"] == {"settle": 0, "queue": False, "uninitialized": []}
    assert snap["units"]["NetworkManager.service"] == "active/running"
    assert snap["units"]["guestnet-announce.service"] == "active/running"
    # device units, the SSH sessions' units and idle-exiting D-Bus services are not compared
    assert not [u for u in snap["units"] if u.endswith(".device") or u.startswith(("session-", "user@", "user-"))]
    assert "systemd-hostnamed.service" not in snap["units"]
    assert rc.check_state(snap, "plugged") == [] and rc.drift(snap, snap) == [] and rc.leaks(snap, snap) == {}


def test_snapshots_without_the_new_sections_compare_as_before(conv, units_text):
    assert conv["udev"] is None and conv["units"] is None
    assert rc.new_units(conv, rc.parse_snapshot(units_text)) == {} and rc.udev_problems(conv) == []


def test_leaked_units_are_named(units_text):
    base = rc.parse_snapshot(units_text)
    snap = rc.parse_snapshot(with_lines(
        units_text, "units",
        "run-u42.service loaded active running /usr/bin/teamd -d",  # a transient unit left behind
        "ifup@bond0vf.service loaded active exited ifup for bond0vf",
        "modprobe@e1000.service loaded inactive dead Load Kernel Module e1000",  # loaded, not running: no leak
        "systemd-hostnamed.service loaded active running Hostname Service",  # D-Bus activated, exits when idle
        "session-99.scope loaded active running Session 99 of User root",  # an SSH session
        "sys-subsystem-net-devices-bond0vf.device loaded active plugged 82574L"))
    assert rc.new_units(base, snap) == {"ifup@bond0vf.service": "active/exited", "run-u42.service": "active/running"}
    assert rc.drift(base, snap) == [
        "units leaked (not in the baseline): ifup@bond0vf.service active/exited, run-u42.service active/running"]
    assert rc.drift(base, snap, rebooted=True, units=False) == []  # a boot between: its own units
    assert rc.leaks(base, snap) == {"unit ifup@bond0vf.service": (None, "active/exited"),
                                    "unit run-u42.service": (None, "active/running")}
    gone = copy.deepcopy(base)
    gone["units"].pop("NetworkManager.service")  # units that went away are not leaks (the VF's go with it)
    assert rc.new_units(base, gone) == {} and rc.new_units(gone, base) == {"NetworkManager.service": "active/running"}


def test_udev_queue_and_uninitialised_links(units_text):
    base = rc.parse_snapshot(units_text)
    text = units_text.replace("@@udev\nsettle=0\n", "@@udev\nsettle=1\nqueue=present\nuninitialized=bond0vf\n"
                                                    "uninitialized=enp3s0\n")
    snap = rc.parse_snapshot(text)
    assert snap["udev"] == {"settle": 1, "queue": True, "uninitialized": ["bond0vf", "enp3s0"]}
    assert rc.udev_problems(snap) == [
        "udevadm settle rc 1 (queue not empty after its timeout)",
        "udev queue still present (/run/udev/queue)",
        "links udev has not initialised: ['bond0vf', 'enp3s0']"]
    assert rc.drift(base, snap) == rc.udev_problems(snap)
