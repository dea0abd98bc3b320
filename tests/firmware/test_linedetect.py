"""The line-settings detection state machine (han/linedetect.py), fed frame outcomes and time."""

import os
import subprocess

import pytest

import dut_firmware
from dut_firmware.han.linedetect import CANDIDATES, LineDetect, line_text, parse_line

FIRMWARE_DIR = dut_firmware.__path__[0]
FIRMWARE_ROOT = os.path.dirname(FIRMWARE_DIR)  # the folder holding the package: on sys.path
KAIFA, P1 = (2400, "E"), (115200, "N")


def detector(**kwargs):
    kwargs.setdefault("listen_ms", 1000)
    kwargs.setdefault("bad_frames", 3)
    kwargs.setdefault("silence_ms", 5000)
    return LineDetect(0, **kwargs)


def test_the_usual_lines_in_order():
    assert CANDIDATES == ((2400, "E"), (115200, "N"), (9600, "E"), (2400, "N"))
    assert [line_text(c) for c in CANDIDATES] == ["2400 8E1", "115200 8N1", "9600 8E1", "2400 8N1"]
    assert all(parse_line(line_text(c)) == c for c in CANDIDATES)


@pytest.mark.parametrize("text", ["2400", "2400 7E1", "2400 8X1", "fast 8N1", "2400 8E2", None])
def test_parse_line_rejects_anything_else(text):
    with pytest.raises(ValueError, match="2400 8E1"):
        parse_line(text)


def test_starts_detecting_on_the_first_candidate_and_keeps_the_first_that_yields_a_valid_frame():
    d = detector()
    assert (d.current, d.state, d.detected) == (KAIFA, "detecting", False)
    assert d.on_frame(False, 100) is False  # the switch may cut a frame: one error is no verdict
    assert d.on_frame(True, 200) is False
    assert (d.current, d.state, d.detections, d.just_detected) == (KAIFA, "detected", 1, True)


def test_a_listen_window_without_a_valid_frame_moves_on_cycling_through_all():
    d = detector()
    assert d.tick(999) is False
    seen = [d.current]
    for k in range(1, 5):
        assert d.tick(1000 * k) is True
        seen.append(d.current)
    assert seen == list(CANDIDATES) + [KAIFA]  # round and round until the meter answers
    assert d.switches == 4 and not d.detected


def test_bad_frames_without_a_valid_one_end_a_window_early():
    d = detector()
    assert [d.on_frame(False, t) for t in (10, 20, 30)] == [False, False, True]
    assert d.current == P1
    assert d.tick(1029) is False  # a new window started at the switch
    assert d.on_frame(True, 1030) is False and d.detected and d.current == P1


def test_detected_setting_is_kept_through_isolated_errors():
    d = detector()
    d.on_frame(True, 0)
    for t in range(1, 100):
        assert d.on_frame(t % 3 != 0, t * 100) is False  # an error now and then, never 3 in a row
    assert d.detected and d.current == KAIFA and d.switches == 0


def test_consecutive_bad_frames_after_detection_start_again_with_the_failed_setting_last():
    d = detector()
    d.on_frame(True, 0)
    assert [d.on_frame(False, t) for t in (100, 200, 300)] == [False, False, True]
    assert (d.current, d.state) == (P1, "detecting")
    d.on_frame(True, 400)
    assert d.detected and d.detections == 2
    assert [d.on_frame(False, t) for t in (500, 600, 700)] == [False, False, True]
    assert d.order == (KAIFA, (9600, "E"), (2400, "N"), P1)  # the usual order again, P1 last
    assert d.current == KAIFA


def test_silence_after_detection_starts_again():
    d = detector()
    d.on_frame(True, 0)
    assert d.tick(4999) is False
    d.on_frame(True, 4000)  # a valid frame restarts the silence clock
    assert d.tick(8999) is False
    assert d.tick(9000) is True and d.state == "detecting" and d.current == P1  # KAIFA failed: last


def test_a_remembered_setting_is_tried_first_then_the_usual_order():
    d = detector(first=(9600, "E"))
    assert d.order == ((9600, "E"), KAIFA, P1, (2400, "N"))
    assert d.current == (9600, "E") and d.tick(1000) and d.current == KAIFA
    odd = detector(first=(4800, "O"))  # not a usual one: tried first, then the usual ones
    assert odd.order == ((4800, "O"),) + CANDIDATES
    assert odd.current == (4800, "O")


def test_a_single_candidate_never_switches():
    d = detector(candidates=[KAIFA])
    assert d.tick(10_000) is False
    assert [d.on_frame(False, t) for t in range(5)] == [False] * 5
    assert d.current == KAIFA


def test_no_candidates_is_an_error():
    with pytest.raises(ValueError, match="no candidate"):
        LineDetect(0, candidates=())


MP_SCRIPT = """
import sys
sys.path.insert(0, %r)
from dut_firmware.han.linedetect import LineDetect
d = LineDetect(0, listen_ms=1000, bad_frames=2, silence_ms=3000)
out = [d.tick(1000), d.current, d.on_frame(False, 1100), d.on_frame(False, 1200), d.current,
       d.on_frame(True, 1300), d.state, d.tick(4300), d.current]
print(repr(out))
"""


def test_runs_under_micropython(micropython):
    done = subprocess.run([micropython, "-c", MP_SCRIPT % FIRMWARE_ROOT], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("[True, (115200, 'N'), False, True, (9600, 'E'), False, 'detected', True, "
                                   "(2400, 'E')]")


def test_config_takes_auto_and_a_remembered_setting(tmp_path):
    import json

    from dut_firmware import config

    path = tmp_path / "c.json"
    path.write_text(json.dumps({"serial": {"device": "/dev/null", "baud": "auto"},
                                "line": {"detected": "115200 8N1"}}))
    cfg = config.load(str(path))
    assert cfg["serial"]["baud"] == "auto" and cfg["line"]["detected"] == "115200 8N1"
    assert cfg["line"]["data_request"] is True
    for bad, message in (({"serial": {"baud": "fast"}}, "serial.baud"),
                         ({"line": {"detected": "2400 baud"}}, "line.detected"),
                         ({"line": {"listen_ms": 0}}, "line.listen_ms")):
        with pytest.raises(ValueError, match=message):
            config.apply_changes(cfg, bad)
    assert config.apply_changes(cfg, {"serial": {"baud": 2400}})["serial"]["baud"] == 2400
