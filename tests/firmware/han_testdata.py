"""Shared test data for the HAN decoder tests (test_han_*.py). Not a test module.

Independent of the rig's encoders: frames come from ../shared/reference-frames/frames.json and from the
annotated examples of han-protocols.md s.1.5; checksums for crafted frames come from the bitwise
CRC-16/X.25 below, not from the module under test.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIRMWARE_DIR = os.path.join(ROOT, "dut_firmware")
SHARED = os.environ.get("HAN_SHARED_DIR", os.path.join(os.path.dirname(ROOT), "shared"))
FRAMES_JSON = os.path.join(SHARED, "reference-frames", "frames.json")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

READING_FIELDS = {
    "meter_id", "meter_type", "list_version", "timestamp",
    "p_import_w", "p_export_w", "q_import_var", "q_export_var",
    "i_l1_a", "i_l2_a", "i_l3_a", "u_l1_v", "u_l2_v", "u_l3_v",
    "e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh",
}

# han-protocols.md s.1.5: three-phase TN MA304H4, Norway, 2024-10-01, consecutive real frames
ANNOTATED_L1 = (
    "7E A0 27 01 02 01 10 5A 87 E6 E7 00 0F 40 00 00 00 09 0C 07 E8 0A 01 02 13 00 02 FF 80 00 00"
    " 02 01 06 00 00 13 C1 56 F5 7E"
)
ANNOTATED_L2 = (
    "7E A0 78 01 02 01 10 C4 98 E6 E7 00 0F 40 00 00 00 09 0C 07 E8 0A 01 02 13 00 00 FF 80 00 00"
    " 02 0D 09 07 4B 46 4D 5F 30 30 31  09 10 36 39 37 30 36 33 31 34 30 37 32 36 32 39 38 36"
    " 09 07 4D 41 33 30 34 48 34"
    " 06 00 00 13 C0  06 00 00 00 00  06 00 00 00 00  06 00 00 01 D5"
    " 06 00 00 4C DF  06 00 00 05 0C  06 00 00 03 9B"
    " 06 00 00 09 34  06 00 00 09 69  06 00 00 09 59  18 EB 7E"
)
ANNOTATED_L3 = (
    "7E A0 9A 01 02 01 10 AA A5 E6 E7 00 0F 40 00 00 00 09 0C 07 E8 0A 01 02 13 00 0A FF 80 00 00"
    " 02 12 09 07 4B 46 4D 5F 30 30 31 09 10 36 39 37 30 36 33 31 34 30 37 32 36 32 39 38 36"
    " 09 07 4D 41 33 30 34 48 34"
    " 06 00 00 13 C0 06 00 00 00 00 06 00 00 00 00 06 00 00 01 D5 06 00 00 4C DD 06 00 00 05 0E"
    " 06 00 00 03 90"
    " 06 00 00 09 34 06 00 00 09 69 06 00 00 09 59"
    " 09 0C 07 E8 0A 01 02 13 00 0A FF 80 00 00"
    " 06 02 8E 4B 5E  06 00 00 00 00  06 00 97 35 DE  06 00 08 97 2F"
    " FA E5 7E"
)

_COMMON_2024 = {
    "list_version": "KFM_001", "meter_id": "6970631407262986", "meter_type": "MA304H4",
    "p_import_w": 5056, "p_export_w": 0, "q_import_var": 0, "q_export_var": 469,
    "u_l1_v": 235.6, "u_l2_v": 240.9, "u_l3_v": 239.3,
}

# (id, hex, list number, the complete expected reading) as annotated in han-protocols.md s.1.5
ANNOTATED = [
    ("annotated_2024_l1", ANNOTATED_L1, 1,
     {"timestamp": "2024-10-01T19:00:02", "p_import_w": 5057}),
    ("annotated_2024_l2", ANNOTATED_L2, 2,
     dict(_COMMON_2024, timestamp="2024-10-01T19:00:00", i_l1_a=19.679, i_l2_a=1.292, i_l3_a=0.923)),
    ("annotated_2024_l3", ANNOTATED_L3, 3,
     dict(_COMMON_2024, timestamp="2024-10-01T19:00:10", i_l1_a=19.677, i_l2_a=1.294, i_l3_a=0.912,
          e_import_wh=42879838, e_export_wh=0, r_import_varh=9909726, r_export_varh=562991)),
]

# Values the source does not state, read by hand from the frames' bytes (documented per entry)
EXTRA_EXPECTED = {
    # 02 01 06 00 00 10 15 -> P+ 0x1015 = 4117 W; header 07 E6 01 02 07 0E 25 12
    "kaifa_no_gh180_1_l1": {"timestamp": "2022-01-02T14:37:18", "p_import_w": 4117},
    # 02 01 06 00 00 08 E5 -> P+ 0x08E5 = 2277 W; header 07 E7 03 16 03 03 1C 2A
    "kaifa_no_gh493_2_l1": {"timestamp": "2023-03-22T03:28:42", "p_import_w": 2277},
    # frames.json notes: amshan/gurux/dlms_cosem give U1 232.2 V, I1 0.032 A; clock ...FF FF C4 00
    "kaifa_se_gh242_1_obis_l3": {"u_l1_v": 232.2, "i_l1_a": 0.032, "meter_type": "MA304H4",
                                 "timestamp": "2021-03-23T18:50:00+01:00"},
    # uint64 (0x15) energies of the CT meter, all zero on the wire
    "kaifa_se_gh242_4_ct_l3": {"e_export_wh": 0, "r_import_varh": 0, "r_export_varh": 0},
}

# 3-wire IT meters: the wire's U2 placeholder 0 is 'not measured' -> None (architecture.md s.1)
IT_METER_TYPES = ("MA304H3E",)


def unhex(text):
    return bytes.fromhex("".join(text.split()))


def load_frames():
    with open(FRAMES_JSON) as f:
        return json.load(f)["frames"]


def kaifa_frames(kinds=("hdlc", "llc")):
    """Reference frames of Kaifa meters of the given kinds (hdlc, llc)."""
    return [f for f in load_frames() if f["make"] == "Kaifa" and f["kind"] in kinds]


def hdlc_frames():
    """Every HDLC reference frame of any make (the non-Kaifa ones must be reported, not decoded)."""
    return [f for f in load_frames() if f["kind"] == "hdlc"]


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
