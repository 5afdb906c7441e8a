# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden files for every stack x model. Regenerate with UPDATE_GOLDEN=1 and review the diff."""
from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.guestnet.failover.plugins.module_utils import plan, validate

from ansible_collections.guestnet.failover.tests.unit.plugins.module_utils.failover_cases import (
    EXTRAS, REFUSED, STACKS, CASES, groups,
)

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "golden")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

PARAMS = [(stack, case, {}) for stack in STACKS for case in CASES if (stack, case) not in REFUSED]
IDS = ["%s/%s" % (stack, case) for stack, case, dummy in PARAMS]
PARAMS += [(stack, name, opts) for name, (stack, dummy, opts) in EXTRAS.items()]
IDS += ["%s/%s" % (stack, name) for name, (stack, dummy, dummy2) in EXTRAS.items()]


def _case_groups(case):
    if case in EXTRAS:
        return groups(EXTRAS[case][1])
    return groups(case)


def _read_tree(directory):
    found = {}
    for base, dummy, names in os.walk(directory):
        for name in names:
            path = os.path.join(base, name)
            with open(path) as handle:
                found[os.path.relpath(path, directory).replace(os.sep, "/")] = handle.read()
    return found


@pytest.mark.parametrize("stack,case,options", PARAMS, ids=IDS)
def test_golden(stack, case, options):
    planned = plan.plan_files(_case_groups(case), stack, options)
    directory = os.path.join(GOLDEN, stack, case)
    if UPDATE:
        shutil.rmtree(directory, ignore_errors=True)
        for rel, content in planned.items():
            path = os.path.join(directory, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(content)
    expected = _read_tree(directory)
    assert sorted(planned) == sorted(expected), "file set differs; UPDATE_GOLDEN=1 regenerates"
    for rel in planned:
        assert planned[rel] == expected[rel], rel


@pytest.mark.parametrize("stack,case", sorted(REFUSED), ids=["%s/%s" % r for r in sorted(REFUSED)])
def test_refused_combinations(stack, case):
    with pytest.raises(validate.ConfigError) as err:
        plan.plan_files(groups(case), stack)
    assert "groups[0]" in str(err.value)


def test_every_golden_dir_is_a_case():
    if not os.path.isdir(GOLDEN):
        return
    wanted = set(IDS)
    for stack in os.listdir(GOLDEN):
        for case in os.listdir(os.path.join(GOLDEN, stack)):
            assert "%s/%s" % (stack, case) in wanted, "stale golden directory %s/%s" % (stack, case)
