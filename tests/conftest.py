# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the collection importable as ansible_collections.guestnet.failover for pytest."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREE = os.path.join(ROOT, ".cache", "collections")
LINK = os.path.join(TREE, "ansible_collections", "guestnet", "failover")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if TREE not in sys.path:
    sys.path.insert(0, TREE)
