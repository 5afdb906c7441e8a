# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage (guest program, the resident announcer): watch rtnetlink, announce a failover upper's addresses when a lower changes.

The kernel's net_failover (and a bond/team) switches between VF and PV without telling the L2 network; a learning
switch keeps sending to the port it learnt last. This watcher, started once per boot by udev (``SYSTEMD_WANTS``
on a lower with a group's MAC) and kept resident by systemd, reacts to the kernel's own link messages:

- a lower with a group's MAC goes away (``RTM_DELLINK``), or an enslaved one loses its link (``IFF_LOWER_UP`` cleared,
  the first sign of an unplug): a burst from every upper carrying that MAC, at once;
- a lower appears (``RTM_NEWLINK`` of a new ifindex): for bond/team groups a child process re-enslaves it with the
  runtime path's own steps (``link_plan.port_rejoin_steps`` run by ``link_execute.Applier``; pyroute2 is loaded there only,
  the watcher stays small), unless the group says ``rejoin: false`` (NetworkManager's port profiles do it there);
  once the lower is enslaved and has carrier, a burst from its upper.

A burst is gratuitous ARP (RFC 5227 announcement) and unsolicited NA (RFC 4861 7.2.6) for every address of the
upper, link-local included, at 0/50/200 ms, at most one burst per 100 ms per upper; frames come from ``l2_frames``.
The configuration (``/etc/guestnet/announce.json``) is re-checked with ``validate`` on load. Runs from an installed
copy of the collection's module_utils (``announce.INSTALLED_MODULES``); Python standard library only in the watcher.
"""
from __future__ import annotations

import heapq
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

from ansible_collections.guestnet.failover.plugins.module_utils import l2_frames
from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import device_driver, link_name
from ansible_collections.guestnet.failover.plugins.module_utils.upper_config import port_role
from ansible_collections.guestnet.failover.plugins.module_utils.validate import ConfigError, check_announce_group

CONFIG = "/etc/guestnet/announce.json"
SYS_NET = l2_frames.SYS_NET
UDEV_DATA = "/run/udev/data"
SCHEDULE = (0.0, 0.05, 0.2)
MIN_INTERVAL = 0.1
CARRIER_TIMEOUT = 30.0  # a new lower to announce once enslaved with carrier: NetworkManager may take long under load
UDEV_TIMEOUT = 5.0
# include/uapi/linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h
RTMGRP_LINK = 0x1
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 17, 18, 20, 22
NLM_F_DUMP_REQUEST = 0x301
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER = 1, 3, 10
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFF_LOWER_UP = 0x10000
IFA_F_DADFAILED, IFA_F_TENTATIVE = 0x08, 0x40


# --------------------------------------------------------------------------- netlink (stdlib)
def _attrs(data, start, end):
    out = {}
    while start + 4 <= end:
        alen, atype = struct.unpack_from("=HH", data, start)
        if alen < 4:
            break
        out[atype & 0x3FFF] = data[start + 4:start + alen]
        start += (alen + 3) & ~3
    return out


def messages(data):
    """(type, body offset, end) of each netlink message in ``data``."""
    pos = 0
    while pos + 16 <= len(data):
        length, kind = struct.unpack_from("=LH", data, pos)
        if length < 16:
            return
        yield kind, pos + 16, pos + length
        pos += (length + 3) & ~3


def link_message(data, start, end):
    """An RTM_NEWLINK/DELLINK body as {index, flags, name, mac, master}."""
    dummy, dummy2, index, flags, dummy3 = struct.unpack_from("=BxHiII", data, start)
    attrs = _attrs(data, start + 16, end)
    mac = attrs.get(IFLA_ADDRESS, b"")
    return {"index": index, "flags": flags, "name": attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace"),
            "mac": ":".join("%02x" % b for b in mac) if len(mac) == 6 else None,
            "master": struct.unpack("=I", attrs[IFLA_MASTER][:4])[0] if IFLA_MASTER in attrs else 0}


def _dump(kind, body):
    """All messages of one rtnetlink dump, as (type, data, start, end)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    out = []
    try:
        sock.bind((0, 0))
        sock.send(struct.pack("=LHHLL", 16 + len(body), kind, NLM_F_DUMP_REQUEST, 1, 0) + body)
        while True:
            data = sock.recv(65536)
            for msg_kind, start, end in messages(data):
                if msg_kind in (NLMSG_ERROR, NLMSG_DONE):
                    return out
                out.append((msg_kind, data, start, end))
    finally:
        sock.close()


def links():
    """Every link now, as link_message dicts."""
    return [link_message(data, start, end) for kind, data, start, end in _dump(RTM_GETLINK, struct.pack("=BxHiII", 0, 0, 0, 0, 0))
            if kind == RTM_NEWLINK]


def addresses(ifindex):
    """(IPv4 list, IPv6 list) of packed addresses on ifindex (IPv6 without tentative/dadfailed ones)."""
    v4, v6 = [], []
    for kind, data, start, end in _dump(RTM_GETADDR, struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0)):
        if kind != RTM_NEWADDR:
            continue
        family, dummy, flags, dummy2, index = struct.unpack_from("=BBBBI", data, start)
        attrs = _attrs(data, start + 8, end)
        if IFA_FLAGS in attrs:
            flags = struct.unpack("=I", attrs[IFA_FLAGS][:4])[0]
        addr = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if index != ifindex or not addr:
            continue
        if family == socket.AF_INET:
            v4.append(addr[:4])
        elif family == socket.AF_INET6 and not flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
            v6.append(addr[:16])
    return v4, v6


