# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""One validation layer for every value that lands in a generated file, a unit name or a netlink message.

``normalize(groups, backend)`` checks the desired groups (docs/data-model.md "Desired group"),
applies defaults and returns canonical copies. Renderers only ever see normalized groups, so
they can interpolate values without escaping: every string that reaches a file matched one of
the strict patterns below (no whitespace, quotes, ``%``, ``*``, ``/``, ``$``, newlines ...).

Every pattern is applied with ``re.fullmatch`` (``_full``): ``^...$`` with ``re.match`` lets a
trailing newline through, because ``$`` also matches before a final newline. Addresses are
checked against an ASCII pattern before ``ipaddress`` parses them, so an IPv6 scope suffix
(``fe80::1%eth0``, which ``ipaddress`` keeps verbatim, newlines included) never gets through.
Other modules (announce, failover_link, link_apply, netdev_facts, the filters) use the
``check_*`` functions here instead of patterns of their own. docs/hardening.md lists the rules.
"""
from __future__ import annotations

import ipaddress
import math
import re

BACKENDS = ("networkd", "NetworkManager", "netplan", "ifupdown")
MODELS = ("net_failover", "netvsc", "bond", "team")

# The kernel's dev_valid_name() refuses "", ".", "..", "/", ":" and whitespace and
# allows up to IFNAMSIZ - 1 = 15 bytes. We are stricter: names also go into udev rules,
# sysctl paths, file names, ifupdown stanzas (where "." means a VLAN) and shell lines.
IFNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,14}")
# Names the kernel gave (a net_failover master found at runtime, a probe device): '.' is allowed
# (VLANs), the rest as above. Never used for a name we write into a file name or a stanza.
KERNEL_IFNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
RESERVED_NAMES = ("all", "default", "lo", "bonding_masters")
MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
DRIVER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,31}")
# `ip netns` names are file names under /run/netns
NETNS_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
INT_RE = re.compile(r"[0-9]{1,10}")
KEY_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
# ASCII shape of an address before ipaddress parses it: no scope suffix, no whitespace, no lookalike digits
IPV4_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
IPV6_RE = re.compile(r"[0-9A-Fa-f:.]{2,45}")
PREFIX_RE = re.compile(r"[0-9]{1,3}|[0-9]{1,3}(\.[0-9]{1,3}){3}")
# ethtool driver names that are never a VF or a PV of a pair
UPPER_DRIVERS = ("net_failover", "bonding", "team")

DEFAULT_PV = {"net_failover": "virtio_net", "netvsc": "hv_netvsc"}
GROUP_KEYS = ("name", "model", "mac", "pv_driver", "vf_drivers", "ipv4", "ipv6", "dns",
              "bond", "team", "vf_mac_settable", "pv_name", "vf_name", "vf_mac")
# The PCI driver and the netdev (ethtool) driver differ for some VFs; match both.
DRIVER_ALIASES = {"mlx4_core": ("mlx4_en",), "mlx4_en": ("mlx4_core",)}

BOND_KEYS = ("mode", "miimon", "updelay", "downdelay", "arp_interval", "arp_ip_target",
             "arp_validate", "arp_all_targets", "fail_over_mac", "primary_reselect",
             "num_grat_arp", "num_unsol_na")
BOND_MODES_WITH_PRIMARY = ("active-backup", "balance-tlb", "balance-alb")
BOND_CHOICES = {
    "fail_over_mac": ("none", "active", "follow"),
    "primary_reselect": ("always", "better", "failure"),
    "arp_validate": ("none", "active", "backup", "all", "filter", "filter_active", "filter_backup"),
    "arp_all_targets": ("any", "all"),
}
TEAM_KEYS = ("hwaddr_policy", "link_watch", "delay_up", "delay_down", "notify_peers", "mcast_rejoin")
TEAM_HWADDR = ("same_all", "by_active", "only_active")


class ConfigError(ValueError):
    """A desired group or option cannot be rendered; the message names the offending field."""


def _full(pattern, value):
    """True when ``value`` is a string that ``pattern`` matches completely (no trailing newline)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _field(index, key, group=None):
    label = "groups[%d]" % index
    if group is not None and _full(IFNAME_RE, group.get("name")):
        label += " (%s)" % group["name"]
    return "%s.%s" % (label, key) if key else label


