# SPDX-License-Identifier: GPL-3.0-or-later
"""A minimal QMP client over QEMU's unix socket (stdlib only)."""
from __future__ import annotations

import json
import socket
import time
from typing import Any, Optional

from guestnet_lab.util import LabError, WaitTimeout


class QMP:
    """One QMP session: negotiate capabilities, run commands, collect events."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as exc:
            raise LabError(f"cannot connect to QMP socket {path}: {exc}") from exc
        self.reader = self.sock.makefile("r", encoding="utf-8")
        self.events: list[dict] = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise LabError(f"unexpected QMP greeting: {greeting}")
        self.command("qmp_capabilities")

    def close(self) -> None:
        """Close the session."""
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> "QMP":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> dict:
        line = self.reader.readline()
        if not line:
            raise LabError("QMP socket closed")
        return json.loads(line)

    def command(self, name: str, **arguments: Any) -> Any:
        """Run a command and return its result; events seen meanwhile are kept in self.events."""
        msg: dict = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
            elif "error" in reply:
                raise LabError(f"QMP {name} failed: {reply['error'].get('desc', reply['error'])}")
            elif "return" in reply:
                return reply["return"]

    def wait_event(self, name: str, timeout: float, data_match: Optional[dict] = None) -> dict:
        """Wait for an event (possibly already received) whose data contains data_match."""
        def matches(event: dict) -> bool:
            data = event.get("data", {})
            return event.get("event") == name and all(data.get(k) == v for k, v in (data_match or {}).items())

        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if matches(event):
                    self.events.remove(event)
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"timed out after {timeout:.0f}s: QMP event {name} {data_match or ''} did not arrive")
            self.sock.settimeout(remaining)
            try:
                self.events.append(self._read())
            except socket.timeout:
                continue
