"""Real meter frames and their values, shared by the emulator tests and the firmware tests. Not a test module.

This is test DATA only. The independence rule (docs/architecture.md: the rig is the oracle, the
emulators never import dut_firmware/) forbids sharing decoding or encoding CODE between the two sides,
not the real captured bytes both sides must agree with: keep codecs out of this module.

- ``load_reference_frames()``: the real frames of the capture library (``captures/``, see captures/README.md),
  as one dict per frame with the keys of its capture header plus ``data_hex`` (or ``data_text`` for P1
  telegrams); tests take them from the root conftest fixture ``reference_frames``, modules that parametrize on
  them at collection time call it directly (the fixture does too: one path, one loader).
- ``LIST1_HEX`` .. ``LIST3_HEX``: the annotated 2024-10-01 frames (captures/kaifa/no-ma304h4-2024-10-01.jsonl).
- ``GH493_*``: a Kaifa MA304H3E (IT) List 2 of the reference frames, for the emulator's IT model.

Import it as ``from tests.spec_frames import ...`` (the repository root is on ``sys.path`` under
pytest: the root conftest.py puts it there). benchmarks/bench_decode.py keeps its own copy of the
List 2 bytes because it must also run under MicroPython.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
# Header keys of the capture format itself; every other header key is the frame's own metadata.
_FORMAT_KEYS = frozenset({"format", "version", "meter", "line", "started", "reference_index"})


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a capture file, one per non-blank line (the header first)."""
    objects = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.relative_to(ROOT)}:{number}: {exc}") from None
    return objects


def load_reference_frames() -> list[dict]:
    """The reference frames: every capture whose header has a ``reference_index``, in that order.

    Each frame is its header without the format keys, plus the bytes of its chunks as ``data_hex``, or as
    ``data_text`` (UTF-8) for P1 telegrams (``kind`` "p1"). Prefer the ``reference_frames`` fixture in tests.
    """
    indexed = []
    for path in sorted(CAPTURES.glob("*/*.jsonl")):
        header, *chunks = read_jsonl(path)
        if "reference_index" not in header:
            continue
        frame = {key: value for key, value in header.items() if key not in _FORMAT_KEYS}
        data = b"".join(bytes.fromhex(chunk["hex"]) for chunk in chunks)
        if frame["kind"] == "p1":
            frame["data_text"] = data.decode("utf-8")
        else:
            frame["data_hex"] = data.hex()
        indexed.append((header["reference_index"], frame))
    return [frame for _, frame in sorted(indexed, key=lambda item: item[0])]


def unhex(text: str) -> bytes:
    """Bytes of a hex dump with any whitespace (``"7E A0 27 ..."``)."""
    return bytes.fromhex("".join(text.split()))


# -- three-phase TN Kaifa MA304H4, Norway, 2024-10-01, real frames of one live log (amsreader frames/Kaifa-TN-3p.raw;
# captures/kaifa/no-ma304h4-2024-10-01.jsonl). The clock is local wall-clock time, deviation 0x8000.
SPEC_METER_ID = "6970631407262986"
SPEC_IDENTITY = {"list_version": "KFM_001", "meter_id": SPEC_METER_ID, "meter_type": "MA304H4"}

LIST1_HEX = """
7E A0 27 01 02 01 10 5A 87 E6 E7 00 0F 40 00 00 00 09 0C 07 E8 0A 01 02 13 00 02 FF 80 00 00 02 01
06 00 00 13 C1 56 F5 7E
"""
LIST1_AT = datetime(2024, 10, 1, 19, 0, 2)
LIST1_VALUES = {"p_import_w": 5057}

