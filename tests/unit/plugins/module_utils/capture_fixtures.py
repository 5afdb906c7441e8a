# SPDX-License-Identifier: GPL-3.0-or-later
"""Load capture fixtures (tests/unit/fixtures/captures/*.json); each records its origin in _source."""
from __future__ import annotations

import copy
import json
import os

DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "captures")


def load(name):
    with open(os.path.join(DIR, name + ".json")) as handle:
        return copy.deepcopy(json.load(handle))


def link(capture, name):
    return next(item for item in capture["links"] if item["name"] == name)
