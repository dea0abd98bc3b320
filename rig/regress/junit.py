"""JUnit XML of a regression report: one testcase per compared item, a failure for each regression."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rig.regress.compare import STATUS_TEXT, Regression
from rig.regress.text import describe_item


def build(regression: Regression) -> ET.Element:
    """The JUnit document: suite ``rig regress <base> -> <head>``, a testcase per item."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name=f"rig regress {regression.base.label} -> {regression.head.label}")
    props = ET.SubElement(suite, "properties")
    for side in (regression.base, regression.head):
        name = "base" if side is regression.base else "head"
        build = side.build or {}
        for key in ("spec", "commit", "path", "tree_hash"):
            if build.get(key):
                ET.SubElement(props, "property", name=f"{name}.{key}", value=str(build[key]))
        ET.SubElement(props, "property", name=f"{name}.runs", value=" ".join(str(r["id"]) for r in side.runs))
    ET.SubElement(props, "property", name="verdict", value=regression.verdict())
    failures = 0
    for item in regression.items:
        case = ET.SubElement(suite, "testcase", classname=f"rig.regress.{item.kind}", name=item.name, time="0")
        text = describe_item(item)
        if item.regression:
            ET.SubElement(case, "failure", message=text, type=item.status).text = text
            failures += 1
        elif item.status in ("only_base", "only_head"):
            ET.SubElement(case, "skipped", message=f"{STATUS_TEXT[item.status]}: not compared")
        else:
            ET.SubElement(case, "system-out").text = text
    suite.attrib.update(tests=str(len(regression.items)), failures=str(failures), errors="0",
                        skipped=str(len(regression.by_status("only_base", "only_head"))))
    return suites


def write(regression: Regression, path: Path) -> Path:
    tree = ET.ElementTree(build(regression))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
