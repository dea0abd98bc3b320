import math
from datetime import datetime, timedelta

import pytest

from rig.emulators import Meter, MeterModel
from rig.emulators.model import ENERGY_FIELDS

T0 = datetime(2024, 10, 1, 0, 0, 0)


def _times(start, step_s, count):
    return [start + timedelta(seconds=step_s * k) for k in range(count)]


@pytest.mark.parametrize("wiring", ["TN", "IT"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_energies_never_decrease_over_a_day(wiring, seed):
    model = MeterModel(seed=seed, wiring=wiring)
    previous = None
    for at in _times(T0, 60, 24 * 60 + 1):
        r = model.reading_at(at)
        now = (r["e_import_wh"], r["e_export_wh"], r["r_import_varh"], r["r_export_varh"])
        if previous is not None:
            assert all(b >= a for a, b in zip(previous, now, strict=True)), at
        previous = now
    first = model.reading_at(T0)
    assert previous[0] - first["e_import_wh"] > 10_000  # a household uses more than 10 kWh a day
    assert previous[1] == first["e_export_wh"]  # no export by default


@pytest.mark.parametrize("wiring", ["TN", "IT"])
def test_energy_is_the_integral_of_power(wiring):
    model = MeterModel(seed=4, wiring=wiring)
    t0, t1 = datetime(2024, 10, 1, 18, 0, 0), datetime(2024, 10, 1, 19, 0, 0)
    samples = [model.state_at(at).p_w for at in _times(t0, 2, 1800)]
    mean_p = sum(samples) / len(samples)
    delta_wh = model.state_at(t1).e_import_wh - model.state_at(t0).e_import_wh
    assert delta_wh == pytest.approx(mean_p, rel=0.01)  # one hour: Wh == mean W


def test_tn_power_is_u_i_pf_per_phase():
    model = MeterModel(seed=9, wiring="TN")
    for at in _times(T0, 997, 90):
        s = model.state_at(at)
        assert s.p_w == pytest.approx(sum(u * i * pf for u, i, pf in zip(s.voltages, s.currents,
                                                                          s.power_factors, strict=True)))
        for k in range(3):
            apparent = s.voltages[k] * s.currents[k]
            assert math.hypot(s.p_phase_w[k], s.q_phase_var[k]) == pytest.approx(apparent)
            assert 0.9 <= s.power_factors[k] <= 1.0
            assert 220 < s.voltages[k] < 250


def test_tn_frame_power_within_a_few_percent_of_u_i():
    meter = Meter("kaifa-ma304h4", seed=3, start=T0)
    for frame in meter.frames(start=datetime(2024, 10, 1, 7, 0, 0), count=400):
        if frame.list == 1:
            continue
        r = frame.reading
        apparent = sum(r[f"u_l{k}_v"] * r[f"i_l{k}_a"] for k in (1, 2, 3))
        assert 0.88 * apparent <= r["p_import_w"] <= 1.01 * apparent
        assert r["p_import_w"] ** 2 + max(r["q_import_var"], r["q_export_var"]) ** 2 <= (1.01 * apparent) ** 2


def test_it_power_is_the_two_wattmeter_sum():
    model = MeterModel(seed=9, wiring="IT")
    deg30 = math.radians(30)
    for at in _times(T0, 997, 90):
        s = model.state_at(at)
        u1, u2, u3 = s.voltages
        i1, i2, i3 = s.currents
        phi1, _, phi3 = s.phase_angles
        assert u2 is None
        assert i2 > 0
        assert 220 < u1 < 250 and 220 < u3 < 250
        assert s.p_w == pytest.approx(u1 * i1 * math.cos(deg30 + phi1) + u3 * i3 * math.cos(phi3 - deg30))
        assert s.q_var == pytest.approx(u1 * i1 * math.sin(deg30 + phi1) + u3 * i3 * math.sin(phi3 - deg30))
        star = (u1 + u3) / 2 / math.sqrt(3)  # star-equivalent voltage
        apparent = star * (i1 + i2 + i3)
        assert 0.85 * apparent <= s.p_w <= 1.02 * apparent


def test_it_currents_sum_to_zero():
    model = MeterModel(seed=2, wiring="IT")
    s = model.state_at(datetime(2024, 10, 1, 12, 0, 0))
    phasors = [
        (s.currents[k], -math.radians(120 * k) - s.phase_angles[k]) for k in range(3)
    ]  # angle of I_k = angle of star voltage k - lag
    re = sum(m * math.cos(a) for m, a in phasors)
    im = sum(m * math.sin(a) for m, a in phasors)
    assert abs(complex(re, im)) < 1e-9


def test_deterministic_by_seed_in_any_order():
    times = _times(datetime(2024, 10, 1, 19, 0, 0), 2, 50)
    a = MeterModel(seed=5)
    b = MeterModel(seed=5)
    forward = [a.reading_at(t) for t in times]
    backward = [b.reading_at(t) for t in reversed(times)][::-1]
    assert forward == backward
    other = MeterModel(seed=6)
    assert [other.reading_at(t) for t in times] != forward


def test_meter_frames_are_deterministic():
    one = [f.data for f in Meter("kaifa-ma304h4", seed=8).frames(count=30)]
    two = [f.data for f in Meter("kaifa-ma304h4", seed=8).frames(count=30)]
    assert one == two
    assert one != [f.data for f in Meter("kaifa-ma304h4", seed=9).frames(count=30)]


@pytest.mark.parametrize("profile", ["kaifa-ma304h4", "kaifa-ma304h3e"])
@pytest.mark.parametrize("hour", [3, 12, 19])
def test_power_changes_between_consecutive_frames(profile, hour):
    meter = Meter(profile, seed=hour, start=T0)
    powers = [f.reading["p_import_w"] for f in meter.frames(start=T0.replace(hour=hour), count=600)]
    changed = sum(a != b for a, b in zip(powers, powers[1:], strict=False))
    assert changed >= 0.95 * (len(powers) - 1)


def test_load_wanders_over_the_day():
    model = MeterModel(seed=1)
    hourly = [model.state_at(T0 + timedelta(hours=h)).p_w for h in range(24)]
    assert max(hourly) > 1.5 * min(hourly)
    assert min(hourly) > 0


@pytest.mark.parametrize("wiring", ["TN", "IT"])
@pytest.mark.parametrize("load", ["household", "ev-charging", "solar-export"])
def test_a_reading_without_energies_leaves_out_only_the_registers(wiring, load):
    model = MeterModel(seed=6, wiring=wiring, load=load)
    for at in _times(datetime(2024, 6, 1, 5, 0, 0), 3607, 8):
        full = model.reading_at(at)
        assert model.reading_at(at, energies=False) == {k: v for k, v in full.items() if k not in ENERGY_FIELDS}
        s = model.state_at(at)
        assert (s.e_import_wh, s.e_export_wh, s.r_import_varh, s.r_export_varh) == tuple(full[k] for k in ENERGY_FIELDS)
        assert (s.p_w, s.currents[0]) == (full["p_import_w"] - full["p_export_w"], full["i_l1_a"])
