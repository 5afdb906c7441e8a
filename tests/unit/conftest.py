# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit-test settings: a bounded Hypothesis profile that writes no example database into the repository."""
from __future__ import annotations

import os

import pytest

# Hypothesis keeps caches in ./.hypothesis by default: put them under .cache/ (git-ignored, `make clean` removes it)
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".cache", "hypothesis"))

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis comes from requirements.txt; without it only the property tests are skipped
    settings = None

if settings is not None:
    # CI runs the same examples every time (derandomize): a failure there is reproducible, never a coin toss.
    # GUESTNET_HYPOTHESIS_EXAMPLES=N explores N random examples instead (a long run by hand).
    EXPLORE = int(os.environ.get("GUESTNET_HYPOTHESIS_EXAMPLES", "0"))
    settings.register_profile("guestnet", max_examples=EXPLORE or 150, deadline=None, database=None,
                              derandomize=not EXPLORE, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("guestnet")


def pytest_configure(config):
    """Register the markers here too: `ansible-test units` runs pytest with its own ini file, not pytest.ini."""
    config.addinivalue_line("markers", "netns: needs root and network namespaces on the host")


@pytest.fixture(autouse=True)
def no_invocation_log(monkeypatch):
    """Modules under test do not log their invocation to this machine's syslog or journal: a unit test has no business
    there, and Python 3.13's syslog refuses the NUL bytes the hostile-input tests send (the module then fails with
    "Failed to log to syslog" before its own checks run)."""
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(basic.AnsibleModule, "_log_invocation", lambda self: None)