# --------------------------------------------------------------------------- sysfs view
def _read(path, default=None):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return default


def master(dev, sys_net=SYS_NET):
    return link_name(os.path.join(sys_net, dev, "master"))


def upper_of(dev, sys_net=SYS_NET):
    """The top of ``dev``'s master chain (``dev`` itself when it has no master)."""
    seen = set()
    while dev not in seen:
        seen.add(dev)
        up = master(dev, sys_net)
        if not up:
            return dev
        dev = up
    return dev


def driver(dev, sys_net=SYS_NET):
    return device_driver(os.path.join(sys_net, dev))


def uppers_for_mac(mac, groups, sys_net=SYS_NET):
    """Uppers to announce when a lower with ``mac`` went away: masters of the MAC's remaining lowers, named uppers."""
    found = set()
    for dev in os.listdir(sys_net) if os.path.isdir(sys_net) else []:
        if (_read(os.path.join(sys_net, dev, "address")) or "").lower() == mac and master(dev, sys_net):
            found.add(upper_of(dev, sys_net))
    for group in groups:
        if group["mac"] == mac and group.get("upper") and os.path.exists(os.path.join(sys_net, group["upper"])):
            found.add(group["upper"])
    return sorted(found)


def load_groups(path=CONFIG):
    """The validated groups of the announcer's configuration; a bad entry is skipped with a message."""
    try:
        with open(path) as handle:
            groups = json.load(handle).get("groups", [])
    except (OSError, ValueError) as exc:
        sys.stderr.write("guestnet-announce: no configuration (%s)\n" % exc)
        return []
    out = []
    for index, group in enumerate(groups if isinstance(groups, list) else []):
        try:
            out.append(check_announce_group(group, "groups[%d]" % index))
        except ConfigError as exc:
            sys.stderr.write("guestnet-announce: %s: skipped\n" % exc)
    return out


# --------------------------------------------------------------------------- sending
def frames(dev, sys_net=SYS_NET):
    """The frames announcing ``dev``'s addresses, ARP first (built lazily: the first one leaves before the NAs are built)."""
    mac = _read(os.path.join(sys_net, dev, "address"))
    index = _read(os.path.join(sys_net, dev, "ifindex"))
    if not mac or not index:
        return
    v4, v6 = addresses(int(index))
    for addr in v4:
        yield l2_frames.arp_announcement(mac, addr)
    for addr in v6:
        yield l2_frames.unsolicited_na(mac, addr)


def send_once(dev, sys_net=SYS_NET):
    """One round of frames from ``dev`` (re-read each time: addresses may land during the burst); frames sent."""
    sent = 0
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    except OSError:
        return 0
    try:
        sock.bind((dev, 0))
        for frame in frames(dev, sys_net):
            try:
                sock.send(frame)
                sent += 1
            except OSError:
                pass
    except OSError:
        pass
    finally:
        sock.close()
    return sent


