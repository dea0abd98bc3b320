"""Serial line settings: what a meter sends on and what a link must reproduce."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TEXT = re.compile(r"(\d+)[ -]([78])([NEOneo])([12])")


@dataclass(frozen=True)
class LineSettings:
    """Baud rate and character framing of a serial line (e.g. Kaifa HAN: 2400 8E1)."""

    baud: int
    data_bits: int = 8
    parity: str = "E"  # "N", "E" or "O"
    stop_bits: int = 1

    def __post_init__(self) -> None:
        if self.baud <= 0:
            raise ValueError(f"baud rate must be positive, got {self.baud}")
        if self.parity not in ("N", "E", "O"):
            raise ValueError(f"parity must be N, E or O, got {self.parity!r}")
        if self.data_bits not in (7, 8) or self.stop_bits not in (1, 2):
            raise ValueError(f"unsupported framing {self.data_bits}{self.parity}{self.stop_bits}")

    @classmethod
    def parse(cls, text: str) -> LineSettings:
        """``"2400 8E1"`` or ``"2400-8E1"`` -> LineSettings; ValueError for anything else."""
        match = _TEXT.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not line settings like '2400 8E1' or '115200-8N1'")
        baud, data_bits, parity, stop_bits = match.groups()
        return cls(int(baud), int(data_bits), parity.upper(), int(stop_bits))

    @property
    def bits_per_char(self) -> int:
        """Bits on the wire per character: start + data + parity + stop (11 for 8E1)."""
        return 1 + self.data_bits + (0 if self.parity == "N" else 1) + self.stop_bits

    @property
    def char_time_s(self) -> float:
        """Seconds one character occupies the line."""
        return self.bits_per_char / self.baud

    def __str__(self) -> str:
        return f"{self.baud} {self.data_bits}{self.parity}{self.stop_bits}"
