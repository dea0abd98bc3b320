"""Energy between the meter's hourly counters (state.py ``Estimate``, message.py ``eic``/``eec``/``est``),
and meter counters that never decrease: on CPython and on the real MicroPython interpreter."""

import json
import os
import subprocess
import sys

from test_fw_units import LIST2, OSLO, ok

import dut_firmware
from dut_firmware import state as state_mod

E0 = 42879838            # Wh, the meter's import counter at the first hour
P = 3456                 # W, a constant load
HOUR_MS = 3600000
LIST3_DELAY_MS = 10000   # Kaifa: the counters of XX:00:00 are sent at XX:00:10


def list1(p_w):
    return ok({"p_import_w": p_w, "p_export_w": 0}, 1)


def list3(e_import, e_export=0, meter_id=LIST2["meter_id"]):
    return ok({"p_import_w": P, "p_export_w": 0, "e_import_wh": e_import, "e_export_wh": e_export,
               "meter_id": meter_id}, 3)


def message(state):
    return json.loads(state.text())


def constant_load_hour():
    """A Kaifa hour at constant load P: List 3 (counters of the hour), List 1 every 2 s, the next List 3.
    Yields (device ms since the hour, message) after each reading; device time = meter time."""
    s = state_mod.State(OSLO)
    t = LIST3_DELAY_MS
    s.update(list3(E0), uptime_ms=t)
    yield t, s, message(s)
    while t + 2000 < HOUR_MS + LIST3_DELAY_MS:
        t += 2000
        s.update(list1(P), uptime_ms=t)
        yield t, s, message(s)
    t = HOUR_MS + LIST3_DELAY_MS
    s.update(list3(E0 + P), uptime_ms=t)
    yield t, s, message(s)


def test_the_estimate_tracks_a_constant_load_within_its_documented_error():
    seen = list(constant_load_hour())
    first, last = seen[0][2], seen[-1][2]
    assert first["eic"] == first["ic"] == E0 / 1000 and first["est"] is False
    for t, _, msg in seen[1:-1]:
        true_wh = E0 + P * t // HOUR_MS                   # the energy the meter holds at t
        est_wh = round(msg["eic"] * 1000)
        assert msg["ic"] == E0 / 1000 and msg["est"] is True  # the meter's own counter untouched
        assert est_wh == E0 + P * (t - LIST3_DELAY_MS) // HOUR_MS  # exact: the counter + P x elapsed
        # documented error: behind by the List 3's delay (P x 10 s), plus the Wh floor
        assert 0 <= true_wh - est_wh <= P * LIST3_DELAY_MS // HOUR_MS + 1
    # at the next List 3 the estimate re-bases on the meter's counter, which it had reached
    assert last["ic"] == last["eic"] == (E0 + P) / 1000 and last["est"] is False
    eics = [m["eic"] for _, _, m in seen]
    assert eics == sorted(eics), "the estimate stepped down"


def test_the_estimate_integrates_each_power_until_the_next_reading():
    s = state_mod.State(OSLO)
    s.update(list3(1000, 500), uptime_ms=0)
    s.update(ok({"p_import_w": 0, "p_export_w": 1800}, 1), uptime_ms=1000)   # P (3456 W) held 1 s
    s.update(ok({"p_import_w": 7200, "p_export_w": 0}, 1), uptime_ms=3000)   # 1800 W export held 2 s
    s.update(list1(0), uptime_ms=4000)                                        # 7200 W held 1 s
    msg = message(s)
    assert round(msg["eic"] * 1000) == 1000 + (3456 * 1000 + 7200 * 1000) // HOUR_MS
    assert round(msg["eec"] * 1000) == 500 + 1800 * 2000 // HOUR_MS
    assert (msg["ic"], msg["ec"]) == (1.0, 0.5)


