"""Every real meter recording in `captures/` that the reader supports, replayed into the DUT: each frame
decoded or counted as the error it is, and the values the recording states shown on every interface."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rig.capture import Capture, read_capture

# The library: $RIG_CAPTURES, else captures/ beside the rig package (a checkout of the project).
CAPTURES = Path(os.environ.get("RIG_CAPTURES", Path(__file__).resolve().parents[2] / "captures"))
# (kind, make) of the recordings the reader firmware reads; the rest wait for their formats
READ_BY_THE_FIRMWARE = {("hdlc", "Kaifa"), ("hdlc", "Aidon"), ("p1", "Landis+Gyr"), ("p1", "Kaifa"),
                        ("mbus", "Kaifa"), ("hdlc", "Landis+Gyr"), ("hdlc", "Kamstrup"), ("hdlc", "Iskraemeco")}


def _library() -> list[Path]:
    return sorted(CAPTURES.rglob("*.jsonl")) if CAPTURES.is_dir() else []


def not_replayed(capture: Capture) -> str | None:
    """Why the reader cannot be judged on this recording, or None when it can."""
    kind, make = capture.meta.get("kind"), capture.meta.get("make")
    if capture.meta.get("encrypted") and not capture.meta.get("key_ek"):
        return "encrypted with a key its source does not publish"
    if kind in ("llc", "apdu"):
        return f"{kind}: bytes without the line framing a meter sends, not a line recording"
    if kind == "ggc-p1":
        return "raw APDUs on P1: the rig's frame scanner, which tells what a reader counts, frames no raw APDU"
    if (kind, make) not in READ_BY_THE_FIRMWARE and capture.meter is None:
        return f"{make} {kind}: a list the reader does not decode yet"
    return None


def _replayable() -> list[Path]:
    return [p for p in _library() if not_replayed(read_capture(p)) is None]


def test_the_library_is_there_and_every_recording_is_accounted_for() -> None:
    paths = _library()
    assert paths, f"no captures under {CAPTURES} (set RIG_CAPTURES to the library)"
    replayed = _replayable()
    assert len(replayed) >= 8, [str(p) for p in replayed]
    for path in paths:
        capture = read_capture(path)
        assert capture.chunks, f"{path}: no bytes"
        assert capture.source, f"{path}: no provenance"


@pytest.mark.parametrize("path", _replayable(), ids=lambda p: p.stem)
def test_recording_is_read_as_a_correct_reader_reads_it(harness, path: Path) -> None:
    capture = read_capture(path)
    keys = {name: capture.meta[field] for name, field in (("key", "key_ek"), ("auth_key", "key_ak"))
            if capture.meta.get(field)}  # an encrypted recording's published keys
    h = harness(speed=4, meter_keys=keys or None)

    result = h.replay(capture)

    h.assert_passed(result)
    assert sum(result.expected_counts.values()) >= 1
