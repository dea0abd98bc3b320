"""The LED pattern table: the spec's states, checked shapes, clear errors for a malformed table."""

from __future__ import annotations

import pytest

from rig.led.patterns import PatternError, load_patterns, parse_table

STATES = {"booting", "online", "offline", "firmware_update", "read_ok", "read_failed", "critical_error",
          "factory_reset", "ap_mode", "wifi_error", "handshake"}


def test_table_has_every_state_of_the_spec() -> None:
    table = load_patterns()
    assert set(table.states) == STATES
    failed = table.state("read_failed")
    assert (failed.colour, failed.on_ms, failed.off_ms, failed.repeats, failed.hold_ms) == ("red", 125, 125, 2, 500)
    assert table.state("critical_error").colours == ("red", "green", "blue")
    assert table.state("factory_reset").repeating
    assert table.rgb("green", "dim") == (0, 32, 0) and table.rgb("magenta", "high") == (255, 0, 255)
    assert table.state("read_failed").describe(25) == "2 red blinks of 125±25 ms (125±25 ms off)"


def test_tolerances_per_instrument() -> None:
    table = load_patterns()
    assert table.tolerance("camera").limit_ms(1000 / 30) > table.tolerance("photodiode").limit_ms(0.5)
    with pytest.raises(PatternError, match="known: events, photodiode, camera"):
        table.tolerance("thermometer")
    with pytest.raises(PatternError, match="unknown LED state 'disco'"):
        table.state("disco")


def test_malformed_table_is_refused() -> None:
    good = {"levels": {"dim": 32, "high": 255}, "colours": {"red": [1, 0, 0]},
            "states": {"x": {"kind": "blink", "colours": ["red"], "intensity": "high", "on_ms": 100}},
            "tolerances": {"events": {"time_ms": 10}}}
    assert parse_table(good).state("x").on_ms == 100
    with pytest.raises(PatternError, match="unknown colour 'pink'"):
        parse_table({**good, "states": {"x": {"kind": "steady", "colour": "pink", "intensity": "dim"}}})
    with pytest.raises(PatternError, match="on_ms > 0"):
        parse_table({**good, "states": {"x": {"kind": "blink", "colours": ["red"], "intensity": "high"}}})
    with pytest.raises(PatternError, match="malformed"):
        parse_table({"levels": {}})
