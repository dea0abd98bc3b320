"""Stream a meter's writes into a DUT on their schedule and check every interface against them.

A stream is an iterable of emissions (``rig.emulators.faults.Emission``): the writes the meter makes,
clean or shaped by fault injectors, each saying what a correct reader counts because of it, taken one at
a time as the schedule reaches it (a generator keeps a week-long stream as small as an hour-long one).
After each frame the reader must publish, the HTTP and Modbus pollers read the DUT back to back until it
shows that frame (or a newer one: a reading that shows a newer frame judges that one when its poller gets
to it), and each MQTT message is judged as it arrives (``rig.judges``); each interface must show
each frame within one frame interval (plus ``MARGIN_S``), at the resolution of the meter's format and of
the interface (``rig.resolution``). At the end the DUT's counters over the stream must equal, counter by
counter, what the writes made say a correct reader counts: nothing is lost and nothing is miscounted.

The run folder gets ``frames.jsonl`` (every write) and ``checks.jsonl`` (every verdict, as made), their
times in seconds since the run started (``rig.runclock``).

Memory stays bounded however long the stream: the judges hold only the window of frames some interface
may still show (``rig.judges.SentWindow``), the result (``rig.stream_result.StreamResult``) keeps counters,
each interface's summary and the first failures; every frame and every check is on disk. ``keep=True``
(the default, for short streams whose callers inspect them) also keeps every frame sent and every check
in the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from rig.bench import Bench
from rig.checks import ExpectedState, SentFrame
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
from rig.stream_result import MARGIN_S, MAX_KEPT_FAILURES, Progress, StreamResult

# The reader ends a partial frame after 500 ms of line silence (its idle flush, 150 ms real at least):
# wait this long after the last write before reading its counters.
IDLE_FLUSH_S = 0.5
IDLE_FLUSH_REAL_MIN_S = 0.3
STOP_POLL_S = 0.05  # a wait for the next write shorter than this is a plain sleep (cheap at high speeds)
ALIVE_CHECK_S = 0.05  # how often, at most, the engine asks whether the DUT's process still runs
LEAD_S = 0.02  # the first write is this long after the stream is set up


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
    emissions: Iterable[Emission],
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
    keep: bool = True,
    total: int | None = None,
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
    ``keep``: keep every frame sent and every check in the result (False: counters and summaries only,
    memory bounded however long the stream). ``total``: the frames to publish, for ``progress`` (counted
    from ``emissions`` when it is a sequence).
    """
    clock = clock or RunClock()
    http = HttpProbe(dut.http_url, tz=bench.timezone)
    result = StreamResult([], [], {}, meter_format=meter_format)
    if total is None and isinstance(emissions, Sequence):
        total = sum(1 for e in emissions if e.reading is not None or e.counts)
    stream = _Stream(emissions, link, dut, broker, bench, interval_s / speed, speed, run_dir, http, result, clock,
                     progress, enable_modbus, partial, on_request, stop, keep, total or 0)
    dropped_before = getattr(link, "dropped", 0)
    try:
        began = time.monotonic()
        before = (await asyncio.to_thread(http.health)).get("counters", {})
        try:
            collecting = time.monotonic()
            with no_full_collections():
                result.timing["gc_s"] = time.monotonic() - collecting
                await stream.run()
        except (ProbeError, DutError, OSError) as exc:
            result.error = f"{exc} (DUT log: {dut.log_path})" if dut.log_path else str(exc)
        result.line_dropped = getattr(link, "dropped", 0) - dropped_before
        settled = time.monotonic()
        await _settle_and_count(http, dut, before, result, stream.last_whole, speed)
        result.timing["settle_s"] = time.monotonic() - settled
        result.timing["stream_total_s"] = time.monotonic() - began
    finally:
        http.close()
    return result


async def _settle_and_count(http: HttpProbe, dut: Dut, before: dict[str, int], result: StreamResult,
                            last_whole: bool, speed: float) -> None:
    """The DUT's counters over the stream, once nothing is left for it to count.

    A frame cut short at the end is counted when the reader's idle flush ends it, so the counters are read
    after that flush. When the last write was a whole frame to publish and the counters read at once
    already equal what a correct reader counts, nothing is pending at the reader: those are its counters.
    """
    if last_whole and result.error is None and not result.interrupted:
        await _read_counters(http, dut, before, result)
        if result.counters_error is None and not result.count_mismatches():
            return
        result.dut_counters, result.counters_error = {}, None
    await asyncio.sleep(max(IDLE_FLUSH_S / speed, IDLE_FLUSH_REAL_MIN_S) + MARGIN_S)
    await _read_counters(http, dut, before, result)


