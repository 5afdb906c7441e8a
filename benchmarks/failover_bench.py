#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failover outage, side by side: bare net_failover, net_failover + this collection, bond, team; hub and learning bridge.

Boots lab guests (at most two at once, one per bridge mode), configures each case, unplugs and re-plugs the
VF (the e1000e "hostdev0") N times under the lab's 10 ms ping, sends QMP announce-self N times for the two
net_failover cases, always takes the guests down, and prints one table (median and range per case).
Run from the repository root as root:

  PYTHONPATH=lab .venv/bin/python benchmarks/failover_bench.py --cycles 3

Cases (same Debian image for all):
  kernel      kvm-failover, failover master configured by hand (ip addr add 10.99.0.10/24 dev enp1s0)
  collection  the same guest afterwards, guestnet.failover.failover_link model net_failover, announcer: true
  bond        pv-vf-pair, failover_link model bond (active-backup, VF primary), announcer: true
  team        pv-vf-pair, failover_link model team (teamd activebackup), announcer: true

The collection is taken from a `git archive` of --ref (default HEAD) unless --collections names an
ANSIBLE_COLLECTIONS_PATH, so uncommitted work in the tree is not measured by accident.
For every re-plug the guest kernel log gives the VF's registration ("(PCI Express:" line of e1000e) and
carrier ("NIC Link is Up") times; "reg->carrier" is the difference, "gap - reg->carrier" the part of the
longest ping gap not explained by the VF coming up.
Raw results (one JSON line per measurement, guest journals) go to benchmarks/results/<UTC stamp>/.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = [sys.executable, "-m", "guestnet_lab"]
ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lab"))
TARGET = "10.99.0.10"
MAC = "52:54:00:12:34:56"
MODES = ("hub", "learning")
GROUP = {"mac": MAC, "pv_driver": "virtio_net", "vf_drivers": ["e1000e"],
         "ipv4": {"method": "static", "addresses": [TARGET + "/24"]}, "ipv6": {"method": "auto"}}
GROUPS = {
    "collection": dict(GROUP, name="enp1s0", model="net_failover"),
    "bond": dict(GROUP, name="bond0", model="bond"),
    "team": dict(GROUP, name="team0", model="team"),
}
REG = re.compile(r"^\[\s*(\d+\.\d+)\].*e1000e .*\(PCI Express:")
UP = re.compile(r"^\[\s*(\d+\.\d+)\].*e1000e .*NIC Link is Up")
PRINT_LOCK = threading.Lock()
STARTED = set()  # instances this run booted (or is booting): all are taken down, also on SIGTERM/Ctrl-C


def say(*parts):
    with PRINT_LOCK:
        print("[%s]" % time.strftime("%H:%M:%S"), *parts, flush=True)


