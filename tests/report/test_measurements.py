from datetime import datetime

from rig.checks import Check, Outcome, SentFrame
from rig.report.measurements import as_html, as_properties
from rig.runner import StreamResult


def _frame(index: int, list_no: int, corrupt: bool = False) -> SentFrame:
    return SentFrame(index, datetime(2024, 10, 1, 19, 0, 2 * index), list_no, {}, {}, 0.0, 1.0, corrupt)


RESULT = StreamResult(
    sent=[_frame(0, 2), _frame(1, 1, corrupt=True), _frame(2, 1)],
    checks=[Check("http", 0, Outcome.PASS, 0.004), Check("http", 2, Outcome.PASS, 0.006),
            Check("mqtt", 0, Outcome.PASS, 0.002), Check("mqtt", 2, Outcome.FAIL, detail="no message received")],
    dut_counters={"frames_ok": 2, "checksum_errors": 1, "readings_published": 2},
)


def test_html_names_the_frames_the_dut_counts_and_each_interface() -> None:
    text = as_html(RESULT)
    assert "frames sent: 3 (List 1: 2, List 2: 1; 1 damaged on purpose)" in text
    assert "decoded by the DUT: 2" in text and "checksum_errors" in text
    assert "<td>http</td><td>2</td><td>0</td><td>0</td><td>5.0</td>" in text
    assert "<td>mqtt</td><td>1</td><td>1</td>" in text


def test_properties_for_junit() -> None:
    props = dict(as_properties(RESULT, prefix="s1_"))
    assert props["s1_frames_sent"] == 3 and props["s1_frames_decoded"] == 2
    assert props["s1_http_latency_p50_ms"] == 5.0 and props["s1_mqtt_failed"] == 1
    assert "s1_modbus_passed" not in props


def test_a_stopped_stream_says_why() -> None:
    stopped = StreamResult(sent=[], checks=[], dut_counters={}, error="the DUT exited after 3 of 40 frames")
    assert "stream stopped:</b> the DUT exited" in as_html(stopped)
