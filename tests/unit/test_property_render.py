# SPDX-License-Identifier: GPL-3.0-or-later
"""Property-based (Hypothesis): valid groups of every model on every backend render files that parse back
to exactly the intended content; no value can add a file, section, key, stanza or udev rule (issue 12).

Generated: 1-3 groups of net_failover / netvsc / bond / team (team only where the backend has it), names or
none (none not on ifupdown), static / dhcp / auto / disabled addressing, gateways inside the subnet or IPv6
link-local, DNS servers, bond MII or ARP monitoring, team options, vf_mac and port names. The profile in
conftest.py bounds the examples and keeps the example database out of the repository.
"""
from __future__ import annotations

import ipaddress
import re

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, strategies as st  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.guestnet.failover.plugins.module_utils import plan, validate, validate_values  # noqa: E402  pylint: disable=wrong-import-position

BACKENDS = ("networkd", "NetworkManager", "netplan", "ifupdown")
VF_DRIVERS = ("mlx5_core", "mlx4_core", "ixgbevf", "iavf", "e1000e", "mana", "bnxt_en")
PV_DRIVERS = ("virtio_net", "vmxnet3", "vif")
NAME = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n not in validate_values.RESERVED_NAMES)

# the upper device's driver per kernel-paired model (the oracle here, independent of render_udev)
UPPER = {"net_failover": "net_failover", "netvsc": "hv_netvsc"}


# ----------------------------------------------------------------------------- strategies
@st.composite
def mac(draw):
    first = draw(st.integers(0, 255)) & 0xFE
    rest = draw(st.lists(st.integers(0, 255), min_size=5, max_size=5))
    assume(first or any(rest))
    return ":".join("%02x" % b for b in [first] + rest)


@st.composite
def v4_static(draw):
    prefix = draw(st.integers(8, 30))
    first = draw(st.integers(1, 223).filter(lambda o: o != 127))
    base = ipaddress.ip_network("%d.0.0.0/8" % first)
    net = ipaddress.ip_network((int(base.network_address) + draw(st.integers(0, 2 ** 24 - 1)), prefix), strict=False)
    size = net.num_addresses
    hosts = draw(st.lists(st.integers(1, size - 2), min_size=1, max_size=3, unique=True))
    addresses = ["%s/%d" % (net.network_address + h, prefix) for h in hosts]
    gateway = draw(st.one_of(st.none(), st.integers(1, size - 2).filter(lambda h: h not in hosts)))
    return {"method": "static", "addresses": addresses,
            "gateway": None if gateway is None else str(net.network_address + gateway)}


@st.composite
def v6_static(draw):
    prefix = draw(st.sampled_from([48, 56, 64, 64, 64, 80, 112, 120]))
    top = draw(st.sampled_from([0x20010DB8, 0xFD123456, 0x2A020123]))
    net = ipaddress.ip_network(((top << 96) | (draw(st.integers(0, 2 ** 96 - 1))), prefix), strict=False)
    hosts = draw(st.lists(st.integers(1, min(net.num_addresses - 1, 2 ** 32)), min_size=1, max_size=3, unique=True))
    addresses = ["%s/%d" % (net.network_address + h, prefix) for h in hosts]
    kind = draw(st.sampled_from(["none", "subnet", "link-local"]))
    gateway = None
    if kind == "subnet":
        gw = draw(st.integers(1, min(net.num_addresses - 1, 2 ** 32)).filter(lambda h: h not in hosts))
        gateway = str(net.network_address + gw)
    elif kind == "link-local":
        gateway = str(ipaddress.ip_address("fe80::") + draw(st.integers(1, 2 ** 64 - 1)))
    return {"method": "static", "addresses": addresses, "gateway": gateway}


def dns_server():
    v4 = st.tuples(st.integers(1, 223).filter(lambda o: o != 127), st.integers(0, 255), st.integers(0, 255), st.integers(1, 254))
    v6 = st.integers(1, 2 ** 64 - 1).map(lambda n: str(ipaddress.ip_address("2001:db8::") + n))
    return st.one_of(v4.map(lambda t: "%d.%d.%d.%d" % t), v6)


