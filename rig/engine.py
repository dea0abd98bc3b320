"""Stream a meter's writes into a DUT on their schedule and check every interface against them.

A stream is a list of emissions (``rig.emulators.faults.Emission``): the writes the meter makes, clean
or shaped by fault injectors, each saying what a correct reader counts because of it. After each frame
the reader must publish, the HTTP and Modbus pollers read the DUT back to back until it shows that frame
(or a newer one), and the MQTT probe collects every message; each interface must show each frame within
one frame interval (plus ``MARGIN_S``). At the end the DUT's counters over the stream must equal, counter
by counter, what the emissions say a correct reader counts: nothing is lost and nothing is miscounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rig.bench import Bench
from rig.checks import Check, ExpectedState, Outcome, SentFrame, judge
from rig.dut.base import Dut, DutError
from rig.emulators.faults import Emission
from rig.links import Link
from rig.probes import ProbeError
from rig.probes.http import HttpProbe
from rig.probes.modbus import ModbusProbe
from rig.probes.mqtt import MqttProbe
from rig.probes.resolution import view
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

    ``expected_counts`` is what a correct reader counts (the sum of the emissions' counts);
    ``faults`` how many writes each injection shaped. ``error`` says why a stream stopped early (the DUT
    died, a probe failed); what was sent and checked until then is kept.
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

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome is Outcome.FAIL]

    def for_interface(self, interface: str) -> list[Check]:
        return [c for c in self.checks if c.interface == interface]

    def count_mismatches(self) -> list[str]:
        """Counters of the DUT that differ from what a correct reader counts over this stream."""
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


def sent_frame_ids(sent: Sequence[SentFrame]) -> dict[str, deque[int]]:
    """Timestamp -> indexes of the published frames carrying it, in order (a duplicated frame twice)."""
    out: dict[str, deque[int]] = {}
    for frame in sent:
        ts = frame.reading.get("timestamp")
        if ts is not None:
            out.setdefault(ts, deque()).append(frame.index)
    return out


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
) -> StreamResult:
    """Write ``emissions`` on their schedule (compressed by ``speed``) and check every interface.

    Frames a correct reader publishes (``Emission.published``) are checked on HTTP, Modbus and MQTT;
    damaged ones must never appear. The DUT's counters are taken as the difference over the stream, so
    a board with a history is judged on this stream alone. ``partial``: the emissions' readings name only
    some fields (a capture's expectations), and only those are judged. ``on_request``: the meter sends
    only while the reader raises the data-request line (P1), as far as the link can tell.
    """
    http = HttpProbe(dut.http_url, tz=bench.timezone)
    result = StreamResult([], [], {})
    for emission in emissions:
        result.expected_counts.update(emission.counts)
        if emission.fault:
            result.faults[emission.fault] += 1
    try:
        before = (await asyncio.to_thread(http.health)).get("counters", {})
        try:
            await _stream(emissions, link, dut, broker, bench, interval_s / speed, speed, run_dir, http,
                          enable_modbus, progress, result, partial, on_request)
        except (ProbeError, DutError, OSError) as exc:
            result.error = f"{exc} (DUT log: {dut.log_path})" if dut.log_path else str(exc)
        # a frame cut short at the end is counted when the reader's idle flush ends it
        await asyncio.sleep(max(IDLE_FLUSH_S / speed, IDLE_FLUSH_REAL_MIN_S) + MARGIN_S)
        try:
            after = (await asyncio.to_thread(http.health)).get("counters", {}) if dut.alive() else before
        except ProbeError as exc:
            after = before
            result.error = result.error or f"cannot read the DUT's counters after the stream: {exc}"
        result.dut_counters = {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}
    finally:
        http.close()
    return result


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


async def _stream(
    emissions: Sequence[Emission],
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
    partial: bool,
    on_request: bool,
) -> None:
    loop = asyncio.get_running_loop()
    sent, checks = result.sent, result.checks
    latest_by_ts: dict[str, int] = {}  # timestamp -> the newest published frame carrying it
    damaged_ts: set[str] = set()  # timestamps only damaged frames carried: never to be shown
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
            pollers = [asyncio.create_task(_poll_http(queues["http"], http, latest_by_ts, damaged_ts, checks))]
            if modbus is not None:
                queues["modbus"] = asyncio.Queue()
                pollers.append(asyncio.create_task(_poll_modbus(queues["modbus"], modbus, sent, checks)))
            try:
                state = ExpectedState()
                by_list: Counter[int] = Counter()
                t0 = time.monotonic() + 0.1
                frames_total = sum(1 for e in emissions if e.reading is not None or e.counts)
                failures = counted = 0
                for i, emission in enumerate(emissions):
                    delay = t0 + emission.t / speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    for poller in pollers:
                        if poller.done():
                            poller.result()  # a poller that died raises its error here, at once
                    if not dut.alive():
                        raise DutError(f"the DUT exited after {i} of {len(emissions)} writes")
                    if on_request and link.request_line() is False:
                        result.held += 1  # a P1 meter sends nothing while the request is low
                        result.expected_counts.subtract(emission.counts)
                        continue
                    t_end = await loop.run_in_executor(None, link.write, emission.data, _note(emission))
                    result.writes += 1
                    reading = local_reading(emission.reading or {}, bench.timezone)
                    ts = reading.get("timestamp")
                    if emission.published:
                        record = SentFrame(len(sent), emission.at or _no_time(), emission.list or 0,
                                           reading, state.apply(reading), t_end,
                                           t_end + interval_real + MARGIN_S, partial)
                        sent.append(record)
                        if ts is not None:
                            latest_by_ts[ts] = record.index
                            damaged_ts.discard(ts)
                        by_list[record.list_no] += 1
                        for queue in queues.values():
                            queue.put_nowait(record)
                    elif emission.counts.get("frames_ok") and emission.reading is None:
                        result.unjudged += 1
                    elif ts is not None and ts not in latest_by_ts:
                        damaged_ts.add(ts)
                    log.write(json.dumps({"write": i, "t": round(emission.t, 6), "t_end": round(t_end - t0, 6),
                                          "list": emission.list, "fault": emission.fault,
                                          "counts": dict(emission.counts), "hex": emission.data.hex(),
                                          "reading": emission.reading}) + "\n")
                    if progress:  # count new verdicts only: a day holds 130,000 checks
                        failures += sum(1 for c in checks[counted:] if c.outcome is Outcome.FAIL)
                        counted = len(checks)
                        progress(Progress(sum(by_list.values()), frames_total, by_list, failures))
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
                checks.extend(check_mqtt(mqtt.messages, mqtt.errors, sent, damaged_ts, result.unjudged))


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


async def _poll_http(
    queue: asyncio.Queue[SentFrame | None],
    http: HttpProbe,
    latest_by_ts: dict[str, int],
    damaged_ts: set[str],
    checks: list[Check],
) -> None:
    """For each frame: read /meter back to back until it shows that frame, a newer one, or time is up."""
    while (frame := await queue.get()) is not None:
        ts = frame.reading.get("timestamp")
        while True:
            reading = await asyncio.to_thread(http.meter)
            now = time.monotonic()
            shown = reading.get("timestamp") if reading else None
            if shown in damaged_ts:
                checks.append(Check("http", frame.index, Outcome.FAIL,
                                    detail=f"/meter shows the damaged frame of {shown}"))
                break
            seen = latest_by_ts.get(shown) if shown else None
            # a frame whose expectations name no clock (a recording's) is recognised by its values alone
            this = shown == ts if ts is not None else reading is not None
            if this and not judge("http", frame.expected, reading, frame.partial):
                checks.append(Check("http", frame.index, Outcome.PASS, now - frame.t_end))
                break
            if seen is not None and seen > frame.index and shown != ts:
                checks.append(Check("http", frame.index, Outcome.OVERTAKEN, detail=f"frame {seen} shown"))
                break
            if now > frame.deadline:
                if this:
                    checks.append(Check("http", frame.index, Outcome.FAIL, now - frame.t_end,
                                        judge("http", frame.expected, reading, frame.partial)))
                else:
                    shown = shown or "503 (no reading)"
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
            mismatches = judge("modbus", frame.expected, reading, frame.partial)
            if not mismatches:
                latency = now - frame.t_end if changed else None
                checks.append(Check("modbus", frame.index, Outcome.PASS, latency))
                break
            newer = [s for s in sent[frame.index + 1:] if not judge("modbus", s.expected, reading, s.partial)]
            if newer:
                checks.append(Check("modbus", frame.index, Outcome.OVERTAKEN,
                                    detail=f"frame {newer[0].index} shown"))
                break
            if now > frame.deadline:
                checks.append(Check("modbus", frame.index, Outcome.FAIL, None, mismatches,
                                    "not shown within one frame interval"))
                break
        previous = frame


def check_mqtt(
    messages: Sequence, errors: Sequence[str], sent: Sequence[SentFrame], damaged_ts: set[str], unjudged: int = 0
) -> list[Check]:
    """Every published frame must arrive exactly once on MQTT, in time, with the values sent; damaged
    ones never. Frames sent twice (a duplicated frame) must arrive twice. ``unjudged`` frames (decoded,
    values unknown to the rig) may each bring one message the rig cannot match."""
    checks: list[Check] = []
    pending = sent_frame_ids(sent)
    clockless = deque(f.index for f in sent if f.reading.get("timestamp") is None)  # matched in order
    arrivals: dict[int, object] = {}
    unknown = 0
    for message in messages:
        shown = message.reading.get("timestamp")
        if shown in damaged_ts:
            checks.append(Check("mqtt", -1, Outcome.FAIL, detail=f"published the damaged frame of {shown}"))
            continue
        queue = pending.get(shown) or clockless
        if queue:
            arrivals[queue.popleft()] = message
            continue
        unknown += 1
        if unknown > unjudged:
            what = "one more message than frames sent" if shown in pending else "message for a frame never sent"
            checks.append(Check("mqtt", -1, Outcome.FAIL, detail=f"{what}: {message.payload}"))
    for error in errors:
        checks.append(Check("mqtt", -1, Outcome.FAIL, detail=f"malformed message: {error}"))
    for frame in sent:
        message = arrivals.get(frame.index)
        if message is None:
            checks.append(Check("mqtt", frame.index, Outcome.FAIL, detail="no message received"))
            continue
        mismatches = judge("mqtt", frame.expected, message.reading, frame.partial)
        latency = message.arrival - frame.t_end
        if mismatches:
            checks.append(Check("mqtt", frame.index, Outcome.FAIL, latency, mismatches))
        elif message.arrival > frame.deadline:
            checks.append(Check("mqtt", frame.index, Outcome.FAIL, latency,
                                detail=f"arrived {latency * 1000:.0f} ms after the frame, later than one interval"))
        else:
            checks.append(Check("mqtt", frame.index, Outcome.PASS, latency))
    return checks
