#!/usr/bin/env bash
# The main job (README: `make demo`): boot a lab guest with a real virtio failover pair (net_failover 3-netdev),
# apply guestnet.failover.site with no variables, print the topology report. DEMO_KEEP=1 leaves the VM running.
# The collection is used as a user gets it: the built tarball installed with ansible-galaxy, not the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
./scripts/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH" PYTHONPATH="$ROOT/lab"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/build/demo/collections" ANSIBLE_HOST_KEY_CHECKING=False
rm -rf build/demo && mkdir -p build/demo/dist
ansible-galaxy collection build --output-path build/demo/dist .
ansible-galaxy collection install -p "$ANSIBLE_COLLECTIONS_PATH" build/demo/dist/guestnet-failover-*.tar.gz

name=demo
release=${DEMO_RELEASE:-12}
python -m guestnet_lab down "$name" >/dev/null 2>&1 || true
[ "${DEMO_KEEP:-0}" = 1 ] || trap 'python -m guestnet_lab down "$name" >/dev/null' EXIT
mkdir -p build
python -m guestnet_lab up "$name" --topology kvm-failover --release "$release" --json > "build/$name.json"
inventory=build/$name.ini
python - "build/$name.json" > "$inventory" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("[lab]\n%s ansible_host=%s ansible_port=%s ansible_user=%s ansible_ssh_private_key_file=%s "
      "ansible_python_interpreter=/usr/bin/python3" % (r["name"], r["ssh_host"], r["ssh_port"], r["ssh_user"], r["ssh_key"]))
PY
# The lab image ships every stack disabled; a cloud image runs one. The demo's guest runs systemd-networkd.
python -m guestnet_lab ssh "$name" "systemctl enable --now systemd-networkd" >/dev/null 2>&1
echo "== before: the guest as booted"
ansible-playbook -i "$inventory" guestnet.failover.report
echo "== apply: guestnet.failover.site"
ansible-playbook -i "$inventory" guestnet.failover.site
echo "== after (fleet report: build/demo/fleet.json)"
ansible-playbook -i "$inventory" guestnet.failover.report -e report_file="$ROOT/build/demo/fleet.json"
