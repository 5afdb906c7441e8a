#!/usr/bin/env bash
# The whole test suite (README: `make test`). Stages can be picked: scripts/test.sh unit lint sanity build molecule
# `fast` = unit lint sanity build (the inner loop, no VMs). SCENARIO=name limits the molecule stage to one scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
./scripts/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.cache/collections"
mkdir -p .cache/collections/ansible_collections/guestnet
[ -L .cache/collections/ansible_collections/guestnet/failover ] || ln -s "$ROOT" .cache/collections/ansible_collections/guestnet/failover

stage() { printf '\n===== %s =====\n' "$*"; }

# ansible-test wants the collection at ansible_collections/<ns>/<name>: a copy of the tracked files there (a git repo).
collection_tree() {
  local tree="$ROOT/build/$1/ansible_collections/guestnet/failover"
  rm -rf "${ROOT:?}/build/$1" && mkdir -p "$tree"
  git ls-files -co --exclude-standard | rsync -a --files-from=- ./ "$tree/"
  (cd "$tree" && git init -q && git add -A)
  echo "$tree"
}

# the controller's Python: 3.11 on Debian 12, 3.13 on Debian 13
controller_python() { python -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

run_unit() {
  # the same tests `pytest tests/unit` runs (the inner loop), here as ansible-test runs them for a collection:
  # target tests (modules, module_utils) see only ansible.module_utils, requirements from tests/unit/requirements.txt
  stage "ansible-test units"
  local tree; tree=$(collection_tree units)
  (cd "$tree" && ansible-test units --venv --requirements --python "$(controller_python)" --color no)
}

run_lint() {
  stage "yamllint + ansible-lint (production profile)"
  yamllint -s .
  ansible-lint --offline
}

run_sanity() {
  stage "ansible-test sanity"
  local tree; tree=$(collection_tree sanity)
  (cd "$tree" && ansible-test sanity --venv --requirements --python "$(controller_python)" --color no)
}

run_build() {
  stage "ansible-galaxy collection build + install + ansible-doc"
  rm -rf build/dist build/installed && mkdir -p build/dist build/installed
  ansible-galaxy collection build --output-path build/dist .
  local tarball; tarball=$(ls build/dist/guestnet-failover-*.tar.gz)
  if tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.lab|\.cache|__pycache__|build|tests|extensions|benchmarks|lab)/|\.(qcow2|raw|img)$'; then
    echo "tarball contains venv, cache, image, test, lab or benchmark files" >&2; exit 1
  fi
  [ "$(tar -tzf "$tarball" | grep -cx COPYING)" = 1 ] || { echo "tarball has no COPYING" >&2; exit 1; }
  ansible-galaxy collection install -p build/installed "$tarball"
  local plugin
  for plugin in $(ANSIBLE_COLLECTIONS_PATH=build/installed ansible-doc -l -t module guestnet.failover | awk '{print $1}'); do
    ANSIBLE_COLLECTIONS_PATH=build/installed ansible-doc -t module "$plugin" > /dev/null && echo "doc ok: $plugin"
  done
  for plugin in $(ANSIBLE_COLLECTIONS_PATH=build/installed ansible-doc -l -t role guestnet.failover | awk '{print $1}'); do
    ANSIBLE_COLLECTIONS_PATH=build/installed ansible-doc -t role "$plugin" > /dev/null && echo "doc ok: role $plugin"
  done
}

run_molecule() {
  stage "molecule scenarios in the VM lab"
  local s failed=()
  local scenarios=("extensions/molecule/${SCENARIO:-}/molecule.yml")
  [ -n "${SCENARIO:-}" ] || scenarios=(extensions/molecule/*/molecule.yml)
  for s in "${scenarios[@]}"; do
    s=$(basename "$(dirname "$s")")
    stage "molecule test -s $s"
    molecule test -s "$s" || failed+=("$s")
  done
  if ((${#failed[@]})); then echo "molecule scenarios failed: ${failed[*]}" >&2; return 1; fi
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(unit lint sanity build molecule)
[ "${stages[*]}" != fast ] || stages=(unit lint sanity build)
for s in "${stages[@]}"; do "run_$s"; done
stage "all stages passed: ${stages[*]}"
