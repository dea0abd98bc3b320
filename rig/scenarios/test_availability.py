"""Before the first meter frame the reader says so (503); after it, it serves the reading."""

from __future__ import annotations

import pytest
import requests


def test_meter_is_503_before_the_first_frame(harness) -> None:
    h = harness(speed=4)
    if not h.fresh:
        pytest.skip("needs a DUT that has seen no frame since it started")
    for path in ("/meter", "/meter/data"):
        response = requests.get(h.dut.http_url + path, timeout=2)
        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"].startswith("application/json")

    frame = h.frames(1)[0]
    h.send(frame.data)
    reading = h.wait_for(h.http.meter, timeout=3, what="a reading on /meter")
    assert reading["timestamp"] == frame.reading["timestamp"]
    assert reading["p_import_w"] == frame.reading["p_import_w"]


def test_state_and_health_answer_from_the_start(harness) -> None:
    h = harness(speed=4)
    state = h.http.state()
    assert state["serial"] == h.bench.serial_number
    health = h.health()
    assert {"frames_ok", "checksum_errors", "framing_errors"} <= set(health["counters"])
