# SPDX-License-Identifier: GPL-3.0-or-later
"""Debian guest images built with mmdebstrap: recipe, cache key, build, and lookup."""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import re
import shlex
import shutil
import tarfile
import time
from pathlib import Path

from guestnet_lab.util import IMAGES_DIR, LabError, ensure_ssh_key, log, run

MGMT_MAC = "52:54:00:00:00:01"
RELEASES = {"12": "bookworm", "13": "trixie"}
DEFAULT_MIRROR = "http://deb.debian.org/debian"

COMMON_PACKAGES = [
    "linux-image-amd64", "systemd-sysv", "udev", "kmod", "procps", "iproute2", "python3", "python3-apt",
    "openssh-server", "initramfs-tools", "network-manager", "netplan.io", "ifupdown", "libteam-utils",
    "ifenslave", "iputils-ping", "ethtool",
]
RELEASE_PACKAGES = {"bookworm": ["isc-dhcp-client"], "trixie": ["isc-dhcp-client"]}
KINDS = ("lab", "cloud")

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

# mgmt0 is the lab's way in (SSH) and out: it carries the default route (metric 10: below networkd's DHCP default
# 1024, NetworkManager's 100 and any metric netplan/cloud-init set for a data NIC) and the guest resolves through
# QEMU's user-mode NAT (10.0.2.3), so a run can install what it needs (apt) whatever it configures on the data network.
MGMT_FILES = {
    # Name the management NIC by its fixed MAC; nothing under test may touch it.
    "etc/systemd/network/10-lab-mgmt0.link": f"[Match]\nMACAddress={MGMT_MAC}\n\n[Link]\nName=mgmt0\n",
    "etc/systemd/network/10-lab-mgmt0.network": "[Match]\nName=mgmt0\n\n[Link]\nUnmanaged=yes\n",
    "etc/udev/rules.d/10-lab-mgmt0.rules": (
        f'SUBSYSTEM=="net", ACTION=="add|change", ATTR{{address}}=="{MGMT_MAC}", '
        'ENV{NM_UNMANAGED}="1", ENV{ID_NET_MANAGED_BY}="guestnet-lab"\n'),
    "etc/systemd/system/lab-mgmt0.service": (
        "[Unit]\nDescription=Lab management NIC (static, default route metric 10 via user-mode NAT)\n"
        "BindsTo=sys-subsystem-net-devices-mgmt0.device\nAfter=sys-subsystem-net-devices-mgmt0.device\n"
        "Before=ssh.service\n\n"
        "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        "ExecStart=/usr/sbin/sysctl -q -w net.ipv6.conf.mgmt0.accept_ra=0 net.ipv6.conf.mgmt0.autoconf=0\n"
        "ExecStart=/usr/sbin/ip link set mgmt0 up\n"
        "ExecStart=/usr/sbin/ip addr replace 10.0.2.15/24 dev mgmt0\n"
        "ExecStart=/usr/sbin/ip route replace default via 10.0.2.2 dev mgmt0 metric 10\n\n"
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
    # the lab's DNS stays the NAT's: NetworkManager must not rewrite resolv.conf when it runs a data NIC (the data
    # network's dnsmasq hands out no DNS server, so dhclient and networkd leave it alone)
    "etc/NetworkManager/conf.d/90-lab-dns.conf": "[main]\ndns=none\nrc-manager=unmanaged\n",
}
# a plain file, written after the packages (mmdebstrap leaves the build host's resolv.conf behind)
LAB_RESOLV_CONF = "nameserver 10.0.2.3"

# ---- kind "cloud": built like Debian's generic/genericcloud images --------------------------------------------
# cloud-init (NoCloud only) -> netplan -> systemd-networkd (+ systemd-resolved), nothing the collection would add
# (no python3-pyroute2, NetworkManager, ifupdown, teamd). The kernel is linux-image-amd64 (Debian's "generic"
# flavour): linux-image-cloud-amd64 has no e1000e, the lab's stand-in for the VF. The disk is partitioned and boots
# through GRUB from its own /boot (no -kernel/-initrd), so a rebuilt initramfs is what the next boot uses.
CLOUD_PACKAGES = [
    "linux-image-amd64", "systemd-sysv", "udev", "kmod", "procps", "iproute2", "python3", "openssh-server",
    "initramfs-tools", "cloud-init", "cloud-guest-utils", "netplan.io", "systemd-resolved", "sudo", "iputils-ping",
    "grub-pc-bin", "locales",
]
CLOUD_ROOT_LABEL = "cloudroot"
CLOUD_CMDLINE = f"root=LABEL={CLOUD_ROOT_LABEL} ro console=ttyS0,115200 consoleblank=0"
CLOUD_GRUB_CFG = (
    "# guestnet lab: GRUB boots the disk's own kernel and initramfs (the /vmlinuz and /initrd.img symlinks)\n"
    "serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\nset timeout=0\n"
    "menuentry 'Debian GNU/Linux' {\n"
    f"  search --no-floppy --label --set=root {CLOUD_ROOT_LABEL}\n"
    f"  linux /vmlinuz {CLOUD_CMDLINE}\n  initrd /initrd.img\n}}\n")
CLOUD_FILES = {
    "etc/hostname": "lab\n",
    "etc/fstab": f"LABEL={CLOUD_ROOT_LABEL} / ext4 rw,discard,errors=remount-ro 0 1\n",
    "etc/ssh/sshd_config.d/lab.conf": "UseDNS no\nPermitRootLogin prohibit-password\n",
    "etc/systemd/journald.conf.d/lab.conf": "[Journal]\nStorage=volatile\n",
    "etc/systemd/system.conf.d/lab.conf": "[Manager]\nDefaultTimeoutStopSec=10s\n",
    "etc/systemd/resolved.conf.d/lab.conf": "[Resolve]\nDNS=10.0.2.3\n",
    # NoCloud only (no probing of other datasources); keep root's baked-in key usable (Debian's cloud.cfg has
    # disable_root: true, which would prefix root's keys with a "login as debian" command). locale C.UTF-8: only C
    # locales exist here, and cloud-init 22.4's default en_US.UTF-8 made update-locale fail (status: error).
    "etc/cloud/cloud.cfg.d/90_lab.cfg": "datasource_list: [NoCloud]\ndisable_root: false\nlocale: C.UTF-8\n",
    "boot/grub/grub.cfg": CLOUD_GRUB_CFG,
}
CLOUD_GRUB_MODULES = ["biosdisk", "part_msdos", "ext2", "normal", "linux", "search", "search_label", "serial",
                      "terminal", "configfile", "echo", "test"]
CLOUD_DISK_SIZE = 3 * 1024 ** 3
CLOUD_PART_START = 2048  # sectors: 1 MiB, the gap core.img lives in (sector 1 on)


def recipe(release: str, kind: str = "lab") -> dict:
    """Return the full recipe of an image; its hash is the cache key."""
    if release not in RELEASES:
        raise LabError(f"unknown release {release!r}; choose one of {', '.join(RELEASES)}")
    if kind not in KINDS:
        raise LabError(f"unknown image kind {kind!r}; choose one of {', '.join(KINDS)}")
    suite = RELEASES[release]
    pubkey = Path(str(ensure_ssh_key()) + ".pub").read_text(encoding="utf-8").strip()
    if kind == "cloud":
        return _cloud_recipe(release, suite, pubkey)
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
        "resolv_conf": LAB_RESOLV_CONF,
        "cmdline": KERNEL_CMDLINE,
        "size": "3G",
        "format": 1,
    }


