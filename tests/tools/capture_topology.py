# SPDX-License-Identifier: GPL-3.0-or-later
"""Capture a real topology into a unit-test fixture (tests/unit/fixtures/captures/NAME.json).

    python tests/tools/capture_topology.py --out FILE --source TEXT              # this host's netns
    python tests/tools/capture_topology.py --netns NAME --out FILE --source TEXT # a named netns (root)
    python tests/tools/capture_topology.py --lab GUEST --out FILE --source TEXT  # a lab guest, via the lab's ssh

For --lab, netdev_read.py (stand-alone: no collection imports) is piped to ``python3 -`` in the
guest through ``python -m guestnet_lab ssh GUEST``; the guest needs python3-pyroute2.
Each fixture records where it came from in ``_source``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READER = os.path.join(ROOT, "plugins", "module_utils", "netdev_read.py")

GUEST_MAIN = """
import json as _json, subprocess as _sp
def _run(cmd):
    p = _sp.run(cmd, stdout=_sp.PIPE, stderr=_sp.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr
print("@@CAPTURE@@" + _json.dumps(capture(run_command=_run)))
"""


def capture_local(netns):
    sys.path.insert(0, os.path.dirname(READER))
    import netdev_read  # pylint: disable=import-error,import-outside-toplevel

    def run(cmd):
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    return netdev_read.capture(netns=netns, run_command=run)


def capture_lab(guest):
    with open(READER) as handle:
        script = handle.read() + GUEST_MAIN
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lab"))
    cmd = [sys.executable, "-m", "guestnet_lab", "ssh", guest, "python3 -"]
    proc = subprocess.run(cmd, input=script, stdout=subprocess.PIPE, universal_newlines=True, env=env, cwd=ROOT, check=True)
    for line in proc.stdout.splitlines():
        if line.startswith("@@CAPTURE@@"):
            return json.loads(line[len("@@CAPTURE@@"):])
    raise SystemExit("no capture in the guest's output:\n" + proc.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--netns")
    where.add_argument("--lab", metavar="GUEST")
    parser.add_argument("--source", required=True, help="where the capture comes from (kept in _source)")
    parser.add_argument("--out", help="fixture file (default: stdout)")
    args = parser.parse_args(argv)
    data = capture_lab(args.lab) if args.lab else capture_local(args.netns)
    data = dict([("_source", args.source)] + sorted(data.items()))
    text = json.dumps(data, indent=1, sort_keys=False) + "\n"
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
