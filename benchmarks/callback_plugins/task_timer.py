# SPDX-License-Identifier: GPL-3.0-or-later
"""Callback for the benchmarks (not part of the collection): per task wall time, written as JSON lines.

Enabled by benchmarks/converge_bench.py (ANSIBLE_CALLBACK_PLUGINS, ANSIBLE_CALLBACKS_ENABLED=task_timer) with
TASK_TIMER_FILE naming the output: one {"task", "seconds", "status"} per task and host, in run order.
"""
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_timer
type: aggregate
short_description: Per task wall time as JSON lines (benchmarks only)
description:
  - Writes one JSON line per finished task and host to the file named by the TASK_TIMER_FILE environment variable.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.path = os.environ.get("TASK_TIMER_FILE")
        self.started = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started[task._uuid] = (task.get_name(), time.monotonic())

    def _done(self, result, status):
        name, started = self.started.get(result._task._uuid, (result._task.get_name(), time.monotonic()))
        if self.path:
            with open(self.path, "a") as handle:
                handle.write(json.dumps({"task": name, "seconds": round(time.monotonic() - started, 2),
                                         "status": status}) + "\n")

    def v2_runner_on_ok(self, result):
        self._done(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")
