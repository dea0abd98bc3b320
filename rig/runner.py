"""`rig run`: stream a meter into a bench's DUT and check every output against what was sent.

The meter's frames go out on their real schedule (compressed by ``speed``). After each frame, the
HTTP and Modbus pollers read the DUT back to back until it shows that frame (or a newer one), and the
MQTT probe collects every message; each interface must show each frame within one frame interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rig.bench import Bench
from rig.checks import Check, ExpectedState, InterfaceSummary, Outcome, SentFrame, judge
from rig.dut.base import Dut, DutError
from rig.emulators import Frame, Meter, get_profile
from rig.emulators.schedule import Clock
from rig.links import Link
from rig.probes import ProbeError
from rig.probes.http import HttpProbe
from rig.probes.modbus import ModbusProbe
from rig.probes.mqtt import MqttProbe
from rig.probes.resolution import view
from rig.session import BrokerAddress, open_meter_link, start_broker, start_dut

# Allowance for host scheduling jitter on top of one frame interval. Outliers of 5-70 ms are seen on a
# loaded 2-core machine; at x1 the interval (2 s) dwarfs it, at x120 (16.7 ms) it dominates, so
# compressed runs check loss and values strictly and timing only to this allowance.
MARGIN_S = 0.1
INTERFACES = ("http", "modbus", "mqtt")
ERROR_COUNTERS = ("checksum_errors", "framing_errors", "truncated", "oversized", "unknown_format",
                  "decrypt_errors", "decoder_restarts")


@dataclass
class Progress:
    """Where a run is, for a live view."""

    sent: int
    total: int
    by_list: Counter[int]
    failures: int


@dataclass
class RunResult:
    """Everything a run measured; ``ok`` only when every frame was decoded and every check passed."""

    meter: str
    speed: float
    start: str
    duration_s: float
    frames_sent: int
    frames_by_list: dict[int, int]
    dut_counters: dict[str, int]
    interfaces: dict[str, InterfaceSummary]
    failures: list[Check] = field(default_factory=list)
    real_time_s: float = 0.0
    run_dir: Path | None = None
    error: str | None = None
    frames_corrupt: int = 0

    @property
    def frames_decoded(self) -> int:
        return int(self.dut_counters.get("frames_ok", 0))

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.frames_sent > 0
            and self.frames_decoded == self.frames_sent - self.frames_corrupt
            and not self.failures
            and all(s.failed == 0 for s in self.interfaces.values())
        )

    def absorb(self, streamed: StreamResult) -> None:
        """Take the frames, checks and DUT counters of a stream into this run's result."""
        self.frames_sent = len(streamed.sent)
        self.frames_by_list = dict(Counter(f.list_no for f in streamed.sent))
        self.frames_corrupt = sum(1 for f in streamed.sent if f.corrupt)
        self.dut_counters = streamed.dut_counters
        for check in streamed.checks:
            self.interfaces[check.interface].add(check)
        self.failures = streamed.failures
        self.error = streamed.error

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "meter": self.meter,
            "speed": self.speed,
            "start": self.start,
            "duration_s": self.duration_s,
            "real_time_s": round(self.real_time_s, 2),
            "frames_sent": self.frames_sent,
            "frames_by_list": {str(k): v for k, v in sorted(self.frames_by_list.items())},
            "frames_decoded": self.frames_decoded,
            "dut_counters": self.dut_counters,
            "interfaces": {name: s.as_dict() for name, s in self.interfaces.items()},
            "failures": [c.describe() for c in self.failures[:50]],
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "error": self.error,
        }


@dataclass
class RunOptions:
    """What `rig run` was asked to do."""

    bench: Bench
    run_dir: Path
    meter: str | None = None
    duration_s: float = 60.0
    speed: float = 1.0
    seed: int = 1
    start: datetime | None = None
    progress: Callable[[Progress], None] | None = None


def default_start(now: datetime | None = None) -> datetime:
    """Half a minute before the next full hour, so a short run sees List 1, List 2 and the hourly List 3."""
    now = (now or datetime.now()).replace(microsecond=0)
    next_hour = now.replace(minute=0, second=0) + timedelta(hours=1)
    return next_hour - timedelta(seconds=30)


def check_no_dst_change(start: datetime, end: datetime, timezone: str) -> None:
    """ValueError when meter time from ``start`` to ``end`` crosses a daylight-saving change.

    The emulator's clock does not model DST days yet (a 23 h or 25 h day): refuse such a span clearly.
    """
    zone = ZoneInfo(timezone)
    if start.replace(tzinfo=zone).utcoffset() != end.replace(tzinfo=zone).utcoffset():
        raise ValueError(f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} crosses a daylight-saving change in "
                         f"{timezone}, which the meter emulator does not model yet; choose another --start")