def check_ifname(value, field, kernel=False):
    """Return ``value`` if it is a safe interface name, else raise ConfigError naming ``field``.

    ``kernel=True`` is for names read from the running system (``.`` allowed), never for names we write.
    """
    if not isinstance(value, str):
        raise ConfigError("%s: interface name must be a string, got %r" % (field, value))
    raw = value.encode("utf-8", "replace")
    if not 1 <= len(raw) <= 15:
        raise ConfigError("%s: interface name %r must be 1-15 bytes (IFNAMSIZ), it has %d" % (field, value, len(raw)))
    if not _full(KERNEL_IFNAME_RE if kernel else IFNAME_RE, value):
        raise ConfigError("%s: interface name %r may only contain letters, digits, '_', %s'-' and must not start with "
                          "'-'%s (no '/', %s':', '%%', '*', quotes, whitespace, newlines or other control characters)"
                          % (field, value, "'.', " if kernel else "", " or '.'" if kernel else "", "" if kernel else "'.', "))
    if value in RESERVED_NAMES:
        raise ConfigError("%s: interface name %r is reserved" % (field, value))
    return value


def check_netns(value, field="netns"):
    """Return a named network namespace (a file name under /run/netns) or raise ConfigError."""
    if not _full(NETNS_RE, value):
        raise ConfigError("%s: %r is not a network namespace name (letters, digits, '_', '.', '-', at most 64, "
                          "not starting with '.' or '-'; no '/', whitespace or newlines)" % (field, value))
    return value


def check_abspath(value, field):
    """Return an absolute, normalised path without control characters or '..' components."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError("%s: %r must be an absolute path" % (field, value))
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError("%s: %r contains a control character (newline, NUL, ...)" % (field, value))
    if ".." in value.split("/"):
        raise ConfigError("%s: %r must not contain '..'" % (field, value))
    return value


def check_mac(value, field):
    """Return the lower-case MAC or raise ConfigError."""
    if not isinstance(value, str) or not _full(MAC_RE, value.lower()):
        raise ConfigError("%s: %r is not a MAC address like 52:54:00:12:34:56" % (field, value))
    mac = value.lower()
    if int(mac[:2], 16) & 1:
        raise ConfigError("%s: %s is a multicast address, a NIC's permanent MAC is unicast" % (field, mac))
    if mac == "00:00:00:00:00:00":
        raise ConfigError("%s: the all-zero MAC cannot identify a device" % field)
    return mac


def check_driver(value, field):
    """Return a kernel driver name or raise ConfigError."""
    if not _full(DRIVER_RE, value):
        raise ConfigError("%s: %r is not a driver name ([A-Za-z0-9_-], 1-32 characters, not starting with '-')" % (field, value))
    return value


def check_backend(value):
    """Return a concrete backend name or raise ConfigError."""
    if value not in BACKENDS:
        raise ConfigError("backend: unknown backend %r, expected one of %s" % (value, ", ".join(BACKENDS)))
    return value


def check_int(value, field, low, high):
    """Return an int in [low, high]; a string must be ASCII digits only (no sign, space or newline)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if not _full(INT_RE, value):
            raise ConfigError("%s: %r is not an integer" % (field, value))
        value = int(value)
    if not low <= value <= high:
        raise ConfigError("%s: %d is out of range %d-%d" % (field, value, low, high))
    return value


def check_seconds(value, field, low, high):
    """Return a number of seconds (int or finite float) in [low, high]."""
    if isinstance(value, float) and not isinstance(value, bool):
        if math.isnan(value) or not low <= value <= high:
            raise ConfigError("%s: %r is out of range %d-%d" % (field, value, low, high))
        return value
    return check_int(value, field, low, high)


def _key(key):
    """A mapping key for an error message: as is when harmless, else its repr (newlines escaped)."""
    return key if _full(KEY_RE, key) else repr(key)


def _choice(value, field, choices):
    if value not in choices:
        raise ConfigError("%s: %r is not one of %s" % (field, value, ", ".join(choices)))
    return value


def _dict(value, field, keys):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("%s: expected a mapping, got %r" % (field, value))
    unknown = sorted(_key(k) for k in value if k not in keys)
    if unknown:
        raise ConfigError("%s: unknown key(s) %s, expected some of %s" % (field, ", ".join(unknown), ", ".join(keys)))
    return value


def _ip_family(version):
    return "IPv4" if version == 4 else "IPv6"


