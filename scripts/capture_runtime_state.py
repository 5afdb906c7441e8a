#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Capture a lab guest's runtime state (``link_state.read_state``) as a unit-test fixture.

The collection's module_utils go to the guest's /run (a tar over SSH), ``python3 -m ...link_state`` prints one
snapshot, and the fixture gets ``_source`` (what the guest was, in the caller's words) next to it. The guest
needs python3-pyroute2.

  PYTHONPATH=lab .venv/bin/python scripts/capture_runtime_state.py NAME tests/unit/fixtures/runtime/X.json \\
      --source "real: lab guest (...)" [--team team0]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "ansible_collections/guestnet/failover/plugins/module_utils"
GUEST_DIR = "/run/guestnet-capture"
LAB = [sys.executable, "-m", "guestnet_lab"]


def module_utils_tar():
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        src = os.path.join(ROOT, "plugins", "module_utils")
        for name in sorted(os.listdir(src)):
            if name.endswith(".py"):
                tar.add(os.path.join(src, name), arcname="%s/%s" % (PACKAGE, name))
    return data.getvalue()


def lab_ssh(name, command, stdin=None):
    proc = subprocess.run(LAB + ["ssh", name, command], input=stdin, capture_output=True, check=False, timeout=120,
                          env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lab")))
    if proc.returncode:
        raise SystemExit("guest %s: %r failed (%d): %s" % (name, command, proc.returncode, proc.stderr.decode()[-800:]))
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("output")
    parser.add_argument("--source", required=True, help="what the guest was: topology, release, stack, state")
    parser.add_argument("--team", action="append", default=[], help="a team upper whose teamd state to add")
    args = parser.parse_args()
    lab_ssh(args.name, "rm -rf %s && mkdir -p %s && tar -xz -C %s" % (GUEST_DIR, GUEST_DIR, GUEST_DIR), module_utils_tar())
    module = PACKAGE.replace("/", ".") + ".link_state"
    text = lab_ssh(args.name, "PYTHONPATH=%s PYTHONDONTWRITEBYTECODE=1 python3 -m %s %s; rm -rf %s"
                   % (GUEST_DIR, module, " ".join(args.team), GUEST_DIR))
    state = json.loads(text)
    state["_source"] = args.source
    with open(args.output, "w") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)
        handle.write("\n")
    print("%s: %d links, %d routes" % (args.output, len(state["links"]), len(state["routes"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
