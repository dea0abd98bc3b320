"""The text summary of a regression report (rig.regress.text)."""

from __future__ import annotations

from rig.regress.compare import compare
from rig.regress.text import describe_item, format_regression
from tests.regress.records import record


def test_the_summary_lists_what_changed_and_ends_with_the_verdict() -> None:
    base = [record(http__latency_p50=3.0), record(http__latency_p50=4.0)]
    head = [record("head", http__latency_p50=34.0, frames_lost=1)] * 2
    text = format_regression(compare(base, head, base_label="main", head_label="feature"), page="out/report.html")
    lines = text.splitlines()
    assert lines[0].startswith("base main (/fw/base") and lines[1].startswith("head feature (/fw/head")
    assert "  newly fails          frames_lost: pass -> fail (base [0, 0], head [1, 1])" in lines
    assert ("  worse beyond noise   http.latency_p50: median 3.5 -> 34 ms (+30.5; moves within 5 are noise)"
            in lines)
    assert lines[-1] == "REGRESSION: 2 newly fails, 1 worse beyond noise   (report: out/report.html)"
    assert "unchanged" not in text


def test_no_change_says_so() -> None:
    text = format_regression(compare([record()], [record()]))
    assert "0 changed" in text and text.splitlines()[-1].startswith("NO REGRESSION: 11 items compared")


def test_an_item_line_for_a_measurement_of_one_side() -> None:
    item = next(i for i in compare([record()], [record(dut__boot_time=None)]).items if i.name == "dut.boot_time")
    assert describe_item(item) == "only in base         dut.boot_time: base [45], head [-]"
