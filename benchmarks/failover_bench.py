#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unplug/re-plug the VF of a lab guest N times under the lab's 10 ms ping; print one row per action.

Usage (guest booted and converged with failover_link first):
  PYTHONPATH=lab .venv/bin/python benchmarks/failover_bench.py NAME --target 10.99.0.10 --cycles 20
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys


def measure(name, action, target, after):
    out = subprocess.run([sys.executable, "-m", "guestnet_lab", "measure", name, "--action", action,
                          "--target", target, "--after", str(after), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--target", required=True)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--after", type=float, default=4.0)
    args = parser.parse_args(argv)
    rows = {"unplug": [], "replug": []}
    for cycle in range(args.cycles):
        for action in ("unplug", "replug"):
            data = measure(args.name, action, args.target, args.after)
            rows[action].append(data["lost"])
            print("%2d %-6s lost=%d longest_gap_ms=%s" % (cycle + 1, action, data["lost"], data["longest_gap_ms"]), flush=True)
    for action, lost in rows.items():
        print("%s: median %s, max %s, min %s lost (10 ms ping, %d cycles)" % (
            action, statistics.median(lost), max(lost), min(lost), len(lost)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
