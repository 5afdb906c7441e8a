# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration: run the read adapter for real against a fresh network namespace (root only)."""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import netdev_read
from ansible_collections.guestnet.failover.plugins.module_utils.classify import groups
from ansible_collections.guestnet.failover.plugins.module_utils.findings import evaluate

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"),
    pytest.mark.skipif(netdev_read.pyroute2_import_error() is not None, reason="needs pyroute2"),
]


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture()
def netns():
    name = "gnf-test-%s" % uuid.uuid4().hex[:8]
    ip("netns", "add", name)
    try:
        yield name
    finally:
        ip("netns", "del", name)


def test_reads_veth_pairs_bridge_and_addresses(netns):
    ip("-n", netns, "link", "add", "va0", "type", "veth", "peer", "name", "vb0")
    ip("-n", netns, "link", "add", "br0", "type", "bridge")
    ip("-n", netns, "link", "set", "vb0", "master", "br0")
    ip("-n", netns, "link", "set", "va0", "address", "02:00:00:00:00:0a")
    ip("-n", netns, "link", "set", "va0", "mtu", "1400")
    for dev in ("va0", "vb0", "br0"):
        ip("-n", netns, "link", "set", dev, "up")
    ip("-n", netns, "addr", "add", "192.0.2.10/24", "dev", "va0")
    ip("-n", netns, "link", "property", "add", "dev", "va0", "altname", "uplink-alt")
    ip("-n", netns, "link", "add", "type", "veth")  # kernel-named pair: name_assign_type 1 (enum)

    capture = netdev_read.capture(netns=netns)
    by_name = dict((link["name"], link) for link in capture["links"])

    assert capture["netns"] == netns
    assert set(by_name) >= {"lo", "va0", "vb0", "br0", "veth0", "veth1"}
    va0, vb0, br0 = by_name["va0"], by_name["vb0"], by_name["br0"]
    assert va0["kind"] == "veth" and va0["driver"] == "veth"
    assert va0["mac"] == "02:00:00:00:00:0a" and va0["mtu"] == 1400
    assert va0["altnames"] == ["uplink-alt"]
    assert va0["name_assign_type"] == 3
    assert by_name["veth0"]["name_assign_type"] == 1
    assert {"UP", "LOWER_UP"} <= set(va0["flags"]) and va0["carrier"] is True and va0["operstate"] == "UP"
    assert va0["has_route"] is True and vb0["has_route"] is False
    assert {"family": "inet", "address": "192.0.2.10", "prefixlen": 24, "scope": "global", "flags": ["permanent"]} in va0["addresses"]
    assert vb0["master"] == "br0" and vb0["slave_kind"] == "bridge" and br0["kind"] == "bridge"
    assert "UP" not in by_name["veth0"]["flags"] and by_name["veth0"]["carrier"] is False
    # software links only: no device, no failover group, no finding
    assert va0["device_path"] is None and va0["device_driver"] is None and va0["standby_feature"] is None
    assert groups(capture) == []
    assert evaluate(capture, groups(capture)) == []
    # the host's links stay out of the namespace capture
    host = set(os.listdir("/sys/class/net"))
    assert not (host - {"lo"}) & set(by_name)


def test_unknown_netns_fails_clearly():
    with pytest.raises(netdev_read.CaptureError, match="not found under /run/netns"):
        netdev_read.capture(netns="gnf-does-not-exist-%s" % uuid.uuid4().hex[:6])


def test_module_reads_netns(netns, monkeypatch, capsys):
    """The module itself (AnsibleModule, argument spec, facts) against the namespace."""
    import json
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes
    from ansible_collections.guestnet.failover.plugins.modules import netdev_facts

    ip("-n", netns, "link", "add", "va0", "type", "veth", "peer", "name", "vb0")
    args = json.dumps({"ANSIBLE_MODULE_ARGS": {"netns": netns, "include_links": False}})
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(args))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit) as exited:
        netdev_facts.main()
    result = json.loads(capsys.readouterr().out)
    assert exited.value.code == 0, result
    fact = result["ansible_facts"]["guestnet_failover"]
    assert result["changed"] is False
    assert fact["netns"] == netns and "links" not in fact
    assert fact["groups"] == [] and fact["findings"] == [] and fact["summary"]["error"] == 0