def lab(*args, check=True, timeout=600):
    proc = subprocess.run(LAB + list(args), cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if check and proc.returncode:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise RuntimeError("guestnet_lab %s failed (%d): %s" % (" ".join(args), proc.returncode, tail))
    return proc


def guest(name, script, check=True, timeout=120):
    return lab("ssh", name, script, check=check, timeout=timeout).stdout


def ensure_pyroute2(name):
    """failover_link needs python3-pyroute2 in the guest (the roles install it; the ad-hoc converge does not)."""
    guest(name, "python3 -c 'import pyroute2' 2>/dev/null || { apt-get update -qq && "
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pyroute2 >/dev/null; }", timeout=600)


def _interrupt(_signum, _frame):
    """SIGTERM ends the run like Ctrl-C, so the finally blocks take the guests down."""
    raise KeyboardInterrupt()


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def export_collection(ref, dest_root):
    """git archive REF into DEST_ROOT/<sha>/ansible_collections/guestnet/failover; return the collections path."""
    sha = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    base = os.path.join(dest_root, sha)
    coll = os.path.join(base, "ansible_collections", "guestnet", "failover")
    if not os.path.isdir(coll):
        os.makedirs(coll)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", coll], input=archive, check=True)
    return base, sha


class Worker:
    """One bridge mode: boots its guests one after another and measures the cases on them."""

    def __init__(self, args, mode, outdir, collections):
        self.args, self.mode, self.outdir, self.collections = args, mode, outdir, collections
        self.results = {}  # case -> {"unplug": [...], "replug": [...], "announce": [...], "errors": [...]}
        self.raw = open(os.path.join(outdir, "raw-%s.jsonl" % mode), "a")

    def record(self, case, kind, data):
        self.results.setdefault(case, {}).setdefault(kind, []).append(data)
        self.raw.write(json.dumps(dict(data, case=case, kind=kind, bridge=self.mode), sort_keys=True) + "\n")
        self.raw.flush()

    def up(self, name, topology):
        say(self.mode, "up", name, topology)
        STARTED.add(name)
        inst = json.loads(lab("up", name, "--topology", topology, "--release", self.args.release,
                              "--bridge-mode", self.mode, "--json").stdout)
        ensure_pyroute2(name)
        return inst

    def converge(self, name, inst, case):
        """Ad-hoc `ansible -m guestnet.failover.failover_link` with the case's group."""
        inv = os.path.join(self.outdir, "inventory-%s.ini" % name)
        with open(inv, "w") as handle:
            handle.write("%s ansible_host=%s ansible_port=%s ansible_user=%s ansible_ssh_private_key_file=%s "
                         "ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o "
                         "StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
                         % (name, inst["ssh_host"], inst["ssh_port"], inst["ssh_user"], inst["ssh_key"]))
        module_args = json.dumps({"groups": [GROUPS[case]], "announcer": True, "probe": inst.get("bridge_ipv4", "10.99.0.1").split("/")[0]})
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_HOST_KEY_CHECKING="False")
        cmd = [os.path.join(ROOT, ".venv", "bin", "ansible"), "-i", inv, name, "-m",
               "guestnet.failover.failover_link", "-a", module_args]
        started = time.monotonic()
        # stdin from /dev/null: ssh children of the other worker may leave a shared stdin non-blocking
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=600, check=False)
        with open(os.path.join(self.outdir, "converge-%s-%s.json" % (self.mode, case)), "w") as handle:
            handle.write(" ".join(cmd) + "\n" + proc.stdout + proc.stderr)
        if proc.returncode:
            raise RuntimeError("converge %s failed (rc %d): %s" % (case, proc.returncode, (proc.stdout + proc.stderr)[-1500:]))
        say(self.mode, case, "converged in %.0fs" % (time.monotonic() - started))

    def wait_vf_active(self, name, case, timeout=30.0):
        """Wait until the VF is back, has carrier and carries traffic for its upper; return seconds waited."""
        check = {"kernel": '[ -n "$m" ]', "collection": '[ -n "$m" ]',
                 "bond": '[ "$(cat /sys/class/net/bond0/bonding/active_slave)" = "$d" ]',
                 "team": 'teamdctl team0 state item get runner.active_port | grep -qx "$d"'}[case]
        script = ("for p in /sys/class/net/*; do d=${p##*/}; [ \"$(cat $p/address)\" = %s ] || continue; "
                  "[ \"$(basename $(readlink -f $p/device/driver) 2>/dev/null)\" = e1000e ] || continue; "
                  "[ \"$(cat $p/carrier 2>/dev/null)\" = 1 ] || exit 1; m=$(basename \"$(readlink $p/master)\" 2>/dev/null); "
                  "%s && exit 0; exit 1; done; exit 1" % (MAC, check))
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if lab("ssh", name, script, check=False, timeout=30).returncode == 0:
                return time.monotonic() - started
            time.sleep(0.5)
        raise RuntimeError("%s/%s: VF not active within %.0fs" % (self.mode, case, timeout))

    def reg_to_carrier(self, name):
        """(registration, carrier) kernel timestamps of the VF's last appearance, from the guest's kernel log."""
        text = guest(name, "journalctl -k -o short-monotonic --no-pager -n 300", check=False)
        reg = carrier = None
        for line in text.splitlines():
            match = REG.match(line)
            if match:
                reg, carrier = float(match.group(1)), None
                continue
            match = UP.match(line)
            if match and reg is not None and carrier is None:
                carrier = float(match.group(1))
        return reg, carrier

    def measure(self, name, case, action):
        proc = lab("measure", name, "--action", action, "--target", TARGET, "--after", str(self.args.after), "--json")
        data = json.loads(proc.stdout)
        if action == "replug":
            reg, carrier = self.reg_to_carrier(name)
            data["vf_registered_s"], data["vf_carrier_s"] = reg, carrier
            data["reg_to_carrier_ms"] = round((carrier - reg) * 1000, 1) if reg is not None and carrier is not None else None
        self.record(case, action, data)
        extra = ""
        if action == "replug":
            extra = " reg->carrier=%s ms" % data["reg_to_carrier_ms"]
        say("%-8s %-10s %-8s lost=%-4d gap=%7.1f ms at %7.1f ms%s %s" % (
            self.mode, case, action, data["lost"], data["longest_gap_ms"], data["gap_starts_after_action_ms"],
            extra, ",".join(data["lost_seq_ranges"][:4])))
        return data

    def cycles(self, name, case, announce):
        for cycle in range(self.args.cycles):
            self.wait_vf_active(name, case)
            time.sleep(self.args.settle)
            self.measure(name, case, "unplug")
            self.measure(name, case, "replug")
        if announce:
            self.wait_vf_active(name, case)
            for cycle in range(self.args.cycles):
                time.sleep(self.args.settle)
                self.measure(name, case, "announce")

    def journal(self, name, tag):
        text = guest(name, "journalctl -b -o short-monotonic --no-pager -u 'guestnet-announce@*'; echo ---; "
                     "journalctl -k -o short-monotonic --no-pager | grep -E 'e1000e|failover|bond|team' | tail -80; "
                     "echo ---; ip -br addr; ip -d link show | grep -E 'master|state' | head -20", check=False)
        with open(os.path.join(self.outdir, "journal-%s-%s.txt" % (self.mode, tag)), "w") as handle:
            handle.write(text)

    def run_case_group(self, topology, cases):
        name = "%s-%s-%s" % (self.args.prefix, self.mode[:3], cases[0][:4])
        try:
            inst = self.up(name, topology)
            for case in cases:
                if self.args.cases and case not in self.args.cases:
                    continue
                try:
                    if case == "kernel":
                        guest(name, "ip link set enp1s0 up && ip addr add %s/24 dev enp1s0" % TARGET)
                    else:
                        self.converge(name, inst, case)
                    self.cycles(name, case, announce=case in ("kernel", "collection"))
                except Exception as exc:  # keep going: the table shows what was measured
                    self.results.setdefault(case, {}).setdefault("errors", []).append(str(exc)[:500])
                    say(self.mode, case, "ERROR", exc)
                    traceback.print_exc()
                finally:
                    self.journal(name, case)
        finally:
            say(self.mode, "down", name)
            lab("down", name, check=False)
            STARTED.discard(name)

    def run(self):
        try:
            wanted = self.args.cases or ["kernel", "collection", "bond", "team"]
            if {"kernel", "collection"} & set(wanted):
                self.run_case_group("kvm-failover", ["kernel", "collection"])
            for case in ("bond", "team"):
                if case in wanted:
                    self.run_case_group("pv-vf-pair", [case])
        finally:
            self.raw.close()