LIST2_HEX = """
7E A0 78 01 02 01 10 C4 98 E6 E7 00 0F 40 00 00 00 09 0C 07 E8 0A 01 02 13 00 00 FF 80 00 00
02 0D 09 07 4B 46 4D 5F 30 30 31  09 10 36 39 37 30 36 33 31 34 30 37 32 36 32 39 38 36
09 07 4D 41 33 30 34 48 34
06 00 00 13 C0  06 00 00 00 00  06 00 00 00 00  06 00 00 01 D5
06 00 00 4C DF  06 00 00 05 0C  06 00 00 03 9B
06 00 00 09 34  06 00 00 09 69  06 00 00 09 59  18 EB 7E
"""
LIST2_AT = datetime(2024, 10, 1, 19, 0, 0)
LIST2_VALUES = {
    "p_import_w": 5056, "p_export_w": 0, "q_import_var": 0, "q_export_var": 469,
    "i_l1_a": 19.679, "i_l2_a": 1.292, "i_l3_a": 0.923,
    "u_l1_v": 235.6, "u_l2_v": 240.9, "u_l3_v": 239.3,
}  # fmt: skip

LIST3_HEX = """
7E A0 9A 01 02 01 10 AA A5 E6 E7 00 0F 40 00 00 00 09 0C 07 E8 0A 01 02 13 00 0A FF 80 00 00
02 12 09 07 4B 46 4D 5F 30 30 31 09 10 36 39 37 30 36 33 31 34 30 37 32 36 32 39 38 36
09 07 4D 41 33 30 34 48 34
06 00 00 13 C0 06 00 00 00 00 06 00 00 00 00 06 00 00 01 D5 06 00 00 4C DD 06 00 00 05 0E 06 00 00 03 90
06 00 00 09 34 06 00 00 09 69 06 00 00 09 59
09 0C 07 E8 0A 01 02 13 00 0A FF 80 00 00
06 02 8E 4B 5E  06 00 00 00 00  06 00 97 35 DE  06 00 08 97 2F
FA E5 7E
"""
LIST3_AT = datetime(2024, 10, 1, 19, 0, 10)
LIST3_VALUES = {
    "p_import_w": 5056, "p_export_w": 0, "q_import_var": 0, "q_export_var": 469,
    "i_l1_a": 19.677, "i_l2_a": 1.294, "i_l3_a": 0.912,
    "u_l1_v": 235.6, "u_l2_v": 240.9, "u_l3_v": 239.3,
    "e_import_wh": 42879838, "e_export_wh": 0, "r_import_varh": 9909726, "r_export_varh": 562991,
}  # fmt: skip

# The complete normalized reading each frame carries (docs/architecture.md 1; List 1: timestamp and P+)
LIST1_READING = {"timestamp": "2024-10-01T19:00:02", **LIST1_VALUES}
LIST2_READING = {"timestamp": "2024-10-01T19:00:00", **SPEC_IDENTITY, **LIST2_VALUES}
LIST3_READING = {"timestamp": "2024-10-01T19:00:10", **SPEC_IDENTITY, **LIST3_VALUES}

# -- Kaifa MA304H3E (IT), amsreader test/payloads/kaifa/gh493-1.hex, 2023-03-22 (Wed) 03:28:50 ----------
# The frame itself is a reference frame (captures/kaifa/) under GH493_ID; these are the values the emulator is given.
GH493_ID = "kaifa_no_gh493_1_l2"
GH493_AT = datetime(2023, 3, 22, 3, 28, 50)
GH493_METER_ID = "6970631409168767"
GH493_VALUES = {
    "p_import_w": 2269, "p_export_w": 0, "q_import_var": 0, "q_export_var": 720,
    "i_l1_a": 7.087, "i_l2_a": 6.896, "i_l3_a": 4.206,
    "u_l1_v": 236.7, "u_l3_v": 236.7,
}  # fmt: skip


# Wire extremes for cross-checks: uint32 maxima, the smallest steps, 6553.6 V (65536 dV).
EXTREME_VALUES = {
    "p_import_w": 4294967295, "p_export_w": 0, "q_import_var": 1, "q_export_var": 65536,
    "i_l1_a": 0.001, "i_l2_a": 0.0, "i_l3_a": 63.999, "u_l1_v": 0.1, "u_l2_v": 259.9, "u_l3_v": 6553.6,
    "e_import_wh": 4294967295, "e_export_wh": 1, "r_import_varh": 0, "r_export_varh": 123456789,
}  # fmt: skip
