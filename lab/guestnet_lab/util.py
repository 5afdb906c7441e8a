# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers shared by the lab modules: paths, logging, commands and polling waits."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
LAB_DIR = Path(os.environ.get("GUESTNET_LAB_DIR", str(REPO / ".lab")))
IMAGES_DIR = LAB_DIR / "images"
RUN_DIR = LAB_DIR / "run"
SSH_DIR = LAB_DIR / "ssh"
SSH_KEY = SSH_DIR / "id_ed25519"


class LabError(Exception):
    """An expected failure with a message meant for the user."""


class WaitTimeout(LabError):
    """A polled condition did not become true in time."""


def log(message: str) -> None:
    """Print a progress line on stderr (stdout is kept for results)."""
    print(f"[lab] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], check: bool = True, capture: bool = True, timeout: Optional[float] = None,
        input_text: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run a command; raise LabError with its stderr when it fails and check is set."""
    try:
        proc = subprocess.run(cmd, check=False, text=True, timeout=timeout, input=input_text,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"command timed out after {timeout}s: {' '.join(cmd)}") from exc
    if check and proc.returncode != 0:
        err = (proc.stderr or "").strip() if capture else ""
        raise LabError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return proc


def wait_for(condition: Callable[[], Optional[T]], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll condition until it returns a truthy value; raise WaitTimeout naming what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s: {what}")
        time.sleep(interval)


def free_tcp_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_ssh_key() -> Path:
    """Create the lab's SSH key pair once and return the private key path."""
    if not SSH_KEY.exists():
        SSH_DIR.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "guestnet-lab", "-f", str(SSH_KEY)])
    return SSH_KEY
