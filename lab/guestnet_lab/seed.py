# SPDX-License-Identifier: GPL-3.0-or-later
"""NoCloud seeds for cloud images: meta-data, user-data and the network-config variants clouds hand out.

A seed is an ISO 9660 image with volume id ``cidata`` attached as a CD-ROM; a new instance-id makes cloud-init
treat the next boot as a new instance (it renders the network configuration again).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

from guestnet_lab.util import LabError, run

# v2: EC2/GCE style (netplan passthrough: match by MAC, set-name); v1: OpenStack style (physical + mac_address);
# none: no network-config at all, cloud-init's fallback (DHCP on the "first" NIC it picks).
SEEDS = ("v2", "v1", "none")
DATA_NAME = "data1"


def meta_data(instance_id: str, hostname: str) -> str:
    """Return the NoCloud meta-data."""
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"


def user_data(pubkey: str) -> str:
    """Return the user-data: the lab key for the default user (root's key is baked into the image)."""
    return ("#cloud-config\n"
            "ssh_authorized_keys:\n"
            f"  - {pubkey.strip()}\n"
            "package_update: false\n"
            "package_upgrade: false\n")


def network_config(variant: str, mac: str, name: str = DATA_NAME) -> Optional[str]:
    """Return the network-config of a seed variant for the data NIC's MAC (None: the seed has no such file)."""
    if variant == "v2":
        return ("version: 2\n"
                "ethernets:\n"
                f"  {name}:\n"
                "    match:\n"
                f"      macaddress: \"{mac}\"\n"
                f"    set-name: {name}\n"
                "    dhcp4: true\n")
    if variant == "v1":
        return ("version: 1\n"
                "config:\n"
                "  - type: physical\n"
                f"    name: {name}\n"
                f"    mac_address: \"{mac}\"\n"
                "    subnets:\n"
                "      - type: dhcp\n")
    if variant == "none":
        return None
    raise LabError(f"unknown seed {variant!r}; choose one of {', '.join(SEEDS)}")


def seed_files(variant: str, instance_id: str, hostname: str, pubkey: str, mac: str) -> dict[str, str]:
    """Return the files of a seed: name -> content."""
    files = {"meta-data": meta_data(instance_id, hostname), "user-data": user_data(pubkey)}
    net = network_config(variant, mac)
    if net is not None:
        files["network-config"] = net
    return files


def write_iso(files: dict[str, str], dest: Path) -> Path:
    """Write files into an ISO 9660 image (Joliet + Rock Ridge) with volume id cidata; return dest."""
    tool = shutil.which("xorriso")
    if tool is None:
        raise LabError("xorriso is not installed (run scripts/bootstrap.sh)")
    with tempfile.TemporaryDirectory(prefix="seed-", dir=dest.parent) as tmp:
        for fname, text in files.items():
            (Path(tmp) / fname).write_text(text, encoding="utf-8")
        part = dest.with_suffix(".part")
        run([tool, "-as", "mkisofs", "-quiet", "-volid", "cidata", "-joliet", "-rock", "-output", str(part), tmp])
        part.replace(dest)
    return dest
