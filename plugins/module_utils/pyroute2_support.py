# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read stage, shared: pyroute2 on the target, for the modules: respawn under the system Python, else fail naming the package.

The import itself lives in ``netdev_read`` (which must stay free of Ansible imports); this is the
module-side half: call ``require_pyroute2(module)`` first thing in ``main()``.
"""
from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.respawn import has_respawned, probe_interpreters_for_module, respawn_module

from ansible_collections.guestnet.failover.plugins.module_utils import netdev_read

DISTRO_HINT = "On Debian/Ubuntu install the python3-pyroute2 package (Fedora/RHEL: python3-pyroute2)."
SYSTEM_PYTHONS = ["/usr/bin/python3", "/usr/libexec/platform-python"]


def require_pyroute2(module):
    """Return when pyroute2 imports; else re-run the module under a system Python that has it, else fail."""
    import_error = netdev_read.pyroute2_import_error()
    if import_error is None:
        return
    if not has_respawned():
        interpreter = probe_interpreters_for_module(SYSTEM_PYTHONS, "pyroute2")
        if interpreter:
            respawn_module(interpreter)
    # missing_libraries: the roles install the package and run the module again (roles/apply/tasks/discover.yml)
    module.fail_json(msg="%s %s" % (missing_required_lib("pyroute2"), DISTRO_HINT),
                     exception=str(import_error), missing_libraries=["pyroute2"])
