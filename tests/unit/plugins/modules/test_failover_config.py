# SPDX-License-Identifier: GPL-3.0-or-later
"""failover_config: bad input writes nothing, idempotence, check mode, stale and legacy files, actions."""
from __future__ import annotations

import gzip
import json
import os

import pytest


from ansible_collections.guestnet.failover.plugins.module_utils import files_root
from ansible_collections.guestnet.failover.plugins.module_utils import initramfs, plan, validate
from ansible_collections.guestnet.failover.plugins.module_utils import initrds as initrds_mod
from ansible_collections.guestnet.failover.plugins.modules import failover_config as fc

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import (
    BOND, NET_FAILOVER, NETVSC, TEAM, patch_module_args, variant as _g,
)
from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.test_nm_runtime import _as_booted, _bonded


def _bond(**options):
    return _g(BOND, bond=options)


# (id, groups, backend, expected message fragment)
BAD = [
    ("mac-not-hex", [_g(NET_FAILOVER, mac="52:54:00:12:34:zz")], "networkd", "groups[0] (lan0).mac: '52:54:00:12:34:zz' is not a MAC"),
    ("mac-short", [_g(NET_FAILOVER, mac="52:54:00:12:34")], "networkd", "is not a MAC"),
    ("mac-dashes", [_g(NET_FAILOVER, mac="52-54-00-12-34-56")], "networkd", "is not a MAC"),
    ("mac-multicast", [_g(NET_FAILOVER, mac="01:00:5e:00:00:01")], "networkd", "multicast"),
    ("mac-zero", [_g(NET_FAILOVER, mac="00:00:00:00:00:00")], "networkd", "all-zero"),
    ("mac-missing", [_g(NET_FAILOVER, mac=None)], "networkd", ".mac: None is not a MAC"),
    ("name-16-bytes", [_g(NET_FAILOVER, name="a" * 16)], "networkd", "must be 1-15 bytes"),
    ("name-utf8-bytes", [_g(NET_FAILOVER, name="\u00e9" * 8)], "networkd", "must be 1-15 bytes"),
    ("name-slash", [_g(NET_FAILOVER, name="eth/0")], "networkd", "no '/'"),
    ("name-space", [_g(NET_FAILOVER, name="eth 0")], "networkd", "whitespace"),
    ("name-tab", [_g(NET_FAILOVER, name="eth\t0")], "networkd", "whitespace"),
    ("name-newline", [_g(NET_FAILOVER, name="eth0\nRUN")], "networkd", "newlines"),
    ("name-double-quote", [_g(NET_FAILOVER, name='eth"0')], "networkd", "quotes"),
    ("name-single-quote", [_g(NET_FAILOVER, name="eth'0")], "networkd", "quotes"),
    ("name-percent", [_g(NET_FAILOVER, name="eth%d")], "networkd", "'%'"),
    ("name-star", [_g(NET_FAILOVER, name="eth*")], "networkd", "'*'"),
    ("name-colon", [_g(NET_FAILOVER, name="eth0:1")], "networkd", "':'"),
    ("name-dot", [_g(NET_FAILOVER, name="eth0.100")], "networkd", "'.'"),
    ("name-dollar", [_g(NET_FAILOVER, name="e$name")], "ifupdown", "letters, digits"),
    ("name-leading-dash", [_g(NET_FAILOVER, name="-eth0")], "networkd", "must not start with '-'"),
    ("name-reserved", [_g(NET_FAILOVER, name="all")], "networkd", "reserved"),
    ("name-empty-bond", [_g(BOND, name="")], "networkd", "needs the name of the bond device"),
    ("name-not-string", [_g(NET_FAILOVER, name=5)], "networkd", "must be a string"),
    ("unknown-backend", [NET_FAILOVER], "systemd-networkd", "backend: unknown backend 'systemd-networkd'"),
    ("unknown-model", [_g(NET_FAILOVER, model="macvtap")], "networkd", "unknown model 'macvtap'"),
    ("unknown-key", [_g(NET_FAILOVER, ipv4_method="dhcp")], "networkd", "unknown key(s) ipv4_method"),
    ("driver-bad", [_g(NET_FAILOVER, vf_drivers=["mlx5 core"])], "networkd", "vf_drivers[0]: 'mlx5 core' is not a driver name"),
    ("driver-glob", [_g(NET_FAILOVER, vf_drivers=["mlx*"])], "networkd", "is not a driver name"),
    ("vf-driver-is-pv", [_g(NET_FAILOVER, vf_drivers=["virtio_net"])], "networkd", "cannot be a VF driver"),
    ("vf-drivers-empty", [_g(NET_FAILOVER, vf_drivers=[])], "networkd", "non-empty list of VF drivers"),
    ("netvsc-wrong-pv", [_g(NETVSC, pv_driver="virtio_net")], "networkd", "driven by hv_netvsc"),
    ("bond-no-pv-driver", [_g(BOND, pv_driver=None)], "networkd", "needs the PV's driver"),
    ("ipv4-bad-cidr", [_g(NET_FAILOVER, ipv4={"method": "static", "addresses": ["192.0.2.300/24"]})], "networkd", "is not a valid address"),
    ("ipv4-no-prefix", [_g(NET_FAILOVER, ipv4={"method": "static", "addresses": ["192.0.2.10"]})], "networkd", "with prefix length"),
    ("ipv4-v6-address", [_g(NET_FAILOVER, ipv4={"method": "static", "addresses": ["2001:db8::1/64"]})], "networkd", "is not an IPv4 address"),
    ("ipv4-static-empty", [_g(NET_FAILOVER, ipv4={"method": "static"})], "networkd", "non-empty list"),
    ("ipv4-gateway-bad", [_g(NET_FAILOVER, ipv4={"method": "static", "addresses": ["192.0.2.10/24"], "gateway": "gw"})],
     "networkd", "gateway: 'gw' is not an IP address"),
    ("ipv4-addresses-with-dhcp", [_g(NET_FAILOVER, ipv4={"method": "dhcp", "addresses": ["192.0.2.10/24"]})], "networkd", "need method: static"),
    ("ipv6-bad-method", [_g(NET_FAILOVER, ipv6={"method": "dhcp"})], "networkd", "ipv6.method: 'dhcp' is not one of auto"),
    ("ipv6-v4-gateway", [_g(NET_FAILOVER, ipv6={"method": "static", "addresses": ["2001:db8::5/64"], "gateway": "192.0.2.1"})],
     "networkd", "is not an IPv6 address"),
    ("dns-bad", [_g(NET_FAILOVER, dns=["dns.example"])], "networkd", "dns[0]: 'dns.example' is not an IP address"),
    ("bond-miimon-and-arp", [_bond(miimon=100, arp_interval=100, arp_ip_target=["192.0.2.1"])], "networkd", "mutually exclusive"),
    ("bond-arp-target-no-interval", [_bond(arp_ip_target=["192.0.2.1"])], "networkd", "arp_ip_target: needs arp_interval"),
    ("bond-arp-interval-no-target", [_bond(miimon=0, arp_interval=100)], "networkd", "arp_interval: needs arp_ip_target"),
    ("bond-arp-validate-no-interval", [_bond(arp_validate="all")], "networkd", "arp_validate: needs arp_interval"),
    ("bond-updelay-not-multiple", [_bond(miimon=100, updelay=150)], "networkd", "not a multiple of miimon"),
    ("bond-downdelay-without-miimon", [_bond(miimon=0, downdelay=200, arp_interval=100, arp_ip_target=["192.0.2.1"])], "networkd", "downdelay: needs miimon"),
    ("bond-no-monitor", [_bond(miimon=0)], "networkd", "never notices"),
    ("bond-mode-rr", [_bond(mode="balance-rr")], "networkd", "only active-backup does"),
    ("bond-mode-unknown", [_bond(mode="fast")], "networkd", "mode: 'fast' is not one of"),
    ("bond-primary-set", [_bond(primary="eth1")], "networkd", "primary port is always the VF"),
    ("bond-grat-arp-differs", [_bond(num_grat_arp=3, num_unsol_na=5)], "networkd", "must be equal"),
    ("bond-grat-arp-range", [_bond(num_grat_arp=300)], "networkd", "out of range 1-255"),
    ("bond-miimon-not-int", [_bond(miimon="fast")], "networkd", "miimon: 'fast' is not an integer"),
    ("bond-fail-over-mac-contradiction", [_g(BOND, vf_mac_settable=False, bond={"fail_over_mac": "none"})], "networkd", "vf_mac_settable is false"),
    ("bond-unknown-option", [_bond(lacp_rate="fast")], "networkd", "unknown key(s) lacp_rate"),
    ("bond-arp-target-v6", [_bond(miimon=0, arp_interval=100, arp_ip_target=["2001:db8::1"])], "networkd", "is not an IPv4 address"),
    ("team-on-networkd", [TEAM], "networkd", "networkd has no team support"),
    ("team-on-netplan", [TEAM], "netplan", "netplan has no team support"),
    ("team-same-all-contradiction", [_g(TEAM, team={"hwaddr_policy": "same_all"})], "NetworkManager", "vf_mac_settable is false"),
    ("team-options-on-bond", [_g(BOND, team={"hwaddr_policy": "by_active"})], "networkd", "team options given for a bond group"),
    ("upper-equals-lower", [_g(BOND, pv_name="bond0")], "networkd", "cannot share a name with a lower device"),
    ("upper-equals-other-lower", [BOND, _g(TEAM, name="bond0vf", mac="52:54:00:dd:ee:01")], "NetworkManager", "cannot share a name"),
    ("ports-same-name", [_g(BOND, pv_name="p0", vf_name="p0")], "networkd", "both 'p0'"),
    ("port-name-too-long", [_g(BOND, name="bond0123456789")], "networkd", "shorten name"),
    ("two-groups-same-mac", [NET_FAILOVER, _g(NET_FAILOVER, name="lan1", mac="52:54:00:12:34:56".upper())], "networkd", "also the MAC of groups[0]"),
    ("two-groups-same-name", [NET_FAILOVER, _g(NET_FAILOVER, mac="52:54:00:12:34:99")], "networkd", "already used by groups[0].name"),
    ("ifupdown-needs-name", [_g(NET_FAILOVER, name=None)], "ifupdown", "ifupdown configures interfaces by name"),
    ("pv-name-on-net-failover", [_g(NET_FAILOVER, pv_name="x")], "networkd", "only for bond and team ports"),
    ("group-not-dict", ["lan0"], "networkd", "groups[0]: expected a mapping"),
    ("vf-mac-settable-not-bool", [_g(BOND, vf_mac_settable="no")], "networkd", "expected true or false"),
]


