# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read stage: one netlink dump (pyroute2 IPRoute) + sysfs + ethtool into plain dicts.

The output is the "Raw capture" of docs/data-model.md. Only the synchronous ``IPRoute``
API that pyroute2 0.7.2 (Debian 12) and 0.9.x share is used: ``get_links``, ``get_addr``,
``get_routes`` and ``get_attr`` on the messages. Nothing here writes to the system.
The message decoders, ethtool queries and sysfs readers are also what the runtime path
reads with (``link_state.read_state``), and the pyroute2 import below is the
collection's only one. This file stays stand-alone (no collection or Ansible imports):
tests/tools/capture_topology.py pipes it to a guest's ``python3``.
"""
from __future__ import annotations

import array
import fcntl
import json
import os
import re
import socket
import struct
import traceback

_PYROUTE2 = {}  # imported on first use: 1.2-1.4 s in a TCG guest, not paid by failover_config and the announcer


def pyroute2_import_error():
    """None when pyroute2 imports, else its ImportError."""
    if not _PYROUTE2:
        try:
            from pyroute2 import IPRoute
            _PYROUTE2.update(IPRoute=IPRoute, error=None)
        except ImportError as exc:  # pragma: no cover - depends on the target
            _PYROUTE2.update(IPRoute=None, error=exc)
    return _PYROUTE2["error"]


def open_iproute(**kwargs):
    """A new synchronous pyroute2 ``IPRoute`` (a context manager); CaptureError without pyroute2."""
    if pyroute2_import_error() is not None:
        raise CaptureError("pyroute2 is not importable: %s" % _PYROUTE2["error"])
    return _PYROUTE2["IPRoute"](**kwargs)


NETNS_DIR = "/run/netns"

# include/uapi/linux/if.h
IFF_NAMES = (
    (0x1, "UP"), (0x2, "BROADCAST"), (0x4, "DEBUG"), (0x8, "LOOPBACK"), (0x10, "POINTOPOINT"),
    (0x20, "NOTRAILERS"), (0x40, "RUNNING"), (0x80, "NOARP"), (0x100, "PROMISC"), (0x200, "ALLMULTI"),
    (0x400, "MASTER"), (0x800, "SLAVE"), (0x1000, "MULTICAST"), (0x2000, "PORTSEL"), (0x4000, "AUTOMEDIA"),
    (0x8000, "DYNAMIC"), (0x10000, "LOWER_UP"), (0x20000, "DORMANT"), (0x40000, "ECHO"),
)
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
# include/uapi/linux/if_addr.h
IFA_F_NAMES = (
    (0x01, "secondary"), (0x02, "nodad"), (0x04, "optimistic"), (0x08, "dadfailed"), (0x10, "homeaddress"),
    (0x20, "deprecated"), (0x40, "tentative"), (0x80, "permanent"), (0x100, "managetempaddr"),
    (0x200, "noprefixroute"), (0x400, "mcautojoin"), (0x800, "stable-privacy"),
)
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
# include/uapi/linux/if_link.h: IFLA_BOND_* values by number
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")
FAIL_OVER_MAC = ("none", "active", "follow")
PRIMARY_RESELECT = ("always", "better", "failure")
CAPTURE_BOND_KEYS = ("mode", "active_slave", "primary", "fail_over_mac", "miimon")
RT_TABLE_MAIN = 254
STANDBY_BIT = 62  # VIRTIO_NET_F_STANDBY

# include/uapi/linux/sockios.h, ethtool.h
SIOCETHTOOL = 0x8946
ETHTOOL_GDRVINFO = 0x00000003
ETHTOOL_GPERMADDR = 0x00000020
# struct ethtool_drvinfo: cmd, driver[32], version[32], fw_version[32], bus_info[32],
# erom_version[32], reserved2[12], n_priv_flags, n_stats, testinfo_len, eedump_len, regdump_len
DRVINFO_FMT = "=I32s32s32s32s32s12s5I"
PCI_ADDR = re.compile(r"^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")

DHCP_CLIENTS = ("dhclient", "dhcpcd", "udhcpc", "dhcp6c", "wide-dhcpv6-client", "dhcpcd-bin")
VF_RULE_DRIVERS = re.compile(r"mlx4_core|mlx5_core|\bmana\b")


class CaptureError(Exception):
    """The capture could not be taken (unknown netns, netlink failure...)."""


# --------------------------------------------------------------------------- helpers


def read_text(path):
    """Stripped content of a sysfs/procfs/run file, None when unreadable."""
    try:
        with open(path, "r") as handle:
            return handle.read().strip()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _mac(value):
    if not value or not isinstance(value, str):
        return None
    value = value.lower()
    if value.strip("0:") == "":
        return None
    return value


def _flag_names(value, table):
    return [name for bit, name in table if value & bit]


def _ethtool(sock, name, buf):
    """One SIOCETHTOOL ioctl on ``name``; the kernel fills ``buf`` in. False when unsupported."""
    addr, _length = buf.buffer_info()
    # struct ifreq: char ifr_name[16]; union { void *ifr_data; ... } padded to 40 bytes on 64-bit.
    ifreq = struct.pack("16sP", name.encode()[:15], addr)
    ifreq += b"\0" * (40 - len(ifreq))
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    except (IOError, OSError):
        return False
    return True


def ethtool_drvinfo(sock, name):
    """Return (driver, bus_info) via SIOCETHTOOL/ETHTOOL_GDRVINFO, (None, None) when unsupported."""
    size = struct.calcsize(DRVINFO_FMT)
    buf = array.array("B", struct.pack("=I", ETHTOOL_GDRVINFO) + b"\0" * (size - 4))
    if not _ethtool(sock, name, buf):
        return None, None
    fields = struct.unpack(DRVINFO_FMT, buf.tobytes())
    driver = fields[1].split(b"\0", 1)[0].decode("ascii", "replace") or None
    bus_info = fields[4].split(b"\0", 1)[0].decode("ascii", "replace") or None
    return driver, bus_info


def ethtool_perm_addr(sock, name):
    """Permanent MAC via ETHTOOL_GPERMADDR (kernels older than 5.6 lack IFLA_PERM_ADDRESS)."""
    buf = array.array("B", struct.pack("=II", ETHTOOL_GPERMADDR, 32) + b"\0" * 32)
    if not _ethtool(sock, name, buf):
        return None
    raw = buf.tobytes()
    size = struct.unpack("=I", raw[4:8])[0]
    return _mac(":".join("%02x" % b for b in bytearray(raw[8:8 + min(size, 32)])))


def _kernel_has_perm_address():
    match = re.match(r"(\d+)\.(\d+)", os.uname()[2])
    return bool(match) and (int(match.group(1)), int(match.group(2))) >= (5, 6)


# --------------------------------------------------------------------------- netlink


def _linkinfo(msg):
    info = msg.get_attr("IFLA_LINKINFO")
    if info is None:
        return None, None, None
    kind = info.get_attr("IFLA_INFO_KIND")
    slave_kind = info.get_attr("IFLA_INFO_SLAVE_KIND")
    data = info.get_attr("IFLA_INFO_DATA") if kind == "bond" else None
    return kind, slave_kind, data


def _named(table, value):
    return table[value] if isinstance(value, int) and value < len(table) else value


def bond_options(data, names):
    """A bond's IFLA_INFO_DATA decoded (every option the collection reads or sets); None if undecoded."""
    if data is None or not hasattr(data, "get_attr"):
        return None
    return {
        "mode": _named(BOND_MODES, data.get_attr("IFLA_BOND_MODE")),
        "active_slave": names.get(data.get_attr("IFLA_BOND_ACTIVE_SLAVE")),
        "primary": names.get(data.get_attr("IFLA_BOND_PRIMARY")),
        "fail_over_mac": _named(FAIL_OVER_MAC, data.get_attr("IFLA_BOND_FAIL_OVER_MAC")),
        "miimon": data.get_attr("IFLA_BOND_MIIMON"),
        "updelay": data.get_attr("IFLA_BOND_UPDELAY"),
        "downdelay": data.get_attr("IFLA_BOND_DOWNDELAY"),
        "primary_reselect": _named(PRIMARY_RESELECT, data.get_attr("IFLA_BOND_PRIMARY_RESELECT")),
        "num_peer_notif": data.get_attr("IFLA_BOND_NUM_PEER_NOTIF"),
    }


