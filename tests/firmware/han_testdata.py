"""Test data of the HAN decoder tests (test_han_*.py) beyond tests/spec_frames.py. Not a test module.

Independent of the rig's encoders: frames come from the capture library captures/ (the root fixture
``reference_frames``) and from the annotated 2024-10-01 frames of a Kaifa MA304H4 (tests/spec_frames.py);
checksums for crafted frames come from the bitwise CRC-16/X.25 below, not from the module under test.
"""

from decimal import Decimal

from dut_firmware.han.decoder import COUNTERS, Decoder
from tests.spec_frames import LIST1_HEX, LIST1_READING, LIST2_HEX, LIST2_READING, LIST3_HEX, LIST3_READING

READING_FIELDS = {
    "meter_id", "meter_type", "list_version", "timestamp",
    "p_import_w", "p_export_w", "q_import_var", "q_export_var",
    "i_l1_ma", "i_l2_ma", "i_l3_ma", "u_l1_mv", "u_l2_mv", "u_l3_mv",
    "e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh",
}

# SI fields (the rig's reading, the annotations) -> the firmware's milli-unit fields
MILLI = {f"i_l{k}_a": f"i_l{k}_ma" for k in (1, 2, 3)}
MILLI.update({f"u_l{k}_v": f"u_l{k}_mv" for k in (1, 2, 3)})


def fw_reading(reading):
    """An SI reading (the rig's normalized reading, an annotation) in the firmware's units: A and V become
    int mA and mV, exactly (a value with more than 3 decimals is an error of the test data); the rest stays."""
    out = {}
    for name, value in reading.items():
        if name in MILLI:
            name = MILLI[name]
            if value is not None:
                milli = Decimal(str(value)) * 1000
                if milli != milli.to_integral_value():
                    raise ValueError(f"{name} = {value!r} is finer than the firmware's milli unit")
                value = int(milli)
        out[name] = value
    return out

# (id, hex, list number, the complete expected reading) as annotated in han-protocols.md s.1.5
ANNOTATED = [
    ("annotated_2024_l1", LIST1_HEX, 1, LIST1_READING),
    ("annotated_2024_l2", LIST2_HEX, 2, LIST2_READING),
    ("annotated_2024_l3", LIST3_HEX, 3, LIST3_READING),
]

# Values the source does not state, read by hand from the frames' bytes (documented per entry)
EXTRA_EXPECTED = {
    # 02 01 06 00 00 10 15 -> P+ 0x1015 = 4117 W; header 07 E6 01 02 07 0E 25 12
    "kaifa_no_gh180_1_l1": {"timestamp": "2022-01-02T14:37:18", "p_import_w": 4117},
    # 02 01 06 00 00 08 E5 -> P+ 0x08E5 = 2277 W; header 07 E7 03 16 03 03 1C 2A
    "kaifa_no_gh493_2_l1": {"timestamp": "2023-03-22T03:28:42", "p_import_w": 2277},
    # frames.json notes: amshan/gurux/dlms_cosem give U1 232.2 V, I1 0.032 A; clock ...FF FF C4 00
    "kaifa_se_gh242_1_obis_l3": {"u_l1_mv": 232200, "i_l1_ma": 32, "meter_type": "MA304H4",
                                 "timestamp": "2021-03-23T18:50:00+01:00"},
    # uint64 (0x15) energies of the CT meter, all zero on the wire
    "kaifa_se_gh242_4_ct_l3": {"e_export_wh": 0, "r_import_varh": 0, "r_export_varh": 0},
}

# 3-wire IT meters: the wire's U2 placeholder 0 is 'not measured' -> None (architecture.md s.1)
IT_METER_TYPES = ("MA304H3E",)


def kaifa_frames(frames, kinds=("hdlc", "llc")):
    """The reference frames (``frames``: the ``reference_frames`` fixture) of Kaifa meters of these kinds."""
    return [f for f in frames if f["make"] == "Kaifa" and f["kind"] in kinds]


def hdlc_frames(frames):
    """Every HDLC reference frame of any make (the non-Kaifa ones must be reported, not decoded)."""
    return [f for f in frames if f["kind"] == "hdlc"]


def crc_x25(data):
    """Bitwise CRC-16/X.25, independent of dut_firmware.han.crc."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def _le(crc):
    return bytes([crc & 0xFF, crc >> 8])


def build_hdlc(info, address=b"\x01\x02\x01", control=0x10, segmented=False, length=None):
    """A type-3 HDLC frame around info with correct HCS and FCS (length overridable for tests)."""
    body_len = 2 + len(address) + 1 + 2 + len(info) + 2
    if length is None:
        length = body_len
    fmt = 0xA000 | (0x0800 if segmented else 0) | length
    header = bytes([fmt >> 8, fmt & 0xFF]) + address + bytes([control])
    head = header + _le(crc_x25(header)) + info
    return b"\x7e" + head + _le(crc_x25(head)) + b"\x7e"


def info_of(frame):
    """The information field of a Kaifa-style frame (DA 1 byte, SA 2 bytes)."""
    return frame[9:-3]


# A test helper, not decoding code: it only drives the decoder under test.
def run(data, chunks=None, decoder=None):
    """Feed data (whole, or in the given chunk sizes), flush; return (results, counters)."""
    d = decoder or Decoder()
    results = []
    if chunks is None:
        results += d.feed(data)
    else:
        i = 0
        for n in chunks:
            results += d.feed(data[i:i + n])
            i += n
        results += d.feed(data[i:])
    results += d.flush()
    assert sum(d.counters.values()) == len(results)  # nothing is lost, nothing counted twice
    assert set(d.counters) == set(COUNTERS)
    return results, d.counters
