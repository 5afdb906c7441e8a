# SPDX-License-Identifier: GPL-3.0-or-later
"""Announcer: rendered files, frame layout (RFC 5227 / RFC 4861), rate limit, and a real burst on veth."""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import announce

MAC = "52:54:00:12:34:56"
GROUP = {"name": "eth0", "model": "net_failover", "mac": MAC, "pv_driver": "virtio_net", "vf_drivers": ["e1000e"]}


@pytest.fixture()
def sender(tmp_path):
    ns = announce.sender()
    ns["STAMPS"] = str(tmp_path / "stamps")
    return ns


def test_render_files_under_root(tmp_path):
    files = announce.render_files([GROUP], root=str(tmp_path))
    paths = [f["path"] for f in files]
    owned = (announce.SCRIPT_PATH, announce.UNIT_PATH, announce.RULES_PATH, announce.CONFIG_PATH)
    assert paths == [str(tmp_path / p.lstrip("/")) for p in owned]
    by = dict((os.path.basename(f["path"]), f) for f in files)
    rules = by["61-guestnet-announce.rules"]["content"]
    assert 'ACTION=="add", SUBSYSTEM=="net", ATTR{address}=="%s"' % MAC in rules
    # the remove rule's mark must survive udev's rename ("move" replaces the device's database entry), and
    # lowers present before the rules existed get it from the "change" events failover_config replays
    assert 'ACTION=="add|move|change", SUBSYSTEM=="net", ATTR{address}=="%s", ENV{GUESTNET_FAILOVER_MAC}="%s"\n' % (MAC, MAC) in rules
    assert 'RUN+="/bin/systemctl --no-block start guestnet-announce@$env{IFINDEX}.service"' in rules
    assert 'ENV{GUESTNET_FAILOVER_MAC}=="%s", RUN+="/bin/systemctl --no-block start guestnet-announce@%s.service"' % (MAC, MAC) in rules
    unit = by["guestnet-announce@.service"]["content"]
    assert "Type=oneshot" in unit and "ExecStart=/usr/bin/python3 %s %%I" % announce.SCRIPT_PATH in unit
    assert by["guestnet-announce"]["mode"] == "0755" and by["guestnet-announce"]["content"] == announce.SENDER
    assert '"upper": "eth0"' in by["announce.json"]["content"]
    compile(announce.SENDER, "sender", "exec")


def test_install_is_idempotent(tmp_path):
    files = announce.render_files([GROUP], root=str(tmp_path))
    assert len(announce.install(files, check_mode=True)) == 4
    assert not os.path.exists(files[0]["path"])
    assert len(announce.install(files)) == 4
    assert os.stat(files[0]["path"]).st_mode & 0o777 == 0o755
    assert announce.install(files) == []


def test_unnamed_kernel_upper_is_found_by_mac():
    """image_build.yml with image_macs only: the kernel names the net_failover master, the sender finds it by MAC."""
    files = announce.render_files([dict(GROUP, name=None)])
    by = dict((os.path.basename(f["path"]), f) for f in files)
    assert '"upper": null' in by["announce.json"]["content"]
    assert "# net_failover (upper named by the kernel) (%s)" % MAC in by["61-guestnet-announce.rules"]["content"]
    with pytest.raises(announce.AnnounceError, match="invalid upper device name None"):
        announce.render_files([dict(GROUP, name=None, model="bond")])


@pytest.mark.parametrize("bad", [dict(GROUP, mac="52:54:00:12:34"), dict(GROUP, name="eth0 x"),
                                 dict(GROUP, name='a"b'), dict(GROUP, vf_drivers=["e1000e|x"])])
def test_render_refuses_unsafe_values(bad):
    with pytest.raises(announce.AnnounceError):
        announce.render_files([bad])


def test_garp_is_an_rfc5227_announcement(sender):
    frame = sender["garp"](MAC, socket.inet_aton("192.0.2.10"))
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == bytes.fromhex("525400123456")
    assert struct.unpack("!H", frame[12:14])[0] == 0x0806
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    assert frame[28:32] == frame[38:42] == socket.inet_aton("192.0.2.10")  # sender IP == target IP
    assert frame[32:38] == b"\0" * 6


def test_unsolicited_na_layout_and_checksum(sender):
    ip6 = socket.inet_pton(socket.AF_INET6, "2001:db8::10")
    frame = sender["unsolicited_na"](MAC, ip6)
    assert frame[:6] == bytes.fromhex("333300000001") and struct.unpack("!H", frame[12:14])[0] == 0x86DD
    ip = frame[14:54]
    assert ip[6] == 58 and ip[7] == 255 and ip[8:24] == ip6 and ip[24:40] == sender["ALL_NODES"]
    icmp = frame[54:]
    assert icmp[0] == 136 and icmp[1] == 0
    flags = struct.unpack("!I", icmp[4:8])[0]
    assert flags == 0x20000000  # Override, not Solicited, not Router
    assert icmp[8:24] == ip6 and icmp[24:26] == b"\x02\x01" and icmp[26:32] == bytes.fromhex("525400123456")
    pseudo = ip6 + sender["ALL_NODES"] + struct.pack("!I", len(icmp)) + b"\0\0\0\x3a"
    assert sender["checksum"](pseudo + icmp) == 0


