# SPDX-License-Identifier: GPL-3.0-or-later
"""Lab instances: boot a QEMU guest on a topology, reach it over SSH, hot-(un)plug its primaries, tear it down."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

from guestnet_lab import images, netns, seed, topologies
from guestnet_lab.qmp import QMP
from guestnet_lab.util import LAB_DIR, RUN_DIR, LabError, WaitTimeout, ensure_ssh_key, free_tcp_port, log, run, wait_for

SSH_TIMEOUT = 240.0
# Cloud guests: SSH waits for cloud-init's network stage, which waits up to 2 min for systemd-networkd-wait-online
# when the data NIC does not come up as the seed says (e.g. set-name raced onto the wrong device).
CLOUD_SSH_TIMEOUT = 600.0
UNPLUG_TIMEOUT = 30.0


def rundir(name: str) -> Path:
    """Return the run directory of an instance."""
    return RUN_DIR / name


def tap_names(name: str, count: int) -> list[str]:
    """Return short (<= 15 chars), deterministic tap names for an instance's data NICs."""
    short = hashlib.sha1(name.encode()).hexdigest()[:8]
    return [f"gl{short}t{i}" for i in range(count)]


def load(name: str) -> dict:
    """Return the instance.json of a running instance."""
    path = rundir(name) / "instance.json"
    if not path.exists():
        raise LabError(f"no lab instance {name!r} (no {path}); start it with: up {name}")
    return json.loads(path.read_text(encoding="utf-8"))


def save(inst: dict) -> None:
    """Write instance.json atomically."""
    path = rundir(inst["name"]) / "instance.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(inst, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def qemu_alive(pid: Optional[int]) -> bool:
    """Tell whether pid is a live QEMU process."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"qemu-system" in cmdline


def _read_pid(path: Path) -> Optional[int]:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


SEED_DEVICE = "seedcd"


def qemu_command(name: str, topology: str, image: Path, rdir: Path, port: int, taps: list[str],
                 memory: int, cpus: int, seed_iso: Optional[Path] = None) -> tuple[list[str], dict]:
    """Return the QEMU command line and the JSON arguments of each data NIC device (for re-plug).

    Lab images boot their kernel directly (-kernel/-initrd); cloud images boot their own disk through GRUB
    (SeaBIOS, bootindex 0) and get the NoCloud seed as a CD-ROM on the q35 AHCI controller.
    """
    spec = json.loads((image / "recipe.json").read_text(encoding="utf-8"))
    cmd = ["qemu-system-x86_64", "-name", name, "-machine", "q35", "-accel", "tcg", "-cpu", "max",
           "-smp", str(cpus), "-m", str(memory), "-nodefaults", "-display", "none",
           "-serial", f"file:{rdir / 'serial.log'}", "-qmp", f"unix:{rdir / 'qmp.sock'},server=on,wait=off",
           "-pidfile", str(rdir / "qemu.pid"), "-daemonize"]
    if spec.get("boot") == "grub-bios":
        cmd += ["-drive", f"file={rdir / 'overlay.qcow2'},if=none,id=disk0,format=qcow2,cache=unsafe",
                "-device", "virtio-blk-pci,drive=disk0,bus=pcie.0,addr=0x3,bootindex=0"]
        if seed_iso is not None:
            cmd += ["-drive", f"file={seed_iso},if=none,id=seed,media=cdrom,format=raw,readonly=on",
                    "-device", f"ide-cd,drive=seed,bus=ide.1,id={SEED_DEVICE}"]
    else:
        cmd += ["-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"), "-append", spec["cmdline"],
                "-drive", f"file={rdir / 'overlay.qcow2'},if=none,id=disk0,format=qcow2,cache=unsafe",
                "-device", "virtio-blk-pci,drive=disk0,bus=pcie.0,addr=0x3"]
    cmd += ["-device", "virtio-rng-pci,bus=pcie.0,addr=0x5",
            "-netdev", f"user,id=mgmt,ipv6=off,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", f"virtio-net-pci,netdev=mgmt,mac={images.MGMT_MAC},bus=pcie.0,addr=0x4,romfile="]
    for i, port_id in enumerate(topologies.root_ports(topology), start=1):
        cmd += ["-device", f"pcie-root-port,id={port_id},slot={i},chassis={i}"]
    devices = {}
    for i, (nic, tap) in enumerate(zip(topologies.nics(topology), taps)):
        netdev = f"hn{i}"
        cmd += ["-netdev", f"tap,id={netdev},ifname={tap},script=no,downscript=no"]
        dev = topologies.device_json(nic, netdev)
        dev["romfile"] = ""
        cmd += ["-device", json.dumps(dev, separators=(",", ":"))]
        devices[nic["id"]] = dev
    return cmd, devices


def ssh_command(inst: dict, remote: Optional[list[str]] = None, tty: bool = False) -> list[str]:
    """Return the ssh command line reaching an instance as root over the management path."""
    cmd = ["ssh", "-i", inst["ssh_key"], "-p", str(inst["ssh_port"]), "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]
    cmd += ["-t"] if tty else ["-o", "BatchMode=yes"]
    cmd.append(f"{inst['ssh_user']}@{inst['ssh_host']}")
    return cmd + (remote or [])


def ssh(inst: dict, remote: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run a shell command in the guest and return the completed process."""
    return run(ssh_command(inst, [remote]), check=check, timeout=timeout)


