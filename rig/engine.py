"""Stream a meter's writes into a DUT on their schedule and check every interface against them.

A stream is a list of emissions (``rig.emulators.faults.Emission``): the writes the meter makes, clean
or shaped by fault injectors, each saying what a correct reader counts because of it. After each frame
the reader must publish, the HTTP and Modbus pollers read the DUT back to back until it shows that frame
(or a newer one), and each MQTT message is judged as it arrives (``rig.judges``); each interface must show
each frame within one frame interval (plus ``MARGIN_S``), at the resolution of the meter's format and of
the interface (``rig.resolution``). At the end the DUT's counters over the stream must equal, counter by
counter, what the writes made say a correct reader counts: nothing is lost and nothing is miscounted.

The run folder gets ``frames.jsonl`` (every write) and ``checks.jsonl`` (every verdict, as made), their
times in seconds since the run started (``rig.runclock``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from rig.bench import Bench
from rig.checks import Check, ExpectedState, Outcome, SentFrame
from rig.dut.base import Dut, DutError
from rig.emulators.faults import Emission
from rig.judges import CheckLog, MqttJudge, StreamState, poll_http, poll_modbus
from rig.links import Link
from rig.probes import ProbeError
from rig.probes.http import HttpProbe
from rig.probes.modbus import ModbusProbe
from rig.probes.mqtt import MqttProbe
from rig.runclock import RunClock
from rig.session import BrokerAddress

# Allowance for host scheduling jitter on top of one frame interval. Outliers of 5-70 ms are seen on a
# loaded 2-core machine; at x1 the interval (2 s) dwarfs it, at x120 (16.7 ms) it dominates, so
# compressed runs check loss and values strictly and timing only to this allowance.
MARGIN_S = 0.1
INTERFACES = ("http", "modbus", "mqtt")
ERROR_COUNTERS = ("checksum_errors", "framing_errors", "truncated", "oversized", "unknown_format",
                  "decrypt_errors", "decoder_restarts")
JUDGED_COUNTERS = ("frames_ok",) + ERROR_COUNTERS
CAPTURE_INTERVAL_S = 2.0  # how long each interface may take to show a replayed frame (meter seconds)
# The reader ends a partial frame after 500 ms of line silence (its idle flush, 150 ms real at least):
# wait this long after the last write before reading its counters.
IDLE_FLUSH_S = 0.5
IDLE_FLUSH_REAL_MIN_S = 0.3


@dataclass
class Progress:
    """Where a stream is, for a live view."""

    sent: int
    total: int
    by_list: Counter[int]
    failures: int


@dataclass
class StreamResult:
    """What one stream produced: the frames to publish, every check, the DUT's counters over the stream.

    ``expected_counts`` is what a correct reader counts (the sum of the counts of the writes made);
    ``faults`` how many writes each injection shaped. ``error`` says why a stream stopped early (the DUT
    died, a probe failed); ``interrupted``: it was asked to stop. What was sent and checked until then is
    kept either way. ``counters_error`` says why the DUT's counters could not be read (``dut_counters``
    is then empty: unknown, not zero).
    """

    sent: list[SentFrame]
    checks: list[Check]
    dut_counters: dict[str, int]
    expected_counts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    unjudged: int = 0  # good frames whose values the stream does not know (a recording without expectations)
    held: int = 0  # writes a P1 meter held back because the reader did not raise its data-request line
    error: str | None = None
    interrupted: bool = False
    counters_error: str | None = None
    meter_format: str | None = None  # the format values were judged at (rig.resolution); None: interfaces'

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome is Outcome.FAIL]

    def for_interface(self, interface: str) -> list[Check]:
        return [c for c in self.checks if c.interface == interface]

    def count_mismatches(self) -> list[str]:
        """Counters of the DUT that differ from what a correct reader counts over this stream (or why they
        are unknown)."""
        if self.counters_error:
            return [f"the DUT's counters are unknown: {self.counters_error}"]
        if self.error:
            return []  # a stream cut short cannot be counted; the error says why
        out = []
        for name in JUDGED_COUNTERS:
            want, got = self.expected_counts.get(name, 0), self.dut_counters.get(name, 0)
            if want != got:
                out.append(f"counter {name}: a correct reader counts {want}, the DUT counted {got}")
        return out

    def problems(self) -> list[str]:
        """Everything that went wrong, one line each (empty when the stream passed)."""
        return (([f"stream stopped: {self.error}"] if self.error else []) + self.count_mismatches()
                + [c.describe() for c in self.failures])


def local_reading(reading: dict, timezone: str) -> dict:
    """``reading`` with a timestamp that states its offset turned into the wall clock of ``timezone``, the
    form every interface shows (a reader publishes epoch time, and the probes read it in the bench's zone)."""
    ts = reading.get("timestamp")
    if not ts:
        return reading
    try:
        at = datetime.fromisoformat(ts)
    except ValueError:
        return reading
    if at.tzinfo is None:
        return reading
    local = at.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return {**reading, "timestamp": local.isoformat()}


async def stream_and_check(
    emissions: Sequence[Emission],
    link: Link,
    dut: Dut,
    broker: BrokerAddress | None,
    bench: Bench,
    interval_s: float,
    speed: float,
    run_dir: Path,
    progress: Callable[[Progress], None] | None = None,
    enable_modbus: bool = True,
    partial: bool = False,
    on_request: bool = False,
    meter_format: str | None = None,
    stop: asyncio.Event | None = None,
    clock: RunClock | None = None,
) -> StreamResult:
    """Write ``emissions`` on their schedule (compressed by ``speed``) and check every interface.

    Frames a correct reader publishes (``Emission.published``) are checked on HTTP, Modbus and MQTT;
    damaged ones must never appear. The DUT's counters are taken as the difference over the stream, so
    a board with a history is judged on this stream alone. ``partial``: the emissions' readings name only
    some fields (a capture's expectations), and only those are judged. ``on_request``: the meter sends
    only while the reader raises the data-request line (P1), as far as the link can tell.
    ``meter_format``: the meter's format (``rig.resolution.meter_format(profile.protocol)``): values are
    judged at the coarser of its resolution and the interface's (the interface's alone when None).
    ``stop``: once set, no further write is made; the frames sent are judged (none past its deadline),
    the counters read, and the result is ``interrupted``. ``clock``: the run's time base for the logs.
    """
    clock = clock or RunClock()
    http = HttpProbe(dut.http_url, tz=bench.timezone)
    result = StreamResult([], [], {}, meter_format=meter_format)
    try:
        before = (await asyncio.to_thread(http.health)).get("counters", {})
        try:
            with no_full_collections():
                await _Stream(emissions, link, dut, broker, bench, interval_s / speed, speed, run_dir, http,
                              result, clock, progress, enable_modbus, partial, on_request, stop).run()
        except (ProbeError, DutError, OSError) as exc:
            result.error = f"{exc} (DUT log: {dut.log_path})" if dut.log_path else str(exc)
        # a frame cut short at the end is counted when the reader's idle flush ends it
        await asyncio.sleep(max(IDLE_FLUSH_S / speed, IDLE_FLUSH_REAL_MIN_S) + MARGIN_S)
        await _read_counters(http, dut, before, result)
    finally:
        http.close()
    return result


@contextlib.contextmanager
def no_full_collections() -> Iterator[None]:
    """Keep CPython's full garbage collections off the rig's clock while it streams.

    A full pass scans every object the process holds; in a long pytest session or a day-long run that
    takes 100 ms and more, during which the rig neither writes nor reads, so the DUT looks late. One full
    pass now, then only the young generations (cheap: they hold what the stream just made) until the end.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.set_threshold(thresholds[0], thresholds[1], 2**31 - 1)  # the third: gen-1 passes before a full one
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


async def _read_counters(http: HttpProbe, dut: Dut, before: dict[str, int], result: StreamResult) -> None:
    """The DUT's counters over the stream, or why they are unknown."""
    if not dut.alive():
        result.counters_error = "the DUT is not running"
        return
    try:
        after = (await asyncio.to_thread(http.health)).get("counters", {})
    except ProbeError as exc:
        result.counters_error = f"cannot read them after the stream: {exc}"
        return
    result.dut_counters = {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}


def _note(emission: Emission) -> dict[str, object]:
    """What the line's capture records about a write."""
    note: dict[str, object] = {}
    if emission.reading is not None:
        note["expect"] = emission.reading
    if emission.list is not None:
        note["list"] = emission.list
    if emission.counts:
        note["counts"] = dict(emission.counts)
    if emission.fault:
        note["fault"] = emission.fault
    return note


class _Stream:
    """One stream under way: the writes on their schedule, and the judges of every interface."""

    def __init__(self, emissions: Sequence[Emission], link: Link, dut: Dut, broker: BrokerAddress | None,
                 bench: Bench, interval_real: float, speed: float, run_dir: Path, http: HttpProbe,
                 result: StreamResult, clock: RunClock, progress: Callable[[Progress], None] | None,
                 enable_modbus: bool, partial: bool, on_request: bool, stop: asyncio.Event | None) -> None:
        self.emissions, self.link, self.dut, self.broker, self.bench = emissions, link, dut, broker, bench
        self.interval_real, self.speed, self.run_dir, self.http = interval_real, speed, run_dir, http
        self.result, self.clock, self.progress, self.stop = result, clock, progress, stop
        self.enable_modbus, self.partial, self.on_request = enable_modbus, partial, on_request
        self.state = StreamState(result.meter_format, result.sent)
        self.queues: dict[str, asyncio.Queue[SentFrame | None]] = {}
        self.pollers: list[asyncio.Task[None]] = []
        self.mqtt: MqttJudge | None = None

    async def run(self) -> None:
        modbus = None
        if self.enable_modbus and self.bench.has("modbus") and self.dut.modbus_port is not None:
            await asyncio.to_thread(self.http.configure, {"modbus": {"enabled": True}})
            modbus = ModbusProbe(self.dut.modbus_host or "127.0.0.1", self.dut.modbus_port)
        broker, bench = self.broker, self.bench
        mqtt_ctx = (MqttProbe(broker.host, broker.port, bench.topic, tz=bench.timezone)
                    if broker is not None and bench.has("mqtt") else _NoMqtt())
        with (open(self.run_dir / "frames.jsonl", "a", buffering=1) as log,
              CheckLog(self.result.checks, self.run_dir / "checks.jsonl", self.clock) as checks,
              contextlib.closing(modbus or _Nothing())):
            log.write(self.clock.header("frames written on the meter line: t when the write began, t_end when "
                                        "its last byte was on the line") + "\n")
            if modbus is not None:
                await modbus.connect()
            async with mqtt_ctx as probe:
                if isinstance(probe, MqttProbe):
                    # the reader says "online" (retained) once its session is up: frames before it would be lost
                    await probe.wait_for_status("online", timeout=10)
                    self.mqtt = MqttJudge(self.state, checks, probe.follow(), lambda: probe.failure,
                                          grace_s=self.interval_real + MARGIN_S)
                    self.mqtt.start()
                self._start_pollers(modbus, checks)
                try:
                    await self._judged_writes(log, checks)
                finally:
                    if self.mqtt is not None:
                        self.mqtt.cancel()  # finished already, unless the stream itself was cancelled

    def _start_pollers(self, modbus: ModbusProbe | None, checks: CheckLog) -> None:
        self.queues["http"] = asyncio.Queue()
        self.pollers.append(asyncio.create_task(poll_http(self.queues["http"], self.http, self.state, checks)))
        if modbus is not None:
            self.queues["modbus"] = asyncio.Queue()
            self.pollers.append(asyncio.create_task(poll_modbus(self.queues["modbus"], modbus, self.state, checks)))

    async def _judged_writes(self, log: IO[str], checks: CheckLog) -> None:
        """Every write, then the pollers' verdicts on what was sent; MQTT is judged for every frame sent even
        when the stream stops early."""
        try:
            await self._write_all(log, checks)
            for queue in self.queues.values():
                queue.put_nowait(None)  # each poller judges what was sent, none past its deadline
            await asyncio.gather(*self.pollers)
        finally:
            for poller in self.pollers:
                poller.cancel()
            if self.mqtt is not None:
                await self.mqtt.finish()

    async def _stopped_before(self, due: float) -> bool:
        """Wait until ``due`` (monotonic); True, at once, when the stream is asked to stop."""
        delay = due - time.monotonic()
        if self.stop is None:
            if delay > 0:
                await asyncio.sleep(delay)
            return False
        if delay > 0 and not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)
        return self.stop.is_set()

    async def _write_all(self, log: IO[str], checks: CheckLog) -> None:
        loop = asyncio.get_running_loop()
        result, state, emissions = self.result, self.state, self.emissions
        expected = ExpectedState()
        by_list: Counter[int] = Counter()
        t0 = time.monotonic() + 0.1
        frames_total = sum(1 for e in emissions if e.reading is not None or e.counts)
        for i, emission in enumerate(emissions):
            if await self._stopped_before(t0 + emission.t / self.speed):
                result.interrupted = True
                return
            for poller in self.pollers:
                if poller.done():
                    poller.result()  # a poller that died raises its error here, at once
            if not self.dut.alive():
                raise DutError(f"the DUT exited after {i} of {len(emissions)} writes")
            if self.on_request and self.link.request_line() is False:
                result.held += 1  # a P1 meter sends nothing while the request is low
                continue
            t_start = state.last_write_start = time.monotonic()
            if self.mqtt is not None:
                self.mqtt.writing()
            t_end = await loop.run_in_executor(None, self.link.write, emission.data, _note(emission))
            result.writes += 1
            result.expected_counts.update(emission.counts)
            if emission.fault:
                result.faults[emission.fault] += 1
            reading = local_reading(emission.reading or {}, self.bench.timezone)
            ts = reading.get("timestamp")
            if emission.published:
                record = SentFrame(len(state.sent), emission.at or _no_time(), emission.list or 0, reading,
                                   expected.apply(reading), t_end, t_end + self.interval_real + MARGIN_S,
                                   self.partial, t_start)
                state.sent.append(record)
                if ts is not None:
                    state.latest_by_ts[ts] = record.index
                    state.damaged_ts.discard(ts)
                by_list[record.list_no] += 1
                for queue in self.queues.values():
                    queue.put_nowait(record)
                if self.mqtt is not None:
                    self.mqtt.frame_sent(record)
            elif emission.counts.get("frames_ok") and emission.reading is None:
                result.unjudged = state.unjudged = state.unjudged + 1
            elif ts is not None and ts not in state.latest_by_ts:
                state.damaged_ts.add(ts)
            if self.mqtt is not None:
                self.mqtt.write_done()
            log.write(json.dumps({"write": i, "t": round(self.clock.elapsed(t_start), 6),
                                  "t_end": round(self.clock.elapsed(t_end), 6), "list": emission.list,
                                  "fault": emission.fault, "counts": dict(emission.counts),
                                  "hex": emission.data.hex(), "reading": emission.reading}) + "\n")
            if self.progress:
                self.progress(Progress(sum(by_list.values()), frames_total, by_list, checks.failures))


def _no_time() -> datetime:
    return datetime.min


class _Nothing:
    def close(self) -> None:
        return None


class _NoMqtt:
    """Stands in for the MQTT probe on a bench without MQTT: collects nothing."""

    async def __aenter__(self) -> _NoMqtt:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None
