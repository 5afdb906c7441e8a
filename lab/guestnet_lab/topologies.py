# SPDX-License-Identifier: GPL-3.0-or-later
"""NIC topologies of a lab guest: which data NICs QEMU gets and how they pair."""
from __future__ import annotations

MAC_A = "52:54:00:12:34:56"
MAC_B = "52:54:00:12:34:57"

# Each NIC: id (QEMU device id), driver, mac, bus (pcie-root-port), and for failover the pairing keys.
# Primaries (the "VF") are hot-pluggable: they are given in JSON form so device_add can re-plug them.
TOPOLOGIES: dict[str, list[dict]] = {
    "kvm-failover": [
        {"id": "net1", "driver": "virtio-net-pci", "mac": MAC_A, "bus": "root1", "failover": True},
        {"id": "hostdev0", "driver": "e1000e", "mac": MAC_A, "bus": "root2", "failover_pair_id": "net1"},
    ],
    "pv-vf-pair": [
        {"id": "net1", "driver": "virtio-net-pci", "mac": MAC_A, "bus": "root1"},
        {"id": "hostdev0", "driver": "e1000e", "mac": MAC_A, "bus": "root2"},
    ],
    "two-triplets": [
        {"id": "net1", "driver": "virtio-net-pci", "mac": MAC_A, "bus": "root1", "failover": True},
        {"id": "hostdev0", "driver": "e1000e", "mac": MAC_A, "bus": "root2", "failover_pair_id": "net1"},
        {"id": "net2", "driver": "virtio-net-pci", "mac": MAC_B, "bus": "root3", "failover": True},
        {"id": "hostdev1", "driver": "e1000e", "mac": MAC_B, "bus": "root4", "failover_pair_id": "net2"},
    ],
    "plain": [
        {"id": "net1", "driver": "virtio-net-pci", "mac": MAC_A, "bus": "root1"},
    ],
}


def nics(topology: str) -> list[dict]:
    """Return the NIC list of a topology (a copy), raising KeyError with the choices when unknown."""
    if topology not in TOPOLOGIES:
        raise KeyError(f"unknown topology {topology!r}; choose one of {', '.join(TOPOLOGIES)}")
    return [dict(nic) for nic in TOPOLOGIES[topology]]


def root_ports(topology: str) -> list[str]:
    """Return the pcie-root-port ids: one per NIC plus a spare one (``alt``) for re-plug at another slot."""
    used = [nic["bus"] for nic in TOPOLOGIES[topology]]
    return used + ["rootalt"]


def device_json(nic: dict, netdev: str) -> dict:
    """Return the QEMU -device/device_add arguments of a NIC."""
    dev = {"driver": nic["driver"], "netdev": netdev, "mac": nic["mac"], "id": nic["id"], "bus": nic["bus"]}
    if nic.get("failover"):
        dev["failover"] = True
    if nic.get("failover_pair_id"):
        dev["failover_pair_id"] = nic["failover_pair_id"]
    return dev