def _cloud_recipe(release: str, suite: str, pubkey: str) -> dict:
    files = dict(CLOUD_FILES)
    files.update(MGMT_FILES)
    files["root/.ssh/authorized_keys"] = pubkey + "\n"
    return {
        "kind": "cloud",
        "release": release,
        "suite": suite,
        "variant": "apt",
        "packages": CLOUD_PACKAGES,
        "files": files,
        "disabled_units": [],
        "masked_units": MASKED_UNITS,
        "enabled_units": ["lab-mgmt0.service", "systemd-networkd.service", "systemd-resolved.service"],
        "cmdline": CLOUD_CMDLINE,
        "grub_modules": CLOUD_GRUB_MODULES,
        "disk_size": CLOUD_DISK_SIZE,
        "part_start": CLOUD_PART_START,
        "root_label": CLOUD_ROOT_LABEL,
        "boot": "grub-bios",
        "format": 1,
    }


def image_dir(release: str, kind: str = "lab") -> Path:
    """Return the cache directory of the image the current recipe describes."""
    data = json.dumps(recipe(release, kind), sort_keys=True).encode()
    middle = "" if kind == "lab" else f"{kind}-"
    return IMAGES_DIR / f"debian-{release}-{middle}{hashlib.sha256(data).hexdigest()[:12]}"


