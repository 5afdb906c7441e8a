# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decide stage: discovered failover groups into desired groups for a hypervisor flavour (pure logic).

Discovery says what the guest *is* (docs/data-model.md "Failover group"); the config and
link modules want what it *should be* ("Desired group"). The roles sit between the two.
"""
from __future__ import annotations

# VF drivers a PV may be paired with after a migration; the observed one is always added.
VF_DRIVERS = {
    "kvm": ["mlx5_core", "mlx4_core", "ixgbevf", "iavf", "i40evf", "bnxt_en", "ice", "igbvf"],
    "hyperv": ["mana", "mlx4_core", "mlx5_core"],
    "generic": ["mlx5_core", "mlx4_core", "ixgbevf", "iavf", "i40evf", "bnxt_en", "ice", "igbvf"],
}
FLAVOURS = ("kvm", "hyperv", "generic")
# Declared groups (image builds: no VF yet) get the flavour's PV model and driver.
DECLARED = {"kvm": ("net_failover", "virtio_net"), "hyperv": ("netvsc", "hv_netvsc"), "generic": ("unpaired", "virtio_net")}
FALLBACKS = ("bond", "team", "fail")


class DesiredError(ValueError):
    """The discovered topology cannot be turned into the requested configuration."""


def _vf_drivers(flavour, group):
    drivers = list(VF_DRIVERS[flavour])
    if group.get("vf_driver") and group["vf_driver"] not in drivers:
        drivers.insert(0, group["vf_driver"])
    return drivers


def _addressing(mac, ipv4, ipv6, no_address_macs):
    if mac in no_address_macs:
        return {"method": "disabled"}, {"method": "disabled"}
    return dict(ipv4 or {"method": "dhcp"}), dict(ipv6 or {"method": "auto"})


# DMI values Ansible's virtual facts read as KVM (ansible.module_utils.facts.virtual.linux), lowercased
KVM_PRODUCTS = ("kvm", "kvm server", "bochs", "ahv")
KVM_VENDORS = ("qemu", "google")


def detect_flavour(groups, virtualization_type=None, system_vendor=None, product_name=None):
    """Pick the role for a host: the kernel's pairing wins over DMI and virtualisation facts.

    ``virtualization_type`` is Ansible's fact when gathered; DMI's vendor and product (netdev_facts ``platform``)
    decide alone otherwise.
    """
    models = {g.get("model") for g in groups or []}
    if "netvsc" in models:
        return "hyperv"
    if "net_failover" in models:
        return "kvm"
    virt = (virtualization_type or "").lower()
    vendor = (system_vendor or "").lower()
    if virt == "hyperv" or "microsoft" in vendor:
        return "hyperv"
    if virt in ("kvm", "qemu") or vendor in KVM_VENDORS or (product_name or "").lower() in KVM_PRODUCTS:
        return "kvm"
    return "generic"


def _declared(item, flavour):
    """A MAC string or a partial dict declares a group that discovery cannot see yet."""
    group = {"mac": item} if isinstance(item, str) else dict(item)
    model, pv_driver = DECLARED[flavour]
    group.setdefault("model", model)
    group.setdefault("pv_driver", pv_driver)
    group.setdefault("upper", None)
    return group


def desired_groups(groups, flavour, ipv4=None, ipv6=None, dns=None, fallback="bond", names=None, no_address_macs=None):
    """Return desired groups for ``flavour`` from discovered ``groups``.

    Items of ``groups`` may also be declared (image builds): a MAC string or a dict with at least ``mac``.
    ``names`` maps a MAC to the upper name to use; ``no_address_macs`` lists MACs whose upper
    gets no L3 configuration at all (e.g. a netvsc device left to DPDK).
    """
    if flavour not in FLAVOURS:
        raise DesiredError("unknown flavour %r, expected one of %s" % (flavour, ", ".join(FLAVOURS)))
    if fallback not in FALLBACKS:
        raise DesiredError("unknown fallback %r, expected one of %s" % (fallback, ", ".join(FALLBACKS)))
    names = {k.lower(): v for k, v in (names or {}).items()}
    no_address_macs = {m.lower() for m in no_address_macs or []}
    wanted = []
    counters = {"bond": 0, "team": 0}
    for group in sorted((_declared(g, flavour) for g in groups or []), key=lambda g: g["mac"].lower()):
        mac = group["mac"].lower()
        model = group["model"]
        if flavour == "hyperv":
            if model in ("bond", "team"):
                raise DesiredError("%s is a %s over netvsc and its VF (bondvf.sh era); remove it, netvsc pairs in the kernel" % (group.get("upper"), model))
            if model != "netvsc":
                continue
        elif model == "unpaired":
            model = "bond" if flavour == "generic" and fallback == "fail" else fallback
            if model == "fail":
                raise DesiredError("%s and %s share MAC %s but VIRTIO_NET_F_STANDBY is not negotiated; "
                                   "enable failover=on on the host or set the bond/team fallback" % (group.get("standby"), group.get("primary"), mac))
        elif model not in ("net_failover", "bond", "team"):
            continue
        name = names.get(mac) or group.get("upper")
        if not name and model in counters:  # a bond/team needs a name; kernel-paired uppers are matched by MAC + driver
            name = "%s%d" % (model, counters[model])
            counters[model] += 1
        ipv4_cfg, ipv6_cfg = _addressing(mac, ipv4, ipv6, no_address_macs)
        wanted.append({
            "name": name,
            "model": model,
            "mac": mac,
            "pv_driver": group.get("pv_driver"),
            "vf_drivers": _vf_drivers(flavour, group),
            "ipv4": ipv4_cfg,
            "ipv6": ipv6_cfg,
            "dns": list(dns or []),
        })
    return wanted
