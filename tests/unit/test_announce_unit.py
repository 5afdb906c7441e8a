# SPDX-License-Identifier: GPL-3.0-or-later
"""The announcer's systemd unit runs with least privilege (issue 12) and is installed without following symlinks."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import announce, files

MAX_EXPOSURE = 6.9  # systemd-analyze: MEDIUM or better


def _unit():
    return announce.UNIT


def _directives(text):
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def _offline_supported():
    tool = shutil.which("systemd-analyze")
    if not tool:
        return None
    helptext = subprocess.run([tool, "--help"], capture_output=True, text=True, check=False).stdout
    return tool if "--offline" in helptext and "--root" in helptext else None


def _sources():
    out = ""
    for name in announce.INSTALLED_MODULES:
        out += announce.module_source(name)
    return out


def test_unit_keeps_only_what_the_watcher_needs():
    unit = _directives(_unit())
    assert unit["CapabilityBoundingSet"] == ["CAP_NET_RAW CAP_NET_ADMIN"]
    assert unit["RestrictAddressFamilies"] == ["AF_UNIX AF_NETLINK AF_PACKET"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]
    # it writes exactly these: IPv6 sysctls of lowers and bonding/primary of a bond upper (the port-join child)
    code = _sources()
    assert '"disable_ipv6"' in code and "/sys/class/net/%s/bonding/%s" in code
    assert unit["ReadWritePaths"] == ["-/proc/sys/net/ipv6/conf -/sys/devices/virtual/net"]
    # /tmp is never used; PrivateTmp would need a writable root during coldplug (DefaultDependencies=no)
    assert "/tmp" not in announce.module_source("announce_watch") and "PrivateTmp" not in unit
    assert unit["ExecStart"] == ["/usr/bin/python3 -m %s.announce_watch" % announce.PACKAGE]
    assert unit["Type"] == ["simple"] and unit["Restart"] == ["always"]


@pytest.mark.skipif(_offline_supported() is None, reason="systemd-analyze with --offline/--root (systemd >= 250) not found")
def test_systemd_analyze_security_rates_it_medium_or_better(tmp_path):
    unit_dir = tmp_path / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    (unit_dir / announce.SERVICE).write_text(_unit())
    proc = subprocess.run([_offline_supported(), "security", "--offline=true", "--root=%s" % tmp_path, "--no-pager",
                           announce.SERVICE], capture_output=True, text=True, check=False)
    match = re.search(r"Overall exposure level for guestnet-announce\.service: ([0-9.]+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, proc.stdout


def test_install_replaces_a_symlinked_target_without_touching_its_target(tmp_path):
    bait = tmp_path / "host-unit"
    bait.write_text("HOST\n")
    os.chmod(str(bait), 0o600)
    root = tmp_path / "root"
    rendered = announce.render_files([{"name": "eth0", "model": "net_failover", "mac": "52:54:00:12:34:56",
                                       "pv_driver": "virtio_net", "vf_drivers": ["e1000e"]}], root=str(root))
    unit_path = [f["path"] for f in rendered if f["path"].endswith(announce.SERVICE)][0]
    os.makedirs(os.path.dirname(unit_path))
    os.symlink(str(bait), unit_path)
    changed = announce.install(rendered)
    assert unit_path in changed and not os.path.islink(unit_path)
    assert bait.read_text() == "HOST\n" and os.stat(str(bait)).st_mode & 0o777 == 0o600
    assert announce.install(rendered) == []
    # what it installs is ours: failover_config prunes it later
    assert sorted(files.owned_files(str(root))) == sorted(os.path.relpath(f["path"], str(root)) for f in rendered)


def test_owned_paths_are_the_announcer_paths():
    paths = announce.installed_paths() + [announce.UNIT_PATH, announce.RULES_PATH, announce.CONFIG_PATH]
    legacy = ["usr/local/libexec/guestnet-announce", "etc/systemd/system/guestnet-announce@.service",
              announce.MODULE_DIR.lstrip("/") + "/link_apply.py"]  # installed before the runtime path was split
    assert sorted(files.OWNED_PATHS) == sorted([p.lstrip("/") for p in paths] + legacy)
    assert 'CONFIG = "%s"' % announce.CONFIG_PATH in announce.module_source("announce_watch")
