# SPDX-License-Identifier: GPL-3.0-or-later
"""files: ownership, change set, diff, atomic write."""
from __future__ import annotations

import os

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import files


def test_header_comment_and_shebang():
    assert files.add_header("etc/x/guestnet-failover", "a\n").startswith("# Managed by guestnet.failover")
    hooked = files.add_header("etc/initramfs-tools/hooks/guestnet-failover", "#!/bin/sh\necho\n")
    assert hooked.splitlines()[0] == "#!/bin/sh" and files.MARKER in hooked.splitlines()[1]
    assert files.add_header("etc/teamd/guestnet-failover-t.conf", "{}\n") == "{}\n"


def test_is_owned_needs_token_and_marker():
    content = files.add_header("etc/systemd/network/05-guestnet-failover-a.network", "x\n")
    assert files.is_owned("etc/systemd/network/05-guestnet-failover-a.network", content)
    assert not files.is_owned("etc/systemd/network/05-a.network", content)
    assert not files.is_owned("etc/systemd/network/05-guestnet-failover-a.network", "x\n")


def test_paths_cannot_escape_root():
    with pytest.raises(ValueError):
        files.full_path("/tmp/r", "../etc/passwd")
    with pytest.raises(ValueError):
        files.full_path("/tmp/r", "/etc/passwd")


def test_changes_and_apply(tmp_path):
    root = str(tmp_path)
    planned = {"etc/netplan/90-guestnet-failover.yaml": "# %s\nnetwork: {}\n" % files.HEADER}
    change_list = files.changes(root, planned)
    assert [c["reason"] for c in change_list] == ["create"]
    diff = files.ansible_diff(root, change_list)
    assert diff[0]["before"] == "" and diff[0]["after"].endswith("network: {}\n")
    files.apply(root, change_list)
    assert files.changes(root, planned) == []
    assert not [n for n in os.listdir(str(tmp_path / "etc/netplan")) if n.startswith(".")]
    assert files.owned_files(root) == ["etc/netplan/90-guestnet-failover.yaml"]


def test_backups_and_temp_files_are_not_owned(tmp_path):
    directory = tmp_path / "etc/systemd/network"
    directory.mkdir(parents=True)
    text = "# %s\n" % files.HEADER
    (directory / "05-guestnet-failover-a.network").write_text(text)
    (directory / "05-guestnet-failover-a.network.123.2024~").write_text(text)
    (directory / ".guestnet-failover.xyz").write_text(text)
    assert files.owned_files(str(tmp_path)) == ["etc/systemd/network/05-guestnet-failover-a.network"]


def test_remove_of_absent_file_is_no_change(tmp_path):
    assert files.changes(str(tmp_path), {}, ["etc/udev/rules.d/x"]) == []


def _fill_failing_after(count, real_fill):
    """files.fill that fills ``count`` files, then fails like a full file system."""
    filled = []

    def fill(fd, chunks, mode):
        filled.append(fd)
        if len(filled) > count:
            raise OSError(28, "No space left on device")
        return real_fill(fd, chunks, mode)
    return fill


def test_full_file_system_leaves_no_temporary_file(tmp_path, monkeypatch):
    """Issue 15, /etc full (a 64 kB tmpfs over /etc/systemd/network in a lab guest): the staged file could be created
    but not filled, and stayed behind as .guestnet-failover.* after the run failed naming the path. Now nothing is."""
    root = str(tmp_path)
    netdir = tmp_path / "etc/systemd/network"
    netdir.mkdir(parents=True)
    (netdir / "10-guestnet-failover-lan0.link").write_text("# %s\nold\n" % files.HEADER)
    planned = {"etc/systemd/network/10-guestnet-failover-lan0.link": "# %s\nnew\n" % files.HEADER,
               "etc/systemd/network/10-guestnet-failover-lan1.link": "# %s\n[Match]\n" % files.HEADER}
    real_fill = files.fill
    monkeypatch.setattr(files, "fill", _fill_failing_after(1, real_fill))
    with pytest.raises(files.FileError) as err:
        files.apply(root, files.changes(root, planned), do_backup=True)
    assert "10-guestnet-failover-lan1.link: No space left on device" in str(err.value) and not err.value.changed
    assert sorted(os.listdir(str(netdir))) == ["10-guestnet-failover-lan0.link"]
    assert (netdir / "10-guestnet-failover-lan0.link").read_text().endswith("old\n")
    # both staged, then the backup copy of lan0 cannot be completed: it is not left either
    monkeypatch.setattr(files, "fill", _fill_failing_after(2, real_fill))
    with pytest.raises(files.FileError):
        files.apply(root, files.changes(root, planned), do_backup=True)
    assert sorted(os.listdir(str(netdir))) == ["10-guestnet-failover-lan0.link"]


def test_read_only_file_system_is_named_as_such(tmp_path, monkeypatch):
    """Issue 15, /etc bind-mounted read-only in a lab guest: the run said "directory is not writable" (access() fails
    with EROFS too); the cause is the read-only file system, and it is named before anything is written."""
    root = str(tmp_path)
    (tmp_path / "etc/systemd/network").mkdir(parents=True)
    planned = {"etc/systemd/network/10-guestnet-failover-lan0.link": "# %s\n[Match]\n" % files.HEADER}
    real = os.fstatvfs

    class ReadOnly:
        def __init__(self, fd):
            self.f_flag = real(fd).f_flag | os.ST_RDONLY
    monkeypatch.setattr(os, "fstatvfs", ReadOnly)
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(files.FileError) as err:
        files.apply(root, files.changes(root, planned))
    assert str(err.value).endswith("network: read-only file system; nothing was written") and not err.value.changed
    assert os.listdir(str(tmp_path / "etc/systemd/network")) == []
