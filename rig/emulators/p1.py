"""P1 telegrams (IEC 62056-21 mode D data set, DSMR 5.0.2 framing): values -> bytes, sans IO.

A telegram is ``/<ident>`` CRLF, an empty line, one ``<OBIS>(<value>[*<unit>])`` line per object
(CRLF each), then ``!`` and the CRC-16/ARC of every byte from ``/`` through ``!`` as 4 uppercase hex
digits, CRLF. Numbers are zero-padded to a fixed layout: 8.3 prints 2721.126 as ``00002721.126``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rig.emulators.crc import crc16_arc

CRLF = "\r\n"
Value = Decimal | int | float | str
_FORBIDDEN = set("()!/*\r\n")


@dataclass(frozen=True)
class ObisLine:
    """One telegram line: its OBIS code, the digit layout of its value and its unit.

    ``digits`` is the count of integer digits (zero padded) and ``decimals`` the count after the point;
    ``digits=0`` marks a text value printed as given (e.g. the ``0-0:1.0.0`` timestamp).
    """

    obis: str
    digits: int = 0
    decimals: int = 0
    unit: str = ""

    def format_value(self, value: Value) -> str:
        """The text between the parentheses: ``00002721.126*kWh`` for 2721.126 in an 8.3 kWh line.

        ValueError when a number is negative, has more decimals than the layout, or does not fit.
        """
        if not self.digits:
            text = str(value)
            if _FORBIDDEN & set(text) or not text.isascii():
                raise ValueError(f"{self.obis}: {text!r} cannot be sent in a P1 line")
        else:
            text = self._number(value)
        return f"{text}*{self.unit}" if self.unit else text

    def _number(self, value: Value) -> str:
        try:
            number = Decimal(repr(value) if isinstance(value, float) else value)
        except (InvalidOperation, TypeError, ValueError):
            raise ValueError(f"{self.obis}: {value!r} is not a number") from None
        step = Decimal(1).scaleb(-self.decimals)
        if not number.is_finite() or number != number.quantize(step):
            raise ValueError(f"{self.obis}: {value!r} has more than {self.decimals} decimals")
        if number < 0:
            raise ValueError(f"{self.obis}: {value!r} is negative; P1 values here are unsigned")
        number = number.copy_abs()  # no "-0.000"
        width = self.digits + (self.decimals + 1 if self.decimals else 0)
        text = f"{number.quantize(step):0{width}f}"
        if len(text) > width:
            raise ValueError(f"{self.obis}: {value!r} does not fit {self.digits}.{self.decimals} digits")
        return text

    def render(self, value: Value) -> str:
        """The whole line without its CRLF: ``1-0:1.8.0(00002721.126*kWh)``."""
        return f"{self.obis}({self.format_value(value)})"


def encode_telegram(ident: str, lines: Sequence[ObisLine], values: Mapping[str, Value]) -> bytes:
    """The telegram ``/<ident>``, blank line, ``lines`` in order with ``values[line.obis]``, ``!CRC``.

    ValueError naming the OBIS code when a value is missing or does not fit its line.
    """
    if not ident or _FORBIDDEN & set(ident) or not ident.isascii() or not ident.isprintable():
        raise ValueError(f"{ident!r} is not a P1 identification (printable ASCII after '/')")
    text = ["/" + ident + CRLF, CRLF]
    for line in lines:
        if line.obis not in values:
            raise ValueError(f"no value for {line.obis}")
        text.append(line.render(values[line.obis]) + CRLF)
    body = ("".join(text) + "!").encode("ascii")
    return body + f"{crc16_arc(body):04X}{CRLF}".encode("ascii")


def checksum(telegram: bytes) -> int:
    """The CRC-16/ARC a telegram must carry: over every byte from ``/`` through ``!``."""
    start, end = telegram.find(b"/"), telegram.rfind(b"!")
    if start < 0 or end < start:
        raise ValueError("not a P1 telegram: no '/' ... '!'")
    return crc16_arc(telegram[start : end + 1])


def encode_telegram_lines(ident: str, lines: Sequence[tuple[ObisLine, Value]]) -> bytes:
    """The telegram ``/<ident>``, blank line, each ``(line, value)`` in order, ``!CRC``: for telegrams
    whose OBIS codes repeat with different values (Kaifa: ``0-0:96.13.0(3)`` then ``0-0:96.13.0()``).

    ValueError naming the OBIS code when a value does not fit its line.
    """
    if not ident or _FORBIDDEN & set(ident) or not ident.isascii() or not ident.isprintable():
        raise ValueError(f"{ident!r} is not a P1 identification (printable ASCII after '/')")
    text = ["/" + ident + CRLF, CRLF, *(line.render(value) + CRLF for line, value in lines)]
    body = ("".join(text) + "!").encode("ascii")
    return body + f"{crc16_arc(body):04X}{CRLF}".encode("ascii")
