#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12/13 machine, idempotently:
# Debian packages (only the missing ones), the project-local virtualenv (.venv) from
# requirements.txt, and the pip bootstrap that `ansible-test sanity --venv` expects.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc git rsync
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs
  iproute2 iputils-ping openssh-client dnsmasq-base shellcheck xorriso
  cpio
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
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "creating .venv with $($PYTHON --version 2>&1)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi

# ansible-test --venv bootstraps pip in each fresh virtualenv by running a cached
# get-pip script, and would download it from a host these machines cannot reach.
# Ours does the same job from pip's wheel on PyPI.
pip_version=$(.venv/bin/python - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
cache="$HOME/.ansible/test/cache"
script="$cache/get_pip_${pip_version//./_}.py"
wheel="$cache/pip-${pip_version}-py3-none-any.whl"
if [ ! -f "$script" ] || [ ! -f "$wheel" ]; then
  log "caching pip $pip_version bootstrap for ansible-test"
  mkdir -p "$cache"
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: -d "$cache" "pip==$pip_version"
  cat > "$script" <<PY
"""Stand-in for get-pip.py: run 'pip install' from the cached pip wheel."""
import sys
sys.path.insert(0, "$wheel")
from pip._internal.cli.main import main  # noqa: E402
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install"] + args))
PY
fi
log "ready: ansible-core $(.venv/bin/python -c "import ansible.release as r; print(r.__version__)")"
