# SPDX-License-Identifier: GPL-3.0-or-later
""""Before" survey (issue 11 item 4): stock cloud-init, NO collection, on the lab's cloud images.

Boots a cloud guest per case (release x topology x seed), records what cloud-init/netplan/networkd made of the NIC
shape (device names, which device got data1 and the addresses, cloud-init status and "duplicate mac" lines, the
rendered netplan/networkd/udev files), reboots once to see whether it is stable, and writes
.lab/survey/<case>.json plus a Markdown table on stdout. Run from the repository root as root:

    PYTHONPATH=lab .venv/bin/python lab/checks/cloud_survey.py [--parallel 2] [--apt-check] [CASE ...]

CASE is release:topology:seed (e.g. 12:kvm-failover:v2); the default is Debian 12 x {kvm-failover, pv-vf-pair} x
{v2, v1, none} plus Debian 13 x {kvm-failover, pv-vf-pair} x v2. Instance names start with h3s.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import sys
import time

from guestnet_lab import vm
from guestnet_lab.util import LAB_DIR, LabError

OUT = LAB_DIR / "survey"
TOPO_SHORT = {"kvm-failover": "kf", "pv-vf-pair": "pp", "two-triplets": "tt", "plain": "pl"}
DEFAULT_CASES = ([("12", t, s) for t in ("kvm-failover", "pv-vf-pair") for s in ("v2", "v1", "none")]
                 + [("13", t, "v2") for t in ("kvm-failover", "pv-vf-pair")])

DEVICES = r'''for d in /sys/class/net/*; do n=${d##*/}; [ "$n" = lo ] && continue
drv=$(basename "$(readlink -f $d/device/driver)" 2>/dev/null); m=$(basename "$(readlink $d/master)" 2>/dev/null)
low=$(ls -d $d/lower_* 2>/dev/null | sed 's|.*/lower_||' | tr '\n' ,)
echo "$n $(cat $d/address) driver=${drv:-none} master=${m:--} lowers=${low:--} oper=$(cat $d/operstate)"; done'''

COMMANDS = {
    "devices": DEVICES,
    "link": "ip -br link",
    "addr": "ip -br addr",
    "route": "ip route; ip -6 route",
    "ci_status": "cloud-init status --long 2>&1; echo rc=$?",
    "ci_duplicate_mac": "grep -i 'duplicate mac' /var/log/cloud-init.log || true",
    "ci_warnings": "grep -E ' (WARNING|ERROR)' /var/log/cloud-init.log | cut -c1-400 | head -40 || true",
    "ci_fallback": "grep -iE 'fallback|find_fallback|Applying network configuration|Generated fallback' "
                   "/var/log/cloud-init.log | cut -c1-300 | head -20 || true",
    "netplan_yaml": "for f in /etc/netplan/*.yaml; do echo \"# $f\"; cat \"$f\"; done 2>&1",
    "networkd_files": "for f in /run/systemd/network/* /etc/systemd/network/*; do echo \"# $f\"; cat \"$f\"; done "
                      "2>&1",
    "udev_rules": "ls /run/udev/rules.d/ 2>&1; for f in /run/udev/rules.d/*netplan* /etc/udev/rules.d/*; do "
                  "[ -e \"$f\" ] && { echo \"# $f\"; cat \"$f\"; }; done; true",
    "networkctl": "networkctl list --no-pager 2>&1",
    "renames": "journalctl -b -k --no-pager -o short-monotonic | grep -iE 'renamed|failover|e1000e.*(NIC Link|eth)' "
               "| head -30",
    "udev_errors": "journalctl -b --no-pager -o short-monotonic -u systemd-udevd -u systemd-networkd | "
                   "grep -iE 'fail|error|rename|could not|conflict|exists' | head -30",
    "wait_online": "systemctl status --no-pager systemd-networkd-wait-online.service 2>&1 | head -5; "
                   "systemd-analyze 2>&1 | head -1; systemctl is-system-running",
    "resolv": "resolvectl status --no-pager 2>&1 | grep -E 'DNS Servers|Link' | head -10",
}


def case_name(release: str, topology: str, seed_variant: str) -> str:
    """Return the lab instance name of a case."""
    return f"h3s{release}{TOPO_SHORT[topology]}{seed_variant}"


def collect(inst: dict) -> dict:
    """Run the survey commands in the guest; return name -> output."""
    result = {}
    for key, cmd in COMMANDS.items():
        proc = vm.ssh(inst, cmd, check=False, timeout=60)
        result[key] = (proc.stdout + proc.stderr).rstrip()
    return result


def parse_devices(text: str) -> list[dict]:
    """Parse the DEVICES output into records with a role (failover master, standby, primary, mgmt, ...)."""
    devs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        rec = {"name": parts[0], "mac": parts[1]}
        rec.update(dict(p.split("=", 1) for p in parts[2:] if "=" in p))
        if rec["mac"] == "52:54:00:00:00:01":
            role = "mgmt"
        elif rec.get("lowers", "-") != "-":
            role = "master"
        elif rec.get("master", "-") != "-" and rec.get("driver") == "virtio_net":
            role = "standby"
        elif rec.get("master", "-") != "-":
            role = f"primary/{rec.get('driver')}"
        else:
            role = rec.get("driver", "?")
        rec["role"] = role
        devs.append(rec)
    return devs


def summarize(snap: dict) -> dict:
    """Reduce one snapshot to the table's facts."""
    devs = parse_devices(snap["devices"])
    by_name = {d["name"]: d for d in devs}
    addrs: dict[str, list[str]] = {}
    for line in snap["addr"].splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] != "lo":
            addrs[parts[0].split("@")[0]] = parts[2:]
    ipv4 = sorted(n for n, a in addrs.items() if any(x.startswith("10.99.") for x in a))
    ll = sorted(n for n, a in addrs.items() if any(x.startswith("fe80:") for x in a) and n != "mgmt0")
    status = re.search(r"^status:\s*(\S+)", snap["ci_status"], re.M)
    data1 = by_name.get("data1")
    return {
        "names": {d["name"]: d["role"] for d in devs if d["role"] != "mgmt"},
        "data1": data1["role"] if data1 else "none",
        "ipv4_on": [by_name.get(n, {}).get("role", n) for n in ipv4],
        "link_local_on": [by_name.get(n, {}).get("role", n) for n in ll],
        "ci_status": status.group(1) if status else "?",
        "duplicate_mac_lines": len([x for x in snap["ci_duplicate_mac"].splitlines() if x.strip()]),
        "netplan_files": re.findall(r"^# (/etc/netplan/\S+)", snap["netplan_yaml"], re.M),
        "networkd_files": [f for f in re.findall(r"^# (\S+)", snap["networkd_files"], re.M) if "/run/" in f],
        "udev_netplan_rules": [x for x in snap["udev_rules"].split() if "netplan" in x and x.endswith(".rules")
                               and not x.startswith("/")],
        "default_route": (snap["route"].splitlines() or ["?"])[0],
    }


