"""Files that survive a power cut on the unix HAL: written aside, synced to the disk, then renamed over.

``write_file(path, text)``: ``path.tmp`` written and synced, renamed to ``path``, then the folder synced, so
a power cut at any point leaves the old file or the new one, never a torn one. CPython syncs with
``os.fsync``; MicroPython's unix port has no ``fsync``, so the coreutils ``sync`` command syncs the file
and its folder (a configuration is saved seldom: the process costs nothing that matters).
"""

import os
import sys


def _folder(path):
    return path.rsplit("/", 1)[0] if "/" in path else "."


def sync(path):
    """Sync ``path`` (a file or folder) to the disk; OSError when that fails."""
    if hasattr(os, "fsync"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    if "'" in path:
        raise OSError("cannot sync a path with a quote: %r" % path)
    if os.system("sync -- '%s'" % path) != 0:
        raise OSError("sync %s failed" % path)


def write_file(path, text):
    """Replace file ``path`` with ``text`` atomically and durably (see the module docstring)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
    sync(tmp)
    os.rename(tmp, path)
    if sys.platform != "darwin":
        sync(_folder(path))
