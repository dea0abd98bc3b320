"""The HAL contract (dut_firmware/hal/contract.py, checked by hal/conformance.py): the unix HAL conforms on the
real MicroPython unix port and on CPython, with the objects its operations return (a serial port on a real pty,
a multicast socket on loopback, an image writer, the AES block); HALs that break the contract are named for
what they break; the firmware asks ``offers()`` before an optional operation; and outside the HAL no firmware
module imports a device module."""

import ast
import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import dut_firmware
from dut_firmware import config, led
from dut_firmware.hal import conformance, contract
from dut_firmware.hal.unix import UnixHal

FIRMWARE_DIR = Path(dut_firmware.__path__[0])
FIRMWARE_ROOT = str(FIRMWARE_DIR.parent)

SCRIPT = r"""
import json, sys
sys.path.insert(0, %(root)r)
from dut_firmware import config
from dut_firmware.hal import conformance, contract
from dut_firmware.hal.unix import UnixHal

cfg = config.merge(config.DEFAULTS, {"serial": {"device": %(tty)r}, "led": {"events": %(folder)r + "/led.events"}})
hal = UnixHal(cfg)
out = {"hal": conformance.conformance(hal)}

port = hal.open_serial(%(tty)r, 2400, None, False)
out["serial"] = conformance.check(port, contract.SerialPort)
out["line"] = list(port.line)
port.reconfigure(9600, "N")
port.set_request(True)
out["reconfigured"] = [list(port.line), port.request, port.pending()]
port.close()

sock = hal.udp_multicast("224.0.0.251", %(mport)d, "127.0.0.1")
out["multicast"] = conformance.check(sock, contract.Multicast) + ([] if sock.port == %(mport)d else ["port"])
out["multicast_idle"] = sock.recv()
sock.close()

hal.store = %(folder)r + "/firmware"
image = hal.update_begin(10)
out["update"] = conformance.check(image, contract.UpdateImage)
image.abort()
out["aes"] = conformance.check(hal.aes_ecb(bytes(16)), contract.AesBlock)
out["offers"] = [hal.offers(name) for name in contract.Hal.OPTIONAL]


class Stub(contract.Hal):
    pass


stubbed = []
for call in (lambda: Stub().uptime_ms(), lambda: Stub().led(1, 2, 3), lambda: Stub().aes_ecb(bytes(16)),
             lambda: contract.SerialPort().pending(), lambda: contract.UpdateImage().install()):
    try:
        call()
    except NotImplementedError:
        stubbed.append(True)
out["stubs_raise"] = stubbed
out["stub_hal"] = conformance.conformance(Stub())
print(json.dumps(out))
"""


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STUB_PROBLEMS = [f"Hal.{name} missing" for name in contract.Hal.REQUIRED] + [
    f"optional {name} neither offered nor declared absent" for name in contract.Hal.OPTIONAL] + [
    "reset_reason is not a str"]


@pytest.mark.parametrize("interpreter", ["micropython", "cpython"])
def test_the_unix_hal_and_what_it_returns_conform(interpreter, tmp_path, micropython):
    exe = micropython if interpreter == "micropython" else sys.executable
    master, slave = os.openpty()
    try:
        script = SCRIPT % {"root": FIRMWARE_ROOT, "tty": os.ttyname(slave), "folder": str(tmp_path),
                           "mport": _free_udp_port()}
        done = subprocess.run([exe, "-c", script], capture_output=True, text=True, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["hal"] == [] and out["serial"] == [] and out["multicast"] == [] and out["update"] == []
    assert out["aes"] == [] and out["offers"] == [True] * len(contract.Hal.OPTIONAL)
    assert out["line"] == [2400, "E"]                               # the default parity at 2400 baud
    assert out["reconfigured"] == [[9600, "N"], True, False]
    assert out["multicast_idle"] is None
    assert out["stubs_raise"] == [True] * 5
    assert out["stub_hal"] == STUB_PROBLEMS
    assert not (tmp_path / "firmware" / "incoming.tar").exists()   # abort() dropped the image


def _cfg(tmp_path):
    return config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null"},
                                          "led": {"events": str(tmp_path / "led.events")}})


class NoExtras(UnixHal):
    """A unix HAL without the optional operations, declared absent (as a board without them would)."""
    absent = contract.Hal.OPTIONAL
    control_lines = contract.Hal.control_lines
    set_network = contract.Hal.set_network
    udp_multicast = contract.Hal.udp_multicast
    update_begin = contract.Hal.update_begin


