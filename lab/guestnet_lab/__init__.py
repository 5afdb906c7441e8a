# SPDX-License-Identifier: GPL-3.0-or-later
"""VM lab for the guestnet.failover collection: images, QEMU guests with failover NICs, netns networks, measurements."""
from __future__ import annotations

__all__ = ["util", "images", "netns", "qmp", "vm", "measure", "topologies"]
