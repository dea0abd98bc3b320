"""`rig led observe` and `rig led calibrate` on the software DUT with both simulated instruments, and the
bench-file edit calibrate makes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
from click.testing import CliRunner

from rig.bench import load_bench
from rig.cli import main
from rig.cli_led import set_toml_key

SIM_LED = Path(__file__).resolve().parents[2] / "rig" / "benches" / "sim-led.toml"


def test_set_toml_key_replaces_adds_and_keeps_comments() -> None:
    text = "[bench]\nname = 'x'  # the name\n\n[led]\ncamera = 'sim'\ncamera_roi = [1, 2, 30, 30]  # old\n"
    out = set_toml_key(text, "led", "camera_roi", "[5, 6, 40, 40]")
    assert "camera_roi = [5, 6, 40, 40]  # old" in out and "[1, 2, 30, 30]" not in out
    assert "name = 'x'  # the name" in out
    added = set_toml_key("[led]\ncamera = 0\n\n[features]\nled_camera = true\n", "led", "camera_roi", "[1, 1, 9, 9]")
    assert added.index("camera_roi") < added.index("[features]")
    assert set_toml_key("[bench]\n", "led", "camera", "0").endswith("[led]\ncamera = 0\n")


def test_observe_prints_provoked_states_through_both_paths() -> None:
    result = CliRunner().invoke(main, ["led", "observe", "--bench", str(SIM_LED), "--seconds", "1",
                                       "--window", "2", "--provoke", "read_failed", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    seen = {(row["instrument"], name) for row in rows for name in row["names"]}
    assert ("photodiode", "read_failed") in seen and ("camera", "read_failed") in seen
    assert ("photodiode", "online") in seen


def test_observe_refuses_unknown_state_and_bench_without_instruments() -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["led", "observe", "--bench", str(SIM_LED), "--provoke", "disco"])
    assert bad.exit_code == 2 and "known:" in bad.output
    none = runner.invoke(main, ["led", "observe", "--seconds", "1"])  # the default bench has no LED instrument
    assert none.exit_code == 1 and "has no LED instrument" in none.output


def test_calibrate_finds_the_led_and_stores_it(tmp_path) -> None:
    bench = tmp_path / "bench.toml"
    shutil.copy(SIM_LED, bench)
    bench.write_text(bench.read_text().replace("camera_roi", "# camera_roi"))
    png = tmp_path / "led.png"
    result = CliRunner().invoke(main, ["led", "calibrate", "--bench", str(bench), "--png", str(png), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output.strip().splitlines()[-1])
    x, y, w, h = found["roi"]
    assert x < 200 < x + w and y < 110 < y + h  # the simulated LED sits at (200, 110)
    assert load_bench(bench).led["camera_roi"] == [x, y, w, h]
    picture = cv2.imread(str(png))
    assert picture is not None and picture.shape == (240, 320, 3)
