"""Firmware images on the unix HAL: a firmware is a directory, an image is a ustar archive of it.

The store is ``<folder of the configuration file>/firmware/``: two slots ``a`` and ``b`` and a ``current``
file naming the slot that holds the active firmware (no ``current``: the firmware the unit was started
with). An image is an uncompressed POSIX ustar archive whose entries all lie under ``dut_firmware/``
(``tar --format=ustar -cf image.tar dut_firmware``; plain files and folders only, no links, no extended
headers). :class:`ImageWriter` takes the image in chunks into ``incoming.tar``; ``install()`` unpacks it
into the slot not in use and proves that it imports (a separate interpreter imports its ``app`` and prints
its VERSION), ``activate()`` then points ``current`` at that slot (written aside, then renamed: a power cut
leaves the old pointer or the new one). The unit restarts by exiting with status 75
(``UnixHal.restart_status``); the launcher (the rig's software DUT, a bootloader's part) then runs
``<slot>/dut_firmware``.
"""

import os
import sys

from .contract import UpdateImage

PACKAGE = "dut_firmware"
BLOCK = 512

_CHECK = """import sys
sys.path.insert(0, %r)
from dut_firmware import app, config
f = open(%r, "w")
f.write(config.VERSION)
f.close()
"""


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0o170000 == 0o040000
    except OSError:
        return False


def _rmtree(path):
    if not _is_dir(path):
        if _exists(path):
            os.remove(path)
        return
    for name in os.listdir(path):
        _rmtree(path + "/" + name)
    os.rmdir(path)


def _makedirs(path):
    if path and not _is_dir(path):
        _makedirs(path.rsplit("/", 1)[0] if "/" in path else "")
        os.mkdir(path)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _field(header, start, end):
    raw = header[start:end]
    nul = raw.find(b"\0")
    return (raw if nul < 0 else raw[:nul]).decode()


def _octal(header, start, end):
    text = _field(header, start, end).strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ValueError("not a ustar archive (bad number in a header)") from None


def _entry(header):
    """(path, kind, size) of a ustar header block; ValueError for anything but a plain file or folder."""
    if header[257:262] != b"ustar":
        raise ValueError("not a ustar archive")
    stored = _octal(header, 148, 156)
    if stored != sum(header[:148]) + 8 * 32 + sum(header[156:]):
        raise ValueError("ustar header checksum mismatch")
    name = _field(header, 0, 100)
    prefix = _field(header, 345, 500)
    path = prefix + "/" + name if prefix else name
    kind = header[156:157]
    if kind not in (b"0", b"\0", b"5"):
        raise ValueError("unsupported archive entry %r (type %r): plain files and folders only" % (path, kind))
    parts = [p for p in path.split("/") if p]
    if path.startswith("/") or ".." in parts or not parts or parts[0] != PACKAGE:
        raise ValueError("archive entry %r is not inside %s/" % (path, PACKAGE))
    return "/".join(parts), ("dir" if kind == b"5" else "file"), _octal(header, 124, 136)


def unpack(tar_path, dest):
    """Unpack the ustar archive ``tar_path`` into folder ``dest``; the number of files; ValueError if bad."""
    files = 0
    with open(tar_path, "rb") as f:
        while True:
            header = f.read(BLOCK)
            if len(header) < BLOCK:
                raise ValueError("archive truncated (no end-of-archive blocks)")
            if header == bytes(BLOCK):
                return files
            path, kind, size = _entry(header)
            target = dest + "/" + path
            if kind == "dir":
                _makedirs(target)
                continue
            _makedirs(target.rsplit("/", 1)[0])
            left = size
            with open(target, "wb") as out:
                while left > 0:
                    chunk = f.read(min(left, 4096))
                    if not chunk:
                        raise ValueError("archive truncated inside %r" % path)
                    out.write(chunk)
                    left -= len(chunk)
            files += 1
            pad = (BLOCK - size % BLOCK) % BLOCK
            if pad and len(f.read(pad)) != pad:
                raise ValueError("archive truncated after %r" % path)


class ImageWriter(UpdateImage):
    """One image being received into ``<store>/incoming.tar``, then installed and activated."""

    def __init__(self, store, size):
        if "'" in store or '"' in store:
            raise ValueError("firmware store path has a quote: %r" % store)
        self.store = store
        self.size = size
        self.written = 0
        self.slot = None
        _makedirs(store)
        self.path = store + "/incoming.tar"
        self._f = open(self.path, "wb")

    def write(self, data):
        self.written += len(data)
        if self.written > self.size:
            raise ValueError("image longer than announced (%d bytes)" % self.size)
        self._f.write(data)

    def _close(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    def abort(self):
        """Drop what was received and anything staged; the running firmware stays active."""
        self._close()
        for path in (self.path, self.slot):
            if path:
                try:
                    _rmtree(path)
                except OSError:
                    pass

    def install(self):
        """Unpack into the free slot and import it in a separate interpreter; its VERSION, ValueError if bad."""
        self._close()
        if self.written != self.size:
            raise ValueError("image shorter than announced (%d of %d bytes)" % (self.written, self.size))
        active = _read(self.store + "/current")
        self.slot = self.store + "/" + ("b" if active == "a" else "a")
        _rmtree(self.slot)
        os.mkdir(self.slot)
        if not unpack(self.path, self.slot):
            raise ValueError("the image holds no file")
        if not _exists(self.slot + "/" + PACKAGE + "/main.py"):
            raise ValueError("the image has no %s/main.py" % PACKAGE)
        out = self.slot + "/version.txt"
        script = self.slot + "/check.py"
        with open(script, "w") as f:
            f.write(_CHECK % (self.slot, out))
        status = os.system("'%s' '%s' > '%s/check.log' 2>&1" % (sys.executable, script, self.slot))
        version = _read(out)
        if status != 0 or not version:
            said = (_read(self.slot + "/check.log") or "no output").split("\n")[-2:]   # where, and the error
            raise ValueError("the image does not import: %s" % " ".join(line.strip() for line in said))
        os.remove(self.path)
        return version

    def activate(self):
        """Point ``current`` at the installed slot (written aside, then renamed)."""
        tmp = self.store + "/current.tmp"
        with open(tmp, "w") as f:
            f.write(self.slot.rsplit("/", 1)[1] + "\n")
        os.rename(tmp, self.store + "/current")