def test_rate_limit_per_device(sender):
    assert sender["rate_ok"]("eth0", now=100.0)
    assert not sender["rate_ok"]("eth0", now=100.05)
    assert sender["rate_ok"]("eth1", now=100.05)
    assert sender["rate_ok"]("eth0", now=100.11)


def test_handle_mac_for_unknown_device_sends_nothing(sender, tmp_path):
    sender["SYS"] = str(tmp_path / "sys")
    os.makedirs(sender["SYS"])
    assert sender["handle"]("52:54:00:12:34:56", groups=[]) == {}
    assert sender["handle"]("eth9", groups=[]) == {}


# --------------------------------------------------------------------------- netns: a real burst
def _sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


CAPTURE = r"""
import socket, struct, sys, time, json
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.05)
end = time.monotonic() + float(sys.argv[2])
out = []
print("ready", flush=True)
while time.monotonic() < end:
    try:
        data = s.recv(2048)
    except socket.timeout:
        continue
    et = struct.unpack("!H", data[12:14])[0]
    if et == 0x0806 and data[20:22] == b"\x00\x01" and data[28:32] == data[38:42]:
        out.append([time.monotonic(), "arp", socket.inet_ntoa(data[28:32])])
    elif et == 0x86DD and data[20] == 58 and data[54] == 136:
        out.append([time.monotonic(), "na", socket.inet_ntop(socket.AF_INET6, data[62:78])])
print(json.dumps(out), flush=True)
"""


@pytest.fixture()
def netns_pair():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    a, b = "gnt-ann-a", "gnt-ann-b"
    try:
        _sh("ip", "netns", "add", a)
        _sh("ip", "netns", "add", b)
    except (subprocess.CalledProcessError, OSError):
        pytest.skip("no network namespaces")
    try:
        _sh("ip", "-n", a, "link", "add", "lowA", "type", "veth", "peer", "name", "peerB", "netns", b)
        _sh("ip", "-n", a, "link", "add", "upA", "type", "bridge")
        _sh("ip", "-n", a, "link", "set", "upA", "address", MAC)
        _sh("ip", "-n", a, "link", "set", "lowA", "master", "upA")
        # a second port keeps the upper's carrier (like the standby does) so DAD is long done
        _sh("ip", "-n", a, "link", "add", "keepA", "type", "veth", "peer", "name", "keepB")
        _sh("ip", "-n", a, "link", "set", "keepA", "master", "upA")
        _sh("ip", "-n", a, "link", "set", "keepB", "up")
        _sh("ip", "-n", a, "link", "set", "keepA", "up")
        _sh("ip", "-n", b, "link", "set", "peerB", "up")
        _sh("ip", "-n", a, "link", "set", "upA", "up")
        _sh("ip", "-n", a, "addr", "add", "192.0.2.10/24", "dev", "upA")
        _sh("ip", "-n", a, "addr", "add", "2001:db8::10/64", "dev", "upA", "nodad")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            out = subprocess.run(["ip", "-n", a, "-6", "addr", "show", "dev", "upA", "tentative"],
                                 capture_output=True, text=True, check=False).stdout
            if "inet6" not in out:
                break
            time.sleep(0.1)
        yield a, b
    finally:
        subprocess.run(["ip", "netns", "del", a], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", b], capture_output=True, check=False)


@pytest.mark.netns
def test_burst_from_upper_when_lower_gains_carrier(netns_pair, tmp_path):
    a, b = netns_pair
    script = tmp_path / "guestnet-announce"
    script.write_text(announce.SENDER.replace('STAMPS = "/run/guestnet-announce"', 'STAMPS = "%s"' % (tmp_path / "st")))
    cap = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", CAPTURE, "peerB", "3"],
                           stdout=subprocess.PIPE, text=True)
    assert cap.stdout.readline().strip() == "ready"
    # the lower is down: the script waits for its carrier, then sends the burst from the upper
    sender = subprocess.Popen(["ip", "netns", "exec", a, sys.executable, str(script), "lowA"],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    t_up = time.monotonic()
    _sh("ip", "-n", a, "link", "set", "lowA", "up")
    out, _err = sender.communicate(timeout=15)
    assert out.startswith("upA: ")
    import json
    got = json.loads(cap.communicate(timeout=10)[0].strip().splitlines()[-1])
    arps = [g for g in got if g[1] == "arp"]
    nas = [g for g in got if g[1] == "na"]
    assert [g[2] for g in arps] == ["192.0.2.10"] * 3
    assert {g[2] for g in nas} >= {"2001:db8::10"} and any(g[2].startswith("fe80::") for g in nas)
    offsets = [round(g[0] - arps[0][0], 2) for g in arps]
    assert offsets[1] == pytest.approx(0.05, abs=0.03) and offsets[2] == pytest.approx(0.2, abs=0.05)
    assert arps[0][0] - t_up < 0.5
    # a second trigger within 100 ms is rate-limited; after it, a new burst goes out
    ns = announce.sender()
    ns["STAMPS"] = str(tmp_path / "st2")
    assert ns["rate_ok"]("upA") and not ns["rate_ok"]("upA")
