"""What every meter profile does the same way: its interval comes from its schedule, its lists name
their fields, and a GS1 meter id is 16 digits."""

from __future__ import annotations


class ListedProfile:
    """Mixin for profile dataclasses that have ``id``, ``schedule`` and ``list_fields``."""

    id: str
    list_fields: dict[int, tuple[str, ...]]

    @property
    def frame_interval_s(self) -> float:
        """Seconds between two frames (any list)."""
        return self.schedule.frame_interval_s  # type: ignore[attr-defined]

    def fields(self, list_no: int) -> tuple[str, ...]:
        """The normalized fields a list carries, besides ``timestamp``."""
        try:
            return self.list_fields[list_no]
        except KeyError:
            raise ValueError(f"{self.id} has no list {list_no}; lists: {sorted(self.list_fields)}") from None


def gs1_meter_id(meter_id: str | None, default: str) -> str:
    """The meter id a list carries: ``default`` when None; a GS1 number of 16 digits."""
    resolved = default if meter_id is None else str(meter_id)
    if len(resolved) != 16 or not resolved.isdigit():
        raise ValueError(f"meter id must be 16 digits, got {resolved!r}")
    return resolved