def image_kind(image: Path) -> str:
    """Return the kind of a built image ("lab" when its recipe predates kinds)."""
    return json.loads((image / "recipe.json").read_text(encoding="utf-8")).get("kind", "lab")


def mbr(boot_code: bytes, part_start: int, part_sectors: int, disk_id: int = 0x6C616231) -> bytes:
    """Return sector 0 of an msdos-labelled disk: GRUB's boot.img code (first 440 bytes), the disk id and one
    bootable Linux (0x83) partition from part_start (sectors) spanning part_sectors."""
    if len(boot_code) < 440:
        raise LabError("boot code shorter than 440 bytes")
    if part_start < 1 or part_sectors < 1 or part_start + part_sectors > 0xFFFFFFFF:
        raise LabError(f"partition {part_start}+{part_sectors} does not fit an msdos label")
    chs_max = bytes([0xFE, 0xFF, 0xFF])  # LBA-only partition: CHS fields saturated, as fdisk writes beyond 8 GiB
    entry = (bytes([0x80]) + chs_max + bytes([0x83]) + chs_max
             + part_start.to_bytes(4, "little") + part_sectors.to_bytes(4, "little"))
    sector = bytearray(512)
    sector[:440] = boot_code[:440]
    sector[440:444] = disk_id.to_bytes(4, "little")
    sector[446:462] = entry
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def write_bootloader(disk: Path, boot_img: bytes, core_img: bytes, part_start: int, part_sectors: int) -> None:
    """Write the MBR (boot.img code + partition table) into sector 0 and core.img from sector 1 of a raw disk.

    boot.img's defaults load the first sector of core.img (diskboot.img) from LBA 1, and diskboot's blocklist
    (filled in by grub-mkimage) loads the rest from LBA 2 on: exactly this layout, no grub-bios-setup needed.
    """
    if len(core_img) > (part_start - 1) * 512:
        raise LabError(f"core.img ({len(core_img)} bytes) does not fit before the partition at sector {part_start}")
    with open(disk, "r+b") as out:
        out.write(mbr(boot_img, part_start, part_sectors))
        out.seek(512)
        out.write(core_img)


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


def build(release: str, force: bool = False, kind: str = "lab") -> Path:
    """Build the image for a release (and kind) unless the cache already has it; return its directory.

    A lock file serialises concurrent builders of one image: the second one waits and then reuses the result.
    """
    final = image_dir(release, kind)
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
        return _build_locked(release, final, kind)


def _customize_hooks(spec: dict) -> list[str]:
    """Return the mmdebstrap customize hooks of a recipe (run in order, "$1" is the new root)."""
    units = " ".join
    hooks = []
    if spec["disabled_units"]:
        hooks.append(f'for u in {units(spec["disabled_units"])}; do chroot "$1" systemctl disable "$u" >/dev/null 2>&1 || true; done')
    hooks += [
        f'chroot "$1" systemctl mask {units(spec["masked_units"])} >/dev/null 2>&1',
        f'chroot "$1" systemctl enable {units(spec["enabled_units"])} >/dev/null 2>&1',
        'chroot "$1" passwd -d root >/dev/null',
        'rm -f "$1"/etc/machine-id && touch "$1"/etc/machine-id',
    ]
    if spec.get("resolv_conf"):
        hooks.append(f'rm -f "$1"/etc/resolv.conf && echo {shlex.quote(spec["resolv_conf"])} > "$1"/etc/resolv.conf')
    if spec.get("boot") == "grub-bios":
        hooks += [
            # resolved's stub, as on genericcloud (mmdebstrap may have left the host's resolv.conf behind)
            'ln -sf ../run/systemd/resolve/stub-resolv.conf "$1"/etc/resolv.conf',
            # GRUB's core.img from the image's own grub, prefix on the root partition; modules next to grub.cfg
            f'chroot "$1" grub-mkimage -O i386-pc -p "(hd0,msdos1)/boot/grub" -o /boot/grub/core.img '
            f'{units(spec["grub_modules"])}',
            'mkdir -p "$1"/boot/grub/i386-pc && cp "$1"/usr/lib/grub/i386-pc/*.mod "$1"/usr/lib/grub/i386-pc/*.lst '
            '"$1"/boot/grub/i386-pc/',
            # kernel postinst keeps /vmlinuz and /initrd.img pointing at the newest kernel; make sure they exist
            'cd "$1" && [ -e vmlinuz ] || ln -sf "$(ls boot/vmlinuz-* | sort -V | tail -n1)" vmlinuz',
            'cd "$1" && [ -e initrd.img ] || ln -sf "$(ls boot/initrd.img-* | sort -V | tail -n1)" initrd.img',
        ]
    return hooks