@contextlib.contextmanager
def no_full_collections() -> Iterator[None]:
    """Keep CPython's full garbage collections off the rig's clock while it streams.

    A full pass scans every object the process holds; in a long pytest session or a day-long run that
    takes 100 ms and more, during which the rig neither writes nor reads, so the DUT looks late. One full
    pass now, then only the young generations (cheap: they hold what the stream just made) until the end.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()  # what exists now (modules, the bench) is never scanned again while streaming
    gc.set_threshold(thresholds[0], thresholds[1], 2**31 - 1)  # the third: gen-1 passes before a full one
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


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

    def __init__(self, emissions: Iterable[Emission], link: Link, dut: Dut, broker: BrokerAddress | None,
                 bench: Bench, interval_real: float, speed: float, run_dir: Path, http: HttpProbe,
                 result: StreamResult, clock: RunClock, progress: Callable[[Progress], None] | None,
                 enable_modbus: bool, partial: bool, on_request: bool, stop: asyncio.Event | None,
                 keep: bool, total: int) -> None:
        self.emissions, self.link, self.dut, self.broker, self.bench = emissions, link, dut, broker, bench
        self.interval_real, self.speed, self.run_dir, self.http = interval_real, speed, run_dir, http
        self.result, self.clock, self.progress, self.stop = result, clock, progress, stop
        self.enable_modbus, self.partial, self.on_request = enable_modbus, partial, on_request
        self.keep, self.total = keep, total
        self.state = StreamState(result.meter_format)
        self.queues: dict[str, asyncio.Queue[SentFrame | None]] = {}
        self.pollers: list[asyncio.Task[None]] = []
        self.mqtt: MqttJudge | None = None
        self.last_whole = False  # the last write was a whole frame to publish

    async def run(self) -> None:
        timing, began = self.result.timing, time.monotonic()
        modbus = None
        if self.enable_modbus and self.bench.has("modbus") and self.dut.modbus_port is not None:
            await asyncio.to_thread(self.http.configure, {"modbus": {"enabled": True}})
            modbus = ModbusProbe(self.dut.modbus_host or "127.0.0.1", self.dut.modbus_port)
        broker, bench = self.broker, self.bench
        mqtt_ctx = (MqttProbe(broker.host, broker.port, bench.topic, tz=bench.timezone, keep=self.keep)
                    if broker is not None and bench.has("mqtt") else _NoMqtt())
        result = self.result
        with (open(self.run_dir / "frames.jsonl", "a", buffering=1 << 16) as log,
              CheckLog(result.checks if self.keep else None, self.run_dir / "checks.jsonl", self.clock,
                       result.interfaces, result.failures, MAX_KEPT_FAILURES) as checks,
              contextlib.closing(modbus or _Nothing())):
            log.write(self.clock.header("frames written on the meter line: t when the write began, t_end when "
                                        "its last byte was on the line") + "\n")
            if modbus is not None:
                await modbus.connect()
            async with mqtt_ctx as probe:
                if isinstance(probe, MqttProbe):
                    # the reader says "online" (retained) once its session is up: frames before it would be lost
                    if not await self._online(probe):
                        result.interrupted = True
                        return
                    self.mqtt = MqttJudge(self.state, checks, probe.follow(), lambda: probe.failure,
                                          grace_s=self.interval_real + MARGIN_S)
                    self.mqtt.start()
                self._start_pollers(modbus, checks)
                timing["setup_s"] = time.monotonic() - began
                try:
                    await self._judged_writes(log, checks)
                finally:
                    if self.mqtt is not None:
                        self.mqtt.cancel()  # finished already, unless the stream itself was cancelled
                    result.window_peak = self.state.window.peak

    async def _online(self, probe: MqttProbe) -> bool:
        """Wait (10 s at most) for the reader's MQTT "online"; False, at once, when asked to stop."""
        waiting = asyncio.ensure_future(probe.wait_for_status("online", timeout=10))
        if self.stop is None:
            await waiting
            return True
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if waiting.done():
            waiting.result()  # ProbeTimeout when the reader never said it
            return True
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        return False

    def _start_pollers(self, modbus: ModbusProbe | None, checks: CheckLog) -> None:
        self.queues["http"] = asyncio.Queue()
        self.pollers.append(asyncio.create_task(poll_http(self.queues["http"], self.http, self.state, checks)))
        if modbus is not None:
            self.queues["modbus"] = asyncio.Queue()
            self.pollers.append(asyncio.create_task(poll_modbus(self.queues["modbus"], modbus, self.state, checks)))

    async def _judged_writes(self, log: IO[str], checks: CheckLog) -> None:
        """Every write, then the pollers' verdicts on what was sent; MQTT is judged for every frame sent even
        when the stream stops early."""
        timing = self.result.timing
        try:
            await self._write_all(log, checks)
            tail = time.monotonic()
            for queue in self.queues.values():
                queue.put_nowait(None)  # each poller judges what was sent, none past its deadline
            await asyncio.gather(*self.pollers)
            timing["pollers_after_last_write_s"] = time.monotonic() - tail
        finally:
            for poller in self.pollers:
                poller.cancel()
            if self.mqtt is not None:
                tail = time.monotonic()
                await self.mqtt.finish()
                timing["mqtt_after_pollers_s"] = time.monotonic() - tail

    async def _stopped_before(self, due: float) -> bool:
        """Wait until ``due`` (monotonic); True, at once, when the stream is asked to stop."""
        delay = due - time.monotonic()
        if self.stop is None or delay < STOP_POLL_S:  # a short wait: the stop is seen right after it
            if delay > 0:
                await asyncio.sleep(delay)
            return self.stop is not None and self.stop.is_set()
        if not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)
        return self.stop.is_set()

    async def _write_all(self, log: IO[str], checks: CheckLog) -> None:
        loop = asyncio.get_running_loop()
        result, state, timing = self.result, self.state, self.result.timing
        expected = ExpectedState()
        by_list = result.frames_by_list
        t0 = time.monotonic() + LEAD_S
        alive_checked = float("-inf")
        timing["writes_s"] = 0.0
        due = t0
        cpu0 = time.process_time()
        for i, emission in enumerate(self.emissions):
            due = t0 + emission.t / self.speed
            if await self._stopped_before(due):
                result.interrupted = True
                return
            for poller in self.pollers:
                if poller.done():
                    poller.result()  # a poller that died raises its error here, at once
            if due - alive_checked >= ALIVE_CHECK_S:
                alive_checked = due
                if not self.dut.alive():
                    raise DutError(f"the DUT exited after {i} writes")
            if self.on_request and self.link.request_line() is False:
                result.held += 1  # a P1 meter sends nothing while the request is low
                continue
            t_start = state.last_write_start = time.monotonic()
            timing["lag_end_s"] = t_start - due
            timing["writes_s"] = t_start - t0
            if self.mqtt is not None:
                self.mqtt.writing()
            t_end = await loop.run_in_executor(None, self.link.write, emission.data, _note(emission))
            result.writes += 1
            result.expected_counts.update(emission.counts)
            if emission.fault:
                result.faults[emission.fault] += 1
            reading = local_reading(emission.reading or {}, self.bench.timezone)
            ts = reading.get("timestamp")
            self.last_whole = emission.published
            if emission.published:
                record = SentFrame(result.frames_sent, emission.at or _no_time(), emission.list or 0, reading,
                                   expected.apply(reading), t_end, t_end + self.interval_real + MARGIN_S,
                                   self.partial, t_start)
                state.add(record)
                result.frames_sent += 1
                if self.keep:
                    result.sent.append(record)
                by_list[record.list_no] += 1
                for queue in self.queues.values():
                    queue.put_nowait(record)
                if self.mqtt is not None:
                    self.mqtt.frame_sent(record)
            elif emission.counts.get("frames_ok") and emission.reading is None:
                result.unjudged = state.unjudged = state.unjudged + 1
            elif ts is not None and ts not in state.latest_by_ts:
                state.add_damaged(ts)
            if self.mqtt is not None:
                self.mqtt.write_done()
            state.release()
            log.write(json.dumps({"write": i, "t": round(self.clock.elapsed(t_start), 6),
                                  "t_end": round(self.clock.elapsed(t_end), 6), "list": emission.list,
                                  "fault": emission.fault, "counts": dict(emission.counts),
                                  "hex": emission.data.hex(), "reading": emission.reading}) + "\n")
            if self.progress:
                total = max(self.total, result.frames_sent)
                self.progress(Progress(result.frames_sent, total, by_list, checks.failures))
        timing["rig_cpu_s"] = time.process_time() - cpu0


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
