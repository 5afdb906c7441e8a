# SPDX-License-Identifier: GPL-3.0-or-later
"""Time discovery (netlink dump + sysfs + ethtool + classify + findings) as the link count grows.

Run as root from the repository: ``.venv/bin/python benchmarks/discovery_bench.py``.
A throwaway netns gets lab-guest-like links (eth0 + eth0nsby + enp2s0 + a management NIC, as
veths with an address and a route), then extra veth links are added in steps up to 256. For each
step the median of ``--runs`` captures is reported, measured inside the netns (``in-ns``) and
through ``capture(netns=...)`` as the module does it (``module``, includes the fork).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # conftest creates the collection symlink
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.guestnet.failover.plugins.module_utils import netdev_read  # noqa: E402
from ansible_collections.guestnet.failover.plugins.module_utils.classify import groups  # noqa: E402
from ansible_collections.guestnet.failover.plugins.module_utils.findings import evaluate  # noqa: E402


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


def batch(netns, lines):
    subprocess.run(["ip", "-n", netns, "-batch", "-"], input="\n".join(lines) + "\n", universal_newlines=True, check=True)


def guest_like(netns):
    batch(netns, [
        "link set lo up",
        "link add eth0 type veth peer name eth0nsby",
        "link add enp2s0 type veth peer name mgmt0",
        "link set eth0 up", "link set eth0nsby up", "link set enp2s0 up", "link set mgmt0 up",
        "addr add 192.0.2.10/24 dev eth0",
        "addr add 198.51.100.10/24 dev mgmt0",
        "route add default via 192.0.2.1 dev eth0",
    ])


def add_veths(netns, start, count):
    """Add ``count`` links (count/2 veth pairs), numbered from ``start``."""
    lines = []
    for i in range(start, start + count, 2):
        lines.append("link add bx%d type veth peer name bx%d" % (i, i + 1))
        lines.append("link set bx%d up" % i)
    batch(netns, lines)


def in_ns_timings(netns, runs):
    """Fork, enter the netns once, time read + classify + findings ``runs`` times; return ms list."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        netdev_read._enter_netns(os.path.join(netdev_read.NETNS_DIR, netns))  # pylint: disable=protected-access
        out = []
        for _run in range(runs):
            start = time.perf_counter()
            capture = netdev_read.capture_here(probe_managers=False, host_netns=False)
            evaluate(capture, groups(capture))
            out.append((time.perf_counter() - start) * 1000.0)
        with os.fdopen(wfd, "w") as handle:
            json.dump({"ms": out, "links": len(capture["links"])}, handle)
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd) as handle:
        data = json.load(handle)
    os.waitpid(pid, 0)
    return data["ms"], data["links"]


def module_timings(netns, runs):
    out = []
    for _run in range(runs):
        start = time.perf_counter()
        capture = netdev_read.capture(netns=netns)
        evaluate(capture, groups(capture))
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--steps", default="0,32,64,128,256")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    netns = "gnf-bench-%s" % uuid.uuid4().hex[:6]
    ip("netns", "add", netns)
    rows = []
    try:
        guest_like(netns)
        have = 0
        for extra in steps:
            if extra > have:
                add_veths(netns, have, extra - have)
                have = extra
            in_ns, links = in_ns_timings(netns, args.runs)
            module = module_timings(netns, args.runs)
            rows.append((extra, links, statistics.median(in_ns), statistics.median(module)))
    finally:
        ip("netns", "del", netns)
    print("| extra veth links | links dumped | in-ns median ms | module (fork + capture) median ms |")
    print("|---:|---:|---:|---:|")
    for extra, links, in_ns, module in rows:
        print("| %d | %d | %.1f | %.1f |" % (extra, links, in_ns, module))
    (_e0, l0, t0, _m0), (_e1, l1, t1, _m1) = rows[0], rows[-1]
    if not l0 or l1 == l0:
        raise SystemExit("no links were read: the capture is broken")
    slope = (t1 - t0) / float(l1 - l0) if l1 != l0 else 0.0
    print("\ngrowth: %.3f ms per link (in-ns), %.1fx time for %.1fx links" % (slope, t1 / t0, l1 / float(l0)))
    # linearity: the per-link cost between consecutive steps should stay roughly constant
    for (ea, la, ta, _ma), (eb, lb, tb, _mb) in zip(rows, rows[1:]):
        print("  %3d -> %3d extra: %.3f ms/link" % (ea, eb, (tb - ta) / float(lb - la)))


if __name__ == "__main__":
    main()