def bond_from_msg(msg, names):
    """Every decoded bond option of one RTM_NEWLINK message; None when it is not a bond."""
    kind, _slave_kind, data = _linkinfo(msg)
    return bond_options(data, names) if kind == "bond" else None


def link_names(msgs):
    """ifindex to name over one link dump."""
    return dict((m["index"], m.get_attr("IFLA_IFNAME")) for m in msgs)


def _altnames(msg):
    props = msg.get_attr("IFLA_PROP_LIST")
    if props is None or not hasattr(props, "get_attrs"):
        return []
    return list(props.get_attrs("IFLA_ALT_IFNAME"))


def link_from_msg(msg, names):
    """One RTM_NEWLINK message to the netlink part of a link dict (no sysfs, no ethtool)."""
    flags = msg["flags"]
    kind, slave_kind, data = _linkinfo(msg)
    operstate = msg.get_attr("IFLA_OPERSTATE")
    carrier = msg.get_attr("IFLA_CARRIER")
    link = {
        "name": msg.get_attr("IFLA_IFNAME"),
        "ifindex": msg["index"],
        "altnames": _altnames(msg),
        "mac": _mac(msg.get_attr("IFLA_ADDRESS")),
        "perm_mac": _mac(msg.get_attr("IFLA_PERM_ADDRESS")),
        "kind": kind,
        "slave_kind": slave_kind,
        "master": names.get(msg.get_attr("IFLA_MASTER")),
        "flags": _flag_names(flags, IFF_NAMES),
        "carrier": bool(carrier) if carrier is not None else bool(flags & 0x10000),
        "operstate": OPERSTATES[operstate] if isinstance(operstate, int) and operstate < len(OPERSTATES) else operstate,
        "mtu": msg.get_attr("IFLA_MTU"),
        "phys_port_name": msg.get_attr("IFLA_PHYS_PORT_NAME"),
    }
    if kind == "bond":
        bond = bond_options(data, names)
        link["bond"] = dict((key, bond[key]) for key in CAPTURE_BOND_KEYS) if bond else None
    return link


