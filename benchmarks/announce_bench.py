#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Announcer reaction time and learning-bridge unplug loss: the oneshot design (udev -> systemd -> a fresh python3) and
the resident rtnetlink watcher (issue 13), side by side on one guest in one run.

Boots one lab guest (kvm-failover topology, learning bridge, instance name rt-...), converges it with
``guestnet.failover.failover_link`` (net_failover group enp1s0, 10.99.0.10/24, announcer on) from the OLD collection
(--old-ref), measures N unplug/re-plug cycles, converges it again from the NEW collection (--new-ref), measures N
cycles again, and takes the guest down. Per unplug: lost 10 ms pings (``guestnet_lab measure``) and, in the guest,
the reaction time = first gratuitous ARP leaving the upper minus the kernel's first link message that the VF goes
(IFF_LOWER_UP cleared, else its RTM_DELLINK), both seen by one small probe process (its wake-up latency is in both). Also the watcher's memory (VmRSS/VmHWM).
Run from the repository root as root:

  PYTHONPATH=lab .venv/bin/python benchmarks/announce_bench.py --cycles 20

Raw results (one JSON line per measurement) go to benchmarks/results/<UTC stamp>-announce/.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover_bench as fb  # noqa: E402  pylint: disable=wrong-import-position

# In the guest: one process sees both the kernel's link message and the frame leaving the upper (PACKET_OUTGOING).
PROBE = r"""
import json, select, socket, struct, sys, time
mac, upper, duration, out = bytes.fromhex(sys.argv[1].replace(":", "")), sys.argv[2], float(sys.argv[3]), sys.argv[4]
nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
nl.bind((0, 1))
pk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL: only those see outgoing frames
pk.bind((upper, 0))
events, frames = [], []
end = time.monotonic() + duration
open(out + ".ready", "w").close()
while time.monotonic() < end:
    ready = select.select([nl, pk], [], [], 0.05)[0]
    now = time.monotonic()
    if nl in ready:
        data, pos = nl.recv(65536), 0
        while pos + 16 <= len(data):
            length, kind = struct.unpack_from("=LH", data, pos)
            if length < 16:
                break
            if kind in (16, 17):
                flags = struct.unpack_from("=I", data, pos + 24)[0]
                off, attrs = pos + 32, {}
                while off + 4 <= pos + length:
                    alen, atype = struct.unpack_from("=HH", data, off)
                    if alen < 4:
                        break
                    attrs[atype] = data[off + 4:off + alen]
                    off += (alen + 3) & ~3
                if attrs.get(1) == mac:
                    events.append([now, kind, attrs.get(3, b"").rstrip(b"\0").decode(), flags])
            pos += (length + 3) & ~3
    if pk in ready:
        data, addr = pk.recvfrom(2048)
        if addr[2] == 4 and len(data) >= 42 and data[12:14] == b"\x08\x06" and data[20:22] == b"\x00\x01" and data[28:32] == data[38:42]:
            frames.append(now)
with open(out, "w") as handle:
    json.dump({"links": events, "garp": frames}, handle)
"""


def reaction_ms(probe):
    """First gratuitous ARP after the kernel's first sign that the VF goes away, in ms (None when either is missing).

    The first sign: the VF's first link message without IFF_LOWER_UP (it goes down before it is unregistered), else
    its RTM_DELLINK. The VF is the device of the RTM_DELLINK.
    """
    links = probe.get("links") or []
    gone = [name for dummy, kind, name, dummy2 in links if kind == 17]
    if not gone:
        return None
    t0 = min(t for t, kind, name, flags in links if name == gone[0] and (kind == 17 or not flags & 0x10000))
    after = [t for t in probe.get("garp", []) if t >= t0]
    return round((after[0] - t0) * 1000, 1) if after else None