def run(options: RunOptions) -> RunResult:
    """Bring the bench up, stream the meter, check every interface, and bring the bench down."""
    bench = options.bench
    profile = get_profile(options.meter or bench.profile)
    start = options.start or default_start()
    check_no_dst_change(start, start + timedelta(seconds=options.duration_s), bench.timezone)
    meter = Meter(profile, seed=options.seed, start=start)
    frames = list(meter.frames(start=start, until=start + timedelta(seconds=options.duration_s)))
    run_dir = options.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    result = RunResult(
        meter=profile.id,
        speed=options.speed,
        start=start.isoformat(),
        duration_s=options.duration_s,
        frames_sent=0,
        frames_by_list={},
        dut_counters={},
        interfaces={name: InterfaceSummary(name) for name in INTERFACES},
        run_dir=run_dir,
    )
    began = time.monotonic()
    with ExitStack() as stack:
        broker, mosquitto = start_broker(bench, run_dir)
        if mosquitto:
            stack.callback(mosquitto.stop)
        link = open_meter_link(bench, profile.line, options.speed, run_dir)
        stack.callback(link.close)
        dut = start_dut(bench, run_dir, link, broker, clock_scale=options.speed)
        stack.callback(dut.stop)
        streamed = asyncio.run(stream_and_check(
            frames, link, dut, broker, bench, profile.frame_interval_s, options.speed, run_dir, options.progress,
        ))
        result.absorb(streamed)
    result.real_time_s = time.monotonic() - began
    (run_dir / "summary.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result


@dataclass
class StreamResult:
    """What one stream of frames produced: the frames, every check, the DUT's counters over the stream.

    ``error`` says why a stream stopped early (the DUT died, a probe failed); what was sent and checked
    until then is kept.
    """

    sent: list[SentFrame]
    checks: list[Check]
    dut_counters: dict[str, int]
    error: str | None = None

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome is Outcome.FAIL]

    def for_interface(self, interface: str) -> list[Check]:
        return [c for c in self.checks if c.interface == interface]

    def problems(self) -> list[str]:
        """Everything that went wrong, one line each (empty when the stream passed)."""
        return ([f"stream stopped: {self.error}"] if self.error else []) + [c.describe() for c in self.failures]


async def stream_and_check(
    frames: list[Frame],
    link: Link,
    dut: Dut,
    broker: BrokerAddress | None,
    bench: Bench,
    interval_s: float,
    speed: float,
    run_dir: Path,
    progress: Callable[[Progress], None] | None = None,
    enable_modbus: bool = True,
) -> StreamResult:
    """Send ``frames`` on their schedule (compressed by ``speed``) and check every interface on each.

    ``frame.corrupt`` frames (fault injection) are sent but expected on no interface. The DUT's
    counters are reported as the difference over the stream, so a board with a history is judged on
    this stream alone.
    """
    http = HttpProbe(dut.http_url, tz=bench.timezone)
    result = StreamResult([], [], {})
    try:
        before = (await asyncio.to_thread(http.health)).get("counters", {})
        try:
            await _stream(frames, link, dut, broker, bench, interval_s / speed, speed, run_dir, http,
                          enable_modbus, progress, result)
        except (ProbeError, DutError, OSError) as exc:
            result.error = f"{exc} (DUT log: {dut.log_path})" if dut.log_path else str(exc)
        try:
            after = (await asyncio.to_thread(http.health)).get("counters", {}) if dut.alive() else before
        except ProbeError as exc:
            after = before
            result.error = result.error or f"cannot read the DUT's counters after the stream: {exc}"
        result.dut_counters = {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}
    finally:
        http.close()
    return result


