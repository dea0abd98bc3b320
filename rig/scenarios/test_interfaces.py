"""What the meter sent appears on HTTP, Modbus and MQTT, within one frame interval and each
interface's resolution: both Kaifa profiles, all three lists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rig.stream_result import ERROR_COUNTERS

PROFILES = ["kaifa-ma304h4", "kaifa-ma304h3e"]
# A start time whose next three frames include the list under test, in the middle.
STARTS = {
    1: datetime(2024, 10, 1, 19, 0, 2),   # L1 :02, L1 :04, L1 :06
    2: datetime(2024, 10, 1, 19, 5, 58),  # L1 :58, L2 :00, L1 :02
    3: datetime(2024, 10, 1, 19, 0, 8),   # L1 :08, L3 :10 (values of XX:00:00), L1 :12
}


@pytest.mark.parametrize("list_no", [1, 2, 3])
@pytest.mark.parametrize("profile", PROFILES)
def test_every_interface_shows_what_was_sent(harness, profile: str, list_no: int) -> None:
    h = harness(profile=profile, speed=4)
    frames = h.frames(3, start=STARTS[list_no])
    assert list_no in [f.list for f in frames]

    result = h.stream(frames)

    h.assert_passed(result)
    interfaces = {"http"} | {name for name in ("modbus", "mqtt") if h.bench.has(name)}
    for interface in interfaces:
        checked = {c.frame for c in result.for_interface(interface)}
        assert checked == {f.index for f in result.sent}, f"{interface} did not check every frame"
    assert result.dut_counters["frames_ok"] == len(frames)
    assert sum(result.dut_counters.get(name, 0) for name in ERROR_COUNTERS) == 0


def test_it_meter_publishes_l2_voltage_as_null(harness) -> None:
    """A 3-wire IT meter sends a placeholder 0 for U2: every interface shows "not measured", never 0."""
    h = harness(profile="kaifa-ma304h3e", speed=4)
    frames = h.frames(2, start=STARTS[2])
    h.send(frames[0].data)
    h.send(frames[1].data)
    message = h.wait_for(lambda: (m := h.http.meter_message()) and m.get("list") == 2 and m,
                         timeout=3, what="the List 2 frame on /meter")
    assert message["u"][1] is None
    assert message["u"][0] == frames[1].reading["u_l1_v"]
    assert message["u"][2] == frames[1].reading["u_l3_v"]


def _profile_ids() -> list[str]:
    from rig.emulators import list_profiles

    return [p.id for p in list_profiles()]


@pytest.mark.parametrize("profile", _profile_ids())
def test_every_meter_profile_is_shown_on_every_interface(harness, profile: str) -> None:
    """Every meter the rig plays, across a full hour (so the hourly list is in): each frame on HTTP, Modbus
    and MQTT within its interval and each interface's resolution; what the meter does not send stays null."""
    h = harness(profile=profile, speed=8)
    start = datetime(2024, 10, 1, 18, 59, 52)
    frames = list(h.meter.frames(start=start, until=start + timedelta(seconds=26)))

    result = h.stream(frames)

    h.assert_passed(result)
    assert result.dut_counters["frames_ok"] == len(frames) == len(result.sent)
    assert len({f.list for f in frames}) == len(h.profile.lists), "not every list of the meter was played"
