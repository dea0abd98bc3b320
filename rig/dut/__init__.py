"""DUT drivers: the software DUT (the firmware under MicroPython) and a board on a bench."""

from rig.dut.base import Dut, DutError
from rig.dut.bench import BenchDut
from rig.dut.locate import find_firmware_dir, find_micropython
from rig.dut.software import SoftwareDut

__all__ = ["BenchDut", "Dut", "DutError", "SoftwareDut", "find_firmware_dir", "find_micropython"]
