# SPDX-License-Identifier: GPL-3.0-or-later
"""The drill's loss-over-time line (lab/guestnet_lab/measure.py): pure logic over ping sequence numbers."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "lab"))

from guestnet_lab import measure  # noqa: E402  pylint: disable=wrong-import-position


def test_buckets_of_ten_pings():
    seen = set(range(1, 36)) - set(range(12, 22)) - {25}
    assert measure.timeline(35, seen) == ".::."
    assert measure.timeline(20, set()) == "##"
    assert measure.timeline(0, set()) == ""


def test_action_mark_is_clamped():
    assert measure._mark("....", 2) == "..|.."  # pylint: disable=protected-access
    assert measure._mark("..", 9) == "..|"  # pylint: disable=protected-access
