# SPDX-License-Identifier: GPL-3.0-or-later
"""Module and read-adapter unit tests (no netlink: the capture is mocked or fed fake messages)."""
from __future__ import annotations

import hashlib
import json
import os
import socket

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.guestnet.failover.plugins.module_utils import host_read, netdev_read, pyroute2_support
from ansible_collections.guestnet.failover.plugins.modules import netdev_facts

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "captures")


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".json")) as handle:
        return json.load(handle)


def run_module(monkeypatch, capsys, args):
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        netdev_facts.main()
    return json.loads(capsys.readouterr().out)


def test_facts_layout(monkeypatch, capsys):
    seen = {}

    def fake_capture(**kwargs):
        seen.update(kwargs)
        data = fixture("kvm-failover-lower-address")
        data.pop("_source")
        return data

    monkeypatch.setattr(netdev_read, "capture", fake_capture)
    result = run_module(monkeypatch, capsys, {})
    fact = result["ansible_facts"]["guestnet_failover"]
    assert result["changed"] is False and not result.get("failed")
    assert set(fact) == {"netns", "links", "groups", "findings", "summary", "managers", "nm_connections",
                         "dhcp_clients", "legacy", "ifenslave_hooks", "platform", "tools"}
    assert [g["upper"] for g in fact["groups"]] == ["enp1s0"]
    assert fact["summary"] == {"error": 2, "warning": 1, "info": 0}
    assert "LOWER_HAS_ADDRESS" in [f["code"] for f in fact["findings"]]
    assert len(fact["links"]) == 5
    assert seen == {"netns": None, "sysfs_root": "/sys", "run_command": seen["run_command"], "probe_managers": True}


def test_include_links_false_and_netns_passed(monkeypatch, capsys):
    seen = {}

    def fake_capture(**kwargs):
        seen.update(kwargs)
        data = fixture("netns-veth-bridge")
        data.pop("_source")
        return data

    monkeypatch.setattr(netdev_read, "capture", fake_capture)
    fact = run_module(monkeypatch, capsys, {"netns": "gnf-fixture", "include_links": False})["ansible_facts"]["guestnet_failover"]
    assert "links" not in fact and fact["netns"] == "gnf-fixture" and fact["groups"] == []
    assert seen["netns"] == "gnf-fixture"


def test_unknown_netns_fails_clearly(monkeypatch, capsys):
    monkeypatch.setattr(netdev_read, "NETNS_DIR", "/nonexistent-netns-dir")
    result = run_module(monkeypatch, capsys, {"netns": "ghost"})
    assert result["failed"] is True
    assert result["msg"] == "netns 'ghost' not found under /nonexistent-netns-dir (ip netns list shows the known ones)"


def test_missing_pyroute2_names_the_distro_package(monkeypatch, capsys):
    monkeypatch.setattr(netdev_read, "pyroute2_import_error", lambda: ImportError("No module named 'pyroute2'"))
    monkeypatch.setattr(pyroute2_support, "has_respawned", lambda: True)
    result = run_module(monkeypatch, capsys, {})
    assert result["failed"] is True
    assert "Failed to import the required Python library (pyroute2)" in result["msg"]
    assert "python3-pyroute2" in result["msg"]
    # the roles install the package when the failure names the library (roles/apply/tasks/discover.yml)
    assert result["missing_libraries"] == ["pyroute2"]


def test_platform_and_tools(tmp_path, monkeypatch):
    """DMI as a q35 lab guest shows it (/sys/class/dmi/id), unreadable files as null; tools from the PATH."""
    dmi = tmp_path / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("QEMU\n")
    assert host_read.platform(str(tmp_path)) == {"system_vendor": "QEMU", "product_name": None}
    monkeypatch.setattr(host_read.shutil, "which", lambda name: "/usr/sbin/ethtool" if name == "ethtool" else None)
    assert host_read.tools() == {"teamd": False, "ethtool": True}