@pytest.mark.parametrize("groups,backend,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_fails_and_writes_nothing(tmp_path, groups, backend, message):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(validate.ConfigError) as err:
        fc.configure({"groups": groups, "backend": backend, "root": str(root), "initramfs": "none", "cloud_init": True})
    assert message in str(err.value)
    assert list(root.iterdir()) == []


def test_at_least_thirty_bad_cases():
    assert len(BAD) >= 30


def test_bad_input_keeps_existing_files(tmp_path):
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "root": str(tmp_path), "initramfs": "none"}
    fc.configure(params)
    before = {p: open(p).read() for p in _tree(tmp_path)}
    with pytest.raises(validate.ConfigError):
        fc.configure(dict(params, groups=[_g(NET_FAILOVER, mac="nope")]))
    assert {p: open(p).read() for p in _tree(tmp_path)} == before


def _tree(root):
    out = []
    for base, dummy, names in os.walk(str(root)):
        out.extend(os.path.join(base, n) for n in names)
    return sorted(out)


@pytest.mark.parametrize("backend", ["networkd", "NetworkManager", "netplan", "ifupdown"])
def test_idempotent_and_check_mode_predicts(tmp_path, backend):
    groups = [NET_FAILOVER, BOND] + ([TEAM] if backend in ("NetworkManager", "ifupdown") else [])
    params = {"groups": groups, "backend": backend, "root": str(tmp_path), "initramfs": "initramfs-tools", "cloud_init": True}
    predicted = fc.configure(params, check_mode=True)
    assert predicted["changed"]
    assert _tree(tmp_path) == []
    first = fc.configure(params)
    assert first["changed"]
    assert first["files"] == predicted["files"]
    assert first["diff"] == predicted["diff"]
    assert sorted(first["files"]) == _tree(tmp_path)
    second = fc.configure(params)
    assert not second["changed"]
    assert second["files"] == [] and second["diff"] == []
    assert not fc.configure(params, check_mode=True)["changed"]


