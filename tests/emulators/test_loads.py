import cmath
import math
from datetime import datetime, timedelta

import pytest

from rig.emulators import Meter, MeterModel, list_profiles
from rig.emulators.loads import SCENARIOS, make_load, scenario_names

DAY0 = datetime(2024, 10, 1)
STEP_S = 30
DEG30 = math.radians(30)
CASES = [(w, s) for w in ("TN", "IT") for s in (1, 2, 3)]


def _day(model: MeterModel, step_s: int = STEP_S, start: datetime = DAY0, hours: float = 24):
    """(state, reading) every ``step_s`` over ``hours`` from ``start``."""
    for n in range(int(hours * 3600 / step_s) + 1):
        at = start + timedelta(seconds=n * step_s)
        state = model.state_at(at)
        yield state, model.reading_at(at)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 + 1e-9 * abs(b)


def _instant(s):
    return s.voltages, s.currents, s.phase_angles, s.p_w, s.q_var


def _check_powers(s, wiring: str) -> None:
    if wiring == "TN":
        for k in range(3):
            u, i, lag = s.voltages[k], s.currents[k], s.phase_angles[k]
            assert _close(s.p_phase_w[k], u * i * math.cos(lag)), s.at
            assert _close(s.q_phase_var[k], u * i * math.sin(lag)), s.at
        assert _close(s.p_w, sum(s.p_phase_w)) and _close(s.q_var, sum(s.q_phase_var)), s.at
        assert all(180 < u < 260 for u in s.voltages)
    else:
        (u1, u2, u3), (i1, _, i3), (phi1, _, phi3) = s.voltages, s.currents, s.phase_angles
        assert u2 is None and 180 < u1 < 260 and 180 < u3 < 260
        assert _close(s.p_w, u1 * i1 * math.cos(DEG30 + phi1) + u3 * i3 * math.cos(phi3 - DEG30)), s.at
        assert _close(s.q_var, u1 * i1 * math.sin(DEG30 + phi1) + u3 * i3 * math.sin(phi3 - DEG30)), s.at
        phasors = [cmath.rect(s.currents[k], -math.radians(120 * k) - s.phase_angles[k]) for k in range(3)]
        assert abs(sum(phasors)) < 1e-9  # no neutral: the line currents sum to zero
    assert all(0 <= i < 63 for i in s.currents)


def _check_reading(r, s) -> None:
    for kind, unit, value in (("p", "w", s.p_w), ("q", "var", s.q_var)):
        imp, exp = r[f"{kind}_import_{unit}"], r[f"{kind}_export_{unit}"]
        assert imp >= 0 and exp >= 0 and min(imp, exp) == 0
        assert _close(imp - exp, value), s.at
    if s.p_phase_w is not None:
        for k in (1, 2, 3):
            imp, exp = r[f"p_l{k}_import_w"], r[f"p_l{k}_export_w"]
            assert imp >= 0 and exp >= 0 and min(imp, exp) == 0
            assert _close(imp - exp, s.p_phase_w[k - 1]), s.at


