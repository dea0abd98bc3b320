"""`rig run`: stream a meter (or a capture) into a bench's DUT and check every output against it.

The meter's frames go out on their real schedule (compressed by ``speed``), clean or shaped by fault
injectors (``--fault``); a capture is replayed with its recorded timing. The engine (``rig.engine``)
checks each interface on every frame and the DUT's counters against what a correct reader counts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rig.bench import Bench
from rig.checks import Check, InterfaceSummary
from rig.dut.firmware_tree import FirmwareBuild
from rig.emulators import Meter, get_profile
from rig.emulators.faults import Emission, Fault, apply_faults, iter_emissions_from_frames
from rig.emulators.security import Security
from rig.engine import stream_and_check
from rig.line import LineSettings
from rig.outputs import Destination, Written, write_outputs
from rig.outputs.text import counter_table, format_summary
from rig.record import Record, read_dut_identity, read_free_heap, record_of_run
from rig.resolution import describe as describe_resolution
from rig.resolution import meter_format
from rig.runclock import RunClock
from rig.session import Interrupted, StopSignals, check_run_dir, open_meter_link, start_broker, start_dut
from rig.stream_result import (
    CAPTURE_INTERVAL_S,
    ERROR_COUNTERS,
    INTERFACES,
    Progress,
    StreamResult,
    checking_policy,
)

__all__ = ["ERROR_COUNTERS", "Progress", "RunOptions", "RunResult", "StreamResult", "counter_table",
           "default_start", "format_summary", "run", "stream_and_check"]

DEFAULT_CAPTURE_LINE = LineSettings(2400, 8, "E", 1)


@dataclass
class RunResult:
    """Everything a run measured; ``ok`` only when every frame was decoded or counted as the error it
    is, exactly as a correct reader counts, and every check passed."""

    meter: str
    speed: float
    start: str
    duration_s: float
    frames_sent: int
    frames_by_list: dict[int, int]
    dut_counters: dict[str, int] | None  # None: the DUT's counters could not be read
    interfaces: dict[str, InterfaceSummary]
    failures: list[Check] = field(default_factory=list)
    real_time_s: float = 0.0
    run_dir: Path | None = None
    error: str | None = None
    expected_counts: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    count_mismatches: list[str] = field(default_factory=list)
    capture: str | None = None
    meter_format: str | None = None  # the meter's format, whose resolution the checks allow (rig.resolution)
    interrupted: str | None = None  # the signal that stopped the run ("SIGINT", "SIGTERM")
    record: Record | None = None  # the run's record (rig.record), made when the run ends
    outputs: list[Written] = field(default_factory=list)  # what each output (rig.outputs) did with it
    timing: dict[str, float] = field(default_factory=dict)  # where the real time went, seconds (rig.engine)
    security: dict[str, object] | None = None  # the meter's ciphering (general-glo-ciphering), keys as "***"

    @property
    def frames_decoded(self) -> int | None:
        """Frames the DUT decoded, None when its counters could not be read."""
        return None if self.dut_counters is None else int(self.dut_counters.get("frames_ok", 0))

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.interrupted is None
            and self.frames_sent > 0
            and not self.count_mismatches
            and not self.failures
            and all(s.failed == 0 for s in self.interfaces.values())
        )

    @property
    def verdict(self) -> str:
        """"pass", "fail", or "interrupted" (a stopped run is neither, whatever it checked until then)."""
        if self.interrupted:
            return "interrupted"
        return "pass" if self.ok else "fail"

    def absorb(self, streamed: StreamResult) -> None:
        """Take the frames, checks and DUT counters of a stream into this run's result."""
        self.frames_sent = streamed.frames_sent
        self.frames_by_list = dict(streamed.frames_by_list)
        self.dut_counters = None if streamed.counters_error else streamed.dut_counters  # None: unknown
        self.meter_format = streamed.meter_format
        self.expected_counts = {k: v for k, v in streamed.expected_counts.items() if v}
        self.faults = dict(streamed.faults)
        self.count_mismatches = streamed.count_mismatches()
        self.interfaces.update(streamed.interfaces)
        self.failures = streamed.failures  # the first ones; every check is in checks.jsonl
        self.timing.update(streamed.timing)
        self.error = streamed.error

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "meter": self.meter,
            "capture": self.capture,
            "speed": self.speed,
            "start": self.start,
            "duration_s": self.duration_s,
            "real_time_s": round(self.real_time_s, 2),
            "frames_sent": self.frames_sent,
            "frames_by_list": {str(k): v for k, v in sorted(self.frames_by_list.items())},
            "frames_decoded": self.frames_decoded,
            "faults": self.faults,
            "expected_counts": self.expected_counts,
            "dut_counters": self.dut_counters,
            "count_mismatches": self.count_mismatches,
            "interfaces": {name: s.as_dict() for name, s in self.interfaces.items()},
            "resolution": self.resolution(),
            "checking": checking_policy(self.interfaces, self.frames_sent),
            "timing_s": {k: round(v, 3) for k, v in self.timing.items()},
            "failures_total": max(len(self.failures), sum(s.failed for s in self.interfaces.values())),
            "failures": [c.as_dict() for c in self.failures[:50]],  # every check is in checks.jsonl
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "error": self.error,
            "interrupted": self.interrupted,
            "verdict": self.verdict,
            **({"security": self.security} if self.security else {}),
        }

    def resolution(self) -> dict[str, object]:
        """The meter format the values were judged at (None: unknown) and each interface's steps."""
        fmt = self.meter_format
        return {"meter_format": fmt, **{name: describe_resolution(name, fmt) for name in self.interfaces}}


