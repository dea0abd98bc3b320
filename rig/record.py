"""Every run a record: what a run measured, as named values with units and limits, and who it measured.

A :class:`Measurement` is one value (a count, a latency) with the limits it is judged against; a
:class:`Record` is one run of one DUT: its verdict, the DUT as it named itself, the rig, the station, the
meter played, every measurement and every failed check. ``Record.as_dict()`` is the data every output
and the results store take (schema ``han-rig-record/1``); ``Record.from_dict()`` reads it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rig.stream_result import JUDGED_COUNTERS, MARGIN_S

if TYPE_CHECKING:
    from rig.bench import Bench
    from rig.checks import InterfaceSummary
    from rig.runner import RunResult

SCHEMA = "han-rig-record/1"
Outcome = Literal["pass", "fail", "unset"]


@dataclass
class Measurement:
    """One measured value: judged against ``low``/``high`` (inclusive) and/or ``expected`` ± ``tolerance``.

    ``outcome`` is "unset" for a value with no limits; a value that could not be measured (None) against
    limits fails, since nothing shows it within them.
    """

    name: str
    value: float | int | None
    unit: str
    low: float | None = None
    high: float | None = None
    expected: float | int | None = None
    tolerance: float | None = None
    outcome: Outcome = "unset"

    @property
    def has_limits(self) -> bool:
        return self.low is not None or self.high is not None or self.expected is not None

    def judge(self) -> Measurement:
        """Set ``outcome`` from the limits; returns the measurement."""
        if not self.has_limits:
            self.outcome = "unset"
        elif self.value is None:
            self.outcome = "fail"
        else:
            within = ((self.low is None or self.value >= self.low)
                      and (self.high is None or self.value <= self.high)
                      and (self.expected is None or abs(self.value - self.expected) <= (self.tolerance or 0)))
            self.outcome = "pass" if within else "fail"
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(**{k: data.get(k) for k in ("name", "value", "unit", "low", "high", "expected", "tolerance")},
                   outcome=data.get("outcome", "unset"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Record:
    """One run of one DUT. ``dut``: serial, model, firmware (read from the DUT; None when it did not
    answer), kind and, when known, build (the firmware build a software DUT ran: spec, commit or path,
    tree_hash); ``station``: bench, station, bench_file; ``meter``: profile, capture, speed, start,
    duration_s; ``links``: run_dir and logs (file name: path)."""

    verdict: str
    started: str
    ended: str
    duration_s: float
    dut: dict[str, Any]
    station: dict[str, Any]
    meter: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, Any] = field(default_factory=dict)
    rig: dict[str, Any] = field(default_factory=lambda: {"version": rig_version()})
    kind: str = "run"
    name: str | None = None  # what ran: a scenario's test id (kind "scenario"); None for a `rig run`
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def measurement(self, name: str) -> Measurement:
        """The measurement called ``name``; KeyError when the record has none."""
        for m in self.measurements:
            if m.name == name:
                return m
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (the contract of schema ``han-rig-record/1``)."""
        return {
            "schema": SCHEMA,
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "verdict": self.verdict,
            "started": self.started,
            "ended": self.ended,
            "duration_s": self.duration_s,
            "dut": dict(self.dut),
            "rig": dict(self.rig),
            "station": dict(self.station),
            "meter": dict(self.meter),
            "measurements": [m.as_dict() for m in self.measurements],
            "failures": list(self.failures),
            "links": dict(self.links),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """A record from ``as_dict()`` data; ValueError for another schema."""
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} record: schema {data.get('schema')!r}")
        return cls(
            id=data["id"], kind=data["kind"], name=data.get("name"), verdict=data["verdict"], started=data["started"],
            ended=data["ended"], duration_s=data["duration_s"], dut=dict(data["dut"]), rig=dict(data["rig"]),
            station=dict(data["station"]), meter=dict(data["meter"]),
            measurements=[Measurement.from_dict(m) for m in data["measurements"]],
            failures=list(data["failures"]), links=dict(data["links"]),
        )


def rig_version() -> str | None:
    """The installed han-rig's version (None when it is not installed as a package)."""
    try:
        return metadata.version("han-rig")
    except metadata.PackageNotFoundError:
        return None


def read_dut_identity(http_url: str, timezone: str = "Europe/Oslo", timeout: float = 2.0) -> dict[str, Any]:
    """The DUT as it names itself: serial, model and firmware from its ``GET /han`` (the model from
    ``GET /configuration`` when /han has none). Values it did not give are None (an unreachable DUT: all)."""
    from rig.probes.base import ProbeError
    from rig.probes.http import HttpProbe

    probe = HttpProbe(http_url, timeout=timeout, tz=timezone)
    found: dict[str, Any] = {"serial": None, "model": None, "firmware": None}
    try:
        state = probe.state()
        found.update(serial=state.get("serial"), model=state.get("model"), firmware=state.get("version"))
        if found["model"] is None:
            found["model"] = (probe.configuration().get("device") or {}).get("model")
    except (ProbeError, AttributeError):  # unreachable, or not the JSON objects the API promises
        pass
    finally:
        probe.session.close()
    return found


