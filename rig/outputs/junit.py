"""junit.xml: a `rig run` as JUnit, one testcase per interface and one for the frames and counters, each
with its measurements as properties (``value`` plus ``unit``, limits and outcome) and failing when one
of them fails."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from rig.outputs import Destination, Written

if TYPE_CHECKING:
    from rig.record import Measurement, Record
    from rig.runner import RunResult

NAME = "junit"
FILE = "junit.xml"
COUNTERS = "counters"


def _properties(parent: ET.Element, pairs: list[tuple[str, object]]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in pairs:
        ET.SubElement(props, "property", name=name, value="" if value is None else str(value))


def _measurement_properties(measurements: list[Measurement]) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = []
    for m in measurements:
        limits = [f"{k} {v}" for k, v in (("low", m.low), ("high", m.high), ("expected", m.expected)) if v is not None]
        pairs.append((m.name, m.value))
        pairs.append((f"{m.name}.judged", f"{m.outcome} ({m.unit}" + (f"; {', '.join(limits)})" if limits else ")")))
    return pairs


def _groups(record: Record, result: RunResult) -> dict[str, list[Measurement]]:
    """The record's measurements by testcase: each interface's, and the rest under "counters"."""
    groups: dict[str, list[Measurement]] = {COUNTERS: []}
    groups.update({name: [] for name in result.interfaces})
    for m in record.measurements:
        head = m.name.split(".", 1)[0]
        groups[head if "." in m.name and head in groups else COUNTERS].append(m)
    return groups


def build(record: Record, result: RunResult) -> ET.Element:
    """The JUnit document of one run."""
    suite_name = f"rig run {record.meter['profile']}"
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name=suite_name, timestamp=record.started,
                          time=f"{record.duration_s:.3f}")
    dut = record.dut
    _properties(suite, [("record_id", record.id), ("verdict", record.verdict), ("dut_serial", dut["serial"]),
                        ("dut_model", dut["model"]), ("dut_firmware", dut["firmware"]),
                        ("rig_version", record.rig.get("version")), ("bench", record.station["bench"]),
                        ("meter", record.meter["profile"]), ("speed", record.meter["speed"])])
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for name, measurements in _groups(record, result).items():
        case = ET.SubElement(suite, "testcase", classname=f"rig.run.{record.meter['profile']}", name=name,
                             time="0")
        _properties(case, _measurement_properties(measurements))
        counts["tests"] += 1
        failed = [m for m in measurements if m.outcome == "fail"]
        if name == COUNTERS:
            problems = [f"{m.name}: {m.value} (expected {m.expected})" for m in failed] + result.count_mismatches
        else:
            problems = [f"{m.name}: {m.value} {m.unit}" for m in failed]
            problems += [c.describe() for c in result.failures if c.interface == name][:10]
        if name == COUNTERS and result.error:
            ET.SubElement(case, "error", message=result.error).text = result.error
            counts["errors"] += 1
        elif problems:
            ET.SubElement(case, "failure", message=problems[0]).text = "\n".join(problems)
            counts["failures"] += 1
        elif result.interrupted:
            ET.SubElement(case, "skipped", message=f"interrupted by {result.interrupted}")
            counts["skipped"] += 1
    suite.attrib.update({k: str(v) for k, v in counts.items()})
    return suites


def write(record: Record, result: RunResult, to: Destination) -> Written:
    path = to.run_dir / FILE
    tree = ET.ElementTree(build(record, result))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return Written(NAME, path)