def address_from_msg(msg):
    family = "inet6" if msg["family"] == socket.AF_INET6 else "inet"
    local = msg.get_attr("IFA_LOCAL") if family == "inet" else None
    flags = msg.get_attr("IFA_FLAGS")
    if flags is None:
        flags = msg["flags"]
    return msg["index"], {
        "family": family,
        "address": local or msg.get_attr("IFA_ADDRESS"),
        "prefixlen": msg["prefixlen"],
        "scope": SCOPES.get(msg["scope"], str(msg["scope"])),
        "flags": _flag_names(flags, IFA_F_NAMES),
    }


def in_main_table(msg):
    return msg.get_attr("RTA_TABLE", msg["table"]) == RT_TABLE_MAIN


def main_routes(ipr):
    """Route messages of the main table: one IPv4 and one IPv6 dump."""
    for family in (socket.AF_INET, socket.AF_INET6):
        for msg in ipr.get_routes(family=family):
            if in_main_table(msg):
                yield msg


def route_oifs(msg):
    """Output interfaces of one route message, ignoring IPv6 link-local and multicast routes."""
    if not in_main_table(msg):
        return []
    if msg["family"] == socket.AF_INET6:
        dst = msg.get_attr("RTA_DST") or ""
        if dst.startswith("fe80:") or dst.startswith("ff"):
            return []
    oifs = []
    if msg.get_attr("RTA_OIF") is not None:
        oifs.append(msg.get_attr("RTA_OIF"))
    for hop in msg.get_attr("RTA_MULTIPATH") or []:
        if isinstance(hop, dict) and hop.get("oif"):
            oifs.append(hop["oif"])
    return oifs


