"""Compare the run records of two firmware builds: what newly fails, newly passes, and what moved.

Sans-IO: records (``Record`` objects or their ``as_dict()`` data, schema ``han-rig-record/1``) in, a
:class:`Regression` out. Each side is one or more runs of the same job on one build.

**Checks.** Every judged measurement (one with limits: frames decoded, frames lost, failed checks per
interface, latency within its limit, ...) and the run's verdict. A side's outcome of an item is "pass"
when it passed in every run, "fail" when it failed in every run, "mixed" otherwise. An item *newly fails*
when it passed in every base run and fails in every head run (a regression); it *newly passes* the other
way round; an item whose head runs disagree where the base passed throughout is *unstable* (shown, not a
regression: more repeats tell).

**Moved.** The measurements in :data:`RULES` (latency quantiles per interface, frames decoded and lost,
the DUT's boot time and free heap) are compared by their medians over each side's runs::

    threshold = max(k * spread, floor, rel * |median(base)|)
    spread    = max(max - min of the base runs, max - min of the head runs)    (run-to-run noise)
    moved     = |median(head) - median(base)| > threshold

``floor`` (an absolute amount in the measurement's unit) and ``rel`` (a fraction of the base) come from
the measurement's rule; ``k`` is 3 unless given. A move in the direction the rule calls worse is a
regression; the other way an improvement. With one run a side, the spread is 0 and the floors decide.
"""

from __future__ import annotations

import fnmatch
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Worse = Literal["higher", "lower"]
Status = Literal["newly_failing", "regressed", "unstable", "newly_passing", "improved", "unchanged",
                 "only_base", "only_head"]
REGRESSIONS: tuple[Status, ...] = ("newly_failing", "regressed")
STATUS_TEXT: dict[str, str] = {
    "newly_failing": "newly fails", "regressed": "worse beyond noise", "unstable": "unstable in head",
    "newly_passing": "newly passes", "improved": "better beyond noise", "unchanged": "unchanged",
    "only_base": "only in base", "only_head": "only in head",
}
DEFAULT_K = 3.0


@dataclass(frozen=True)
class Rule:
    """How one kind of measurement is compared: which way is worse and the smallest move that counts."""

    pattern: str  # an fnmatch pattern over measurement names
    worse: Worse
    floor: float  # in the measurement's unit
    rel: float = 0.0  # a fraction of |median(base)|


RULES: tuple[Rule, ...] = (
    Rule("*.latency_*", "higher", floor=5.0, rel=0.5),  # ms: host jitter is a few ms; tails are noisy
    Rule("frames_decoded", "lower", floor=0.5),  # frames: counts are exact, one frame is a move
    Rule("frames_lost", "higher", floor=0.5),
    Rule("dut.boot_time", "higher", floor=100.0, rel=0.5),  # ms: process start on a loaded host varies
    Rule("dut.free_heap", "lower", floor=16384.0, rel=0.1),  # bytes after a collection: buffers in flight vary
)


def rule_for(name: str, rules: Sequence[Rule] = RULES) -> Rule | None:
    """The first rule whose pattern matches ``name``; None: the measurement is not compared for moves."""
    return next((r for r in rules if fnmatch.fnmatchcase(name, r.pattern)), None)


@dataclass
class Side:
    """One build's runs: its label (what was asked for), the build the records state, and each run."""

    label: str
    build: dict[str, Any] | None
    runs: list[dict[str, Any]]  # per run: id, verdict, run_dir, logs, started

    @property
    def run_dirs(self) -> list[str]:
        return [r["run_dir"] for r in self.runs if r.get("run_dir")]


@dataclass
class Item:
    """One compared check or measurement across both sides."""

    name: str
    unit: str
    kind: Literal["check", "measurement", "verdict"]
    status: Status
    base: list[Any]  # the value in each base run (None: not measured there)
    head: list[Any]
    base_outcome: str | None = None  # "pass", "fail", "mixed"; None for an unjudged measurement
    head_outcome: str | None = None
    base_median: float | None = None
    head_median: float | None = None
    delta: float | None = None
    threshold: float | None = None
    spread: float | None = None
    worse: Worse | None = None
    note: str = ""

    @property
    def regression(self) -> bool:
        return self.status in REGRESSIONS

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "name", "unit", "kind", "status", "base", "head", "base_outcome", "head_outcome", "base_median",
            "head_median", "delta", "threshold", "spread", "worse", "note")}


