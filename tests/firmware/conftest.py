"""Put dut_firmware/ itself on sys.path, once, for every test under tests/firmware.

The firmware's top-level modules import each other by top-level names (``import tz``, ``import message``,
``from services.http import HttpServer``, ``from han.decoder import Decoder``), because MicroPython runs
``main.py`` from dut_firmware/ with that directory as its import root. Tests that import those modules
in-process (``import config``, ``import state``, ``from services import modbus``...) therefore need the
directory on the path, not just the repository root (which only gives ``dut_firmware.han`` and friends).

The directory is APPENDED, not prepended: amshan (the emulator tests' cross-check decoder) installs a
top-level package also named ``han``, and prepending would shadow it for every later test depending on
the collection order. No other firmware top-level name exists elsewhere on the path. The firmware's own
decoder is imported in-process as ``dut_firmware.han``; under MicroPython (subprocesses) the firmware
directory is the import root as on the device.
"""

import sys

import dut_firmware

FIRMWARE_DIR = dut_firmware.__path__[0]

if FIRMWARE_DIR not in sys.path:
    sys.path.append(FIRMWARE_DIR)
