#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12/13 machine, idempotently:
# Debian packages (only the missing ones), the project-local virtualenvs (.venv from requirements-dev.txt,
# .venv-oldest from requirements-oldest.txt), and the pip bootstrap that `ansible-test --venv` expects.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc git rsync
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs
  iproute2 iputils-ping openssh-client dnsmasq-base shellcheck xorriso
  cpio jq
)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
# venv DIR REQUIREMENTS: install the requirements into DIR, again whenever the file's content changes (stamp).
venv() {
  local dir=$1 req=$2 stamp="$1/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing $req into $dir with $($PYTHON --version 2>&1)"
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
    "$dir/bin/python" -m pip install -q -r "$req"
    echo "$want" > "$stamp"
  fi
}
# development and CI tooling (requirements.txt holds what the collection needs at run time: nothing to install)
venv .venv requirements-dev.txt
# the oldest ansible-core the collection claims (scripts/test.sh oldest)
venv .venv-oldest requirements-oldest.txt

# ansible-test --venv bootstraps pip in each fresh virtualenv by running a cached
# get-pip script, and would download it from a host these machines cannot reach.
# Ours does the same job from pip's wheel on PyPI. Each venv's ansible-test wants its own pip version.
cache_pip_bootstrap() {
  local python=$1 pip_version script wheel cache="$HOME/.ansible/test/cache"
  pip_version=$("$python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
  script="$cache/get_pip_${pip_version//./_}.py"
  wheel="$cache/pip-${pip_version}-py3-none-any.whl"
  if [ ! -f "$script" ] || [ ! -f "$wheel" ]; then
    log "caching pip $pip_version bootstrap for ansible-test"
    mkdir -p "$cache"
    "$python" -m pip download -q --no-deps --only-binary=:all: -d "$cache" "pip==$pip_version"
    cat > "$script" <<PY
"""Stand-in for get-pip.py: run 'pip install' from the cached pip wheel."""
import sys
sys.path.insert(0, "$wheel")
from pip._internal.cli.main import main  # noqa: E402
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install"] + args))
PY
  fi
}
cache_pip_bootstrap .venv/bin/python
cache_pip_bootstrap .venv-oldest/bin/python
for v in .venv .venv-oldest; do
  log "ready: $v ansible-core $("$v/bin/python" -c "import ansible.release as r; print(r.__version__)")"
done
