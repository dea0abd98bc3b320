"""A stream's result: counters judged against what a correct reader counts, summaries built from checks, and
the sentence that says how each interface was checked."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rig.checks import Check, InterfaceSummary, Outcome, SentFrame
from rig.stream_result import MAX_KEPT_FAILURES, StreamResult, checking_policy


def _sent(index: int, list_no: int) -> SentFrame:
    reading = {"timestamp": f"2024-10-01T19:00:{2 * index:02d}", "p_import_w": index}
    return SentFrame(index, datetime(2024, 10, 1, 19, 0, 2 * index), list_no, reading, reading, 0.0, 1.0)


def test_counters_must_equal_what_a_correct_reader_counts() -> None:
    result = StreamResult([], [], {"frames_ok": 5, "checksum_errors": 2, "readings_published": 5},
                          expected_counts=Counter({"frames_ok": 5, "checksum_errors": 1}))
    assert result.count_mismatches() == ["counter checksum_errors: a correct reader counts 1, the DUT counted 2"]
    assert result.problems() == result.count_mismatches()


def test_unknown_counters_are_a_problem_and_a_stream_cut_short_is_not_counted() -> None:
    unknown = StreamResult([], [], {}, expected_counts=Counter({"frames_ok": 3}),
                           counters_error="the DUT is not running")
    assert unknown.problems() == ["the DUT's counters are unknown: the DUT is not running"]
    cut = StreamResult([], [], {"frames_ok": 1}, expected_counts=Counter({"frames_ok": 3}), error="the DUT exited")
    assert cut.count_mismatches() == [] and cut.problems() == ["stream stopped: the DUT exited"]


def test_a_result_made_from_lists_gets_its_summaries_and_first_failures_from_them() -> None:
    sent = [_sent(0, 2), _sent(1, 1), _sent(2, 1)]
    checks = [Check("http", 0, Outcome.PASS, 0.01), Check("http", 1, Outcome.OVERTAKEN),
              Check("mqtt", 2, Outcome.FAIL, detail="late"), Check("mqtt", 0, Outcome.PASS, 0.002)]
    result = StreamResult(sent, checks, {})
    assert (result.frames_sent, result.frames_by_list) == (3, Counter({1: 2, 2: 1}))
    http, mqtt = result.interfaces["http"], result.interfaces["mqtt"]
    assert (http.passed, http.failed, http.overtaken) == (1, 0, 1)
    assert (mqtt.passed, mqtt.failed) == (1, 1)
    assert result.failures == [checks[2]] and result.failures_total == 1
    assert result.for_interface("mqtt") == [checks[2], checks[3]]
    assert result.problems() == [checks[2].describe()]


def test_a_result_keeps_only_the_first_failures_but_counts_them_all() -> None:
    many = [Check("http", i, Outcome.FAIL, detail="wrong") for i in range(MAX_KEPT_FAILURES + 5)]
    result = StreamResult([], many, {})
    assert len(result.failures) == MAX_KEPT_FAILURES and result.failures_total == MAX_KEPT_FAILURES + 5


def test_the_checking_policy_says_how_many_frames_each_interface_judged() -> None:
    http, modbus, mqtt = InterfaceSummary("http"), InterfaceSummary("modbus"), InterfaceSummary("mqtt")
    for outcome in [Outcome.PASS] * 7 + [Outcome.OVERTAKEN] * 3:
        http.add(Check("http", 0, outcome))
    for _ in range(10):
        mqtt.add(Check("mqtt", 0, Outcome.PASS))
    policy = checking_policy({"http": http, "modbus": modbus, "mqtt": mqtt}, 10)
    assert policy["http"] == ("HTTP: 7 of 10 frames judged, polled back to back (one request at a time, as fast as "
                              "the DUT answers); the other 3 were overtaken: a newer frame was shown before a poll "
                              "could see them")
    assert policy["modbus"] == "Modbus: not checked (not on this bench, or nothing was sent)"
    assert policy["mqtt"] == "MQTT: 10 of 10 frames judged, every message checked as it arrives (push)"


def test_bytes_the_line_dropped_explain_counters_that_differ_and_say_nothing_otherwise() -> None:
    lost = StreamResult([], [], {"frames_ok": 7}, expected_counts=Counter({"frames_ok": 10}), line_dropped=1234)
    assert lost.count_mismatches()[0] == "counter frames_ok: a correct reader counts 10, the DUT counted 7"
    assert lost.count_mismatches()[1].startswith("the line dropped 1,234 bytes the DUT did not read in time")
    fine = StreamResult([], [], {"frames_ok": 10}, expected_counts=Counter({"frames_ok": 10}), line_dropped=99)
    assert fine.count_mismatches() == []  # the bytes dropped carried no frame a reader had to count
