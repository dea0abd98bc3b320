"""summary.txt: the human summary `rig run` prints at its end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rig.outputs import Destination, Written
from rig.stream_result import JUDGED_COUNTERS, checking_policy

if TYPE_CHECKING:
    from rig.record import Record
    from rig.runner import RunResult

NAME = "text"
FILE = "summary.txt"


def write(record: Record, result: RunResult, to: Destination) -> Written:
    path = to.run_dir / FILE
    path.write_text(format_summary(result, record) + "\n")
    return Written(NAME, path)


def counter_table(expected: dict[str, int], counted: dict[str, int] | None) -> list[str]:
    """Lines comparing what a correct reader counts with what the DUT counted, counter by counter
    (``counted`` None: the DUT's counters could not be read, "?")."""
    names = [n for n in JUDGED_COUNTERS if expected.get(n) or (counted or {}).get(n)]
    lines = [f"{'counter':<17}{'expected':>9}{'DUT':>7}"]
    for name in names:
        want = expected.get(name, 0)
        if counted is None:
            lines.append(f"{name:<17}{want:>9}{'?':>7}   <- unknown")
            continue
        got = counted.get(name, 0)
        lines.append(f"{name:<17}{want:>9}{got:>7}" + ("" if want == got else "   <- differs"))
    return lines


def _count(n: int, thing: str) -> str:
    """``1 frame``, ``2 frames``."""
    return f"{n} {thing}" + ("" if n == 1 else "s")


def _ms(v: object) -> str:
    return "-" if v is None else f"{v:.1f}"


def dut_line(record: Record) -> str:
    """Who was tested, as the DUT named itself: ``DUT SIM-0001: HAN-RIG-SW, firmware 1.0 (...)``."""
    dut, station = record.dut, record.station
    return (f"DUT {dut['serial']}: {dut['model'] or 'model unknown'}, firmware {dut['firmware'] or 'unknown'} "
            f"({dut['kind']} DUT on bench {station['bench']}); record {record.id}")


def format_summary(result: RunResult, record: Record | None = None) -> str:
    """The human summary printed at the end of `rig run`; with the run's ``record``, it names the DUT."""
    lists = ", ".join(f"List {k}: {v}" for k, v in sorted(result.frames_by_list.items()))
    what = f"capture {result.capture}" if result.capture else f"meter {result.meter}"
    lines = [dut_line(record)] if record is not None else []
    lines += [
        f"{what}, {result.duration_s:g} s of meter time from {result.start or 'its start'} "
        f"at speed x{result.speed:g} ({result.real_time_s:.1f} s real)",
        f"frames to publish {result.frames_sent}" + (f" ({lists})" if lists else ""),
    ]
    if result.faults:
        faults = ", ".join(f"{k} ({_count(v, 'write')})" for k, v in sorted(result.faults.items()))
        lines.append(f"faults injected   {faults}")
    lines += ["", *counter_table(result.expected_counts, result.dut_counters), "",
              f"{'interface':<10}{'passed':>8}{'failed':>8}{'overtaken':>11}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"]
    for name, summary in result.interfaces.items():
        lat = summary.as_dict()["latency_ms"]
        lines.append(f"{name:<10}{summary.passed:>8}{summary.failed:>8}{summary.overtaken:>11}"
                     f"{_ms(lat['p50']):>9}{_ms(lat['p99']):>9}{_ms(lat['max']):>9}")
    resolution = result.resolution()
    lines += ["latency: from the end of the frame's last byte (its closing flag) on the line to the value on",
              "the interface; HTTP and Modbus include a request round trip. A reader that decodes on the FCS",
              "acts one character before the flag ends, so MQTT figures can be slightly negative. A value",
              "shown later than one frame interval + 100 ms fails. overtaken: a newer frame replaced the",
              "frame before a poll could see it (not a failure).",
              f"resolution: values judged to half a step of the coarser of the meter's format "
              f"({resolution['meter_format'] or 'unknown'}) and the interface's:",
              "  " + "; ".join(f"{name} {resolution[name]}" for name in result.interfaces),
              "checking:", *(f"  {line}" for line in checking_policy(result.interfaces, result.frames_sent).values())]
    if result.timing:
        spent = {k.removesuffix("_s"): v for k, v in result.timing.items()}
        cpu = spent.pop("rig_cpu", None)
        lines.append("real time (s): " + ", ".join(f"{k} {v:.3f}" for k, v in spent.items())
                     + (f"; the rig's CPU while streaming {cpu:.1f} s" if cpu is not None else ""))
    if result.count_mismatches:
        unknown = result.dut_counters is None
        lines += ["", "the DUT's counters:" if unknown else "counters that differ from a correct reader's:"]
        lines += [f"  {m}" for m in result.count_mismatches]
    failed = max(len(result.failures), sum(s.failed for s in result.interfaces.values()))
    if failed:
        shown = min(len(result.failures), 10)
        lines += ["", f"{_count(failed, 'failed check')}"
                  + (f" (first {shown}; all in checks.jsonl)" if shown < failed else "") + ":"]
        lines += [f"  {c.describe()}" for c in result.failures[:10]]
    if result.error:
        lines += ["", f"error: {result.error}"]
    verdict = result.verdict.upper()
    if result.interrupted:
        verdict += f" by {result.interrupted}: what was sent until then was judged, the run is no verdict"
    lines += ["", f"{verdict}   (details: {result.run_dir})"]
    return "\n".join(lines)