@dataclass
class Regression:
    """The comparison of a head build against a base build."""

    base: Side
    head: Side
    items: list[Item]
    k: float = DEFAULT_K
    same_job: bool = True  # both sides ran the same meter, start, duration and speed
    job_note: str = ""  # what differs when they did not
    failures: dict[str, list[str]] = field(default_factory=dict)  # side -> texts of the failed checks seen

    @property
    def regressions(self) -> list[Item]:
        return [i for i in self.items if i.regression]

    @property
    def improvements(self) -> list[Item]:
        return [i for i in self.items if i.status in ("newly_passing", "improved")]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def by_status(self, *statuses: str) -> list[Item]:
        return [i for i in self.items if i.status in statuses]

    def verdict(self) -> str:
        """One line: regression or not, and how many of what."""
        if not self.regressed:
            better = f", {len(self.improvements)} better" if self.improvements else ""
            return f"NO REGRESSION: {len(self.items)} items compared{better}"
        counts = [f"{len(self.by_status(s))} {STATUS_TEXT[s]}" for s in REGRESSIONS if self.by_status(s)]
        return "REGRESSION: " + ", ".join(counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "regressed": self.regressed,
            "verdict": self.verdict(),
            "k": self.k,
            "same_job": self.same_job,
            "job_note": self.job_note,
            "base": {"label": self.base.label, "build": self.base.build, "runs": self.base.runs},
            "head": {"label": self.head.label, "build": self.head.build, "runs": self.head.runs},
            "items": [i.as_dict() for i in self.items],
            "failures": self.failures,
        }


def _data(record: Any) -> dict[str, Any]:
    data = record.as_dict() if hasattr(record, "as_dict") else record
    if not isinstance(data, Mapping) or not str(data.get("schema", "")).startswith("han-rig-record/"):
        raise ValueError(f"not a run record: {type(record).__name__}")
    return dict(data)


def _side(label: str, records: list[dict[str, Any]]) -> Side:
    builds = [r.get("dut", {}).get("build") for r in records]
    runs = [{"id": r.get("id"), "verdict": r.get("verdict"), "started": r.get("started"),
             "run_dir": (r.get("links") or {}).get("run_dir"), "logs": (r.get("links") or {}).get("logs") or {}}
            for r in records]
    return Side(label, builds[0] if builds else None, runs)


def _job(record: dict[str, Any]) -> dict[str, Any]:
    meter = record.get("meter") or {}
    return {k: meter.get(k) for k in ("profile", "capture", "speed", "start", "duration_s")}


def _outcome(outcomes: list[str | None]) -> str | None:
    judged = [o for o in outcomes if o in ("pass", "fail")]
    if not judged or len(judged) < len(outcomes):
        return None if not judged else "mixed"
    return judged[0] if len(set(judged)) == 1 else "mixed"


