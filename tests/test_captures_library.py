"""The capture library (captures/): every file is a capture the product reads, and the tests' view of it is exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.capture import read_capture
from rig.emulators import get_profile
from rig.reading import FIELDS
from tests.spec_frames import (
    CAPTURES,
    LIST1_HEX,
    LIST1_READING,
    LIST2_HEX,
    LIST2_READING,
    LIST3_HEX,
    LIST3_READING,
    load_reference_frames,
    unhex,
)

LOCAL = CAPTURES / "runs"  # local recordings, not part of the library (git-ignored)
FILES = sorted(p for p in CAPTURES.rglob("*") if p.is_file() and LOCAL not in p.parents and p.name != "README.md")
MAKES = {"kaifa": "Kaifa", "aidon": "Aidon", "kamstrup": "Kamstrup", "landis-gyr": "Landis+Gyr", "sagemcom": "Sagemcom",
         "iskraemeco": "Iskraemeco"}
LOG_2024 = CAPTURES / "kaifa" / "no-ma304h4-2024-10-01.jsonl"


def _name(path: Path) -> str:
    return str(path.relative_to(CAPTURES))


def test_library_holds_captures_only():
    assert len(FILES) == 33, [_name(p) for p in FILES]
    assert [_name(p) for p in FILES if p.suffix != ".jsonl" or p.parent.parent != CAPTURES] == []
    assert {p.parent.name for p in FILES} == set(MAKES)


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_capture_reads_with_the_product_reader(path):
    capture = read_capture(path)
    assert capture.chunks and capture.data
    assert capture.source, "every capture says where its bytes come from"
    assert capture.meta["make"].startswith(MAKES[path.parent.name])
    assert capture.meta.get("id") == path.stem
    if capture.meter is not None:
        assert get_profile(capture.meter).line == capture.line
    for chunk in capture.chunks:
        if chunk.expect is not None:
            assert chunk.expect and set(chunk.expect) <= set(FIELDS), set(chunk.expect) - set(FIELDS)
            assert not (capture.meta["model"] == "MA304H3E" and chunk.expect.get("u_l2_v") is not None)


def test_every_capture_is_in_the_readme_table():
    readme = (CAPTURES / "README.md").read_text(encoding="utf-8")
    assert [_name(p) for p in FILES if f"]({_name(p)})" not in readme] == []


def test_reference_frames_are_the_captures_bytes():
    frames = load_reference_frames()
    assert len(frames) == 31 and len({f["id"] for f in frames}) == 31
    by_id = {p.stem: p for p in FILES}
    indexes = []
    for frame in frames:
        capture = read_capture(by_id[frame["id"]])
        indexes.append(capture.meta["reference_index"])
        data = frame["data_text"].encode("utf-8") if "data_text" in frame else bytes.fromhex(frame["data_hex"])
        assert data == capture.data, frame["id"]
        assert frame["source"] == capture.source
        meta = {k: v for k, v in capture.meta.items() if k not in ("format", "version", "reference_index")}
        assert meta.items() <= frame.items(), frame["id"]
    assert indexes == list(range(31))
    assert {f["kind"] for f in frames if "data_text" in f} == {"p1"}


def test_annotated_2024_log():
    capture = read_capture(LOG_2024)
    assert capture.meter == "kaifa-ma304h4" and str(capture.line) == "2400 8E1"
    assert "reference_index" not in capture.meta
    expected = [(0.0, LIST2_HEX, 2, LIST2_READING), (2.0, LIST1_HEX, 1, LIST1_READING),
                (10.0, LIST3_HEX, 3, LIST3_READING)]
    assert [(c.t, c.data, c.list, c.expect) for c in capture.chunks] == [
        (t, unhex(text), number, reading) for t, text, number, reading in expected
    ]
    assert capture.duration_s == 10.0
