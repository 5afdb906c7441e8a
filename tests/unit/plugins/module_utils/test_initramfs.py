# SPDX-License-Identifier: GPL-3.0-or-later
"""initramfs: our files as an early cpio segment, swapped in place; the rest of the initrd kept byte for byte.

The initrds here are built like Debian's (an uncompressed early archive for microcode, then the compressed main
archive); the hook's own segment is built with GNU cpio exactly as the rendered hook does.
"""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import initramfs, plan, render_extras

RULES = "etc/udev/rules.d/81-guestnet-failover.rules"
LINK = "etc/systemd/network/10-guestnet-failover-data1.link"
FILES = {RULES: "# rules\nSUBSYSTEM!=\"net\", GOTO=\"x\"\n", LINK: "# link\n[Match]\nMACAddress=52:54:00:12:34:56\n"}


def _archive(files):
    """A plain newc archive of {name: bytes} (no marker): stands in for microcode and the main archive."""
    out = [initramfs._entry(name, 0o100644, data) for name, data in sorted(files.items())]  # pylint: disable=protected-access
    out.append(initramfs._entry(initramfs.TRAILER, 0, b""))  # pylint: disable=protected-access
    data = b"".join(out)
    return data + b"\0" * ((-len(data)) % 512)


MICROCODE = _archive({"kernel/x86/microcode/GenuineIntel.bin": b"\x01" * 1000})
MAIN = gzip.compress(_archive({"init": b"#!/bin/sh\n", "etc/udev/rules.d/80-net-setup-link.rules": b"x\n"}), mtime=0)
INITRD = MICROCODE + MAIN


def test_first_refresh_adds_one_segment_after_microcode_and_keeps_main():
    new = initramfs.refreshed(INITRD, FILES)
    assert new.startswith(MICROCODE) and new.endswith(MAIN)
    segments, main = initramfs.split(new)
    assert new[main:] == MAIN
    assert len(segments) == 2 and list(segments[0][2]) == ["kernel/x86/microcode/GenuineIntel.bin"]
    mine = initramfs.ours(segments)
    assert len(mine) == 1
    assert dict((k, v) for k, v in mine[0][2].items() if k != initramfs.MARKER) == dict((k, v.encode()) for k, v in FILES.items())


def test_refresh_is_idempotent_and_replaces_a_stale_segment():
    once = initramfs.refreshed(INITRD, FILES)
    assert initramfs.refreshed(once, FILES) is None
    changed = dict(FILES, **{RULES: "# rules v2\n"})
    twice = initramfs.refreshed(once, changed)
    assert len(initramfs.ours(initramfs.split(twice)[0])) == 1
    assert twice.endswith(MAIN) and twice.startswith(MICROCODE)
    assert initramfs.ours(initramfs.split(twice)[0])[0][2][RULES] == b"# rules v2\n"


def test_no_files_removes_our_segment_only():
    once = initramfs.refreshed(INITRD, FILES)
    assert initramfs.refreshed(once, {}) == INITRD
    assert initramfs.refreshed(INITRD, {}) is None


def test_initrd_without_early_archives():
    new = initramfs.refreshed(MAIN, FILES)
    assert new.endswith(MAIN) and len(initramfs.split(new)[0]) == 1


def test_garbage_is_refused():
    broken = MICROCODE[:200]
    with pytest.raises(initramfs.InitrdError):
        initramfs.refreshed(broken, FILES)


def test_segment_files_takes_rules_and_links_only():
    planned = plan.plan_files([{"name": "data1", "model": "net_failover", "mac": "52:54:00:12:34:56", "vf_drivers": ["e1000e"]}],
                              "networkd",
                              {"initramfs": "initramfs-tools"})
    chosen = initramfs.segment_files(planned)
    assert sorted(chosen) == ["etc/systemd/network/10-guestnet-failover-data1-lowers.link", LINK, RULES]


@pytest.mark.skipif(shutil.which("cpio") is None, reason="GNU cpio not installed (scripts/bootstrap.sh installs it)")
def test_hook_segment_is_recognised_as_current(tmp_path):
    """The rendered hook's own cpio command makes a segment that refreshed() sees as current: no churn."""
    stage = tmp_path / "stage"
    for rel, text in FILES.items():
        (stage / os.path.dirname(rel)).mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(text, encoding="utf-8")
    hook = render_extras.initramfs_tools_hook(sorted(FILES))
    marker_line = [line for line in hook.splitlines() if initramfs.MARKER in line][0]
    cpio_line = [line for line in hook.splitlines() if "cpio --quiet" in line][0]
    script = "stage=%s\n%s\n%s\n" % (stage, marker_line.replace(" || exit 1", ""), cpio_line.replace(" || exit 1", ""))
    subprocess.run(["sh", "-e", "-c", script], check=True)
    hook_segment = (tmp_path / "stage.cpio").read_bytes()
    initrd = MICROCODE + hook_segment + MAIN
    assert initramfs.refreshed(initrd, FILES) is None
    assert (stage / initramfs.MARKER).read_text(encoding="utf-8") == initramfs.MARKER_CONTENT