def test_modes_and_header(tmp_path):
    fc.configure({"groups": [NET_FAILOVER], "backend": "NetworkManager", "root": str(tmp_path), "initramfs": "initramfs-tools"})
    conn = tmp_path / "etc/NetworkManager/system-connections/guestnet-failover-lan0.nmconnection"
    hook = tmp_path / "etc/initramfs-tools/hooks/guestnet-failover"
    rules = tmp_path / "etc/udev/rules.d/81-guestnet-failover.rules"
    assert oct(conn.stat().st_mode & 0o777) == "0o600"
    assert oct(hook.stat().st_mode & 0o777) == "0o755"
    assert oct(rules.stat().st_mode & 0o777) == "0o644"
    for path in _tree(tmp_path):
        assert "Managed by guestnet.failover" in open(path).read().splitlines()[0] + open(path).read().splitlines()[1]


def test_wrong_mode_is_fixed(tmp_path):
    params = {"groups": [NET_FAILOVER], "backend": "netplan", "root": str(tmp_path), "initramfs": "none"}
    fc.configure(params)
    path = tmp_path / "etc/netplan/90-guestnet-failover.yaml"
    os.chmod(str(path), 0o644)
    result = fc.configure(params)
    assert result["changed"] and result["files"] == [str(path)]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_backend_switch_removes_stale_files_only(tmp_path):
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "root": str(tmp_path), "initramfs": "none"}
    fc.configure(params)
    foreign = tmp_path / "etc/systemd/network/50-mine.network"
    foreign.write_text("[Match]\nName=eth9\n")
    edited = tmp_path / "etc/systemd/network/07-guestnet-failover-notes.network"
    edited.write_text("# mine, no header\n")
    result = fc.configure(dict(params, backend="NetworkManager"))
    assert sorted(result["removed"]) == [str(tmp_path / "etc/systemd/network/05-guestnet-failover-lan0.network"),
                                         str(tmp_path / "etc/systemd/network/06-guestnet-failover-lan0-lowers.network")]
    assert foreign.exists() and edited.exists()
    assert not fc.configure(dict(params, backend="NetworkManager"))["changed"]


def test_empty_groups_remove_everything_of_ours(tmp_path):
    params = {"groups": [NET_FAILOVER], "backend": "ifupdown", "root": str(tmp_path), "initramfs": "dracut", "cloud_init": True}
    fc.configure(params)
    result = fc.configure(dict(params, groups=[], cloud_init=False))
    assert result["changed"]
    assert _tree(tmp_path) == []


