#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Proof that a cloud image boots its own /boot through GRUB: an initramfs the guest rebuilds is what the next
# boot runs. Installs an initramfs-tools hook + init-top script that write a marker into /run/initramfs,
# times update-initramfs -u with initramfs-tools' defaults (MODULES=most) and with MODULES=dep, reboots and
# checks the marker of the last build. Run from the repository root as root:
#   lab/checks/boot_own_initramfs.sh [NAME] [RELEASE]     (default h3boot, 12; boots NAME if it is not running)
# SKIP_MOST=1 skips the (slow, ~14 min in TCG) MODULES=most build.
# shellcheck disable=SC2016  # the single-quoted commands run in the guest
set -euo pipefail
cd "$(dirname "$0")/../.."
NAME=${1:-h3boot}
RELEASE=${2:-12}
export PYTHONPATH=lab
lab() { .venv/bin/python -m guestnet_lab "$@"; }
g() { lab ssh "$NAME" "$@"; }

started_here=
if ! lab list --json | .venv/bin/python -c "import json,sys; sys.exit(0 if any(r['name']=='$NAME' and r['running'] for r in json.load(sys.stdin)) else 1)"; then
  lab up "$NAME" --topology plain --release "$RELEASE" --image cloud --seed v2 --cpus 1 --timeout 600 >/dev/null
  started_here=1
fi
trap '[ -z "$started_here" ] || lab down "$NAME"' EXIT

echo "== $NAME: $(g 'cat /proc/cmdline')"
g 'cat > /etc/initramfs-tools/hooks/lab-marker <<"EOF"
#!/bin/sh
[ "$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
mkdir -p "$DESTDIR/etc"
cp /etc/lab-marker "$DESTDIR/etc/lab-marker"
EOF
cat > /etc/initramfs-tools/scripts/init-top/lab-marker <<"EOF"
#!/bin/sh
[ "$1" = prereqs ] && exit 0
mkdir -p /run/initramfs
cat /etc/lab-marker > /run/initramfs/marker   # klibc tools only (no busybox in the image): no cp
EOF
chmod +x /etc/initramfs-tools/hooks/lab-marker /etc/initramfs-tools/scripts/init-top/lab-marker'

build() {  # $1 = label; prints seconds and initrd size
  local token
  token="$(printf %s "$1" | tr -c 'A-Za-z0-9=' _)-$(date +%s%N)"
  g "echo $token > /etc/lab-marker"
  local t0 t1
  t0=$(date +%s.%N)
  g 'update-initramfs -u >/dev/null 2>&1'
  t1=$(date +%s.%N)
  printf '== update-initramfs -u (%s): %.0f s, %s\n' "$1" "$(awk "BEGIN{print $t1 - $t0}")" \
    "$(g 'k=$(uname -r); echo "initrd $(du -h /boot/initrd.img-$k | cut -f1), $(lsinitramfs /boot/initrd.img-$k | grep -c "\.ko")" modules')"
  echo "$token" > "/tmp/$NAME.marker"
}

g 'rm -f /etc/initramfs-tools/conf.d/lab-modules.conf'
[ -n "${SKIP_MOST:-}" ] || build "MODULES=most (initramfs-tools default)"
g 'echo MODULES=dep > /etc/initramfs-tools/conf.d/lab-modules.conf'
build "MODULES=dep"
want=$(cat "/tmp/$NAME.marker")
g "lsinitramfs /initrd.img | grep -q etc/lab-marker" && echo "== /initrd.img (symlink GRUB loads) contains etc/lab-marker"

t0=$(date +%s)
lab reboot "$NAME" >/dev/null
echo "== reboot to SSH: $(( $(date +%s) - t0 )) s"
got=$(g 'cat /run/initramfs/marker 2>/dev/null || echo none')
echo "== booted initrd: $(g 'dmesg | grep -o "Freeing initrd memory: [0-9]*K"')"
echo "== marker after reboot: $got (want $want)"
if [ "$got" != "$want" ]; then
  echo "FAIL: the boot did not use the rebuilt initramfs" >&2
  exit 1
fi
echo "PASS: GRUB booted the disk's own rebuilt initramfs"
