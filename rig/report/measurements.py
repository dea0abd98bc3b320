"""The measurements of one stream of frames, for the HTML report and as JUnit properties."""

from __future__ import annotations

import html
from collections import Counter

from rig.checks import InterfaceSummary
from rig.record import Measurement, count_measurements, interface_measurements
from rig.stream_result import JUDGED_COUNTERS, StreamResult


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


def stream_measurements(result: StreamResult, prefix: str = "") -> list[Measurement]:
    """The judged measurements of one stream (rig.record), named ``prefix`` + name: frames sent and decoded,
    each counter against a correct reader's, each fault injected (writes), and per interface its checks
    and latencies."""
    counted = None if result.counters_error else result.dut_counters
    out = count_measurements(len(result.sent), result.expected_counts, counted)
    out += [Measurement(f"fault.{name}", n, "writes") for name, n in sorted(result.faults.items())]
    out += interface_measurements(dict(sorted(summarise(result).items())), None)
    for m in out:
        m.name = prefix + m.name
    return out


def properties(measurements: list[Measurement]) -> list[tuple[str, object]]:
    """Name/value pairs for JUnit ``<properties>`` from measurements: a counter as ``_expected`` and
    ``_counted``, a latency with ``_ms``, dots as underscores; a value not measured as "unknown"."""
    props: list[tuple[str, object]] = []
    for m in measurements:
        name = m.name.replace(".", "_")
        if m.unit == "frames" and m.expected is not None and not name.endswith("frames_decoded"):
            props += [(f"{name}_expected", m.expected), (f"{name}_counted", m.value)]
        else:
            props.append((name + ("_ms" if m.unit == "ms" else ""), "unknown" if m.value is None else m.value))
    return props


def as_properties(result: StreamResult, prefix: str = "") -> list[tuple[str, object]]:
    """JUnit properties of one stream (see :func:`stream_measurements` and :func:`properties`)."""
    return properties(stream_measurements(result, prefix))
