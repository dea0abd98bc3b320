import random
from datetime import datetime

import pytest
from han.hdlc import HdlcFrameReader

from rig.emulators import Meter
from rig.emulators.crc import crc16_x25_wire
from rig.emulators.faults import corrupt_fcs, flip_byte, garbage, truncate, with_bad_fcs


@pytest.fixture
def frame():
    return Meter("kaifa-ma304h4", seed=1).frame_at(datetime(2024, 10, 1, 19, 0, 0)).data


def _fcs_ok(data):
    return crc16_x25_wire(data[1:-3]) == data[-3:-1]


def test_corrupt_fcs(frame):
    bad = corrupt_fcs(frame)
    assert _fcs_ok(frame) and not _fcs_ok(bad)
    assert len(bad) == len(frame)
    assert bad[:-3] == frame[:-3] and bad[-1] == 0x7E
    decoded = HdlcFrameReader(use_octet_stuffing=False).read(bad)
    assert len(decoded) == 1 and not decoded[0].is_good_ffc
    with pytest.raises(ValueError):
        corrupt_fcs(frame[:-1])


def test_flip_byte(frame):
    bad = flip_byte(frame, 40)
    assert [i for i in range(len(frame)) if frame[i] != bad[i]] == [40]
    assert not _fcs_ok(bad)
    assert flip_byte(frame, 40, 0x01)[40] == frame[40] ^ 0x01
    with pytest.raises(IndexError):
        flip_byte(frame, len(frame))


def test_truncate(frame):
    cut = truncate(frame, 50)
    assert cut == frame[:50]
    assert len(truncate(frame, 0)) == 0
    with pytest.raises(ValueError):
        truncate(frame, len(frame) + 1)
    # a reader sees no complete frame in a truncated one
    assert HdlcFrameReader(use_octet_stuffing=False).read(cut) == []


def test_garbage_is_seeded():
    a = garbage(64, random.Random(3))
    assert len(a) == 64
    assert a == garbage(64, random.Random(3))
    assert a != garbage(64, random.Random(4))
    assert garbage(0, random.Random(1)) == b""


def test_good_frame_after_garbage_is_still_found(frame):
    stream = garbage(37, random.Random(5)).replace(b"\x7e", b"\x00") + frame
    frames = HdlcFrameReader(use_octet_stuffing=False).read(stream)
    assert [f.is_good_ffc for f in frames] == [True]


def test_with_bad_fcs_marks_the_frame_corrupt_and_keeps_what_it_claimed_to_carry() -> None:
    frame = next(Meter("kaifa-ma304h4").frames(count=1))
    bad = with_bad_fcs(frame)
    assert bad.corrupt and not frame.corrupt
    assert bad.data != frame.data and bad.data[:-3] == frame.data[:-3]
    assert (bad.at, bad.list, bad.reading) == (frame.at, frame.list, frame.reading)