async def _stream(
    frames: list[Frame],
    link: Link,
    dut: Dut,
    broker: BrokerAddress | None,
    bench: Bench,
    interval_real: float,
    speed: float,
    run_dir: Path,
    http: HttpProbe,
    enable_modbus: bool,
    progress: Callable[[Progress], None] | None,
    result: StreamResult,
) -> None:
    loop = asyncio.get_running_loop()
    sent, checks = result.sent, result.checks
    index_by_ts: dict[str, int] = {}
    corrupt_ts: set[str] = set()
    modbus = None
    if enable_modbus and bench.has("modbus") and dut.modbus_port is not None:
        await asyncio.to_thread(http.configure, {"modbus": {"enabled": True}})
        modbus = ModbusProbe(dut.modbus_host or "127.0.0.1", dut.modbus_port)
    mqtt_ctx = (MqttProbe(broker.host, broker.port, bench.topic, tz=bench.timezone)
                if broker is not None and bench.has("mqtt") else _NoMqtt())
    with open(run_dir / "frames.jsonl", "a") as log, contextlib.closing(modbus or _Nothing()):
        if modbus is not None:
            await modbus.connect()
        async with mqtt_ctx as mqtt:
            if isinstance(mqtt, MqttProbe):
                # the reader says "online" (retained) once its session is up: frames before it would be lost
                await mqtt.wait_for_status("online", timeout=10)
            queues: dict[str, asyncio.Queue[SentFrame | None]] = {"http": asyncio.Queue()}
            pollers = [asyncio.create_task(_poll_http(queues["http"], http, index_by_ts, corrupt_ts, checks))]
            if modbus is not None:
                queues["modbus"] = asyncio.Queue()
                pollers.append(asyncio.create_task(_poll_modbus(queues["modbus"], modbus, sent, checks)))
            try:
                state = ExpectedState()
                by_list: Counter[int] = Counter()
                clock = Clock(frames[0].at, speed) if frames else None
                t0 = time.monotonic() + 0.1
                for i, frame in enumerate(frames):
                    delay = t0 + clock.elapsed_s(frame.at) - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    for poller in pollers:
                        if poller.done():
                            poller.result()  # a poller that died raises its error here, at once
                    if not dut.alive():
                        raise DutError(f"the DUT exited after {i} of {len(frames)} frames")
                    t_end = await loop.run_in_executor(None, link.write, frame.data)
                    corrupt = frame.corrupt
                    expected = state.apply({} if corrupt else frame.reading)
                    record = SentFrame(i, frame.at, frame.list, frame.reading, expected, t_end,
                                       t_end + interval_real + MARGIN_S, corrupt)
                    sent.append(record)
                    if corrupt:
                        corrupt_ts.add(frame.reading.get("timestamp"))
                    else:
                        index_by_ts[frame.reading["timestamp"]] = i
                        by_list[frame.list] += 1
                        for queue in queues.values():
                            queue.put_nowait(record)
                    log.write(json.dumps({"index": i, "at": frame.at.isoformat(), "list": frame.list,
                                          "t_end": round(t_end - t0, 6), "corrupt": corrupt,
                                          "hex": frame.data.hex(), "reading": frame.reading}) + "\n")
                    if progress:
                        failures = sum(1 for c in checks if c.outcome is Outcome.FAIL)
                        progress(Progress(i + 1, len(frames), by_list, failures))
                for queue in queues.values():
                    queue.put_nowait(None)
                await asyncio.gather(*pollers)
            finally:
                for poller in pollers:
                    poller.cancel()
            # the last MQTT message may still be on its way: wait up to one interval for it
            if sent:
                await asyncio.sleep(max(0.0, sent[-1].deadline - time.monotonic()))
            if isinstance(mqtt, MqttProbe):
                checks.extend(_check_mqtt(mqtt, sent, index_by_ts, corrupt_ts))


class _Nothing:
    def close(self) -> None:
        return None


class _NoMqtt:
    """Stands in for the MQTT probe on a bench without MQTT: collects nothing."""

    async def __aenter__(self) -> _NoMqtt:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _poll_http(
    queue: asyncio.Queue[SentFrame | None],
    http: HttpProbe,
    index_by_ts: dict[str, int],
    corrupt_ts: set[str],
    checks: list[Check],
) -> None:
    """For each frame: read /meter back to back until it shows that frame, a newer one, or time is up."""
    while (frame := await queue.get()) is not None:
        while True:
            reading = await asyncio.to_thread(http.meter)
            now = time.monotonic()
            shown = reading.get("timestamp") if reading else None
            if shown in corrupt_ts:
                checks.append(Check("http", frame.index, Outcome.FAIL,
                                    detail=f"/meter shows the corrupt frame of {shown}"))
                break
            seen = index_by_ts.get(shown) if shown else None
            if seen == frame.index:
                mismatches = judge("http", frame.expected, reading)
                outcome = Outcome.FAIL if mismatches else Outcome.PASS
                checks.append(Check("http", frame.index, outcome, now - frame.t_end, mismatches))
                break
            if seen is not None and seen > frame.index:
                checks.append(Check("http", frame.index, Outcome.OVERTAKEN, detail=f"frame {seen} shown"))
                break
            if now > frame.deadline:
                shown = reading.get("timestamp") if reading else "503 (no reading)"
                checks.append(Check("http", frame.index, Outcome.FAIL,
                                    detail=f"not shown within one frame interval; /meter showed {shown}"))
                break


