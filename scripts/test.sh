#!/usr/bin/env bash
# The whole test suite (README: `make test`). Stages can be picked: scripts/test.sh unit lint sanity build oldest docs molecule
# `fast` = all but molecule (no VMs). SCENARIO=name limits the molecule stage to one scenario.
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

# install_and_doc DIR TARBALL: install the tarball into DIR and render the docs of every plugin and role from there
install_and_doc() {
  local dir=$1 tarball=$2 type plugin n
  rm -rf "$dir" && mkdir -p "$dir"
  # the checkout (.cache/collections) must not count as "already installed"
  ANSIBLE_COLLECTIONS_PATH=$dir ansible-galaxy collection install -p "$dir" "$tarball"
  [ -f "$dir/ansible_collections/guestnet/failover/MANIFEST.json" ] || { echo "not installed into $dir" >&2; return 1; }
  for type in module filter role; do
    n=0
    for plugin in $(ANSIBLE_COLLECTIONS_PATH=$dir ansible-doc -l -t "$type" guestnet.failover --json | jq -r 'keys[]'); do
      ANSIBLE_COLLECTIONS_PATH=$dir ansible-doc -t "$type" "$plugin" > /dev/null
      echo "doc ok: $type $plugin"; n=$((n + 1))
    done
    # as many as the checkout has: a plugin that fails to load is left out of the list, not reported
    local want
    case $type in
      module) want=$(find plugins/modules -name '*.py' ! -name '__init__.py' | wc -l) ;;
      filter) want=$(grep -l '^DOCUMENTATION' plugins/filter/*.py | wc -l) ;;  # one documented filter a file
      role) want=$(find roles -path '*/meta/argument_specs.yml' | wc -l) ;;
    esac
    [ "$n" -eq "$want" ] || { echo "ansible-doc lists $n ${type}s, the checkout has $want" >&2; return 1; }
  done
}

# image_root_apply COLLECTIONS_PATH: image_build.yml against a temporary image root on this controller (local
# connection, files only), twice: the files are written, then nothing changes.
image_root_apply() {
  local root; root=$(mktemp -d)
  mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/system/multi-user.target.wants"
  ln -s /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/"
  local run
  for run in 1 2; do
    ANSIBLE_COLLECTIONS_PATH=$1 ansible-playbook -i localhost, -c local guestnet.failover.image_build \
      -e 'ansible_python_interpreter={{ ansible_playbook_python }}' -e "image_root=$root" \
      -e image_macs=52:54:00:12:34:56 | tee "$root.log"
    grep -q "changed=$((2 - run))" "$root.log" || { echo "image_build run $run: expected changed=$((2 - run))" >&2; return 1; }
  done
  if ! [ -f "$root/etc/systemd/network/05-guestnet-failover-525400123456.network" ] ||
     ! [ -f "$root/etc/udev/rules.d/81-guestnet-failover.rules" ]; then
    echo "image root lacks the failover files" >&2; return 1
  fi
  rm -rf "$root" "$root.log"
}

run_build() {
  stage "ansible-galaxy collection build + install + ansible-doc, EE definition, changelog"
  rm -rf build/dist && mkdir -p build/dist
  ansible-galaxy collection build --output-path build/dist .
  local tarball; tarball=$(ls build/dist/guestnet-failover-*.tar.gz)
  # what users run and nothing else: no venv, cache, image, test, lab, benchmark or development file
  local files; files=$(tar -tzf "$tarball")
  if grep -E '(^|/)(\.venv[^/]*|\.lab|\.cache|__pycache__|build|tests|extensions|benchmarks|lab|scripts)/|\.(qcow2|raw|img)$|^(requirements-[a-z]+\.txt|Makefile|pytest\.ini|\.[a-z]+)$' <<<"$files"; then
    echo "tarball contains venv, cache, image, test, lab, benchmark or development files" >&2; exit 1
  fi
  local f
  for f in COPYING README.md requirements.txt bindep.txt meta/runtime.yml meta/execution-environment.yml \
           changelogs/changelog.yaml playbooks/site.yml playbooks/image_build.yml playbooks/report.yml; do
    grep -qx "$f" <<<"$files" || { echo "tarball lacks $f" >&2; exit 1; }
  done
  install_and_doc build/installed "$tarball"
  image_root_apply "$ROOT/build/installed"

  stage "execution environment: ansible-builder introspect + create"
  # the installed collection's EE dependencies as ansible-builder collects them inside the image build
  ansible-builder introspect --sanitize build/installed | tee build/ee-introspect.txt
  grep -q "openssh-client \[platform:dpkg\]" build/ee-introspect.txt || { echo "introspection lost bindep.txt" >&2; exit 1; }
  rm -rf build/ee
  ansible-builder create -f extensions/ee/execution-environment.yml -c build/ee --output-filename Containerfile
  local want; want=$(sed -n 's/^ *- name: collections\/\(.*\)/\1/p' extensions/ee/requirements.yml)
  if [ "$want" != "$(basename "$tarball")" ] || ! [ -f "build/ee/_build/collections/$want" ]; then
    echo "extensions/ee/requirements.yml names $want, the build wrote $(basename "$tarball")" >&2; exit 1
  fi
  # the collection is installed from requirements.yml, and its requirements.txt/bindep.txt are introspected
  grep -q 'ansible-galaxy collection install .*-r requirements.yml' build/ee/Containerfile
  grep -q 'introspect.py introspect' build/ee/Containerfile

  stage "antsibull-changelog lint"
  # fragments (changelogs/fragments) and the released changelog (changelogs/changelog.yaml, generated by
  # `antsibull-changelog release`; CHANGELOG.rst is rendered from it)
  antsibull-changelog lint
  antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
}

