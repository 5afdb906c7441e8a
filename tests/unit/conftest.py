# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit-test settings: a bounded Hypothesis profile that writes no example database into the repository."""
from __future__ import annotations

import os

# Hypothesis keeps caches in ./.hypothesis by default: put them under .cache/ (git-ignored, `make clean` removes it)
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".cache", "hypothesis"))

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis comes from requirements.txt; without it only the property tests are skipped
    settings = None

if settings is not None:
    settings.register_profile("guestnet", max_examples=150, deadline=None, database=None, derandomize=False,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("guestnet")
