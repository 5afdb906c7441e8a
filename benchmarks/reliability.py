#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reliability suite (issue 15): soak, the VF back different, reboots and faults during apply, on lab guests.

One lab guest per model (rel-1, rel-2, ...; --first N), always taken down; or --attach NAME: a running, converged lab
guest (a Molecule scenario's), neither booted, converged nor taken down. Per model: boot, enable the stack, then
  faults   site.yml SIGKILLed (the controller's process group) 0-8 s into failover_config or failover_link (picked at
           random) in the first converge, a rerun that must converge, a third run that must change nothing; the run
           lock held by flock(1) in the guest (failover_link must fail clearly, or wait); two site.yml runs at once
  soak     N unplug/re-plug cycles of the VF under the lab's 10 ms ping
  vf       the VF back at the spare root port, after a long absence, as another NIC model (e1000), late after a boot
  reboots  reboots in a row with the VF, and some without it
  probe    (fresh guest, not NetworkManager) failover_link with a probe nobody answers, rollback_timeout 5
  guestkill  the module itself SIGKILLed in the guest (failover_config early, during its reloads, at the initrd's
           temporary copy; failover_link the moment it took the lock, or at its first change of the links), stopped
           first to read that it holds the lock; then a rerun and a third run compared with the clean converge
  etc      /etc read-only, /etc/systemd/network full: a clear failure, nothing written, the network as it was
  nodhcp   site.yml while the lab's DHCP does not answer; SSH (mgmt0) must stay
The parts after probe/faults run in the order given, each against the state at its start. After every step the guest
is checked: the upper holds the only IPv4 address of the MAC, the lowers carry no address, the VF is enslaved (and the
active port) after a re-plug; udev's queue is empty (udevadm settle) and udev initialised every link; and against the
state at the part's start: the collection's files (sha256), NetworkManager profiles, networkd files, one announcer
process, no failed units, no new running units (named), no leaked processes.
Run from the repository root as root:

  PYTHONPATH=lab .venv/bin/python benchmarks/reliability.py --models bond net_failover --cycles 20
  PYTHONPATH=lab .venv/bin/python benchmarks/reliability.py --quick          # 3 cycles, 2 reboots, 1 kill, bond
  PYTHONPATH=lab .venv/bin/python benchmarks/reliability.py --models team --attach pv-vf-pair-team --parts guestkill \
      soak --kill-phases config-reloads --cycles 3                           # on a Molecule scenario's guest

The collection is a `git archive` of --ref (default HEAD). Raw results (one JSON line per step, ansible logs) go to
benchmarks/results/reliability-<UTC stamp>-<models>/ with report.md, the tables for benchmarks/reliability.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guestnet_lab import netns, vm  # noqa: E402
from failover_bench import ROOT, STARTED, ensure_pyroute2, export_collection, say, _interrupt  # noqa: E402
from failover_bench import lab as lab_once  # noqa: E402
from converge_bench import ANSIBLE_PLAYBOOK, RECAP_RE, write_inventory  # noqa: E402
from reliability_checks import (LOCKED_TASKS, MAC, announcers, check_state, drift, group, leaks, overlaps,  # noqa: E402
                                parse_snapshot, summary, task_spans)

# model -> lab topology, the stack the guest runs, extra vars for site.yml
MODELS = {
    "bond": ("pv-vf-pair", "NetworkManager", {}),
    "net_failover": ("kvm-failover", "systemd-networkd", {}),
    "team": ("pv-vf-pair", "NetworkManager", {"failover_fallback": "team"}),
    "bond_networkd": ("pv-vf-pair", "systemd-networkd", {}),
}
INOTIFY_KILL = """
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
libc.inotify_add_watch(fd, b"/boot", 0x100)  # IN_CREATE
while True:
    buf, i = os.read(fd, 4096), 0
    while i < len(buf):
        length = struct.unpack_from("iIII", buf, i)[3]
        name, i = buf[i + 16:i + 16 + length].rstrip(b"\\0"), i + 16 + length
        if name.endswith(b".guestnet-failover.tmp"):
            os.kill(int(sys.argv[1]), 19)  # SIGSTOP: frozen there; the killer reports, then SIGKILLs it
            sys.exit(print("stopped %s at the creation of /boot/%s" % (sys.argv[1], name.decode())))
"""
DELADDR_STOP = """
import os, socket, struct, sys
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
sock.bind((0, 0x10 | 0x100))  # RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
while True:
    data, off = sock.recv(65536), 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("IH", data, off)
        pid = open("/run/guestnet-failover.lock").read().strip() if kind == 21 else ""  # RTM_DELADDR
        if pid and pid != sys.argv[1]:  # the lock's holder now, not failover_config
            os.kill(int(pid), 19)
            sys.exit(print(pid))
        off += max(16, (length + 3) & ~3)
"""
# The module SIGKILLed in the guest (guestkill): phase -> (which lock holder of site.yml, 1 failover_config or
# 2 failover_link; what the guest waits for before the kill, $p the module's pid, $D a random delay).
KILL_PHASES = {
    "config-early": (1, "sleep $D"),
    "config-reloads": (1, "until pgrep -P $p -f 'udevadm|networkctl|systemctl (daemon-reload|restart)' >/dev/null; "
                          "do sleep 0.02; done; sleep 0.${RANDOM:0:1}"),
    # the initrd's temporary copy lives for milliseconds (6 MB): inotify sees it created, the stop follows at once
    "config-initrd": (1, "python3 -c %s $p" % shlex.quote(INOTIFY_KILL)),
    # failover_link holds the lock well under a second (0.4 s on net_failover): stopped the moment it took it
    "link-lock": (2, ":"),
    # ... or at its first change of the links (an address removed from a lower: IPv6 off, or the carried IPv4): a
    # netlink listener, ready once failover_config took the lock, stops the next holder at the first RTM_DELADDR
    "link-apply": (1, "p=$(timeout 120 python3 -c %s $p)" % shlex.quote(DELADDR_STOP)),
}
LINK_PHASES = ("link-lock", "link-apply")
# Guest side of a kill: wait for the Nth module to take the run lock (the lock file holds its pid, its command line
# is exactly /usr/bin/python3 under pipelining), wait for the phase, SIGSTOP it (frozen: what it holds and did is
# read with nothing moving), report the lock it holds (/proc/locks), its children, temp files and the links, SIGKILL.
KILLER = r"""
L=/run/guestnet-failover.lock n=0 last=
while :; do
  p=$(cat $L 2>/dev/null)
  if [ -n "$p" ] && [ "$p" != "$last" ] && [ "$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" = "/usr/bin/python3 " ]; then
    n=$((n+1)); last=$p; [ $n -ge $WANT ] && break
  fi
  sleep 0.01
done
t0=$(date +%s.%N)
eval "$COND"
kill -STOP $p && echo "stopped $p $(awk "BEGIN{print $(date +%s.%N) - $t0}") s after lock holder $WANT was seen"
echo "lock: $(awk -v p=$p -v i=":$(stat -c %i $L)\$" '$5 == p && $6 ~ i {print "held by", p, $2, $4}' /proc/locks)"
echo "children: $(ps --ppid $p -o args= | tr '\n' ';')"
echo "temps: $(find /etc /usr/local/lib/guestnet-failover /boot \( -name '.guestnet-*' -o -name '*.guestnet-failover.tmp' \) 2>/dev/null | tr '\n' ' ')"
echo "ipv4: $(ip -4 -br addr | tr -s ' ' | tr '\n' ';')"
kill -9 $p && echo "killed $p"
"""
# Leftovers and the work after the files (reloads, announcer) after a rerun: compared with the clean converge.
LEFTOVERS = ("echo @@temps; find /etc /usr/local/lib/guestnet-failover /boot \\( -name '.guestnet-*' -o "
             "-name '*.guestnet-failover.tmp' \\) 2>/dev/null; echo @@lock; flock -n /run/guestnet-failover.lock true "
             "&& echo free || echo held; echo @@initramfs; lsinitramfs /boot/initrd.img-$(uname -r) | grep -E "
             "'guestnet-failover' | sort; echo @@announcer; systemctl is-active guestnet-announce.service; "
             "systemctl show -p NeedDaemonReload guestnet-announce.service; echo @@networkd; for l in $(ls /sys/class/net); "
             "do networkctl status --no-pager -n0 $l 2>/dev/null | grep -E 'Network File|Link File' | sed \"s/^ */$l /\"; done; "
             "echo @@udev; for l in $(ls /sys/class/net); do udevadm info -q property /sys/class/net/$l | "
             "grep -E '^(ID_NET_MANAGED_BY|NM_UNMANAGED|ID_NET_LINK_FILE)=' | sed \"s/^/$l /\"; done; echo @@pending; "
             "ls -1 /run/guestnet-failover.* 2>/dev/null; echo @@ipv6_off; grep -l 1 /proc/sys/net/ipv6/conf/*/disable_ipv6")
# Undo what failover_config did (the announcer stopped, its files, the initrd of before the first converge):
# the killed run then has the first converge's work again. The ifenslave guard stays: the apply role puts it in the
# place of Debian's hook (NetworkManager bonds), and without that hook no run puts it back.
RESET = ("systemctl stop guestnet-announce.service 2>/dev/null; grep -rlZ 'Managed by guestnet.failover' /etc | "
         "grep -zv '^/etc/network/if-post-down.d/ifenslave$' | xargs -0r rm -f; rm -rf /usr/local/lib/guestnet-failover /etc/guestnet; "
         "cp /root/initrd.orig /boot/initrd.img-$(uname -r); systemctl daemon-reload; udevadm control --reload; "
         "networkctl reload 2>/dev/null; true")
PARTS = ("probe", "faults", "guestkill", "etc", "nodhcp", "soak", "vf", "reboots")
BLACKHOLE = "10.99.0.250"  # in the data subnet, nobody answers (dnsmasq hands out .100-.199, the netns is .1)
# One guest command per section of a snapshot (read-only; joined with "echo @@name" markers).
SECTIONS = (
    ("self", "echo $$ $PPID"),
    # first: udev's queue drained (waited for, bounded) before the rest is read; links udev never initialised
    ("udev", "udevadm settle --timeout=20; echo settle=$?; [ -e /run/udev/queue ] && echo queue=present; "
             "for f in /sys/class/net/*/ifindex; do [ -e /run/udev/data/n$(cat $f) ] || { l=${f%/ifindex}; "
             "echo uninitialized=${l##*/}; }; done"),
    ("links", "ip -d -j addr show"),
    ("devices", "ls -l /sys/class/net/*/device /sys/class/net/*/device/driver"),
    ("bond", "cat /proc/net/bonding/* 2>/dev/null"),
    ("team", "teamdctl team0 state item get runner.active_port 2>/dev/null"),
    ("files", "{ grep -rlZ 'Managed by guestnet.failover' /etc; find /usr/local/lib/guestnet-failover -type f -print0; }"
              " 2>/dev/null | sort -z | xargs -0r sha256sum"),
    ("nm", "nmcli -t -f UUID,NAME con show 2>/dev/null; ls -1 /etc/NetworkManager/system-connections 2>/dev/null"),
    # NetworkManager's in-memory profiles of the lab's management NIC: the assumed `mgmt0` and, at some boots, a
    # default `Wired connection N` for it ("settings: (mgmt0): created default wired connection", run 6)
    ("nm_lab", "grep -lsx 'interface-name=mgmt0' /run/NetworkManager/system-connections/*.nmconnection | "
               "xargs -r -d '\\n' sed -n 's/^id=//p'"),
    ("networkd", "ls -1 /etc/systemd/network /run/systemd/network 2>/dev/null"),
    ("announcer", "systemctl show -p MainPID -p NRestarts -p ActiveState guestnet-announce.service"),
    ("ps", "ps --ppid 2 -p 2 --deselect -o pid=,ppid=,rss=,comm=,args="),
    ("mem", "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo"),
    ("failed", "systemctl --failed --no-legend --plain"),
    ("units", "systemctl list-units --all --plain --no-legend --no-pager --full"),
    ("uptime", "cat /proc/uptime"),
)
SNAPSHOT = "; ".join("echo @@%s; %s" % pair for pair in SECTIONS)


# ---- the lab side -------------------------------------------------------------------------------------------------

def lab(*args, check=True, timeout=600):
    """The lab CLI; an SSH that did not connect (ssh's rc 255: "timed out during banner exchange" on a loaded host)
    is tried again, twice, before it counts."""
    for dummy in range(3):
        proc = lab_once(*args, check=False, timeout=timeout)
        if args[0] != "ssh" or proc.returncode != 255 or "Connection" not in proc.stderr:
            break
    if check and proc.returncode:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise RuntimeError("guestnet_lab %s failed (%d): %s" % (" ".join(args), proc.returncode, tail))
    return proc


class Suite:
    """One model on one guest at a time; every step is a JSON line in raw.jsonl."""

    def __init__(self, args, outdir, collections_path):
        self.args, self.outdir, self.collections = args, outdir, collections_path
        self.raw = open(os.path.join(outdir, "raw.jsonl"), "a", encoding="utf-8")
        self.results, self.count = {}, args.first - 1

    def record(self, model, part, data):
        data = dict(data, model=model, part=part, time=time.strftime("%H:%M:%S"), host_load=os.getloadavg())
        self.results.setdefault(model, {}).setdefault(part, []).append(data)
        self.raw.write(json.dumps(data, sort_keys=True) + "\n")
        self.raw.flush()
        flag = " PROBLEMS %s" % data["problems"] if data.get("problems") else ""
        say(model, part, {k: v for k, v in data.items() if k in ("step", "lost", "seconds", "changed", "rc")}, flag)

    def snapshot(self, name):
        return parse_snapshot(lab("ssh", name, SNAPSHOT, check=False, timeout=90).stdout)

    def wait_state(self, name, phase, timeout=None):
        """Poll the guest until the group is in `phase`; return (snapshot, seconds, problems left at the timeout)."""
        started, timeout = time.monotonic(), timeout or self.args.settle_timeout
        while True:
            snap = self.snapshot(name)
            problems = check_state(snap, phase)
            if not problems or time.monotonic() - started > timeout:
                return snap, round(time.monotonic() - started, 1), problems
            time.sleep(1)

    def start_playbook(self, name, label, extra, new_session=False):
        """Start site.yml against the guest (its log, ANSIBLE_LOG_PATH, in the results); return (proc, log, t0)."""
        log = os.path.join(self.outdir, "%s-%s.log" % (name, label))
        cmd = [ANSIBLE_PLAYBOOK, "-i", os.path.join(self.outdir, "inventory-%s.ini" % name),
               os.path.join(self.collections, "ansible_collections/guestnet/failover/playbooks/site.yml"),
               "-e", json.dumps(extra), "-v"]
        env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_PIPELINING="True", ANSIBLE_LOG_PATH=log,
                   ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=new_session)
        return proc, log, time.monotonic()

    @staticmethod
    def finish_playbook(run, out=None, killed=False):
        proc, log, started = run
        text = "".join(out) if out is not None else proc.communicate()[0]
        proc.wait()
        recap = RECAP_RE.search(text)
        return {"rc": proc.returncode, "seconds": round(time.monotonic() - started, 1), "log": log,
                "killed": killed and proc.returncode == -signal.SIGKILL,
                "changed": int(recap.group(2)) if recap else None, "tail": text[-600:] if proc.returncode else ""}

    def playbook(self, name, label, extra, kill_task=None):
        """site.yml against the guest; with kill_task, SIGKILL its process group a random 0-8 s into that task."""
        run = self.start_playbook(name, label, extra, new_session=True)
        out, timer, delay = [], None, None
        for line in run[0].stdout:
            out.append(line)
            if kill_task and timer is None and line.startswith("TASK [") and kill_task in line:
                delay = round(random.uniform(0, 8), 1)
                say(name, "SIGKILL in %.1f s, in %s" % (delay, kill_task))
                timer = threading.Timer(delay, os.killpg, (run[0].pid, signal.SIGKILL))
                timer.start()
        if timer:
            timer.cancel()
        res = self.finish_playbook(run, out, killed=timer is not None)
        res["last_task"] = next((line.strip() for line in reversed(out) if line.startswith("TASK [")), None)
        res["kill_delay_s"] = delay
        return res

    def up(self, model):
        topology, stack, _extra = MODELS[model]
        self.count += 1
        name = "rel-%d" % self.count
        STARTED.add(name)
        say(model, "up", name, topology)
        inst = json.loads(lab("up", name, "--topology", topology, "--release", self.args.release, "--json",
                              "--timeout", "840", timeout=900).stdout)  # a loaded host boots slowly
        write_inventory(os.path.join(self.outdir, "inventory-%s.ini" % name), name, inst)
        lab("ssh", name, "systemctl enable --now %s.service" % stack, timeout=120)
        return name

    def faults(self, name, model, extra):
        """The first converge SIGKILLed inside a locked task, rerun, third run; then two runs at once."""
        # site.yml skips failover_link where NetworkManager owns the bond/team: a kill there would never land
        tasks = LOCKED_TASKS[:1] if MODELS[model][1] == "NetworkManager" and model in ("bond", "team") else LOCKED_TASKS
        for kill in range(self.args.kills):
            task = random.choice(tasks)
            if kill:  # a converged guest: give failover_config work again (its files gone, the network as it is)
                lab("ssh", name, "grep -rl 'Managed by guestnet.failover' /etc | xargs -r rm -f", check=False)
            res = self.playbook(name, "kill%d" % kill, extra, kill_task=task)
            self.record(model, "faults", dict(res, step="killed run %d in '%s'" % (kill + 1, task)))
            for label in ("rerun", "third"):
                res = self.playbook(name, "%s%d" % (label, kill), extra)
                snap, secs, problems = self.wait_state(name, "plugged")
                problems += ["rc %s" % res["rc"]] if res["rc"] else []
                problems += ["the third run changed %s tasks" % res["changed"]] if label == "third" and res["changed"] else []
                self.record(model, "faults", dict(res, step="%s after kill %d" % (label, kill + 1), problems=problems,
                                                  initramfs=self.initramfs(name) if label == "rerun" else None))
        self.lock_held(name, model)
        runs = [self.start_playbook(name, "lock-%s" % tag, extra) for tag in "ab"]
        results = [self.finish_playbook(run) for run in runs]
        spans = [task_spans(open(res["log"], encoding="utf-8").read()) for res in results]
        snap, secs, problems = self.wait_state(name, "plugged")
        problems += ["run %d rc %s" % (i, r["rc"]) for i, r in enumerate(results) if r["rc"]]
        self.record(model, "faults", {"step": "two runs at once", "rc": [r["rc"] for r in results],
                                      "seconds": [r["seconds"] for r in results], "spans": spans,
                                      "overlapping_spans": overlaps(*spans), "problems": problems,
                                      "tails": [r["tail"] for r in results],
                                      "journal": lab("ssh", name, "journalctl -b -o short-precise --no-pager | grep -E "
                                                     "'failover_(config|link)\\[[0-9]+\\]: Invoked' | cut -c1-100 | tail -4; "
                                                     "cat /run/guestnet-failover.lock", check=False).stdout})

    def leftovers(self, name):
        """What a run may leave behind or leave undone, as plain data (LEFTOVERS' sections)."""
        text = lab("ssh", name, LEFTOVERS, check=False, timeout=300).stdout
        out = {}
        for chunk in text.split("@@")[1:]:
            key, dummy, body = chunk.partition("\n")
            out[key.strip()] = sorted(line.strip() for line in body.splitlines() if line.strip())
        return out

    def killed_in_guest(self, name, label, extra, phase):
        """site.yml with its module SIGKILLed in the guest at `phase` (KILL_PHASES); the controller is left alone."""
        want, cond = KILL_PHASES[phase]
        delay = round(random.uniform(0, 2.5), 2)  # config-early
        script = "WANT=%d D=%s COND=%s\n%s" % (want, delay, shlex.quote(cond), KILLER)
        lab("ssh", name, ": > /run/guestnet-failover.lock", check=False)  # no pid of an earlier run in it
        killer = {}

        def kill():
            killer["out"] = lab("ssh", name, "timeout 240 bash -c %s" % shlex.quote(script), check=False, timeout=300).stdout
        thread = threading.Thread(target=kill)
        thread.start()
        res = self.playbook(name, label, extra)
        thread.join()
        res.update(phase=phase, kill_delay_s=delay if "$D" in cond else None, guest_kill=killer.get("out", "").strip(),
                   failed_task=next((line.strip() for line in reversed(open(res["log"], encoding="utf-8").read().splitlines())
                                     if "TASK [" in line), None))
        return res

    def guestkill(self, name, model, extra, base):
        """The module SIGKILLed in the guest at each phase, then a rerun and a third run: everything against the clean
        converge (`base` and its leftovers): state, files' sha256, no temp files, the lock free, the initramfs, the
        announcer running, the networkd and udev view of the links. With --ref-before each failover_config phase runs
        first with that collection (before a fix), then with --ref."""
        clean = self.leftovers(name)
        self.record(model, "guestkill", {"step": "clean converge (reference)", "reference": clean, "problems": []})
        phases = self.args.kill_phases
        if MODELS[model][1] == "NetworkManager" and model in ("bond", "team"):  # site.yml skips failover_link there
            phases = [phase for phase in phases if phase not in LINK_PHASES]
            self.record(model, "guestkill", {"step": "link phases skipped: NetworkManager owns the %s, site.yml does not "
                                                     "run failover_link" % model, "problems": []})
        # each phase once; with --ref-before, config-reloads (the phase the owed-reloads fix is about) first with it
        runs = [(phase, ref) for phase in phases
                for ref in ((self.args.ref_before, None) if self.args.ref_before and phase == "config-reloads" else (None,))]
        current = self.collections
        try:
            for phase, ref in runs:
                if ref:
                    self.collections = export_collection(ref, os.path.join(ROOT, ".cache", "bench-collections"))[0]
                self.guestkill_phase(name, model, extra, base, clean, phase, " (collection %s)" % ref if ref else "")
                self.collections = current
        finally:
            self.collections = current

    def guestkill_phase(self, name, model, extra, base, clean, phase, tag):
        if phase not in LINK_PHASES:
            lab("ssh", name, RESET, timeout=300)
        else:  # failover_link's work: IPv6 back on the lowers, and the upper's address on the PV (as a lower that got
            # its lease before it was enslaved): failover_link switches IPv6 off and carries the address to the upper
            grp = group(base)
            upper = next(link for link in base["links"] if link["ifname"] == grp["upper"])
            prefix = next(a["prefixlen"] for a in upper["addr_info"] if a.get("local") == grp["ipv4"][0])
            lowers = [low for low in (grp["pv"], grp["vf"]) if low]
            lab("ssh", name, "; ".join(["sysctl -qw net.ipv6.conf.%s.disable_ipv6=0" % low for low in lowers] + [
                "ip -4 addr flush dev %s scope global" % grp["upper"],
                "ip addr add %s/%s dev %s" % (grp["ipv4"][0], prefix, grp["pv"])]), check=False)
        res = self.killed_in_guest(name, "gkill-%s%s" % (phase, "-before" if tag else ""), extra, phase)
        killed = "killed" in res["guest_kill"] and "held by" in res["guest_kill"]  # killed while it held the lock
        self.record(model, "guestkill", dict(res, step="module SIGKILLed in the guest: %s%s" % (phase, tag),
                                             problems=[] if killed and res["rc"] else ["not killed (rc %s)" % res["rc"]],
                                             after_kill=self.leftovers(name), group_after_kill=group(self.snapshot(name))))
        for label in ("rerun", "third"):
            res = self.playbook(name, "g%s-%s%s" % (label, phase, "-before" if tag else ""), extra)
            snap, secs, problems = self.wait_state(name, "plugged")
            left = self.leftovers(name)
            problems += ["rc %s" % res["rc"]] if res["rc"] else []
            problems += ["the third run changed %s tasks" % res["changed"]] if label == "third" and res["changed"] else []
            problems += ["%s: %s, clean run %s" % (key, left.get(key), clean.get(key)) for key in clean
                         if left.get(key) != clean.get(key)]
            problems += ["file %s: %s" % (path, "missing" if path not in snap["files"] else "sha256 differs")
                         for path in base["files"] if snap["files"].get(path) != base["files"][path]]
            problems += ["file %s: not in the clean run" % path for path in snap["files"] if path not in base["files"]]
            self.record(model, "guestkill", dict(res, step="%s after the kill (%s%s)" % (label, phase, tag),
                                                 problems=problems, leftovers=left, actions=self.config_actions(res["log"])))

    @staticmethod
    def config_actions(log):
        """failover_config's result in a -v log: the commands it ran and whether it changed (None: not found)."""
        text = open(log, encoding="utf-8").read()
        match = re.search(r"Write persistent failover configuration\][\s\S]*?(ok|changed|fatal): \[[^]]+\][^{\n]*(\{.*)", text)
        if not match:
            return None
        actions = re.search(r'"actions": (\[[^]]*\])', match.group(2))
        files = re.search(r'"files": (\[[^]]*\])', match.group(2))
        return {"status": match.group(1), "actions": json.loads(actions.group(1)) if actions else None,
                "files": json.loads(files.group(1)) if files else None}

    def write_blocked(self, name, model, extra, base, how):
        """/etc read-only or full: site.yml must fail naming the path, write nothing, leave the network as it was;
        after the mount is undone the rerun converges."""
        victim = sorted(p for p in base["files"] if p.startswith("/etc/systemd/network/10-guestnet-failover-"))[0]
        lab("ssh", name, "rm -f %s" % victim)  # work for failover_config, in the directory made unwritable
        if how == "read-only":
            setup, undo = "mount --bind /etc /etc && mount -o remount,ro,bind /etc", "umount /etc"
        else:
            setup = ("rm -rf /root/netd && cp -a /etc/systemd/network /root/netd && mount -t tmpfs -o size=64k,mode=755 "
                     "guestnet-full /etc/systemd/network && cp -a /root/netd/. /etc/systemd/network/ && "
                     "{ dd if=/dev/zero of=/etc/systemd/network/zz-fill bs=4k 2>/dev/null; df -k /etc/systemd/network | tail -1; }")
            undo = "umount /etc/systemd/network"
        setup_out = lab("ssh", name, setup, timeout=120).stdout
        before = self.snapshot(name)
        res = self.playbook(name, "etc-%s" % how, extra)
        snap, secs, problems = self.wait_state(name, "plugged")
        left = lab("ssh", name, "ls %s 2>&1; find /etc \\( -name '.guestnet-*' -o -name 'zz-fill' \\) 2>/dev/null" % victim,
                   check=False).stdout
        text = open(res["log"], encoding="utf-8").read()
        msg = next((line for line in reversed(text.splitlines()) if "fatal:" in line), "")
        msg = (re.findall(r'"msg": "((?:[^"\\]|\\.)*)"', msg) or [msg])[-1]
        problems += ["rc 0: did not fail"] if not res["rc"] else []
        problems += ["the failure does not name %s" % os.path.dirname(victim)] if os.path.dirname(victim) not in text else []
        problems += ["%s was written" % victim] if "No such file" not in left else []
        problems += ["temp files left: %s" % left] if ".guestnet-" in left else []
        problems += self.same(before, snap, rebooted=False)
        self.record(model, "etc", dict(res, step="/etc %s" % how, setup=setup_out.strip(), message=msg[-700:],
                                       failed_task=res["last_task"], guest_after=left.strip(), problems=problems,
                                       ssh_ok=bool(snap["links"])))
        lab("ssh", name, undo, timeout=120)
        res = self.playbook(name, "etc-%s-rerun" % how, extra)
        snap, secs, problems = self.wait_state(name, "plugged")
        problems += ["rc %s" % res["rc"]] if res["rc"] else []
        problems += ["%s not restored" % victim] if snap["files"].get(victim) != base["files"][victim] else []
        self.record(model, "etc", dict(res, step="/etc %s undone, rerun" % how, problems=problems))

    def etc(self, name, model, extra, base):
        for how in self.args.etc_cases:
            self.write_blocked(name, model, extra, base, how)

    def nodhcp(self, name, model, extra, base):
        """No DHCP answer on the data link: the lab's dnsmasq stopped, the collection's stack files gone (networkd: the
        upper's address dropped, its DHCP restarted; NetworkManager: the profiles deleted, the bond/team with them), so
        failover_config writes and reloads or activates: site.yml must succeed (README) and SSH (mgmt0) stay."""
        rundir = vm.rundir(name)
        upper = group(base)["upper"]
        if MODELS[model][1] == "NetworkManager":  # its profiles gone: NetworkManager takes the bond/team down
            undo = ("grep -rlZ 'Managed by guestnet.failover' /etc/NetworkManager/system-connections | xargs -0r rm -f; "
                    "nmcli connection reload; ip link del %s 2>/dev/null; true" % upper)
        else:
            undo = ("grep -rlZ 'Managed by guestnet.failover' /etc/systemd/network | xargs -0r rm -f; "
                    "ip -4 addr flush dev %s scope global; networkctl reconfigure %s 2>/dev/null || true" % (upper, upper))
        netns.stop_dnsmasq(rundir)
        try:
            lab("ssh", name, undo, timeout=120)
            res = self.playbook(name, "nodhcp", extra)
            snap = self.snapshot(name)
            grp = group(snap)
            mgmt = lab("ssh", name, "ip -4 -br addr show dev mgmt0 2>/dev/null || ip -4 -br addr", check=False)
            self.record(model, "nodhcp", dict(res, step="site.yml without a DHCP answer", upper=upper, ipv4=grp["ipv4"],
                                              ssh_after=mgmt.returncode == 0, mgmt=mgmt.stdout.strip(),
                                              failed_task=res["last_task"] if res["rc"] else None,
                                              problems=(["rc %s: README says such a run succeeds" % res["rc"]]
                                                        if res["rc"] else []) +
                                              ([] if mgmt.returncode == 0 and snap["links"] else ["SSH cut"])))
        finally:
            netns.start_dnsmasq(name, rundir)
        snap, secs, problems = self.wait_state(name, "plugged", timeout=300)  # networkd's DHCP retries back off
        self.record(model, "nodhcp", {"step": "DHCP back: the upper's address", "seconds": secs, "ipv4": group(snap)["ipv4"],
                                      "problems": problems + self.same(base, snap, ("upper", "ipv4"), rebooted=False)})
        res = self.playbook(name, "nodhcp-rerun", extra)
        snap, secs, problems = self.wait_state(name, "plugged")
        self.record(model, "nodhcp", dict(res, step="rerun with DHCP", problems=problems + (["rc %s" % res["rc"]] if res["rc"] else [])))

    def probe(self, name, model):
        """failover_link on the fresh guest with a probe nobody answers and rollback_timeout 5: it must fail in about
        that time, name the probe, and leave every link with the MAC as it was (addresses, masters, MACs)."""
        ensure_pyroute2(name)

        def mac_links(snap):  # name, master, MAC and addresses of the group's links and of any bond or team
            return sorted((link["ifname"], link.get("master"), link.get("address"), tuple(sorted(
                (a["family"], a["local"]) for a in link.get("addr_info", []) if a.get("scope") != "host")))
                for link in snap["links"] if link.get("address") == MAC or link.get("master")
                or link.get("linkinfo", {}).get("info_kind") in ("bond", "team"))
        # something to restore: the lowers up, an address on the PV (the bond would carry it)
        lab("ssh", name, "ip link set enp1s0 up; ip link set enp2s0 up; ip addr add 10.99.0.61/24 dev enp1s0", check=False)
        before = self.snapshot(name)
        grp = {"name": "bond0", "model": "bond", "mac": MAC, "pv_driver": "virtio_net", "vf_drivers": ["e1000e"]}
        cmd = [os.path.join(ROOT, ".venv", "bin", "ansible"), "-i", os.path.join(self.outdir, "inventory-%s.ini" % name),
               name, "-m", "guestnet.failover.failover_link", "-a",
               json.dumps({"groups": [grp], "probe": BLACKHOLE, "rollback_timeout": 5})]
        env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_COLLECTIONS_PATH=self.collections,
                   ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1")
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False)
        seconds = round(time.monotonic() - started, 1)
        after = self.snapshot(name)
        guest_log = lab("ssh", name, "journalctl -o short-precise --no-pager | grep -E 'failover_link\\[' | tail -2",
                        check=False).stdout
        probe = re.search(r'"seconds": ([0-9.]+)', proc.stdout)
        problems = ["rc 0: the probe did not fail"] if proc.returncode == 0 else []
        problems += ["the failure does not name %s" % BLACKHOLE] if BLACKHOLE not in proc.stdout else []
        problems += ["not rolled back"] if '"rolled_back": true' not in proc.stdout else []
        problems += ["links differ after the rollback: %s -> %s" % (mac_links(before), mac_links(after))] \
            if mac_links(before) != mac_links(after) else []
        self.record(model, "probe", {"step": "probe %s, rollback_timeout 5" % BLACKHOLE, "rc": proc.returncode,
                                     "seconds": seconds, "probe_seconds": float(probe.group(1)) if probe else None,
                                     "output": proc.stdout[-1500:], "links_before": mac_links(before),
                                     "links_after": mac_links(after), "journal": guest_log, "problems": problems})

    def lock_held(self, name, model, hold=150):
        """The run lock held by flock(1) in the guest: failover_link (check mode) with lock_timeout 5 must fail naming
        the lock; with lock_timeout 300 it must wait for the holder and then succeed. The hold outlasts the first call
        (run 5: an ad-hoc call took 47 s to reach the guest under load, after a 40 s hold had ended)."""
        lab("ssh", name, "systemd-run --collect --unit=rel-lockhold flock /run/guestnet-failover.lock sleep %d" % hold)
        held = time.monotonic()
        for timeout in (5, 300):
            cmd = [os.path.join(ROOT, ".venv", "bin", "ansible"), "-i", os.path.join(self.outdir, "inventory-%s.ini" % name),
                   name, "--check", "-m", "guestnet.failover.failover_link", "-a",
                   json.dumps({"groups": [], "lock_timeout": timeout})]
            env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_COLLECTIONS_PATH=self.collections)
            started = time.monotonic()
            proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
                                  check=False)
            since = round(time.monotonic() - held, 1)
            busy = "holds /run/guestnet-failover.lock" in proc.stdout
            ok = (proc.returncode != 0 and busy) if timeout == 5 else (proc.returncode == 0 and since >= hold)
            self.record(model, "faults", {"step": "lock held %d s by flock(1), failover_link lock_timeout %d" % (hold, timeout),
                                          "rc": proc.returncode, "seconds": round(time.monotonic() - started, 1),
                                          "done_after_hold_start_s": since, "message": proc.stdout[-400:],
                                          "problems": [] if ok else ["unexpected: rc %d busy %s" % (proc.returncode, busy)]})

    def initramfs(self, name):
        """The collection's files meant for the initramfs (initramfs.SEGMENT_PREFIXES) missing from the guest's (None: none)."""
        out = lab("ssh", name, "f=/boot/initrd.img-$(uname -r); [ -f $f ] || exit 3; lsinitramfs $f; echo @@; "
                  "ls /etc/udev/rules.d/81-guestnet-failover* /etc/systemd/network/10-guestnet-failover-*",
                  check=False, timeout=300)
        if out.returncode == 3:
            return None
        listing, dummy, owned = out.stdout.partition("@@")
        return {"owned": len(owned.split()), "missing": sorted(p for p in owned.split() if p.lstrip("/") not in listing)}

    def soak(self, name, model, base):
        target, snap = group(base)["ipv4"][0], base
        for cycle in range(1, self.args.cycles + 1):
            if self.args.soak_until and datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M") >= self.args.soak_until:
                self.record(model, "soak-end", {"step": "stopped at --soak-until %s after %d cycles" % (
                    self.args.soak_until, cycle - 1), "problems": []})
                break
            row = {"step": "cycle %d" % cycle, "lost": 0, "problems": []}
            for action, phase in (("unplug", "unplugged"), ("replug", "plugged")):
                data = json.loads(lab("measure", name, "--action", action, "--target", target, "--after",
                                      str(self.args.after), "--json", check=False, timeout=300).stdout or "{}")
                snap, secs, problems = self.wait_state(name, phase)
                row.update({action + "_lost": data.get("lost"), action + "_gap_ms": data.get("longest_gap_ms"),
                            action + "_settle_s": secs})
                row["lost"] += data.get("lost") or 0
                row["problems"] += ["%s: %s" % (action, p) for p in problems + drift(base, snap)]
                row["problems"] += ["%s: address %s" % (action, group(snap)["ipv4"])] if group(snap)["ipv4"] != [target] else []
            row.update(announcer_rss=[p["rss"] for p in announcers(snap)], procs=len(snap["procs"]),
                       mem_available=snap["mem"].get("MemAvailable"))
            self.record(model, "soak", row)
        self.record(model, "soak-end", {"step": "start/end", "start": self.vitals(base), "end": self.vitals(snap),
                                        "problems": ["leaked %s" % leaks(base, snap)] if leaks(base, snap) else [],
                                        "leaks": leaks(base, snap)})

    @staticmethod
    def vitals(snap):
        return {"procs": len(snap["procs"]), "announcer_rss_kb": [p["rss"] for p in announcers(snap)],
                "mem_available_kb": snap["mem"].get("MemAvailable"), "failed_units": snap["failed"],
                "uptime": snap["uptime"]}

    def vf_cases(self, name, model, base):
        cases = (("spare root port", ["--slot", "alt"], 0), ("after %d s away" % self.args.absence, [], self.args.absence),
                 ("as another NIC model (e1000)", ["--model", "e1000"], 0))
        for label, replug_args, absence in cases:
            lab("unplug", name)
            snap, secs, problems = self.wait_state(name, "unplugged")
            if absence:
                time.sleep(absence)  # the absence itself is what is tested; the state is checked at its end
                snap, secs, more = self.wait_state(name, "unplugged")
                problems += more
            lab("replug", name, *replug_args, check=False)
            snap, secs, more = self.wait_state(name, "plugged")
            grp = group(snap)
            self.record(model, "vf", {"step": label, "seconds": secs, "vf": grp["vf"], "vf_pci": grp["vf_pci"],
                                      "vf_driver": grp["vf_driver"], "upper": grp["upper"], "ipv4": grp["ipv4"],
                                      "problems": problems + more + drift(base, snap)})
            if replug_args:  # back to the boot NIC at its boot slot for what follows
                lab("unplug", name, check=False)
                lab("replug", name)
        lab("unplug", name)
        lab("reboot", name, "--timeout", "840", timeout=900)
        snap, secs, problems = self.wait_state(name, "unplugged")
        boot = self.vitals(snap)["uptime"]
        if boot < self.args.late:
            time.sleep(self.args.late - boot)  # the VF arrives this late after boot (SSH may answer later still)
        replug = lab("replug", name, check=False)
        problems += ["replug failed: " + replug.stderr[-300:]] if replug.returncode else []
        snap, secs, more = self.wait_state(name, "plugged")
        grp = group(snap)
        self.record(model, "vf", {"step": "late after boot (at uptime %.0f s)" % max(boot, self.args.late),
                                  "seconds": secs, "vf": grp["vf"], "vf_pci": grp["vf_pci"], "upper": grp["upper"],
                                  "ipv4": grp["ipv4"], "problems": problems + more + self.same(base, snap, ("upper", "ipv4"), units=False)})

    @staticmethod
    def same(ref, snap, keys=("upper", "pv", "vf", "ipv4", "active"), rebooted=True, units=True):
        """Problems where the group differs from the reference's (names, addresses, active lower), and drift."""
        old, new = group(ref), group(snap)
        return ["%s %s -> %s" % (k, old[k], new[k]) for k in keys if old[k] != new[k]] + drift(ref, snap, rebooted, units)

    def reboots(self, name, model, base):
        """Reboots in a row: each boot's group must equal the first boot's (the first boot after a converge may
        rename lowers to their persistent names; that difference from `base` is recorded, not counted)."""
        refs = {}
        for i in range(self.args.reboots + self.args.reboots_without):
            with_vf = i < self.args.reboots
            if i == self.args.reboots:
                lab("unplug", name)
            started = time.monotonic()
            lab("reboot", name, "--timeout", "840", timeout=900)
            snap, secs, problems = self.wait_state(name, "plugged" if with_vf else "unplugged")
            keys = ("upper", "pv", "vf", "ipv4", "active") if with_vf else ("upper", "pv", "ipv4", "active")
            ref = refs.setdefault(with_vf, snap)
            grp = group(snap)
            self.record(model, "reboots", {"step": "reboot %d %s the VF" % (i + 1, "with" if with_vf else "without"),
                                           "seconds": round(time.monotonic() - started, 1), "upper": grp["upper"],
                                           "pv": grp["pv"], "vf": grp["vf"], "ipv4": grp["ipv4"], "active": grp["active"],
                                           "vs_before_reboots": self.same(base, snap, keys) if ref is snap else None,
                                           "problems": problems + self.same(ref, snap, keys)})
        if self.args.reboots_without:
            lab("replug", name)

    def attach(self, name):
        """An existing, converged lab guest (--attach): its inventory from the lab's instance record; nothing booted."""
        with open(os.path.join(vm.rundir(name), "instance.json"), encoding="utf-8") as handle:
            write_inventory(os.path.join(self.outdir, "inventory-%s.ini" % name), name, json.load(handle))
        return name

    def run_model(self, model):
        attached = self.args.attach
        name = self.attach(attached) if attached else self.up(model)
        extra = MODELS[model][2]
        # for RESET (guestkill): the initrd of before the first converge (an attached guest's has the segment already)
        lab("ssh", name, "[ -e /root/initrd.orig ] || cp /boot/initrd.img-$(uname -r) /root/initrd.orig")
        try:
            if "probe" in self.args.parts:  # on the fresh guest: nothing converged yet
                if MODELS[model][1] == "NetworkManager":
                    self.record(model, "probe", {"step": "skipped: NetworkManager would own the bond", "problems": []})
                else:
                    self.probe(name, model)
            if "faults" in self.args.parts:
                self.faults(name, model, extra)
            elif self.args.parts == ["probe"]:
                return
            elif not attached:
                res = self.playbook(name, "converge", extra)
                self.record(model, "converge", dict(res, step="site.yml", problems=["rc %s" % res["rc"]] if res["rc"] else []))
            base = None
            # the other parts in the order given; each compares with the state at its start (a part before it may
            # have restarted the announcer, rebooted, renamed the lowers to their persistent names)
            for part in [part for part in self.args.parts if part not in ("probe", "faults")]:
                base, secs, problems = self.wait_state(name, "plugged")
                self.record(model, "baseline", {"step": "before %s" % part, "group": group(base), "vitals": self.vitals(base),
                                                "files": len(base["files"]), "nm": base["nm"], "units": len(base["units"] or {}),
                                                "seconds": secs, "problems": problems})
                if part in ("guestkill", "etc", "nodhcp"):
                    getattr(self, part)(name, model, extra, base)
                else:
                    getattr(self, {"vf": "vf_cases"}.get(part, part))(name, model, base)
        finally:
            if not attached:
                lab("down", name, check=False)
                STARTED.discard(name)


