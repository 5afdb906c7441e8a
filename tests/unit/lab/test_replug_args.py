# SPDX-License-Identifier: GPL-3.0-or-later
"""Re-plug arguments of a primary (lab/guestnet_lab/vm.py): another root port, another QEMU NIC model."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "lab"))

from guestnet_lab import vm  # noqa: E402  pylint: disable=wrong-import-position
from guestnet_lab.util import LabError  # noqa: E402  pylint: disable=wrong-import-position

BOOT = {"driver": "e1000e", "netdev": "hn1", "mac": "52:54:00:12:34:56", "id": "hostdev0", "bus": "root2",
        "failover_pair_id": "net1", "romfile": ""}


def test_boot_arguments_unchanged_by_default():
    assert vm.replug_args(BOOT) == BOOT


def test_spare_root_port_and_named_port():
    assert vm.replug_args(BOOT, "alt")["bus"] == "rootalt"
    assert vm.replug_args(BOOT, "root3")["bus"] == "root3"


def test_other_model_keeps_identity_and_pairing():
    args = vm.replug_args(BOOT, "alt", "e1000")
    assert args["driver"] == "e1000" and vm.PRIMARY_MODELS["e1000"] == "e1000"
    assert {k: args[k] for k in ("mac", "id", "netdev", "failover_pair_id")} == {
        k: BOOT[k] for k in ("mac", "id", "netdev", "failover_pair_id")}
    assert BOOT["driver"] == "e1000e"  # the instance record is not modified


def test_unknown_model_is_refused():
    with pytest.raises(LabError, match="unknown primary model 'virtio-net-pci'"):
        vm.replug_args(BOOT, model="virtio-net-pci")