def test_ifenslave_hooks(tmp_path):
    """The files of the ifenslave guard by name with their SHA-1 (what the role compares with its guard's), a dangling
    link as unreadable; absent ones are left out."""
    hooks = tmp_path / "etc" / "network" / "if-post-down.d"
    hooks.mkdir(parents=True)
    (hooks / "ifenslave").write_text("guard\n")
    (hooks / "ifenslave.distrib").symlink_to(tmp_path / "gone")
    assert host_read.ifenslave_hooks(str(tmp_path)) == {
        "ifenslave": hashlib.sha1(b"guard\n").hexdigest(),
        "ifenslave.distrib": ""}


# ---------------------------------------------------------------- read adapter pieces


class FakeMsg(dict):
    """The bit of the pyroute2 message API the adapter uses: item access and get_attr(s)."""

    def __init__(self, attrs=None, **fields):
        super(FakeMsg, self).__init__(fields)
        self.attrs = attrs or []

    def get_attr(self, name, default=None):
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    def get_attrs(self, name):
        return [value for key, value in self.attrs if key == name]


def test_link_from_msg_bond_with_perm_mac_and_altnames():
    names = {3: "enp1s0", 4: "enp2s0", 5: "bond0"}
    data = FakeMsg([("IFLA_BOND_MODE", 1), ("IFLA_BOND_ACTIVE_SLAVE", 4), ("IFLA_BOND_PRIMARY", 4),
                    ("IFLA_BOND_FAIL_OVER_MAC", 1), ("IFLA_BOND_MIIMON", 100)])
    msg = FakeMsg([("IFLA_IFNAME", "bond0"), ("IFLA_ADDRESS", "52:54:00:12:34:56"), ("IFLA_PERM_ADDRESS", "00:00:00:00:00:00"),
                   ("IFLA_OPERSTATE", 6), ("IFLA_CARRIER", 1), ("IFLA_MTU", 1500),
                   ("IFLA_PROP_LIST", FakeMsg([("IFLA_ALT_IFNAME", "uplink"), ("IFLA_ALT_IFNAME", "uplink2")])),
                   ("IFLA_LINKINFO", FakeMsg([("IFLA_INFO_KIND", "bond"), ("IFLA_INFO_DATA", data)]))],
                  index=5, flags=0x1 | 0x2 | 0x40 | 0x400 | 0x1000 | 0x10000)
    link = netdev_read.link_from_msg(msg, names)
    assert link["flags"] == ["UP", "BROADCAST", "RUNNING", "MASTER", "MULTICAST", "LOWER_UP"]
    assert link["perm_mac"] is None  # all-zero permanent address means unset
    assert link["altnames"] == ["uplink", "uplink2"]
    assert link["operstate"] == "UP" and link["carrier"] is True and link["kind"] == "bond"
    assert link["bond"] == {"mode": "active-backup", "active_slave": "enp2s0", "primary": "enp2s0",
                            "fail_over_mac": "active", "miimon": 100}


def test_bond_from_msg_decodes_every_option_the_applier_reads():
    names = {3: "enp1s0", 4: "enp2s0"}
    data = FakeMsg([("IFLA_BOND_MODE", 1), ("IFLA_BOND_ACTIVE_SLAVE", 4), ("IFLA_BOND_PRIMARY", 4),
                    ("IFLA_BOND_FAIL_OVER_MAC", 0), ("IFLA_BOND_MIIMON", 100), ("IFLA_BOND_UPDELAY", 200),
                    ("IFLA_BOND_DOWNDELAY", 0), ("IFLA_BOND_PRIMARY_RESELECT", 2), ("IFLA_BOND_NUM_PEER_NOTIF", 3)])
    msg = FakeMsg([("IFLA_IFNAME", "bond0"), ("IFLA_LINKINFO", FakeMsg([("IFLA_INFO_KIND", "bond"), ("IFLA_INFO_DATA", data)]))],
                  index=5, flags=0)
    assert netdev_read.bond_from_msg(msg, names) == {
        "mode": "active-backup", "active_slave": "enp2s0", "primary": "enp2s0", "fail_over_mac": "none",
        "miimon": 100, "updelay": 200, "downdelay": 0, "primary_reselect": "failure", "num_peer_notif": 3}
    assert set(netdev_read.link_from_msg(msg, names)["bond"]) == set(netdev_read.CAPTURE_BOND_KEYS)
    assert netdev_read.bond_from_msg(FakeMsg([("IFLA_IFNAME", "eth0")], index=2, flags=0), names) is None


