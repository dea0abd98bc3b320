"""How a failed stream reads in pytest's output and the HTML report: each problem once, from the checks."""

from collections import Counter
from datetime import datetime

import pytest

from rig.checks import Check, Outcome, SentFrame
from rig.fixtures.harness import assert_passed, failure_message
from rig.reading import Mismatch
from rig.stream_result import StreamResult


def _frame(index: int, list_no: int) -> SentFrame:
    return SentFrame(index, datetime(2024, 10, 1, 19, 0, 2 * index), list_no, {}, {}, 0.0, 1.0)


def _result(**kwargs) -> StreamResult:
    checks = [Check("http", 0, Outcome.PASS, 0.004), Check("mqtt", 0, Outcome.PASS, 0.002),
              Check("http", 1, Outcome.FAIL, mismatches=[Mismatch("p_import_w", 1200, 1100, 0.0)]),
              Check("mqtt", 1, Outcome.FAIL, detail="no message received")]
    return StreamResult(sent=[_frame(0, 2), _frame(1, 1)], checks=checks, dut_counters={"frames_ok": 2},
                        expected_counts=Counter({"frames_ok": 2, "checksum_errors": 1}), writes=3, **kwargs)


def test_the_message_names_every_problem_once_and_counts_failures_per_interface() -> None:
    message = failure_message(_result())
    http = Check("http", 1, Outcome.FAIL, mismatches=[Mismatch("p_import_w", 1200, 1100, 0.0)]).describe()
    assert message.splitlines() == [
        "3 problems in a stream of 2 frames (3 writes on the line)",
        "  counter checksum_errors: a correct reader counts 1, the DUT counted 0",
        f"  {http}",
        "  frame 1 on mqtt: fail: no message received",
        "failed checks: http 1 of 2, mqtt 1 of 2",
    ]
    assert "StreamResult(" not in message and "SentFrame(" not in message


def test_a_stopped_stream_says_why_first() -> None:
    message = failure_message(_result(error="the DUT exited after 1 of 2 frames"))
    assert message.splitlines()[1] == "  stream stopped: the DUT exited after 1 of 2 frames"


def test_many_failed_checks_are_cut_to_the_limit() -> None:
    checks = [Check("mqtt", n, Outcome.FAIL, detail="late") for n in range(30)]
    message = failure_message(StreamResult(sent=[], checks=checks, dut_counters={}), limit=5)
    assert message.count("late") == 5 and "... and 25 more failed checks" in message
    assert message.endswith("failed checks: mqtt 30 of 30")


def test_assert_passed_is_silent_on_a_good_stream_and_raises_the_message_otherwise() -> None:
    good = StreamResult(sent=[_frame(0, 2)], checks=[Check("http", 0, Outcome.PASS, 0.003)],
                        dut_counters={"frames_ok": 1}, expected_counts=Counter({"frames_ok": 1}))
    assert failure_message(good) == ""
    assert_passed(good)
    with pytest.raises(AssertionError) as info:
        assert_passed(_result(), hint="DUT log: run/dut.log")
    assert str(info.value) == failure_message(_result()) + "\nDUT log: run/dut.log"