def _numbers(values: list[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _moved(name: str, unit: str, base: list[Any], head: list[Any], rule: Rule, k: float) -> Item | None:
    b, h = _numbers(base), _numbers(head)
    if not b or not h:
        return None
    spread = max(max(b) - min(b), max(h) - min(h))
    mb, mh = statistics.median(b), statistics.median(h)
    threshold = max(k * spread, rule.floor, rule.rel * abs(mb))
    delta = mh - mb
    status: Status = "unchanged"
    if abs(delta) > threshold:
        worse = delta > 0 if rule.worse == "higher" else delta < 0
        status = "regressed" if worse else "improved"
    return Item(name, unit, "measurement", status, base, head, base_median=round(mb, 4), head_median=round(mh, 4),
                delta=round(delta, 4), threshold=round(threshold, 4), spread=round(spread, 4), worse=rule.worse)


def compare(base: Sequence[Any], head: Sequence[Any], *, base_label: str = "base", head_label: str = "head",
            k: float = DEFAULT_K, rules: Sequence[Rule] = RULES) -> Regression:
    """Compare the head build's run records against the base build's (at least one each).

    ValueError for no records on a side or for data that is not a run record.
    """
    if not base or not head:
        raise ValueError("compare needs at least one record of each build")
    if k < 0:
        raise ValueError(f"k must be 0 or more, got {k}")
    bs, hs = [_data(r) for r in base], [_data(r) for r in head]
    jobs: dict[str, set[str]] = {}  # per meter: the jobs its runs played (one, when the comparison is fair)
    for r in bs + hs:
        jobs.setdefault(_meter(r), set()).add(str(_job(r)))
    differing = sorted(j for played in jobs.values() if len(played) > 1 for j in played)
    job_note = "the runs did not all play the same job: " + "; ".join(differing) if differing else ""
    regression = Regression(_side(base_label, bs), _side(head_label, hs), [], k=k, same_job=not differing,
                            job_note=job_note)
    regression.items.append(_check_item("verdict", "", "verdict", [r.get("verdict") for r in bs],
                                        [r.get("verdict") for r in hs],
                                        [_verdict_outcome(r) for r in bs], [_verdict_outcome(r) for r in hs]))
    meters = sorted({_meter(r) for r in bs + hs})
    for meter in meters:  # several meters: each compared with its own runs, its items named "<meter>/<name>"
        prefix = f"{meter}/" if len(meters) > 1 else ""
        regression.items += _measurement_items([r for r in bs if _meter(r) == meter],
                                               [r for r in hs if _meter(r) == meter], prefix, k, rules)
    for side, records in (("base", bs), ("head", hs)):
        texts = [f.get("text") or str(f) for r in records for f in r.get("failures", [])]
        if texts:
            regression.failures[side] = texts[:20]
    order = {s: n for n, s in enumerate(STATUS_TEXT)}
    regression.items.sort(key=lambda i: (order[i.status], i.name))
    return regression


def _meter(record: dict[str, Any]) -> str:
    meter = record.get("meter") or {}
    return str(meter.get("profile") or meter.get("capture") or "")


def _measurement_items(bs: list[dict[str, Any]], hs: list[dict[str, Any]], prefix: str, k: float,
                       rules: Sequence[Rule]) -> list[Item]:
    """The items of the measurements of one meter's runs (a side without runs of it: "only in ...")."""
    items: list[Item] = []
    names: dict[str, str] = {}
    for r in bs + hs:
        for m in r.get("measurements", []):
            names.setdefault(m["name"], m.get("unit") or "")

    def values(records: list[dict[str, Any]], name: str) -> tuple[list[Any], list[str | None]]:
        found = [next((m for m in r.get("measurements", []) if m["name"] == name), None) for r in records]
        return ([m.get("value") if m else None for m in found], [(m.get("outcome") if m else None) for m in found])

    for name, unit in names.items():
        bv, bo = values(bs, name)
        hv, ho = values(hs, name)
        in_base, in_head = any(o is not None for o in bo), any(o is not None for o in ho)
        if not in_base or not in_head:
            side = "base" if in_base else "head"
            items.append(Item(prefix + name, unit, "measurement", "only_base" if in_base else "only_head", bv, hv,
                              note=f"measured only in {side}"))
            continue
        judged = any(o in ("pass", "fail") for o in bo + ho)
        check = _check_item(prefix + name, unit, "check", bv, hv, bo, ho) if judged else None
        rule = rule_for(name, rules)
        moved = _moved(prefix + name, unit, bv, hv, rule, k) if rule else None
        if check is not None and moved is not None:  # one item: an outcome change first, else the move
            if check.status == "unchanged":
                moved.kind, moved.base_outcome, moved.head_outcome = "check", check.base_outcome, check.head_outcome
                check = moved
            else:
                for attr in ("base_median", "head_median", "delta", "threshold", "spread", "worse"):
                    setattr(check, attr, getattr(moved, attr))
        item = check or moved
        if item is not None:
            items.append(item)
    return items


def _verdict_outcome(record: dict[str, Any]) -> str | None:
    verdict = record.get("verdict")
    return verdict if verdict in ("pass", "fail") else None  # an interrupted run judges nothing


def _check_item(name: str, unit: str, kind: Literal["check", "verdict"], bv: list[Any], hv: list[Any],
                bo: list[str | None], ho: list[str | None]) -> Item:
    b, h = _outcome(bo), _outcome(ho)
    status: Status = "unchanged"
    if b == "pass" and h == "fail":
        status = "newly_failing"
    elif b == "fail" and h == "pass":
        status = "newly_passing"
    elif b == "pass" and h == "mixed":
        status = "unstable"
    return Item(name, unit, kind, status, bv, hv, base_outcome=b, head_outcome=h)
