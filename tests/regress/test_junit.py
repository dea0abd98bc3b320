"""JUnit XML of a regression report (rig.regress.junit)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rig.regress import junit
from rig.regress.compare import compare
from tests.regress.records import record


def test_one_testcase_per_item_and_a_failure_per_regression(tmp_path: Path) -> None:
    regression = compare([record(), record()], [record("head", frames_lost=1, dut__free_heap=None)] * 2,
                         base_label="v1", head_label="v2")
    path = junit.write(regression, tmp_path / "junit.xml")
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite.get("name") == "rig regress v1 -> v2"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [i.name for i in regression.items]
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"verdict", "frames_lost"}
    assert failed["frames_lost"].get("type") == "newly_failing"
    assert "frames_lost: pass -> fail" in failed["frames_lost"].get("message")
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    assert skipped == ["dut.free_heap"]  # measured in base only: not compared
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (str(len(cases)), "2", "1")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["base.spec"] == "base" and props["head.tree_hash"].startswith("head")
    assert props["verdict"] == "REGRESSION: 2 newly fails"


def test_no_regression_no_failure(tmp_path: Path) -> None:
    path = junit.write(compare([record()], [record()]), tmp_path / "junit.xml")
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite.get("failures") == "0" and not suite.findall("testcase/failure")