run_oldest() {
  # the oldest ansible-core meta/runtime.yml claims (requirements-oldest.txt, per controller Python)
  local venv="$ROOT/.venv-oldest"
  stage "oldest ansible-core: $("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')"
  (
    export PATH="$venv/bin:$PATH"
    rm -rf build/oldest && mkdir -p build/oldest/dist
    ansible-galaxy collection build --output-path build/oldest/dist .
    install_and_doc build/oldest/installed "$(ls build/oldest/dist/guestnet-failover-*.tar.gz)"
    image_root_apply "$ROOT/build/oldest/installed"
    local tree; tree=$(collection_tree oldest-units)
    cd "$tree" && ansible-test units --venv --requirements --python "$(controller_python)" --color no
  )
}

run_docs() {
  # the docs site of the collection as installed from its tarball: antsibull-docs writes RST from the plugin and role
  # docs, Sphinx renders it with the Ansible theme; warnings are errors
  stage "docs site (antsibull-docs + sphinx)"
  local site="$ROOT/build/docsite"
  rm -rf build/docs-dist "$site" && mkdir -p build/docs-dist "$site/rst" && chmod 755 "$site" && chmod og-w "$site/rst"
  ansible-galaxy collection build --output-path build/docs-dist .
  ANSIBLE_COLLECTIONS_PATH=$site/installed ansible-galaxy collection install -p "$site/installed" build/docs-dist/*.tar.gz
  cp extensions/docsite/conf.py extensions/docsite/antsibull-docs.cfg "$site/"
  ANSIBLE_COLLECTIONS_PATH=$site/installed antsibull-docs --config-file "$site/antsibull-docs.cfg" collection \
    --cleanup everything --fail-on-error --use-current --dest-dir "$site/rst" guestnet.failover
  cp extensions/docsite/index.rst extensions/docsite/offline-labels.rst "$site/rst/"
  sphinx-build -M html "$site/rst" "$site/build" -c "$site" -W --keep-going -q
  # a page for every module, filter and role
  local page
  for page in failover_config_module netdev_facts_module failover_link_module topology_report_filter \
              fleet_report_filter fleet_summary_filter failover_role kvm_role index; do
    [ -s "$site/build/html/collections/guestnet/failover/$page.html" ] || { echo "docs site lacks $page" >&2; return 1; }
  done
  echo "docs site: $site/build/html/collections/guestnet/failover/index.html"
}

run_molecule() {
  stage "molecule scenarios in the VM lab"
  local s failed=()
  local scenarios=("extensions/molecule/${SCENARIO:-}/molecule.yml")
  [ -n "${SCENARIO:-}" ] || scenarios=(extensions/molecule/*/molecule.yml)
  local times=() start
  for s in "${scenarios[@]}"; do
    s=$(basename "$(dirname "$s")")
    stage "molecule test -s $s"
    start=$SECONDS
    molecule test -s "$s" || failed+=("$s")
    times+=("$(printf '%-22s %4d s  load %s' "$s" $((SECONDS - start)) "$(cut -d' ' -f1-3 /proc/loadavg)")")
  done
  stage "molecule wall time per scenario"
  printf '%s\n' "${times[@]}"
  if ((${#failed[@]})); then echo "molecule scenarios failed: ${failed[*]}" >&2; return 1; fi
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(unit lint sanity build oldest docs molecule)
[ "${stages[*]}" != fast ] || stages=(unit lint sanity build oldest docs)
for s in "${stages[@]}"; do "run_$s"; done
stage "all stages passed: ${stages[*]}"
