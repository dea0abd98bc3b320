"""Recognise meter frames in a byte stream, rig side (sans-IO): count frames live, pick line settings.

:class:`FrameScanner` takes bytes in any chunking and returns each frame it completes as a
:class:`ScannedFrame` (kind, checksums right or not, bytes, error). It knows three framings:

- ``hdlc``: ``7E`` | format ``A0``..``AF`` (S bit, 11-bit length) | addresses | control | HCS | info |
  FCS | ``7E``; HCS and FCS are CRC-16/X.25. The length is trusted only once the HCS checks out.
- ``mbus``: M-Bus long frame ``68 L L 68`` | L bytes (C, A, CI, data) | checksum (sum mod 256) | ``16``.
- ``p1``: an ASCII telegram ``/XXX5ident`` ... ``!`` + 4 hex digits of CRC-16/ARC over ``/`` through
  ``!``, then CR LF. Old DSMR telegrams end ``!`` CR LF with no CRC: ok, ``crc`` False.

Bytes outside frames (noise, a frame cut off at the start of a recording) are skipped and counted in
:attr:`FrameScanner.skipped`. This is not the firmware's decoder: it shares no code with
``dut_firmware/`` and does not decode what the frames carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rig.emulators.crc import crc16_arc, crc16_x25

HDLC_FLAG = 0x7E
MBUS_START, MBUS_STOP = 0x68, 0x16
P1_MAX_LENGTH = 8192  # longest telegram waited for (DSMR telegrams are about 1 kB; E360 with all lists ~2 kB)
_P1_START = re.compile(rb"/[A-Za-z]{3}\d")  # "/" + manufacturer flag + baud-rate digit: "/KFM5", "/LGF5"
_CANDIDATES = re.compile(rb"[\x7e\x68/]")
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")


@dataclass(frozen=True)
class ScannedFrame:
    """One frame found in the stream: ``ok`` when its checksums are right, else ``error`` says why."""

    kind: str  # "hdlc", "mbus" or "p1"
    ok: bool
    data: bytes
    error: str | None = None
    offset: int = 0  # position of its first byte in the stream fed so far
    crc: bool = True  # False for a P1 telegram that carries no CRC (old DSMR)

    @property
    def more(self) -> bool:
        """True for a part of a message that more parts follow: an HDLC frame with its segmentation bit S
        set or carrying a general-block-transfer block (``E0``) that is not the last (block control bit 7
        clear), or a wired M-Bus frame whose CI is a DLMS transport segment number (``00``..``1F``) without
        the FIN bit (``10``). A reader publishes the message once, at its last part."""
        if self.kind == "hdlc":
            if len(self.data) > 1 and self.data[1] & 0x08:
                return True
            header = _hdlc_header_length(bytearray(self.data), len(self.data) - 2)
            info = self.data[header + 3:] if header is not None and header > 0 else b""
            info = info[3:] if info[:3] == b"\xe6\xe7\x00" else info  # the LLC header, when sent
            return len(info) > 1 and info[0] == 0xE0 and not info[1] & 0x80
        if self.kind == "mbus":
            return len(self.data) > 6 and self.data[6] < 0x20 and not self.data[6] & 0x10
        return False


class FrameScanner:
    """Feed bytes, get the frames they complete. ``frames_ok``, ``frames_bad`` and ``skipped`` count."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._shared_flag = False  # _buf[0] is the closing flag of the previous HDLC frame
        self.skipped = 0
        self.frames_ok = 0
        self.frames_bad = 0

    def feed(self, data: bytes) -> list[ScannedFrame]:
        """Take the next bytes of the stream; return the frames completed by them, in order."""
        self._buf += data
        return self._scan(final=False)

    def flush(self) -> list[ScannedFrame]:
        """End of stream: a frame still incomplete is reported as truncated (its header as its bytes)."""
        return self._scan(final=True)

    # -- scanning ---------------------------------------------------------------------------------
    def _scan(self, final: bool) -> list[ScannedFrame]:
        out: list[ScannedFrame] = []
        while self._buf:
            match = _CANDIDATES.search(self._buf)
            if match is None:
                self._skip(len(self._buf))
                break
            if match.start():
                self._skip(match.start())
            first = self._buf[0]
            step = (self._hdlc if first == HDLC_FLAG else self._mbus if first == MBUS_START else self._p1)(final)
            if step is None:  # need more bytes to decide
                break
            if isinstance(step, ScannedFrame):
                out.append(step)
            elif step:
                self._skip(step)  # not a frame start: skip those bytes as noise
        return out

    def _skip(self, n: int) -> None:
        if self._shared_flag:  # the previous frame's closing flag is not noise
            self._consume(1)
            n -= 1
        self.skipped += n
        self._consume(n)

    def _consume(self, n: int) -> None:
        del self._buf[:n]
        self._base += n
        self._shared_flag = False

    def _frame(self, kind: str, n: int, error: str | None = None, *, keep_flag: bool = False,
               crc: bool = True) -> ScannedFrame:
        """Take the first ``n`` buffered bytes as a frame (keeping a closing flag the next frame may share)."""
        frame = ScannedFrame(kind, error is None, bytes(self._buf[:n]), error, self._base, crc)
        self._consume(n - 1 if keep_flag else n)
        self._shared_flag = keep_flag
        if frame.ok:
            self.frames_ok += 1
        else:
            self.frames_bad += 1
        return frame

    def _hdlc(self, final: bool) -> ScannedFrame | int | None:
        buf = self._buf
        if len(buf) < 3:
            return 1 if final else None
        if buf[1] & 0xF0 != 0xA0:  # frame type 3; the segmentation bit S may be set
            return 1
        length = ((buf[1] & 0x07) << 8) | buf[2]  # bytes between the flags
        header = _hdlc_header_length(buf, length)  # format + addresses + control
        if header is None:
            return 1
        if header < 0:
            return 1 if final else None
        has_info = length > header + 2
        if has_info:
            if len(buf) < header + 3:
                return 1 if final else None
            hcs = int.from_bytes(buf[1 + header:3 + header], "little")
            if hcs != crc16_x25(bytes(buf[1:1 + header])):
                return self._frame("hdlc", header + 3, "hcs mismatch: the length cannot be trusted")
        certain = header + 3 if has_info else header + 1  # flag, header and HCS: the rest rests on the length
        if len(buf) < length + 2:
            if final:
                return self._frame("hdlc", certain, f"truncated: the stream ends {length + 2 - len(buf)} bytes "
                                                    "before the frame does")
            return None
        if buf[length + 1] != HDLC_FLAG:
            return self._frame("hdlc", certain, f"no closing flag after {length} bytes (frame cut short or "
                                                "length wrong)")
        fcs = int.from_bytes(buf[length - 1:length + 1], "little")
        if fcs != crc16_x25(bytes(buf[1:length - 1])):
            return self._frame("hdlc", length + 2, "fcs mismatch", keep_flag=True)
        return self._frame("hdlc", length + 2, keep_flag=True)

    def _mbus(self, final: bool) -> ScannedFrame | int | None:
        buf = self._buf
        if len(buf) < 4:
            return 1 if final else None
        length = buf[1]
        if buf[2] != length or buf[3] != MBUS_START or length < 3:
            return 1
        if len(buf) < length + 6:
            if final:
                return self._frame("mbus", 4, f"truncated: the stream ends {length + 6 - len(buf)} bytes before "
                                              "the frame does")
            return None
        if buf[length + 5] != MBUS_STOP:
            return self._frame("mbus", 4, f"no stop byte 16 after {length} bytes (frame cut short or length wrong)")
        if sum(buf[4:4 + length]) & 0xFF != buf[4 + length]:
            return self._frame("mbus", length + 6, "checksum mismatch")
        return self._frame("mbus", length + 6)

    def _p1(self, final: bool) -> ScannedFrame | int | None:
        buf = self._buf
        if len(buf) < 5:
            return 1 if final else None
        if not _P1_START.match(buf):
            return 1
        end = buf.find(b"!", 5)
        following = _P1_START.search(buf, 1, end if end >= 0 else min(len(buf), P1_MAX_LENGTH))
        if following is not None:  # a new telegram begins before this one ended
            return self._frame("p1", following.start(), "truncated: a new telegram starts before '!'")
        if end < 0:
            if len(buf) >= P1_MAX_LENGTH or final:
                first_line = buf.find(b"\n") + 1 or len(buf)
                why = "truncated: the stream ends before '!'" if final else f"no '!' within {P1_MAX_LENGTH} bytes"
                return self._frame("p1", first_line, why)
            return None
        tail = bytes(buf[end + 1:end + 7])
        if tail[:2] == b"\r\n":
            return self._frame("p1", end + 3, crc=False)
        if len(tail) < 6 and not final:
            return None
        digits = tail[:4]
        if len(digits) < 4 or not all(c in _HEX_DIGITS for c in digits):
            return self._frame("p1", end + 1, f"no CRC after '!' (got {digits!r})")
        n = end + 5 + (2 if tail[4:6] == b"\r\n" else 0)
        expected = crc16_arc(bytes(buf[:end + 1]))
        if int(digits, 16) != expected:
            return self._frame("p1", n, f"crc mismatch: the telegram says {digits.decode()}, its bytes give "
                                        f"{expected:04X}")
        return self._frame("p1", n)


def _hdlc_header_length(buf: bytearray, length: int) -> int | None:
    """Bytes of format, addresses and control of the frame at ``buf[0]``; None if that is no frame
    header, -1 when more bytes are needed to tell."""
    pos = 3  # the first byte of the destination address
    for _ in range(2):  # destination, then source: each ends on the byte whose LSB is 1 (1 to 4 bytes)
        for _ in range(4):
            if pos >= len(buf):
                return -1
            pos += 1
            if buf[pos - 1] & 1:
                break
        else:
            return None
    header = pos  # buf[1:pos + 1] is format (2) + addresses + control
    if length < header + 2:  # the FCS must fit too
        return None
    return header
