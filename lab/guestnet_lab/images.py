# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian guest images built with mmdebstrap: recipe, cache key, build, and lookup."""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import re
import shutil
import tarfile
import time
from pathlib import Path

from guestnet_lab.util import IMAGES_DIR, LabError, ensure_ssh_key, log, run

MGMT_MAC = "52:54:00:00:00:01"
RELEASES = {"12": "bookworm", "13": "trixie"}
DEFAULT_MIRROR = "http://deb.debian.org/debian"

COMMON_PACKAGES = [
    "linux-image-amd64", "systemd-sysv", "udev", "kmod", "procps", "iproute2", "python3", "python3-apt", "python3-pyroute2",
    "openssh-server", "initramfs-tools", "network-manager", "netplan.io", "ifupdown", "libteam-utils",
    "ifenslave", "iputils-ping", "ethtool",
]
RELEASE_PACKAGES = {"bookworm": ["isc-dhcp-client"], "trixie": ["isc-dhcp-client"]}

KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0 quiet mitigations=off fsck.mode=skip systemd.show_status=false"

# Units stopped from starting at boot: the stacks under test (a scenario's prepare enables the one it tests)
# and timers/services that only cost boot time in a throwaway guest.
DISABLED_UNITS = [
    "NetworkManager.service", "NetworkManager-wait-online.service", "NetworkManager-dispatcher.service",
    "systemd-networkd.service", "systemd-networkd.socket", "systemd-networkd-wait-online.service", "networking.service",
]
MASKED_UNITS = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer", "e2scrub_reap.service",
    "fstrim.timer", "dpkg-db-backup.timer", "getty@tty1.service", "systemd-timesyncd.service",
]

MGMT_FILES = {
    # Name the management NIC by its fixed MAC; nothing under test may touch it.
    "etc/systemd/network/10-lab-mgmt0.link": f"[Match]\nMACAddress={MGMT_MAC}\n\n[Link]\nName=mgmt0\n",
    "etc/systemd/network/10-lab-mgmt0.network": "[Match]\nName=mgmt0\n\n[Link]\nUnmanaged=yes\n",
    "etc/udev/rules.d/10-lab-mgmt0.rules": (
        f'SUBSYSTEM=="net", ACTION=="add|change", ATTR{{address}}=="{MGMT_MAC}", '
        'ENV{NM_UNMANAGED}="1", ENV{ID_NET_MANAGED_BY}="guestnet-lab"\n'),
    "etc/systemd/system/lab-mgmt0.service": (
        "[Unit]\nDescription=Lab management NIC (static, no default route)\n"
        "BindsTo=sys-subsystem-net-devices-mgmt0.device\nAfter=sys-subsystem-net-devices-mgmt0.device\n"
        "Before=ssh.service\n\n"
        "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        "ExecStart=/usr/sbin/sysctl -q -w net.ipv6.conf.mgmt0.accept_ra=0 net.ipv6.conf.mgmt0.autoconf=0\n"
        "ExecStart=/usr/sbin/ip link set mgmt0 up\n"
        "ExecStart=/usr/sbin/ip addr replace 10.0.2.15/24 dev mgmt0\n\n"
        "[Install]\nWantedBy=multi-user.target\n"),
}

BASE_FILES = {
    "etc/hostname": "lab\n",
    "etc/hosts": "127.0.0.1 localhost\n127.0.1.1 lab\n::1 localhost ip6-localhost ip6-loopback\n",
    "etc/fstab": "/dev/vda / ext4 rw,errors=remount-ro 0 1\n",
    "etc/initramfs-tools/conf.d/lab.conf": "MODULES=list\nCOMPRESS=gzip\n",
    "usr/share/initramfs-tools/modules.d/lab": "virtio_pci\nvirtio_blk\next4\n",
    "etc/ssh/sshd_config.d/lab.conf": "UseDNS no\nPermitRootLogin prohibit-password\n",
    "etc/systemd/journald.conf.d/lab.conf": "[Journal]\nStorage=volatile\n",
    "etc/systemd/system.conf.d/lab.conf": "[Manager]\nDefaultTimeoutStopSec=10s\n",
}


def recipe(release: str) -> dict:
    """Return the full recipe of an image; its hash is the cache key."""
    if release not in RELEASES:
        raise LabError(f"unknown release {release!r}; choose one of {', '.join(RELEASES)}")
    suite = RELEASES[release]
    pubkey = Path(str(ensure_ssh_key()) + ".pub").read_text(encoding="utf-8").strip()
    files = dict(BASE_FILES)
    files.update(MGMT_FILES)
    files["root/.ssh/authorized_keys"] = pubkey + "\n"
    return {
        "release": release,
        "suite": suite,
        "variant": "apt",
        "packages": COMMON_PACKAGES + RELEASE_PACKAGES[suite],
        "files": files,
        "disabled_units": DISABLED_UNITS,
        "masked_units": MASKED_UNITS,
        "enabled_units": ["lab-mgmt0.service"],
        "cmdline": KERNEL_CMDLINE,
        "size": "3G",
        "format": 1,
    }


