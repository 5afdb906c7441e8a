# SPDX-License-Identifier: GPL-3.0-or-later
"""Command line of the lab: ``python -m guestnet_lab <command> ...``."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

from guestnet_lab import images, measure, netns, seed, topologies, vm
from guestnet_lab.util import LabError


def _print(data: object, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    elif isinstance(data, dict):
        for key, value in data.items():
            print(f"{key}: {value}")
    else:
        print(data)


def parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    top = argparse.ArgumentParser(prog="python -m guestnet_lab", description="VM lab for guestnet.failover")
    sub = top.add_subparsers(dest="command", required=True)

    img = sub.add_parser("image", help="guest images").add_subparsers(dest="image_command", required=True)
    build = img.add_parser("build", help="build (or reuse) the image of a Debian release")
    build.add_argument("--release", choices=sorted(images.RELEASES), default="12")
    build.add_argument("--kind", choices=images.KINDS, default="lab",
                       help="lab (direct kernel boot, all stacks) or cloud (cloud-init + netplan, boots via GRUB)")
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    img.add_parser("prune", help="remove cached images of old recipes that no instance uses")

    upp = sub.add_parser("up", help="boot an instance and wait for SSH")
    upp.add_argument("name")
    upp.add_argument("--topology", choices=sorted(topologies.TOPOLOGIES), default="kvm-failover")
    upp.add_argument("--release", choices=sorted(images.RELEASES), default="12")
    upp.add_argument("--bridge-mode", choices=netns.BRIDGE_MODES, default="learning")
    upp.add_argument("--memory", type=int, default=1024, help="MiB")
    upp.add_argument("--cpus", type=int, default=2)
    upp.add_argument("--timeout", type=float, help=f"seconds to wait for SSH (default {vm.SSH_TIMEOUT:.0f}, "
                     f"cloud images {vm.CLOUD_SSH_TIMEOUT:.0f})")
    upp.add_argument("--image", choices=images.KINDS, default="lab", help="image kind (default: lab)")
    upp.add_argument("--seed", choices=seed.SEEDS, help="cloud images: network-config of the NoCloud seed (default v2)")
    upp.add_argument("--instance-id", help="cloud images: the seed's instance-id (default NAME-1)")
    upp.add_argument("--json", action="store_true")

    rsd = sub.add_parser("reseed", help="cloud images: swap in a new NoCloud seed (next boot is a new instance)")
    rsd.add_argument("name")
    rsd.add_argument("--seed", choices=seed.SEEDS, required=True)
    rsd.add_argument("--instance-id", help="default NAME-<n>, n counting the seeds this instance had")
    rsd.add_argument("--json", action="store_true")

    for cmd, text in (("down", "stop an instance and remove everything it created"),
                      ("serial", "print the serial log path")):
        sub.add_parser(cmd, help=text).add_argument("name")
    rbt = sub.add_parser("reboot", help="reboot the guest, wait for SSH")
    rbt.add_argument("name")
    rbt.add_argument("--timeout", type=float, help="seconds to wait for SSH (default 240, cloud images 600)")

    sshp = sub.add_parser("ssh", help="SSH into the guest (or run a command there)")
    sshp.add_argument("name")
    sshp.add_argument("remote", nargs=argparse.REMAINDER)

    unp = sub.add_parser("unplug", help="hot-unplug a primary (QMP device_del)")
    unp.add_argument("name")
    unp.add_argument("--device", help="primary id (default: the first, hostdev0)")
    unp.add_argument("--json", action="store_true")

    rep = sub.add_parser("replug", help="hot-plug a primary back (QMP device_add)")
    rep.add_argument("name")
    rep.add_argument("--device", help="primary id (default: the first, hostdev0)")
    rep.add_argument("--slot", help="'alt' for the spare root port, or a root port id")
    rep.add_argument("--model", choices=sorted(vm.PRIMARY_MODELS),
                     help="QEMU NIC model to plug (default: the boot one, e1000e); e1000 gives another guest driver")
    rep.add_argument("--no-wait", action="store_true", help="do not wait for the guest to show the primary")
    rep.add_argument("--json", action="store_true")

    mea = sub.add_parser("measure", help="ping the guest every 10 ms from the netns around an action")
    mea.add_argument("name")
    mea.add_argument("--action", choices=measure.ACTIONS, required=True)
    mea.add_argument("--target", required=True, help="guest data IP")
    mea.add_argument("--device", help="primary id (default: the first)")
    mea.add_argument("--after", type=float, default=4.0, help="seconds to keep pinging after the action")
    mea.add_argument("--json", action="store_true")

    lst = sub.add_parser("list", help="list instances")
    lst.add_argument("--json", action="store_true")
    return top


def dispatch(args: argparse.Namespace) -> int:
    """Run one parsed command."""
    if args.command == "image" and args.image_command == "prune":
        in_use = {json.loads(path.read_text(encoding="utf-8")).get("image", "") for path in vm.RUN_DIR.glob("*/instance.json")}
        for path in images.prune(in_use):
            print(f"removed {path}")
    elif args.command == "image":
        print(images.build(args.release, force=args.force, kind=args.kind))
    elif args.command == "up":
        inst = vm.up(args.name, args.topology, args.release, args.bridge_mode, args.memory, args.cpus, args.timeout,
                     image_kind=args.image, seed_variant=args.seed, instance_id=args.instance_id)
        _print(inst if args.json else {k: inst[k] for k in ("name", "ssh_port", "serial_log", "netns")}, args.json)
    elif args.command == "reseed":
        _print(vm.reseed(args.name, args.seed, args.instance_id), args.json)
    elif args.command == "down":
        vm.down(args.name)
    elif args.command == "serial":
        print(vm.load(args.name)["serial_log"])
    elif args.command == "reboot":
        print(vm.reboot(args.name, args.timeout))
    elif args.command == "ssh":
        inst = vm.load(args.name)
        remote = [" ".join(args.remote)] if args.remote else None
        cmd = vm.ssh_command(inst, remote, tty=remote is None and sys.stdin.isatty())
        os.execvp(cmd[0], cmd)
    elif args.command == "unplug":
        _print(vm.unplug(args.name, args.device), args.json)
    elif args.command == "replug":
        _print(vm.replug(args.name, args.device, args.slot, wait_guest=not args.no_wait, model=args.model), args.json)
    elif args.command == "measure":
        _print(measure.measure(args.name, args.action, args.target, args.device, args.after), args.json)
    elif args.command == "list":
        rows = vm.list_instances()
        if args.json:
            _print(rows, True)
        for row in [] if args.json else rows:
            print("{name:20} {topology:14} debian-{release:3} {image_kind:5} {seed:4} {bridge_mode:9} ssh:{ssh_port:<6} "
                  "{state}".format(state="running" if row["running"] else "stopped", **row))
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Parse arguments and run the command; print LabError messages without a traceback."""
    args = parser().parse_args(argv)
    try:
        return dispatch(args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
