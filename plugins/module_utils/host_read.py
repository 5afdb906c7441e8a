# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read stage (host): what discovery reports besides netdevs, so the roles decide without more round trips.

DMI for the flavour (no ``setup`` call), the programs a team needs, and the files of the apply role's ifenslave
guard. Each is read with ``netdev_facts``: a rerun with nothing to do then costs one discovery and one
``failover_config`` comparison.
"""
from __future__ import annotations

import hashlib
import os
import shutil

from ansible_collections.guestnet.failover.plugins.module_utils.netdev_read import read_text


def platform(sysfs_root="/sys"):
    """DMI vendor and product, the first thing Ansible's virtual facts read: the flavour needs no setup call."""
    dmi = os.path.join(sysfs_root, "class", "dmi", "id")
    return {"system_vendor": read_text(os.path.join(dmi, "sys_vendor")),
            "product_name": read_text(os.path.join(dmi, "product_name"))}


# what a team needs on the target besides pyroute2 (the roles install the packages when one is missing)
TEAM_TOOLS = ("teamd", "ethtool")


def tools():
    """Whether each program of TEAM_TOOLS is on the module's PATH."""
    return dict((name, shutil.which(name) is not None) for name in TEAM_TOOLS)


# the files that decide the apply role's ifenslave guard (Debian bug #982841): ifenslave's post-down hook, where the
# role diverts it to, and NetworkManager's dispatcher that runs ifupdown's hooks for NetworkManager's devices
IFENSLAVE_HOOK_FILES = ("etc/network/if-post-down.d/ifenslave", "etc/network/if-post-down.d/ifenslave.distrib",
                        "etc/NetworkManager/dispatcher.d/01-ifupdown")


def ifenslave_hooks(etc_root="/"):
    """{basename: sha1 of the content} of the IFENSLAVE_HOOK_FILES present ("" when unreadable): the apply role's
    look at the hook, read with discovery so a rerun needs no extra round trip."""
    found = {}
    for rel in IFENSLAVE_HOOK_FILES:
        path = os.path.join(etc_root, rel)
        if not os.path.lexists(path):
            continue
        try:
            with open(path, "rb") as handle:
                found[os.path.basename(rel)] = hashlib.sha1(handle.read()).hexdigest()  # nosec: a checksum, not security
        except (IOError, OSError):
            found[os.path.basename(rel)] = ""
    return found