def send_burst(dev, schedule=SCHEDULE, sleep=time.sleep):
    """A whole burst from ``dev``, blocking (failover_link after an apply); frames sent."""
    start = time.monotonic()
    sent = 0
    for offset in schedule:
        delay = start + offset - time.monotonic()
        if delay > 0:
            sleep(delay)
        sent += send_once(dev)
    return sent


# --------------------------------------------------------------------------- the watcher
class Watcher(object):
    """Event handling over link messages; the clock, the sender and the child spawner are injectable for tests."""

    def __init__(self, groups, sys_net=SYS_NET, send=send_once, spawn=None, log=None, set_primary=None):
        self.groups = groups
        self.set_primary = set_primary or self._set_primary
        self.by_mac = dict((g["mac"], g) for g in groups)
        self.sys_net = sys_net
        self.send = send
        self.spawn = spawn or self._spawn
        self.log = log or (lambda text: sys.stderr.write(text + "\n"))
        self.known = set()
        self.lower_up = {}  # ifindex -> IFF_LOWER_UP of an enslaved lower, as last seen
        self.pending = {}  # ifindex -> deadline: a new lower to announce once enslaved with carrier
        self.due = []  # heap of (time, sequence, upper)
        self.last = {}
        self.sequence = 0

    def start(self, current, now):
        """Learn the links present at start; lowers not enslaved yet (the VF whose add started us) are handled as new."""
        for link in current:
            self.known.add(link["index"])
            if link["master"]:
                self.lower_up[link["index"]] = bool(link["flags"] & IFF_LOWER_UP)
            if link["mac"] in self.by_mac and not link["master"] and self._joinable(link, driver(link["name"], self.sys_net)):
                self._new_lower(link, now)

    def _joinable(self, link, drv):
        """A lower of its group: a physical device (``drv``, its driver, None when unreadable or virtual) with the MAC."""
        return port_role(self.by_mac[link["mac"]]["pv_driver"], drv) is not None

    def _new_lower(self, link, now):
        group = self.by_mac[link["mac"]]
        self.pending[link["index"]] = now + CARRIER_TIMEOUT
        if group["model"] in ("bond", "team") and group["rejoin"] and not link["master"]:
            self.spawn(link["index"])

    def schedule(self, upper, now):
        if now - self.last.get(upper, -1e9) < MIN_INTERVAL:
            return False
        self.last[upper] = now
        for offset in SCHEDULE:
            self.sequence += 1
            heapq.heappush(self.due, (now + offset, self.sequence, upper))
        return True

    def on_link(self, kind, link, now):
        group = self.by_mac.get(link["mac"])
        if group is None:
            return
        index = link["index"]
        was_up = self.lower_up.pop(index, None)
        if link["master"] and kind == RTM_NEWLINK:
            self.lower_up[index] = bool(link["flags"] & IFF_LOWER_UP)
        # a lower goes away, or an enslaved lower loses its link (the first sign of an unplug, before the
        # RTM_DELLINK, and a failover of its own): the upper's traffic moves to the other lower, announce it now
        if kind == RTM_DELLINK or (was_up and not link["flags"] & IFF_LOWER_UP):
            for upper in uppers_for_mac(link["mac"], self.groups, self.sys_net):
                if upper != link["name"]:
                    self.schedule(upper, now)
        if kind == RTM_DELLINK:
            self.known.discard(index)
            self.pending.pop(index, None)
            return
        drv = driver(link["name"], self.sys_net)
        # a new lower is judged once its driver can be read: udev may rename it (eth0 -> bond0vf) between the
        # kernel's message and this lookup, and the next message, under the new name, tries again
        if index not in self.known and drv is not None:
            self.known.add(index)
            if self._joinable(link, drv):
                self._new_lower(link, now)
        if group["model"] == "bond" and not group["rejoin"] and link["master"] and port_role(group["pv_driver"], drv) == "vf":
            # NetworkManager enslaved the VF; the bond's primary names it as it was called when the profile came
            # up (the kernel name until the first boot with the .link names): name the VF it has now (a no-op
            # when it is already the primary)
            self.set_primary(master(link["name"], self.sys_net), link["name"])
        if index in self.pending and link["master"] and link["flags"] & IFF_LOWER_UP:
            del self.pending[index]
            self.schedule(upper_of(link["name"], self.sys_net), now)

    def run_due(self, now):
        """Send what is due; returns the seconds until the next due burst round (None when nothing waits)."""
        while self.due and self.due[0][0] <= now:
            dummy, dummy2, upper = heapq.heappop(self.due)
            self.send(upper)
        for index, deadline in list(self.pending.items()):
            if deadline <= now:
                del self.pending[index]
        return max(0.0, self.due[0][0] - now) if self.due else None

    def _set_primary(self, bond, port):
        path = os.path.join(self.sys_net, bond or "", "bonding", "primary")
        try:
            if (_read(path) or "") != port:
                with open(path, "w") as handle:
                    handle.write(port)
        except OSError as exc:
            self.log("guestnet-announce: cannot make %s the primary of %s: %s" % (port, bond, exc))

    def _spawn(self, index):
        try:
            subprocess.Popen([sys.executable, "-m", __spec__.name if __spec__ else __name__, "join", str(index)],
                             stdin=subprocess.DEVNULL)
        except OSError as exc:
            self.log("guestnet-announce: cannot start the port join for ifindex %d: %s" % (index, exc))