def test_legacy_removed_only_when_asked_and_matching(tmp_path):
    rules = tmp_path / "etc/udev/rules.d"
    rules.mkdir(parents=True)
    azure = rules / "68-azure-sriov-nm-unmanaged.rules"
    azure.write_text('SUBSYSTEM=="net", DRIVERS=="hv_pci", ACTION=="add", ENV{NM_UNMANAGED}="1"\n')
    scripts = tmp_path / "etc/sysconfig/network-scripts"
    scripts.mkdir(parents=True)
    bondvf = scripts / "ifcfg-bondvf0"
    bondvf.write_text('DEVICE=bondvf0\nBONDING_OPTS="mode=active-backup miimon=100 primary=eth1"\n')
    slave = scripts / "ifcfg-eth1"
    slave.write_text("DEVICE=eth1\nMASTER=bondvf0\nSLAVE=yes\n")
    other = scripts / "ifcfg-eth0"
    other.write_text("DEVICE=eth0\nBOOTPROTO=dhcp\n")
    params = {"groups": [NETVSC], "backend": "networkd", "root": str(tmp_path), "initramfs": "none"}
    fc.configure(params)
    assert azure.exists() and bondvf.exists()
    result = fc.configure(dict(params, remove_legacy=True))
    assert sorted(result["removed"]) == sorted(str(p) for p in (azure, bondvf, slave))
    assert other.exists()


def test_backup(tmp_path):
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "root": str(tmp_path), "initramfs": "none"}
    fc.configure(params)
    saved = []

    def backup(path):
        saved.append(path)
        return path + ".bak~"
    result = fc.configure(dict(params, groups=[_g(NET_FAILOVER, ipv4={"method": "disabled"})], backup=True), backup=backup)
    assert saved == [str(tmp_path / "etc/systemd/network/05-guestnet-failover-lan0.network")]
    assert list(result["backups"].values()) == [saved[0] + ".bak~"]


