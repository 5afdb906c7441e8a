#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Converge time, side by side: linux-system-roles/network (provider nm) and this collection's site.yml.

Both run against fresh lab guests of one image (Debian, pv-vf-pair: virtio + e1000e sharing a MAC, no STANDBY,
NetworkManager running), one after the other in one run, building the same thing: an active-backup bond with DHCP
(IPv4) and router advertisements (IPv6), the VF primary. Each tool converges twice (first run, rerun); wall times
of ansible-playbook and its task counts are recorded, then the bond is inspected (its MAC, the active port, the
address). Neither pays a package install: each guest's prepare (not timed) installs what its tool needs
(python3-pyroute2 for the collection; python3-gi + gir1.2-nm-1.0 for the role's nm provider). The lab image carries
ifenslave, whose ifupdown post-down hook NetworkManager's 01-ifupdown dispatcher runs for NetworkManager's own
devices: it frees the bond's ports and deletes the bond (Debian bug 982841). The collection diverts that hook; the
role does not and does not converge with it. Prepare therefore purges ifenslave on both guests (--keep-ifenslave
measures the image as it is).
Run from the repository root as root, with a checkout of linux-system-roles/network:

  PYTHONPATH=lab .venv/bin/python benchmarks/converge_bench.py --lsr /path/to/linux-system-roles-network [--together]

One after the other is the fair pair on an idle host; on a shared host, --together starts both tools' converges at
the same moment on two guests, so both see the same load.

The collection is a `git archive` of --ref (default HEAD). Results: benchmarks/results/converge-<UTC stamp>/ (raw
JSON and ansible logs) and a Markdown table on stdout for benchmarks/converge.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from failover_bench import ROOT, STARTED, export_collection, guest, lab, say, uptime, _interrupt  # noqa: E402

ANSIBLE_PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
PREPARE = {
    "lsr": "python3-gi gir1.2-nm-1.0",
    "collection": "python3-pyroute2",
}
RECAP_RE = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)")


def nic_names(name):
    """{driver: interface} of the guest's data NICs (mgmt0 aside)."""
    out = guest(name, "for d in /sys/class/net/*/device/driver; do n=${d#/sys/class/net/}; "
                      "echo ${n%%/*} $(basename $(readlink $d)); done")
    pairs = [line.split() for line in out.splitlines() if line.strip()]
    return dict((drv, nic) for nic, drv in pairs if nic != "mgmt0")


def lsr_playbook(pv, vf):
    """The role's play: the same bond the collection builds (ports by name: a MAC would match both NICs)."""
    return [{
        "name": "linux-system-roles/network: active-backup bond over the PV and the VF",
        "hosts": "all",
        "become": True,
        "vars": {
            "network_provider": "nm",
            # the role's defaults name RHEL packages (NetworkManager, python3-gobject-base); Debian's, installed
            # by prepare, so its package step finds them all and installs nothing
            "network_packages": ["network-manager", "python3-gi", "gir1.2-nm-1.0"],
            "network_connections": [
                {"name": "bond0", "type": "bond", "interface_name": "bond0", "state": "up",
                 "bond": {"mode": "active-backup", "miimon": 100, "primary": vf},
                 "ip": {"dhcp4": True, "auto6": True}},
                {"name": "bond0-pv", "type": "ethernet", "interface_name": pv, "controller": "bond0", "state": "up"},
                {"name": "bond0-vf", "type": "ethernet", "interface_name": vf, "controller": "bond0", "state": "up"},
            ],
        },
        "roles": ["network"],
    }]


def write_inventory(path, name, inst):
    with open(path, "w") as handle:
        handle.write("%s ansible_host=%s ansible_port=%s ansible_user=%s ansible_ssh_private_key_file=%s "
                     "ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o "
                     "StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
                     % (name, inst["ssh_host"], inst["ssh_port"], inst["ssh_user"], inst["ssh_key"]))