@dataclass
class RunOptions:
    """What `rig run` was asked to do: a meter on its schedule, or a capture (``capture``) replayed."""

    bench: Bench
    run_dir: Path
    meter: str | None = None
    duration_s: float = 60.0
    speed: float = 1.0
    seed: int = 1
    start: datetime | None = None
    progress: Callable[[Progress], None] | None = None
    faults: Sequence[Fault] = ()
    capture: Path | None = None
    scenario: str | None = None  # the meter's load scenario (rig.emulators.loads); None: household
    db_url: str | None = None  # the results database the record goes to (rig.results.store); None: none
    firmware: FirmwareBuild | None = None  # the build the software DUT runs (rig.dut.firmware_tree); None: the rig's
    security: Security | None = None  # how the meter ciphers its frames; None: the profile's own (if it encrypts)
    # the meter keys the DUT is configured with ({"key": hex, "auth_key": hex}); None: the meter's own
    dut_keys: dict[str, str | None] | None = None


def default_start(now: datetime | None = None) -> datetime:
    """Half a minute before the next full hour, so a short run sees List 1, List 2 and the hourly List 3."""
    now = (now or datetime.now()).replace(microsecond=0)
    next_hour = now.replace(minute=0, second=0) + timedelta(hours=1)
    return next_hour - timedelta(seconds=30)


@dataclass
class _Plan:
    """What a run streams: the writes, on which line, at what pace."""

    label: str
    meter: str | None  # the profile id the line's capture names, when known
    line: LineSettings
    emissions: Iterable[Emission]  # a generator for a clean meter: each frame built when the stream needs it
    interval_s: float
    start: str
    duration_s: float
    partial: bool = False  # a capture's expectations name only some fields
    on_request: bool = False  # a P1 meter: it sends only while the reader raises the data-request line
    timezone: str | None = None  # the meter clock's zone (the DUT and the probes read local time in it)
    meter_format: str | None = None  # the meter's format, whose resolution checks allow (rig.resolution)
    frames_total: int | None = None  # the frames to publish, when known before streaming (progress)
    meter_keys: dict[str, str] | None = None  # what the DUT is configured with (secrets: never written out)
    security: dict[str, object] | None = None  # the meter's ciphering, keys redacted


