"""The measurements of one stream of frames, for the HTML report and as JUnit properties."""

from __future__ import annotations

import html
from collections import Counter

from rig.checks import InterfaceSummary
from rig.engine import JUDGED_COUNTERS, StreamResult
from rig.record import count_measurements, interface_measurements


def summarise(result: StreamResult) -> dict[str, InterfaceSummary]:
    """Per interface, the counts and latencies of a stream's checks."""
    summaries: dict[str, InterfaceSummary] = {}
    for check in result.checks:
        summaries.setdefault(check.interface, InterfaceSummary(check.interface)).add(check)
    return summaries


def _cells(cells: list[object], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in cells) + "</tr>"


def as_html(result: StreamResult) -> str:
    """A short block: frames sent by list, faults injected, the DUT's counters against a correct reader's,
    and a table per interface."""
    lists = Counter(f.list_no for f in result.sent)
    sent = ", ".join(f"List {k}: {v}" for k, v in sorted(lists.items()))
    faults = ", ".join(f"{k} ({v} write{'s' if v != 1 else ''})" for k, v in sorted(result.faults.items())) or "none"
    counters = [_cells(["counter", "a correct reader counts", "the DUT counted"], "th")]
    unknown = bool(result.counters_error)  # the DUT's counters could not be read: no figure stands for them
    for name in JUDGED_COUNTERS:
        want, got = result.expected_counts.get(name, 0), result.dut_counters.get(name, 0)
        if unknown and want:
            counters.append(_cells([name, want, "unknown"]))
        elif want or got:
            counters.append(_cells([name, want, got if got == want else f"{got} (differs)"]))
    rows = [_cells(["interface", "passed", "failed", "overtaken", "p50 ms", "p99 ms", "max ms"], "th")]
    for name, summary in sorted(summarise(result).items()):
        lat = summary.as_dict()["latency_ms"]
        rows.append(_cells([name, summary.passed, summary.failed, summary.overtaken,
                            *("-" if lat[q] is None else f"{lat[q]:.1f}" for q in ("p50", "p99", "max"))]))
    stopped = f"<p><b>stream stopped:</b> {html.escape(result.error)}</p>" if result.error else ""
    return (f"<div><p>frames to publish: {len(result.sent)} ({html.escape(sent)}); writes on the line: "
            f"{result.writes}; faults injected: {html.escape(faults)}</p>{stopped}"
            f"<table>{''.join(counters)}</table><table>{''.join(rows)}</table></div>")


def as_properties(result: StreamResult, prefix: str = "") -> list[tuple[str, object]]:
    """Name/value pairs for JUnit ``<properties>``, from the stream's measurements (rig.record): frames,
    each counter expected and counted, faults, and per interface its counts and latencies (``_ms``)."""
    counted = None if result.counters_error else result.dut_counters
    counts = count_measurements(len(result.sent), result.expected_counts, counted)
    props: list[tuple[str, object]] = [(f"{prefix}frames_sent", counts[0].value)]
    if counted is None:
        props.append((f"{prefix}dut_counters", f"unknown: {result.counters_error}"))
    else:
        props.append((f"{prefix}frames_decoded", counts[1].value))
        for m in counts[2:]:
            props += [(f"{prefix}{m.name}_expected", m.expected), (f"{prefix}{m.name}_counted", m.value)]
        props += [(f"{prefix}fault_{name}", n) for name, n in sorted(result.faults.items())]
    for m in interface_measurements(dict(sorted(summarise(result).items())), None):
        props.append((prefix + m.name.replace(".", "_") + ("_ms" if m.unit == "ms" else ""), m.value))
    return props