def run_playbook(outdir, label, inventory, playbook, env):
    """Run ansible-playbook once; return (seconds, recap dict); the log goes to outdir."""
    cmd = [ANSIBLE_PLAYBOOK, "-i", inventory, playbook]
    # per task wall time (benchmarks/callback_plugins/task_timer.py): where the seconds go
    env = dict(env, ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "benchmarks", "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="task_timer", TASK_TIMER_FILE=os.path.join(outdir, "%s-tasks.jsonl" % label))
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=1800, check=False)
    seconds = time.monotonic() - started
    with open(os.path.join(outdir, "%s.log" % label), "w") as handle:
        handle.write(" ".join(cmd) + "\n" + proc.stdout + proc.stderr)
    if proc.returncode:
        raise RuntimeError("%s failed (rc %d): %s" % (label, proc.returncode, (proc.stdout + proc.stderr)[-2000:]))
    match = RECAP_RE.search(proc.stdout)
    recap = dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, match.groups()))) if match else {}
    return seconds, recap


def slowest_tasks(outdir, label, count=6):
    """The run's slowest tasks as "seconds name" strings (from task_timer's JSON lines)."""
    try:
        with open(os.path.join(outdir, "%s-tasks.jsonl" % label)) as handle:
            tasks = [json.loads(line) for line in handle]
    except OSError:
        return []
    return ["%.1f %s" % (t["seconds"], t["task"]) for t in sorted(tasks, key=lambda t: -t["seconds"])[:count]]


def bond_state(name, pv_mac):
    """The bond as the kernel reports it: MAC, active port's driver, IPv4 addresses."""
    out = guest(name, "cat /proc/net/bonding/bond0; echo @@; ip -j addr show dev bond0; echo @@; "
                      "a=$(sed -n 's/^Currently Active Slave: //p' /proc/net/bonding/bond0); "
                      "basename \"$(readlink /sys/class/net/$a/device/driver)\"", check=False)
    parts = out.split("@@")
    if len(parts) != 3:
        return {"error": out[-500:]}
    info = (json.loads(parts[1]) or [{}])[0]
    return {
        "mac": info.get("address"),
        "mac_is_pv": info.get("address") == pv_mac,
        "active_driver": parts[2].strip(),
        "ipv4": [a["local"] for a in info.get("addr_info", []) if a.get("family") == "inet"],
    }


def measure(tool, args, outdir, collections, lsr_roles, barrier=None):
    """Boot and prepare the tool's guest, converge twice, inspect the bond. With ``barrier`` (--together), each
    converge starts when the other tool's does: both run under the same host load."""
    name = "cb-%s" % tool
    say(tool, "up", name)
    STARTED.add(name)
    inst = json.loads(lab("up", name, "--topology", "pv-vf-pair", "--release", args.release, "--json").stdout)
    inventory = os.path.join(outdir, "inventory-%s.ini" % name)
    write_inventory(inventory, name, inst)
    # prepare (not timed): the stack under test running, the tool's own dependencies present
    purge = "" if args.keep_ifenslave else " && DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ifenslave >/dev/null"
    guest(name, "systemctl enable --now NetworkManager.service >/dev/null 2>&1 && apt-get update -q >/dev/null "
                "&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends %s >/dev/null%s"
          % (PREPARE[tool], purge), timeout=900)
    nics = nic_names(name)
    pv, vf = nics["virtio_net"], nics["e1000e"]
    pv_mac = guest(name, "cat /sys/class/net/%s/address" % pv).strip()
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_PIPELINING="True",
               ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_ROLES_PATH=lsr_roles)
    if tool == "lsr":
        playbook = os.path.join(outdir, "lsr.yml")
        with open(playbook, "w") as handle:
            json.dump(lsr_playbook(pv, vf), handle, indent=2)
    else:
        playbook = os.path.join(collections, "ansible_collections", "guestnet", "failover", "playbooks", "site.yml")
    result = {"tool": tool, "pv": pv, "vf": vf, "pv_mac": pv_mac, "load_before": os.getloadavg()}
    for run in ("first", "rerun"):
        if barrier is not None:
            barrier.wait(timeout=1800)
        load = os.getloadavg()
        seconds, recap = run_playbook(outdir, "%s-%s" % (tool, run), inventory, playbook, env)
        result[run] = {"seconds": round(seconds, 1), "recap": recap, "load_at_start": load,
                       "slowest": slowest_tasks(outdir, "%s-%s" % (tool, run))}
        say(tool, run, "%.1fs" % seconds, recap, "slowest:", "; ".join(result[run]["slowest"]))
    result["bond"] = bond_state(name, pv_mac)
    result["load_after"] = os.getloadavg()
    say(tool, "bond", result["bond"])
    return result