def _shape(value, field, version, with_prefix):
    """Refuse what ipaddress would keep or bend: non-strings, '%scope', whitespace, non-ASCII digits."""
    if not isinstance(value, str):
        raise ConfigError("%s: %r is not an IP address string" % (field, value))
    if "%" in value:
        raise ConfigError("%s: %r has a scope suffix ('%%...'); scope suffixes are not accepted anywhere" % (field, value))
    addr, slash, prefix = value.partition("/")
    if with_prefix and not slash:
        raise ConfigError("%s: %r must be an address with prefix length, e.g. %s"
                          % (field, value, "192.0.2.10/24" if version != 6 else "2001:db8::10/64"))
    if not with_prefix and slash:
        raise ConfigError("%s: %r is not an IP address (no prefix length here)" % (field, value))
    if not (_full(IPV4_RE, addr) or _full(IPV6_RE, addr) and ":" in addr) or (slash and not _full(PREFIX_RE, prefix)):
        raise ConfigError("%s: %r is not an IP address%s (ASCII digits, '.', ':' and hex only)"
                          % (field, value, " with prefix length" if with_prefix else ""))


def _unicast(ip, field, value, what):
    """Refuse addresses that cannot be a host's or a peer's unicast address."""
    if ip.is_unspecified:
        raise ConfigError("%s: %r is the unspecified address, not a usable %s" % (field, value, what))
    if ip.is_multicast:
        raise ConfigError("%s: %r is a multicast address, not a usable %s" % (field, value, what))
    if ip.is_loopback:
        raise ConfigError("%s: %r is a loopback address, not a usable %s" % (field, value, what))
    if ip.version == 6 and ip.ipv4_mapped is not None:
        raise ConfigError("%s: %r is an IPv4-mapped IPv6 address, not a usable %s" % (field, value, what))
    if ip.is_reserved:
        raise ConfigError("%s: %r is in a reserved range (%s), not a usable %s"
                          % (field, value, "240.0.0.0/4 or broadcast" if ip.version == 4 else "IETF reserved", what))


def check_ip(value, field, version=None, what="address"):
    """Return the canonical text of a unicast IP address (no prefix, no scope) or raise ConfigError."""
    _shape(value, field, version, False)
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError("%s: %r is not an IP address" % (field, value))
    if version and ip.version != version:
        raise ConfigError("%s: %r is not an %s address" % (field, value, _ip_family(version)))
    _unicast(ip, field, value, what)
    return ip


def check_interface(value, field, version=None):
    """Return an ipaddress interface (host address + prefix) that makes sense on a NIC, or raise ConfigError."""
    _shape(value, field, version, True)
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError as exc:
        raise ConfigError("%s: %r is not a valid address: %s" % (field, value, exc))
    if version and iface.version != version:
        raise ConfigError("%s: %r is not an %s address" % (field, value, _ip_family(version)))
    _unicast(iface.ip, field, value, "host address")
    net = iface.network
    if net.prefixlen == 0:
        raise ConfigError("%s: %r has prefix length 0" % (field, value))
    if iface.version == 4 and net.prefixlen <= 30:
        if iface.ip == net.network_address:
            raise ConfigError("%s: %r is the network address of %s, not a host address" % (field, value, net))
        if iface.ip == net.broadcast_address:
            raise ConfigError("%s: %r is the broadcast address of %s, not a host address" % (field, value, net))
    if iface.version == 6 and net.prefixlen <= 126 and iface.ip == net.network_address:
        raise ConfigError("%s: %r is the subnet-router anycast address of %s, not a host address" % (field, value, net))
    return iface


def _gateway(value, field, version, interfaces):
    """A gateway inside one of ``interfaces``' subnets, or (IPv6) link-local: on-link by definition."""
    gw = check_ip(value, field, version, "gateway")
    if any(gw == iface.ip for iface in interfaces):
        raise ConfigError("%s: %s is one of this device's own addresses, not a gateway" % (field, gw))
    if version == 6 and gw.is_link_local:
        # every stack writes the default route with the upper as its device: no scope needed
        return gw
    inside = [iface.network for iface in interfaces if gw in iface.network]
    if not inside:
        raise ConfigError("%s: %s is outside every configured %s subnet (%s); the gateway must be on-link"
                          % (field, gw, _ip_family(version), ", ".join(str(i.network) for i in interfaces)))
    if version == 4 and all(n.prefixlen <= 30 and gw in (n.network_address, n.broadcast_address) for n in inside):
        raise ConfigError("%s: %s is the network or broadcast address of %s" % (field, gw, inside[0]))
    if version == 6 and all(n.prefixlen <= 126 and gw == n.network_address for n in inside):
        raise ConfigError("%s: %s is the subnet-router anycast address of %s" % (field, gw, inside[0]))
    return gw


