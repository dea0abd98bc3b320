"""Serial line settings: what a meter sends on and what a link must reproduce."""

from __future__ import annotations

from dataclasses import dataclass


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