class Bench(fb.Worker):
    def __init__(self, args, outdir):
        super().__init__(args, "learning", outdir, None)

    def probe_start(self, name, tag):
        fb.guest(name, "cat > /run/rt-probe.py <<'EOF'\n%sEOF\nrm -f /run/rt-probe-%s.json*; systemd-run -q --unit rt-probe-%s "
                 "/usr/bin/python3 /run/rt-probe.py %s enp1s0 %s /run/rt-probe-%s.json; "
                 "for i in $(seq 100); do [ -e /run/rt-probe-%s.json.ready ] && exit 0; sleep 0.1; done; exit 1"
                 % (PROBE, tag, tag, fb.MAC, self.args.after + 6, tag, tag))

    def probe_result(self, name, tag):
        text = fb.guest(name, "for i in $(seq 200); do [ -e /run/rt-probe-%s.json ] && break; sleep 0.1; done; "
                        "cat /run/rt-probe-%s.json" % (tag, tag), check=False)
        try:
            return json.loads(text)
        except ValueError:
            return {}

    def memory(self, name):
        text = fb.guest(name, "pid=$(systemctl show -p MainPID --value guestnet-announce.service); "
                        "[ \"$pid\" != 0 ] && grep -E '^(VmRSS|VmHWM)' /proc/$pid/status", check=False)
        return dict((line.split(":")[0], line.split(":")[1].strip()) for line in text.splitlines() if ":" in line)

    def design(self, name, inst, design, collections):
        self.collections = collections
        self.converge(name, inst, "collection")
        # lowers that existed before the rules get the old design's remove mark from a "change" event (failover_config
        # replays them, failover_link does not): replayed for both designs so the first cycle is comparable
        fb.guest(name, "udevadm trigger --subsystem-match=net --action=change && udevadm settle --timeout=30")
        if design == "old":
            # a watcher left by an earlier run would answer too: the old design has none
            fb.guest(name, "systemctl stop guestnet-announce.service 2>/dev/null; true", check=False)
        mem = self.memory(name) if design == "new" else {}
        self.record(design, "memory", {"memory": mem})
        for cycle in range(self.args.old_cycles if design == "old" and self.args.old_cycles else self.args.cycles):
            self.wait_vf_active(name, "collection")
            time.sleep(self.args.settle)
            tag = "%s%d" % (design, cycle)
            self.probe_start(name, tag)
            data = self.measure(name, design, "unplug")
            probe = self.probe_result(name, tag)
            data = dict(data, reaction_ms=reaction_ms(probe), probe=probe)
            self.results[design]["unplug"][-1] = data
            self.raw.write(json.dumps({"case": design, "kind": "reaction", "reaction_ms": data["reaction_ms"], "probe": probe}) + "\n")
            fb.say("%s cycle %d: reaction %s ms" % (design, cycle + 1, data["reaction_ms"]))
            self.measure(name, design, "replug")
        self.journal(name, design)


def summary(bench, load):
    lines = ["| design | cycles | unplug lost: median (min–max) | cycles ≤ 10 lost | reaction ms: median (min–max) "
             "| re-plug lost: median (min–max) | watcher memory |", "|" + "---|" * 7]
    for design in ("old", "new"):
        res = bench.results.get(design) or {}
        unp = res.get("unplug", [])
        if not unp:
            continue
        lost = [u["lost"] for u in unp]
        reaction = [u.get("reaction_ms") for u in unp]
        mem = (res.get("memory") or [{}])[0].get("memory") or {}
        lines.append("| %s | %d | %s | %d of %d | %s | %s | %s |" % (
            design, len(unp), fb.spread(lost), sum(1 for n in lost if n <= 10), len(lost), fb.spread(reaction, "%.0f"),
            fb.spread([r["lost"] for r in res.get("replug", [])]),
            ("VmRSS %s, VmHWM %s" % (mem.get("VmRSS"), mem.get("VmHWM"))) if mem else "n/a (no resident process)"))
        missing = sum(1 for r in reaction if r is None)
        if missing:
            lines[-1] += " (%d cycles without a frame after the event)" % missing
    lines.append("")
    lines.append("Host load: " + "; ".join(load))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--old-cycles", type=int, help="cycles of the old design (default: --cycles)")
    parser.add_argument("--after", type=float, default=4.0, help="seconds measured after each action")
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--release", default="12")
    parser.add_argument("--old-ref", default="7c3de03", help="git ref of the oneshot design")
    parser.add_argument("--new-ref", default="HEAD", help="git ref of the resident watcher")
    parser.add_argument("--designs", nargs="+", choices=["old", "new"], default=["old", "new"])
    parser.add_argument("--name", default="rt-ann")
    args = parser.parse_args(argv)
    if not args.name.startswith("rt-"):
        parser.error("instance names of this bench start with rt-")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outdir = os.path.join(fb.ROOT, "benchmarks", "results", stamp + "-announce")
    os.makedirs(outdir)
    export = os.path.join(fb.ROOT, "build", "bench-collections")
    refs = {"old": fb.export_collection(args.old_ref, export), "new": fb.export_collection(args.new_ref, export)}
    load = ["before: " + fb.uptime()]
    bench = Bench(args, outdir)
    try:
        fb.STARTED.add(args.name)
        inst = json.loads(fb.lab("up", args.name, "--topology", "kvm-failover", "--release", args.release,
                                 "--bridge-mode", "learning", "--json").stdout)
        fb.ensure_pyroute2(args.name)
        for design in args.designs:
            fb.say("design", design, "collection", refs[design][1][:10])
            bench.design(args.name, inst, design, refs[design][0])
            load.append("after %s: %s" % (design, fb.uptime()))
    finally:
        fb.lab("down", args.name, check=False)
        fb.STARTED.discard(args.name)
        bench.raw.close()
    text = "collections: old %s, new %s\n\n%s\n" % (refs["old"][1][:10], refs["new"][1][:10], summary(bench, load))
    with open(os.path.join(outdir, "summary.md"), "w") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