def test_netvsc_vf_slave_flag_and_master():
    msg = FakeMsg([("IFLA_IFNAME", "enP30832s1"), ("IFLA_ADDRESS", "00:0D:3A:6E:8A:12"), ("IFLA_MASTER", 2)],
                  index=3, flags=0x1 | 0x800 | 0x10000)
    link = netdev_read.link_from_msg(msg, {2: "eth0"})
    assert link["master"] == "eth0" and "SLAVE" in link["flags"] and link["mac"] == "00:0d:3a:6e:8a:12"
    assert link["kind"] is None and link["carrier"] is True  # no IFLA_CARRIER: from LOWER_UP


def test_address_flags_and_routes():
    index, addr = netdev_read.address_from_msg(FakeMsg([("IFA_ADDRESS", "fe80::1"), ("IFA_FLAGS", 0x80 | 0x08 | 0x40)],
                                                       family=socket.AF_INET6, prefixlen=64, scope=253, index=7, flags=0))
    assert index == 7 and addr == {"family": "inet6", "address": "fe80::1", "prefixlen": 64, "scope": "link",
                                   "flags": ["dadfailed", "tentative", "permanent"]}
    main = FakeMsg([("RTA_TABLE", 254), ("RTA_OIF", 3)], family=socket.AF_INET, table=254)
    local = FakeMsg([("RTA_TABLE", 255), ("RTA_OIF", 3)], family=socket.AF_INET, table=255)
    ll6 = FakeMsg([("RTA_TABLE", 254), ("RTA_DST", "fe80::"), ("RTA_OIF", 4)], family=socket.AF_INET6, table=254)
    multi = FakeMsg([("RTA_TABLE", 254), ("RTA_MULTIPATH", [{"oif": 5}, {"oif": 6}])], family=socket.AF_INET, table=254)
    assert netdev_read.route_oifs(main) == [3]
    assert netdev_read.route_oifs(local) == [] and netdev_read.route_oifs(ll6) == []
    assert netdev_read.route_oifs(multi) == [5, 6]


def test_sysfs_details_virtio_standby_bit(tmp_path):
    dev = tmp_path / "devices" / "pci0000:00" / "0000:00:01.0" / "0000:01:00.0" / "virtio3"
    (dev / "driver").parent.mkdir(parents=True)
    drv = tmp_path / "bus" / "virtio" / "drivers" / "virtio_net"
    drv.mkdir(parents=True)
    os.symlink(str(drv), str(dev / "driver"))
    features = ["0"] * 64
    features[62] = "1"
    (dev / "features").write_text("".join(features) + "\n")
    net = tmp_path / "class" / "net" / "eth0"
    net.mkdir(parents=True)
    os.symlink(str(dev), str(net / "device"))
    (net / "name_assign_type").write_text("1\n")
    out = netdev_read.sysfs_details("eth0", str(tmp_path))
    assert out["device_path"] == "pci0000:00/0000:00:01.0/0000:01:00.0/virtio3"
    assert out["device_driver"] == "virtio_net" and out["standby_feature"] is True
    assert out["name_assign_type"] == 1
    assert netdev_read.bus_address(out["device_path"], "virtio3") == "0000:01:00.0"
    features[62] = "0"
    (dev / "features").write_text("".join(features))
    assert netdev_read.sysfs_details("eth0", str(tmp_path))["standby_feature"] is False
    assert netdev_read.sysfs_details("veth0", str(tmp_path))["device_path"] is None


