# SPDX-License-Identifier: GPL-3.0-or-later
"""Module documentation parses as YAML (ansible-test sanity checks more, this fails in seconds)."""
from __future__ import annotations

import importlib

import pytest
import yaml

MODULES = ["failover_config", "failover_link", "netdev_facts"]


@pytest.mark.parametrize("name", MODULES)
def test_doc_blocks_are_yaml(name):
    module = importlib.import_module("ansible_collections.guestnet.failover.plugins.modules.%s" % name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name and doc["options"]
    assert yaml.safe_load(module.EXAMPLES) and yaml.safe_load(module.RETURN)
