"""SCPI pieces without I/O: command lines parsed, IEEE 488.2 definite-length blocks built and read.

The photodiode instrument's documented subset (the driver uses only these; the simulation answers them):

| command | answer |
|---|---|
| ``*IDN?`` | maker, model, serial, version |
| ``*RST`` | (none) defaults: 2000 Sa/s, 2000 points, idle |
| ``:ACQ:SRAT <Hz>`` / ``:ACQ:SRAT?`` | sample rate |
| ``:ACQ:POIN <n>`` / ``:ACQ:POIN?`` | record length (points per channel) |
| ``:CHAN:COUN?`` | channels: 1 (one photodiode) or 3 (red, green, blue filtered photodiodes) |
| ``:ARM`` | start one record now (a software trigger) |
| ``:ACQ:STAT?`` | ``IDLE``, ``RUN`` or ``DONE`` |
| ``:WAV:SOUR CHAN<n>`` / ``:WAV:SOUR?`` | the channel ``:WAV:DATA?`` reads |
| ``:WAV:XINC?`` | seconds between points |
| ``:WAV:DATA?`` | the record of the source channel: a block of little-endian float32 volts |
| ``:SYST:ERR?`` | ``0,"No error"`` or the oldest error (``-113,"Undefined header; ..."``) |
"""

from __future__ import annotations

from dataclasses import dataclass


class ScpiError(ValueError):
    """A malformed SCPI line or block."""


@dataclass(frozen=True)
class Command:
    header: str  # upper case, without the leading colon and the query mark
    query: bool
    args: tuple[str, ...]


def parse_command(line: str) -> Command:
    """``":acq:srat 2000"`` -> Command("ACQ:SRAT", False, ("2000",))."""
    text = line.strip()
    if not text:
        raise ScpiError("empty command")
    head, _, rest = text.partition(" ")
    query = head.endswith("?")
    header = head.rstrip("?").lstrip(":").upper()
    if not header or any(c.isspace() for c in header):
        raise ScpiError(f"malformed header in {line!r}")
    args = tuple(a.strip() for a in rest.split(",")) if rest.strip() else ()
    return Command(header, query, args)


def ieee_block(payload: bytes) -> bytes:
    """An IEEE 488.2 definite-length block: ``#<digits><length><payload>``."""
    length = str(len(payload)).encode()
    if len(length) > 9:
        raise ScpiError("block too long for a definite-length header")
    return b"#" + str(len(length)).encode() + length + payload


def read_block(data: bytes) -> tuple[bytes, bytes]:
    """(payload, what follows) of a definite-length block at the start of ``data``; ScpiError if incomplete."""
    if len(data) < 2 or data[:1] != b"#" or not data[1:2].isdigit() or data[1:2] == b"0":
        raise ScpiError(f"not a definite-length block: {data[:12]!r}")
    digits = int(data[1:2])
    if len(data) < 2 + digits:
        raise ScpiError("block header cut short")
    length = int(data[2:2 + digits])
    start = 2 + digits
    if len(data) < start + length:
        raise ScpiError(f"block cut short: {len(data) - start} of {length} bytes")
    return data[start:start + length], data[start + length:]
