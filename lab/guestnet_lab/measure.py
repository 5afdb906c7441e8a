# SPDX-License-Identifier: GPL-3.0-or-later
"""Traffic loss around a failover action: ping the guest every 10 ms from the netns while the action runs."""
from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from typing import Optional

from guestnet_lab import netns, vm
from guestnet_lab.util import LabError, wait_for

REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)")
SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
ACTIONS = ("unplug", "replug", "announce")


class Pinger:
    """A ping process in the instance's netns whose replies are timestamped as they arrive."""

    def __init__(self, instance: str, target: str, interval: float) -> None:
        cmd = netns.ns_exec(instance, ["ping", "-n", "-D", "-i", str(interval), "-W", "1", target])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.replies: list[tuple[float, int]] = []
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout or []:
            self.lines.append(line)
            match = REPLY.match(line)
            if match:
                self.replies.append((float(match.group(1)), int(match.group(2))))

    def stop(self) -> tuple[int, int]:
        """Stop ping and return (transmitted, received) from its summary."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        self.thread.join(timeout=10)
        for line in self.lines:
            match = SUMMARY.search(line)
            if match:
                return int(match.group(1)), int(match.group(2))
        raise LabError("ping printed no summary:\n" + "".join(self.lines[-5:]))


def _ranges(seqs: list[int]) -> list[str]:
    """Compress sorted sequence numbers into "a-b" ranges."""
    out: list[list[int]] = []
    for seq in seqs:
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return [f"{a}-{b}" if a != b else str(a) for a, b in out]


def timeline(sent: int, seen: set[int], per: int = 10) -> str:
    """Loss over time, one character per `per` pings: '.' all answered, ':' some lost, '#' all lost."""
    out = []
    for start in range(1, sent + 1, per):
        bucket = range(start, min(start + per, sent + 1))
        answered = sum(1 for seq in bucket if seq in seen)
        out.append("." if answered == len(bucket) else "#" if answered == 0 else ":")
    return "".join(out)


def _mark(line: str, at: int) -> str:
    at = max(0, min(at, len(line)))
    return line[:at] + "|" + line[at:]


def _run_action(name: str, action: str, device: Optional[str]) -> dict:
    if action == "unplug":
        return vm.unplug(name, device)
    if action == "replug":
        return vm.replug(name, device, wait_guest=True)
    if action == "announce":
        return vm.announce(name)
    raise LabError(f"unknown action {action!r}; choose one of {', '.join(ACTIONS)}")


def measure(name: str, action: str, target: str, device: Optional[str] = None, after: float = 4.0,
            interval: float = 0.01) -> dict:
    """Ping target from the netns, run the action once replies flow, keep pinging `after` seconds past it."""
    inst = vm.load(name)
    pinger = Pinger(name, target, interval)
    try:
        wait_for(lambda: len(pinger.replies) >= 50, 20, f"{target} did not answer 50 pings from {inst['netns']} before the action")
        action_started = time.time()
        action_seq = pinger.replies[-1][1]  # the last answered ping before the action
        result = _run_action(name, action, device)
        action_done = time.time()
        wait_for(lambda: time.time() - action_done >= after and pinger.replies[-1][0] >= time.time() - 0.2,
                 after + 30, f"{target} did not answer again within 30 s after the {action}", interval=0.05)
    finally:
        sent, received = pinger.stop()
    stamps = [stamp for stamp, _seq in pinger.replies]
    gaps = [(b - a, a) for a, b in zip(stamps, stamps[1:])]
    longest, at = max(gaps) if gaps else (0.0, action_started)
    seen = {seq for _stamp, seq in pinger.replies}
    missing = [seq for seq in range(1, sent + 1) if seq not in seen]
    return {
        "instance": name, "action": action, "target": target, "bridge_mode": inst["bridge_mode"],
        "interval_ms": round(interval * 1000), "sent": sent, "received": received, "lost": sent - received,
        "longest_gap_ms": round(longest * 1000, 1), "gap_starts_after_action_ms": round((at - action_started) * 1000, 1),
        "lost_seq_ranges": _ranges(missing)[:20], "action_result": result,
        # '|' marks when the action started
        "timeline": _mark(timeline(sent, seen), action_seq // 10),
        "timeline_bucket_ms": round(interval * 10000),
    }
