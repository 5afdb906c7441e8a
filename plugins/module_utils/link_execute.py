# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execute stage (runtime): run planned steps over netlink (``Applier``), control teamd, probe, roll back.

``Applier`` executes ``link_plan``'s steps with the synchronous pyroute2 ``IPRoute`` API common to 0.7.x and
0.9.x and logs each one done; ``rollback()`` restores a ``link_state.read_state()`` snapshot when a step fails
or the probe does not answer.
"""
from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import shutil
import socket
import subprocess
import time

from ansible_collections.guestnet.failover.plugins.module_utils import l2_frames, netdev_read
from ansible_collections.guestnet.failover.plugins.module_utils.link_state import (
    FOREVER, TEAMD_RUN_DIR, LinkApplyError, addr_cidr, global_addrs, teamd_paths, teamd_unit_available,
)
from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import read_text
from ansible_collections.guestnet.failover.plugins.module_utils.render_udev import ETHTOOL


def _numbers(names):
    return dict((name, number) for number, name in enumerate(names))


# option name to the number netlink takes (the read adapter decodes the other way)
BOND_MODES = _numbers(netdev_read.BOND_MODES)
FAIL_OVER_MAC = _numbers(netdev_read.FAIL_OVER_MAC)
PRIMARY_RESELECT = _numbers(netdev_read.PRIMARY_RESELECT)
IFF_UP = 0x1
MAC_REFUSED = (errno.EPERM, errno.EADDRNOTAVAIL, errno.EOPNOTSUPP, errno.EACCES)


@contextlib.contextmanager
def _tolerating(*codes):
    """Swallow a netlink error whose errno is one of ``codes`` (already there / already gone)."""
    try:
        yield
    except Exception as exc:  # pylint: disable=broad-except
        if getattr(exc, "code", None) not in codes:
            raise


class Applier(object):
    """Execute planned steps with a synchronous pyroute2 ``IPRoute``."""

    def __init__(self, ipr, carrier_timeout=10.0, log=None, proc="/proc/sys/net/ipv6/conf"):
        self.ipr = ipr
        self.carrier_timeout = carrier_timeout
        self.proc = proc
        self.log = log if log is not None else []
        self.current = None

    def index(self, name):
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            raise LinkApplyError("device %s not found" % name)
        return found[0]

    def carrier(self, name):
        """Up with carrier (True/False), None when there is no such device."""
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            return None
        msg = self.ipr.get_links(found[0])[0]
        return bool(msg.get_attr("IFLA_CARRIER", 0) and msg["flags"] & IFF_UP)

    def run(self, steps):
        """Execute ``steps`` in order; each one is logged once done (``current`` is the one running)."""
        for step in steps:
            self.current = step
            getattr(self, "op_" + step["op"])(step)
            self.log.append(step)
        self.current = None

    # one method per step kind -------------------------------------------------
    def op_bond_add(self, step):
        opts = step["options"]
        kwargs = {"ifname": step["dev"], "kind": "bond",
                  "bond_mode": BOND_MODES[opts["mode"]], "bond_miimon": opts["miimon"],
                  "bond_updelay": opts["updelay"], "bond_downdelay": opts["downdelay"],
                  "bond_fail_over_mac": FAIL_OVER_MAC[opts["fail_over_mac"]],
                  "bond_primary_reselect": PRIMARY_RESELECT[opts["primary_reselect"]],
                  "bond_num_peer_notif": opts["num_peer_notif"]}
        if step.get("mac"):
            kwargs["address"] = step["mac"]
        if step.get("mtu"):
            kwargs["mtu"] = step["mtu"]
        self.ipr.link("add", **kwargs)
        # created down; make sure of it whatever the kernel's default is
        self.ipr.link("set", index=self.index(step["dev"]), state="down")

    def op_bond_set(self, step):
        kwargs = {"index": self.index(step["dev"]), "kind": "bond"}
        for key, value in step["options"].items():
            if key == "primary":
                kwargs["bond_primary"] = self.index(value)
            elif key == "fail_over_mac":
                kwargs["bond_fail_over_mac"] = FAIL_OVER_MAC[value]
            elif key == "primary_reselect":
                kwargs["bond_primary_reselect"] = PRIMARY_RESELECT[value]
            else:
                kwargs["bond_" + key] = value
        try:
            self.ipr.link("set", **kwargs)
        except Exception:  # pylint: disable=broad-except
            # older pyroute2/kernels: the bonding sysfs takes the same options by name
            for key, value in step["options"].items():
                name = "num_grat_arp" if key == "num_peer_notif" else key
                with open("/sys/class/net/%s/bonding/%s" % (step["dev"], name), "w") as handle:
                    handle.write(str(value))

    def op_link_del(self, step):
        self.ipr.link("del", index=self.index(step["dev"]))

    def op_link_set(self, step):
        kwargs = {"index": self.index(step["dev"])}
        if "state" in step:
            kwargs["state"] = step["state"]
        if "mtu" in step:
            kwargs["mtu"] = step["mtu"]
        if "address" in step:
            kwargs["address"] = step["address"]
        if step.get("nomaster"):
            kwargs["master"] = 0
        if step.get("master"):
            kwargs["master"] = self.index(step["master"])
        self.ipr.link("set", **kwargs)

    def op_addr_flush(self, step):
        idx = self.index(step["dev"])
        for msg in self.ipr.get_addr(index=idx):
            addr = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            with _tolerating(errno.EADDRNOTAVAIL, errno.ENOENT):
                self.ipr.addr("del", index=idx, address=addr, prefixlen=msg["prefixlen"])

    def op_addr_add(self, step):
        addr = step["addr"]
        kwargs = {"index": self.index(step["dev"]), "address": addr["address"], "prefixlen": addr["prefixlen"]}
        if addr["family"] == "inet":
            net = ipaddress.ip_interface(addr_cidr(addr)).network
            if net.prefixlen < 31:
                kwargs["broadcast"] = str(net.broadcast_address)
        if addr.get("valid_lft") not in (None, FOREVER):
            kwargs["IFA_CACHEINFO"] = {"ifa_valid": addr["valid_lft"], "ifa_preferred": addr["preferred_lft"]}
        with _tolerating(errno.EEXIST):
            self.ipr.addr("add", **kwargs)

    def op_addr_del(self, step):
        iface = ipaddress.ip_interface(step["cidr"])
        self.ipr.addr("del", index=self.index(step["dev"]), address=str(iface.ip), prefixlen=iface.network.prefixlen)

    def op_route_add(self, step):
        route = step["route"]
        kwargs = {"oif": self.index(route["dev"]),
                  "family": socket.AF_INET if route["family"] == "inet" else socket.AF_INET6}
        if route["dst"] != "default":
            kwargs["dst"] = route["dst"]
        if route.get("gateway"):
            kwargs["gateway"] = route["gateway"]
        if route.get("priority"):
            kwargs["priority"] = route["priority"]
        if route.get("proto"):
            kwargs["proto"] = route["proto"]
        with _tolerating(errno.EEXIST):
            self.ipr.route("add", **kwargs)

    def op_sysctl_ipv6(self, step):
        path = os.path.join(self.proc, step["dev"], "disable_ipv6")
        if os.path.exists(path):
            with open(path, "w") as handle:
                handle.write("1" if step["disable"] else "0")

    def op_wait_carrier(self, step):
        l2_frames.wait_carrier(step["dev"], self.carrier_timeout, has_carrier=self.carrier)

    def op_teamd_start(self, step):
        teamd_start(step["dev"], step["config"])

    def op_teamd_stop(self, step):
        teamd_stop(step["dev"])

    def op_teamd_active(self, step):
        l2_frames.wait_carrier(step["port"], self.carrier_timeout, has_carrier=self.carrier)
        subprocess.run(["teamdctl", step["dev"], "state", "item", "set", "runner.active_port", step["port"]],
                       check=False, capture_output=True)

    def op_port_speed(self, step):
        # see upper_config.TEAM_PV_SPEED; a driver that refuses only loses the VF preference
        subprocess.run([shutil.which("ethtool") or ETHTOOL, "-s", step["dev"], "speed", str(step["speed"]), "duplex", "full"],
                       check=False, capture_output=True)

    def op_mac_test(self, step):
        """Can ``dev`` take ``address``? Sets it (down, then back up) and records ``refused``/``changed`` in the step.

        The device keeps the MAC when the driver takes it; rollback puts the old one back (it compares MACs too).
        """
        idx = self.index(step["dev"])
        msg = self.ipr.get_links(idx)[0]
        step["refused"] = step["changed"] = False
        if (msg.get_attr("IFLA_ADDRESS") or "").lower() == step["address"].lower():
            return
        was_up = bool(msg["flags"] & IFF_UP)
        try:
            if was_up:
                self.ipr.link("set", index=idx, state="down")
            self.ipr.link("set", index=idx, address=step["address"])
            step["changed"] = True
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, "code", None) not in MAC_REFUSED:
                raise
            step["refused"] = True
        finally:
            if was_up:
                self.ipr.link("set", index=idx, state="up")

    def op_teamd_port_add(self, step):
        subprocess.run(["teamdctl", step["dev"], "port", "add", step["port"]], check=True, capture_output=True)


def teamd_start(upper, config):
    """Start teamd for ``upper``: ``teamd@.service`` when the distro ships it, else ``teamd -d``."""
    conf, pidfile = teamd_paths(upper)
    os.makedirs(TEAMD_RUN_DIR, exist_ok=True)
    with open(conf, "w") as handle:
        handle.write(config)
    if teamd_unit_available():
        subprocess.run(["systemctl", "start", "teamd@%s.service" % upper], check=True, capture_output=True)
    else:
        teamd = shutil.which("teamd") or "/usr/bin/teamd"
        subprocess.run([teamd, "-d", "-r", "-f", conf, "-p", pidfile], check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join("/sys/class/net", upper)):
        if time.monotonic() > deadline:
            raise LinkApplyError("teamd did not create %s" % upper)
        time.sleep(0.05)


def teamd_stop(upper):
    conf, pidfile = teamd_paths(upper)
    if teamd_unit_available():
        subprocess.run(["systemctl", "stop", "teamd@%s.service" % upper], capture_output=True, check=False)
    pid = read_text(pidfile)
    if pid and pid.isdigit():
        subprocess.run([shutil.which("teamd") or "/usr/bin/teamd", "-k", "-t", upper, "-p", pidfile], capture_output=True, check=False)
    deadline = time.monotonic() + 5
    while os.path.exists(os.path.join("/sys/class/net", upper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for path in (conf, pidfile):
        if os.path.exists(path):
            os.unlink(path)
    if os.path.exists(os.path.join("/sys/class/net", upper)):
        subprocess.run(["ip", "link", "del", upper], capture_output=True, check=False)


# --------------------------------------------------------------------------- probe + rollback
def arp_probe(device, target, timeout=1.0, sender_ip=None):
    """ARP who-has ``target`` out of ``device``; True when the target answers within ``timeout``."""
    mac = read_text("/sys/class/net/%s/address" % device)
    if not mac:
        return False
    tgt_ip = socket.inet_aton(target)
    frame = l2_frames.arp_frame(mac, socket.inet_aton(sender_ip) if sender_ip else b"\0\0\0\0", tgt_ip)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(l2_frames.ETH_P_ARP))
    try:
        sock.bind((device, l2_frames.ETH_P_ARP))
        sock.settimeout(0.1)
        deadline = time.monotonic() + timeout
        sock.send(frame)
        while time.monotonic() < deadline:
            try:
                data = sock.recv(128)
            except socket.timeout:
                continue
            if l2_frames.is_arp_reply_from(data, tgt_ip):
                return True
        return False
    finally:
        sock.close()


def icmp_probe(device, target, timeout=1.0):
    ping = shutil.which("ping")
    if not ping:
        raise LinkApplyError("probe_method=icmp needs the ping command")
    cmd = [ping, "-c", "1", "-W", str(max(1, int(timeout))), "-I", device, target]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def probe(ipr, device, target, method="arp", deadline=30.0, sleep=time.sleep):
    """Poll ``target`` through ``device`` until it answers or ``deadline`` seconds pass."""
    end = time.monotonic() + deadline
    sender = None
    while True:
        if method == "arp":
            idx = ipr.link_lookup(ifname=device)
            if idx:
                for msg in ipr.get_addr(index=idx[0], family=socket.AF_INET):
                    sender = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
                    break
            if arp_probe(device, target, 0.5, sender):
                return True
        elif icmp_probe(device, target, 1.0):
            return True
        if time.monotonic() >= end:
            return False
        sleep(0.2)


def rollback(ipr, before, after, created, proc="/proc/sys/net/ipv6/conf"):
    """Restore ``before`` (a ``read_state`` snapshot) on the links the apply touched.

    ``created`` names uppers that did not exist before (removed; teamd stopped for teams).
    Lowers get back their master, MAC, MTU, up state, IPv6 sysctl, addresses; missing routes are
    re-added. Errors are collected, not raised: the goal is to get as much back as possible.
    """
    errors = []
    app = Applier(ipr, proc=proc)

    def attempt(step):
        try:
            app.run([step])
        except Exception as exc:  # pylint: disable=broad-except
            errors.append("%s: %s" % (step, exc))

    for name, kind in created:
        if kind == "team":
            try:
                teamd_stop(name)
            except Exception as exc:  # pylint: disable=broad-except
                errors.append("teamd_stop %s: %s" % (name, exc))
        if ipr.link_lookup(ifname=name):
            attempt({"op": "link_del", "dev": name})
    for name, old in sorted(before["links"].items()):
        if name in [c[0] for c in created] or not ipr.link_lookup(ifname=name):
            continue
        new = after["links"].get(name)
        if new is None:
            continue
        if new.get("master") != old.get("master"):
            if old.get("master") and ipr.link_lookup(ifname=old["master"]):
                attempt({"op": "link_set", "dev": name, "state": "down"})
                attempt({"op": "link_set", "dev": name, "master": old["master"]})
            else:
                attempt({"op": "link_set", "dev": name, "nomaster": True})
        if old.get("kind") not in ("bond", "team") and old.get("mac") and new.get("mac") != old.get("mac"):
            # a lower's MAC (the VF-MAC test, a bond's fail_over_mac=none): the driver takes it only while down
            attempt({"op": "link_set", "dev": name, "state": "down"})
            attempt({"op": "link_set", "dev": name, "address": old["mac"]})
        if new.get("mtu") != old.get("mtu"):
            attempt({"op": "link_set", "dev": name, "mtu": old["mtu"]})
        if old.get("ipv6_disabled") is not None and new.get("ipv6_disabled") != old.get("ipv6_disabled"):
            attempt({"op": "sysctl_ipv6", "dev": name, "disable": old["ipv6_disabled"]})
        attempt({"op": "link_set", "dev": name, "state": "up" if old["up"] else "down"})
        have = set(addr_cidr(a) for a in global_addrs(new.get("addresses", [])))
        keep = set(addr_cidr(a) for a in global_addrs(old.get("addresses", [])))
        for addr in global_addrs(old.get("addresses", [])):
            if addr_cidr(addr) not in have:
                attempt({"op": "addr_add", "dev": name, "addr": addr})
        for cidr in sorted(have - keep):
            attempt({"op": "addr_del", "dev": name, "cidr": cidr})
    for route in before.get("routes", []):
        if route["proto"] != 2 and ipr.link_lookup(ifname=route["dev"]):
            attempt({"op": "route_add", "route": route})
    return errors
