# SPDX-License-Identifier: GPL-3.0-or-later
"""failover_config file handling (issue 12): clear failures naming the path with a truthful `changed`, nothing
half-written when a check can tell in advance, 0755 directories under any umask, owner compared like content,
temporary files of killed runs removed, every file of ours (the announcer's too) pruned when no longer planned."""
from __future__ import annotations

import json
import os
import subprocess

import pytest


from ansible_collections.guestnet.failover.plugins.module_utils import announce, files
from ansible_collections.guestnet.failover.plugins.modules import failover_config as fc

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import NET_FAILOVER, patch_module_args

RULES = "etc/udev/rules.d/81-guestnet-failover.rules"
NETWORK = "etc/systemd/network/05-guestnet-failover-lan0.network"
ANNOUNCER = [f["path"].lstrip("/") for f in announce.render_files([NET_FAILOVER])]
MODULE_DIR = announce.MODULE_DIR.lstrip("/")


def _params(root, **extra):
    return dict({"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "root": str(root)}, **extra)


def _tree(root):
    out = []
    for base, dummy, names in os.walk(str(root)):
        out.extend(os.path.relpath(os.path.join(base, n), str(root)) for n in names)
    return sorted(out)


def _chattr(flag, path):
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0
    except OSError:
        return False


def test_file_where_a_directory_belongs_fails_before_any_write(tmp_path):
    (tmp_path / "etc/systemd").mkdir(parents=True)
    (tmp_path / "etc/systemd/network").write_text("not a directory\n")
    with pytest.raises(files.FileError) as err:
        fc.configure(_params(tmp_path))
    assert err.value.path == str(tmp_path / "etc/systemd/network") and "directory" in str(err.value)
    assert err.value.changed is False
    assert _tree(tmp_path) == ["etc/systemd/network"]  # the udev rules were not written either


def test_directory_where_a_file_belongs_fails_before_any_write(tmp_path):
    (tmp_path / RULES).mkdir(parents=True)
    with pytest.raises(files.FileError) as err:
        fc.configure(_params(tmp_path))
    assert err.value.path == str(tmp_path / RULES) and "not a regular file" in str(err.value)
    assert not err.value.changed and _tree(tmp_path) == []


@pytest.mark.parametrize("what", ["directory", "file"])
def test_immutable_fails_cleanly_naming_the_path(tmp_path, capsys, what):
    fc.configure(_params(tmp_path))
    target = tmp_path / ("etc/systemd/network" if what == "directory" else NETWORK)
    if not _chattr("+i", target):
        pytest.skip("chattr +i does not work on this file system")
    try:
        before = {p: (tmp_path / p).read_text() for p in _tree(tmp_path)}
        args = _params(tmp_path, groups=[dict(NET_FAILOVER, dns=["192.0.2.53"], name="lan1")])
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                fc.main()
        out = json.loads(capsys.readouterr().out)
        assert out["failed"] and out["changed"] is False and "Traceback" not in out["msg"]
        assert str(target) in out["msg"] and "immutable" in out["msg"]
        assert {p: (tmp_path / p).read_text() for p in _tree(tmp_path)} == before  # all or nothing
    finally:
        _chattr("-i", target)


def test_failure_after_a_write_says_changed_and_cleans_temp_files(tmp_path, monkeypatch):
    calls = []
    real_rename = os.rename

    def rename(src, dst, **kwargs):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_rename(src, dst, **kwargs)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(files.FileError) as err:
        fc.configure(_params(tmp_path))
    assert err.value.changed is True and len(err.value.done) == 1
    assert "No space left on device" in str(err.value) and err.value.path.endswith(calls[1])
    assert not [p for p in _tree(tmp_path) if os.path.basename(p).startswith(".guestnet")]
    monkeypatch.setattr(os, "rename", real_rename)
    assert fc.configure(_params(tmp_path))["changed"]  # the next run completes it


def test_umask_077_still_gives_0755_directories(tmp_path):
    old = os.umask(0o077)
    try:
        fc.configure(_params(tmp_path, announcer=True))
    finally:
        os.umask(old)
    for directory in ("etc", "etc/udev", "etc/udev/rules.d", "etc/systemd/network", "etc/guestnet", MODULE_DIR):
        assert oct(os.stat(str(tmp_path / directory)).st_mode & 0o777) == "0o755", directory
    assert oct(os.stat(str(tmp_path / RULES)).st_mode & 0o777) == "0o644"
    assert oct(os.stat(str(tmp_path / MODULE_DIR / "announce_watch.py")).st_mode & 0o777) == "0o644"


@pytest.mark.skipif(os.geteuid() != 0, reason="owner changes need root")
def test_owner_is_compared_like_content_and_mode(tmp_path):
    fc.configure(_params(tmp_path))
    os.chown(str(tmp_path / NETWORK), 1000, 1000)
    check = fc.configure(_params(tmp_path), check_mode=True)
    assert check["changed"] and check["files"] == [str(tmp_path / NETWORK)]
    assert os.stat(str(tmp_path / NETWORK)).st_uid == 1000  # check mode touched nothing
    assert fc.configure(_params(tmp_path))["changed"]
    info = os.stat(str(tmp_path / NETWORK))
    assert (info.st_uid, info.st_gid) == (0, 0)
    assert not fc.configure(_params(tmp_path))["changed"]
    reasons = files.changes(str(tmp_path), {NETWORK: (tmp_path / NETWORK).read_text()})
    assert reasons == []
    os.chown(str(tmp_path / NETWORK), 0, 1000)
    assert [c["reason"] for c in files.changes(str(tmp_path), {NETWORK: (tmp_path / NETWORK).read_text()})] == ["owner"]


def test_stale_temp_files_are_removed(tmp_path):
    fc.configure(_params(tmp_path, announcer=True))
    stale = [tmp_path / "etc/udev/rules.d/.guestnet-failover.abc123", tmp_path / "etc/systemd/network/.guestnet-failover.x",
             tmp_path / "etc/systemd/system/.guestnet-q1w2e3"]  # the last: an old announcer install
    for path in stale:
        path.write_text("half written")
    os.symlink("/etc/passwd", str(tmp_path / "etc/udev/rules.d/.guestnet-failover.link"))
    foreign = tmp_path / "etc/udev/rules.d/.other-tool.tmp"
    foreign.write_text("not ours")
    check = fc.configure(_params(tmp_path, announcer=True), check_mode=True)
    assert check["changed"] and all(p.exists() for p in stale)
    result = fc.configure(_params(tmp_path, announcer=True))
    assert result["changed"] and sorted(result["temp_files_removed"]) == sorted(
        [str(p) for p in stale] + [str(tmp_path / "etc/udev/rules.d/.guestnet-failover.link")])
    assert not any(os.path.lexists(str(p)) for p in stale) and foreign.exists()
    assert os.path.exists("/etc/passwd")
    assert not fc.configure(_params(tmp_path, announcer=True))["changed"]


@pytest.mark.parametrize("off", ["announcer-off", "no-groups"])
def test_announcer_files_are_owned_and_pruned(tmp_path, off):
    first = fc.configure(_params(tmp_path, announcer=True))
    assert all(str(tmp_path / p) in first["files"] for p in ANNOUNCER)
    # every file the module writes is recognised as ours
    assert files.owned_files(str(tmp_path)) == sorted(os.path.relpath(p, str(tmp_path)) for p in first["planned"])
    params = _params(tmp_path, announcer=False) if off == "announcer-off" else _params(tmp_path, announcer=True, groups=[])
    result = fc.configure(params)
    assert all(str(tmp_path / p) in result["removed"] for p in ANNOUNCER)
    assert not any((tmp_path / p).exists() for p in ANNOUNCER)
    assert not (tmp_path / "etc/guestnet").exists()  # our own directory goes with its last file
    assert not (tmp_path / announce.LIB_DIR.lstrip("/")).exists() and (tmp_path / "usr/local/lib").is_dir()
    assert not fc.configure(params)["changed"]


def test_announcer_files_of_an_older_release_are_pruned(tmp_path):
    """Files of the older oneshot design (script, template unit; no comment in the JSON) are still recognised."""
    marker = "# Managed by guestnet.failover: do not edit, the next run overwrites it.\n"
    old = {"usr/local/libexec/guestnet-announce": "#!/usr/bin/python3\n# SPDX-License-Identifier: GPL-3.0-or-later\n" + marker,
           "etc/systemd/system/guestnet-announce@.service": marker + "[Service]\nType=oneshot\n",
           announce.RULES_PATH.lstrip("/"): marker, announce.CONFIG_PATH.lstrip("/"): '{"groups": []}\n'}
    for path, content in old.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    foreign = tmp_path / "etc/systemd/system/other@.service"
    foreign.write_text("[Service]\n")
    result = fc.configure(_params(tmp_path))
    assert sorted(result["removed"]) == sorted(str(tmp_path / p) for p in list(old) + ["etc/guestnet"])
    assert foreign.exists()


def test_announcer_module_of_an_older_install_is_pruned(tmp_path):
    """link_apply.py was installed before the runtime path was split into link_state/link_plan/link_execute."""
    fc.configure(_params(tmp_path, announcer=True))
    old = tmp_path / announce.MODULE_DIR.lstrip("/") / "link_apply.py"
    old.write_text("# Managed by guestnet.failover: do not edit, the next run overwrites it.\n")
    result = fc.configure(_params(tmp_path, announcer=True))
    assert result["removed"] == [str(old)] and not old.exists()
    assert (tmp_path / announce.MODULE_DIR.lstrip("/") / "link_plan.py").exists()


def test_unmarked_file_at_an_announcer_path_is_left_alone(tmp_path):
    unit = tmp_path / announce.UNIT_PATH.lstrip("/")
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/bin/true\n")
    assert files.owned_files(str(tmp_path)) == []
    fc.configure(_params(tmp_path))
    assert unit.read_text() == "[Service]\nExecStart=/bin/true\n"


def test_backup_copies_stay_inside_the_root(tmp_path):
    fc.configure(_params(tmp_path))
    result = fc.configure(_params(tmp_path, backup=True, groups=[dict(NET_FAILOVER, dns=["192.0.2.53"])]))
    saved = result["backups"][str(tmp_path / NETWORK)]
    assert saved.startswith(str(tmp_path / "etc/systemd/network/05-guestnet-failover-lan0.network.")) and saved.endswith("~")
    assert "192.0.2.53" not in open(saved).read() and "192.0.2.53" in (tmp_path / NETWORK).read_text()
    assert saved not in [str(tmp_path / p) for p in files.owned_files(str(tmp_path))]