def _plan(options: RunOptions) -> _Plan:
    """The emissions of a run; ValueError for a request the rig cannot honour (nothing has started)."""
    bench = options.bench
    if options.capture is not None:
        from rig.capture import load_capture
        from rig.emulators.faults import emissions_from_capture

        capture = load_capture(options.capture)
        emissions = emissions_from_capture(capture)
        if not emissions:
            raise ValueError(f"{options.capture}: the capture holds no bytes")
        emissions = apply_faults(emissions, options.faults, seed=options.seed, line=capture.line)
        line = capture.line or DEFAULT_CAPTURE_LINE
        return _Plan(capture.meter or Path(options.capture).stem, capture.meter, line, emissions,
                     CAPTURE_INTERVAL_S, capture.started or "", capture.duration_s, partial=True,
                     meter_format=_capture_format(capture.meter), meter_keys=_dut_keys(options.dut_keys))
    profile = get_profile(options.meter or bench.profile)
    start = options.start or default_start()
    meter = Meter(profile, seed=options.seed, start=start, load=options.scenario, security=options.security)
    # Meter time is absolute: the duration is real time, across daylight-saving changes (23 h / 25 h days).
    began = meter.utc_of(start)  # ValueError for a start in the hour the clock skips
    until = meter.local_of(began + timedelta(seconds=options.duration_s))
    # Lazily: each frame is built as the stream reaches it. Fault injectors see the whole stream (the middle
    # of it, one random sequence over it), so a faulted stream is planned in full.
    emissions: Iterable[Emission] = iter_emissions_from_frames(meter.frames(start=start, until=until), began)
    total = None
    if options.faults:
        emissions = apply_faults(list(emissions), options.faults, seed=options.seed, meter=meter)
    else:
        total = sum(1 for _ in profile.schedule.frame_times(start, until=until, timezone=meter.timezone))
    return _Plan(profile.id, profile.id, profile.line, emissions, profile.frame_interval_s, start.isoformat(),
                 options.duration_s, timezone=meter.timezone, on_request=profile.protocol.startswith("P1"),
                 meter_format=meter_format(profile.protocol), frames_total=total,
                 meter_keys=_dut_keys(options.dut_keys if options.dut_keys is not None
                                      else meter.security.config_keys() if meter.security else None),
                 security=meter.security.redacted() if meter.security else None)


def _dut_keys(keys: Mapping[str, str | None] | None) -> dict[str, str] | None:
    """The keys given to the DUT's config, those not set left out (None: none at all)."""
    kept = {name: value for name, value in (keys or {}).items() if value}
    return kept or None


def _capture_format(meter: str | None) -> str | None:
    """The format of the meter a capture names, when it names a profile of the rig."""
    try:
        return meter_format(get_profile(meter).protocol) if meter else None
    except KeyError:
        return None


