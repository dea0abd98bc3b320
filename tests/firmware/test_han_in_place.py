"""The decoder reads Kaifa values-only lists and Aidon lists in place (kaifa.read_values, aidon.read_array),
without building the A-XDR value tree: what it reads must be what the tree path reads, for every list the
emulator sends and for damaged ones (a byte changed, the list cut short): the same reading, or both refused."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from dut_firmware.han import decoder, dlms
from dut_firmware.han.decoder import _decode_apdu
from rig.emulators import Meter, get_profile

PLAIN_HDLC = ["kaifa-ma304h4", "kaifa-ma304h3e", "kaifa-ma105h2e", "kaifa-ma304t4", "kaifa-ma304t3",
              "kaifa-ma304h4-se", "kaifa-ma304h4d-se", "kaifa-ma105h2e-se", "kaifa-ma304t4-se", "aidon-6534",
              "kamstrup-omnipower"]
LLC = b"\xe6\xe7\x00"


def _apdus(profile: str) -> list[bytes]:
    """The APDUs of ten minutes of the meter's frames across an hour (Lists 1, 2 and the hourly list)."""
    meter = Meter(get_profile(profile), seed=3, start=datetime(2024, 10, 1, 18, 55, 0))
    out = []
    for frame in meter.frames(start=datetime(2024, 10, 1, 18, 55, 0), until=datetime(2024, 10, 1, 19, 5, 0)):
        data = frame.data
        out.append(data[data.index(LLC) + 3:-3])  # the APDU: after the LLC, before the FCS and the flag
    return out


def _tree(apdu: bytes) -> tuple:
    """(kind, list, reading) through the value tree, as the decoder reads every list it has no in-place
    reader for."""
    pos = dlms.body_at(apdu)
    return decoder.decode_tree(apdu, pos, dlms.when_at)[:3]


def _outcome(read, apdu: bytes) -> tuple:
    try:
        return ("ok", *read(apdu)[:3])
    except ValueError:
        return ("refused",)


@pytest.mark.parametrize("profile", PLAIN_HDLC)
def test_in_place_reading_equals_the_tree_on_every_list_and_its_damaged_copies(profile: str) -> None:
    rng = random.Random(profile)
    apdus = _apdus(profile)
    assert apdus
    cases = list(apdus)
    for apdu in apdus:
        for _ in range(150):
            damaged = bytearray(apdu)
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            cases.append(bytes(damaged))
        cases.append(apdu[:rng.randrange(1, len(apdu))])
    decoded = 0
    for apdu in cases:
        tree, in_place = _outcome(_tree, apdu), _outcome(_decode_apdu, apdu)
        assert in_place == tree, apdu.hex()
        decoded += tree[0] == "ok"
    assert decoded >= len(apdus)  # every undamaged list reads, and some damaged ones still do