def check_addressing(value, field, version):
    """Validate an ``ipv4``/``ipv6`` mapping (method, addresses, gateway) and return it canonical."""
    return _addressing(value, field, version)


def _addressing(value, field, version):
    methods = ("dhcp", "static", "disabled") if version == 4 else ("auto", "static", "disabled")
    cfg = _dict(value, field, ("method", "addresses", "gateway"))
    method = cfg.get("method") or methods[0]
    _choice(method, field + ".method", methods)
    out = {"method": method, "addresses": [], "gateway": None}
    if method != "static":
        if cfg.get("addresses") or cfg.get("gateway"):
            raise ConfigError("%s: addresses and gateway need method: static, method is %s" % (field, method))
        return out
    addresses = cfg.get("addresses")
    if not isinstance(addresses, list) or not addresses:
        raise ConfigError("%s.addresses: method static needs a non-empty list of %s addresses with prefix length" % (field, _ip_family(version)))
    interfaces = []
    for i, addr in enumerate(addresses):
        sub = "%s.addresses[%d]" % (field, i)
        iface = check_interface(addr, sub, version)
        if any(iface.ip == other.ip for other in interfaces):
            raise ConfigError("%s: %s is listed twice" % (sub, iface.ip))
        interfaces.append(iface)
        out["addresses"].append(str(iface))
    gateway = cfg.get("gateway")
    if gateway not in (None, ""):
        out["gateway"] = str(_gateway(gateway, field + ".gateway", version, interfaces))
    return out


