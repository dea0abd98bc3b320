"""A P1 meter sends only while the reader raises its data-request line (DSMR P1: pin 2, RTS)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rig.wait import wait_until


def test_a_p1_meter_sends_only_while_the_reader_requests_data(harness) -> None:
    h = harness(profile="landis-gyr-e360", speed=8)
    if h.link.request_line() is None:
        pytest.skip(f"the meter link {h.link.name} cannot see the data-request line")
    h.http.configure({"line": {"data_request": False}})
    wait_until(lambda: h.link.request_line() is False, timeout=3, what="the data-request line to drop")
    first = h.frames(3)

    quiet = h.stream(first)

    assert quiet.held == 3 and not quiet.sent and quiet.writes == 0
    h.assert_passed(quiet)
    assert h.http.meter() is None  # nothing was sent, so nothing is shown
    h.http.configure({"line": {"data_request": True}})
    wait_until(lambda: h.link.request_line() is True, timeout=3, what="the data-request line to rise")

    result = h.stream(h.frames(3, start=first[-1].at + timedelta(seconds=10)))

    h.assert_passed(result)
    assert len(result.sent) == 3 and result.held == 0
