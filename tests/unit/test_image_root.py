# SPDX-License-Identifier: GPL-3.0-or-later
"""Image roots (issue 12): absolute, existing directories; the live root is decided from the resolved path."""
from __future__ import annotations

import os

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import files_root
from ansible_collections.guestnet.failover.plugins.modules import failover_config as fc

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import NET_FAILOVER, patch_module_args

LIVE_CHECK = {"groups": [NET_FAILOVER], "backend": "networkd", "initramfs": "none", "reload": False}


@pytest.mark.parametrize("root", ["//", "/./", "/etc/..", "/"])
def test_spellings_of_slash_are_the_live_root(root):
    assert files_root.resolve_root(root) == "/"
    # check mode only: nothing on this host is touched
    result = fc.configure(dict(LIVE_CHECK, root=root), check_mode=True)
    assert result["image_mode"] is False and result["root"] == "/"
    assert all(p.startswith("/etc/") for p in result["planned"])


def test_symlink_to_slash_is_the_live_root(tmp_path):
    link = tmp_path / "image"
    os.symlink("/", str(link))
    assert files_root.resolve_root(str(link)) == "/"
    assert fc.is_image_root(str(link)) is False
    result = fc.configure(dict(LIVE_CHECK, root=str(link)), check_mode=True)
    assert result["image_mode"] is False and result["planned"][0].startswith("/etc/")


def test_none_means_slash_but_empty_is_an_error(tmp_path):
    assert files_root.resolve_root(None) == "/"
    with pytest.raises(files_root.RootError) as err:
        fc.configure(dict(LIVE_CHECK, root=""), check_mode=False)
    assert "empty root" in str(err.value) and not err.value.changed


@pytest.mark.parametrize("case", ["relative", "missing", "file"])
def test_unusable_roots_fail_clearly_and_create_nothing(tmp_path, monkeypatch, case):
    monkeypatch.chdir(str(tmp_path))
    if case == "relative":
        (tmp_path / "image").mkdir()
        root, message = "image", "absolute"
    elif case == "missing":
        root, message = str(tmp_path / "missing"), "does not exist"
    else:
        (tmp_path / "afile").write_text("x")
        root, message = str(tmp_path / "afile"), "not a directory"
    before = sorted(os.listdir(str(tmp_path)))
    with pytest.raises(files_root.RootError) as err:
        fc.configure(dict(LIVE_CHECK, root=root))
    assert message in str(err.value) and root in str(err.value)
    assert not err.value.changed
    assert sorted(os.listdir(str(tmp_path))) == before
    if case == "relative":
        assert os.listdir(str(tmp_path / "image")) == []


def test_image_root_is_resolved_once(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(str(real), str(tmp_path / "link"))
    result = fc.configure(dict(LIVE_CHECK, root=str(tmp_path / "link")))
    assert result["image_mode"] is True and result["root"] == str(real)
    assert (real / "etc/udev/rules.d/81-guestnet-failover.rules").is_file()


def test_main_reports_root_errors_without_traceback(tmp_path, capsys):
    import json

    with patch_module_args(dict(LIVE_CHECK, root="")):
        with pytest.raises(SystemExit):
            fc.main()
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] and "empty root" in out["msg"] and out["changed"] is False


def test_role_asks_for_the_image_mode_instead_of_comparing_strings():
    """roles/apply decides image mode from the resolved root (stat, like the module) and then the module's answer."""
    base = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "apply")
    with open(os.path.join(base, "vars", "main.yml")) as handle:
        text = handle.read()
    assert "apply_root != '/'" not in text
    assert "__apply_config.image_mode" in text