def stable_key(summary: dict) -> tuple:
    """The facts that must not change across a reboot."""
    return (tuple(sorted(summary["names"].items())), summary["data1"], tuple(summary["ipv4_on"]))


def run_case(release: str, topology: str, seed_variant: str, apt_check: bool, reboots: int = 1,
             reseed_to: str = "") -> dict:
    """Boot one case, collect, reboot (reboots times) collecting each boot, tear down; return the record (also
    saved as JSON). reseed_to: before the last reboot swap in a new seed of that variant (a new instance)."""
    name = case_name(release, topology, seed_variant)
    record: dict = {"case": f"{release}:{topology}:{seed_variant}", "name": name, "release": release,
                    "topology": topology, "seed": seed_variant}
    try:
        inst = vm.up(name, topology, release, "learning", 1024, 1, 900.0, image_kind="cloud",
                     seed_variant=seed_variant)
        record["ssh_seconds_first_boot"] = inst["ssh_seconds"]
        time.sleep(20)  # let cloud-init's later stages and DHCP finish
        record["boot1"] = collect(inst)
        for boot in range(2, reboots + 2):
            if reseed_to and boot == reboots + 1:
                record["reseeded"] = vm.reseed(name, reseed_to)
            started = time.monotonic()
            vm.reboot(name, timeout=900.0)
            record["ssh_seconds_reboot" if boot == 2 else f"ssh_seconds_reboot{boot - 1}"] = round(
                time.monotonic() - started, 1)
            time.sleep(20)
            record[f"boot{boot}"] = collect(vm.load(name))
        if apt_check:
            proc = vm.ssh(vm.load(name), "apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive "
                          "apt-get install -y -q python3-pyroute2 >/dev/null 2>&1 && python3 -c "
                          "'import pyroute2; print(\"pyroute2\", pyroute2.__version__)'", check=False, timeout=900)
            record["apt_check"] = (proc.stdout + proc.stderr).strip() + f" (rc={proc.returncode})"
    except LabError as exc:
        record["error"] = str(exc)
    finally:
        try:
            vm.down(name, quiet=True)
        except LabError as exc:
            record.setdefault("error", f"down: {exc}")
    finish(record)
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = f"-r{reboots}" if reboots != 1 else ""
    suffix += f"-reseed{reseed_to}" if reseed_to else ""
    (OUT / f"{name}{suffix}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return record


def finish(record: dict) -> dict:
    """Add the per-boot summaries, stability and data1's device per boot to a record (from its raw outputs)."""
    boots = sorted((k for k in record if re.fullmatch(r"boot\d+", k)), key=lambda k: int(k[4:]))
    for boot in boots:
        record[f"{boot}_summary"] = summarize(record[boot])
    if len(boots) > 1:
        keys = [stable_key(record[f"{b}_summary"]) for b in boots]
        record["stable"] = all(k == keys[0] for k in keys)
        record["data1_per_boot"] = [record[f"{b}_summary"]["data1"] for b in boots]
    return record


def _per_boot(rec: dict) -> str:
    """Return ' (boot 2: ...)' listing data1's device per later boot when it moved."""
    per = rec.get("data1_per_boot", [])
    moved = [f"boot {i + 1}: data1 = {d}" for i, d in enumerate(per) if i and d != per[0]]
    return f" ({'; '.join(moved)})" if moved else ""


def table(records: list[dict]) -> str:
    """Return the Markdown table of the survey."""
    rows = ["| Debian | topology | seed | devices (name: role) | data1 is | IPv4 (10.99.0.x) on | IPv6 LL on "
            "| cloud-init | dup-MAC | netplan udev rules | stable over reboot |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec in records:
        s = rec.get("boot1_summary")
        if not s:
            rows.append(f"| {rec['release']} | {rec['topology']} | {rec['seed']} | error: "
                        f"{rec.get('error', '?').splitlines()[0]} | | | | | | | |")
            continue
        names = ", ".join(f"{n}: {r}" for n, r in sorted(s["names"].items()))
        seed_col = rec["seed"]
        nboots = len(rec.get("data1_per_boot", []))
        if nboots > 2 or rec.get("reseeded"):
            seed_col += f" ({nboots - 1} reboots" + (f", reseeded {rec['reseeded']['seed']} before the last"
                                                     if rec.get("reseeded") else "") + ")"
        rows.append(f"| {rec['release']} | {rec['topology']} | {seed_col} | {names} | {s['data1']} | "
                    f"{', '.join(s['ipv4_on']) or 'none'} | {', '.join(s['link_local_on']) or 'none'} | "
                    f"{s['ci_status']} | {s['duplicate_mac_lines']} | {', '.join(s['udev_netplan_rules']) or 'none'} | "
                    f"{'yes' if rec.get('stable') else 'NO'}{_per_boot(rec)} |")
    return "\n".join(rows)


def main() -> int:
    """Run the selected cases (default: all), print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", help="release:topology:seed")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--apt-check", action="store_true", help="apt-get install python3-pyroute2 in the first case")
    ap.add_argument("--table-only", action="store_true", help="print the table of the saved results")
    ap.add_argument("--reboots", type=int, default=1, help="reboots per case (stability; results in <case>-rN.json)")
    ap.add_argument("--reseed", default="", help="swap in a new seed of this variant before the last reboot")
    args = ap.parse_args()
    cases = [tuple(c.split(":")) for c in args.cases] or DEFAULT_CASES
    if args.table_only:
        records = []
        for c in cases:
            for path in sorted(OUT.glob(f"{case_name(*c)}*.json")):
                records.append(finish(json.loads(path.read_text(encoding="utf-8"))))
        print(table(records))
        return 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = [pool.submit(run_case, *c, args.apt_check and i == 0, args.reboots, args.reseed)
                   for i, c in enumerate(cases)]
        records = [f.result() for f in futures]
    print(table(records))
    return 0 if all("error" not in r for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
