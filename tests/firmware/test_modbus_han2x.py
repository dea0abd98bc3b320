"""The han2x register map, FC 06/16 and the exception codes of services/modbus.py (sans-IO, in-process),
the same functions on the real MicroPython interpreter, and the map the rig's probe reads (one table)."""

import json
import struct
import subprocess

import pytest
from han_testdata import MILLI, fw_reading

from dut_firmware import config
from dut_firmware.services import modbus
from rig.probes.modbus import HAN2X_COUNT, HAN2X_REGISTERS, decode_han2x

# A Kaifa List 3 (values from `rig frames --meter kaifa-ma304h4 --list 3`), and as the decoder normalizes it
LIST3_SI = {"timestamp": "2026-11-30T06:00:10", "p_import_w": 2102, "p_export_w": 0, "q_import_var": 0,
            "q_export_var": 719, "i_l1_a": 3.408, "i_l2_a": 2.092, "i_l3_a": 4.016, "u_l1_v": 237.3,
            "u_l2_v": 232.6, "u_l3_v": 231.3, "e_import_wh": 236405494, "e_export_wh": 0,
            "r_import_varh": 995406, "r_export_varh": 81293836}
LIST3 = fw_reading(LIST3_SI)


def words(n):
    return [(n >> 16) & 0xFFFF, n & 0xFFFF]


def adu(fc, *fields, unit=1, tid=7, fmt=">HH"):
    pdu = bytes((fc,)) + struct.pack(fmt, *fields)
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def write16(addr, values, count=None, nbytes=None):
    count = len(values) if count is None else count
    nbytes = 2 * len(values) if nbytes is None else nbytes
    pdu = struct.pack(">BHHB", 16, addr, count, nbytes) + b"".join(struct.pack(">H", v) for v in values)
    return struct.pack(">HHHB", 9, 0, len(pdu) + 1, 1) + pdu


def test_han2x_registers_of_a_list3():
    regs = modbus.han2x_registers(LIST3, 1000, 7_300_000, "1.2.3")
    assert len(regs) == modbus.HAN2X_SIZE == HAN2X_COUNT == 51
    assert regs[0:2] == words(2102) and regs[2:4] == [0, 0] and regs[6:8] == words(719)
    assert regs[8:14] == words(3408) + words(2092) + words(4016)          # mA
    assert regs[14:20] == words(2373) + words(2326) + words(2313)         # 0.1 V
    assert regs[20:22] == words(236405494) and regs[26:28] == words(81293836)  # Wh, varh
    assert regs[28:36] == [0xFFFF] * 8                                    # no estimate yet: unavailable
    assert regs[36:42] == [2026, 11, 30, 6, 0, 10]                        # the meter clock
    assert regs[42] == 10203 and regs[43] == 0xFFFF                       # version; no temperature sensor
    assert regs[44:47] == [0xFFFF] * 3                                    # reserved
    assert regs[47] == 2                                                  # 7300 s of uptime: 2 h
    assert regs[48:50] == words(1000) and regs[50] == 0xFFFF


def test_han2x_unavailable_and_signed_current():
    regs = modbus.han2x_registers({"i_l1_ma": -1500}, 1000, 0, "0.1.0")
    assert regs[8:10] == words(-1500 & 0xFFFFFFFF)
    assert regs[10:12] == [0x8000, 0]                                     # int32 unavailable
    assert regs[0:2] == [0xFFFF, 0xFFFF] and regs[36] == 0xFFFF and regs[42] == 100
    assert modbus.han2x_registers({"e_import_wh": 2 ** 40}, 1000, 0, "0.1.0")[20:22] == words(0xFFFFFFFE)


def test_scale_factor_applies_to_powers_currents_and_energies_only():
    regs = modbus.han2x_registers(LIST3, 2500, 0, "0.1.0")
    assert regs[0:2] == words(5255) and regs[8:10] == words(8520) and regs[20:22] == words(591013735)
    assert regs[14:16] == words(2373)                                     # voltages are not scaled
    assert regs[48:50] == words(2500)


def test_probe_table_is_the_firmware_table():
    """The rig's probe reads the map from its own data: both tables must say the same."""
    fw = {addr: (kind, exp) for addr, _source, kind, exp, _scaled in modbus.HAN2X_MAP}
    probe = {r.address: r for r in HAN2X_REGISTERS}
    assert sorted(fw) == sorted(probe)
    for addr, (kind, exp) in fw.items():
        assert probe[addr].kind == {"u32": "uint32", "i32": "int32", "u16": "uint16"}[kind]
        if probe[addr].unit in ("A", "V"):      # the fields hold mA, mV: a register step of 10**-exp of them
            assert probe[addr].step == pytest.approx(0.001 * 10 ** -exp)
    for addr, source, _kind, _factor, _scaled in modbus.HAN2X_MAP:
        if not source.startswith("clock:") and source not in ("version", "temperature", "scale"):
            assert MILLI.get(probe[addr].name, probe[addr].name) == source     # the probe's SI name
    assert [r.address for r in HAN2X_REGISTERS if r.writable] == [modbus.HAN2X_WRITABLE[0]]
    decoded = decode_han2x(modbus.han2x_registers(LIST3, 1000, 3_600_000, "0.1.0"))
    for key in ("p_import_w", "q_export_var", "i_l1_a", "u_l3_v", "e_import_wh", "r_export_varh", "timestamp"):
        assert decoded[key] == LIST3_SI[key], key
    assert decoded["firmware"] == "0.1.0" and decoded["uptime_h"] == 1 and decoded["scale"] == 1000


