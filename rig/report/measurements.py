"""The measurements of one stream of frames, for the HTML report and as JUnit properties."""

from __future__ import annotations

import html
from collections import Counter

from rig.checks import InterfaceSummary
from rig.runner import ERROR_COUNTERS, StreamResult


def summarise(result: StreamResult) -> dict[str, InterfaceSummary]:
    """Per interface, the counts and latencies of a stream's checks."""
    summaries: dict[str, InterfaceSummary] = {}
    for check in result.checks:
        summaries.setdefault(check.interface, InterfaceSummary(check.interface)).add(check)
    return summaries


def as_html(result: StreamResult) -> str:
    """A short block: frames sent by list, what the DUT counted, and a table per interface."""
    lists = Counter(f.list_no for f in result.sent)
    sent = ", ".join(f"List {k}: {v}" for k, v in sorted(lists.items()))
    damaged = sum(1 for f in result.sent if f.corrupt)
    if damaged:
        sent += f"; {damaged} damaged on purpose"
    errors = {k: result.dut_counters.get(k, 0) for k in ERROR_COUNTERS if result.dut_counters.get(k)}
    rows = []
    for name, summary in sorted(summarise(result).items()):
        lat = summary.as_dict()["latency_ms"]
        cells = [name, summary.passed, summary.failed, summary.overtaken,
                 *("-" if lat[q] is None else f"{lat[q]:.1f}" for q in ("p50", "p99", "max"))]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("interface", "passed", "failed", "overtaken", "p50 ms", "p99 ms",
                                             "max ms"))
    error_text = html.escape(str(errors)) if errors else "none"
    stopped = f"<p><b>stream stopped:</b> {html.escape(result.error)}</p>" if result.error else ""
    return (f"<div><p>frames sent: {len(result.sent)} ({html.escape(sent)}); decoded by the DUT: "
            f"{result.dut_counters.get('frames_ok', 0)}; errors counted: {error_text}</p>{stopped}"
            f"<table><tr>{head}</tr>{''.join(rows)}</table></div>")


def as_properties(result: StreamResult, prefix: str = "") -> list[tuple[str, object]]:
    """Name/value pairs for JUnit ``<properties>``: frames, and per interface counts and latencies."""
    props: list[tuple[str, object]] = [(f"{prefix}frames_sent", len(result.sent)),
                                       (f"{prefix}frames_decoded", result.dut_counters.get("frames_ok", 0))]
    for name, summary in sorted(summarise(result).items()):
        d = summary.as_dict()
        props += [(f"{prefix}{name}_passed", d["passed"]), (f"{prefix}{name}_failed", d["failed"])]
        for q in ("p50", "p99"):
            if d["latency_ms"][q] is not None:
                props.append((f"{prefix}{name}_latency_{q}_ms", d["latency_ms"][q]))
    return props