def image_dir(release: str) -> Path:
    """Return the cache directory of the image the current recipe describes."""
    data = json.dumps(recipe(release), sort_keys=True).encode()
    return IMAGES_DIR / f"debian-{release}-{hashlib.sha256(data).hexdigest()[:12]}"


def host_mirror() -> str:
    """Return the Debian mirror this host's apt uses, so builds work wherever the host's apt does."""
    sources = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in sources:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"^\s*(?:URIs:|deb(?:\s+\[[^]]*\])?)\s+(\S+/debian)/?(\s|$)", line)
            if match:
                return match.group(1)
    return DEFAULT_MIRROR


def _overlay_tar(files: dict, dest: Path) -> None:
    """Write the recipe's files as a tar owned by root, to be unpacked into the root before packages install."""
    with tarfile.open(dest, "w") as tar:
        dirs = set()
        for name in sorted(files):
            parts = Path(name).parts[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for name in sorted(dirs):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o700 if name in ("root", "root/.ssh") else 0o755
            tar.addfile(info)
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600 if name.startswith("root/") else 0o644
            tar.addfile(info, io.BytesIO(data))


def build(release: str, force: bool = False) -> Path:
    """Build the image for a release unless the cache already has it; return its directory.

    A lock file serialises concurrent builders of one image: the second one waits and then reuses the result.
    """
    final = image_dir(release)
    if (final / "base.raw").exists() and not force:
        return final
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    with open(final.with_name(final.name + ".lock"), "w", encoding="utf-8") as lock:
        if (final / "base.raw").exists() and not force:
            return final
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another process is building {final.name}; waiting for it...")
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (final / "base.raw").exists() and not force:
                return final
        return _build_locked(release, final)


def _build_locked(release: str, final: Path) -> Path:
    """Build the image into a temporary directory next to final, then move it into place."""
    spec = recipe(release)
    if shutil.which("mmdebstrap") is None:
        raise LabError("mmdebstrap is not installed (run scripts/bootstrap.sh)")
    log(f"building debian-{release} image (about 1-2 min)...")
    started = time.monotonic()
    work = final.with_name(final.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    overlay = work / "overlay.tar"
    _overlay_tar(spec["files"], overlay)
    units = " ".join
    customize = [
        f'for u in {units(spec["disabled_units"])}; do chroot "$1" systemctl disable "$u" >/dev/null 2>&1 || true; done',
        f'chroot "$1" systemctl mask {units(spec["masked_units"])} >/dev/null 2>&1',
        f'chroot "$1" systemctl enable {units(spec["enabled_units"])} >/dev/null 2>&1',
        'chroot "$1" passwd -d root >/dev/null',
        'rm -f "$1"/etc/machine-id && touch "$1"/etc/machine-id',
    ]
    rootdir = work / "root"
    cmd = ["mmdebstrap", "--quiet", f"--variant={spec['variant']}", "--include=" + ",".join(spec["packages"]),
           f'--essential-hook=tar -C "$1" -xf {overlay}']
    cmd += [f"--customize-hook={hook}" for hook in customize]
    cmd += [spec["suite"], str(rootdir), host_mirror()]
    run(cmd, capture=False)
    boot = rootdir / "boot"
    kernels = sorted(boot.glob("vmlinuz-*"))
    initrds = sorted(boot.glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError(f"image build produced no kernel/initrd in {boot}")
    shutil.copy2(kernels[-1], work / "vmlinuz")
    shutil.copy2(initrds[-1], work / "initrd.img")
    run(["mkfs.ext4", "-q", "-F", "-L", "labroot", "-d", str(rootdir), str(work / "base.raw"), spec["size"]])
    shutil.rmtree(rootdir)
    overlay.unlink()
    (work / "recipe.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    log(f"built {final.name} in {time.monotonic() - started:.0f}s")
    return final


def prune(in_use: set[str]) -> list[Path]:
    """Remove cached images that no current recipe describes and no instance in in_use (image paths) boots."""
    current = {image_dir(release) for release in RELEASES}
    removed = []
    for path in sorted(IMAGES_DIR.glob("debian-*")):
        if path.is_dir() and path not in current and str(path) not in in_use and not path.name.endswith(".tmp"):
            shutil.rmtree(path)
            path.with_name(path.name + ".lock").unlink(missing_ok=True)
            removed.append(path)
    return removed


def ensure(release: str) -> Path:
    """Return the cached image directory of a release, building it when missing."""
    return build(release)
