"""Durable file writes on the unix HAL (hal/unix_fs.py), on CPython and on the real MicroPython port (which has
no os.fsync: the file and its folder are synced with the sync command)."""

import subprocess
import sys
from pathlib import Path

import dut_firmware

FIRMWARE_ROOT = str(Path(dut_firmware.__path__[0]).parent)

SCRIPT = r"""
import sys
sys.path.insert(0, %(root)r)
from dut_firmware.hal.unix_fs import write_file
from dut_firmware import config
from dut_firmware.hal.unix import UnixHal
cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null-han"}})
good = %(folder)r + "/config.json"
write_file(good, "old")
config.save(cfg, good, UnixHal(cfg))
saved = config.load(good)
bad = %(folder)r + "/it's.json"
open(bad, "w").write("old")
try:
    write_file(bad, "new")
    refused = None
except OSError as exc:
    refused = str(exc)
print(saved == cfg, open(bad).read(), refused is not None)
"""


def test_a_saved_configuration_replaces_the_file_and_a_failed_sync_leaves_the_old_one(tmp_path, micropython):
    for name, interpreter in (("mp", micropython), ("cp", sys.executable)):
        folder = tmp_path / name
        folder.mkdir()
        done = subprocess.run([interpreter, "-c", SCRIPT % {"root": FIRMWARE_ROOT, "folder": str(folder)}],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        if name == "mp":   # the sync command cannot take a quoted path: refused before the rename
            assert done.stdout.split() == ["True", "old", "True"], done.stdout
        else:              # os.fsync takes any path
            assert done.stdout.split() == ["True", "new", "False"], done.stdout
        assert sorted(p.name for p in folder.iterdir() if p.suffix == ".json") == ["config.json", "it's.json"]
        assert not (folder / "config.json.tmp").exists()