def test_no_estimate_before_the_counters_or_after_a_gap():
    s = state_mod.State(OSLO)
    s.update(list1(P), uptime_ms=0)
    assert (message(s)["eic"], message(s)["est"]) == (None, None)
    s.update(list3(E0), uptime_ms=2000)
    s.update(list1(P), uptime_ms=4000)
    assert message(s)["eic"] is not None
    s.update(list1(P), uptime_ms=4000 + state_mod.EST_MAX_STEP_MS + 1)   # power unknown over the gap
    msg = message(s)
    assert (msg["eic"], msg["eec"], msg["est"]) == (None, None, None) and msg["ic"] == E0 / 1000
    s.update(list3(E0 + 100), uptime_ms=70000)
    assert message(s)["eic"] == (E0 + 100) / 1000


def test_an_estimate_ahead_of_the_meter_holds_instead_of_stepping_down():
    s = state_mod.State(OSLO)
    s.update(list3(E0), uptime_ms=0)
    for t in range(50000, HOUR_MS // 2 + 1, 50000):  # P held half an hour: +P/2
        s.update(list1(P), uptime_ms=t)
    ahead = message(s)["eic"]
    assert ahead == (E0 + P // 2) / 1000
    s.update(list3(E0 + 10), uptime_ms=HOUR_MS // 2 + 2000)  # the meter counted far less
    assert message(s)["ic"] == (E0 + 10) / 1000
    assert message(s)["eic"] == ahead                # held: never published as a decrease
    for t in range(HOUR_MS // 2 + 52000, HOUR_MS + 2001, 50000):
        s.update(list1(P), uptime_ms=t)
    assert message(s)["eic"] == (E0 + 10 + P // 2) / 1000 > ahead  # then it moves on from the meter's


def test_a_decreasing_meter_counter_is_rejected_counted_and_never_published():
    s = state_mod.State(OSLO)
    s.update(list3(E0, 2000), uptime_ms=0, now_ms=5)
    s.update(list3(E0 - 1, 2001), uptime_ms=2000, now_ms=6)
    msg = message(s)
    assert msg["ic"] == E0 / 1000 and msg["ec"] == 2.001  # the export counter did grow: taken
    assert s.counters(None)["counter_decreases"] == 1
    assert s.last_error["code"] == "counter_decrease" and "e_import_wh" in s.last_error["message"]
    assert s.last_error["ts"] == 6
    assert msg["eic"] >= E0 / 1000
    # another meter (its id changed): its counters start afresh
    s.update(list3(1234, 0, meter_id="7359992890941742"), uptime_ms=4000)
    msg = message(s)
    assert msg["ic"] == 1.234 and msg["eic"] == 1.234 and s.counters(None)["counter_decreases"] == 1


SCRIPT = """
import sys, json
sys.path.insert(0, %r)
from dut_firmware import state
s = state.State(%r)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    reading, up = json.loads(line)
    s.update({"ok": True, "format": "hdlc/kaifa-kfm001", "reading": reading}, up, 0)
    m = json.loads(s.text())
    print(json.dumps([m["ic"], m["eic"], m["eec"], m["est"]]))
print(s.counters(None)["counter_decreases"])
"""


def test_micropython_computes_the_same_estimate(micropython):
    feed = [[{"p_import_w": 1, "p_export_w": 0}, 0], [{"e_import_wh": E0, "e_export_wh": 7}, 1000]]
    for k in range(1, 1801):  # an hour of List 1 every 2 s, a varying load
        feed.append([{"p_import_w": (k * 7919) % 11000, "p_export_w": (k * 31) % 500}, 1000 + 2000 * k])
    feed.append([{"e_import_wh": E0 - 5, "e_export_wh": 900}, 3602000])
    text = "".join(json.dumps(row) + "\n" for row in feed)
    script = SCRIPT % (os.path.dirname(dut_firmware.__path__[0]), OSLO)
    mp = subprocess.run([micropython, "-c", script], input=text, capture_output=True, text=True, timeout=120)
    assert mp.returncode == 0, mp.stderr
    cp = subprocess.run([sys.executable, "-c", script], input=text, capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    rows = [json.loads(row) for row in mp.stdout.splitlines()]
    assert rows == [json.loads(row) for row in cp.stdout.splitlines()] and len(rows) == len(feed) + 1
    assert rows[-1] == 1 and rows[-2][0] == E0 / 1000   # the decrease rejected on MicroPython too
    assert rows[-2][1] > E0 / 1000 + 1 and rows[-2][3] is True  # no re-base on a rejected counter
