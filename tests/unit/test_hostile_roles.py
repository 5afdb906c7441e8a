# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile role variables (issue 12): meta/argument_specs.yml refuses typos inside dict variables.

Most cases run Ansible's own validator (ArgumentSpecValidator, what the role's validation task uses)
on each role's spec, fast; two run ansible-playbook end to end with an image root that must stay empty.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = ("apply", "failover", "generic", "hyperv", "kvm")


def _spec(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def _errors(role, variables):
    spec = _spec(role)
    if role == "apply":
        variables = dict(variables, apply_flavour="kvm")
    result = ArgumentSpecValidator(spec).validate(variables)
    return [str(e) for e in result.errors]


GROUP = {"name": "lan0", "model": "net_failover", "mac": "52:54:00:12:34:56", "pv_driver": "virtio_net", "vf_drivers": ["e1000e"]}

# (role variable suffix, value, fragment of the error)
CASES = [
    ("ipv4", {"metod": "static"}, "ipv4.metod"),
    ("ipv4", {"method": "dhcp", "gatway": "192.0.2.1"}, "ipv4.gatway"),
    ("ipv4", {"method": "auto"}, "method must be one of: dhcp, static, disabled"),
    ("ipv4", {"method": "static", "addresses": {"a": 1}}, "addresses"),
    ("ipv6", {"method": "dhcp"}, "method must be one of: auto, static, disabled"),
    ("ipv6", {"adresses": ["2001:db8::10/64"]}, "ipv6.adresses"),
    ("groups", [dict(GROUP, nmae="lan0")], "nmae"),
    ("groups", [dict(GROUP, model="macvtap")], "model must be one of: net_failover, netvsc, bond, team"),
    ("groups", [dict(GROUP, ipv4={"metod": "static"})], "ipv4.metod"),
    ("groups", [dict(GROUP, ipv6={"method": "dhcp"})], "method must be one of: auto, static, disabled"),
    ("groups", [dict(GROUP, model="bond", bond={"miimon": "fast"})], "miimon"),
    ("groups", [dict(GROUP, model="bond", bond={"lacp_rate": "fast"})], "bond.lacp_rate"),
    ("groups", [dict(GROUP, model="bond", bond={"fail_over_mac": "sometimes"})], "fail_over_mac must be one of: none, active, follow"),
    ("groups", [dict(GROUP, model="team", team={"hwaddr_policy": "random"})], "hwaddr_policy must be one of"),
    ("groups", [dict(GROUP, model="team", team={"runner": "lacp"})], "team.runner"),
    ("groups", [dict(GROUP, vf_mac_settable="sometimes")], "vf_mac_settable"),
    ("groups", ["52:54:00:12:34:56"], "groups"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("suffix,value,expected", CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)])
def test_role_dict_variables_have_options(role, suffix, value, expected):
    errors = _errors(role, {"%s_%s" % (role, suffix): value})
    assert errors, "%s_%s=%r accepted" % (role, suffix, value)
    assert any(expected in e for e in errors), errors
    assert any("%s_%s" % (role, suffix) in e for e in errors), errors


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_and_good_values_pass(role):
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    assert _errors(role, defaults) == []
    good = {"%s_ipv4" % role: {"method": "static", "addresses": ["192.0.2.10/24"], "gateway": "192.0.2.1"},
            "%s_ipv6" % role: {"method": "auto"},
            "%s_groups" % role: [dict(GROUP, ipv4={"method": "dhcp"}, dns=["192.0.2.53"]),
                                 dict(GROUP, name="bond0", model="bond", mac="52:54:00:12:34:57",
                                      bond={"miimon": 100, "arp_ip_target": ["192.0.2.1"]}, pv_name="b0p", vf_name="b0v",
                                      vf_mac="52:54:00:12:34:58", vf_mac_settable=False)]}
    assert _errors(role, good) == []


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: guestnet.failover.{role}
      vars:
        {role}_root: {root}
        {role}_{var}: {value}
"""


@pytest.mark.parametrize("role,var,value,expected", [
    ("failover", "ipv4", "{metod: static}", "failover_ipv4.metod"),
    ("kvm", "groups", "[{mac: '52:54:00:12:34:56', modle: bond}]", "kvm_groups.modle"),
])
def test_playbook_refuses_typo_and_writes_nothing(tmp_path, role, var, value, expected):
    root = tmp_path / "image"
    root.mkdir()
    play = tmp_path / "play.yml"
    play.write_text(PLAYBOOK.format(role=role, var=var, value=value, root=root), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"), ANSIBLE_NOCOLOR="1")
    # `-m ansible.cli.playbook`: under `ansible-test units` ansible comes from PYTHONPATH, there is no ansible-playbook script
    proc = subprocess.run([sys.executable, "-m", "ansible.cli.playbook", "-i", "localhost,", "-c", "local", str(play)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Validation of arguments failed" in out and expected in out
    assert list(root.iterdir()) == []