@pytest.mark.parametrize("wiring,seed", CASES)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_scenario_is_physically_consistent_over_a_day(scenario, wiring, seed):
    model = MeterModel(seed=seed, wiring=wiring, load=scenario)
    previous = None
    hour_e = {"import": [], "export": []}  # energy at each full hour
    hour_p = {"import": [0.0], "export": [0.0]}  # Wh by trapezoids of the instantaneous powers
    for n, (s, r) in enumerate(_day(model)):
        _check_powers(s, wiring)
        _check_reading(r, s)
        now = {key: r[key] for key in ("e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh")}
        if previous is not None:
            prev_s, prev_r, prev_e = previous
            assert all(now[k] >= prev_e[k] for k in now), s.at  # registers never decrease
            for side in ("import", "export"):
                if now[f"e_{side}_wh"] > prev_e[f"e_{side}_wh"]:  # rises only while that way
                    assert r[f"p_{side}_w"] > 0 or prev_r[f"p_{side}_w"] > 0, (side, s.at)
                hour_p[side][-1] += (r[f"p_{side}_w"] + prev_r[f"p_{side}_w"]) / 2 * STEP_S / 3600
        if n % (3600 // STEP_S) == 0:
            for side in ("import", "export"):
                hour_e[side].append(r[f"e_{side}_wh"])
                hour_p[side].append(0.0)
        previous = (s, r, now)
    for side in ("import", "export"):
        for k in range(24):
            delta, integral = hour_e[side][k + 1] - hour_e[side][k], hour_p[side][k + 1]
            assert delta == pytest.approx(integral, rel=0.015, abs=15), (scenario, side, k)


@pytest.mark.parametrize("scenario", scenario_names())
def test_frames_stay_within_every_meters_wire_ranges(scenario):
    for profile in list_profiles():
        meter = Meter(profile, seed=2, load=scenario)
        for hour in range(0, 24, 2):
            for list_no in profile.lists:
                meter.frame_at(DAY0 + timedelta(hours=hour, minutes=30), list_no)  # raises when out of range


def _pairs(scenario, wiring, seed, start, hours, step_s=60):
    base, load = MeterModel(seed=seed, wiring=wiring), MeterModel(seed=seed, wiring=wiring, load=scenario)
    for n in range(int(hours * 3600 / step_s)):
        at = start + timedelta(seconds=n * step_s)
        yield at, base.state_at(at), load.state_at(at)


@pytest.mark.parametrize("wiring,seed", CASES)
def test_ev_charging_adds_3_x_16_a_from_18_00_for_4_h(wiring, seed):
    for at, house, ev in _pairs("ev-charging", wiring, seed, DAY0 + timedelta(hours=17), 6):
        if not 18 <= at.hour < 22:
            assert _instant(ev) == _instant(house)
            continue
        for k in range(3):
            added = (cmath.rect(ev.currents[k], -ev.phase_angles[k])
                     - cmath.rect(house.currents[k], -house.phase_angles[k]))
            assert abs(added) == pytest.approx(16, rel=0.02)  # the charger's current on every line
        if wiring == "TN":
            assert 10_300 < ev.p_w - house.p_w < 11_600  # about 11 kW on top of the base load
            assert all(i > 16 for i in ev.currents)
    e = MeterModel(seed=seed, wiring=wiring, load="ev-charging")
    session = e.state_at(DAY0.replace(hour=22)).e_import_wh - e.state_at(DAY0.replace(hour=18)).e_import_wh
    base = MeterModel(seed=seed, wiring=wiring)
    house = base.state_at(DAY0.replace(hour=22)).e_import_wh - base.state_at(DAY0.replace(hour=18)).e_import_wh
    assert session - house > (40_000 if wiring == "TN" else 23_000)


@pytest.mark.parametrize("wiring,seed", CASES)
def test_solar_exports_around_midday(wiring, seed):
    model = MeterModel(seed=seed, wiring=wiring, load="solar-export")
    exporting = []
    for s, r in _day(model, step_s=60):
        if r["p_export_w"] > 0:
            exporting.append(s.at)
            assert r["p_import_w"] == 0
            assert all(r[f"p_l{k}_import_w"] == 0 for k in (1, 2, 3) if f"p_l{k}_import_w" in r)
    assert exporting
    assert DAY0.replace(hour=6) < exporting[0] < DAY0.replace(hour=11)
    assert DAY0.replace(hour=15) < exporting[-1] < DAY0.replace(hour=20)
    assert len(exporting) == (exporting[-1] - exporting[0]).total_seconds() / 60 + 1  # one stretch a day
    morning, noon, evening = (model.reading_at(DAY0.replace(hour=h)) for h in (6, 13, 20))
    assert noon["e_export_wh"] - morning["e_export_wh"] > 2_000  # export energy rises by day...
    assert evening["e_export_wh"] == model.reading_at(DAY0 + timedelta(hours=30))["e_export_wh"]  # ...not by night
    assert noon["p_export_w"] > 1_000


@pytest.mark.parametrize("wiring,seed", CASES)
def test_pv_changes_active_power_only(wiring, seed):
    for _at, house, pv in _pairs("solar-export", wiring, seed, DAY0, 24, step_s=600):
        assert pv.q_var == pytest.approx(house.q_var, abs=1e-6)
        assert pv.voltages == house.voltages


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_phase_imbalance_loads_one_line_heavily(seed):
    tn = MeterModel(seed=seed, wiring="TN", load="phase-imbalance")
    heavy_lines = set()
    for s, _ in _day(tn, step_s=300):
        heavy = max(range(3), key=lambda k: s.currents[k])
        heavy_lines.add(heavy)
        assert all(s.currents[heavy] > 4 * s.currents[k] for k in range(3) if k != heavy), s.at
    assert len(heavy_lines) == 1
    it = MeterModel(seed=seed, wiring="IT", load="phase-imbalance")
    for s, _ in _day(it, step_s=300):  # 3 wires: the heavy load sits between two lines, the third is light
        light = min(range(3), key=lambda k: s.currents[k])
        assert all(s.currents[k] > 3 * s.currents[light] for k in range(3) if k != light), s.at


def test_phase_imbalance_chooses_the_heavy_line_by_seed():
    heavy = {seed: make_load("phase-imbalance", seed).line_shares.index(2.4) for seed in range(1, 20)}
    assert set(heavy.values()) == {0, 1, 2}
    assert all(make_load("phase-imbalance", seed, "IT").line_shares[1] == 0.3 for seed in range(1, 20))


@pytest.mark.parametrize("wiring,seed", CASES)
def test_voltage_sag_on_one_line_at_constant_power(wiring, seed):
    load = make_load("voltage-sag", seed, wiring)
    assert 190 <= load.volts <= 200
    sagged = 0
    for at, house, sag in _pairs("voltage-sag", wiring, seed, DAY0 + timedelta(hours=18), 2, step_s=30):
        if not (18, 30) <= (at.hour, at.minute) < (19, 30):
            assert _instant(sag) == _instant(house)
            continue
        sagged += 1
        k = load.line
        assert abs(sag.voltages[k] - load.volts) < 4
        assert all(sag.voltages[j] == house.voltages[j] for j in range(3) if j != k)
        assert sag.currents[k] == pytest.approx(house.currents[k] * house.voltages[k] / sag.voltages[k])
        assert sag.p_w == pytest.approx(house.p_w) and sag.q_var == pytest.approx(house.q_var)
        assert sag.e_import_wh == house.e_import_wh
    assert sagged == 120


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_deterministic_by_seed_in_any_order(scenario):
    times = [DAY0 + timedelta(hours=h, seconds=17) for h in range(0, 48, 5)]
    forward, backward = MeterModel(seed=5, load=scenario), MeterModel(seed=5, load=scenario)
    readings = [forward.reading_at(t) for t in times]
    assert readings == [backward.reading_at(t) for t in reversed(times)][::-1]
    assert MeterModel(seed=5, load=scenario).reading_at(times[4]) == readings[4]  # a fresh model, one query
    assert [MeterModel(seed=6, load=scenario).reading_at(t) for t in times] != readings
    frames = [f.data for f in Meter("kaifa-ma304h4", seed=5, load=scenario).frames(count=20)]
    assert frames == [f.data for f in Meter("kaifa-ma304h4", seed=5, load=scenario).frames(count=20)]


def test_household_is_the_default():
    times = [DAY0 + timedelta(hours=h) for h in range(0, 24, 3)]
    default = [MeterModel(seed=3).reading_at(t) for t in times]
    assert default == [MeterModel(seed=3, load="household").reading_at(t) for t in times]
    assert default == [MeterModel(seed=3, load=None).reading_at(t) for t in times]
    assert Meter("kaifa-ma304h4", seed=3).model.load.name == "household"


def test_meter_frames_carry_the_scenario():
    frames = list(Meter("kaifa-ma304h4", seed=2, start=DAY0.replace(hour=19), load="ev-charging").frames(count=6))
    list2 = [f.reading for f in frames if f.list == 2]
    assert list2 and all(r[f"i_l{k}_a"] > 16 for r in list2 for k in (1, 2, 3))
    noon = Meter("landis-gyr-e360", seed=2, load="solar-export").frame_at(DAY0.replace(hour=13), 1).reading
    assert noon["p_export_w"] > 0 and noon["p_import_w"] == 0
    assert noon["e_export_wh"] > 0


def test_unknown_scenario_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown scenario 'x'; known: household, ev-charging, solar-export"):
        MeterModel(seed=1, load="x")
    with pytest.raises(ValueError, match="unknown scenario 'sun'"):
        Meter("kaifa-ma304h4", load="sun")


@pytest.mark.parametrize("command", ["frames", "emulate", "run"])
def test_cli_lists_the_scenarios_and_refuses_an_unknown_one(command):
    from click.testing import CliRunner

    from rig.cli import main

    runner = CliRunner()
    help_text = runner.invoke(main, [command, "--help"], terminal_width=400, max_content_width=400).output
    assert all(name in help_text for name in SCENARIOS), help_text
    result = runner.invoke(main, [command, "--meter", "kaifa-ma304h4", "--port", "loop://", "--scenario", "sun"]
                           if command == "emulate" else [command, "--meter", "kaifa-ma304h4", "--scenario", "sun"])
    assert result.exit_code == 2
    assert "unknown scenario 'sun'; known: household, ev-charging, solar-export, phase-imbalance, voltage-sag" in \
        " ".join(result.output.split())


def test_cli_frames_play_a_scenario():
    import json

    from click.testing import CliRunner

    from rig.cli import main

    result = CliRunner().invoke(main, ["frames", "--meter", "kaifa-ma304h4", "--at", "2024-10-01T12:00:00",
                                       "--list", "2", "--scenario", "solar-export", "--json"])
    assert result.exit_code == 0, result.output
    reading = json.loads(result.output)["reading"]
    assert reading["p_export_w"] > 0 and reading["p_import_w"] == 0
