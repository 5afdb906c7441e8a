# SPDX-License-Identifier: GPL-3.0-or-later
"""pyroute2 is imported on first use: its import takes 1.2-1.4 s in a TCG guest (issue 16), and failover_config and the
resident announcer read only sysfs and run commands."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import netdev_read

PREFIX = "ansible_collections.guestnet.failover.plugins."


def _imports_pyroute2(module):
    """Import ``module`` in a fresh interpreter (this one has pyroute2 loaded by other tests); True when that loaded it."""
    code = "import sys, %s; print('pyroute2' in sys.modules)" % module
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return out.strip() == "True"


@pytest.mark.skipif(netdev_read.pyroute2_import_error() is not None, reason="needs pyroute2 to tell the difference")
@pytest.mark.parametrize("module", ["modules.failover_config", "module_utils.nm_runtime", "module_utils.announce_watch",
                                    "module_utils.netdev_read"])
def test_reading_sysfs_does_not_import_pyroute2(module):
    assert not _imports_pyroute2(PREFIX + module)


@pytest.mark.skipif(netdev_read.pyroute2_import_error() is not None, reason="needs pyroute2")
def test_opening_netlink_imports_it():
    code = ("import sys; from %smodule_utils import netdev_read as n; assert 'pyroute2' not in sys.modules; "
            "assert n.pyroute2_import_error() is None; assert 'pyroute2' in sys.modules" % PREFIX)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_without_pyroute2_opening_netlink_is_a_capture_error(monkeypatch):
    monkeypatch.setattr(netdev_read, "_PYROUTE2", {"IPRoute": None, "error": ImportError("No module named 'pyroute2'")})
    with pytest.raises(netdev_read.CaptureError, match="pyroute2 is not importable: No module named 'pyroute2'"):
        netdev_read.open_iproute()