def test_image_mode_runs_nothing(tmp_path):
    """No kernel in the image yet: nothing to rebuild, the hook adds the segment when one is installed."""
    (tmp_path / "etc/systemd/system/multi-user.target.wants").mkdir(parents=True)
    os.symlink("/lib/systemd/system/systemd-networkd.service", str(tmp_path / "etc/systemd/system/multi-user.target.wants/systemd-networkd.service"))
    (tmp_path / "etc/initramfs-tools").mkdir(parents=True)

    def run_command(argv):
        raise AssertionError("image mode ran %s" % argv)
    result = fc.configure({"groups": [NET_FAILOVER], "backend": "auto", "initramfs": "auto", "root": str(tmp_path)}, run_command=run_command)
    assert result["backend"] == "networkd" and result["initramfs"] == "initramfs-tools"
    assert result["image_mode"] and not result["initramfs_rebuild_needed"] and result["actions"] == [] and result["initrds"] == []
    dracut = fc.configure({"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "dracut", "root": str(tmp_path)},
                          run_command=run_command)
    assert dracut["initramfs_rebuild_needed"] and dracut["actions"] == []


def test_auto_backend_not_found(tmp_path):
    with pytest.raises(validate.ConfigError) as err:
        fc.configure({"groups": [NET_FAILOVER], "backend": "auto", "root": str(tmp_path)})
    assert "set backend explicitly" in str(err.value)


def test_auto_prefers_netplan_with_its_own_config(tmp_path):
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/netplan").write_text("")
    (tmp_path / "etc/netplan").mkdir(parents=True)
    (tmp_path / "etc/netplan/50-cloud-init.yaml").write_text("network: {version: 2}\n")
    result = fc.configure({"groups": [NET_FAILOVER], "backend": "auto", "initramfs": "none", "root": str(tmp_path)}, check_mode=True)
    assert result["backend"] == "netplan"


def test_live_actions_only_when_changed(tmp_path, monkeypatch):
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    ran = []

    def run_command(argv):
        ran.append(" ".join(argv))
        if argv[:2] == ["systemctl", "is-active"]:
            return (0 if argv[-1] == "NetworkManager.service" else 3), "", ""
        return 0, "", ""
    params = {"groups": [NET_FAILOVER], "backend": "auto", "initramfs": "dracut", "root": str(tmp_path)}
    checked = fc.configure(params, check_mode=True, run_command=run_command)
    assert checked["actions"] == ["udevadm control --reload", "udevadm trigger --subsystem-match=net --action=change",
                                  "udevadm settle --timeout=30", "nmcli connection reload"]
    assert [r for r in ran if not r.startswith("systemctl")] == []
    result = fc.configure(params, run_command=run_command)
    assert result["backend"] == "NetworkManager"
    assert result["actions"] == checked["actions"]
    assert [r for r in ran if not r.startswith("systemctl")] == checked["actions"]
    del ran[:]
    again = fc.configure(params, run_command=run_command)
    assert again["actions"] == [] and [r for r in ran if not r.startswith("systemctl")] == []
    # a change in the connection profile alone does not touch udev or the initramfs
    changed = fc.configure(dict(params, groups=[_g(NET_FAILOVER, dns=["192.0.2.53"])]), run_command=run_command)
    assert changed["actions"] == ["nmcli connection reload"] and not changed["initramfs_rebuild_needed"]


def test_dracut_initrds_rebuilt_until_they_hold_the_marker(tmp_path, monkeypatch):
    """dracut: every initrd whose marker (lsinitrd -f) is not the planned one is rebuilt, check mode predicts it,
    a run killed after the files were written is completed by the rerun, and no groups drop the marker."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    versions = ("6.1.0-9-amd64", "6.12.1-1.el9")
    names = ("boot/initrd.img-6.1.0-9-amd64", "boot/initramfs-6.12.1-1.el9.img")
    for version, name in zip(versions, names):
        (tmp_path / "lib/modules" / version).mkdir(parents=True)
        (tmp_path / "boot").mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"dracut image")
    (tmp_path / "boot/initrd.img-5.10.0-1-amd64").write_bytes(b"no modules: not a kernel of this root")
    inside = {}  # initrd path -> marker text dracut put inside
    ran = []

    def run_command(argv):
        ran.append(argv)
        if argv[0] == "lsinitrd":
            return 0, inside.get(argv[-1], ""), ""
        if argv[0] == "dracut":
            inside[argv[2]] = plan.initramfs_marker(plan.plan_files(params["groups"], "networkd", {"initramfs": "dracut"}))
        return (3 if argv[:2] == ["systemctl", "is-active"] else 0), "", ""
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "dracut", "root": str(tmp_path)}
    initrds = [str(tmp_path / name) for name in names]
    checked = fc.configure(params, check_mode=True, run_command=run_command)
    assert sorted(checked["initrds"]) == sorted(initrds) and sorted(checked["initrds_rebuilt"]) == sorted(initrds)
    assert [a[0] for a in ran if a[0] not in ("systemctl", "lsinitrd")] == []
    del ran[:]
    result = fc.configure(params, run_command=run_command)
    assert sorted(result["initrds_rebuilt"]) == sorted(initrds)
    assert sorted(a for a in ran if a[0] == "dracut") == sorted(
        ["dracut", "-f", str(tmp_path / name), version] for version, name in zip(versions, names))
    assert all(inside[path].startswith("initramfs files of guestnet.failover") for path in initrds)
    assert fc.configure(params, run_command=run_command)["changed"] is False
    # killed after the files were written: the files compare equal, the initrd does not
    inside[initrds[0]] = ""
    rerun = fc.configure(params, run_command=run_command)
    assert rerun["changed"] and rerun["files"] == [] and rerun["initrds_rebuilt"] == [initrds[0]]
    # no groups: the module goes, and so must the marker (dracut -f without our module writes none)
    params = dict(params, groups=[])
    cleared = fc.configure(params, run_command=run_command)
    assert sorted(cleared["initrds_rebuilt"]) == sorted(initrds)


def test_stack_not_running_is_not_reloaded(tmp_path, monkeypatch):
    """An explicit backend whose service is stopped reads the files when it starts; no reload is asked."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)

    def run_command(argv):
        return (3 if argv[:2] == ["systemctl", "is-active"] else 0), "", ""
    result = fc.configure({"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(tmp_path)},
                          run_command=run_command)
    assert result["changed"] and "networkctl reload" not in result["actions"]
    assert result["actions"][0] == "udevadm control --reload"


def test_ifupdown_brings_up_kernel_paired_uppers(tmp_path, monkeypatch):
    """ifupdown has no reload: ifup the net_failover upper after the file changed, nothing on an unchanged rerun."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)

    def run_command(argv):
        return 0, "", ""
    params = {"groups": [NET_FAILOVER], "backend": "ifupdown", "initramfs": "none", "root": str(tmp_path)}
    assert fc.configure(params, run_command=run_command)["actions"][-1] == "ifup lan0"
    assert fc.configure(params, run_command=run_command)["actions"] == []


def test_failed_action_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    with pytest.raises(RuntimeError) as err:
        fc.configure({"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(tmp_path)},
                     run_command=lambda argv: (1, "", "boom"))
    assert "udevadm control --reload failed (rc 1): boom" in str(err.value)


def _run_main(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            fc.main()
    return json.loads(capsys.readouterr().out)


def test_main_fails_before_writing(tmp_path, capsys):
    out = _run_main({"groups": [_g(NET_FAILOVER, name="bad name")], "backend": "networkd", "root": str(tmp_path)}, capsys)
    assert out["failed"] and "groups[0].name" in out["msg"]
    assert _tree(tmp_path) == []


def test_main_check_and_diff(tmp_path, capsys):
    args = {"groups": [NET_FAILOVER], "backend": "networkd", "root": str(tmp_path), "initramfs": "none",
            "_ansible_check_mode": True, "_ansible_diff": True}
    out = _run_main(args, capsys)
    assert out["changed"] and len(out["diff"]) == len(out["files"]) == 5
    assert _tree(tmp_path) == []
    out = _run_main(dict(args, _ansible_check_mode=False, _ansible_diff=False), capsys)
    assert out["changed"] and "diff" not in out
    out = _run_main(dict(args, _ansible_check_mode=False), capsys)
    assert not out["changed"] and out["diff"] == []


def test_no_groups_and_no_stack_prunes_without_a_backend(tmp_path):
    """An image with no network stack enabled and no groups left: nothing to render, our old files still go."""
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "root": str(tmp_path), "initramfs": "none", "announcer": True}
    written = fc.configure(params)["planned"]
    assert written and all(os.path.exists(p) for p in written)
    result = fc.configure(dict(params, groups=[], backend="auto"))
    assert result["backend"] is None and result["changed"]
    assert set(written) <= set(result["removed"])
    assert not any(os.path.exists(p) for p in written)
    with pytest.raises(validate.ConfigError, match="backend: auto found no"):
        fc.configure(dict(params, backend="auto"))


def _image_with_kernel(tmp_path, initrd_bytes):
    """An image root with one kernel's initrd (plus a backup that is no kernel's) and its modules directory."""
    root = tmp_path / "image"
    (root / "lib/modules/6.1.0-50-amd64").mkdir(parents=True)
    (root / "boot").mkdir()
    (root / "boot/initrd.img-6.1.0-50-amd64").write_bytes(initrd_bytes)
    (root / "boot/initrd.img-6.1.0-50-amd64.dpkg-bak").write_bytes(initrd_bytes)
    return root


MAIN_ARCHIVE = gzip.compress(b"compressed main archive", mtime=0)


def test_initramfs_tools_segment_swapped_in_place_idempotent_and_completed_after_a_killed_run(tmp_path):
    """No update-initramfs: our early segment goes into every kernel's initrd; the main archive stays as it was."""
    root = _image_with_kernel(tmp_path, MAIN_ARCHIVE)
    initrd = root / "boot/initrd.img-6.1.0-50-amd64"
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "root": str(root), "initramfs": "initramfs-tools"}
    # a run killed after the files were written: simulated by a run that leaves the initrd alone
    fc.configure(dict(params, initramfs_rebuild=False))
    assert initrd.read_bytes() == MAIN_ARCHIVE
    predicted = fc.configure(params, check_mode=True)
    assert predicted["changed"] and predicted["initrds"] == [str(initrd)] and initrd.read_bytes() == MAIN_ARCHIVE
    result = fc.configure(params)
    assert result["changed"] and result["initrds"] == [str(initrd)] and result["files"] == []
    assert not result["initramfs_rebuild_needed"] and result["initrds_rebuilt"] == []
    data = initrd.read_bytes()
    assert data.endswith(MAIN_ARCHIVE)
    segment = initramfs.ours(initramfs.split(data)[0])[0][2]
    assert sorted(segment) == sorted([initramfs.MARKER] + [p for p in fc.plan.plan_files([NET_FAILOVER], "networkd", {
        "initramfs": "initramfs-tools"}) if p.startswith(initramfs.SEGMENT_PREFIXES)])
    assert (root / "boot/initrd.img-6.1.0-50-amd64.dpkg-bak").read_bytes() == MAIN_ARCHIVE
    again = fc.configure(params)
    assert not again["changed"] and again["initrds"] == []
    removed = fc.configure(dict(params, groups=[]))
    assert removed["initrds"] == [str(initrd)] and initrd.read_bytes() == MAIN_ARCHIVE