def test_optional_operations_declared_absent_conform_and_are_not_offered(tmp_path):
    hal = NoExtras(_cfg(tmp_path))
    assert conformance.conformance(hal) == []
    assert [hal.offers(name) for name in contract.Hal.OPTIONAL] == [False] * 4
    assert all(hal.offers(name) for name in contract.Hal.REQUIRED)


def test_a_hal_breaking_the_contract_is_told_what_it_breaks(tmp_path):
    cfg = _cfg(tmp_path)

    class Claims(UnixHal):
        absent = ("udp_multicast", "led")           # offers udp_multicast all the same; led is required

    class Forgets(NoExtras):
        absent = ("set_network",)                   # the other three are neither offered nor declared absent
        mac = contract.Hal.mac

    class Lies(UnixHal):
        reset_reason = 3

        def mac(self):
            return "02:00:AB:CD:EF:01"              # upper-case hex

        def aes_ecb(self, key):
            from dut_firmware.hal.aes import ecb
            return ecb(bytes(reversed(key)) if len(key) == 16 else key)

    class Raises(UnixHal):
        def epoch_ms(self):
            raise OSError("no clock")

    assert conformance.conformance(Claims(cfg)) == [
        "led declared absent but is not optional", "optional udp_multicast both offered and declared absent"]
    assert conformance.conformance(Forgets(cfg)) == ["Hal.mac missing"] + [
        f"optional {n} neither offered nor declared absent" for n in ("control_lines", "udp_multicast",
                                                                         "update_begin")]
    lies = Lies(cfg)
    assert conformance.conformance(lies) == ["reset_reason is not a str"]
    lies.reset_reason = "power-on"
    assert conformance.conformance(lies) == ["mac: '02:00:AB:CD:EF:01'"]
    assert conformance.conformance(Raises(cfg)) == ["raised OSError('no clock')"]


def test_objects_lacking_operations_are_named():
    class HalfPort(contract.SerialPort):
        def close(self):
            pass

    class Plain:                                    # duck-typed, as cryptolib's aes object is
        def encrypt(self, block):
            return block

    assert conformance.check(HalfPort(), contract.SerialPort) == [
        f"SerialPort.{n} missing" for n in ("read", "reconfigure", "set_request", "pending")]
    assert conformance.check(Plain(), contract.AesBlock) == []
    assert conformance.check(object(), contract.Multicast) == [
        f"Multicast.{n} missing" for n in ("recv", "send_group", "send_to", "close")]


def test_the_led_asks_before_using_optional_control_operations(tmp_path):
    async def go():
        hal = NoExtras(_cfg(tmp_path))
        lamp = led.Led(hal)
        done = await asyncio.wait_for(lamp.control_task(), 1)   # no control lines: returns at once
        said = lamp.control("network down")                     # no set_network: the LED still follows
        return done, said, lamp.online, hal.network_up()

    assert asyncio.run(go()) == (None, "network down", False, True)


def test_with_every_operation_offered_the_network_control_reaches_the_hal(tmp_path):
    async def go():
        hal = UnixHal(_cfg(tmp_path))
        lamp = led.Led(hal)
        lamp.control("network down")
        return hal.network_up()

    assert asyncio.run(go()) is False


# Modules that touch a device; outside hal/ the firmware reaches them only through the HAL (contract.py names
# what is platform-neutral and used directly: asyncio streams, open() to read, sys.stdout, random, ...).
DEVICE_MODULES = {"os", "time", "select", "socket", "termios", "tty", "machine", "network", "cryptolib", "gc",
                  "esp", "esp32", "bluetooth"}
# The exceptions, none of them on the unit's own paths: the HTTP server's fallback clock (test fakes hand it
# no HAL), config.save's fallback without a HAL (tests; the unit saves through hal.write_file). The decoder's
# AES when no HAL gave one (``rig decode``, tests) comes from hal/aes.py too.
ALLOWED = {("services/http.py", "time"), ("config.py", "os")}


def _device_imports(path: Path) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        rel = str(path.relative_to(FIRMWARE_DIR))
        found += [(rel, n.split(".")[0]) for n in names if n.split(".")[0] in DEVICE_MODULES]
    return found


def test_outside_the_hal_no_firmware_module_imports_a_device_module():
    modules = [p for p in sorted(FIRMWARE_DIR.rglob("*.py")) if p.relative_to(FIRMWARE_DIR).parts[0] != "hal"]
    assert len(modules) > 30
    found = [hit for path in modules for hit in _device_imports(path)]
    assert [hit for hit in found if hit not in ALLOWED] == []
