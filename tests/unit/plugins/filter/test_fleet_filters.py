# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report / fleet_summary filters: hostvars in, the module_utils.fleet result out, bad input as filter errors."""
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.guestnet.failover.plugins.filter.fleet_report import FilterModule as Report
from ansible_collections.guestnet.failover.plugins.filter.fleet_summary import FilterModule as Summary
from ansible_collections.guestnet.failover.plugins.module_utils.fleet import fleet
from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.test_fleet import fact

REPORT = Report().filters()["fleet_report"]
SUMMARY = Summary().filters()["fleet_summary"]


def test_report_reads_hostvars_and_covers_every_play_host():
    hostvars = {
        "vm1": {"ansible_facts": {"guestnet_failover": fact("kvm-failover"), "virtualization_type": "kvm"}, "x": 1},
        "vm2": {"ansible_facts": {}},  # failed before discovery
    }
    report = REPORT(hostvars, ["vm1", "vm2", "vm3"])  # vm3: not in hostvars at all
    assert report == fleet({"vm1": {"fact": fact("kvm-failover"), "virtualization_type": "kvm"},
                            "vm2": {"fact": None}, "vm3": {"fact": None}})
    assert SUMMARY(report, names=1)[-2:] == ["vm2   1       not-discovered", "vm3   1       not-discovered"]


def test_bad_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="hosts must be a list"):
        REPORT({}, "vm1")
    with pytest.raises(AnsibleFilterError, match="fleet_report: expected a guestnet_failover fact"):
        REPORT({"vm1": {"ansible_facts": {"guestnet_failover": []}}}, ["vm1"])
    with pytest.raises(AnsibleFilterError, match="names must be a positive integer"):
        SUMMARY({}, names=0)
    with pytest.raises(AnsibleFilterError, match="fleet_summary: expected the fleet report"):
        SUMMARY(["vm1"])
