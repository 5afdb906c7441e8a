# SPDX-License-Identifier: GPL-3.0-or-later
"""Entry point: ``python -m guestnet_lab``."""
from __future__ import annotations

import sys

from guestnet_lab.cli import main

sys.exit(main())