def test_old_copy_hook_means_a_full_rebuild(tmp_path):
    """The main archive may hold copies from the old hook: in an image the caller rebuilds in the chroot."""
    root = _image_with_kernel(tmp_path, MAIN_ARCHIVE)
    hook = root / "etc/initramfs-tools/hooks/guestnet-failover"
    hook.parent.mkdir(parents=True)
    hook.write_text('#!/bin/sh\n# Managed by guestnet.failover\ncopy_file config "$file"\n', encoding="utf-8")
    result = fc.configure({"groups": [NET_FAILOVER], "backend": "networkd", "root": str(root), "initramfs": "initramfs-tools"})
    assert result["initramfs_rebuild_needed"] and result["initrds"] == []
    assert (root / "boot/initrd.img-6.1.0-50-amd64").read_bytes() == MAIN_ARCHIVE


def test_segment_missing_and_main_archive_may_hold_ours_means_a_rebuild(tmp_path):
    root = files_root.Root(str(_image_with_kernel(tmp_path, MAIN_ARCHIVE)))
    files = initramfs.segment_files(fc.plan.plan_files([NET_FAILOVER], "networkd", {"initramfs": "initramfs-tools"}))
    assert initrds_mod.segment_updates(root, files, True) == [
        ("boot/initrd.img-6.1.0-50-amd64", "6.1.0-50-amd64", initrds_mod.REBUILD)]
    assert initrds_mod.segment_updates(root, files, False)[0][2].endswith(MAIN_ARCHIVE)