def check_dns(value, field):
    """Return canonical DNS server addresses: unicast, no scope (so no IPv6 link-local), no duplicates."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ConfigError("%s: expected a list of IP addresses, got %r" % (field, value))
    out = []
    for i, server in enumerate(value):
        sub = "%s[%d]" % (field, i)
        ip = check_ip(server, sub, None, "DNS server")
        if ip.version == 6 and ip.is_link_local:
            raise ConfigError("%s: %r is an IPv6 link-local address, which needs a scope suffix to be reached; "
                              "use a global or unique-local address" % (sub, server))
        if str(ip) in out:
            raise ConfigError("%s: %s is listed twice" % (sub, ip))
        out.append(str(ip))
    return out


def normalize_bond(value, field, vf_mac_settable):
    """Validate bond options the way linux-system-roles/network does and apply failover defaults."""
    cfg = dict(_dict(value, field, BOND_KEYS + ("primary",)))
    if "primary" in cfg:
        raise ConfigError("%s.primary: the primary port is always the VF (matched by driver and MAC); do not set it" % field)
    mode = _choice(cfg.get("mode", "active-backup"), field + ".mode",
                   ("active-backup", "balance-rr", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"))
    if mode != "active-backup":
        raise ConfigError("%s.mode: %s does not give PV/VF failover, only active-backup does" % (field, mode))
    out = {"mode": mode}
    for key in ("miimon", "updelay", "downdelay", "arp_interval"):
        if cfg.get(key) is not None:
            out[key] = check_int(cfg[key], "%s.%s" % (field, key), 0, 2 ** 31 - 1)
    for key in ("num_grat_arp", "num_unsol_na"):
        if cfg.get(key) is not None:
            out[key] = check_int(cfg[key], "%s.%s" % (field, key), 1, 255)
    for key, choices in BOND_CHOICES.items():
        if cfg.get(key) is not None:
            out[key] = _choice(cfg[key], "%s.%s" % (field, key), choices)
    targets = cfg.get("arp_ip_target")
    if targets not in (None, "", []):
        if isinstance(targets, str):
            targets = [t.strip() for t in targets.split(",")]
        if not isinstance(targets, list):
            raise ConfigError("%s.arp_ip_target: expected a list of IPv4 addresses" % field)
        if len(targets) > 16:
            raise ConfigError("%s.arp_ip_target: at most 16 targets (BOND_MAX_ARP_TARGETS)" % field)
        checked = []
        for i, target in enumerate(targets):
            sub = "%s.arp_ip_target[%d]" % (field, i)
            addr = str(check_ip(target, sub, 4, "ARP target"))
            if addr in checked:
                raise ConfigError("%s: %s is listed twice" % (sub, addr))
            checked.append(addr)
        out["arp_ip_target"] = checked

    arp = out.get("arp_interval", 0)
    if arp and out.get("miimon"):
        raise ConfigError("%s: miimon and arp_interval are mutually exclusive, set one of them to 0" % field)
    if "arp_ip_target" in out and not arp:
        raise ConfigError("%s.arp_ip_target: needs arp_interval > 0" % field)
    if arp and "arp_ip_target" not in out:
        raise ConfigError("%s.arp_interval: needs arp_ip_target" % field)
    for key in ("arp_validate", "arp_all_targets"):
        if key in out and not arp:
            raise ConfigError("%s.%s: needs arp_interval > 0" % (field, key))
    if not arp:
        out.setdefault("miimon", 100)
    miimon = out.get("miimon", 0)
    for key in ("updelay", "downdelay"):
        delay = out.get(key, 0)
        if delay and not miimon:
            raise ConfigError("%s.%s: needs miimon > 0" % (field, key))
        if delay and delay % miimon:
            raise ConfigError("%s.%s: %d is not a multiple of miimon (%d)" % (field, key, delay, miimon))
        if miimon:
            out.setdefault(key, 0)
    if miimon == 0 and not arp:
        raise ConfigError("%s: with miimon 0 and no arp_interval the bond never notices the VF going away" % field)
    if "num_grat_arp" in out and "num_unsol_na" in out and out["num_grat_arp"] != out["num_unsol_na"]:
        raise ConfigError("%s: num_grat_arp (%d) and num_unsol_na (%d) are one kernel parameter and must be equal"
                          % (field, out["num_grat_arp"], out["num_unsol_na"]))
    count = out.get("num_grat_arp", out.get("num_unsol_na", 3))
    out["num_grat_arp"] = out["num_unsol_na"] = count
    if "fail_over_mac" not in out:
        out["fail_over_mac"] = "none" if vf_mac_settable else "active"
    elif out["fail_over_mac"] == "none" and not vf_mac_settable:
        raise ConfigError("%s.fail_over_mac: none needs a VF that can take the PV's MAC, but vf_mac_settable is false; use active" % field)
    out.setdefault("primary_reselect", "always")
    return out


def normalize_team(value, field, vf_mac_settable):
    """Validate teamd activebackup options and apply failover defaults."""
    cfg = _dict(value, field, TEAM_KEYS)
    out = {}
    policy = cfg.get("hwaddr_policy", "same_all" if vf_mac_settable else "by_active")
    out["hwaddr_policy"] = _choice(policy, field + ".hwaddr_policy", TEAM_HWADDR)
    if out["hwaddr_policy"] == "same_all" and not vf_mac_settable:
        raise ConfigError("%s.hwaddr_policy: same_all needs a VF that can take the PV's MAC, but vf_mac_settable is false; use by_active" % field)
    out["link_watch"] = _choice(cfg.get("link_watch", "ethtool"), field + ".link_watch", ("ethtool",))
    out["delay_up"] = check_int(cfg.get("delay_up", 0), field + ".delay_up", 0, 600000)
    out["delay_down"] = check_int(cfg.get("delay_down", 0), field + ".delay_down", 0, 600000)
    out["notify_peers"] = check_int(cfg.get("notify_peers", 3), field + ".notify_peers", 0, 255)
    out["mcast_rejoin"] = check_int(cfg.get("mcast_rejoin", 1), field + ".mcast_rejoin", 0, 255)
    return out


def _normalize_group(index, group):
    if not isinstance(group, dict):
        raise ConfigError("groups[%d]: expected a mapping, got %r" % (index, group))
    unknown = sorted(_key(k) for k in group if k not in GROUP_KEYS)
    if unknown:
        raise ConfigError("%s: unknown key(s) %s" % (_field(index, None, group), ", ".join(unknown)))
    model = group.get("model")
    if model not in MODELS:
        raise ConfigError("%s: unknown model %r, expected one of %s" % (_field(index, "model", group), model, ", ".join(MODELS)))
    out = {"model": model}
    out["mac"] = check_mac(group.get("mac"), _field(index, "mac", group))
    name = group.get("name")
    if name in (None, ""):
        if model in ("bond", "team"):
            raise ConfigError("%s: a %s group needs the name of the %s device to create" % (_field(index, "name", group), model, model))
        out["name"] = None
    else:
        out["name"] = check_ifname(name, _field(index, "name", group))
    pv = group.get("pv_driver") or DEFAULT_PV.get(model)
    if pv is None:
        raise ConfigError("%s: a %s group needs the PV's driver (virtio_net, vmxnet3, vif, ...)" % (_field(index, "pv_driver", group), model))
    out["pv_driver"] = check_driver(pv, _field(index, "pv_driver", group))
    if model == "netvsc" and out["pv_driver"] != "hv_netvsc":
        raise ConfigError("%s: a netvsc group's device is driven by hv_netvsc, not %s" % (_field(index, "pv_driver", group), out["pv_driver"]))
    if out["pv_driver"] in UPPER_DRIVERS:
        raise ConfigError("%s: %s is an upper device's driver, not a PV's" % (_field(index, "pv_driver", group), out["pv_driver"]))
    vfs = group.get("vf_drivers")
    if not isinstance(vfs, list) or not vfs:
        raise ConfigError("%s: a non-empty list of VF drivers is needed to tell the VF from the PV" % _field(index, "vf_drivers", group))
    seen = []
    for i, drv in enumerate(vfs):
        sub = _field(index, "vf_drivers[%d]" % i, group)
        check_driver(drv, sub)
        if drv == out["pv_driver"] or drv in UPPER_DRIVERS or drv == "hv_netvsc":
            raise ConfigError("%s: %s cannot be a VF driver (it drives the PV or an upper device)" % (sub, drv))
        if drv not in seen:
            seen.append(drv)
    out["vf_drivers"] = seen
    match = list(seen)
    for drv in seen:
        match.extend(a for a in DRIVER_ALIASES.get(drv, ()) if a not in match)
    out["vf_match"] = match
    settable = group.get("vf_mac_settable", True)
    if not isinstance(settable, bool):
        raise ConfigError("%s: expected true or false, got %r" % (_field(index, "vf_mac_settable", group), settable))
    out["vf_mac_settable"] = settable
    out["ipv4"] = _addressing(group.get("ipv4"), _field(index, "ipv4", group), 4)
    out["ipv6"] = _addressing(group.get("ipv6"), _field(index, "ipv6", group), 6)
    out["dns"] = check_dns(group.get("dns"), _field(index, "dns", group))
    for key in ("bond", "team"):
        if group.get(key) and model != key:
            raise ConfigError("%s: %s options given for a %s group" % (_field(index, key, group), key, model))
    if model in ("bond", "team"):
        for key, suffix in (("pv_name", "pv"), ("vf_name", "vf")):
            port = group.get(key) or "%s%s" % (out["name"], suffix)
            out[key] = check_ifname(port, _field(index, key, group) + (" (default: name + %r, shorten name)" % suffix if not group.get(key) else ""))
        out["vf_mac"] = check_mac(group.get("vf_mac") or out["mac"], _field(index, "vf_mac", group))
        if out["pv_name"] == out["vf_name"]:
            raise ConfigError("%s: the PV and VF port names are both %r" % (_field(index, "vf_name", group), out["pv_name"]))
    else:
        for key in ("pv_name", "vf_name", "vf_mac"):
            if group.get(key):
                raise ConfigError("%s: only for bond and team ports; the kernel pairs %s lowers by MAC" % (_field(index, key, group), model))
    if model == "bond":
        out["bond"] = normalize_bond(group.get("bond"), _field(index, "bond", group), settable)
    if model == "team":
        out["team"] = normalize_team(group.get("team"), _field(index, "team", group), settable)
    out["id"] = out["name"] or out["mac"].replace(":", "")
    return out


def _derived(group):
    """(namespace, derived name, what) for every name a group puts into a file name or a netplan id."""
    out = []
    if group["model"] in ("net_failover", "netvsc"):
        stems = [(group["id"], "its upper's files (guestnet-failover-%s.*)" % group["id"]),
                 (group["id"] + "-lowers", "its lowers' files (guestnet-failover-%s-lowers.*)" % group["id"])]
    else:
        name = group["name"]
        stems = [(name, "its %s's files (guestnet-failover-%s.*)" % (group["model"], name)),
                 (name + "-pv", "its PV port profile (guestnet-failover-%s-pv.*)" % name),
                 (name + "-vf", "its VF port profile (guestnet-failover-%s-vf.*)" % name)]
        out.append(("netplan id", name, "its netplan bond id %s" % name))
    for stem, what in stems:
        out.append(("file name", stem, what))
        out.append(("netplan id", "0-guestnet-" + stem, "its netplan id 0-guestnet-%s" % stem))
    return out


def check_unique(groups):
    """Refuse two normalized groups that claim the same MAC, interface name, file name or netplan id."""
    macs = {}
    names = {}
    derived = {}
    for i, group in enumerate(groups):
        label = _field(i, None, group)
        own_macs = [("mac", group["mac"])]
        if group.get("vf_mac") and group["vf_mac"] != group["mac"]:
            own_macs.append(("vf_mac", group["vf_mac"]))
        for key, mac in own_macs:
            if mac in macs:
                other_i, other_key = macs[mac]
                raise ConfigError("%s.%s: %s is also the MAC of %s, field %s; one group per PV/VF pair, a MAC belongs to one group"
                                  % (label, key, mac, _field(other_i, None, groups[other_i]), other_key))
            macs[mac] = (i, key)
        own = [("name", group["name"])] + [(k, group.get(k)) for k in ("pv_name", "vf_name")]
        for key, name in own:
            if not name:
                continue
            if name in names:
                other_i, other_key = names[name]
                if key == "name" or other_key == "name":
                    raise ConfigError("groups[%d].%s: %r is already used by groups[%d].%s; an upper device cannot share a name "
                                      "with a lower device or another upper" % (i, key, name, other_i, other_key))
                raise ConfigError("groups[%d].%s: %r is already used by groups[%d].%s" % (i, key, name, other_i, other_key))
            names[name] = (i, key)
        for space, value, what in _derived(group):
            if (space, value) in derived:
                other_i, other_what = derived[(space, value)]
                key = "name" if group["name"] else "mac"
                raise ConfigError("%s.%s: gives the %s %s (%s), which %s already gives (%s); two groups would write "
                                  "the same file and one would silently replace the other, rename one of them"
                                  % (label, key, space, value, what, _field(other_i, None, groups[other_i]), other_what))
            derived[(space, value)] = (i, what)
    return groups


def normalize(groups, backend):
    """Validate ``groups`` for ``backend`` and return normalized copies; raise ConfigError."""
    check_backend(backend)
    if groups is None:
        groups = []
    if not isinstance(groups, list):
        raise ConfigError("groups: expected a list of groups, got %r" % (groups,))
    out = [_normalize_group(i, g) for i, g in enumerate(groups)]
    check_unique(out)
    addresses = {}
    for i, group in enumerate(out):
        for family in ("ipv4", "ipv6"):
            for j, addr in enumerate(group[family]["addresses"]):
                ip = addr.split("/")[0]
                if ip in addresses:
                    raise ConfigError("%s.addresses[%d]: %s is also an address of %s" % (_field(i, family, group), j, ip, addresses[ip]))
                addresses[ip] = _field(i, None, group)
        if backend in ("networkd", "netplan") and group["model"] == "team":
            raise ConfigError("groups[%d].model: %s has no team support; use backend NetworkManager or ifupdown, or model bond" % (i, backend))
        if backend == "ifupdown" and not group["name"]:
            raise ConfigError("groups[%d].name: ifupdown configures interfaces by name, set a persistent name for the %s device" % (i, group["model"]))
    return out


PROBE_METHODS = ("arp", "icmp")


def check_link_options(probe=None, probe_method="arp", probe_device=None, rollback_timeout=30, carrier_timeout=10):
    """Validate failover_link's runtime options; return them canonical (probe as text or None)."""
    out = {"probe_method": _choice(probe_method, "probe_method", PROBE_METHODS)}
    out["probe"] = None if probe in (None, "") else str(check_ip(probe, "probe", 4, "probe target"))
    out["probe_device"] = None if probe_device in (None, "") else check_ifname(probe_device, "probe_device", kernel=True)
    out["rollback_timeout"] = check_seconds(rollback_timeout, "rollback_timeout", 1, 3600)
    out["carrier_timeout"] = check_seconds(carrier_timeout, "carrier_timeout", 0, 600)
    return out


