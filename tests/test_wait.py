"""rig.wait: the one way the rig and its tests wait for a condition."""

import time

import pytest

from rig.wait import WaitTimeout, wait_until


def test_returns_the_first_truthy_value_of_the_condition() -> None:
    values = iter([None, 0, {}, {"state": "reading"}, "not reached"])
    assert wait_until(lambda: next(values), timeout=1, what="a state", interval=0.001) == {"state": "reading"}


def test_a_timeout_names_what_was_awaited_and_the_hint() -> None:
    calls = []
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_until(lambda: calls.append(1), timeout=0.2, what="the data-request line to rise",
                   hint=lambda: f"polled {len(calls)} times", interval=0.05)
    waited = time.monotonic() - t0
    assert 0.2 <= waited < 2.0
    assert str(info.value) == ("timed out after 0.2 s waiting for the data-request line to rise; "
                               f"polled {len(calls)} times")
    assert 2 <= len(calls) <= 6  # at the start, every 50 ms, and once more at the deadline
    assert info.value.what == "the data-request line to rise" and info.value.timeout == 0.2
    assert isinstance(info.value, AssertionError)  # a failed expectation in a scenario, not an OSError


def test_the_condition_is_tried_at_the_deadline() -> None:
    t0 = time.monotonic()
    assert wait_until(lambda: time.monotonic() - t0 >= 0.1, timeout=0.1, what="the deadline", interval=5)
    assert time.monotonic() - t0 < 2  # the interval is cut to the time left


def test_a_plain_hint_is_appended_and_none_leaves_the_message_short() -> None:
    with pytest.raises(WaitTimeout, match=r"^timed out after 0 s waiting for x; DUT log: a/dut.log$"):
        wait_until(lambda: False, timeout=0, what="x", hint="DUT log: a/dut.log")
    with pytest.raises(WaitTimeout, match=r"^timed out after 0.01 s waiting for y$"):
        wait_until(lambda: False, timeout=0.01, what="y")