async def _poll_modbus(
    queue: asyncio.Queue[SentFrame | None],
    modbus: ModbusProbe,
    sent: list[SentFrame],
    checks: list[Check],
) -> None:
    """Like the HTTP poller; Modbus carries no timestamp, so frames are told apart by their values."""
    previous: SentFrame | None = None
    while (frame := await queue.get()) is not None:
        changed = previous is None or view("modbus", previous.expected) != view("modbus", frame.expected)
        while True:
            reading = await modbus.read()
            now = time.monotonic()
            mismatches = judge("modbus", frame.expected, reading)
            if not mismatches:
                latency = now - frame.t_end if changed else None
                checks.append(Check("modbus", frame.index, Outcome.PASS, latency))
                break
            newer = [s for s in sent[frame.index + 1:] if not judge("modbus", s.expected, reading)]
            if newer:
                checks.append(Check("modbus", frame.index, Outcome.OVERTAKEN,
                                    detail=f"frame {newer[0].index} shown"))
                break
            if now > frame.deadline:
                checks.append(Check("modbus", frame.index, Outcome.FAIL, None, mismatches,
                                    "not shown within one frame interval"))
                break
        previous = frame


def _check_mqtt(
    mqtt: MqttProbe, sent: list[SentFrame], index_by_ts: dict[str, int], corrupt_ts: set[str]
) -> list[Check]:
    """Every good frame must arrive exactly once on MQTT, in time, with the values sent; corrupt ones never."""
    checks: list[Check] = []
    arrivals: dict[int, list] = {}
    for message in mqtt.messages:
        shown = message.reading.get("timestamp")
        if shown in corrupt_ts:
            checks.append(Check("mqtt", -1, Outcome.FAIL, detail=f"published the corrupt frame of {shown}"))
            continue
        index = index_by_ts.get(shown)
        if index is None:
            checks.append(Check("mqtt", -1, Outcome.FAIL,
                                detail=f"message for a frame never sent: {message.payload}"))
            continue
        arrivals.setdefault(index, []).append(message)
    for error in mqtt.errors:
        checks.append(Check("mqtt", -1, Outcome.FAIL, detail=f"malformed message: {error}"))
    for frame in sent:
        if frame.corrupt:
            continue
        got = arrivals.get(frame.index, [])
        if not got:
            checks.append(Check("mqtt", frame.index, Outcome.FAIL, detail="no message received"))
            continue
        if len(got) > 1:
            checks.append(Check("mqtt", frame.index, Outcome.FAIL, detail=f"{len(got)} messages for one frame"))
            continue
        message = got[0]
        mismatches = judge("mqtt", frame.expected, message.reading)
        latency = message.arrival - frame.t_end
        if mismatches:
            checks.append(Check("mqtt", frame.index, Outcome.FAIL, latency, mismatches))
        elif message.arrival > frame.deadline:
            checks.append(Check("mqtt", frame.index, Outcome.FAIL, latency,
                                detail=f"arrived {latency * 1000:.0f} ms after the frame, later than one interval"))
        else:
            checks.append(Check("mqtt", frame.index, Outcome.PASS, latency))
    return checks


def format_summary(result: RunResult) -> str:
    """The human summary printed at the end of `rig run`."""
    lists = ", ".join(f"List {k}: {v}" for k, v in sorted(result.frames_by_list.items()))
    c = result.dut_counters
    errors = {k: v for k, v in c.items() if k in ERROR_COUNTERS and v}
    lines = [
        f"meter {result.meter}, {result.duration_s:g} s of meter time from {result.start} "
        f"at speed x{result.speed:g} ({result.real_time_s:.1f} s real)",
        f"frames sent     {result.frames_sent} ({lists})",
        f"frames decoded  {result.frames_decoded} by the DUT"
        + (f"; errors counted: {errors}" if errors else "; no errors counted"),
        "",
        f"{'interface':<10}{'passed':>8}{'failed':>8}{'overtaken':>11}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    for name, summary in result.interfaces.items():
        d = summary.as_dict()
        lat = d["latency_ms"]

        def fmt(v: object) -> str:
            return "-" if v is None else f"{v:.1f}"

        lines.append(f"{name:<10}{summary.passed:>8}{summary.failed:>8}{summary.overtaken:>11}"
                     f"{fmt(lat['p50']):>9}{fmt(lat['p99']):>9}{fmt(lat['max']):>9}")
    lines += ["latency: from the end of the frame's last byte (its closing flag) on the line to the value on",
              "the interface; HTTP and Modbus include a request round trip. A reader that decodes on the FCS",
              "acts one character before the flag ends, so MQTT figures can be slightly negative."]
    if result.failures:
        lines += ["", f"{len(result.failures)} failed checks (first 10):"]
        lines += [f"  {c.describe()}" for c in result.failures[:10]]
    if result.error:
        lines += ["", f"error: {result.error}"]
    lines += ["", ("PASS" if result.ok else "FAIL") + f"   (details: {result.run_dir})"]
    return "\n".join(lines)
