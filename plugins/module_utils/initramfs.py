# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render stage (initramfs-tools): the collection's files as an early cpio segment of their own in the initrd.

An initrd is a concatenation of cpio archives: uncompressed early ones (CPU microcode) first, then the compressed
main archive; the kernel unpacks them in order. Our udev rules and .link files travel as one uncompressed early
segment, recognised by MARKER. Refreshing that segment is a file copy, where ``update-initramfs -u`` rebuilds the
whole main archive (minutes in a TCG guest with MODULES=most). The initramfs-tools hook writes the same segment
(``prepend_earlyinitramfs``) whenever the distribution rebuilds an initrd, so kernel upgrades keep it, and the main
archive never holds our files. The segment is compared by its files' contents, whoever wrote it.
Pure logic over bytes here; the module reads and writes the files.
"""
from __future__ import annotations

import hashlib
import re

MARKER = "etc/guestnet-failover.initramfs"
MARKER_CONTENT = "early initramfs segment of guestnet.failover: its udev rules and .link files\n"
DRACUT_MARKER_CONTENT = "initramfs files of guestnet.failover (its dracut module): udev rules and .link files\n"
NEWC_MAGIC = (b"070701", b"070702")
TRAILER = "TRAILER!!!"
HEADER_LEN = 110
INITRD_RE = re.compile(r"initrd\.img-([A-Za-z0-9][A-Za-z0-9.+_~-]*)")
# dracut on Fedora/RHEL/SUSE names it initramfs-<version>.img (Debian's dracut keeps initrd.img-<version>)
DRACUT_INITRD_RE = re.compile(r"initramfs-([A-Za-z0-9][A-Za-z0-9.+_~-]*)\.img")
# the hook's mkinitramfs-time copy of the segment is built from these paths, and only these
SEGMENT_PREFIXES = ("etc/udev/rules.d/81-guestnet-failover", "etc/systemd/network/10-guestnet-failover-")


class InitrdError(ValueError):
    """The initrd does not look like concatenated cpio archives; nothing is changed."""


def _align(offset):
    return (offset + 3) & ~3


def _entry(name, mode, data):
    name_bytes = name.encode("utf-8") + b"\0"
    fields = (0, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0)
    head = b"070701" + b"".join(b"%08X" % value for value in fields) + name_bytes
    return head + b"\0" * (_align(len(head)) - len(head)) + data + b"\0" * (_align(len(data)) - len(data))


def segment(files):
    """One newc archive holding ``files`` ({relative path: text}) and MARKER, with their directories (root:root)."""
    files = dict(files)
    files[MARKER] = MARKER_CONTENT
    dirs = set()
    for path in files:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    out = [_entry(d, 0o040755, b"") for d in sorted(dirs)]
    out += [_entry(path, 0o100644, files[path].encode("utf-8")) for path in sorted(files)]
    out.append(_entry(TRAILER, 0, b""))
    data = b"".join(out)
    return data + b"\0" * ((-len(data)) % 512)


def _archive(data, start):
    """Parse one uncompressed archive at ``start``: (end after trailer and zero padding, {name: bytes} of files)."""
    offset, files = start, {}
    while True:
        if data[offset:offset + 6] not in NEWC_MAGIC:
            raise InitrdError("no cpio header at byte %d" % offset)
        try:
            mode = int(data[offset + 14:offset + 22], 16)
            size = int(data[offset + 54:offset + 62], 16)
            namesize = int(data[offset + 94:offset + 102], 16)
        except ValueError:
            raise InitrdError("corrupt cpio header at byte %d" % offset)
        name_start = offset + HEADER_LEN
        name = data[name_start:name_start + namesize - 1].decode("utf-8", "replace")
        body = _align(name_start + namesize)
        offset = _align(body + size)
        if offset > len(data):
            raise InitrdError("cpio entry %r runs past the end of the file" % name)
        if name == TRAILER:
            break
        if mode & 0o170000 == 0o100000:
            files[re.sub(r"^(\./)+", "", name)] = data[body:body + size]
    while offset < len(data) and data[offset:offset + 4] == b"\0\0\0\0":
        offset += 4
    return offset, files


def split(data):
    """Early segments of an initrd as [(start, end, files)] and the offset where the compressed main part starts."""
    segments, offset = [], 0
    while data[offset:offset + 6] in NEWC_MAGIC:
        end, files = _archive(data, offset)
        segments.append((offset, end, files))
        offset = end
    return segments, offset


def _without_marker(files):
    return dict((path, data) for path, data in files.items() if path != MARKER)


def ours(segments):
    """The early segments written by the collection (normally one)."""
    return [seg for seg in segments if MARKER in seg[2]]


def refreshed(data, files):
    """Return the initrd with our segment holding exactly ``files``, or None when it already does.

    ``files`` empty removes our segment. Other early segments keep their order in front of ours; the main archive
    is kept byte for byte.
    """
    segments, main = split(data)
    mine = ours(segments)
    want = dict((path, text.encode("utf-8")) for path, text in files.items())
    if files and len(mine) == 1 and _without_marker(mine[0][2]) == want:
        return None
    if not files and not mine:
        return None
    others = b"".join(data[start:end] for start, end, seg_files in segments if MARKER not in seg_files)
    return others + (segment(files) if files else b"") + data[main:]


def segment_files(planned):
    """The planned files ({relative path: text}) that belong in the initramfs segment."""
    return dict((path, text) for path, text in planned.items() if path.startswith(SEGMENT_PREFIXES))


def dracut_marker(files):
    """The marker text the dracut module writes into the initramfs it builds: DRACUT_MARKER_CONTENT and a digest of
    ``files`` ({relative path: text}, what the module copies). dracut writes one compressed archive, so one read
    of this file (lsinitrd -f) tells whether an initrd holds the current files; no marker when there are none."""
    if not files:
        return ""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode("utf-8") + b"\0" + files[path].encode("utf-8") + b"\0")
    return DRACUT_MARKER_CONTENT + "sha256 %s\n" % digest.hexdigest()
