"""The control channel of the software DUT's LED: lines appended whole, bad lines refused."""

from __future__ import annotations

import pytest

from rig.led.control import PROVOKE, control_path, send_control


def test_send_control_appends_lines(tmp_path) -> None:
    events = tmp_path / "led.events"
    send_control(events, "wifi ap", "button hold")
    send_control(events, "button press")
    assert control_path(events).read_text() == "wifi ap\nbutton hold\nbutton press\n"
    with pytest.raises(ValueError, match="one non-empty line"):
        send_control(events, "wifi ap\nbutton hold")
    assert all(start for start, _ in PROVOKE.values())