@st.composite
def bond_options(draw):
    if draw(st.booleans()):
        miimon = draw(st.sampled_from([50, 100, 200]))
        return {"miimon": miimon, "updelay": miimon * draw(st.integers(0, 4)), "downdelay": miimon * draw(st.integers(0, 4)),
                "num_grat_arp": draw(st.integers(1, 255)),
                "primary_reselect": draw(st.sampled_from(["always", "better", "failure"]))}
    targets = draw(st.lists(st.tuples(st.integers(1, 223).filter(lambda o: o != 127), st.integers(0, 255), st.integers(1, 254))
                            .map(lambda t: "%d.%d.0.%d" % t), min_size=1, max_size=4, unique=True))
    out = {"miimon": 0, "arp_interval": draw(st.integers(1, 5000)), "arp_ip_target": targets}
    if draw(st.booleans()):
        out["arp_validate"] = draw(st.sampled_from(validate.BOND_CHOICES["arp_validate"]))
    if draw(st.booleans()):
        out["arp_all_targets"] = draw(st.sampled_from(["any", "all"]))
    return out


@st.composite
def group(draw, model, named, used_macs):
    out = {"model": model}
    out["mac"] = draw(mac().filter(lambda m: m not in used_macs))
    used_macs.add(out["mac"])
    if named or model in ("bond", "team"):
        out["name"] = draw(NAME)
    if model == "net_failover":
        out["pv_driver"] = draw(st.sampled_from(["virtio_net", None]))
    elif model == "netvsc":
        out["pv_driver"] = "hv_netvsc"
    else:
        out["pv_driver"] = draw(st.sampled_from(PV_DRIVERS))
    out["vf_drivers"] = draw(st.lists(st.sampled_from(VF_DRIVERS), min_size=1, max_size=4, unique=True))
    out["ipv4"] = draw(st.one_of(st.just({"method": "dhcp"}), st.just({"method": "disabled"}), v4_static()))
    out["ipv6"] = draw(st.one_of(st.just({"method": "auto"}), st.just({"method": "disabled"}), v6_static()))
    out["dns"] = draw(st.lists(dns_server(), max_size=3, unique=True))
    if model in ("bond", "team"):
        settable = draw(st.booleans())
        out["vf_mac_settable"] = settable
        if draw(st.booleans()):
            out["vf_mac"] = draw(mac().filter(lambda m: m not in used_macs))
            used_macs.add(out["vf_mac"])
        if draw(st.booleans()):
            out["pv_name"] = out["name"] + "p"
            out["vf_name"] = out["name"] + "v"
        if model == "bond":
            out["bond"] = draw(bond_options())
            if not settable:
                out["bond"]["fail_over_mac"] = draw(st.sampled_from(["active", "follow"]))
        else:
            out["team"] = {"hwaddr_policy": draw(st.sampled_from(validate.TEAM_HWADDR if settable else ("by_active", "only_active"))),
                           "delay_up": draw(st.integers(0, 1000)), "delay_down": draw(st.integers(0, 1000)),
                           "notify_peers": draw(st.integers(0, 255)), "mcast_rejoin": draw(st.integers(0, 255))}
    return out


@st.composite
def scenario(draw):
    backend = draw(st.sampled_from(BACKENDS))
    models = ["net_failover", "netvsc", "bond"] + (["team"] if backend in ("NetworkManager", "ifupdown") else [])
    used = set()
    groups = []
    for dummy in range(draw(st.integers(1, 3))):
        model = draw(st.sampled_from(models))
        groups.append(draw(group(model, backend == "ifupdown" or draw(st.booleans()), used)))
    options = {"lowers_silent": draw(st.booleans()), "cloud_init": draw(st.booleans()),
               "initramfs": draw(st.sampled_from(["initramfs-tools", "dracut", "none"]))}
    try:
        normalized = validate.normalize(groups, backend)
    except validate.ConfigError:
        assume(False)  # rare: two generated names or addresses that collide
    return backend, groups, normalized, options