def boot_id(inst: dict) -> Optional[str]:
    """Return the guest's boot id, or None while SSH does not answer."""
    try:
        proc = ssh(inst, "cat /proc/sys/kernel/random/boot_id", check=False, timeout=15)
    except LabError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def _serial_tail(inst: dict, lines: int = 15) -> str:
    try:
        text = Path(inst["serial_log"]).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no serial log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_ssh(inst: dict, timeout: float = SSH_TIMEOUT, not_boot_id: Optional[str] = None) -> str:
    """Wait until SSH answers (with a boot id other than not_boot_id); return the boot id."""
    def ready() -> Optional[str]:
        if not qemu_alive(inst.get("pid")):
            raise LabError(f"QEMU of {inst['name']} exited; serial log {inst['serial_log']}:\n{_serial_tail(inst)}")
        bid = boot_id(inst)
        return bid if bid and bid != not_boot_id else None

    try:
        return wait_for(ready, timeout, f"SSH to {inst['name']} on 127.0.0.1:{inst['ssh_port']} did not answer"
                        + (" with a new boot id" if not_boot_id else ""), interval=1.0)
    except WaitTimeout as exc:
        raise WaitTimeout(f"{exc}\nserial log {inst['serial_log']} ends with:\n{_serial_tail(inst)}") from exc


def _data_mac(topology: str) -> str:
    """Return the MAC a seed's network-config matches: the first data NIC's."""
    return topologies.nics(topology)[0]["mac"]


def _write_seed(inst: dict, variant: str, instance_id: str) -> Path:
    """Write a NoCloud seed ISO for the instance into its run directory; return its path."""
    pubkey = Path(inst["ssh_key"] + ".pub").read_text(encoding="utf-8")
    files = seed.seed_files(variant, instance_id, inst["name"], pubkey, _data_mac(inst["topology"]))
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in instance_id)
    return seed.write_iso(files, Path(inst["rundir"]) / f"seed-{safe}.iso")