def check_runtime_group(index, group):
    """Re-check the values of a normalized group that reach netlink, unit names and /run paths."""
    check_mac(group.get("mac"), _field(index, "mac", group))
    if group.get("name") is not None:
        check_ifname(group["name"], _field(index, "name", group))
    check_driver(group.get("pv_driver"), _field(index, "pv_driver", group))
    for i, drv in enumerate(group.get("vf_drivers") or []):
        check_driver(drv, _field(index, "vf_drivers[%d]" % i, group))
    if group.get("model") not in MODELS:
        raise ConfigError("%s: unknown model %r" % (_field(index, "model", group), group.get("model")))
    return group


def check_desired_options(ipv4=None, ipv6=None, dns=None, names=None, no_address_macs=None):
    """Validate the desired_groups filter's options before any group is built (fields named as the options)."""
    if ipv4 is not None:
        _addressing(ipv4, "ipv4", 4)
    if ipv6 is not None:
        _addressing(ipv6, "ipv6", 6)
    check_dns(dns, "dns")
    if names is not None:
        if not isinstance(names, dict):
            raise ConfigError("names: expected a mapping of MAC to interface name, got %r" % (names,))
        seen = {}
        for mac, name in names.items():
            key = check_mac(mac, "names key %r" % (mac,))
            check_ifname(name, "names[%s]" % key)
            if key in seen:
                raise ConfigError("names[%s]: the MAC is listed twice" % key)
            seen[key] = name
    if no_address_macs is not None:
        if not isinstance(no_address_macs, list):
            raise ConfigError("no_address_macs: expected a list of MACs, got %r" % (no_address_macs,))
        for i, mac in enumerate(no_address_macs):
            check_mac(mac, "no_address_macs[%d]" % i)


