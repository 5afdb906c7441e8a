# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure checks of the reliability suite (benchmarks/reliability.py): a guest snapshot parsed into plain data, the
failover group read from it, its problems in a phase (VF plugged or not), drift against the state after the converge,
leaked processes, the spans of the locked tasks in an ansible log, and stat summaries. Tested in
tests/unit/test_reliability.py on snapshots captured from lab guests."""
from __future__ import annotations

import collections
import datetime
import json
import re

MAC = "52:54:00:12:34:56"
PV_DRIVER = "virtio_net"
LOCKED_TASKS = ("Write persistent failover configuration", "Apply failover groups now")  # the modules taking the lock
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?\| (.*)$")
# Units not compared: device units (udev's; their names follow the device path, so a VF at another root port is a new
# one), the SSH sessions' own (the snapshot's and Ansible's), and D-Bus-activated services that exit when idle
# (present or not depending on when the snapshot ran).
UNIT_IGNORED = re.compile(r".*\.device$|session-\d+\.scope$|user@\d+\.service$|user-runtime-dir@\d+\.service$"
                          r"|user-\d+\.slice$|run-user-\d+\.mount$"
                          r"|(systemd-(hostnamed|localed|timedated)|NetworkManager-dispatcher|polkit)\.service$")


def summary(values):
    """n, median, p95 (nearest rank) and max of a list of numbers (None when empty)."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return {"n": 0, "median": None, "p95": None, "max": None}
    mid = len(vals) // 2
    median = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
    return {"n": len(vals), "median": median, "p95": vals[max(0, -(-95 * len(vals) // 100) - 1)], "max": vals[-1]}


def parse_snapshot(text):
    """The guest's snapshot output -> plain dict (links, drivers, files, profiles, processes ...)."""
    raw = {}
    for chunk in text.split("@@")[1:]:
        name, dummy, body = chunk.partition("\n")
        raw[name.strip()] = body
    devices = {}
    for line in raw.get("devices", "").splitlines():
        match = re.search(r"/sys/class/net/([^/]+)/device(/driver)? -> (\S+)", line)
        if match:
            devices.setdefault(match.group(1), {})["driver" if match.group(2) else "device"] = match.group(3).rsplit("/", 1)[-1]
    self_pid, parent = (raw.get("self", "0 0").split() + ["0", "0"])[:2]
    procs = []
    for line in raw.get("ps", "").splitlines():
        parts = line.split(None, 4)
        if len(parts) >= 4:
            procs.append({"pid": int(parts[0]), "ppid": int(parts[1]), "rss": int(parts[2]), "comm": parts[3],
                          "args": parts[4] if len(parts) > 4 else ""})
    announcer = dict(line.split("=", 1) for line in raw.get("announcer", "").splitlines() if "=" in line)
    active = re.search(r"Currently Active Slave: (\S+)", raw.get("bond", ""))
    udev = dict(line.split("=", 1) for line in raw.get("udev", "").splitlines() if "=" in line)
    units = {}
    for line in raw.get("units", "").splitlines():  # UNIT LOAD ACTIVE SUB DESCRIPTION
        parts = line.split()
        if len(parts) >= 4 and not UNIT_IGNORED.match(parts[0]):
            units[parts[0]] = "%s/%s" % (parts[2], parts[3])
    return {
        "links": json.loads(raw.get("links") or "[]"),
        "devices": devices,
        "active": active.group(1) if active else (raw.get("team", "").strip() or None),
        "files": dict(reversed(line.split(None, 1)) for line in raw.get("files", "").splitlines() if line.strip()),
        "nm": sorted(line for line in raw.get("nm", "").splitlines() if line.strip()),
        "nm_lab": sorted(line for line in raw.get("nm_lab", "").splitlines() if line.strip()),
        "networkd": sorted(line for line in raw.get("networkd", "").splitlines() if line.strip() and not line.endswith(":")),
        "announcer": announcer,
        "procs": session_free(procs, int(self_pid), int(parent)),
        "mem": {k.rstrip(":"): int(v) for k, v, *dummy in (line.split() for line in raw.get("mem", "").splitlines())},
        "failed": sorted(line.split()[0] for line in raw.get("failed", "").splitlines() if line.strip()),
        "uptime": float((raw.get("uptime") or "0").split()[0]),
        # udevadm settle's exit code, the queue flag file, links udev has not initialised (None: not captured)
        "udev": {"settle": int(udev["settle"]), "queue": udev.get("queue") == "present",
                 "uninitialized": sorted(v for k, v in (line.split("=", 1) for line in raw["udev"].splitlines() if "=" in line)
                                         if k == "uninitialized")} if "settle" in udev else None,
        "units": units if "units" in raw else None,
    }


def session_free(procs, self_pid, parent):
    """Processes without SSH sessions (the snapshot's own: its shell, the shell's children, its sshd chain; Ansible's
    persistent ones: "sshd: root@notty" and what runs under them) and the per-user systemd instances they keep."""
    by_pid = {p["pid"]: p for p in procs}
    drop, pid = {self_pid}, parent
    while pid in by_pid and by_pid[pid]["ppid"] != 1:
        drop.add(pid)
        pid = by_pid[pid]["ppid"]
    drop |= {p["pid"] for p in procs if re.match(r"sshd: \S+@", p["args"]) or p["args"].endswith("systemd --user")}
    grown = True
    while grown:  # descendants of dropped processes
        more = {p["pid"] for p in procs if p["ppid"] in drop} - drop
        drop |= more
        grown = bool(more)
    return [p for p in procs if p["pid"] not in drop]


def group(snap, mac=MAC):
    """The failover group of `mac` as the guest shows it: upper, its IPv4 addresses, PV, VF, active lower, strays."""
    with_mac = [link for link in snap["links"] if link.get("address") == mac]
    masters = sorted({link["master"] for link in with_mac if link.get("master")})
    upper = masters[0] if len(masters) == 1 else None
    driver = {name: dev.get("driver") for name, dev in snap["devices"].items()}
    lowers = [link["ifname"] for link in with_mac if upper and link.get("master") == upper]
    vfs = [link for link in with_mac if link["ifname"] != upper and driver.get(link["ifname"]) not in (None, PV_DRIVER)]
    pvs = [name for name in lowers if driver.get(name) == PV_DRIVER]
    vf = vfs[0] if len(vfs) == 1 else None
    up_link = next((link for link in snap["links"] if link["ifname"] == upper), {})
    active = snap.get("active")  # the bond's or team's word ("None" when a bond has no active port)
    if active is None and upper:  # net_failover: the primary carries traffic while it is enslaved and up
        up_vf = vf and vf["ifname"] in lowers and vf.get("operstate") == "UP"
        active = vf["ifname"] if up_vf else (pvs[0] if pvs else None)
    return {
        "upper": upper, "masters": masters, "lowers": sorted(lowers), "pv": pvs[0] if pvs else None,
        "vf": vf["ifname"] if vf else None, "vf_count": len(vfs), "vf_up": bool(vf) and vf.get("operstate") == "UP",
        "vf_driver": driver.get(vf["ifname"]) if vf else None,
        "vf_pci": snap["devices"].get(vf["ifname"], {}).get("device") if vf else None,
        "ipv4": sorted(a["local"] for a in up_link.get("addr_info", []) if a.get("family") == "inet"),
        "active": active,
        "addressed_others": sorted("%s (%s)" % (link["ifname"], ", ".join(sorted({a["family"] for a in link["addr_info"]})))
                                   for link in with_mac if link["ifname"] != upper and link.get("addr_info")),
        "strays": sorted(link["ifname"] for link in with_mac if link["ifname"] != upper and link["ifname"] not in lowers),
    }


def check_state(snap, phase):
    """Problems with the group in `phase` ("plugged": the VF enslaved and active; "unplugged": the PV alone)."""
    grp, problems = group(snap), []
    if not grp["upper"]:
        return ["no single upper: the MAC's links have masters %s" % grp["masters"]]
    if len(grp["ipv4"]) != 1:
        problems.append("upper %s has IPv4 %s, not exactly one address" % (grp["upper"], grp["ipv4"]))
    if grp["addressed_others"]:
        problems.append("addresses on lowers/other links with the MAC: %s" % grp["addressed_others"])
    if grp["strays"]:
        problems.append("links with the MAC outside the group: %s" % grp["strays"])
    if not grp["pv"]:
        problems.append("the PV is not a lower of %s (lowers %s)" % (grp["upper"], grp["lowers"]))
    if phase == "plugged":
        if not grp["vf"] or grp["vf"] not in grp["lowers"]:
            problems.append("the VF %s is not enslaved to %s (lowers %s)" % (grp["vf"], grp["upper"], grp["lowers"]))
        elif not grp["vf_up"] or grp["active"] != grp["vf"]:
            problems.append("the VF %s is not the active lower (up=%s, active %s)" % (grp["vf"], grp["vf_up"], grp["active"]))
    elif grp["vf_count"]:
        problems.append("a VF (%s) is present while unplugged" % grp["vf"])
    elif grp["active"] != grp["pv"]:
        problems.append("active lower %s, not the PV %s" % (grp["active"], grp["pv"]))
    return problems


def udev_problems(snap):
    """The udev queue not empty after settling, or a link udev never initialised (no /run/udev/data entry)."""
    udev = snap.get("udev")
    if udev is None:
        return []
    problems = ["udevadm settle rc %d (queue not empty after its timeout)" % udev["settle"]] if udev["settle"] else []
    problems += ["udev queue still present (/run/udev/queue)"] if udev["queue"] else []
    problems += ["links udev has not initialised: %s" % udev["uninitialized"]] if udev["uninitialized"] else []
    return problems


def new_units(base, snap):
    """Units running in `snap` (not inactive) that the baseline did not list -> {unit: "active/sub"}."""
    if base.get("units") is None or snap.get("units") is None:
        return {}
    return {unit: state for unit, state in sorted(snap["units"].items())
            if unit not in base["units"] and not state.startswith("inactive/")}


def announcers(snap):
    return [p for p in snap["procs"] if "announce_watch" in p["args"]]


def drift(base, snap, rebooted=False, units=True):
    """Problems of `snap` against a baseline (files, profiles, announcer, failed and new units) and udev's state;
    `rebooted`: a boot lies between; `units` False: not the running units (the first boot after a converge starts
    units the converge's boot never ran, e.g. NetworkManager-wait-online)."""
    problems = []
    for key in ("files", "nm", "networkd"):
        old, new = set(base[key]), set(snap[key])
        if key == "nm":  # by name: NM gives its in-memory profiles (lo, unmanaged mgmt0) new UUIDs at every boot;
            # the lab's management NIC's profiles come and go with boot timing (not the collection's devices)
            lab = set(base.get("nm_lab", [])) | set(snap.get("nm_lab", []))
            old, new = ({n.split(":", 1)[-1] for n in names} - lab for names in (old, new))
        changed = sorted(k for k in old & new if isinstance(base[key], dict) and base[key][k] != snap[key][k])
        removed = sorted(old - new) if key == "files" else []  # NM drops its own in-memory profiles of gone devices
        if new - old or removed or changed:
            problems.append("%s drift: added %s removed %s changed %s" % (key, sorted(new - old), removed, changed))
    if len(announcers(snap)) != 1:
        problems.append("%d announcer processes" % len(announcers(snap)))
    for key in ("NRestarts", "ActiveState") if rebooted else ("MainPID", "NRestarts", "ActiveState"):
        if base["announcer"].get(key) != snap["announcer"].get(key):
            problems.append("announcer %s %s -> %s" % (key, base["announcer"].get(key), snap["announcer"].get(key)))
    if set(snap["failed"]) - set(base["failed"]):
        problems.append("failed units: %s" % sorted(set(snap["failed"]) - set(base["failed"])))
    if units and new_units(base, snap):
        problems.append("units leaked (not in the baseline): %s" % ", ".join(
            "%s %s" % item for item in new_units(base, snap).items()))
    return problems + udev_problems(snap)


IDLE_EXIT = ("nm-dispatcher",)  # D-Bus-activated by NetworkManager's events, exits when idle: a count, not a leak


def leaks(base, snap):
    """Process names whose count grew from `base` to `snap` -> {comm: (before, after)}, and units running now that
    the baseline did not list -> {"unit NAME": (None, "active/sub")}."""
    before = collections.Counter(p["comm"] for p in base["procs"])
    after = collections.Counter(p["comm"] for p in snap["procs"])
    found = {comm: (before[comm], after[comm]) for comm in sorted(after)
             if after[comm] > before[comm] and comm not in IDLE_EXIT}
    found.update({"unit " + unit: (None, state) for unit, state in new_units(base, snap).items()})
    return found


def task_spans(log_text, names=LOCKED_TASKS):
    """(task, start, end) in seconds of the day from an ansible log (ANSIBLE_LOG_PATH): TASK line to its first result."""
    spans, current = [], None
    for line in log_text.splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        seconds, message = stamp.hour * 3600 + stamp.minute * 60 + stamp.second + stamp.microsecond / 1e6, match.group(2)
        task = re.match(r"TASK \[(?:[^]]* : )?([^]]+)\]", message)
        if task:
            current = (task.group(1), seconds) if task.group(1) in names else None
        elif current and re.match(r"(ok|changed|fatal|failed|skipping): ", message):
            spans.append((current[0], current[1], seconds))
            current = None
    return spans


def overlaps(spans_a, spans_b):
    """Pairs of locked-task spans of two runs that overlap in time (each would have to wait for the other)."""
    return [(a, b) for a in spans_a for b in spans_b if a[1] < b[2] and b[1] < a[2]]