def up(name: str, topology: str = "kvm-failover", release: str = "12", bridge_mode: str = "learning",
       memory: int = 1024, cpus: int = 2, timeout: Optional[float] = None, image_kind: str = "lab",
       seed_variant: Optional[str] = None, instance_id: Optional[str] = None) -> dict:
    """Boot an instance and wait for SSH; return its instance record (also written to instance.json).

    Cloud images (image_kind "cloud") get a NoCloud seed: seed_variant v2 (default), v1 or none, and
    instance_id (default NAME-1).
    """
    topologies.nics(topology)
    if bridge_mode not in netns.BRIDGE_MODES:
        raise LabError(f"unknown bridge mode {bridge_mode!r}; choose one of {', '.join(netns.BRIDGE_MODES)}")
    if image_kind not in images.KINDS:
        raise LabError(f"unknown image kind {image_kind!r}; choose one of {', '.join(images.KINDS)}")
    if image_kind == "lab" and (seed_variant or instance_id):
        raise LabError("--seed and --instance-id need --image cloud (lab images have no cloud-init)")
    if timeout is None:
        timeout = CLOUD_SSH_TIMEOUT if image_kind == "cloud" else SSH_TIMEOUT
    if image_kind == "cloud":
        seed_variant = seed_variant or "v2"
        instance_id = instance_id or f"{name}-1"
        seed.network_config(seed_variant, "00:00:00:00:00:00")  # validate the variant before anything starts
    rdir = rundir(name)
    if (rdir / "instance.json").exists() and qemu_alive(load(name).get("pid")):
        raise LabError(f"instance {name!r} is already running; run: down {name}")
    down(name, quiet=True)
    image = images.ensure(release, image_kind)
    key = ensure_ssh_key()
    rdir.mkdir(parents=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image / "base.raw"), "-F", "raw", str(rdir / "overlay.qcow2")])
    nic_list = topologies.nics(topology)
    taps = tap_names(name, len(nic_list))
    port = free_tcp_port()
    inst = {
        "name": name, "topology": topology, "release": release, "bridge_mode": bridge_mode,
        "image": str(image), "image_kind": image_kind, "rundir": str(rdir), "ssh_host": "127.0.0.1", "ssh_port": port, "ssh_user": "root",
        "ssh_key": str(key), "qmp_socket": str(rdir / "qmp.sock"), "serial_log": str(rdir / "serial.log"),
        "pid": None, "netns": netns.ns_name(name), "bridge": "br0", "taps": taps,
        "bridge_ipv4": netns.BRIDGE_IP4, "bridge_ipv6": netns.BRIDGE_IP6,
        "nics": [dict(nic, tap=tap) for nic, tap in zip(nic_list, taps)],
    }
    netns.create(name, bridge_mode)
    for tap in taps:
        netns.create_tap(tap)
    seed_iso = None
    if image_kind == "cloud":
        seed_iso = _write_seed(inst, seed_variant, instance_id)
        inst.update(seed=seed_variant, instance_id=instance_id, seed_iso=str(seed_iso), seed_history=[
            {"seed": seed_variant, "instance_id": instance_id}])
    cmd, devices = qemu_command(name, topology, image, rdir, port, taps, memory, cpus, seed_iso)
    inst["devices"] = devices
    inst["plugged"] = {dev_id: True for dev_id, dev in devices.items() if dev["driver"] == "e1000e"}
    (rdir / "qemu.cmd").write_text(" ".join(f"'{a}'" for a in cmd) + "\n", encoding="utf-8")
    save(inst)
    what = f"debian-{release}" + (f" cloud, seed {seed_variant}" if image_kind == "cloud" else "")
    log(f"booting {name} ({topology}, {what}, bridge {bridge_mode}); waiting for SSH on 127.0.0.1:{port}...")
    started = time.monotonic()
    run(cmd)
    inst["pid"] = _read_pid(rdir / "qemu.pid")
    save(inst)
    for tap in taps:
        netns.attach_tap(name, tap)
    netns.start_dnsmasq(name, rdir)
    inst["boot_id"] = wait_ssh(inst, timeout)
    inst["ssh_seconds"] = round(time.monotonic() - started, 1)
    save(inst)
    log(f"{name} is up: SSH answered after {time.monotonic() - started:.0f}s")
    return inst