def _build_locked(release: str, final: Path, kind: str = "lab") -> Path:
    """Build the image into a temporary directory next to final, then move it into place."""
    spec = recipe(release, kind)
    if shutil.which("mmdebstrap") is None:
        raise LabError("mmdebstrap is not installed (run scripts/bootstrap.sh)")
    log(f"building debian-{release} {kind} image (about 1-3 min)...")
    started = time.monotonic()
    work = final.with_name(final.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    overlay = work / "overlay.tar"
    _overlay_tar(spec["files"], overlay)
    rootdir = work / "root"
    cmd = ["mmdebstrap", "--quiet", f"--variant={spec['variant']}", "--include=" + ",".join(spec["packages"]),
           f'--essential-hook=tar -C "$1" -xf {overlay}']
    cmd += [f"--customize-hook={hook}" for hook in _customize_hooks(spec)]
    cmd += [spec["suite"], str(rootdir), host_mirror()]
    run(cmd, capture=False)
    boot = rootdir / "boot"
    kernels = sorted(boot.glob("vmlinuz-*"))
    initrds = sorted(boot.glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError(f"image build produced no kernel/initrd in {boot}")
    if spec.get("boot") == "grub-bios":
        _write_cloud_disk(spec, rootdir, work / "base.raw")
    else:
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


def disk_layout(disk_size: int, part_start: int) -> tuple[int, int]:
    """Return (partition sectors, filesystem size in KiB) of a disk with one partition from part_start to the end
    (rounded down to whole MiB so the ext4 size is a multiple of its 4 KiB blocks)."""
    total = disk_size // 512
    sectors = (total - part_start) // 2048 * 2048
    if sectors <= 0:
        raise LabError(f"disk of {disk_size} bytes has no room for a partition at sector {part_start}")
    return sectors, sectors // 2


def _write_cloud_disk(spec: dict, rootdir: Path, disk: Path) -> None:
    """Build the partitioned boot disk without loop devices: ext4 made from rootdir inside the partition's byte
    range (mkfs.ext4 -E offset), then boot.img + partition table in sector 0 and core.img from sector 1."""
    part_start = spec["part_start"]
    sectors, fs_kib = disk_layout(spec["disk_size"], part_start)
    with open(disk, "wb") as out:
        out.truncate(spec["disk_size"])
    # GRUB 2.06 (bookworm) cannot read ext4 with metadata_csum_seed; orphan_file is too new for it as well
    run(["mkfs.ext4", "-q", "-F", "-L", spec["root_label"], "-O", "^metadata_csum_seed,^orphan_file",
         "-E", f"offset={part_start * 512}", "-d", str(rootdir), str(disk), f"{fs_kib}k"])
    if disk.stat().st_size != spec["disk_size"]:
        raise LabError(f"mkfs.ext4 changed the size of {disk}")
    boot_img = (rootdir / "usr/lib/grub/i386-pc/boot.img").read_bytes()
    core_img = (rootdir / "boot/grub/core.img").read_bytes()
    write_bootloader(disk, boot_img, core_img, part_start, sectors)


def prune(in_use: set[str]) -> list[Path]:
    """Remove cached images that no current recipe describes and no instance in in_use (image paths) boots."""
    current = {image_dir(release, kind) for release in RELEASES for kind in KINDS}
    removed = []
    for path in sorted(IMAGES_DIR.glob("debian-*")):
        if path.is_dir() and path not in current and str(path) not in in_use and not path.name.endswith(".tmp"):
            shutil.rmtree(path)
            path.with_name(path.name + ".lock").unlink(missing_ok=True)
            removed.append(path)
    return removed


def ensure(release: str, kind: str = "lab") -> Path:
    """Return the cached image directory of a release (and kind), building it when missing."""
    return build(release, kind=kind)
