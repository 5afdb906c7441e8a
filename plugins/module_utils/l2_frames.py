# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage, shared (Python standard library only): link-layer frames and the carrier wait.

Used by the runtime executor (``link_probe``'s ARP probe, ``link_execute``'s carrier wait) and by the guest's
resident announcer (``announce_watch``), which runs from an installed copy of this file with no pyroute2.
"""
from __future__ import annotations

import os
import struct
import time

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ARP_REQUEST = 1
ARP_REPLY = 2
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
SYS_NET = "/sys/class/net"


def mac_bytes(mac):
    return bytes(int(part, 16) for part in mac.split(":"))


def arp_frame(mac, sender_ip, target_ip, op=ARP_REQUEST):
    """A broadcast ARP frame from ``mac`` (IPs packed, 4 bytes each)."""
    hw = mac_bytes(mac)
    return (b"\xff" * 6 + hw + struct.pack("!H", ETH_P_ARP)
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + hw + sender_ip + b"\0" * 6 + target_ip)


def arp_announcement(mac, ip4):
    """RFC 5227 ARP announcement: a broadcast request with sender IP == target IP."""
    return arp_frame(mac, ip4, ip4)


def is_arp_reply_from(data, target_ip):
    """True when ``data`` (a received frame) is an ARP reply sent by ``target_ip``."""
    return len(data) >= 42 and struct.unpack("!H", data[20:22])[0] == ARP_REPLY and data[28:32] == target_ip


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def unsolicited_na(mac, ip6):
    """RFC 4861 7.2.6 unsolicited NA to all-nodes: Override set, Solicited clear, target LLA option."""
    hw = mac_bytes(mac)
    icmp = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + ip6 + struct.pack("!BB", 2, 1) + hw
    pseudo = ip6 + ALL_NODES + struct.pack("!I", len(icmp)) + b"\0\0\0\x3a"
    icmp = icmp[:2] + struct.pack("!H", checksum(pseudo + icmp)) + icmp[4:]
    ip = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + ip6 + ALL_NODES
    return b"\x33\x33\x00\x00\x00\x01" + hw + struct.pack("!H", ETH_P_IPV6) + ip + icmp


def carrier(dev, sys_net=SYS_NET):
    """True when ``dev`` is up with carrier (the kernel refuses to read ``carrier`` of a down device)."""
    try:
        with open(os.path.join(sys_net, dev, "carrier")) as handle:
            return handle.read().strip() == "1"
    except OSError:
        return False


def wait_carrier(dev, timeout, sys_net=SYS_NET, sleep=time.sleep, has_carrier=None):
    """Wait for carrier on ``dev``; True when it came, False after ``timeout`` or when ``dev`` is gone (not fatal).

    ``has_carrier(dev)`` -> True/False/None (None: no such device) replaces the sysfs read (the runtime executor asks
    netlink, which also works in another network namespace).
    """
    if has_carrier is None:
        def has_carrier(name):
            return carrier(name, sys_net) or (None if not os.path.exists(os.path.join(sys_net, name)) else False)
    deadline = time.monotonic() + timeout
    while True:
        state = has_carrier(dev)
        if state:
            return True
        if state is None or time.monotonic() >= deadline:
            return False
        sleep(0.01)