def dump_netlink(ipr):
    """One link, address and route dump: list of link dicts with addresses and has_route."""
    # plain get_links(): pyroute2 0.7.2 treats extra keywords such as ext_mask as a match filter
    msgs = ipr.get_links()
    names = link_names(msgs)
    links = [link_from_msg(m, names) for m in msgs]
    by_index = dict((link["ifindex"], link) for link in links)
    for link in links:
        link["addresses"] = []
        link["has_route"] = False
    for msg in ipr.get_addr():
        index, addr = address_from_msg(msg)
        if index in by_index:
            by_index[index]["addresses"].append(addr)
    for msg in main_routes(ipr):
        for oif in route_oifs(msg):
            if oif in by_index:
                by_index[oif]["has_route"] = True
    return links


# --------------------------------------------------------------------------- sysfs


def link_name(path):
    """Base name of a sysfs symlink's target, or None when it is not there. One read, no check before it: a device
    can go away (unplug) or be renamed (udev) between a check and the read (reliability run 6, defect 6)."""
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def device_driver(netdev_dir):
    """Driver of the netdev's parent device (basename of class/net/X/device/driver), or None."""
    return link_name(os.path.join(netdev_dir, "device", "driver"))


def sysfs_details(name, sysfs_root="/sys"):
    """Parent device, device driver, virtio features and name_assign_type from sysfs."""
    base = os.path.join(sysfs_root, "class", "net", name)
    devlink = os.path.join(base, "device")
    out = {"device_driver": None, "device_path": None, "virtio_features": None, "standby_feature": None,
           "name_assign_type": None, "phys_port_name": None}
    if os.path.islink(devlink) or os.path.isdir(devlink):
        real = os.path.realpath(devlink)
        devices = os.path.join(os.path.realpath(sysfs_root), "devices") + os.sep
        out["device_path"] = real[len(devices):] if real.startswith(devices) else real
        out["device_driver"] = device_driver(base)
        features = read_text(os.path.join(devlink, "features"))
        if features and set(features) <= set("01"):
            out["virtio_features"] = features
            out["standby_feature"] = len(features) > STANDBY_BIT and features[STANDBY_BIT] == "1"
    nat = read_text(os.path.join(base, "name_assign_type"))
    if nat and nat.isdigit():
        out["name_assign_type"] = int(nat)
    out["phys_port_name"] = read_text(os.path.join(base, "phys_port_name")) or None
    return out


def bus_address(device_path, ethtool_bus):
    """PCI address of the nearest PCI ancestor, else ethtool bus-info, else the device's own name."""
    if device_path:
        for part in reversed(device_path.split("/")):
            if PCI_ADDR.match(part):
                return part
    if ethtool_bus:
        return ethtool_bus
    if device_path:
        return os.path.basename(device_path)
    return None


# --------------------------------------------------------------------------- managers, processes, legacy


def processes(proc_root="/proc", netns_inode=None):
    """(pid, argv) of every process, restricted to one network namespace when netns_inode is set."""
    out = []
    try:
        pids = [p for p in os.listdir(proc_root) if p.isdigit()]
    except OSError:
        return out
    for pid in pids:
        try:
            with open(os.path.join(proc_root, pid, "cmdline"), "rb") as handle:
                raw = handle.read()
            if netns_inode is not None and os.stat(os.path.join(proc_root, pid, "ns", "net")).st_ino != netns_inode:
                continue
        except (IOError, OSError):
            continue
        argv = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
        if argv:
            out.append((int(pid), argv))
    return out


def _is_running(procs, name):
    return any(os.path.basename(argv[0]) == name or argv[0].split(":")[0] == name for _pid, argv in procs)


