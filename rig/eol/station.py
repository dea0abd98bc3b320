"""The end-of-line station: its slots run units at once, each unit through the sequence (rig/eol/unit.py),
one record per unit, stored in the results store as it is judged.

Serial numbers come from a :class:`SerialSource`: lines (a file, or standard input, where a barcode
scanner types each as a line), an operator prompt, or numbers counted up from the bench's first one.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from rig.bench import Bench, BenchError
from rig.emulators import get_profile
from rig.eol.led import SlotLed, StationCamera, skip_reason
from rig.eol.sequence import UnitFault
from rig.eol.unit import Slot, Station, run_unit
from rig.instruments.sim_supply import SimSupply, SupplyState
from rig.instruments.supply import Supply
from rig.record import Record
from rig.runclock import RunClock
from rig.session import open_meter_link, start_broker


def next_serial(serial: str) -> str:
    """The serial number after ``serial``: its last run of digits counted up, width kept (EOL-0009 -> EOL-0010)."""
    m = re.search(r"(\d+)(\D*)$", serial)
    if m is None:
        return serial + "-2"
    digits = m.group(1)
    return serial[:m.start(1)] + str(int(digits) + 1).zfill(len(digits)) + m.group(2)


class SerialSource:
    """The serial numbers of the units, one per call of :meth:`next` (thread-safe; None: no more units).

    ``lines``: typed or scanned serials (a blank line takes the next counted one; ``q`` stops); without
    them, ``prompt`` (slot number -> the operator's line) asks for each; without either, numbers are
    counted up from ``first``. ``units`` caps how many units run.
    """

    def __init__(self, first: str, units: int | None = None, lines: Iterator[str] | None = None,
                 prompt: Callable[[int], str | None] | None = None) -> None:
        if units is not None and units < 1:
            raise ValueError(f"units must be at least 1, got {units}")
        self._counted = first
        self._units = units
        self._lines = lines
        self._prompt = prompt
        self._given = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def next(self, slot: int) -> str | None:
        with self._lock:
            if self._units is not None and self._given >= self._units:
                return None
            if self._units == 0:
                return None
            if self._lines is not None or self._prompt is not None:
                text = next(self._lines, None) if self._lines is not None else self._prompt(slot)  # type: ignore[misc]
                if text is None or text.strip().lower() in ("q", "quit"):
                    self._units = self._given
                    return None
                serial = text.strip() or self._count()
            elif self._units is None:
                return None
            else:
                serial = self._count()
            if any(c.isspace() or c in "+#/" for c in serial):
                raise ValueError(f"serial number {serial!r}: no spaces, slashes or MQTT wildcards (+ #) please")
            if serial in self._seen:
                raise ValueError(f"serial number {serial} was scanned twice in this run")
            self._seen.add(serial)
            self._given += 1
            return serial

    def stop(self) -> None:
        """No further units (without the lock: a prompt may hold it, waiting for the operator)."""
        self._units = 0

    def _count(self) -> str:
        serial = self._counted
        while serial in self._seen:
            serial = next_serial(serial)
        self._counted = next_serial(serial)
        return serial


def slots_of(bench: Bench, count: int | None) -> list[dict]:
    """The first ``count`` slots of the bench's ``[[eol.slot]]`` (one on channel 1 when it names none)."""
    slots = list(bench.eol.get("slot") or [{"channel": 1, "link": "sim", "camera_roi": None}])
    if count is not None:
        if not 1 <= count <= len(slots):
            raise BenchError(f"{bench.path}: --slots {count}: the bench has {len(slots)} slot(s) ([[eol.slot]])")
        slots = slots[:count]
    return slots


def run_station(bench: Bench, run_dir: Path, serials: SerialSource, slots: int | None = None,
                faults: dict[str, UnitFault] | None = None, db_url: str | None = None,
                on_record: Callable[[Record], None] | None = None,
                on_start: Callable[[int, str], None] | None = None,
                supply_state: SupplyState | None = None) -> list[Record]:
    """Run units through the station until ``serials`` runs out; every record (in the order judged) is saved
    to ``db_url`` (when given) and ``run_dir/SLOT-SERIAL/record.json``, and passed to ``on_record``.

    The bench's ``[eol] supply`` is ``"sim"`` (a simulated supply started here) or the VISA resource string
    of a supply; software units need a simulated one to power them: a resource string then names one served
    elsewhere, whose ``supply_state`` is given."""
    if not bench.is_software:
        raise BenchError(f"{bench.path}: the station powers software DUTs only so far ([dut] kind = 'software')")
    specs = slots_of(bench, slots)
    faults = faults or {}
    resource = str(bench.eol.get("supply") or "sim")
    if resource != "sim" and supply_state is None:
        raise BenchError(f"{bench.path}: [eol] supply = {resource!r}: software units are powered by a simulated "
                         "supply; use supply = 'sim'")
    run_dir.mkdir(parents=True, exist_ok=True)
    _freeze_firmware()
    clock = RunClock()
    profile = get_profile(bench.profile)
    speed = float(bench.eol["speed"])
    records: list[Record] = []
    lock = threading.Lock()
    problems: list[BaseException] = []
    with ExitStack() as stack:
        broker, mosquitto = start_broker(bench, run_dir, clock)
        if mosquitto is not None:
            stack.callback(mosquitto.stop)
        sim = supply_state
        if resource == "sim":
            sim = SupplyState(channels=max(int(s["channel"]) for s in specs))
            resource = stack.enter_context(SimSupply(sim)).resource
        supply = stack.enter_context(Supply(resource))
        station = Station(bench, supply, sim, broker, run_dir, faults, clock)
        units: list[Slot] = []
        camera = None  # the station's one camera, every slot its region of the view
        if skip_reason(bench) is None:
            camera = StationCamera(bench.led, len(bench.eol.get("slot") or specs), stack)
        for n, spec in enumerate(specs, start=1):
            slot_dir = run_dir / f"slot{n}"
            slot_dir.mkdir(exist_ok=True)
            link = open_meter_link(replace(bench, link=spec.get("link") or "sim"), profile.line, speed, slot_dir,
                                   meter=profile.id, clock=clock)
            stack.callback(link.close)
            units.append(Slot(n, int(spec["channel"]), link, dict(spec)))
            if camera is not None:
                units[-1].led = SlotLed(bench.led, spec, slot_dir, stack, camera, n)

        def work(slot: Slot) -> None:
            try:
                while (serial := serials.next(slot.number)) is not None:
                    if on_start is not None:
                        on_start(slot.number, serial)
                    record = run_unit(station, slot, serial)
                    Path(record.links["run_dir"], "record.json").write_text(json.dumps(record.as_dict(), indent=1))
                    with lock:
                        if db_url:
                            from rig.results.store import save_record

                            save_record(record.as_dict(), db_url)
                        records.append(record)
                        if on_record is not None:
                            on_record(record)
            except BaseException as exc:  # a bad serial, the supply gone: the other slots finish their unit
                problems.append(exc)
                serials.stop()

        threads = [threading.Thread(target=work, args=(slot,), name=f"slot {slot.number}") for slot in units]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # Ctrl-C: no further unit; the supply goes off as the stack unwinds
            serials.stop()
            raise
    if problems:
        raise problems[0]
    return records


def _freeze_firmware() -> None:
    """Compile the firmware to bytecode once, before any unit boots (a unit's boot time is its own)."""
    from rig.dut.freeze import FreezeError, freeze
    from rig.dut.locate import find_firmware_dir

    try:
        freeze(find_firmware_dir())
    except FreezeError:
        pass  # each unit's start says why
