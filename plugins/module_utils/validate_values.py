# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decide stage (validation of single values): names, MACs, drivers, numbers, IP addresses, addressing, DNS.

Every string that reaches a file, a unit name or a netlink message matched one of the strict patterns below
(no whitespace, quotes, ``%``, ``*``, ``/``, ``$``, newlines ...), so renderers can interpolate values without
escaping. Every pattern is applied with ``re.fullmatch`` (``full_match``): ``^...$`` with ``re.match`` lets a
trailing newline through, because ``$`` also matches before a final newline. Addresses are
checked against an ASCII pattern before ``ipaddress`` parses them, so an IPv6 scope suffix
(``fe80::1%eth0``, which ``ipaddress`` keeps verbatim, newlines included) never gets through.
``validate`` checks whole groups and options with these; docs/hardening.md lists the rules.
"""
from __future__ import annotations

import ipaddress
import math
import re

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


class ConfigError(ValueError):
    """A desired group or option cannot be rendered; the message names the offending field."""


def full_match(pattern, value):
    """True when ``value`` is a string that ``pattern`` matches completely (no trailing newline)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_ifname(value, field, kernel=False):
    """Return ``value`` if it is a safe interface name, else raise ConfigError naming ``field``.

    ``kernel=True`` is for names read from the running system (``.`` allowed), never for names we write.
    """
    if not isinstance(value, str):
        raise ConfigError("%s: interface name must be a string, got %r" % (field, value))
    raw = value.encode("utf-8", "replace")
    if not 1 <= len(raw) <= 15:
        raise ConfigError("%s: interface name %r must be 1-15 bytes (IFNAMSIZ), it has %d" % (field, value, len(raw)))
    if not full_match(KERNEL_IFNAME_RE if kernel else IFNAME_RE, value):
        raise ConfigError("%s: interface name %r may only contain letters, digits, '_', %s'-' and must not start with "
                          "'-'%s (no '/', %s':', '%%', '*', quotes, whitespace, newlines or other control characters)"
                          % (field, value, "'.', " if kernel else "", " or '.'" if kernel else "", "" if kernel else "'.', "))
    if value in RESERVED_NAMES:
        raise ConfigError("%s: interface name %r is reserved" % (field, value))
    return value


def check_netns(value, field="netns"):
    """Return a named network namespace (a file name under /run/netns) or raise ConfigError."""
    if not full_match(NETNS_RE, value):
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
    if not isinstance(value, str) or not full_match(MAC_RE, value.lower()):
        raise ConfigError("%s: %r is not a MAC address like 52:54:00:12:34:56" % (field, value))
    mac = value.lower()
    if int(mac[:2], 16) & 1:
        raise ConfigError("%s: %s is a multicast address, a NIC's permanent MAC is unicast" % (field, mac))
    if mac == "00:00:00:00:00:00":
        raise ConfigError("%s: the all-zero MAC cannot identify a device" % field)
    return mac


def check_driver(value, field):
    """Return a kernel driver name or raise ConfigError."""
    if not full_match(DRIVER_RE, value):
        raise ConfigError("%s: %r is not a driver name ([A-Za-z0-9_-], 1-32 characters, not starting with '-')" % (field, value))
    return value


def check_int(value, field, low, high):
    """Return an int in [low, high]; a string must be ASCII digits only (no sign, space or newline)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if not full_match(INT_RE, value):
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


def key_text(key):
    """A mapping key for an error message: as is when harmless, else its repr (newlines escaped)."""
    return key if full_match(KEY_RE, key) else repr(key)


def check_choice(value, field, choices):
    if value not in choices:
        raise ConfigError("%s: %r is not one of %s" % (field, value, ", ".join(choices)))
    return value


def check_mapping(value, field, keys):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("%s: expected a mapping, got %r" % (field, value))
    unknown = sorted(key_text(k) for k in value if k not in keys)
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
    if not (full_match(IPV4_RE, addr) or full_match(IPV6_RE, addr) and ":" in addr) or (slash and not full_match(PREFIX_RE, prefix)):
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
    methods = ("dhcp", "static", "disabled") if version == 4 else ("auto", "static", "disabled")
    cfg = check_mapping(value, field, ("method", "addresses", "gateway"))
    method = cfg.get("method") or methods[0]
    check_choice(method, field + ".method", methods)
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
