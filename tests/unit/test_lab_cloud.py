# SPDX-License-Identifier: GPL-3.0-or-later
"""Cloud images of the VM lab: NoCloud seed rendering, the boot disk's layout and MBR (pure parts, no VM)."""
from __future__ import annotations

import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lab"))

from guestnet_lab import images, seed  # noqa: E402  pylint: disable=wrong-import-position
from guestnet_lab.util import LabError  # noqa: E402  pylint: disable=wrong-import-position

MAC = "52:54:00:12:34:56"


def test_v2_matches_the_mac_and_sets_the_name():
    net = yaml.safe_load(seed.network_config("v2", MAC))
    assert net == {"version": 2, "ethernets": {"data1": {"match": {"macaddress": MAC}, "set-name": "data1",
                                                         "dhcp4": True}}}


def test_v1_is_a_physical_entry_with_dhcp():
    net = yaml.safe_load(seed.network_config("v1", MAC))
    assert net == {"version": 1, "config": [{"type": "physical", "name": "data1", "mac_address": MAC,
                                             "subnets": [{"type": "dhcp"}]}]}


def test_none_has_no_network_config_file():
    files = seed.seed_files("none", "iid-1", "h3x", "ssh-ed25519 AAAA lab", MAC)
    assert sorted(files) == ["meta-data", "user-data"]
    assert yaml.safe_load(files["meta-data"]) == {"instance-id": "iid-1", "local-hostname": "h3x"}
    assert files["user-data"].startswith("#cloud-config\n")
    assert yaml.safe_load(files["user-data"])["ssh_authorized_keys"] == ["ssh-ed25519 AAAA lab"]


def test_unknown_seed_is_refused():
    with pytest.raises(LabError):
        seed.network_config("v3", MAC)


def test_disk_layout_whole_mib_after_the_gap():
    sectors, fs_kib = images.disk_layout(3 * 1024 ** 3, 2048)
    assert sectors == 3 * 1024 * 2048 - 2048
    assert fs_kib * 2 == sectors and fs_kib % 4 == 0
    sectors = images.disk_layout(10 * 1024 ** 2 + 1000, 2048)[0]
    assert sectors == 9 * 2048
    with pytest.raises(LabError):
        images.disk_layout(512 * 1024, 2048)


def test_mbr_keeps_boot_code_and_has_one_bootable_partition():
    code = bytes(range(256)) * 2
    sector = images.mbr(code, 2048, 4096)
    assert len(sector) == 512
    assert sector[:440] == code[:440]
    assert sector[510:] == b"\x55\xaa"
    entry = sector[446:462]
    assert entry[0] == 0x80 and entry[4] == 0x83
    assert int.from_bytes(entry[8:12], "little") == 2048
    assert int.from_bytes(entry[12:16], "little") == 4096
    assert sector[462:510] == bytes(48)


def test_bootloader_refuses_a_core_img_that_overlaps_the_partition(tmp_path):
    disk = tmp_path / "disk.raw"
    disk.write_bytes(bytes(4 * 1024 * 1024))
    images.write_bootloader(disk, bytes(512), b"\x01" * 1024, 2048, 4096)
    data = disk.read_bytes()
    assert data[512:1536] == b"\x01" * 1024 and data[510:512] == b"\x55\xaa"
    with pytest.raises(LabError):
        images.write_bootloader(disk, bytes(512), bytes(2048 * 512), 2048, 4096)


def test_lab_recipe_is_unchanged_by_kinds():
    lab = images.recipe("12")
    assert "kind" not in lab and lab == images.recipe("12", "lab")
    assert images.image_dir("12").name.startswith("debian-12-") and "cloud" not in images.image_dir("12").name
    cloud = images.recipe("12", "cloud")
    assert cloud["kind"] == "cloud" and images.image_dir("12", "cloud").name.startswith("debian-12-cloud-")
    forbidden = {"python3-pyroute2", "network-manager", "ifupdown", "libteam-utils", "teamd"}
    assert not forbidden & set(cloud["packages"])
