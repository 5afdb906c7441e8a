# SPDX-License-Identifier: GPL-3.0-or-later
"""Symlinks in an image root never lead outside it (issue 12): a "host" directory beside the root is the bait."""
from __future__ import annotations

import os

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import files, files_root, plan
from ansible_collections.guestnet.failover.plugins.modules import failover_config as fc

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import NET_FAILOVER

RULES = "etc/udev/rules.d/81-guestnet-failover.rules"
NETWORK = "etc/systemd/network/05-guestnet-failover-lan0.network"
AZURE = 'SUBSYSTEM=="net", DRIVERS=="hv_pci", ACTION=="add", ENV{NM_UNMANAGED}="1"\n'


def _snapshot(top):
    """Every entry under ``top``: type, mode, owner, content, link target, mtime."""
    out = {}
    for base, dirs, names in os.walk(str(top)):
        for name in dirs + names:
            path = os.path.join(base, name)
            info = os.lstat(path)
            entry = [info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns]
            if os.path.islink(path):
                entry.append(os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    entry.append(handle.read())
            out[os.path.relpath(path, str(top))] = entry
    return out


@pytest.fixture(name="bait")
def fixture_bait(tmp_path):
    """A fake host tree with files at every path the module could touch, private and owned by uid 1000."""
    host = tmp_path / "host"
    for rel, content in ((RULES, "# Managed by guestnet.failover (failover_config)\nHOST RULES\n"),
                         (NETWORK, "# Managed by guestnet.failover (failover_config)\nHOST NETWORK\n"),
                         ("etc/systemd/network/05-guestnet-failover-old.network", "# Managed by guestnet.failover\nold\n"),
                         ("etc/udev/rules.d/68-azure-sriov-nm-unmanaged.rules", AZURE),
                         ("etc/guestnet/announce.json", "{}\n"),
                         ("usr/sbin/update-initramfs", "#!/bin/sh\n")):
        path = host / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        os.chmod(str(path), 0o600)
        os.chown(str(path), 1000, 1000)
    root = tmp_path / "root"
    root.mkdir()
    return host, root, _snapshot(host)


def _params(root, **extra):
    return dict({"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(root)}, **extra)


def _unchanged(host, before):
    assert _snapshot(host) == before


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
@pytest.mark.parametrize("where", ["etc", "etc/udev", "etc/systemd/network"])
def test_dir_symlink_out_of_the_root_stays_inside(bait, where, kind):
    host, root, before = bait
    (root / where).parent.mkdir(parents=True, exist_ok=True)
    if kind == "absolute":
        os.symlink(str(host / where), str(root / where))
        inside = root / str(host / where).lstrip("/")  # re-rooted
    else:
        os.symlink("/".join([".."] * (where.count("/") + 4)) + "/host/" + where, str(root / where))
        inside = root / "host" / where  # '..' clamped at the root
    # the link's target does not exist inside the root: a clear error, nothing written anywhere
    with pytest.raises(files.FileError) as err:
        fc.configure(_params(root, remove_legacy=True, backup=True))
    assert not err.value.changed and str(root) in err.value.path
    _unchanged(host, before)

    def landed(rel):  # where rel is inside the root (the host's own path lookup would follow the link out)
        return inside / os.path.relpath(rel, where) if rel.startswith(where + "/") else root / rel
    assert not any(os.path.lexists(str(landed(rel))) for rel in (RULES, NETWORK))
    # once it exists inside the root, that is where the files go
    inside.mkdir(parents=True)
    result = fc.configure(_params(root, remove_legacy=True, backup=True))
    assert result["changed"]
    _unchanged(host, before)
    assert landed(RULES).is_file() and landed(NETWORK).is_file()
    assert "HOST" not in landed(RULES).read_text() + landed(NETWORK).read_text()
    assert str(root / RULES) in result["files"]
    assert fc.configure(_params(root, remove_legacy=True, backup=True))["changed"] is False
    _unchanged(host, before)


def test_symlinked_target_file_is_replaced_not_followed(bait):
    host, root, before = bait
    (root / "etc/udev/rules.d").mkdir(parents=True)
    os.symlink(str(host / RULES), str(root / RULES))
    result = fc.configure(_params(root, backup=True), check_mode=True)
    entry = [d for d in result["diff"] if d["after_header"].endswith("81-guestnet-failover.rules")][0]
    assert "symlink to %s" % (host / RULES) in entry["before_header"] and entry["before"] == ""  # never read
    fc.configure(_params(root, backup=True))
    _unchanged(host, before)
    assert not os.path.islink(str(root / RULES)) and "HOST RULES" not in (root / RULES).read_text()
    assert oct(os.stat(str(root / RULES)).st_mode & 0o777) == oct(0o644)


def test_owned_stale_symlink_is_neither_read_nor_removed(bait):
    host, root, before = bait
    (root / "etc/systemd/network").mkdir(parents=True)
    stale = root / "etc/systemd/network/05-guestnet-failover-old.network"
    os.symlink(str(host / "etc/systemd/network/05-guestnet-failover-old.network"), str(stale))
    assert files.owned_files(str(root)) == []
    result = fc.configure(_params(root))
    assert str(stale) not in result["removed"]
    _unchanged(host, before)
    assert os.path.islink(str(stale))


def test_legacy_file_through_symlink_is_not_removed(bait):
    host, root, before = bait
    (root / "etc/udev").mkdir(parents=True)
    (root / "etc/udev/rules.d").mkdir()
    os.symlink(str(host / "etc/udev/rules.d/68-azure-sriov-nm-unmanaged.rules"),
               str(root / "etc/udev/rules.d/68-azure-sriov-nm-unmanaged.rules"))
    assert plan.legacy_files(str(root)) == []
    fc.configure(_params(root, remove_legacy=True))
    _unchanged(host, before)


def test_announcer_json_symlink_is_replaced(bait):
    host, root, before = bait
    (root / "etc").mkdir()
    os.symlink(str(host / "etc/guestnet"), str(root / "etc/guestnet"))
    (root / str(host / "etc/guestnet").lstrip("/")).mkdir(parents=True)
    fc.configure(_params(root, announcer=True))
    assert (root / "etc/guestnet/announce.json").is_file()
    _unchanged(host, before)
    fc.configure(_params(root, announcer=False))
    _unchanged(host, before)


def test_detection_does_not_look_outside(bait):
    host, root, before = bait
    (root / "usr").mkdir()
    os.symlink(str(host / "usr/sbin"), str(root / "usr/sbin"))
    assert plan.detect_initramfs(str(root)) == "none"  # the host's update-initramfs is not the image's
    os.symlink("../..", str(root / "usr/up"))
    assert files_root.Root(str(root)).resolve("usr/up/usr/up/etc") is None
    (root / "etc").mkdir()
    os.symlink("../../../../etc", str(root / "usr/deep"))
    assert files_root.Root(str(root)).resolve("usr/deep") == ["etc"]
    _unchanged(host, before)


def test_symlink_loop_is_a_clear_error(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/udev", str(root / "etc/udev"))
    with pytest.raises(files.FileError) as err:
        fc.configure(_params(root))
    assert "81-guestnet-failover" not in str(err.value) and "etc/udev" in str(err.value)
    assert "symbolic links" in str(err.value)
    assert not err.value.changed


def test_device_node_at_a_target_is_never_opened(tmp_path):
    root = tmp_path / "root"
    (root / "etc/udev/rules.d").mkdir(parents=True)
    os.mknod(str(root / RULES), 0o600 | __import__("stat").S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    info = files_root.Root(str(root)).state(RULES)
    assert info["kind"] == "other" and info["content"] is None
    with pytest.raises(files.FileError) as err:
        fc.configure(_params(root))
    assert err.value.path == str(root / RULES) and not err.value.changed
