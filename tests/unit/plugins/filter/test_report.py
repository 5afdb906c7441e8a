# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.guestnet.failover.plugins.filter.topology import FilterModule
from ansible_collections.guestnet.failover.plugins.module_utils.classify import groups
from ansible_collections.guestnet.failover.plugins.module_utils.findings import evaluate
from ansible_collections.guestnet.failover.plugins.module_utils.report import ReportError, render
from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.capture_fixtures import load


def fact(name, drop_findings=False):
    capture = load(name)
    found = groups(capture)
    return {"netns": capture.get("netns"), "links": capture["links"], "groups": found,
            "findings": [] if drop_findings else evaluate(capture, found)}


def test_triplet_tree_exactly():
    lines = render(fact("kvm-failover", drop_findings=True))
    assert lines == [
        "enp1s0  net_failover  52:54:00:12:34:56  UP carrier  192.0.2.10/24 fe80::5054:ff:fe12:3456/64",
        "\u251c\u2500 enp1s0nsby  standby  virtio_net  0000:01:00.0  UP carrier  fe80::5054:ff:fe12:3456/64",
        "\u2514\u2500 enp2s0      primary  e1000e      0000:02:00.0  UP carrier  fe80::5054:ff:fe12:3456/64  \u2190 active",
        "",
        "findings: none",
    ]


def test_ascii_tree_and_absent_primary():
    lines = render(fact("kvm-failover-vf-absent", drop_findings=True), ascii_only=True)
    assert lines[:3] == [
        "enp1s0  net_failover  52:54:00:12:34:56  UP carrier  192.0.2.10/24 fe80::5054:ff:fe12:3456/64",
        "|- enp1s0nsby        standby  virtio_net  0000:01:00.0  UP carrier  fe80::5054:ff:fe12:3456/64  <- active",
        "`- (primary absent)",
    ]
    assert all(ord(ch) < 128 for line in lines for ch in line)


def test_netvsc_upper_is_also_standby():
    lines = render(fact("netvsc-mana", drop_findings=True))
    assert lines[0].startswith("eth0  netvsc  00:0d:3a:6e:8a:12  UP carrier  10.0.0.4/24 fe80::20d:3aff:fe6e:8a12/64  standby hv_netvsc")
    # "-": the VF has no address, as it should
    assert lines[1] == "\u2514\u2500 enP30832s1  primary  mana  7870:00:00.0  UP carrier  -  \u2190 active"
    assert len([line for line in lines if "eth0" in line]) == 1


def test_two_groups_and_findings_section():
    lines = render(fact("two-triplets"))
    assert [line.split()[0] for line in lines if line and line[0].isalpha() and "net_failover" in line] == ["enp1s0", "enp3s0"]
    head = lines.index("findings: 2 errors, 4 warnings")
    assert lines[head + 1].split()[:3] == ["error", "UPPER_DAD_FAILED", "enp1s0:"]
    assert lines[head + 2].strip().startswith("fix: ")


def test_unpaired_and_no_groups():
    assert render(fact("pv-vf-pair"))[0] == "(no upper)  unpaired  52:54:00:12:34:56"
    lines = render(fact("netns-veth-bridge"))
    assert lines == ["netns gnf-fixture", "no failover groups", "", "findings: none"]


def test_renders_without_links():
    data = fact("bond-fallback")
    del data["links"]
    lines = render(data)
    assert lines[0] == "bond0  bond  52:54:00:12:34:56"
    assert lines[2].split()[:3] == ["\u2514\u2500", "enp2s0", "primary"] and lines[2].endswith("\u2190 active")


def test_bad_input():
    with pytest.raises(ReportError):
        render([{"model": "bond"}])


def test_filter_delegates_and_validates():
    filt = FilterModule().filters()["topology_report"]
    assert filt(fact("kvm-failover"), ascii=True) == render(fact("kvm-failover"), ascii_only=True)
    with pytest.raises(AnsibleFilterError, match="expects the guestnet_failover fact"):
        filt("eth0")
    with pytest.raises(AnsibleFilterError, match="dict with 'groups'"):
        filt({"links": []})
    with pytest.raises(AnsibleFilterError, match="ascii must be a boolean"):
        filt(fact("kvm-failover"), ascii="yes")
