"""The normalized reading: one dict per meter message, in SI units (see docs/reading.md).

Every boundary of the rig speaks it: the emulator's statement of what it sent, the firmware decoder's
output, each probe's view of the DUT, and the reports. A value the message does not carry is absent or
``None``, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Reading = dict[str, Any]

# field -> unit; the order is the order reports print them in.
FIELDS: dict[str, str] = {
    "meter_id": "",
    "meter_type": "",
    "list_version": "",
    "timestamp": "",
    "p_import_w": "W",
    "p_export_w": "W",
    "q_import_var": "var",
    "q_export_var": "var",
    "i_l1_a": "A",
    "i_l2_a": "A",
    "i_l3_a": "A",
    "u_l1_v": "V",
    "u_l2_v": "V",
    "u_l3_v": "V",
    "e_import_wh": "Wh",
    "e_export_wh": "Wh",
    "r_import_varh": "varh",
    "r_export_varh": "varh",
}
for _phase in (1, 2, 3):
    for _dir in ("import", "export"):
        FIELDS[f"p_l{_phase}_{_dir}_w"] = "W"
        FIELDS[f"q_l{_phase}_{_dir}_var"] = "var"

# Derived for comparison only: what an interface publishes that no single meter field is.
DERIVED_FIELDS: dict[str, str] = {"p_net_w": "W"}  # active power import - export (Modbus)

TEXT_FIELDS = frozenset({"meter_id", "meter_type", "list_version", "timestamp"})


@dataclass(frozen=True)
class Mismatch:
    """One field whose published value differs from what the meter sent."""

    field: str
    expected: Any
    actual: Any
    tolerance: float

    @property
    def unit(self) -> str:
        return FIELDS.get(self.field) or DERIVED_FIELDS.get(self.field, "")

    def __str__(self) -> str:
        tol = f" (tolerance {self.tolerance:g} {self.unit})" if self.tolerance else ""
        return f"{self.field}: sent {self.expected!r}, published {self.actual!r}{tol}"

    def as_dict(self) -> dict[str, Any]:
        """``field``, ``sent``, ``published``, ``tolerance`` and ``unit``, for JSON."""
        return {"field": self.field, "sent": self.expected, "published": self.actual,
                "tolerance": self.tolerance, "unit": self.unit}


def compare(
    expected: Reading,
    actual: Reading,
    tolerances: Mapping[str, float] | None = None,
    fields: list[str] | None = None,
) -> list[Mismatch]:
    """Compare ``actual`` against ``expected`` on ``fields`` (default: every field of ``expected``).

    Numbers match when they differ by at most the field's tolerance (plus a rounding epsilon); text
    matches exactly; ``None`` matches only ``None`` or an absent field. A field of ``fields`` that the
    interface cannot carry must simply not be listed.
    """
    tolerances = tolerances or {}
    names = fields if fields is not None else list(expected)
    out: list[Mismatch] = []
    for name in names:
        want = expected.get(name)
        got = actual.get(name)
        tol = tolerances.get(name, 0.0)
        if want is None or got is None:
            if (want is None) != (got is None):
                out.append(Mismatch(name, want, got, tol))
            continue
        if name in TEXT_FIELDS or isinstance(want, str) or isinstance(got, str):
            if str(want) != str(got):
                out.append(Mismatch(name, want, got, tol))
            continue
        if not math.isclose(float(want), float(got), rel_tol=0.0, abs_tol=tol + 1e-9):
            out.append(Mismatch(name, want, got, tol))
    return out


def format_reading(reading: Reading) -> str:
    """A one-line human view of a reading: ``p_import_w=5056 W u_l1_v=235.6 V ...``."""
    parts = []
    for name, unit in FIELDS.items():
        if reading.get(name) is not None:
            value = reading[name]
            parts.append(f"{name}={value}{(' ' + unit) if unit else ''}")
    return " ".join(parts)
