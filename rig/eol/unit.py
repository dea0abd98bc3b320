"""One unit through the end-of-line sequence (rig/eol/sequence.py) in one slot: power on through the
supply, every step measured and judged, power off. The result is the unit's record (kind "eol")."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rig.bench import Bench, posix_tz
from rig.emulators import Meter, get_profile
from rig.emulators.faults import emissions_from_frames
from rig.engine import stream_and_check
from rig.eol.led import run_led, skip_reason
from rig.eol.sequence import BEFORE_RESET, BUDGETS, FAIL, HOLD_DEVICE_S, PASS, STEPS, Budget, UnitFault, not_default
from rig.instruments.sim_supply import DutLoad, SupplyState
from rig.instruments.supply import Supply
from rig.led.control import send_control
from rig.probes.base import ProbeError
from rig.probes.http import HttpProbe
from rig.probes.modbus import read_once
from rig.record import Measurement, Record, count_measurements, read_dut_identity
from rig.resolution import meter_format
from rig.runclock import RunClock
from rig.session import BrokerAddress

START = datetime(2026, 11, 30, 4, 59, 54)  # meter time of every unit's stream: List 1, then List 2 at :00:00
IDLE_SAMPLES = 8


@dataclass
class Station:
    """What every slot shares: the bench, the supply (a pyvisa session), the simulation behind it when
    the supply is ``sim``, the broker, where records and logs go, and the faulty units to build."""

    bench: Bench
    supply: Supply
    sim: SupplyState | None
    broker: BrokerAddress | None
    run_dir: Path
    faults: dict[str, UnitFault] = field(default_factory=dict)
    clock: RunClock = field(default_factory=RunClock)

    @property
    def settings(self) -> dict[str, Any]:
        return self.bench.eol

    @property
    def budget(self) -> Budget:
        return BUDGETS[self.settings["port"]]

    @property
    def speed(self) -> float:
        return float(self.settings["speed"])


@dataclass
class Slot:
    """One fixture: its number (1..), supply channel, meter line (a pty link the unit reads) and its
    ``[[eol.slot]]`` entry (its LED region and instruments)."""

    number: int
    channel: int
    link: Any
    spec: dict[str, Any] = field(default_factory=dict)
    led: Any = None  # its LED instruments (rig.eol.led.SlotLed), when the bench has them


class _Steps:
    """The measurements of one unit, made step by step."""

    def __init__(self) -> None:
        self.measurements: list[Measurement] = []
        self.skipped: dict[str, str] = {}
        self.errors: list[dict[str, Any]] = []
        self.timing: dict[str, float] = {}

    def add(self, *measurements: Measurement) -> None:
        self.measurements += [m.judge() for m in measurements]

    def run(self, step: str, body: Callable[[], None]) -> bool:
        """Run one step; an error fails the measurements the step had not made yet (False: stop)."""
        began = time.monotonic()
        made = {m.name for m in self.measurements}
        try:
            body()
            return True
        except Exception as exc:  # the unit died, a probe failed, the supply refused: the step fails
            self.errors.append({"interface": None, "outcome": "error", "detail": step, "text": f"{step}: {exc}"})
            names = next(s.measurements for s in STEPS if s.name == step)
            self.add(*(Measurement(n, None, "", expected=1) for n in names if n not in made))
            return False
        finally:
            self.timing[step] = round(time.monotonic() - began, 3)


def run_unit(station: Station, slot: Slot, serial: str) -> Record:
    """Put the unit ``serial`` through the sequence in ``slot``; its record (not yet stored)."""
    from rig.dut.firmware_tree import FirmwareError, directory_build
    from rig.dut.software import SoftwareDut

    began, started = time.monotonic(), datetime.now(UTC)
    bench = dataclasses.replace(station.bench, serial_number=serial)
    fault = station.faults.get(serial)
    workdir = station.run_dir / f"slot{slot.number}-{serial}"
    workdir.mkdir(parents=True, exist_ok=True)
    speed, budget, ch = station.speed, station.budget, slot.channel
    mqtt = ({"host": station.broker.host, "port": station.broker.port, "topic": bench.topic}
            if station.broker is not None and bench.has("mqtt") else None)
    dut = SoftwareDut(workdir, slot.link.device, mqtt=mqtt, modbus_enabled=bench.has("modbus"), clock_scale=speed,
                      serial_number=serial, tz=posix_tz(bench.timezone), clock=station.clock,
                      extra_config=fault.config if fault else None)
    try:
        dut.build = directory_build(dut.firmware_dir).describe()
    except FirmwareError:
        pass
    load = DutLoad(dut, extra_mw=fault.extra_mw if fault else 0.0)
    if station.sim is not None:
        station.sim.attach(ch, load)
    steps, identity = _Steps(), {}
    psu = station.supply

    def power_on() -> None:
        psu.output(False, ch)
        psu.set_voltage(budget.volts, ch)
        limit_ma = station.settings.get("current_limit_ma") or 2 * budget.limit_ma
        psu.set_current_limit(limit_ma / 1000.0, ch)
        psu.output(True, ch)
        boot_s = load.wait_ready(min(dut.ready_timeout, station.settings["boot_limit_ms"] / 1000.0 + 0.5))
        steps.add(Measurement("boot.time", round(boot_s * 1000, 1), "ms", high=station.settings["boot_limit_ms"]))

    def read_identity() -> None:
        identity.update(read_dut_identity(dut.http_url, bench.timezone))
        steps.add(Measurement("serial.read_back", int(identity.get("serial") == serial), "bool", expected=1),
                  Measurement("firmware.version_ok",
                              int(identity.get("firmware") == station.settings["firmware_version"]), "bool",
                              expected=1))

    def idle_current() -> None:
        time.sleep(0.1)
        samples = []
        for _ in range(IDLE_SAMPLES):
            samples.append(psu.measure_current(ch) * 1000)
            time.sleep(0.02)
        steps.add(Measurement("current.idle", round(statistics.median(samples), 3), "mA", high=budget.limit_ma))

    def interfaces() -> None:
        steps.add(*_interfaces(bench, dut, station, slot, workdir))

    def peak_current() -> None:
        steps.add(Measurement("current.peak", round(psu.peak_current(ch) * 1000, 3), "mA", high=budget.limit_ma))

    def led() -> None:
        reason = skip_reason(bench) or (None if slot.led is not None else "the slot's LED instruments are not open")
        if reason is not None:
            steps.skipped.update(dict.fromkeys(next(s.measurements for s in STEPS if s.name == "led"), reason))
            return
        frame = next(Meter(get_profile(bench.profile), seed=1, start=START).frames(start=START, count=1)).data
        steps.add(*run_led(dut, psu, ch, load, slot.led, slot.link, frame, workdir, fault.led if fault else None))

    def factory_reset() -> None:
        steps.add(*_factory_reset(dut, bench, speed))

    def power_off() -> None:
        psu.output(False, ch)
        time.sleep(0.05)
        steps.add(Measurement("power_off.current", round(psu.measure_current(ch) * 1000, 3), "mA", high=0.1),
                  Measurement("power_off.stopped", int(not dut.alive()), "bool", expected=1))

    try:
        bodies = {"power_on": power_on, "identity": read_identity, "idle_current": idle_current,
                  "interfaces": interfaces, "peak_current": peak_current, "led": led,
                  "factory_reset": factory_reset, "power_off": power_off}
        for step in STEPS:
            if not steps.run(step.name, bodies[step.name]) and step.name != "power_off":
                steps.run("power_off", power_off)
                break
    finally:
        if station.sim is not None:
            station.sim.attach(ch, None)
        dut.kill("power cut")
    verdict = PASS if steps.measurements and all(m.outcome != FAIL for m in steps.measurements) else FAIL
    return Record(
        verdict=verdict, started=started.isoformat(timespec="milliseconds"),
        ended=datetime.now(UTC).isoformat(timespec="milliseconds"), duration_s=round(time.monotonic() - began, 2),
        dut={"serial": serial, "model": identity.get("model"), "firmware": identity.get("firmware"),
             "kind": bench.dut_kind, **({"build": dut.build} if dut.build else {})},
        station={"bench": bench.name, "station": bench.station, "bench_file": str(bench.path), "slot": slot.number,
                 "channel": ch, "port": budget.port, "skipped": steps.skipped, "steps_s": steps.timing},
        meter={"profile": bench.profile, "capture": None, "speed": speed, "start": START.isoformat(),
               "duration_s": station.settings["stream_s"]},
        measurements=steps.measurements, failures=steps.errors,
        links={"run_dir": str(workdir), "logs": {p.name: str(p) for p in sorted(workdir.iterdir()) if p.is_file()}},
        kind="eol", name=f"slot {slot.number}",
    )


def _interfaces(bench: Bench, dut: Any, station: Station, slot: Slot, workdir: Path) -> list[Measurement]:
    """Each interface answers; then a short meter stream, every frame checked on those that answer."""
    out, http = [], HttpProbe(dut.http_url, tz=bench.timezone)
    try:
        http.health()
        out.append(Measurement("http.answers", 1, "bool", expected=1))
    except ProbeError:
        out.append(Measurement("http.answers", 0, "bool", expected=1))
        return out
    finally:
        http.close()
    features = dict(bench.features)
    if bench.has("modbus"):
        ok = 1
        try:
            read_once(dut.modbus_host, dut.modbus_port, timeout=1.0)
        except Exception:  # refused, timed out or an exception answer: it does not answer unit 1
            ok = 0
        out.append(Measurement("modbus.answers", ok, "bool", expected=1))
        features["modbus"] = bool(ok)
    profile = get_profile(bench.profile)
    meter = Meter(profile, seed=1, start=START)
    frames = list(meter.frames(start=START, until=START + timedelta(seconds=station.settings["stream_s"])))
    checked = dataclasses.replace(bench, features=features)
    result = asyncio.run(stream_and_check(
        emissions_from_frames(frames, frames[0].at), slot.link, dut, station.broker, checked,
        profile.frame_interval_s, station.speed, workdir, clock=station.clock,
        meter_format=meter_format(profile.protocol)))
    if bench.has("mqtt"):
        out.append(Measurement("mqtt.answers", int(result.interfaces["mqtt"].passed > 0), "bool", expected=1))
    out += [m for m in count_measurements(result.frames_sent, result.expected_counts, result.dut_counters or None)
            if m.name == "frames_decoded"]
    for name, summary in result.interfaces.items():
        if name == "modbus" and not features.get("modbus") or name == "mqtt" and not bench.has("mqtt"):
            continue
        out += [Measurement(f"{name}.passed", summary.passed, "checks", low=1),
                Measurement(f"{name}.failed", summary.failed, "checks", high=0)]
    if result.error:
        raise RuntimeError(result.error)
    return out


def _factory_reset(dut: Any, bench: Bench, speed: float) -> list[Measurement]:
    """Change some settings, hold the button 30 s of device time, press it; what is not back to default."""
    http = HttpProbe(dut.http_url, tz=bench.timezone)
    try:
        http.configure(dict(BEFORE_RESET))
        send_control(dut.led_events_path, "button hold")
        dut.wait_for_line(r"control: button held", timeout=3.0)  # the hold counts from when the unit saw it
        time.sleep(HOLD_DEVICE_S / speed + 0.1)
        send_control(dut.led_events_path, "button press")
        deadline = time.monotonic() + 3.0
        while True:  # the reset takes a moment: the settings first, then the stored file
            wrong = not_default(http.configuration())
            saved = not_default(dut.saved_config(), secrets_public=False)
            if not (wrong or saved) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        http.close()
    return [Measurement("factory_reset.settings_not_default", len(wrong), "settings", high=0),
            Measurement("factory_reset.file_not_default", len(saved), "settings", high=0)]
