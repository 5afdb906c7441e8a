# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decide stage (validation of whole groups): one validation layer for every group and option before anything is built.

``normalize(groups, backend)`` checks the desired groups (docs/data-model.md "Desired group"),
applies defaults and returns canonical copies. Renderers only ever see normalized groups, so
they can interpolate values without escaping: every value in them passed ``validate_values``.
Other modules (announce, failover_link, link_apply, netdev_facts, the filters) use the
``check_*`` functions here and in ``validate_values`` instead of patterns of their own.
docs/hardening.md lists the rules.
"""
from __future__ import annotations

from ansible_collections.guestnet.failover.plugins.module_utils.validate_values import (
    IFNAME_RE, ConfigError, check_addressing, check_choice, check_dns, check_driver, check_ifname, check_int, check_ip,
    check_mac, check_mapping, check_seconds, full_match, key_text,
)

BACKENDS = ("networkd", "NetworkManager", "netplan", "ifupdown")
MODELS = ("net_failover", "netvsc", "bond", "team")
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


def _field(index, key, group=None):
    label = "groups[%d]" % index
    if group is not None and full_match(IFNAME_RE, group.get("name")):
        label += " (%s)" % group["name"]
    return "%s.%s" % (label, key) if key else label


def check_backend(value):
    """Return a concrete backend name or raise ConfigError."""
    if value not in BACKENDS:
        raise ConfigError("backend: unknown backend %r, expected one of %s" % (value, ", ".join(BACKENDS)))
    return value


def normalize_bond(value, field, vf_mac_settable):
    """Validate bond options the way linux-system-roles/network does and apply failover defaults."""
    cfg = dict(check_mapping(value, field, BOND_KEYS + ("primary",)))
    if "primary" in cfg:
        raise ConfigError("%s.primary: the primary port is always the VF (matched by driver and MAC); do not set it" % field)
    mode = check_choice(cfg.get("mode", "active-backup"), field + ".mode",
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
            out[key] = check_choice(cfg[key], "%s.%s" % (field, key), choices)
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
    cfg = check_mapping(value, field, TEAM_KEYS)
    out = {}
    policy = cfg.get("hwaddr_policy", "same_all" if vf_mac_settable else "by_active")
    out["hwaddr_policy"] = check_choice(policy, field + ".hwaddr_policy", TEAM_HWADDR)
    if out["hwaddr_policy"] == "same_all" and not vf_mac_settable:
        raise ConfigError("%s.hwaddr_policy: same_all needs a VF that can take the PV's MAC, but vf_mac_settable is false; use by_active" % field)
    out["link_watch"] = check_choice(cfg.get("link_watch", "ethtool"), field + ".link_watch", ("ethtool",))
    out["delay_up"] = check_int(cfg.get("delay_up", 0), field + ".delay_up", 0, 600000)
    out["delay_down"] = check_int(cfg.get("delay_down", 0), field + ".delay_down", 0, 600000)
    out["notify_peers"] = check_int(cfg.get("notify_peers", 3), field + ".notify_peers", 0, 255)
    out["mcast_rejoin"] = check_int(cfg.get("mcast_rejoin", 1), field + ".mcast_rejoin", 0, 255)
    return out


def _normalize_group(index, group):
    if not isinstance(group, dict):
        raise ConfigError("groups[%d]: expected a mapping, got %r" % (index, group))
    unknown = sorted(key_text(k) for k in group if k not in GROUP_KEYS)
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
    out["ipv4"] = check_addressing(group.get("ipv4"), _field(index, "ipv4", group), 4)
    out["ipv6"] = check_addressing(group.get("ipv6"), _field(index, "ipv6", group), 6)
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
    out = {"probe_method": check_choice(probe_method, "probe_method", PROBE_METHODS)}
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
        check_addressing(ipv4, "ipv4", 4)
    if ipv6 is not None:
        check_addressing(ipv6, "ipv6", 6)
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
    """An announcer group {upper, mac, model, pv_driver, rejoin}, checked (its renderer and the guest's watcher).

    No VF drivers: the watcher takes any other physical device with the MAC as the VF (``upper_config.port_role``).

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
    if group.get("pv_driver") is not None:
        check_driver(group["pv_driver"], "%s: invalid driver name %r for %s" % (field, group["pv_driver"], mac))
    rejoin = group.get("rejoin", True)
    if not isinstance(rejoin, bool):
        raise ConfigError("%s.rejoin: expected true or false, got %r" % (field, rejoin))
    return {"upper": upper, "mac": mac, "model": model, "pv_driver": group.get("pv_driver"), "rejoin": rejoin}
