# SPDX-License-Identifier: GPL-3.0-or-later
"""The data network of a lab instance: a netns with bridge br0, dnsmasq (DHCPv4 + RA), and the guest's taps."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from guestnet_lab.util import LabError, log, run, wait_for

BRIDGE_IP4 = "10.99.0.1/24"
BRIDGE_IP6 = "fd99::1/64"
DHCP_RANGE = "10.99.0.100,10.99.0.199,1h"
BRIDGE_MODES = ("learning", "hub")


def ns_name(instance: str) -> str:
    """Return the netns name of an instance."""
    return f"gnl-{instance}"


def ns_exec(instance: str, cmd: list[str]) -> list[str]:
    """Return cmd wrapped to run inside the instance's netns."""
    return ["ip", "netns", "exec", ns_name(instance)] + cmd


def ns_exists(instance: str) -> bool:
    """Tell whether the instance's netns exists."""
    return Path("/run/netns", ns_name(instance)).exists()


def link_exists(name: str, instance: str | None = None) -> bool:
    """Tell whether a link exists in the host namespace (or in the instance's netns)."""
    cmd = ["ip", "link", "show", "dev", name]
    if instance:
        cmd = ns_exec(instance, cmd)
    return run(cmd, check=False).returncode == 0


def create(instance: str, bridge_mode: str) -> None:
    """Create the netns with lo and br0 (addresses, hub or learning mode)."""
    if bridge_mode not in BRIDGE_MODES:
        raise LabError(f"unknown bridge mode {bridge_mode!r}; choose one of {', '.join(BRIDGE_MODES)}")
    ns = ns_name(instance)
    if ns_exists(instance):
        run(["ip", "netns", "delete", ns], check=False)
    run(["ip", "netns", "add", ns])
    ageing = ["ageing_time", "0"] if bridge_mode == "hub" else []
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"] + ageing,
                ["ip", "addr", "add", BRIDGE_IP4, "dev", "br0"],
                ["ip", "addr", "add", BRIDGE_IP6, "dev", "br0", "nodad"],
                ["ip", "link", "set", "br0", "up"]):
        run(ns_exec(instance, cmd))


def create_tap(tap: str) -> None:
    """Create a persistent tap in the host namespace for QEMU to open (removing a stale one)."""
    if link_exists(tap):
        run(["ip", "link", "delete", tap], check=False)
    run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"])


def attach_tap(instance: str, tap: str) -> None:
    """Move a tap QEMU already holds into the netns and enslave it to br0.

    The tap keeps working for QEMU after the move: the file descriptor stays bound to the device, whatever
    namespace it lives in.
    """
    run(["ip", "link", "set", tap, "netns", ns_name(instance)])
    run(ns_exec(instance, ["ip", "link", "set", tap, "master", "br0", "up"]))


def start_dnsmasq(instance: str, rundir: Path) -> None:
    """Start dnsmasq in the netns: DHCPv4 on br0 and router advertisements for fd99::/64 (no DNS)."""
    pidfile = rundir / "dnsmasq.pid"
    cmd = ["dnsmasq", "--conf-file=/dev/null", "--port=0", "--interface=br0", "--bind-interfaces",
           "--except-interface=lo", f"--dhcp-range={DHCP_RANGE}", "--dhcp-range=::,constructor:br0,ra-only",
           "--enable-ra", "--dhcp-authoritative", f"--pid-file={pidfile}", f"--dhcp-leasefile={rundir / 'dnsmasq.leases'}",
           f"--log-facility={rundir / 'dnsmasq.log'}", "--log-dhcp", "--user=root", "--group=root"]
    run(ns_exec(instance, cmd))
    wait_for(lambda: pidfile.exists() and pidfile.read_text(encoding="utf-8").strip(), 10, "dnsmasq wrote its pid file")


def stop_dnsmasq(rundir: Path) -> None:
    """Stop the instance's dnsmasq if its pid file names a live dnsmasq."""
    pidfile = rundir / "dnsmasq.pid"
    try:
        pid = int(pidfile.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return
    if _is_process(pid, "dnsmasq"):
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _is_process(pid, "dnsmasq"), 10, f"dnsmasq (pid {pid}) exited")
    pidfile.unlink(missing_ok=True)


def _is_process(pid: int, name: str) -> bool:
    """Tell whether pid is alive and its command name contains name."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return name in comm


def destroy(instance: str, taps: list[str]) -> None:
    """Remove the netns (and with it br0 and any tap moved there) and leftover taps in the host namespace."""
    if ns_exists(instance):
        run(["ip", "netns", "delete", ns_name(instance)], check=False)
        log(f"removed netns {ns_name(instance)}")
    for tap in taps:
        if link_exists(tap):
            run(["ip", "link", "delete", tap], check=False)