def reseed(name: str, variant: str, instance_id: Optional[str] = None) -> dict:
    """Write a new NoCloud seed and swap the CD-ROM medium (QMP blockdev-change-medium), so the guest's next
    boot is a new instance (cloud-init renders its network configuration again). The running guest is untouched."""
    inst = load(name)
    if inst.get("image_kind") != "cloud":
        raise LabError(f"{name} does not boot a cloud image; reseed needs up --image cloud")
    seed.network_config(variant, "00:00:00:00:00:00")
    history = inst.setdefault("seed_history", [])
    instance_id = instance_id or f"{name}-{len(history) + 1}"
    if instance_id == inst.get("instance_id"):
        log(f"instance-id {instance_id} is unchanged: cloud-init will not treat the next boot as a new instance")
    iso = _write_seed(inst, variant, instance_id)
    with QMP(inst["qmp_socket"]) as qmp:
        try:
            qmp.command("blockdev-change-medium", id=SEED_DEVICE, filename=str(iso), format="raw",
                        **{"read-only-mode": "read-only"})
        except LabError:
            # the guest locked the tray (a mounted CD): force it open, then insert the new medium
            qmp.command("eject", id=SEED_DEVICE, force=True)
            qmp.command("blockdev-change-medium", id=SEED_DEVICE, filename=str(iso), format="raw",
                        **{"read-only-mode": "read-only"})
    history.append({"seed": variant, "instance_id": instance_id})
    inst.update(seed=variant, instance_id=instance_id, seed_iso=str(iso))
    save(inst)
    return {"name": name, "seed": variant, "instance_id": instance_id, "seed_iso": str(iso)}


def down(name: str, quiet: bool = False) -> None:
    """Stop an instance and remove its netns, taps and overlay; safe to call on a missing or crashed instance."""
    rdir = rundir(name)
    inst: dict = {}
    if (rdir / "instance.json").exists():
        inst = json.loads((rdir / "instance.json").read_text(encoding="utf-8"))
    pid = inst.get("pid") or _read_pid(rdir / "qemu.pid")
    if qemu_alive(pid):
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not qemu_alive(pid), 10, f"QEMU (pid {pid}) exited after SIGTERM")
        except WaitTimeout:
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not qemu_alive(pid), 10, f"QEMU (pid {pid}) exited after SIGKILL")
        if not quiet:
            log(f"stopped QEMU of {name} (pid {pid})")
    netns.stop_dnsmasq(rdir)
    taps = inst.get("taps") or tap_names(name, 4)
    netns.destroy(name, taps)
    if rdir.exists():
        logs = LAB_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        if (rdir / "serial.log").exists():
            shutil.move(str(rdir / "serial.log"), str(logs / f"{name}-serial.log"))
        shutil.rmtree(rdir, ignore_errors=True)
        if not quiet:
            log(f"removed {rdir} (last serial log kept in {logs / (name + '-serial.log')})")


def reboot(name: str, timeout: Optional[float] = None) -> str:
    """Reboot the guest and wait until SSH answers with a new boot id; return it."""
    inst = load(name)
    if timeout is None:
        timeout = CLOUD_SSH_TIMEOUT if inst.get("image_kind") == "cloud" else SSH_TIMEOUT
    old = boot_id(inst)
    if not old:
        raise LabError(f"{name}: SSH does not answer, cannot reboot from inside the guest")
    ssh(inst, "systemctl reboot", check=False, timeout=15)
    log(f"rebooting {name}; waiting for SSH with a new boot id...")
    new = wait_ssh(inst, timeout, not_boot_id=old)
    inst["boot_id"] = new
    save(inst)
    # Primaries come back with the reboot (QEMU re-plugs hidden failover primaries on reset).
    return new


def primaries(inst: dict) -> list[str]:
    """Return the ids of the instance's hot-pluggable primaries (the "VFs")."""
    return sorted(inst.get("plugged", {}))


def _device_id(inst: dict, device: Optional[str]) -> str:
    ids = primaries(inst)
    if not ids:
        raise LabError(f"{inst['name']}: topology {inst['topology']} has no hot-pluggable primary")
    if device is None:
        return ids[0]
    if device not in ids:
        raise LabError(f"{inst['name']}: no primary {device!r}; choose one of {', '.join(ids)}")
    return device


