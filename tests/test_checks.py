import math

from rig.checks import Check, ExpectedState, InterfaceSummary, Outcome, judge, percentile
from rig.resolution import view


def test_expected_state_keeps_each_field_from_the_latest_frame_that_carried_it() -> None:
    state = ExpectedState()
    state.apply({"timestamp": "T0", "p_import_w": 10, "u_l1_v": 230.1})
    after = state.apply({"timestamp": "T1", "p_import_w": 12})
    assert after == {"timestamp": "T1", "p_import_w": 12, "u_l1_v": 230.1}
    after["p_import_w"] = 99  # a copy: the state is not changed through it
    assert state.apply({})["p_import_w"] == 12


def test_judge_uses_the_interface_resolution() -> None:
    expected = {"u_l1_v": 235.6, "i_l1_a": 19.679, "p_import_w": 5056, "p_export_w": 0}
    modbus_view = {"u_l1_v": 235.6, "i_l1_a": 19.68, "p_import_w": 5056, "p_export_w": 0,
                   "u_l2_v": None, "u_l3_v": None, "i_l2_a": None, "i_l3_a": None}
    assert judge("modbus", expected, modbus_view) == []
    modbus_view["i_l1_a"] = 19.70
    (mismatch,) = judge("modbus", expected, modbus_view)
    assert mismatch.field == "i_l1_a"


def test_judge_http_is_exact_and_null_is_not_zero() -> None:
    expected = {"timestamp": "2024-10-01T19:00:00", "i_l1_a": 19.679, "u_l2_v": None}
    shown = {"timestamp": "2024-10-01T19:00:00", "i_l1_a": 19.68, "u_l2_v": 0.0}
    fields = {m.field for m in judge("http", expected, shown)}
    assert fields == {"i_l1_a", "u_l2_v"}


def test_view_keeps_only_what_the_interface_carries() -> None:
    shown = view("modbus", {"meter_id": "x", "u_l1_v": 230.0})
    assert "meter_id" not in shown and shown["u_l1_v"] == 230.0 and shown["u_l2_v"] is None


def test_modbus_compares_net_power_and_unknown_export_counts_as_none_sent() -> None:
    # Kaifa List 1 carries P+ only: the Modbus map shows P+ - 0
    assert judge("modbus", {"p_import_w": 4120}, {"p_import_w": 4120, "p_export_w": 0}) == []
    assert judge("modbus", {"p_import_w": 100, "p_export_w": 300}, {"p_import_w": 0, "p_export_w": 200}) == []
    (mismatch,) = judge("modbus", {"p_import_w": 4120}, {"p_import_w": 4083, "p_export_w": 0})
    assert mismatch.field == "p_net_w"


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert math.isnan(percentile([], 50))


def test_interface_summary_counts_and_reports_latency_in_ms() -> None:
    summary = InterfaceSummary("http")
    summary.add(Check("http", 0, Outcome.PASS, 0.010))
    summary.add(Check("http", 1, Outcome.PASS, 0.020))
    summary.add(Check("http", 2, Outcome.FAIL))
    summary.add(Check("http", 3, Outcome.OVERTAKEN))
    d = summary.as_dict()
    assert (d["passed"], d["failed"], d["overtaken"]) == (2, 1, 1)
    assert d["latency_ms"]["p50"] == 15.0 and d["latency_ms"]["max"] == 20.0


def test_judge_allows_the_resolution_of_the_meter_format() -> None:
    # Kamstrup sends whole volts: 230 V published as 230.0 is exact; without the format 0.05 V is the limit
    assert judge("http", {"u_l1_v": 230}, {"u_l1_v": 230.4}, meter_format="Kamstrup_V0001") == []
    assert judge("http", {"u_l1_v": 230}, {"u_l1_v": 230.4})
    (mismatch,) = judge("http", {"u_l1_v": 230}, {"u_l1_v": 231.0}, meter_format="Kamstrup_V0001")
    assert mismatch.tolerance == 0.5


def test_interface_summary_keeps_the_latency_of_a_late_value_too() -> None:
    summary = InterfaceSummary("http")
    summary.add(Check("http", 0, Outcome.PASS, 0.010))
    summary.add(Check("http", 1, Outcome.FAIL, 6.3, detail="shown 6300 ms after the frame"))
    assert summary.as_dict()["latency_ms"]["max"] == 6300.0 and summary.failed == 1


def test_streamed_latency_quantiles_match_exact_ones_within_half_a_bin() -> None:
    import random

    from rig.checks import LATENCY_BIN_MS, LatencyHistogram

    rng = random.Random(5)
    values = [rng.lognormvariate(-4.0, 0.8) - 0.002 for _ in range(20_000)]  # seconds, a few negative
    histogram = LatencyHistogram()
    for value in values:
        histogram.add(value)
    for q in (0, 1, 10, 50, 90, 99, 99.9):
        assert abs(histogram.quantile(q) - percentile(values, q)) * 1000 <= LATENCY_BIN_MS / 2 + 1e-9, q
    assert histogram.quantile(100) == max(values) and histogram.n == len(values)
    assert len(histogram.bins) < len(values) / 4  # a bin per distinct 0.1 ms, not a slot per value


def test_an_empty_histogram_has_no_quantiles() -> None:
    from rig.checks import LatencyHistogram

    assert math.isnan(LatencyHistogram().quantile(50))
    assert InterfaceSummary("mqtt").as_dict()["latency_ms"]["p50"] is None
