# SPDX-License-Identifier: GPL-3.0-or-later
"""Each role rejects a bad variable with Ansible's own argument validation, naming the variable."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: guestnet.failover.{role}
      vars:
        {var}: {value}
"""


@pytest.mark.parametrize("role, var, value, expected", [
    ("kvm", "kvm_fallback", "lacp", "value of kvm_fallback must be one of: bond, team, fail, got: lacp"),
    ("generic", "generic_fallback", "lacp", "value of generic_fallback must be one of: bond, team, fail, got: lacp"),
    ("hyperv", "hyperv_no_address_macs", "{a: 1}", "hyperv_no_address_macs"),
    ("kvm", "kvm_ipv4", "{metod: static}", "kvm_ipv4"),
    ("failover", "failover_flavour", "vmware", "value of failover_flavour must be one of: auto, kvm, hyperv, generic, got: vmware"),
    ("apply", "apply_backend", "systemd", "value of apply_backend must be one of"),
    ("kvm", "kvm_runtime", "maybe", "kvm_runtime"),
])
def test_bad_role_variable_fails_validation(tmp_path, role, var, value, expected):
    play = tmp_path / "play.yml"
    play.write_text(PLAYBOOK.format(role=role, var=var, value=value), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"), ANSIBLE_NOCOLOR="1")
    if role == "apply":
        play.write_text(PLAYBOOK.format(role=role, var=var, value=value) + "        apply_flavour: kvm\n", encoding="utf-8")
    # `-m ansible.cli.playbook`: under `ansible-test units` ansible comes from PYTHONPATH, there is no ansible-playbook script
    proc = subprocess.run([sys.executable, "-m", "ansible.cli.playbook", "-i", "localhost,", "-c", "local", str(play)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Validation of arguments failed" in out
    assert expected in out