def spread(values, fmt="%g"):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    med = statistics.median(values)
    if min(values) == max(values):
        return fmt % med
    return "%s (%s–%s)" % (fmt % med, fmt % min(values), fmt % max(values))


def table(workers):
    head = ("| case | bridge | n | unplug lost | unplug longest gap ms | re-plug lost | re-plug longest gap ms "
            "| VF reg→carrier ms | re-plug gap − reg→carrier ms | announce-self lost |")
    lines = [head, "|" + "---|" * 10]
    for case in ("kernel", "collection", "bond", "team"):
        for worker in sorted(workers, key=lambda w: MODES.index(w.mode)):
            res = worker.results.get(case)
            if not res:
                continue
            unp, rep, ann = res.get("unplug", []), res.get("replug", []), res.get("announce", [])
            excess = [r["longest_gap_ms"] - r["reg_to_carrier_ms"] for r in rep if r.get("reg_to_carrier_ms") is not None]
            lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |%s" % (
                case, worker.mode, len(unp), spread([r["lost"] for r in unp]),
                spread([r["longest_gap_ms"] for r in unp], "%.0f"), spread([r["lost"] for r in rep]),
                spread([r["longest_gap_ms"] for r in rep], "%.0f"),
                spread([r.get("reg_to_carrier_ms") for r in rep], "%.0f"), spread(excess, "%+.0f"),
                spread([r["lost"] for r in ann]) if ann else "n/a",
                (" errors: " + "; ".join(e.replace("\n", " ").strip() for e in res["errors"])) if res.get("errors") else ""))
    return "\n".join(lines)