def run(options: RunOptions) -> RunResult:
    """Bring the bench up, stream the meter or the capture, check every interface, bring the bench down.

    One :class:`RunClock` times every log of the run. SIGINT or SIGTERM stops the run at once, while the
    bench starts or while it streams: the bench comes down all the same and the result, ``interrupted``
    naming the signal, keeps what was checked until then. ``RunDirInUse`` (a ValueError) for a run folder
    that already holds files; another ValueError for a request the rig cannot honour (nothing ran).
    """
    run_dir = options.run_dir
    check_run_dir(run_dir)
    clock = RunClock()
    with StopSignals() as signals:
        plan: _Plan | None = None
        with contextlib.suppress(Interrupted), signals.raising():
            plan = _plan(options)
        planned = clock.elapsed()
        result = RunResult(
            meter=plan.label if plan else _label(options),
            speed=options.speed,
            start=plan.start if plan else "",
            duration_s=plan.duration_s if plan else options.duration_s,
            frames_sent=0,
            frames_by_list={},
            dut_counters={},
            interfaces={name: InterfaceSummary(name) for name in INTERFACES},
            run_dir=run_dir,
            capture=str(options.capture) if options.capture else None,
            security=plan.security if plan else None,
        )
        run_dir.mkdir(parents=True, exist_ok=True)
        identity: dict[str, Any] = {}  # the DUT as it names itself, read once it is up
        timing: dict[str, float] = {}
        if plan is not None:
            with contextlib.suppress(Interrupted):
                result.absorb(_run_bench(options, plan, clock, signals, identity, timing))
        signals.seal()  # the result is decided
        result.interrupted = signals.received
        result.real_time_s = clock.elapsed()
        down = {"bench_down_s": timing.pop("bench_down_s")} if "bench_down_s" in timing else {}
        result.timing = {"plan_s": planned, **timing, **result.timing, **down}  # in the order they happened
        result.record = record_of_run(result, options.bench, plan.interval_s if plan else None, identity,
                                      started=clock.started.isoformat(timespec="milliseconds"),
                                      ended=datetime.now(UTC).isoformat(timespec="milliseconds"))
        writing = clock.elapsed()
        result.outputs = write_outputs(result.record, result, Destination(run_dir, options.db_url))
        result.timing["outputs_s"] = clock.elapsed() - writing  # shown by `rig run`, after the files are written
    return result


def _label(options: RunOptions) -> str:
    """What a run plays, named before its plan is made."""
    return Path(options.capture).stem if options.capture else options.meter or options.bench.profile


def _run_bench(options: RunOptions, plan: _Plan, clock: RunClock, signals: StopSignals,
               identity: dict[str, Any], timing: dict[str, float]) -> StreamResult:
    """Start the bench (``Interrupted`` by a signal), read the DUT's identity into ``identity``, stream
    into it until done or stopped, stop it; ``timing`` gets the seconds each of those took."""
    bench = options.bench
    if plan.timezone and plan.timezone != bench.timezone:
        bench = replace(bench, timezone=plan.timezone)  # the reader reads the meter's clock in its zone
    run_dir = options.run_dir
    with ExitStack() as stack:
        stack.callback(lambda: "_down" in timing and timing.update(bench_down_s=clock.elapsed() - timing.pop("_down")))
        with signals.raising():
            began = clock.elapsed()
            broker, mosquitto = start_broker(bench, run_dir, clock)
            if mosquitto:
                stack.callback(mosquitto.stop)
            link = open_meter_link(bench, plan.line, options.speed, run_dir, meter=plan.meter, clock=clock)
            stack.callback(link.close)
            dut = start_dut(bench, run_dir, link, broker, clock_scale=options.speed, clock=clock,
                            firmware=options.firmware, meter_keys=plan.meter_keys)
            stack.callback(dut.stop)
            stack.callback(lambda: identity.update(free_heap_end=read_free_heap(dut.http_url)))  # before the stop
            timing["bench_up_s"] = (up := clock.elapsed()) - began
            identity.update(read_dut_identity(dut.http_url, bench.timezone), boot_s=getattr(dut, "boot_s", None),
                            build=getattr(dut, "build", None))
            timing["identity_s"] = clock.elapsed() - up

        async def stream() -> StreamResult:
            stop = asyncio.Event()
            with signals.watching(stop):
                try:
                    return await stream_and_check(
                        plan.emissions, link, dut, broker, bench, plan.interval_s, options.speed, run_dir,
                        options.progress, partial=plan.partial, on_request=plan.on_request, stop=stop, clock=clock,
                        meter_format=plan.meter_format, keep=False, total=plan.frames_total,
                    )
                finally:
                    signals.seal()  # the stream is over: the bench comes down whatever arrives now

        streamed = asyncio.run(stream())
        timing["_down"] = clock.elapsed()
        return streamed