def test_bus_address_vmbus_and_none():
    assert netdev_read.bus_address("LNXSYSTM:00/VMBUS:00/000d3a6e-8a12", None) == "000d3a6e-8a12"
    assert netdev_read.bus_address(None, None) is None


def test_dhcp_clients_by_argument_and_pidfile():
    procs = [(10, ["/sbin/dhclient", "-4", "-v", "-pf", "/run/dhclient.enp2s0.pid", "-lf", "/var/lib/dhcp/dhclient.enp2s0.leases"]),
             (11, ["dhcpcd", "-q", "enp1s0"]), (12, ["/usr/bin/python3", "enp1s0nsby"]), (13, ["dhclient", "eth0"])]
    assert netdev_read.dhcp_clients(procs, ["enp1s0", "enp1s0nsby", "enp2s0"]) == {"enp2s0": ["dhclient"], "enp1s0": ["dhcpcd"]}


def test_networkd_state_files(tmp_path):
    links_dir = tmp_path / "systemd" / "netif" / "links"
    links_dir.mkdir(parents=True)
    (links_dir / "3").write_text("# This is private data. Do not parse.\nADMIN_STATE=configured\nOPER_STATE=routable\n")
    (links_dir / "4").write_text("ADMIN_STATE=unmanaged\n")
    (tmp_path / "systemd" / "netif" / "leases").mkdir()
    (tmp_path / "systemd" / "netif" / "leases" / "3").write_text("ADDRESS=192.0.2.10\n")
    states, leases = netdev_read.networkd_state([{"name": "eth0", "ifindex": 3}, {"name": "eth0nsby", "ifindex": 4},
                                                 {"name": "eth1", "ifindex": 5}], str(tmp_path))
    assert states == {"eth0": "configured", "eth0nsby": "unmanaged", "eth1": None}
    assert leases == ["eth0"]


def test_nm_devices_parses_terse_output():
    """nmcli -t -f DEVICE,STATE,CONNECTION device as NetworkManager 1.42 prints it (pv-vf-pair guest after site.yml,
    plus a profile id with an escaped colon)."""
    out = ("bond0:connected:guestnet-failover-bond0\nbond0pv:connected:guestnet-failover-bond0-pv\n"
           "enp1s0:connecting (getting IP configuration):Wired connection 1\nenp2s0:disconnected:\n"
           "eth9:connected:a\\:b\nlo:unmanaged:\nmgmt0:unmanaged:\n")
    managed, connections = netdev_read.nm_devices(lambda cmd: (0, out, ""), ["bond0", "bond0pv", "enp1s0", "enp2s0", "eth9", "mgmt0"])
    assert managed == {"bond0": True, "bond0pv": True, "enp1s0": True, "enp2s0": True, "eth9": True, "mgmt0": False}
    # only connected devices name their profile
    assert connections == {"bond0": "guestnet-failover-bond0", "bond0pv": "guestnet-failover-bond0-pv", "eth9": "a:b"}
    assert netdev_read.nm_devices(lambda cmd: (8, "", "NetworkManager is not running"), ["enp1s0"]) == (None, None)


def test_legacy_rule_files(tmp_path):
    rules = tmp_path / "etc" / "udev" / "rules.d"
    rules.mkdir(parents=True)
    (rules / "70-persistent-net.rules").write_text(
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="hv_netvsc", ATTR{address}=="00:0d:3a:6e:8a:12", NAME="eth0"\n'
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="mlx4_core", ATTR{address}=="00:0d:3a:6e:8a:12", NAME="vf0"\n')
    (rules / "80-guestnet-failover.rules").write_text('# guestnet.failover managed\nDRIVERS=="mlx5_core", ENV{NM_UNMANAGED}="1"\n')
    (rules / "99-other.rules").write_text('SUBSYSTEM=="block", KERNEL=="sda"\n')
    found = netdev_read.legacy_files(str(tmp_path))
    assert [(f["path"], f["kind"]) for f in found] == [("/etc/udev/rules.d/70-persistent-net.rules", "azure-vf-rule")]
    assert 'NAME="vf0"' in found[0]["line"]
