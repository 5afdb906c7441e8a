# SPDX-License-Identifier: GPL-3.0-or-later
"""validate: defaults, normalisation and the bond/team option rules."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import validate, validate_values

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import (
    BOND, NET_FAILOVER, TEAM,
)


def _one(group, backend="networkd"):
    return validate.normalize([copy.deepcopy(group)], backend)[0]


def test_net_failover_defaults_and_normalisation():
    group = _one(dict(NET_FAILOVER, mac="52:54:00:12:34:56".upper(), pv_driver=None, ipv4=None, ipv6=None, dns=None))
    assert group["mac"] == "52:54:00:12:34:56"
    assert group["pv_driver"] == "virtio_net"
    assert group["ipv4"] == {"method": "dhcp", "addresses": [], "gateway": None}
    assert group["ipv6"]["method"] == "auto"
    assert group["dns"] == []
    assert group["id"] == "lan0"
    assert group["vf_match"] == ["mlx5_core", "mlx4_core", "ixgbevf", "iavf", "mlx4_en"]


def test_unnamed_group_id_is_mac():
    group = _one(dict(NET_FAILOVER, name=None))
    assert group["name"] is None and group["id"] == "525400123456"


def test_bond_defaults():
    group = _one(dict(BOND, bond=None))
    assert group["bond"] == {"mode": "active-backup", "miimon": 100, "updelay": 0, "downdelay": 0,
                             "num_grat_arp": 3, "num_unsol_na": 3, "fail_over_mac": "none",
                             "primary_reselect": "always"}
    assert (group["pv_name"], group["vf_name"], group["vf_mac"]) == ("bond0pv", "bond0vf", "52:54:00:aa:bb:cc")


def test_bond_vf_mac_not_settable_selects_active():
    group = _one(dict(BOND, vf_mac_settable=False, vf_mac="52:54:00:aa:bb:cd", bond=None))
    assert group["bond"]["fail_over_mac"] == "active"
    assert group["vf_mac"] == "52:54:00:aa:bb:cd"


def test_bond_arp_monitoring():
    group = _one(dict(BOND, bond={"arp_interval": 200, "arp_ip_target": "192.0.2.1, 192.0.2.2", "arp_validate": "all"}))
    bond = group["bond"]
    assert bond["arp_ip_target"] == ["192.0.2.1", "192.0.2.2"]
    assert "miimon" not in bond and "updelay" not in bond


def test_bond_unsol_na_alone_sets_both():
    assert _one(dict(BOND, bond={"num_unsol_na": 5}))["bond"]["num_grat_arp"] == 5


def test_bond_numbers_as_strings():
    assert _one(dict(BOND, bond={"miimon": "50", "updelay": "100"}))["bond"]["updelay"] == 100


def test_team_defaults():
    team = _one(dict(TEAM, vf_mac_settable=True), "NetworkManager")["team"]
    assert team == {"hwaddr_policy": "same_all", "link_watch": "ethtool", "delay_up": 0, "delay_down": 0,
                    "notify_peers": 3, "mcast_rejoin": 1}
    assert _one(TEAM, "NetworkManager")["team"]["hwaddr_policy"] == "by_active"


def test_addresses_are_canonical():
    group = _one(dict(NET_FAILOVER, ipv6={"method": "static", "addresses": ["2001:DB8:0::10/64"], "gateway": "2001:db8:0::1"}))
    assert group["ipv6"]["addresses"] == ["2001:db8::10/64"] and group["ipv6"]["gateway"] == "2001:db8::1"


@pytest.mark.parametrize("name", ["eth0", "lan_0", "a", "x" * 15, "bond-0", "0eth"])
def test_good_names(name):
    assert validate_values.check_ifname(name, "f") == name


@pytest.mark.parametrize("name", ["", ".", "..", "x" * 16, "a/b", "a b", "a\nb", 'a"b', "a'b", "a%b", "a*b", "a:b", "a.b",
                                  "a$b", "a;b", "a\\b", "-a", "default", "lo", None, 3])
def test_bad_names(name):
    with pytest.raises(validate_values.ConfigError) as err:
        validate_values.check_ifname(name, "groups[0].name")
    assert str(err.value).startswith("groups[0].name: ")


def test_error_is_a_value_error():
    assert issubclass(validate.ConfigError, ValueError)


def test_groups_must_be_a_list():
    with pytest.raises(validate.ConfigError, match="groups: expected a list"):
        validate.normalize({"mac": "x"}, "networkd")


def test_none_groups_is_empty():
    assert validate.normalize(None, "ifupdown") == []


def test_same_mac_in_other_case_is_a_duplicate():
    other = dict(NET_FAILOVER, name="lan1", mac=NET_FAILOVER["mac"].upper())
    with pytest.raises(validate.ConfigError, match="also the MAC of groups"):
        validate.normalize([NET_FAILOVER, other], "networkd")