def report(results):
    """Markdown tables of the results (per model: soak summary, then every step of the other parts)."""
    lines = []
    for model, parts in results.items():
        lines.append("### %s\n" % model)
        soak = parts.get("soak", [])
        if soak:
            lines += ["| figure | n | median | p95 | max |", "|---|---:|---:|---:|---:|"]
            for key in ("lost", "unplug_lost", "replug_lost", "unplug_gap_ms", "replug_gap_ms", "unplug_settle_s",
                        "replug_settle_s"):
                stats = summary([row.get(key) for row in soak])
                lines.append("| %s | %d | %s | %s | %s |" % (key, stats["n"], stats["median"], stats["p95"], stats["max"]))
            lines.append("\nSoak steps with problems: %d of %d cycles" % (sum(1 for r in soak if r["problems"]), len(soak)))
            for end in parts.get("soak-end", []):
                lines.append("%s: %s" % (end["step"], "start: %s  \nend: %s  \nleaks: %s\n" % (
                    end["start"], end["end"], end["leaks"] or "none") if "start" in end else ""))
        for part in ("probe", "converge", "faults", "guestkill", "etc", "nodhcp", "baseline", "vf", "reboots"):
            for row in parts.get(part, []):
                hidden = ("model", "part", "step", "log", "tails", "journal", "nm", "reference", "leftovers", "after_kill",
                          "output")
                shown = {k: v for k, v in row.items() if k not in hidden}
                lines.append("- **%s / %s**: %s" % (part, row["step"], json.dumps(shown, sort_keys=True)))
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["bond", "net_failover", "team"])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--kill-phases", nargs="+", choices=sorted(KILL_PHASES), default=sorted(KILL_PHASES),
                        help="guestkill: where the module is SIGKILLed in the guest")
    parser.add_argument("--cycles", type=int, default=100, help="soak unplug/re-plug cycles per model (default 100)")
    parser.add_argument("--reboots", type=int, default=10, help="reboots in a row with the VF")
    parser.add_argument("--reboots-without", type=int, default=2, help="then reboots without the VF")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLed site.yml runs (each followed by two runs)")
    parser.add_argument("--absence", type=int, default=60, help="seconds the VF stays away in the long-absence case")
    parser.add_argument("--late", type=int, default=30, help="guest uptime (s) at which the VF arrives after a boot")
    parser.add_argument("--after", type=float, default=3.0, help="seconds pinged after each unplug/re-plug")
    parser.add_argument("--settle-timeout", type=float, default=60, help="seconds a state may take to settle")
    parser.add_argument("--first", type=int, default=1, help="number of the first guest (rel-N), one per model")
    parser.add_argument("--release", default="12")
    parser.add_argument("--ref", default="HEAD", help="git ref of the collection to test")
    parser.add_argument("--etc-cases", nargs="+", choices=("read-only", "full"), default=["read-only", "full"])
    parser.add_argument("--ref-before", help="guestkill: also run each failover_config kill with this ref (before a fix)")
    parser.add_argument("--seed", type=int, help="random seed (kill points); default: time")
    parser.add_argument("--attach", metavar="NAME", help="use this running, converged lab guest of ONE model: no boot, "
                        "no converge, never taken down (parts: guestkill etc nodhcp soak vf reboots)")
    parser.add_argument("--soak-until", metavar="HH:MM", help="stop the soak at this UTC time (the cycles run are reported)")
    parser.add_argument("--quick", action="store_true", help="short form: bond, 3 cycles, 2 reboots, 1 kill, 10 s away")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.cycles, args.reboots, args.reboots_without, args.kills, args.absence = (
            ["bond"], 3, 2, 0, 1, 10)
        # the in-guest fault steps ran on networkd guests only so far (reliability.md, run 4): not in the short form
        args.parts = [part for part in args.parts if part in ("faults", "soak", "vf", "reboots")]
    if args.attach and (len(args.models) != 1 or set(args.parts) & {"probe", "faults"}):
        parser.error("--attach takes one model and no probe/faults (they need a fresh guest)")
    args.seed = int(time.time()) if args.seed is None else args.seed
    random.seed(args.seed)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    # per model set too: one process per model, started in the same second, must not share a directory
    outdir = os.path.join(ROOT, "benchmarks", "results", "reliability-%s-%s" % (stamp, "-".join(args.models)))
    os.makedirs(outdir)
    collections_path, sha = export_collection(args.ref, os.path.join(ROOT, ".cache", "bench-collections"))
    meta = {"argv": sys.argv, "args": vars(args), "collection": sha, "loadavg_before": open("/proc/loadavg").read()}
    say("results in", outdir, "collection", sha, "seed", args.seed, "load", meta["loadavg_before"].strip())
    signal.signal(signal.SIGTERM, _interrupt)
    suite = Suite(args, outdir, collections_path)
    try:
        for model in args.models:
            try:
                suite.run_model(model)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:  # the next model still runs
                suite.record(model, "error", {"step": "aborted", "problems": [str(exc)[-1500:]]})
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        for name in sorted(STARTED):
            lab("down", name, check=False)
        meta["loadavg_after"] = open("/proc/loadavg").read()
        with open(os.path.join(outdir, "meta.json"), "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=2)
        with open(os.path.join(outdir, "report.md"), "w", encoding="utf-8") as handle:
            handle.write(report(suite.results))
    print(report(suite.results))
    failed = [(m, p) for m, parts in suite.results.items() for p, rows in parts.items() for r in rows if r.get("problems")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