def table_from(dirs, label=None):
    """Rebuild the table from the raw-*.jsonl of earlier runs (cases missing from one run taken from another)."""
    workers = {}
    for directory in dirs:
        for path in sorted(os.listdir(directory)):
            if not (path.startswith("raw-") and path.endswith(".jsonl")):
                continue
            with open(os.path.join(directory, path)) as handle:
                for line in handle:
                    data = json.loads(line)
                    worker = workers.setdefault(data["bridge"], Loaded(data["bridge"]))
                    worker.results.setdefault(data["case"], {}).setdefault(data["kind"], []).append(data)
    return table(list(workers.values()))


class Loaded:
    def __init__(self, mode):
        self.mode, self.results = mode, {}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3, help="unplug/re-plug cycles (and announce-self runs) per case")
    parser.add_argument("--after", type=float, default=4.0, help="seconds measured after each action")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between the VF being active and the next action")
    parser.add_argument("--release", default="12")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--cases", nargs="+", choices=["kernel", "collection", "bond", "team"])
    parser.add_argument("--ref", default="HEAD", help="git ref whose collection is measured")
    parser.add_argument("--collections", help="ANSIBLE_COLLECTIONS_PATH to use instead of exporting --ref")
    parser.add_argument("--prefix", default="fb", help="instance name prefix (lets two runs share the host)")
    parser.add_argument("--serial", action="store_true", help="one bridge mode after the other (one guest at a time)")
    parser.add_argument("--table-from", nargs="+", metavar="DIR", help="only print the table of earlier runs' raw output")
    args = parser.parse_args(argv)
    if args.table_from:
        print(table_from(args.table_from))
        return 0
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outdir = os.path.join(ROOT, "benchmarks", "results", stamp)
    os.makedirs(outdir)
    if args.collections:
        collections, sha = args.collections, "(%s)" % args.collections
    else:
        collections, sha = export_collection(args.ref, os.path.join(ROOT, ".cache", "bench-collections"))
    meta = {"started": stamp, "argv": sys.argv, "collection": sha, "uptime_before": uptime()}
    say("results in", outdir, "collection", sha)
    say("uptime before:", meta["uptime_before"])
    workers = [Worker(args, mode, outdir, collections) for mode in args.modes]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.serial:
            for worker in workers:
                worker.run()
        else:
            threads = [threading.Thread(target=w.run, name=w.mode, daemon=True) for w in workers]
            for thread in threads:
                thread.start()
                time.sleep(20)  # stagger the boots a little
            for thread in threads:
                while thread.is_alive():
                    thread.join(1)
    except KeyboardInterrupt:
        say("interrupted: taking down", sorted(STARTED))
        for name in sorted(STARTED):
            lab("down", name, check=False)
        return 130
    meta["uptime_after"] = uptime()
    meta["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = table(workers)
    with open(os.path.join(outdir, "table.md"), "w") as handle:
        handle.write(text + "\n")
    with open(os.path.join(outdir, "meta.json"), "w") as handle:
        json.dump(meta, handle, indent=2)
    say("uptime after:", meta["uptime_after"])
    print("\ncollection %s, %d cycles per case, 10 ms ping, %s -> %s UTC" % (sha, args.cycles, stamp, meta["finished"]))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
