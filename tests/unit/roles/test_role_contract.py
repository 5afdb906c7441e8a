# SPDX-License-Identifier: GPL-3.0-or-later
"""One role contract: every wrapper role exposes every engine option under its prefix, generated, never drifting."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import role_wrappers  # noqa: E402  pylint: disable=wrong-import-position


def _spec(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_generated_files_are_up_to_date():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "role_wrappers.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("role", sorted(role_wrappers.WRAPPERS))
def test_wrapper_exposes_every_engine_option(role):
    engine, wrapper = _spec("apply"), _spec(role)
    for name, option in engine.items():
        if name in role_wrappers.FIXED:  # set by the wrapper (failover_flavour is the failover role's own choice)
            assert role + name[len("apply"):] not in wrapper or role + name[len("apply"):] in role_wrappers.WRAPPERS[
                role].get("extra_options", {})
            continue
        exposed = wrapper[role + name[len("apply"):]]
        for key in ("type", "elements", "choices", "default", "required"):
            assert exposed.get(key) == option.get(key), (role, name, key)
        # dicts and lists of dicts carry their sub-options, so a misspelt key fails validation
        assert set(exposed.get("options", {})) == set(option.get("options", {})), (role, name)
    with open(os.path.join(ROOT, "roles", role, role_wrappers.WRAPPERS[role]["tasks"]), encoding="utf-8") as handle:
        passed = yaml.safe_load(handle)[0]["vars"]
    # every engine option reaches apply; the wrapper sets the flavour itself
    assert set(passed) - set(role_wrappers.FIXED) == set(engine) - set(role_wrappers.FIXED), role
    assert "apply_flavour" in passed


def test_every_dict_option_declares_its_keys():
    for name, option in _spec("apply").items():
        if option["type"] == "dict" and name != "apply_names":  # apply_names maps MACs (free keys) to names
            assert option.get("options"), name
        if option["type"] == "list" and option.get("elements") == "dict":
            assert option.get("options"), name
