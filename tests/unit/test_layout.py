# SPDX-License-Identifier: GPL-3.0-or-later
"""The file list reads as the data flow (issue 13): small plugin files, each module_utils file naming its one stage."""
from __future__ import annotations

import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
MAX_LINES = 600
STAGES = ("Read", "Decide", "Plan", "Render", "Write", "Execute")
# "<Stage> stage[ (qualifier)][, shared]: what the file holds"
FIRST_LINE = re.compile(r"(%s) stage( \([^)]*\))?(, shared)?( \([^)]*\))?: \S" % "|".join(STAGES))
# file names that promise a stage: the reader of the file list relies on them
NAMED = (("link_state", "Read"), ("link_plan", "Plan"), ("link_execute", "Execute"), ("render_", "Render"),
         ("validate", "Decide"), ("netdev_read", "Read"))


def _plugin_files():
    out = []
    for base, dummy, names in os.walk(os.path.join(ROOT, "plugins")):
        out.extend(os.path.join(base, n) for n in names if n.endswith(".py"))
    return sorted(out)


def _module_utils():
    return sorted(n[:-3] for n in os.listdir(MODULE_UTILS) if n.endswith(".py") and n != "__init__.py")


def _first_line(name):
    with open(os.path.join(MODULE_UTILS, name + ".py")) as handle:
        doc = ast.get_docstring(ast.parse(handle.read()))
    assert doc, "%s.py has no module docstring" % name
    return doc.splitlines()[0]


def _stage(line):
    """The one stage ``line`` names in its head ('<Stage> stage ...:'), None when it names none or several."""
    match = FIRST_LINE.match(line)
    if not match:
        return None
    head = line.split(":", 1)[0]
    named = [s for s in STAGES if re.search(r"\b%s\b" % s, head)]
    return match.group(1) if named == [match.group(1)] else None


def test_the_tree_is_there():
    assert len(_plugin_files()) > 30 and "link_apply" in _module_utils()


def test_no_plugin_file_exceeds_the_limit():
    too_long = []
    for path in _plugin_files():
        with open(path) as handle:
            lines = len(handle.read().splitlines())
        if lines > MAX_LINES:
            too_long.append("%s: %d lines" % (os.path.relpath(path, ROOT), lines))
    assert not too_long, "split these along their stages: %s" % ", ".join(too_long)


@pytest.mark.parametrize("name", _module_utils())
def test_module_docstring_names_one_stage(name):
    line = _first_line(name)
    stage = _stage(line)
    assert stage, "%s.py: %r does not start with '<Stage> stage: ...' naming one of %s" % (name, line, ", ".join(STAGES))
    for prefix, expected in NAMED:
        if name.startswith(prefix):
            assert stage == expected, "%s.py is named for the %s stage, its docstring says %s" % (name, expected, stage)


@pytest.mark.parametrize("line, stage", [
    ("Read stage: one netlink dump into plain dicts.", "Read"),
    ("Execute stage, shared (Python standard library only): frames.", "Execute"),
    ("Plan stage (runtime, pure): steps.", "Plan"),
    ("Runtime failover topology: read links over netlink, plan, apply, probe, roll back.", None),
    ("Write: the announcer's files", None),
    ("Plan the files for a set of desired groups (pure)", None),
    ("Execute stage (runtime, a Read stage too): both", None),
    ("Decide stage:", None),
])
def test_the_stage_check_itself(line, stage):
    assert _stage(line) == stage