def watch(groups, monitor=None, clock=time.monotonic):
    """The resident loop: one rtnetlink socket subscribed to link messages, timers for the burst rounds."""
    sock = monitor or socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((0, RTMGRP_LINK))
    watcher = Watcher(groups)
    watcher.start(links(), clock())
    timeout = None
    while True:
        ready, dummy, dummy2 = select.select([sock], [], [], timeout)
        if ready:
            data = sock.recv(1 << 16)
            now = clock()
            for kind, start, end in messages(data):
                if kind in (RTM_NEWLINK, RTM_DELLINK):
                    watcher.on_link(kind, link_message(data, start, end), now)
        timeout = watcher.run_due(clock())
        if watcher.pending and (timeout is None or timeout > 1.0):
            timeout = 1.0  # expire pending lowers


# --------------------------------------------------------------------------- the port join (child process)
def _name_of(index, sys_net=SYS_NET):
    for dev in os.listdir(sys_net) if os.path.isdir(sys_net) else []:
        if _read(os.path.join(sys_net, dev, "ifindex")) == str(index):
            return dev
    return None


def join(index, groups, udev_data=UDEV_DATA, sys_net=SYS_NET):
    """Put the lower with ``index`` back into its bond/team with the runtime path's steps; True when it joined."""
    # udev renames the new lower (eth0 -> enp2s0) before it writes its database entry; a port that is up cannot
    # be renamed, so wait for the entry
    deadline = time.monotonic() + UDEV_TIMEOUT
    while not os.path.exists(os.path.join(udev_data, "n%d" % index)) and time.monotonic() < deadline:
        time.sleep(0.02)
    dev = _name_of(index, sys_net)
    if dev is None or master(dev, sys_net):
        return False
    mac = (_read(os.path.join(sys_net, dev, "address")) or "").lower()
    group = dict((g["mac"], g) for g in groups).get(mac)
    drv = driver(dev, sys_net)
    if not group or group["model"] not in ("bond", "team") or not os.path.exists(os.path.join(sys_net, group["upper"])):
        return False
    role = port_role(group["pv_driver"], drv)
    if role is None:
        return False
    # pyroute2 and the executor only here, in the short-lived child
    from ansible_collections.guestnet.failover.plugins.module_utils import link_execute, link_plan
    from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import open_iproute

    steps = link_plan.port_rejoin_steps(group["model"], group["upper"], dev, role, drv)
    with open_iproute() as ipr:
        link_execute.Applier(ipr).run(steps)
    return True


def main(argv):
    groups = load_groups()
    if len(argv) == 3 and argv[1] == "join" and argv[2].isdigit():
        return 0 if join(int(argv[2]), groups) else 1
    if len(argv) != 1:
        sys.stderr.write("usage: python3 -m %s [join IFINDEX]\n" % __name__)
        return 2
    watch(groups)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
