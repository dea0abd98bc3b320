"""Load scenarios of the meter model reach every interface: an EV charging on top of the household load, and
a PV plant exporting at midday (net power negative, export energy rising)."""

from __future__ import annotations

from datetime import datetime

import pytest

# profile, scenario, start: ten frames across a full hour (List 1, List 2 and the hourly List 3)
CASES = [
    ("kaifa-ma304h4", "ev-charging", datetime(2024, 10, 1, 19, 59, 52)),
    ("kaifa-ma304h4", "solar-export", datetime(2024, 10, 1, 12, 59, 52)),
    ("landis-gyr-e360", "solar-export", datetime(2024, 10, 1, 12, 58, 40)),  # per-phase export lines
]


@pytest.mark.parametrize("profile,scenario,start", CASES, ids=[f"{p}-{s}" for p, s, _ in CASES])
def test_scenario_streams_to_every_interface(harness, profile: str, scenario: str, start: datetime) -> None:
    h = harness(profile=profile, speed=8, load=scenario, start=start)
    frames = h.frames(10)
    full = [f.reading for f in frames if "i_l1_a" in f.reading]
    assert full, "no frame with the instantaneous values"
    if scenario == "ev-charging":
        assert all(r[f"i_l{k}_a"] > 16 for r in full for k in (1, 2, 3))
        assert all(f.reading["p_import_w"] > 11_000 for f in frames)
    else:
        assert all(f.reading["p_import_w"] == 0 for f in frames)
        assert all(r["p_export_w"] > 0 for r in full)
        energies = [r["e_export_wh"] for r in full if "e_export_wh" in r]
        assert energies and energies == sorted(energies) and energies[0] > 0

    result = h.stream(frames)

    h.assert_passed(result)
    assert result.dut_counters["frames_ok"] == len(frames)
    if scenario == "solar-export":
        message = h.http.meter_message()
        assert message["p"][0] == -full[-1]["p_export_w"]  # the net power: import - export