@pytest.mark.parametrize("old_hook", [True, False])
def test_running_system_decides_the_first_swap_from_the_hook_as_check_mode_predicts(tmp_path, monkeypatch, old_hook):
    """Issue 16: a first converge unpacked the main archive (lsinitramfs, 6-12 s under TCG) to learn whether an old
    full-copy hook had put our files there, and check mode could not (it predicted a swap where the run rebuilt).
    The hook in place tells it, read-only: its presence means update-initramfs, its absence a segment swap; nothing
    unpacks the initrd, and check mode predicts exactly what the run does."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    root = _image_with_kernel(tmp_path, MAIN_ARCHIVE)
    if old_hook:
        hook = root / "etc/initramfs-tools/hooks/guestnet-failover"
        hook.parent.mkdir(parents=True)
        hook.write_text('#!/bin/sh\n# Managed by guestnet.failover\ncopy_file config "$file"\n', encoding="utf-8")
    ran = []

    def run_command(argv):
        ran.append(argv[0])
        return 0, "", ""
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "root": str(root), "initramfs": "initramfs-tools",
              "reload": False}
    initrd = str(root / "boot/initrd.img-6.1.0-50-amd64")
    predicted = fc.configure(params, check_mode=True, run_command=run_command)
    result = fc.configure(params, run_command=run_command)
    for key in ("initrds", "initrds_rebuilt", "files", "actions"):
        assert predicted[key] == result[key], key
    assert result["initrds"] == [initrd] and not result["initramfs_rebuild_needed"]
    assert result["initrds_rebuilt"] == ([initrd] if old_hook else [])
    assert "lsinitramfs" not in ran
    assert ran.count("update-initramfs") == (1 if old_hook else 0)
    data = (root / "boot/initrd.img-6.1.0-50-amd64").read_bytes()
    assert (data == MAIN_ARCHIVE) if old_hook else data.endswith(MAIN_ARCHIVE) and data != MAIN_ARCHIVE


def test_announcer_unit_path_is_announce_unit_path():
    from ansible_collections.guestnet.failover.plugins.module_utils import announce
    assert fc.ANNOUNCER_UNIT == announce.UNIT_PATH.lstrip("/")


def test_resident_announcer_restarted_on_change_and_stopped_when_pruned(tmp_path, monkeypatch):
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)

    def run_command(argv):
        return 0, "", ""  # every unit active

    def after_reload(actions, action):
        return actions.index("systemctl daemon-reload") < actions.index(action)
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(tmp_path), "announcer": True}
    first = fc.configure(params, run_command=run_command)
    assert after_reload(first["actions"], "systemctl restart guestnet-announce.service")
    assert fc.configure(params, run_command=run_command)["actions"] == []
    # new groups: the watcher is restarted to read its new configuration
    renamed = fc.configure(dict(params, groups=[_g(NET_FAILOVER, name="lan1")]), run_command=run_command)
    assert "systemctl restart guestnet-announce.service" in renamed["actions"]
    off = fc.configure(dict(params, announcer=False, groups=[_g(NET_FAILOVER, name="lan1")]), run_command=run_command)
    assert after_reload(off["actions"], "systemctl stop guestnet-announce.service")
    assert "systemctl restart guestnet-announce.service" not in off["actions"]


@pytest.mark.parametrize("version,reloads", [
    ("systemd 252 (252.39-1~deb12u2)\n+PAM +AUDIT +SELINUX\n", False),
    ("systemd 257 (257.9-1~deb13u1)\n", False),
    ("systemd 245 (245.4-4ubuntu3.24)\n", True),
    ("", True),
])
def test_a_new_announcer_unit_starts_without_daemon_reload_from_systemd_246(tmp_path, monkeypatch, version, reloads):
    """Issue 16: daemon-reload was 2.4 s (idle) to 7.5 s (load 8) of a first converge in a TCG guest. systemd 246 and
    later load a unit file they never loaded when asked to start it (seen on Debian 12's 252: a restart right after
    `systemctl show` called the unit not-found). A unit file that existed may be loaded in its older form: reloaded."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    ran = []

    def run_command(argv):
        ran.append(" ".join(argv))
        return 0, (version if argv == ["systemctl", "--version"] else ""), ""
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(tmp_path), "announcer": True}
    predicted = fc.configure(params, check_mode=True, run_command=run_command)
    first = fc.configure(params, run_command=run_command)
    assert predicted["actions"] == first["actions"]
    assert ("systemctl daemon-reload" in first["actions"]) is reloads
    assert "systemctl restart guestnet-announce.service" in first["actions"]
    unit = tmp_path / fc.ANNOUNCER_UNIT
    unit.write_text(unit.read_text() + "# an older collection's unit\n")
    del ran[:]
    again = fc.configure(params, run_command=run_command)
    assert "systemctl daemon-reload" in again["actions"] and "systemctl --version" not in ran


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the module runs after it (no except, no finally of ours catches it)."""


def test_reloads_owed_by_a_killed_or_failed_run_are_done_by_the_next(tmp_path, monkeypatch):
    """Issue 15: a run killed (or failing) after writing its files but before its reloads left them undone for good:
    the rerun found the files in place, changed nothing and reloaded nothing (networkd kept its old view, the
    announcer stayed stopped). The work after the files is now recorded before the first write and done by the next run."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    ran = []

    def working(argv):
        ran.append(" ".join(argv))
        return (0 if argv[:2] != ["systemctl", "is-active"] or argv[-1] == "systemd-networkd.service" else 3), "", ""

    def killed_at_reload(argv):
        if argv[0] == "networkctl":
            raise Killed()
        return working(argv)

    params = {"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(tmp_path)}
    full = ["udevadm control --reload", "udevadm trigger --subsystem-match=net --action=change",
            "udevadm settle --timeout=30", "networkctl reload"]
    with pytest.raises(Killed):
        fc.configure(params, run_command=killed_at_reload)
    checked = fc.configure(params, check_mode=True, run_command=working)
    assert checked["changed"] and checked["files"] == [] and checked["actions"] == full
    del ran[:]
    rerun = fc.configure(params, run_command=working)
    assert rerun["changed"] and rerun["files"] == [] and rerun["actions"] == full
    assert [r for r in ran if not r.startswith("systemctl")] == full
    assert not (tmp_path / "run/guestnet-failover.pending").exists()
    third = fc.configure(params, run_command=working)
    assert not third["changed"] and third["actions"] == []
    # a reload that fails is owed as well
    with pytest.raises(RuntimeError):
        fc.configure(dict(params, groups=[_g(NET_FAILOVER, dns=["192.0.2.53"])]),
                     run_command=lambda argv: (1, "", "busy") if argv[0] == "networkctl" else working(argv))
    again = fc.configure(dict(params, groups=[_g(NET_FAILOVER, dns=["192.0.2.53"])]), run_command=working)
    assert again["files"] == [] and again["actions"] == ["networkctl reload"]


def test_unreadable_pending_record_redoes_every_reload(tmp_path, monkeypatch):
    """A record that does not parse stands for every planned file; paths that are not plain relative paths are dropped."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    params = {"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(tmp_path)}

    def run_command(argv):
        return 0, "", ""
    fc.configure(params, run_command=run_command)
    (tmp_path / "run/guestnet-failover.pending").write_text("{not json")
    assert fc.configure(params, check_mode=True, run_command=run_command)["actions"][-1] == "networkctl reload"
    (tmp_path / "run/guestnet-failover.pending").write_text(
        json.dumps({"paths": ["../etc/systemd/network/00-x.network", "/etc/systemd/network/00-x.network", 7]}))
    assert fc.configure(params, check_mode=True, run_command=run_command)["actions"] == []


def test_networkmanager_bond_comes_up_with_the_vf_primary_predicted_by_check_mode(tmp_path, monkeypatch):
    """NetworkManager owns the bond: the written profile comes up and the VF (its kernel name until the next boot)
    is made primary, in the same call; check mode predicts both, a rerun asks NetworkManager and runs nothing."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    sysfs = tmp_path / "sys"
    _as_booted(sysfs)
    monkeypatch.setattr(fc, "SYSFS", str(sysfs))
    root = tmp_path / "root"
    root.mkdir()
    ran, active = [], {"guestnet-failover-bond0": False}

    def run_command(argv):
        if argv[:2] == ["systemctl", "is-active"]:
            return (0 if argv[-1] == "NetworkManager.service" else 3), "", ""
        if argv[:3] == ["nmcli", "-g", "GENERAL.STATE"]:
            return 0, "activated\n" if active[argv[-1]] else "", ""
        ran.append(" ".join(argv))
        if argv[:4] == ["nmcli", "--wait", "90", "connection"]:
            active[argv[-1]] = True
        return 0, "", ""
    params = {"groups": [BOND], "backend": "NetworkManager", "initramfs": "none", "root": str(root)}
    checked = fc.configure(params, check_mode=True, run_command=run_command)
    assert checked["actions"][-2:] == ["nmcli --wait 90 connection up id guestnet-failover-bond0",
                                       "ip link set dev bond0 type bond primary enp2s0"]
    assert ran == []
    result = fc.configure(params, run_command=run_command)
    assert result["actions"] == checked["actions"] == ran
    # the bond as NetworkManager left it, primary set: nothing to do, and check mode says so
    sysfs_bonded = tmp_path / "sys2"
    _bonded(sysfs_bonded)
    monkeypatch.setattr(fc, "SYSFS", str(sysfs_bonded))
    del ran[:]
    assert fc.configure(params, check_mode=True, run_command=run_command)["actions"] == []
    again = fc.configure(params, run_command=run_command)
    assert again["actions"] == [] and not again["changed"] and ran == []
    # brought down by hand: the next run brings it up again, and the profile's primary (bond0vf) needs the VF's name
    active["guestnet-failover-bond0"] = False
    assert fc.configure(params, run_command=run_command)["actions"] == checked["actions"][-2:]
    # activate=false (the apply role's apply_runtime=false) leaves the running network to the user
    active["guestnet-failover-bond0"] = False
    assert fc.configure(dict(params, activate=False), run_command=run_command)["actions"] == []


def test_rerun_with_nothing_to_do_asks_no_service(tmp_path, monkeypatch):
    """A rerun of a kernel-paired group with its files in place runs no command at all: each is a process start in
    the guest (issue 16); NetworkManager is asked about its profiles only for bonds and teams."""
    monkeypatch.setattr(fc, "is_image_root", lambda root: False)
    ran = []

    def run_command(argv):
        ran.append(argv)
        return 0, "", ""
    params = {"groups": [NET_FAILOVER], "backend": "NetworkManager", "initramfs": "none", "root": str(tmp_path)}
    assert fc.configure(params, run_command=run_command)["changed"]
    del ran[:]
    assert not fc.configure(params, run_command=run_command)["changed"]
    assert ran == []