def measure_together(args, outdir, collections, roles, results):
    """Both tools at once on their own guests, each converge started together: on a shared host the load both see
    is the same, so the ratio holds even when the absolute times do not."""
    barrier = threading.Barrier(2)
    errors = []

    def one(tool):
        try:
            results[tool] = measure(tool, args, outdir, collections, roles, barrier)
        except Exception as exc:  # noqa: BLE001 -- reported below; the other tool must not wait for this one
            errors.append("%s: %s" % (tool, exc))
            barrier.abort()
    threads = [threading.Thread(target=one, args=(tool,)) for tool in ("lsr", "collection")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("; ".join(errors))


def table(results, host_load):
    lsr, col = results["lsr"], results["collection"]
    rows = ["| | linux-system-roles/network (nm) | guestnet.failover site.yml | ratio (collection / role) |",
            "|---|---:|---:|---:|"]
    for run in ("first", "rerun"):
        a, b = lsr[run]["seconds"], col[run]["seconds"]
        rows.append("| %s converge, s | %.1f | %.1f | %.2f |" % (run, a, b, b / a))
    for run in ("first", "rerun"):
        rows.append("| %s: tasks ok / changed / skipped | %s | %s | |" % (
            run, "/".join(str(lsr[run]["recap"].get(k, "?")) for k in ("ok", "changed", "skipped")),
            "/".join(str(col[run]["recap"].get(k, "?")) for k in ("ok", "changed", "skipped"))))
    for run in ("first", "rerun"):
        rows.append("| %s: host load (1 min) at its start | %.1f | %.1f | |" % (
            run, lsr[run]["load_at_start"][0], col[run]["load_at_start"][0]))
    for key, label in (("mac_is_pv", "bond has the PV's MAC"), ("active_driver", "active port's driver"),
                       ("ipv4", "bond IPv4")):
        rows.append("| %s | %s | %s | |" % (label, lsr["bond"].get(key), col["bond"].get(key)))
    rows.append("")
    rows.append("Host load (1/5/15 min) before/after each tool: role %s / %s, collection %s / %s; %s" % (
        tuple(round(x, 2) for x in lsr["load_before"]), tuple(round(x, 2) for x in lsr["load_after"]),
        tuple(round(x, 2) for x in col["load_before"]), tuple(round(x, 2) for x in col["load_after"]), host_load))
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--lsr", required=True, help="checkout of linux-system-roles/network (the role's root)")
    ap.add_argument("--release", default="12")
    ap.add_argument("--ref", default="HEAD", help="git ref of the collection to measure")
    ap.add_argument("--only", choices=("lsr", "collection"), help="measure one tool (no ratio)")
    ap.add_argument("--keep-ifenslave", action="store_true", help="leave the image's ifenslave installed")
    ap.add_argument("--together", action="store_true",
                    help="run both tools at once, each converge started together (the same host load for both)")
    args = ap.parse_args()
    if not os.path.isfile(os.path.join(args.lsr, "tasks", "main.yml")):
        ap.error("--lsr %s is not a role checkout (no tasks/main.yml)" % args.lsr)
    signal.signal(signal.SIGTERM, _interrupt)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outdir = os.path.join(ROOT, "benchmarks", "results", "converge-" + stamp)
    os.makedirs(outdir)
    collections, sha = export_collection(args.ref, os.path.join(ROOT, "build", "bench-collections"))
    # the role is looked up as "network": a roles dir holding a link named so
    roles = os.path.join(outdir, "roles")
    os.makedirs(roles)
    os.symlink(os.path.abspath(args.lsr), os.path.join(roles, "network"))
    say("collection", sha, "; host:", uptime())
    results = {}
    try:
        if args.together:
            measure_together(args, outdir, collections, roles, results)
        for tool in ("lsr", "collection"):
            if args.only in (None, tool) and tool not in results:
                results[tool] = measure(tool, args, outdir, collections, roles)
                lab("down", "cb-%s" % tool, check=False)
                STARTED.discard("cb-%s" % tool)
    finally:
        for name in sorted(STARTED):
            lab("down", name, check=False)
    with open(os.path.join(outdir, "results.json"), "w") as handle:
        json.dump(dict(results, collection_ref=sha), handle, indent=2, sort_keys=True)
    if len(results) == 2:
        print(table(results, uptime()))


if __name__ == "__main__":
    main()