def dhcp_clients(procs, link_names):
    """Map link name to the DHCP client programs whose command line names it."""
    found = {}
    wanted = set(link_names)
    for _pid, argv in procs:
        prog = os.path.basename(argv[0])
        if prog not in DHCP_CLIENTS:
            continue
        for arg in argv[1:]:
            hits = [arg] if arg in wanted else [n for n in wanted if ".%s." % n in os.path.basename(arg)]
            for hit in hits:
                found.setdefault(hit, [])
                if prog not in found[hit]:
                    found[hit].append(prog)
    return found


def networkd_state(links, run_root="/run"):
    """ADMIN_STATE per link from systemd-networkd's state files; plus names with a networkd DHCP lease."""
    states, leases = {}, []
    for link in links:
        text = read_text(os.path.join(run_root, "systemd", "netif", "links", str(link["ifindex"]))) or ""
        state = None
        for line in text.splitlines():
            if line.startswith("ADMIN_STATE="):
                state = line.split("=", 1)[1]
        states[link["name"]] = state
        if os.path.exists(os.path.join(run_root, "systemd", "netif", "leases", str(link["ifindex"]))):
            leases.append(link["name"])
    return states, leases


def nm_devices(run_command, link_names):
    """Ask nmcli once which devices NetworkManager manages and which profile each connected one runs.

    Returns ``({name: managed}, {name: connection id})``, or ``(None, None)`` when nmcli is unusable. The
    connection ids let a rerun see that NetworkManager already runs the collection's profiles without asking again.
    """
    try:
        rc, out, _err = run_command(["nmcli", "-t", "-f", "DEVICE,STATE,CONNECTION", "device"])
    except (OSError, ValueError):
        return None, None
    if rc != 0:
        return None, None
    wanted = set(link_names)
    managed, connections = {}, {}
    for line in out.splitlines():
        # terse mode escapes ":" and "\" inside fields; a device name has neither, a state has no ":"
        dev, _sep, rest = line.partition(":")
        state, _sep, connection = rest.partition(":")
        if dev not in wanted:
            continue
        managed[dev] = state not in ("unmanaged", "unavailable")
        if state == "connected" and connection:
            connections[dev] = connection.replace("\\:", ":").replace("\\\\", "\\")
    return managed, connections


def legacy_files(etc_root="/"):
    """Stale Azure VF udev rules in /etc/udev/rules.d (files of this collection are skipped)."""
    found = []
    rules_dir = os.path.join(etc_root, "etc", "udev", "rules.d")
    try:
        entries = sorted(os.listdir(rules_dir))
    except OSError:
        return found
    for entry in entries:
        if not entry.endswith(".rules"):
            continue
        path = os.path.join(rules_dir, entry)
        text = read_text(path) or ""
        if "guestnet.failover" in text:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("#") or not VF_RULE_DRIVERS.search(line):
                continue
            if "NAME=" in line or "NM_UNMANAGED" in line or "hv_netvsc" in line or "ID_NET_MANAGED_BY" in line:
                found.append({"path": os.path.join("/etc/udev/rules.d", entry), "kind": "azure-vf-rule", "line": line})
                break
    return found


# --------------------------------------------------------------------------- capture


def _enrich(links, sysfs_root):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    need_perm = not _kernel_has_perm_address()
    try:
        for link in links:
            driver, ethtool_bus = ethtool_drvinfo(sock, link["name"])
            details = sysfs_details(link["name"], sysfs_root)
            link["driver"] = driver
            link["bus_info"] = bus_address(details["device_path"], ethtool_bus)
            sysfs_port = details.pop("phys_port_name")
            link["phys_port_name"] = link["phys_port_name"] or sysfs_port
            link.update(details)
            if need_perm and link["perm_mac"] is None:
                link["perm_mac"] = ethtool_perm_addr(sock, link["name"])
    finally:
        sock.close()
    return links


LINK_KEYS = ("name", "ifindex", "altnames", "mac", "perm_mac", "kind", "slave_kind", "master", "flags", "carrier",
             "operstate", "mtu", "driver", "bus_info", "device_driver", "device_path", "virtio_features",
             "standby_feature", "phys_port_name", "name_assign_type", "addresses", "has_route")