# ----------------------------------------------------------------------------- strict parsers
INI_LINE = re.compile(r"(?P<comment>#[^\x00-\x1f\x7f]*)|\[(?P<section>[A-Za-z][A-Za-z0-9-]*)\]|(?P<key>[A-Za-z][A-Za-z0-9._-]*)=(?P<value>[^\x00-\x1f\x7f]*)|")


def parse_ini(text):
    """[(section, [(key, value)])]; every line must be a comment, blank, a [section] or key=value."""
    sections = []
    for line in text.split("\n")[:-1]:
        match = INI_LINE.fullmatch(line)
        assert match, "unparsable line %r" % line
        if match.group("section"):
            sections.append((match.group("section"), []))
        elif match.group("key"):
            assert sections, "key before the first section: %r" % line
            sections[-1][1].append((match.group("key"), match.group("value")))
    assert text.endswith("\n")
    return sections


def values(section, key):
    return [v for k, v in section if k == key]


def one(sections, name):
    found = [items for sec, items in sections if sec == name]
    assert len(found) == 1, (name, [s for s, i in sections])
    return found[0]


UDEV_TOKEN = re.compile(r'(?P<key>[A-Z_]+(\{[^"{}\s]+\})?)(?P<op>==|!=|\+=|:=|=)"(?P<value>[^"\\\x00-\x1f]*)"')


def parse_udev(text):
    """One rule per line: a list of (key, op, value) tokens joined by ', '."""
    rules = []
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        tokens = []
        for part in line.split(", "):
            match = UDEV_TOKEN.fullmatch(part)
            assert match, "unparsable udev token %r in %r" % (part, line)
            tokens.append((match.group("key"), match.group("op"), match.group("value")))
        rules.append(tokens)
    return rules


class UniqueKeyLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader that refuses duplicate mapping keys (a smuggled netplan id would be one)."""


def _mapping(loader, node, deep=False):
    keys = [loader.construct_object(k, deep=deep) for k, dummy in node.value]
    assert len(keys) == len(set(keys)), "duplicate YAML keys %r" % keys
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


# ----------------------------------------------------------------------------- expectations
def kernel_paired(group):
    return group["model"] in ("net_failover", "netvsc")


def expected_stack_files(backend, groups):
    files = set()
    for g in groups:
        if g["name"] and kernel_paired(g):
            files.add("etc/systemd/network/10-guestnet-failover-%s.link" % g["name"])
        if kernel_paired(g):
            files.add("etc/systemd/network/10-guestnet-failover-%s-lowers.link" % g["id"])
        if not kernel_paired(g):
            files.update("etc/systemd/network/10-guestnet-failover-%s.link" % g[k] for k in ("pv_name", "vf_name"))
        if backend == "networkd":
            if kernel_paired(g):
                files.update(["etc/systemd/network/05-guestnet-failover-%s.network" % g["id"],
                              "etc/systemd/network/06-guestnet-failover-%s-lowers.network" % g["id"]])
            else:
                files.update("etc/systemd/network/%s-guestnet-failover-%s%s" % (p, g["name"], s)
                             for p, s in (("05", ".netdev"), ("05", ".network"), ("06", "-pv.network"), ("06", "-vf.network")))
        elif backend == "NetworkManager":
            stems = [g["id"]] if kernel_paired(g) else [g["name"], g["name"] + "-pv", g["name"] + "-vf"]
            files.update("etc/NetworkManager/system-connections/guestnet-failover-%s.nmconnection" % s for s in stems)
        elif backend == "netplan":
            files.add("etc/netplan/90-guestnet-failover.yaml")
            if kernel_paired(g):
                files.add("etc/systemd/network/06-guestnet-failover-%s-lowers.network" % g["id"])
        else:
            files.add("etc/network/interfaces.d/guestnet-failover")
            if g["model"] == "team":
                files.add("etc/teamd/guestnet-failover-%s.conf" % g["name"])
    files.add("etc/udev/rules.d/81-guestnet-failover.rules")
    return files


EXTRAS = ("etc/cloud/cloud.cfg.d/99-guestnet-failover.cfg", "etc/initramfs-tools/hooks/guestnet-failover",
          "usr/lib/dracut/modules.d/90guestnet-failover/module-setup.sh")


def addresses(g):
    return g["ipv4"]["addresses"] + g["ipv6"]["addresses"]


def gateways(g):
    return [gw for gw in (g["ipv4"]["gateway"], g["ipv6"]["gateway"]) if gw]


def check_networkd(files, g):
    if kernel_paired(g):
        upper = parse_ini(files["etc/systemd/network/05-guestnet-failover-%s.network" % g["id"]])
        assert [s for s, i in upper] == ["Match", "Link", "Network"]
        assert values(one(upper, "Match"), "MACAddress") == [g["mac"]]
        lowers = parse_ini(files["etc/systemd/network/06-guestnet-failover-%s-lowers.network" % g["id"]])
        assert [s for s, i in lowers] == ["Match", "Link"] and one(lowers, "Link") == [("Unmanaged", "yes")]
        assert values(one(lowers, "Match"), "PermanentMACAddress") == [g["mac"]]
        assert values(one(lowers, "Match"), "Driver") == ["!" + UPPER[g["model"]]]
    else:
        netdev = parse_ini(files["etc/systemd/network/05-guestnet-failover-%s.netdev" % g["name"]])
        assert [s for s, i in netdev] == ["NetDev", "Bond"]
        assert dict(one(netdev, "NetDev")) == {"Name": g["name"], "Kind": "bond", "MACAddress": g["mac"]}
        upper = parse_ini(files["etc/systemd/network/05-guestnet-failover-%s.network" % g["name"]])
        assert [s for s, i in upper] == ["Match", "Link", "Network"]
        assert one(upper, "Match") == [("Name", g["name"]), ("Kind", "bond")]
        for role, port_mac in (("pv", g["mac"]), ("vf", g["vf_mac"])):
            port = parse_ini(files["etc/systemd/network/06-guestnet-failover-%s-%s.network" % (g["name"], role)])
            assert [s for s, i in port] == ["Match", "Link", "Network"]
            assert values(one(port, "Network"), "Bond") == [g["name"]]
            assert port_mac in values(one(port, "Match"), "MACAddress") + values(one(port, "Match"), "PermanentMACAddress")
    network = one(upper, "Network")
    assert values(network, "Address") == addresses(g)
    assert values(network, "Gateway") == gateways(g)
    assert values(network, "DNS") == g["dns"]
    assert set(k for k, v in network) <= {"DHCP", "IPv6AcceptRA", "LinkLocalAddressing", "ConfigureWithoutCarrier", "Address", "Gateway", "DNS"}


def check_nm(files, g):
    path = "etc/NetworkManager/system-connections/guestnet-failover-%s.nmconnection"
    if kernel_paired(g):
        upper = parse_ini(files[path % g["id"]])
        assert [s for s, i in upper] == ["connection", "ethernet", "match", "ipv4", "ipv6"]
        assert one(upper, "ethernet") == [("mac-address", g["mac"].upper())]
    else:
        upper = parse_ini(files[path % g["name"]])
        assert [s for s, i in upper] == ["connection", "ethernet", g["model"], "ipv4", "ipv6"]
        assert values(one(upper, "connection"), "interface-name") == [g["name"]]
        for role, port_mac in (("pv", g["mac"]), ("vf", g["vf_mac"])):
            port = parse_ini(files[path % ("%s-%s" % (g["name"], role))])
            want = ["connection", "ethernet", "match"] + (["team-port"] if g["model"] == "team" else [])
            assert [s for s, i in port] == want
            assert one(port, "ethernet") == [("mac-address", port_mac.upper())]
    for family in ("ipv4", "ipv6"):
        section = one(upper, family)
        cfg = g[family]
        assert [v for k, v in section if k.startswith("address")] == cfg["addresses"]
        assert values(section, "gateway") == ([cfg["gateway"]] if cfg["gateway"] else [])
        dns = [s for s in g["dns"] if (":" in s) == (family == "ipv6")]
        assert values(section, "dns") == ([";".join(dns) + ";"] if dns and cfg["method"] != "disabled" else [])
        assert set(k for k, v in section) <= {"method", "gateway", "dns", "may-fail"} | set("address%d" % i for i in range(1, 8))


def check_netplan(files, groups):
    doc = yaml.load(files["etc/netplan/90-guestnet-failover.yaml"], Loader=UniqueKeyLoader)  # nosec B506 - SafeLoader subclass
    assert list(doc) == ["network"] and set(doc["network"]) <= {"version", "ethernets", "bonds"}
    ethernets = doc["network"].get("ethernets", {})
    bonds = doc["network"].get("bonds", {})
    want_eth = set()
    want_bonds = set()
    for g in groups:
        if kernel_paired(g):
            want_eth.add("0-guestnet-%s" % g["id"])
            upper = ethernets["0-guestnet-%s" % g["id"]]
            assert upper["match"]["macaddress"] == g["mac"]
        else:
            want_eth.update(["0-guestnet-%s-pv" % g["name"], "0-guestnet-%s-vf" % g["name"]])
            want_bonds.add(g["name"])
            upper = bonds[g["name"]]
            assert upper["interfaces"] == ["0-guestnet-%s-pv" % g["name"], "0-guestnet-%s-vf" % g["name"]]
            assert upper["macaddress"] == g["mac"]
            assert ethernets["0-guestnet-%s-vf" % g["name"]]["match"]["macaddress"] == g["vf_mac"]
        assert upper.get("addresses", []) == addresses(g)
        assert [r["via"] for r in upper.get("routes", [])] == gateways(g)
        assert upper.get("nameservers", {}).get("addresses", []) == g["dns"]
    assert set(ethernets) == want_eth and set(bonds) == want_bonds


STANZA = re.compile(r"(?P<top>(auto|allow-hotplug) (?P<dev>[A-Za-z0-9_-]+)|iface (?P<iface>[A-Za-z0-9_-]+) (?P<fam>inet6?) "
                    r"(?P<method>dhcp|auto|static|manual))|    (?P<opt>[a-z][a-z0-9-]*) (?P<rest>[^\x00-\x1f\x7f]+)|#[^\x00-\x1f\x7f]*|")


def check_ifupdown(files, groups):
    text = files["etc/network/interfaces.d/guestnet-failover"]
    ifaces = []
    options = {}
    current = None
    for line in text.split("\n")[:-1]:
        match = STANZA.fullmatch(line)
        assert match, "unparsable ifupdown line %r" % line
        if match.group("iface"):
            current = (match.group("iface"), match.group("fam"))
            assert current not in options, "stanza twice: %r" % (current,)
            ifaces.append(current)
            options[current] = []
        elif match.group("opt"):
            assert current, "option outside a stanza: %r" % line
            options[current].append((match.group("opt"), match.group("rest")))
    want = []
    for g in groups:
        fams = [f for f, k in (("inet", "ipv4"), ("inet6", "ipv6")) if g[k]["method"] != "disabled"]
        want += [(g["name"], f) for f in fams] or [(g["name"], "inet")]
        if not kernel_paired(g):
            want += [(g["pv_name"], "inet"), (g["vf_name"], "inet")]
        for fam, key in (("inet", "ipv4"), ("inet6", "ipv6")):
            cfg = g[key]
            if cfg["method"] != "static":
                continue
            opts = options[(g["name"], fam)]
            assert [v for k, v in opts if k == "address"] == cfg["addresses"][:1]
            assert [v for k, v in opts if k == "gateway"] == ([cfg["gateway"]] if cfg["gateway"] else [])
            extra = [v for k, v in opts if k == "up" and " addr add " in v]
            assert extra == ["ip -%s addr add %s dev %s" % ("6" if fam == "inet6" else "4", a, g["name"]) for a in cfg["addresses"][1:]]
        dns = [v for o in options.values() for k, v in o if k == "dns-nameservers"]
        stanzas = [options[s] for s in ((g["name"], "inet"), (g["name"], "inet6")) if s in options]
        got = [v for o in stanzas for k, v in o if k == "dns-nameservers"]
        # DNS goes into the first enabled family's stanza; with both disabled there is nothing to attach it to
        assert got == ([" ".join(g["dns"])] if g["dns"] and fams else []), (got, dns)
    assert sorted(ifaces) == sorted(want)


def check_udev(files, groups, all_files):
    rules = parse_udev(files["etc/udev/rules.d/81-guestnet-failover.rules"])
    macs = set(g["mac"] for g in groups) | set(g.get("vf_mac") or g["mac"] for g in groups)
    structural = 0
    for rule in rules:
        keys = [k for k, op, v in rule]
        addr = [v for k, op, v in rule if k == "ATTR{address}"]
        if not addr:
            structural += 1
            continue
        assert len(addr) == 1 and addr[0] in macs, rule
        assert all(re.fullmatch(r"ENV\{[A-Z_]+\}|ATTR\{address\}|NAME|RUN|SYSCTL\{net/ipv6/conf/%k/disable_ipv6\}|DEVPATH", k)
                   for k in keys), keys
    assert structural == 3  # SUBSYSTEM!= GOTO, ACTION== GOTO, LABEL
    assert len(rules) - structural <= 4 * len(groups)
    for path, content in all_files.items():
        if path.endswith(".link"):
            link = parse_ini(content)
            assert [s for s, i in link] == ["Match", "Link"]
            name = values(one(link, "Link"), "Name")
            if path.endswith("-lowers.link"):  # lowers keep the distribution's name policy
                assert name == [] and values(one(link, "Link"), "NamePolicy") == ["keep kernel database onboard slot path"]
                # any driver but the upper's, physical devices only (a permanent MAC)
                assert values(one(link, "Match"), "PermanentMACAddress")[0] in macs
                assert values(one(link, "Match"), "Driver")[0] in ("!net_failover", "!hv_netvsc")
            else:
                assert len(name) == 1 and path.endswith("-%s.link" % name[0])
                match = one(link, "Match")
                if values(match, "PermanentMACAddress"):  # a bond/team VF: any physical device with its MAC but the PV
                    assert values(match, "PermanentMACAddress")[0] in macs and values(match, "Driver")[0].startswith("!")
                else:
                    assert values(match, "MACAddress")[0] in macs


@given(scenario())
def test_rendered_files_parse_back_to_the_intended_content(case):
    backend, groups, normalized, options = case
    files = plan.plan_files(groups, backend, options)
    expected = expected_stack_files(backend, normalized)
    assert expected <= set(files), sorted(expected - set(files))
    assert set(files) - expected <= set(EXTRAS), sorted(set(files) - expected)
    for g in normalized:
        if g.get("vf_mac") is None:
            g["vf_mac"] = g["mac"]
        if backend == "networkd":
            check_networkd(files, g)
        elif backend == "NetworkManager":
            check_nm(files, g)
    if backend == "netplan":
        check_netplan(files, normalized)
    if backend == "ifupdown":
        check_ifupdown(files, normalized)
    check_udev(files, normalized, files)


@given(scenario(), st.sampled_from(["name", "mac", "dns", "gateway", "address", "driver"]),
       st.sampled_from(["\n", "\r", "\x00", "%eth0", "%x\n[Network]", "\n    post-up x", '"', " ", "\u0430"]))
def test_any_smuggled_suffix_is_refused(case, field, suffix):
    """Appending a hostile suffix to any value of a valid scenario is refused and names the group."""
    backend, groups, dummy, options = case
    g = groups[0]
    if field == "name" and g.get("name"):
        g["name"] += suffix
    elif field == "mac":
        g["mac"] += suffix
    elif field == "dns" and g["dns"]:
        g["dns"][0] += suffix
    elif field == "gateway" and g["ipv4"].get("gateway"):
        g["ipv4"]["gateway"] += suffix
    elif field == "address" and g["ipv6"].get("addresses"):
        g["ipv6"]["addresses"][0] = g["ipv6"]["addresses"][0].replace("/", suffix + "/")
    else:
        g["vf_drivers"][0] += suffix
    with pytest.raises(validate.ConfigError) as err:
        plan.plan_files(groups, backend, options)
    assert str(err.value).startswith("groups[0]")
