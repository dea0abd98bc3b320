"""Entry point: ``micropython -m dut_firmware.main CONFIG.json`` from the folder that holds the package."""

from .app import run

run()