def unplug(name: str, device: Optional[str] = None, timeout: float = UNPLUG_TIMEOUT) -> dict:
    """Hot-unplug a primary (QMP device_del) and wait for DEVICE_DELETED; return timing info."""
    inst = load(name)
    dev_id = _device_id(inst, device)
    with QMP(inst["qmp_socket"]) as qmp:
        started = time.monotonic()
        qmp.command("device_del", id=dev_id)
        qmp.wait_event("DEVICE_DELETED", timeout, {"device": dev_id})
        elapsed = time.monotonic() - started
    inst["plugged"][dev_id] = False
    save(inst)
    return {"device": dev_id, "action": "unplug", "seconds": round(elapsed, 3)}


# QEMU NIC models a primary can be re-plugged as, and the guest driver that binds each ("a different VF driver")
PRIMARY_MODELS = {"e1000e": "e1000e", "e1000": "e1000"}


def guest_has_primary(inst: dict, mac: str, driver: str = "e1000e") -> bool:
    """Tell whether the guest shows a netdev with this MAC driven by `driver` (the primary)."""
    script = (f"for d in /sys/class/net/*; do [ \"$(cat $d/address)\" = {mac} ] && "
              f"[ \"$(basename $(readlink -f $d/device/driver) 2>/dev/null)\" = {driver} ] && exit 0; done; exit 1")
    try:
        return ssh(inst, script, check=False, timeout=15).returncode == 0
    except LabError:
        return False


def replug_args(device: dict, slot: Optional[str] = None, model: Optional[str] = None) -> dict:
    """Return the device_add arguments of a primary: its boot arguments, at another root port (slot 'alt' is the
    spare one) and/or as another QEMU NIC model (one of PRIMARY_MODELS)."""
    args = dict(device)
    if slot:
        args["bus"] = "rootalt" if slot == "alt" else slot
    if model:
        if model not in PRIMARY_MODELS:
            raise LabError(f"unknown primary model {model!r}; choose one of {', '.join(PRIMARY_MODELS)}")
        args["driver"] = model
    return args


def replug(name: str, device: Optional[str] = None, slot: Optional[str] = None, wait_guest: bool = True,
           timeout: float = UNPLUG_TIMEOUT, model: Optional[str] = None) -> dict:
    """Hot-plug a primary back (QMP device_add with its boot arguments; slot 'alt' uses the spare root port;
    model another QEMU NIC model, e.g. e1000 for a VF with another guest driver)."""
    inst = load(name)
    dev_id = _device_id(inst, device)
    args = replug_args(inst["devices"][dev_id], slot, model)
    with QMP(inst["qmp_socket"]) as qmp:
        started = time.monotonic()
        qmp.command("device_add", **args)
        elapsed = time.monotonic() - started
    inst["plugged"][dev_id] = True
    save(inst)
    result = {"device": dev_id, "action": "replug", "bus": args["bus"], "model": args["driver"],
              "seconds": round(elapsed, 3)}
    if wait_guest:
        driver = PRIMARY_MODELS[args["driver"]]
        wait_for(lambda: guest_has_primary(inst, args["mac"], driver), timeout,
                 f"guest {name} did not show an {driver} netdev with MAC {args['mac']} after device_add")
        result["guest_seconds"] = round(time.monotonic() - started, 3)
    return result


def announce(name: str) -> dict:
    """Ask QEMU to send self-announcement packets (RARP/GARP) for the guest's NICs (QMP announce-self)."""
    inst = load(name)
    with QMP(inst["qmp_socket"]) as qmp:
        qmp.command("announce-self", initial=50, max=550, rounds=3, step=100)
    return {"action": "announce"}


def list_instances() -> list[dict]:
    """Return a short record of every instance directory under .lab/run."""
    result = []
    if RUN_DIR.exists():
        for path in sorted(RUN_DIR.glob("*/instance.json")):
            inst = json.loads(path.read_text(encoding="utf-8"))
            result.append({"name": inst["name"], "topology": inst["topology"], "release": inst["release"],
                           "image_kind": inst.get("image_kind", "lab"), "seed": inst.get("seed", "-"),
                           "bridge_mode": inst["bridge_mode"], "ssh_port": inst["ssh_port"],
                           "running": qemu_alive(inst.get("pid"))})
    return result
