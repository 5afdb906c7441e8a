# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired groups shared by the renderer, plan and module tests."""
from __future__ import annotations

import contextlib
import copy
import json

NET_FAILOVER = {
    "name": "lan0", "model": "net_failover", "mac": "52:54:00:12:34:56", "pv_driver": "virtio_net",
    "vf_drivers": ["mlx5_core", "mlx4_core", "ixgbevf", "iavf"],
    "ipv4": {"method": "dhcp"}, "ipv6": {"method": "auto"}, "dns": [],
}
NETVSC = {
    "name": "eth0", "model": "netvsc", "mac": "00:0d:3a:12:34:56", "pv_driver": "hv_netvsc",
    "vf_drivers": ["mana", "mlx4_core", "mlx5_core"],
    "ipv4": {"method": "dhcp"}, "ipv6": {"method": "disabled"}, "dns": [],
}
BOND = {
    "name": "bond0", "model": "bond", "mac": "52:54:00:aa:bb:cc", "pv_driver": "virtio_net",
    "vf_drivers": ["ixgbevf", "iavf"],
    "ipv4": {"method": "static", "addresses": ["192.0.2.10/24"], "gateway": "192.0.2.1"},
    "ipv6": {"method": "static", "addresses": ["2001:db8::10/64"], "gateway": "2001:db8::1"},
    "dns": ["192.0.2.53", "2001:db8::53"],
    "bond": {"miimon": 100, "updelay": 200, "num_grat_arp": 3},
}
TEAM = {
    "name": "team0", "model": "team", "mac": "52:54:00:dd:ee:ff", "pv_driver": "vmxnet3",
    "vf_drivers": ["iavf"], "vf_mac_settable": False,
    "ipv4": {"method": "dhcp"}, "ipv6": {"method": "auto"}, "dns": [],
}
UNNAMED = {
    "model": "net_failover", "mac": "52:54:00:00:00:02", "pv_driver": "virtio_net", "vf_drivers": ["mlx5_core"],
    "ipv4": {"method": "disabled"}, "ipv6": {"method": "disabled"}, "dns": [],
}
SECOND = dict(NET_FAILOVER, name="lan1", mac="52:54:00:12:34:57",
              ipv4={"method": "static", "addresses": ["198.51.100.7/24"]}, ipv6={"method": "disabled"})

CASES = {
    "net_failover": [NET_FAILOVER],
    "netvsc": [NETVSC],
    "bond": [BOND],
    "team": [TEAM],
    "two_groups": [NET_FAILOVER, SECOND],
    "unnamed": [UNNAMED],
}
STACKS = ("networkd", "NetworkManager", "netplan", "ifupdown")
# (stack, case) pairs that must be refused instead of rendered
REFUSED = {("networkd", "team"), ("netplan", "team"), ("ifupdown", "unnamed")}
# extra cases with options: name -> (stack, case, options)
EXTRAS = {
    "initramfs_tools_cloud_init": ("networkd", "net_failover", {"initramfs": "initramfs-tools", "cloud_init": True}),
    "dracut_not_silent": ("NetworkManager", "bond", {"initramfs": "dracut", "lowers_silent": False}),
}


def groups(case):
    """A deep copy of the groups of ``case``."""
    return copy.deepcopy(CASES[case])


def variant(base, **changes):
    """A deep copy of ``base`` with ``changes`` applied; a change to None removes the key."""
    group = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            group.pop(key, None)
        else:
            group[key] = value
    return group


@contextlib.contextmanager
def patch_module_args(args):
    """ansible.module_utils.testing.patch_module_args where it exists (ansible-core 2.19+), else what it replaced:
    the arguments as the JSON AnsibleModule reads from basic._ANSIBLE_ARGS (the oldest ansible-core we test)."""
    try:
        from ansible.module_utils.testing import patch_module_args as patch  # pylint: disable=import-outside-toplevel
    except ImportError:
        patch = None
    if patch is not None:
        with patch(args):
            yield
        return
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
    saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")  # pylint: disable=protected-access
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access


class Exit(Exception):
    """Raised instead of AnsibleModule.exit_json/fail_json; args[0] is the result."""


def module_runner(monkeypatch, main):
    """Return run(args) -> result of a module's ``main()``, with exit_json/fail_json captured as Exit."""
    import pytest  # pylint: disable=import-outside-toplevel
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

    def exit_json(self, **kw):  # pylint: disable=unused-argument
        kw.setdefault("failed", False)
        raise Exit(kw)

    def fail_json(self, **kw):  # pylint: disable=unused-argument
        kw["failed"] = True
        raise Exit(kw)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(args):
        with patch_module_args(args):
            with pytest.raises(Exit) as info:
                main()
        return info.value.args[0]
    return run