def count_measurements(frames_sent: int, expected_counts: Mapping[str, int],
                       counted: Mapping[str, int] | None) -> list[Measurement]:
    """Frames sent (one at least), frames decoded and each error counter of the DUT (``counted``; None:
    unknown) against what a correct reader counts (``expected_counts``), all judged."""
    # what a correct reader decodes: every frame sent, less those faults damaged, plus any good frame a
    # capture holds no expectations for
    decodable = expected_counts.get("frames_ok", frames_sent)
    decoded = None if counted is None else int(counted.get("frames_ok", 0))
    out = [Measurement("frames_sent", frames_sent, "frames", low=1),
           Measurement("frames_decoded", decoded, "frames", expected=decodable, tolerance=0)]
    if counted is not None:  # frames a correct reader accounts for (decoded or counted) that the DUT did not
        accounted = sum(int(counted.get(name, 0)) for name in JUDGED_COUNTERS)
        should = sum(expected_counts.get(name, 0) for name in JUDGED_COUNTERS[1:]) + decodable
        out.append(Measurement("frames_lost", max(0, should - accounted), "frames", high=0))
    for name in JUDGED_COUNTERS[1:]:
        want = expected_counts.get(name, 0)
        got = None if counted is None else counted.get(name, 0)
        if want or got:
            out.append(Measurement(name, got, "frames", expected=want, tolerance=0))
    return [m.judge() for m in out]


def interface_measurements(interfaces: Mapping[str, InterfaceSummary],
                           latency_limit_ms: float | None) -> list[Measurement]:
    """Per interface: checks passed, failed (none allowed) and overtaken, and the latency p50, p99 and max
    (in ms, at most ``latency_limit_ms`` when given; none when nothing was timed), all judged."""
    out = []
    for interface, summary in interfaces.items():
        out += [Measurement(f"{interface}.passed", summary.passed, "checks"),
                Measurement(f"{interface}.failed", summary.failed, "checks", high=0),
                Measurement(f"{interface}.overtaken", summary.overtaken, "checks")]
        latency = summary.as_dict()["latency_ms"]
        for q in ("p50", "p95", "p99", "max"):
            if latency.get(q) is not None:
                out.append(Measurement(f"{interface}.latency_{q}", latency[q], "ms", high=latency_limit_ms))
    return [m.judge() for m in out]


def run_measurements(result: RunResult, interval_s: float | None) -> list[Measurement]:
    """The judged measurements of a `rig run`: its counts, each interface's checks and latencies (each
    within one frame interval of ``interval_s`` meter seconds at the run's speed, + 100 ms), its real time."""
    limit_ms = None if interval_s is None else round((interval_s / result.speed + MARGIN_S) * 1000, 3)
    return (count_measurements(result.frames_sent, result.expected_counts, result.dut_counters)
            + interface_measurements(result.interfaces, limit_ms)
            + [Measurement("real_time_s", round(result.real_time_s, 2), "s").judge()])


def dut_measurements(facts: Mapping[str, Any]) -> list[Measurement]:
    """What the run saw of the DUT itself, when known: its boot time (``boot_s``, from start to READY) and
    its free heap at the end of the run (``free_heap_end``, bytes), unjudged."""
    out = []
    if facts.get("boot_s") is not None:
        out.append(Measurement("dut.boot_time", round(float(facts["boot_s"]) * 1000, 1), "ms"))
    if facts.get("free_heap_end") is not None:
        out.append(Measurement("dut.free_heap", int(facts["free_heap_end"]), "bytes"))
    return [m.judge() for m in out]


def read_free_heap(http_url: str, timeout: float = 2.0) -> int | None:
    """The DUT's free heap in bytes from its ``GET /health``; None when it does not answer or say."""
    from rig.probes.base import ProbeError
    from rig.probes.http import HttpProbe

    probe = HttpProbe(http_url, timeout=timeout)
    try:
        heap = probe.health().get("free_heap")
        return heap if isinstance(heap, int) and not isinstance(heap, bool) else None
    except (ProbeError, AttributeError):
        return None
    finally:
        probe.session.close()


SECRET_NAMES = frozenset({"key", "auth_key", "password", "token", "read_token"})


def redact_keys(value: Any) -> Any:
    """``value`` with every secret (a ``key``, ``auth_key``, ``password`` or token entry of a mapping, at any
    depth) shown as ``***``: the meter keys a run used never reach a record, a report or the store."""
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_NAMES and v not in (None, "") else redact_keys(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_keys(v) for v in value]
    return value


def record_of_run(result: RunResult, bench: Bench, interval_s: float | None = None,
                  identity: dict[str, Any] | None = None, started: str | None = None,
                  ended: str | None = None) -> Record:
    """The record of a `rig run`; ``identity`` is what :func:`read_dut_identity` read from the DUT, with
    ``build``, ``boot_s`` and ``free_heap_end`` when known (see :func:`dut_measurements`)."""
    identity = identity or {}
    run_dir = result.run_dir
    logs = {} if run_dir is None or not run_dir.is_dir() else {
        p.name: str(p) for p in sorted(Path(run_dir).iterdir()) if p.is_file()}
    return Record(
        verdict=result.verdict,
        started=started or _now(),
        ended=ended or _now(),
        duration_s=round(result.real_time_s, 2),
        dut={"serial": identity.get("serial") or bench.serial_number, "model": identity.get("model"),
             "firmware": identity.get("firmware"), "kind": bench.dut_kind,
             **({"build": identity["build"]} if identity.get("build") else {})},
        station={"bench": bench.name, "station": bench.station, "bench_file": str(bench.path)},
        meter={"profile": result.meter, "capture": result.capture, "speed": result.speed,
               "start": result.start, "duration_s": result.duration_s,
               **({"security": redact_keys(result.security)} if getattr(result, "security", None) else {})},
        measurements=run_measurements(result, interval_s) + dut_measurements(identity),
        failures=[c.as_dict() for c in result.failures[:50]],  # every check is in checks.jsonl
        links={"run_dir": str(run_dir) if run_dir else None, "logs": logs},
    )
