# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input (issue 12): every refused value gives an error naming the field, and nothing is written.

Categories: newline, carriage return, NUL, IPv6 scope suffix, unicode lookalikes, over-long values,
leading '-', '..', '/', spaces, quotes, off-subnet gateways, unspecified/multicast/loopback/broadcast
addresses, duplicate MACs (vf_mac included), file-name collisions. docs/hardening.md counts them.
"""
from __future__ import annotations

import copy
import json
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.guestnet.failover.plugins.filter import desired_groups as desired_filter
from ansible_collections.guestnet.failover.plugins.module_utils import link_apply, netdev_read, validate
from ansible_collections.guestnet.failover.plugins.modules import failover_config as fc
from ansible_collections.guestnet.failover.plugins.modules import failover_link, netdev_facts

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import (
    BOND, NET_FAILOVER, TEAM, module_runner, variant as _g,
)

MAC2 = "52:54:00:12:34:99"


def _v4(addresses, gateway=None):
    return {"method": "static", "addresses": addresses, "gateway": gateway}


def _v6(addresses, gateway=None):
    return {"method": "static", "addresses": addresses, "gateway": gateway}


# (category, id, groups, backend, field named in the error, message fragment)
CONFIG = [
    # newline: the trailing newline that ^...$ let through
    ("newline", "name", [_g(NET_FAILOVER, name="lan0\n")], "networkd", "groups[0].name", "newlines"),
    ("newline", "name-inner", [_g(NET_FAILOVER, name="lan0\nRUN")], "ifupdown", "groups[0].name", "newlines"),
    ("newline", "mac", [_g(NET_FAILOVER, mac="52:54:00:12:34:56\n")], "networkd", "groups[0] (lan0).mac", "is not a MAC"),
    ("newline", "pv-driver", [_g(NET_FAILOVER, pv_driver="virtio_net\n")], "networkd", "groups[0] (lan0).pv_driver", "not a driver name"),
    ("newline", "vf-driver", [_g(NET_FAILOVER, vf_drivers=["mlx5_core\n"])], "NetworkManager", "groups[0] (lan0).vf_drivers[0]", "not a driver name"),
    ("newline", "pv-name", [_g(BOND, pv_name="bond0pv\n")], "ifupdown", "groups[0] (bond0).pv_name", "newlines"),
    ("newline", "vf-name", [_g(BOND, vf_name="bond0vf\n")], "networkd", "groups[0] (bond0).vf_name", "newlines"),
    ("newline", "vf-mac", [_g(BOND, vf_mac="52:54:00:aa:bb:cd\n")], "networkd", "groups[0] (bond0).vf_mac", "is not a MAC"),
    ("newline", "dns", [_g(NET_FAILOVER, dns=["192.0.2.53\n"])], "netplan", "groups[0] (lan0).dns[0]", "is not an IP address"),
    ("newline", "gateway", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "192.0.2.1\nDNS=1.1.1.1"))], "networkd",
     "groups[0] (bond0).ipv4.gateway", "is not an IP address"),
    ("newline", "address", [_g(BOND, ipv4=_v4(["192.0.2.10/24\n[Match]"]))], "networkd", "groups[0] (bond0).ipv4.addresses[0]", "not an IP address"),
    ("newline", "arp-target", [_g(BOND, bond={"miimon": 0, "arp_interval": 100, "arp_ip_target": ["192.0.2.1\n"]})], "networkd",
     "groups[0] (bond0).bond.arp_ip_target[0]", "is not an IP address"),
    ("newline", "miimon", [_g(BOND, bond={"miimon": "100\n"})], "networkd", "groups[0] (bond0).bond.miimon", "is not an integer"),
    ("newline", "model", [_g(NET_FAILOVER, model="bond\n")], "networkd", "groups[0] (lan0).model", "unknown model"),
    ("newline", "method", [_g(NET_FAILOVER, ipv4={"method": "dhcp\n"})], "networkd", "groups[0] (lan0).ipv4.method", "is not one of"),
    ("newline", "unknown-key", [_g(NET_FAILOVER, **{"name\nx": 1})], "networkd", "groups[0] (lan0)", "unknown key(s) 'name\\nx'"),
    # carriage return
    ("cr", "name", [_g(NET_FAILOVER, name="lan0\r")], "NetworkManager", "groups[0].name", "newlines"),
    ("cr", "driver", [_g(NET_FAILOVER, vf_drivers=["iavf\r"])], "networkd", "groups[0] (lan0).vf_drivers[0]", "not a driver name"),
    ("cr", "dns", [_g(NET_FAILOVER, dns=["2001:db8::53\r"])], "NetworkManager", "groups[0] (lan0).dns[0]", "is not an IP address"),
    ("cr", "mac", [_g(NET_FAILOVER, mac="52:54:00:12:34:56\r")], "ifupdown", "groups[0] (lan0).mac", "is not a MAC"),
    # NUL
    ("nul", "name", [_g(NET_FAILOVER, name="lan\x000")], "networkd", "groups[0].name", "control characters"),
    ("nul", "mac", [_g(NET_FAILOVER, mac="52:54:00:12:34:56\x00")], "networkd", "groups[0] (lan0).mac", "is not a MAC"),
    ("nul", "driver", [_g(NET_FAILOVER, pv_driver="virtio_net\x00")], "networkd", "groups[0] (lan0).pv_driver", "not a driver name"),
    ("nul", "address", [_g(BOND, ipv6=_v6(["2001:db8::10/64\x00"]))], "netplan", "groups[0] (bond0).ipv6.addresses[0]", "not an IP address"),
    # scope suffix (item 1 of the issue)
    ("scope", "dns-newline", [_g(NET_FAILOVER, dns=["fe80::1%x\nPostUp=evil"])], "ifupdown", "groups[0] (lan0).dns[0]", "scope suffix"),
    ("scope", "dns", [_g(NET_FAILOVER, dns=["2001:db8::53%eth0"])], "networkd", "groups[0] (lan0).dns[0]", "scope suffix"),
    ("scope", "gateway6", [_g(BOND, ipv6=_v6(["2001:db8::10/64"], "fe80::1%eth0"))], "netplan", "groups[0] (bond0).ipv6.gateway", "scope suffix"),
    ("scope", "gateway6-keyfile", [_g(BOND, ipv6=_v6(["2001:db8::10/64"], "fe80::1%x\n[ipv4]\nmethod=disabled"))], "NetworkManager",
     "groups[0] (bond0).ipv6.gateway", "scope suffix"),
    ("scope", "address6", [_g(BOND, ipv6=_v6(["fe80::5%eth0/64"]))], "networkd", "groups[0] (bond0).ipv6.addresses[0]", "scope suffix"),
    ("scope", "address6-stanza", [_g(BOND, ipv6=_v6(["2001:db8::10%x\n    post-up rm -rf /\n/64"]))], "ifupdown",
     "groups[0] (bond0).ipv6.addresses[0]", "scope suffix"),
    # unicode lookalikes
    ("unicode", "name-cyrillic-a", [_g(NET_FAILOVER, name="l\u0430n0")], "networkd", "groups[0].name", "may only contain"),
    ("unicode", "name-fullwidth", [_g(NET_FAILOVER, name="\uff4c\uff41\uff4e0")], "networkd", "groups[0].name", "may only contain"),
    ("unicode", "mac-fullwidth-digit", [_g(NET_FAILOVER, mac="\uff15\uff12:54:00:12:34:56")], "networkd", "groups[0] (lan0).mac", "is not a MAC"),
    ("unicode", "driver-cyrillic-e", [_g(NET_FAILOVER, vf_drivers=["\u04351000e"])], "networkd", "groups[0] (lan0).vf_drivers[0]", "not a driver name"),
    ("unicode", "dns-arabic-digits", [_g(NET_FAILOVER, dns=["\u0661\u0669\u0662.0.2.53"])], "networkd", "groups[0] (lan0).dns[0]", "is not an IP address"),
    ("unicode", "miimon-arabic-digits", [_g(BOND, bond={"miimon": "\u0661\u0660\u0660"})], "networkd", "groups[0] (bond0).bond.miimon", "is not an integer"),
    ("unicode", "name-nbsp", [_g(NET_FAILOVER, name="lan\u00a00")], "networkd", "groups[0].name", "may only contain"),
    # over-long
    ("long", "name", [_g(NET_FAILOVER, name="l" * 16)], "networkd", "groups[0].name", "1-15 bytes"),
    ("long", "name-multibyte", [_g(NET_FAILOVER, name="\u00e9" * 8)], "networkd", "groups[0].name", "1-15 bytes"),
    ("long", "driver", [_g(NET_FAILOVER, vf_drivers=["d" * 33])], "networkd", "groups[0] (lan0).vf_drivers[0]", "1-32 characters"),
    ("long", "mac", [_g(NET_FAILOVER, mac="52:54:00:12:34:56:78")], "networkd", "groups[0] (lan0).mac", "is not a MAC"),
    ("long", "derived-port-name", [_g(BOND, name="bond0123456789")], "networkd", "groups[0] (bond0123456789).pv_name", "shorten name"),
    ("long", "miimon", [_g(BOND, bond={"miimon": "1" * 11})], "networkd", "groups[0] (bond0).bond.miimon", "is not an integer"),
    ("long", "address", [_g(BOND, ipv6=_v6(["2001:db8:" + "0:" * 30 + ":1/64"]))], "networkd", "groups[0] (bond0).ipv6.addresses[0]", "not an IP address"),
    # leading '-'
    ("dash", "name", [_g(NET_FAILOVER, name="-lan0")], "ifupdown", "groups[0].name", "must not start with '-'"),
    ("dash", "pv-name", [_g(BOND, pv_name="-p")], "networkd", "groups[0] (bond0).pv_name", "must not start with '-'"),
    ("dash", "driver", [_g(NET_FAILOVER, vf_drivers=["-iavf"])], "networkd", "groups[0] (lan0).vf_drivers[0]", "not starting with '-'"),
    ("dash", "miimon", [_g(BOND, bond={"miimon": "-100"})], "networkd", "groups[0] (bond0).bond.miimon", "is not an integer"),
    # '..' and '/'
    ("dotdot", "name", [_g(NET_FAILOVER, name="..")], "networkd", "groups[0].name", "may only contain"),
    ("dotdot", "vf-name", [_g(BOND, vf_name="..")], "NetworkManager", "groups[0] (bond0).vf_name", "may only contain"),
    ("slash", "name", [_g(NET_FAILOVER, name="../../etc")], "networkd", "groups[0].name", "no '/'"),
    ("slash", "name-abs", [_g(BOND, name="/etc/x")], "NetworkManager", "groups[0].name", "no '/'"),
    ("slash", "driver", [_g(NET_FAILOVER, pv_driver="virtio/net")], "networkd", "groups[0] (lan0).pv_driver", "not a driver name"),
    # spaces
    ("space", "name", [_g(NET_FAILOVER, name="lan 0")], "ifupdown", "groups[0].name", "whitespace"),
    ("space", "driver", [_g(NET_FAILOVER, vf_drivers=["mlx5_core ixgbevf"])], "networkd", "groups[0] (lan0).vf_drivers[0]", "not a driver name"),
    ("space", "dns", [_g(NET_FAILOVER, dns=[" 192.0.2.53"])], "networkd", "groups[0] (lan0).dns[0]", "is not an IP address"),
    ("space", "mac", [_g(NET_FAILOVER, mac=" 52:54:00:12:34:56")], "networkd", "groups[0] (lan0).mac", "is not a MAC"),
    # quotes
    ("quote", "name-double", [_g(NET_FAILOVER, name='lan"0')], "networkd", "groups[0].name", "quotes"),
    ("quote", "name-single", [_g(BOND, name="bond'0")], "ifupdown", "groups[0].name", "quotes"),
    ("quote", "driver", [_g(NET_FAILOVER, vf_drivers=['iavf", RUN+="x'])], "networkd", "groups[0] (lan0).vf_drivers[0]", "not a driver name"),
    ("quote", "gateway", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], '192.0.2.1"}'))], "netplan", "groups[0] (bond0).ipv4.gateway", "not an IP address"),
    # off-subnet and otherwise senseless gateways
    ("gateway", "v4-off-subnet", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "198.51.100.1"))], "networkd", "groups[0] (bond0).ipv4.gateway", "outside every"),
    ("gateway", "v6-off-subnet", [_g(BOND, ipv6=_v6(["2001:db8::10/64"], "2001:db8:1::1"))], "NetworkManager",
     "groups[0] (bond0).ipv6.gateway", "outside every"),
    ("gateway", "v4-own-address", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "192.0.2.10"))], "networkd", "groups[0] (bond0).ipv4.gateway", "own addresses"),
    ("gateway", "v4-broadcast", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "192.0.2.255"))], "networkd", "groups[0] (bond0).ipv4.gateway", "broadcast"),
    ("gateway", "v4-network", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "192.0.2.0"))], "ifupdown", "groups[0] (bond0).ipv4.gateway", "network or broadcast"),
    ("gateway", "v4-unspecified", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "0.0.0.0"))], "networkd", "groups[0] (bond0).ipv4.gateway", "unspecified"),
    ("gateway", "v6-unspecified", [_g(BOND, ipv6=_v6(["2001:db8::10/64"], "::"))], "netplan", "groups[0] (bond0).ipv6.gateway", "unspecified"),
    ("gateway", "v4-multicast", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "224.0.0.1"))], "networkd", "groups[0] (bond0).ipv4.gateway", "multicast"),
    ("gateway", "v6-multicast", [_g(BOND, ipv6=_v6(["2001:db8::10/64"], "ff02::2"))], "networkd", "groups[0] (bond0).ipv6.gateway", "multicast"),
    ("gateway", "v4-loopback", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], "127.0.0.1"))], "networkd", "groups[0] (bond0).ipv4.gateway", "loopback"),
    ("gateway", "integer", [_g(BOND, ipv4=_v4(["192.0.2.10/24"], 3221225985))], "networkd", "groups[0] (bond0).ipv4.gateway", "not an IP address string"),
    # 0.0.0.0, ::, multicast, loopback, broadcast as host address or DNS server
    ("unspecified", "dns-v4", [_g(NET_FAILOVER, dns=["0.0.0.0"])], "networkd", "groups[0] (lan0).dns[0]", "unspecified"),
    ("unspecified", "dns-v6", [_g(NET_FAILOVER, dns=["::"])], "NetworkManager", "groups[0] (lan0).dns[0]", "unspecified"),
    ("unspecified", "address-v4", [_g(BOND, ipv4=_v4(["0.0.0.0/24"]))], "networkd", "groups[0] (bond0).ipv4.addresses[0]", "unspecified"),
    ("unspecified", "address-v6", [_g(BOND, ipv6=_v6(["::/64"]))], "networkd", "groups[0] (bond0).ipv6.addresses[0]", "unspecified"),
    ("multicast", "dns-v4", [_g(NET_FAILOVER, dns=["224.0.0.251"])], "networkd", "groups[0] (lan0).dns[0]", "multicast"),
    ("multicast", "dns-v6", [_g(NET_FAILOVER, dns=["ff02::fb"])], "netplan", "groups[0] (lan0).dns[0]", "multicast"),
    ("multicast", "address-v4", [_g(BOND, ipv4=_v4(["239.1.1.1/24"]))], "networkd", "groups[0] (bond0).ipv4.addresses[0]", "multicast"),
    ("multicast", "mac", [_g(NET_FAILOVER, mac="01:00:5e:00:00:01")], "networkd", "groups[0] (lan0).mac", "multicast"),
    ("multicast", "arp-target", [_g(BOND, bond={"miimon": 0, "arp_interval": 100, "arp_ip_target": ["224.0.0.1"]})], "networkd",
     "groups[0] (bond0).bond.arp_ip_target[0]", "multicast"),
    ("loopback", "dns", [_g(NET_FAILOVER, dns=["127.0.0.53"])], "networkd", "groups[0] (lan0).dns[0]", "loopback"),
    ("loopback", "address", [_g(BOND, ipv4=_v4(["127.0.0.2/8"]))], "networkd", "groups[0] (bond0).ipv4.addresses[0]", "loopback"),
    ("loopback", "address-v6", [_g(BOND, ipv6=_v6(["::1/128"]))], "networkd", "groups[0] (bond0).ipv6.addresses[0]", "loopback"),
    ("broadcast", "dns", [_g(NET_FAILOVER, dns=["255.255.255.255"])], "networkd", "groups[0] (lan0).dns[0]", "reserved"),
    ("broadcast", "address", [_g(BOND, ipv4=_v4(["192.0.2.255/24"]))], "networkd", "groups[0] (bond0).ipv4.addresses[0]", "broadcast address"),
    ("broadcast", "network-address", [_g(BOND, ipv4=_v4(["192.0.2.0/24"]))], "networkd", "groups[0] (bond0).ipv4.addresses[0]", "network address"),
    ("reserved", "v4-mapped", [_g(BOND, ipv6=_v6(["::ffff:192.0.2.10/120"]))], "networkd", "groups[0] (bond0).ipv6.addresses[0]", "IPv4-mapped"),
    ("reserved", "link-local-dns", [_g(NET_FAILOVER, dns=["fe80::53"])], "networkd", "groups[0] (lan0).dns[0]", "needs a scope"),
    ("reserved", "prefix-0", [_g(BOND, ipv4=_v4(["192.0.2.10/0"]))], "networkd", "groups[0] (bond0).ipv4.addresses[0]", "prefix length 0"),
    ("reserved", "dns-integer", [_g(NET_FAILOVER, dns=[3221225985])], "networkd", "groups[0] (lan0).dns[0]", "not an IP address string"),
    # duplicates inside one value list
    ("duplicate", "dns-twice", [_g(NET_FAILOVER, dns=["192.0.2.53", "192.0.2.53"])], "networkd", "groups[0] (lan0).dns[1]", "listed twice"),
    ("duplicate", "address-twice", [_g(BOND, ipv4=_v4(["192.0.2.10/24", "192.0.2.10/25"]))], "networkd",
     "groups[0] (bond0).ipv4.addresses[1]", "listed twice"),
    ("duplicate", "address-two-groups", [BOND, _g(TEAM, ipv4=_v4(["192.0.2.10/24"]))], "NetworkManager",
     "groups[1] (team0).ipv4.addresses[0]", "also an address of groups[0] (bond0)"),
    # duplicate MACs, vf_mac included
    ("mac-collision", "mac-mac", [NET_FAILOVER, _g(NET_FAILOVER, name="lan1")], "networkd", "groups[1] (lan1).mac", "also the MAC of groups[0] (lan0)"),
    ("mac-collision", "vf-mac-is-other-mac", [BOND, _g(TEAM, vf_mac="52:54:00:aa:bb:cc")], "NetworkManager",
     "groups[1] (team0).vf_mac", "also the MAC of groups[0] (bond0), field mac"),
    ("mac-collision", "mac-is-other-vf-mac", [_g(BOND, vf_mac=MAC2), _g(NET_FAILOVER, mac=MAC2)], "networkd",
     "groups[1] (lan0).mac", "also the MAC of groups[0] (bond0), field vf_mac"),
    ("mac-collision", "vf-mac-vf-mac", [_g(BOND, vf_mac=MAC2), _g(TEAM, vf_mac=MAC2.upper())], "ifupdown",
     "groups[1] (team0).vf_mac", "field vf_mac"),
    # two groups, one file name / netplan id
    ("name-collision", "upper-vs-port-profile", [BOND, _g(NET_FAILOVER, name="bond0-pv")], "NetworkManager",
     "groups[1] (bond0-pv).name", "guestnet-failover-bond0-pv"),
    ("name-collision", "upper-vs-vf-profile", [_g(NET_FAILOVER, name="bond0-vf"), BOND], "NetworkManager",
     "groups[1] (bond0).name", "guestnet-failover-bond0-vf"),
    ("name-collision", "unnamed-id-vs-name", [_g(NET_FAILOVER, name=None), _g(NET_FAILOVER, name="525400123456", mac=MAC2)], "networkd",
     "groups[1] (525400123456).name", "guestnet-failover-525400123456"),
    ("name-collision", "netplan-bond-id", [_g(NET_FAILOVER, name="a"), _g(BOND, name="0-guestnet-a")], "netplan",
     "groups[1] (0-guestnet-a).name", "netplan id 0-guestnet-a"),
    ("name-collision", "upper-vs-other-port", [BOND, _g(NET_FAILOVER, name="bond0vf")], "networkd",
     "groups[1].name", "already used by groups[0].vf_name"),
    ("name-collision", "port-vs-port", [BOND, _g(TEAM, pv_name="bond0pv")], "NetworkManager", "groups[1].pv_name", "already used by groups[0].pv_name"),
    ("name-collision", "same-name", [NET_FAILOVER, _g(NET_FAILOVER, mac=MAC2)], "ifupdown", "groups[1].name", "already used by groups[0].name"),
]


def _tree(root):
    out = {}
    for base, dummy, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, str(root))] = (handle.read(), os.stat(path).st_mode)
    return out


@pytest.fixture()
def image_root(tmp_path):
    """An image root that already holds a good configuration: a refused run must leave it byte for byte."""
    root = tmp_path / "root"
    root.mkdir()
    fc.configure({"groups": [NET_FAILOVER], "backend": "networkd", "root": str(root), "initramfs": "none", "announcer": True})
    return root


@pytest.mark.parametrize("groups,backend,field,message", [c[2:] for c in CONFIG], ids=["%s-%s" % c[:2] for c in CONFIG])
def test_failover_config_refuses_and_writes_nothing(image_root, groups, backend, field, message):
    before = _tree(image_root)
    params = {"groups": copy.deepcopy(groups), "backend": backend, "root": str(image_root), "initramfs": "initramfs-tools",
              "cloud_init": True, "announcer": True}
    with pytest.raises(validate.ConfigError) as err:
        fc.configure(params)
    text = str(err.value)
    assert text.startswith(field), text
    assert message in text, text
    assert "\n" not in text and "\r" not in text and "\x00" not in text
    assert _tree(image_root) == before


# ----------------------------------------------------------------------------- failover_link
class FakeIPRoute(object):
    def __enter__(self):
        raise AssertionError("netlink opened for refused input")

    def __exit__(self, *exc):
        return False


@pytest.fixture()
def link_module(monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("link_apply.run called for refused input")

    monkeypatch.setattr(failover_link, "open_iproute", FakeIPRoute)
    monkeypatch.setattr(netdev_read, "pyroute2_import_error", lambda: None)
    monkeypatch.setattr(link_apply, "run", no_run)
    monkeypatch.setattr(failover_link.announce, "install", no_run)
    return module_runner(monkeypatch, failover_link.main)


LINK_GROUP = {"name": "bond0", "model": "bond", "mac": "52:54:00:12:34:56", "pv_driver": "virtio_net", "vf_drivers": ["e1000e"]}

LINK = [
    ("newline", "name", {"groups": [dict(LINK_GROUP, name="bond0\n")]}, "groups[0].name", "newlines"),
    ("newline", "probe", {"groups": [LINK_GROUP], "probe": "192.0.2.1\n"}, "probe", "is not an IP address"),
    ("newline", "probe-device", {"groups": [LINK_GROUP], "probe_device": "bond0\n"}, "probe_device", "newlines"),
    ("cr", "vf-driver", {"groups": [dict(LINK_GROUP, vf_drivers=["e1000e\r"])]}, "groups[0] (bond0).vf_drivers[0]", "not a driver name"),
    ("nul", "probe-device", {"groups": [LINK_GROUP], "probe_device": "eth\x000"}, "probe_device", "control characters"),
    ("scope", "probe", {"groups": [LINK_GROUP], "probe": "fe80::1%eth0"}, "probe", "scope suffix"),
    ("unicode", "probe", {"groups": [LINK_GROUP], "probe": "\u0661\u0669\u0662.0.2.1"}, "probe", "is not an IP address"),
    ("long", "probe-device", {"groups": [LINK_GROUP], "probe_device": "p" * 16}, "probe_device", "1-15 bytes"),
    ("dash", "probe-device", {"groups": [LINK_GROUP], "probe_device": "-f"}, "probe_device", "must not start with '-'"),
    ("dotdot", "probe-device", {"groups": [LINK_GROUP], "probe_device": ".."}, "probe_device", "must not start with '-' or '.'"),
    ("slash", "probe-device", {"groups": [LINK_GROUP], "probe_device": "../x"}, "probe_device", "no '/'"),
    ("slash", "team-name", {"groups": [dict(LINK_GROUP, model="team", name="../t")]}, "groups[0].name", "no '/'"),
    ("space", "probe", {"groups": [LINK_GROUP], "probe": "192.0.2.1 -f"}, "probe", "is not an IP address"),
    ("quote", "name", {"groups": [dict(LINK_GROUP, name="b'0")]}, "groups[0].name", "quotes"),
    ("unspecified", "probe", {"groups": [LINK_GROUP], "probe": "0.0.0.0"}, "probe", "unspecified"),
    ("multicast", "probe", {"groups": [LINK_GROUP], "probe": "224.0.0.1"}, "probe", "multicast"),
    ("loopback", "probe", {"groups": [LINK_GROUP], "probe": "127.0.0.1"}, "probe", "loopback"),
    ("broadcast", "probe", {"groups": [LINK_GROUP], "probe": "255.255.255.255"}, "probe", "reserved"),
    ("reserved", "probe-v6", {"groups": [LINK_GROUP], "probe": "2001:db8::1"}, "probe", "is not an IPv4 address"),
    ("range", "rollback-timeout", {"groups": [LINK_GROUP], "rollback_timeout": 0}, "rollback_timeout", "out of range"),
    ("range", "carrier-timeout", {"groups": [LINK_GROUP], "carrier_timeout": -1}, "carrier_timeout", "out of range"),
    ("mac-collision", "vf-mac", {"groups": [dict(LINK_GROUP, vf_mac="52:54:00:12:34:57"),
                                            dict(LINK_GROUP, name="bond1", mac="52:54:00:12:34:57")]}, "groups[1] (bond1).mac", "field vf_mac"),
    ("name-collision", "port", {"groups": [LINK_GROUP, dict(LINK_GROUP, name="bond0pv", mac="52:54:00:12:34:57")]}, "groups[1].name",
     "already used by groups[0].pv_name"),
]


@pytest.mark.parametrize("args,field,message", [c[2:] for c in LINK], ids=["%s-%s" % c[:2] for c in LINK])
def test_failover_link_refuses_before_netlink(link_module, args, field, message):
    out = link_module(args)
    assert out["failed"] and not out.get("changed")
    assert out["msg"].startswith(field + ":"), out["msg"]
    assert message in out["msg"]


def test_link_apply_run_checks_values_itself():
    """Defence in depth: link_apply.run refuses a raw value before reading state or touching netlink."""
    def reader(ipr):
        raise AssertionError("state read for refused input")
    with pytest.raises(link_apply.LinkApplyError, match=r"groups\[0\]\.name: .*newlines"):
        link_apply.run(None, [dict(LINK_GROUP, name="bond0\n")], reader=reader)
    with pytest.raises(link_apply.LinkApplyError, match="probe: .*scope suffix"):
        link_apply.run(None, [LINK_GROUP], probe_target="fe80::1%eth0", reader=reader)


# ----------------------------------------------------------------------------- netdev_facts
NETDEV = [
    ("newline", "netns", {"netns": "ns1\n"}, "netns"),
    ("cr", "netns", {"netns": "ns1\r"}, "netns"),
    ("nul", "netns", {"netns": "ns\x001"}, "netns"),
    ("scope", "netns", {"netns": "ns%1"}, "netns"),
    ("unicode", "netns", {"netns": "n\u0455"}, "netns"),
    ("long", "netns", {"netns": "n" * 65}, "netns"),
    ("dash", "netns", {"netns": "-n"}, "netns"),
    ("dotdot", "netns", {"netns": ".."}, "netns"),
    ("slash", "netns", {"netns": "../../proc/1/ns/net"}, "netns"),
    ("space", "netns", {"netns": "ns 1"}, "netns"),
    ("quote", "netns", {"netns": "ns'1"}, "netns"),
    ("slash", "sysfs-root-relative", {"sysfs_root": "sys"}, "sysfs_root"),
    ("dotdot", "sysfs-root", {"sysfs_root": "/sys/../etc"}, "sysfs_root"),
    ("newline", "sysfs-root", {"sysfs_root": "/sys\n"}, "sysfs_root"),
]


@pytest.mark.parametrize("args,field", [c[2:] for c in NETDEV], ids=["%s-%s" % c[:2] for c in NETDEV])
def test_netdev_facts_refuses_options_before_reading(monkeypatch, capsys, args, field):
    def no_capture(*a, **kw):
        raise AssertionError("capture taken for refused input")
    monkeypatch.setattr(netdev_read, "capture", no_capture)
    monkeypatch.setattr(netdev_read, "pyroute2_import_error", lambda: None)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        netdev_facts.main()
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and out["msg"].startswith(field + ":"), out["msg"]


# ----------------------------------------------------------------------------- desired_groups filter
FOUND = [{"model": "net_failover", "mac": "52:54:00:12:34:56", "upper": "eth0", "standby": "eth1", "primary": "eth2",
          "pv_driver": "virtio_net", "vf_driver": "e1000e"}]
FOUND2 = FOUND + [dict(FOUND[0], mac=MAC2, upper="eth3")]

FILTER = [
    ("newline", "names-value", FOUND, {"names": {"52:54:00:12:34:56": "lan0\n"}}, "names[52:54:00:12:34:56]"),
    ("newline", "discovered-mac", [dict(FOUND[0], mac="52:54:00:12:34:56\n")], {}, "groups[0].mac"),
    ("newline", "discovered-upper", [dict(FOUND[0], upper="eth0\nx")], {}, "groups[0].upper"),
    ("newline", "declared-mac", ["52:54:00:12:34:56\n"], {}, "groups[0]"),
    ("cr", "vf-driver", [dict(FOUND[0], vf_driver="e1000e\r")], {}, "groups[0].vf_driver"),
    ("scope", "dns", FOUND, {"dns": ["fe80::1%eth0"]}, "dns[0]"),
    ("scope", "gateway", FOUND, {"ipv6": _v6(["2001:db8::10/64"], "fe80::1%x\nfoo")}, "ipv6.gateway"),
    ("unicode", "names-key", FOUND, {"names": {"\uff15\uff12:54:00:12:34:56": "lan0"}}, "names key"),
    ("slash", "names-value", FOUND, {"names": {"52:54:00:12:34:56": "../lan0"}}, "names[52:54:00:12:34:56]"),
    ("gateway", "off-subnet", FOUND, {"ipv4": _v4(["192.0.2.10/24"], "198.51.100.1")}, "ipv4.gateway"),
    ("unspecified", "dns", FOUND, {"dns": ["0.0.0.0"]}, "dns[0]"),
    ("multicast", "no-address-mac", FOUND, {"no_address_macs": ["01:00:5e:00:00:01"]}, "no_address_macs[0]"),
    ("typo", "ipv4-key", FOUND, {"ipv4": {"metod": "static"}}, "ipv4"),
    ("name-collision", "names-same", FOUND2, {"names": {"52:54:00:12:34:56": "lan0", MAC2: "lan0"}}, "groups[1].name"),
    ("duplicate", "static-address-everywhere", FOUND2, {"ipv4": _v4(["192.0.2.10/24"])}, "groups[1] (eth3).ipv4.addresses[0]"),
]


@pytest.mark.parametrize("groups,kwargs,field", [c[2:] for c in FILTER], ids=["%s-%s" % c[:2] for c in FILTER])
def test_desired_groups_filter_refuses(groups, kwargs, field):
    with pytest.raises(AnsibleFilterError) as err:
        desired_filter.FilterModule().filters()["desired_groups"](copy.deepcopy(groups), "kvm", **kwargs)
    assert str(err.value).startswith("desired_groups: " + field), str(err.value)


def test_desired_groups_filter_accepts_good_input():
    out = desired_filter.FilterModule().filters()["desired_groups"](
        copy.deepcopy(FOUND), "kvm", names={"52:54:00:12:34:56": "lan0"}, dns=["192.0.2.53"],
        ipv6=_v6(["2001:db8::10/64"], "fe80::1"))
    assert out[0]["name"] == "lan0" and out[0]["ipv6"]["gateway"] == "fe80::1"


def test_counts():
    """docs/hardening.md quotes these numbers."""
    total = len(CONFIG) + len(LINK) + len(NETDEV) + len(FILTER)
    assert total >= 60
    categories = sorted(set(c[0] for c in CONFIG + LINK + NETDEV + FILTER))
    assert {"newline", "cr", "nul", "scope", "unicode", "long", "dash", "dotdot", "slash", "space", "quote",
            "gateway", "unspecified", "multicast", "mac-collision", "name-collision"} <= set(categories)
