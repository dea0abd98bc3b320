"""SCPI pieces: command lines parsed, IEEE 488.2 blocks built and read back, bad input refused."""

from __future__ import annotations

import pytest

from rig.instruments.scpi import Command, ScpiError, ieee_block, parse_command, read_block


def test_parse_command() -> None:
    assert parse_command(":acq:srat 2000") == Command("ACQ:SRAT", False, ("2000",))
    assert parse_command("*IDN?") == Command("*IDN", True, ())
    assert parse_command(":WAV:SOUR CHAN2 ") == Command("WAV:SOUR", False, ("CHAN2",))
    with pytest.raises(ScpiError, match="empty"):
        parse_command("   ")


def test_block_round_trip() -> None:
    payload = bytes(range(256)) * 40
    block = ieee_block(payload)
    assert block.startswith(b"#510240")
    assert read_block(block + b"\n") == (payload, b"\n")
    assert ieee_block(b"") == b"#10"


@pytest.mark.parametrize("bad, why", [(b"12", "not a definite"), (b"#0", "not a definite"), (b"#5123", "header cut"),
                                      (b"#15abc", "cut short: 3 of 5")])
def test_bad_blocks(bad: bytes, why: str) -> None:
    with pytest.raises(ScpiError, match=why):
        read_block(bad)