def check_discovered(groups, field="groups"):
    """Check the MACs (and upper names, when given) of discovered or declared groups."""
    if not isinstance(groups, list):
        raise ConfigError("%s: expected a list of groups, got %r" % (field, type(groups).__name__))
    for i, group in enumerate(groups):
        sub = "%s[%d]" % (field, i)
        if isinstance(group, str):
            check_mac(group, sub)
            continue
        if not isinstance(group, dict):
            raise ConfigError("%s: expected a mapping or a MAC, got %r" % (sub, group))
        check_mac(group.get("mac"), sub + ".mac")
        if group.get("upper") is not None:
            check_ifname(group["upper"], sub + ".upper", kernel=True)
        for key in ("pv_driver", "vf_driver"):
            if group.get(key) is not None:
                check_driver(group[key], "%s.%s" % (sub, key))
    return groups


def check_announce_group(group, field):
    """An announcer group {upper, mac, model, pv_driver, vf_drivers, rejoin}, checked (its renderer and the guest's watcher).

    ``rejoin`` (default true): the watcher puts a re-plugged bond/team port back itself. False where NetworkManager
    owns the upper: its port profiles re-attach the lower, a second agent enslaving it makes the two fight.
    """
    if not isinstance(group, dict):
        raise ConfigError("%s: expected a mapping, got %r" % (field, group))
    upper = group.get("upper")
    model = group.get("model", "net_failover")
    if model not in MODELS:
        raise ConfigError("%s.model: unknown model %r" % (field, model))
    mac = check_mac(group.get("mac"), "%s.mac" % field)
    # the kernel names net_failover/netvsc uppers (no name wanted): the announcer finds them by MAC
    if upper is not None or model not in ("net_failover", "netvsc"):
        check_ifname(upper, "%s.upper: invalid upper device name %r for %s" % (field, upper, mac), kernel=True)
    vf_drivers = group.get("vf_drivers") or []
    if not isinstance(vf_drivers, list):
        raise ConfigError("%s.vf_drivers: expected a list of driver names" % field)
    for drv in [d for d in [group.get("pv_driver")] + list(vf_drivers) if d]:
        check_driver(drv, "%s: invalid driver name %r for %s" % (field, drv, mac))
    rejoin = group.get("rejoin", True)
    if not isinstance(rejoin, bool):
        raise ConfigError("%s.rejoin: expected true or false, got %r" % (field, rejoin))
    return {"upper": upper, "mac": mac, "model": model, "pv_driver": group.get("pv_driver"), "vf_drivers": list(vf_drivers),
            "rejoin": rejoin}
