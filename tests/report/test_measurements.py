from collections import Counter
from datetime import datetime

from rig.checks import Check, Outcome, SentFrame
from rig.report.measurements import as_html, as_properties
from rig.stream_result import StreamResult


def _frame(index: int, list_no: int) -> SentFrame:
    return SentFrame(index, datetime(2024, 10, 1, 19, 0, 2 * index), list_no, {}, {}, 0.0, 1.0)


RESULT = StreamResult(
    sent=[_frame(0, 2), _frame(1, 1)],
    checks=[Check("http", 0, Outcome.PASS, 0.004), Check("http", 1, Outcome.PASS, 0.006),
            Check("mqtt", 0, Outcome.PASS, 0.002), Check("mqtt", 1, Outcome.FAIL, detail="no message received")],
    dut_counters={"frames_ok": 2, "checksum_errors": 2, "readings_published": 2},
    expected_counts=Counter({"frames_ok": 2, "checksum_errors": 1}),
    faults=Counter({"bad_fcs:2": 1}),
    writes=3,
)


def test_html_names_the_frames_the_faults_the_counts_and_each_interface() -> None:
    text = as_html(RESULT)
    assert "frames to publish: 2 (List 1: 1, List 2: 1); writes on the line: 3" in text
    assert "faults injected: bad_fcs:2 (1 write)" in text
    assert "<td>frames_ok</td><td>2</td><td>2</td>" in text
    assert "<td>checksum_errors</td><td>1</td><td>2 (differs)</td>" in text
    assert "<td>http</td><td>2</td><td>0</td><td>0</td><td>5.0</td>" in text
    assert "<td>mqtt</td><td>1</td><td>1</td>" in text


def test_properties_for_junit() -> None:
    props = dict(as_properties(RESULT, prefix="s1_"))
    assert props["s1_frames_sent"] == 2 and props["s1_frames_decoded"] == 2
    assert props["s1_checksum_errors_expected"] == 1 and props["s1_checksum_errors_counted"] == 2
    assert props["s1_fault_bad_fcs:2"] == 1
    assert props["s1_http_latency_p50_ms"] == 5.0 and props["s1_mqtt_failed"] == 1
    assert "s1_modbus_passed" not in props


def test_a_stopped_stream_says_why() -> None:
    stopped = StreamResult(sent=[], checks=[], dut_counters={}, error="the DUT exited after 3 of 40 frames")
    assert "stream stopped:</b> the DUT exited" in as_html(stopped)