def read_links(sysfs_root="/sys"):
    """Every netdev of the current network namespace as link dicts (no managers)."""
    with open_iproute() as ipr:
        links = dump_netlink(ipr)
    _enrich(links, sysfs_root)
    ordered = []
    for link in sorted(links, key=lambda item: item["ifindex"]):
        item = dict((key, link.get(key)) for key in LINK_KEYS)
        if "bond" in link:
            item["bond"] = link["bond"]
        ordered.append(item)
    return ordered


def capture_here(sysfs_root="/sys", run_command=None, probe_managers=True, etc_root="/", run_root="/run",
                 host_netns=True):
    """Capture the network namespace this process is in."""
    links = read_links(sysfs_root)
    names = [link["name"] for link in links]
    netns_inode = None
    try:
        netns_inode = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        pass
    procs = processes(netns_inode=netns_inode)
    dhcp = dhcp_clients(procs, names)
    managers = {"NetworkManager": None, "networkd": None}
    nm_connections = None
    if probe_managers and host_netns:
        if run_command is not None and _is_running(procs, "NetworkManager"):
            managers["NetworkManager"], nm_connections = nm_devices(run_command, names)
        if _is_running(procs, "systemd-networkd"):
            states, leases = networkd_state(links, run_root)
            managers["networkd"] = states
            for name in leases:
                dhcp.setdefault(name, [])
                if "systemd-networkd" not in dhcp[name]:
                    dhcp[name].append("systemd-networkd")
    return {
        "links": links,
        "managers": managers,
        "nm_connections": nm_connections,
        "dhcp_clients": dhcp,
        "legacy": legacy_files(etc_root) if host_netns else [],
    }


def netns_path(name):
    """Path of a named netns; raises CaptureError when it does not exist."""
    if not name or "/" in name or name in (".", ".."):
        raise CaptureError("invalid netns name %r" % (name,))
    path = os.path.join(NETNS_DIR, name)
    if not os.path.exists(path):
        raise CaptureError("netns %r not found under %s (ip netns list shows the known ones)" % (name, NETNS_DIR))
    return path


def _enter_netns(path):
    """setns() into path and give this process its own /sys for that netns (as `ip netns exec` does)."""
    import ctypes
    import ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    clone_newnet, clone_newns = 0x40000000, 0x00020000
    ms_rec, ms_slave, mnt_detach = 0x4000, 0x80000, 0x2
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, clone_newnet) != 0:
            raise OSError(ctypes.get_errno(), "setns(%s) failed" % path)
    finally:
        os.close(fd)
    if libc.unshare(clone_newns) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    if libc.mount(b"none", b"/", None, ms_rec | ms_slave, None) != 0:
        raise OSError(ctypes.get_errno(), "making / a slave mount failed")
    libc.umount2(b"/sys", mnt_detach)
    if libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None) != 0:
        raise OSError(ctypes.get_errno(), "mounting sysfs for the netns failed")


def capture_netns(name, sysfs_root="/sys"):
    """Capture a named netns in a forked child, so this process never changes namespace."""
    path = netns_path(name)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(rfd)
        try:
            _enter_netns(path)
            result = capture_here(sysfs_root=sysfs_root, probe_managers=False, host_netns=False)
        except Exception:  # pylint: disable=broad-except
            result = {"error": traceback.format_exc()}
        with os.fdopen(wfd, "w") as handle:
            json.dump(result, handle)
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "r") as handle:
        payload = handle.read()
    os.waitpid(pid, 0)
    try:
        result = json.loads(payload)
    except ValueError:
        raise CaptureError("reading netns %r failed: no result from the child process" % name) from None
    if "error" in result:
        raise CaptureError("reading netns %r failed: %s" % (name, result["error"]))
    return result


def capture(netns=None, sysfs_root="/sys", run_command=None, probe_managers=True):
    """The raw capture of docs/data-model.md, of the current netns or of a named one."""
    if netns:
        result = capture_netns(netns, sysfs_root)
    else:
        result = capture_here(sysfs_root=sysfs_root, run_command=run_command, probe_managers=probe_managers)
    result["netns"] = netns or None
    return result