@pytest.mark.parametrize("request_adu,code", [
    (adu(3, 0, 52), 2), (adu(3, 50, 2), 2), (adu(4, 51, 1), 2),           # past the end of the map
    (adu(3, 0, 0), 3), (adu(3, 0, 126), 3),                               # quantity
    (adu(6, 0, 5), 2), (adu(6, 47, 1), 2), (adu(6, 51, 1), 2),            # read-only, outside
    (adu(6, 49, 5), 3), (adu(6, 48, 0x7FFF), 3),                          # scale out of 10..1000000
    (write16(48, words(9)), 3), (write16(48, words(1000001)), 3),
    (write16(47, [0, 0, 1000]), 2), (write16(49, [1000, 0]), 2),          # beyond the writable pair
    (write16(48, [], count=0, nbytes=0), 3), (write16(48, words(1000), nbytes=3), 3),
    (write16(48, words(1000), count=124), 3),
    (adu(1, 0, 1), 1), (adu(5, 0, 0xFF00), 1), (adu(43, 14, fmt=">H"), 1),
])
def test_han2x_exceptions(request_adu, code):
    regs = modbus.han2x_registers(LIST3)

    def write(addr, values):
        return modbus.plan_write("han2x", addr, values, regs)[0]

    resp = modbus.process_adu(request_adu, 1, regs, write)
    assert resp[7] == request_adu[7] | 0x80 and resp[8] == code


def test_han2x_writes_of_the_scale():
    regs = modbus.han2x_registers(LIST3)
    assert modbus.plan_write("han2x", 48, words(2000), regs) == (0, {"scale": 2000})
    assert modbus.plan_write("han2x", 49, [500], regs) == (0, {"scale": 500})        # low word alone
    assert modbus.plan_write("han2x", 48, [15], regs) == (0, {"scale": 15 << 16 | 1000})
    assert modbus.plan_write("han2x", 48, [16], regs)[0] == 3                        # > 1000000
    assert modbus.plan_write("default", 0, [1], modbus.registers(LIST3))[0] == 2
    done = []

    def write(addr, values):
        code, change = modbus.plan_write("han2x", addr, values, regs)
        done.append(change)
        return code

    req = write16(48, words(10000))
    assert modbus.process_adu(req, 1, regs, write)[7:] == req[7:12]                  # FC 16: address, quantity
    req = adu(6, 49, 750)
    assert modbus.process_adu(req, 1, regs, write)[7:] == req[7:]                    # FC 06: echo
    assert done == [{"scale": 10000}, {"scale": 750}]


def test_default_map_is_read_only_and_unchanged():
    regs = modbus.registers(LIST3)
    assert regs == [2373, 2326, 2313, 341, 209, 402, 0, 2102]
    for req in (adu(6, 0, 1), write16(0, [1, 2])):
        assert modbus.process_adu(req, 1, regs)[7:] == bytes((req[7] | 0x80, 1))


def test_config_validates_map_and_scale():
    cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/x"}})
    assert cfg["modbus"]["map"] == "default" and cfg["modbus"]["scale"] == 1000
    assert config.apply_changes(cfg, {"modbus": {"map": "han2x", "scale": 20}})["modbus"]["map"] == "han2x"
    for bad, why in (({"map": "x"}, "modbus.map"), ({"map": 2}, "modbus.map"), ({"scale": 9}, "modbus.scale"),
                     ({"scale": 1000001}, "modbus.scale"), ({"scale": "1"}, "modbus.scale")):
        with pytest.raises(ValueError, match=why):
            config.apply_changes(cfg, {"modbus": bad})


MP_SCRIPT = r"""
import json, sys
sys.path.insert(0, %r)
from dut_firmware.services import modbus
fields = json.loads(%r)
regs = modbus.han2x_registers(fields, 1000, 3600000, "0.1.0")
import struct
req = bytes.fromhex("000700000006010300000033")
resp = modbus.process_adu(req, 1, regs, lambda a, v: modbus.plan_write("han2x", a, v, regs)[0])
bad = modbus.process_adu(bytes.fromhex("000700000006010300320002"), 1, regs, None)
print(json.dumps({"regs": regs, "resp": resp.hex(), "bad": bad.hex()}))
"""


def test_han2x_map_on_micropython(micropython):
    """The same map computed by the real MicroPython interpreter is the CPython one, byte for byte."""
    fw_dir = modbus.__file__.rsplit("/dut_firmware/", 1)[0]  # the folder holding the package
    out = subprocess.run([micropython, "-c", MP_SCRIPT % (fw_dir, json.dumps(LIST3))], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    got = json.loads(out)
    regs = modbus.han2x_registers(LIST3, 1000, 3600000, "0.1.0")
    assert got["regs"] == regs
    assert bytes.fromhex(got["resp"]) == bytes.fromhex("0007000000690103") + bytes((102,)) + struct.pack(
        ">51H", *regs)
    assert got["bad"] == "00070000000301" + "8302"
