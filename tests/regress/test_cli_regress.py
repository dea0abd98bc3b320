"""`rig regress` end to end: real firmware builds on the software DUT (MicroPython, mosquitto, ptys).

A head build is the firmware with a deliberate regression APPENDED to one of its modules (wrapping a
function, so the test keeps working whatever else the firmware changes): one loses every second List 2
(neither published nor counted), one takes 30 ms more before each reading is published. Each regress runs
20 s of meter time at x10, twice per build.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rig.cli import main
from rig.dut.locate import find_firmware_dir
from rig.results.store import close_stores, list_records

JOB = ["--duration", "20s", "--speed", "10", "--start", "2026-11-30T12:10:05", "--repeat", "2"]
LOSES_LIST_2 = '''

# -- a deliberate regression (a test of the rig builds it): every second List 2 is lost, neither published nor counted
_regress_feed = Decoder.feed
_regress_list2 = [0]


def _regress_losing_feed(self, data):
    kept = []
    for res in _regress_feed(self, data):
        if res.get("ok") and res.get("list") == 2:
            _regress_list2[0] += 1
            if _regress_list2[0] % 2 == 0:
                self.counters["frames_ok"] -= 1
                continue
        kept.append(res)
    return kept


Decoder.feed = _regress_losing_feed
'''
SLOWER = '''

# -- a deliberate regression (a test of the rig builds it): 30 ms more before each reading is published
import time as _regress_time

_regress_update = State.update


def _regress_slow_update(self, *args, **kwargs):
    _regress_time.sleep_ms(30)
    return _regress_update(self, *args, **kwargs)


State.update = _regress_slow_update
'''
LOSS_ITEMS = {"verdict", "frames_decoded", "frames_lost", "http.failed", "modbus.failed", "mqtt.failed"}


def build(root: Path, name: str, module: str | None = None, code: str = "") -> Path:
    """A copy of the firmware, ``code`` appended to ``module``."""
    fw = root / name
    shutil.copytree(find_firmware_dir(), fw, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if module:
        with open(fw / module, "a", encoding="utf-8") as fh:
            fh.write(code)
    return fw


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("builds")
    return {"base": build(root, "base"), "same": build(root, "same"),
            "loses": build(root, "loses", "han/decoder.py", LOSES_LIST_2),
            "slower": build(root, "slower", "state.py", SLOWER)}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'results.sqlite'}"
    close_stores()


def regress(*args: str) -> Result:
    return CliRunner().invoke(main, ["regress", *args], catch_exceptions=False)


def report(out: Path) -> dict:
    return json.loads((out / "regression.json").read_text())


def regressions(data: dict) -> dict[str, str]:
    return {i["name"]: i["status"] for i in data["items"] if i["status"] in ("newly_failing", "regressed")}


@pytest.fixture(scope="module")
def lost_frames(builds: dict[str, Path], db: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("reports") / "loses"
    return regress("--base", str(builds["base"]), "--head", str(builds["loses"]), *JOB, "--out", str(out),
                   "--db", db), out


def test_a_build_that_loses_frames_is_reported_exactly_and_fails(lost_frames: tuple[Result, Path],
                                                                builds: dict[str, Path], db: str) -> None:
    result, out = lost_frames
    assert result.exit_code == 1, result.output
    data = report(out)
    assert set(regressions(data)) == LOSS_ITEMS and set(regressions(data).values()) == {"newly_failing"}
    items = {i["name"]: i for i in data["items"]}
    assert items["frames_lost"]["base"] == [0, 0] and items["frames_lost"]["head"] == [1, 1]
    assert items["frames_decoded"]["head"] == [items["frames_decoded"]["base"][0] - 1] * 2
    assert "REGRESSION: 6 newly fails" in result.stdout
    assert "newly fails          frames_lost: pass -> fail (base [0, 0], head [1, 1])" in result.stdout
    assert data["head"]["build"]["path"] == str(builds["loses"].resolve())
    assert data["base"]["build"]["tree_hash"] != data["head"]["build"]["tree_hash"]

    html = (out / "report.html").read_text()
    assert "REGRESSION: 6 newly fails" in html and html.count("data:image/png;base64,") == 3
    assert (out / "junit.xml").read_text().count("<failure ") == 6
    for side in ("base", "head"):
        for n in (1, 2):
            record = json.loads((out / f"{side}-{n}-kaifa-ma304h4" / "record.json").read_text())
            names = {m["name"] for m in record["measurements"]}
            assert {"dut.boot_time", "dut.free_heap", "frames_lost"} <= names
            assert record["dut"]["build"]["path"] == str(builds["loses" if side == "head" else "base"].resolve())
    stored = list_records(db)
    assert len(stored) == 4 and {r["verdict"] for r in stored} == {"pass", "fail"}


def test_stored_runs_are_compared_without_running_again(lost_frames: tuple[Result, Path], db: str,
                                                        tmp_path: Path) -> None:
    _, out = lost_frames
    data = report(out)
    base_ids = [r["id"][:12] for r in data["base"]["runs"]]
    head_ids = [r["id"] for r in data["head"]["runs"]]
    result = regress("--base-run", base_ids[0], "--base-run", base_ids[1], "--head-run", head_ids[0],
                     "--head-run", head_ids[1], "--db", db, "--out", str(tmp_path / "again"))
    assert result.exit_code == 1, result.output
    again = report(tmp_path / "again")
    assert regressions(again) == regressions(data)
    assert [r["id"] for r in again["head"]["runs"]] == head_ids
    assert "running" not in result.output  # nothing ran


def test_a_slower_build_is_reported_as_latency_beyond_noise(builds: dict[str, Path], db: str, tmp_path: Path) -> None:
    result = regress("--base", str(builds["base"]), "--head", str(builds["slower"]), *JOB, "--out", str(tmp_path),
                     "--no-store")
    assert result.exit_code == 1, result.output
    found = regressions(report(tmp_path))
    assert {"http.latency_p50", "modbus.latency_p50", "mqtt.latency_p50"} <= set(found)
    assert all(".latency_" in name and status == "regressed" for name, status in found.items()), found
    items = {i["name"]: i for i in report(tmp_path)["items"]}
    assert 20 <= items["mqtt.latency_p50"]["delta"] <= 60  # the 30 ms, give or take the host
    assert items["verdict"]["status"] == "unchanged"  # still within every limit


def test_identical_builds_report_no_regression(builds: dict[str, Path], tmp_path: Path) -> None:
    result = regress("--base", str(builds["base"]), "--head", str(builds["same"]), *JOB, "--out", str(tmp_path),
                     "--no-store")
    assert result.exit_code == 0, result.output
    data = report(tmp_path)
    assert regressions(data) == {} and data["regressed"] is False
    assert data["base"]["build"]["tree_hash"] == data["head"]["build"]["tree_hash"]
    assert "NO REGRESSION" in result.stdout
    assert "[head 2/2] kaifa-ma304h4: pass" in result.output  # progress while runs go


@pytest.mark.parametrize(("args", "message"), [
    (["--base", "dut_firmware"], "give the two builds to compare"),
    (["--head-run", "abc"], "stored runs need --base-run and --head-run"),
    (["--base-run", "a", "--head-run", "b", "--base", "dut_firmware"], "not both"),
    (["--base-run", "a", "--head-run", "b", "--duration", "1m"], "stored runs ran already"),
    (["--base", "no-such-revision-anywhere", "--head", "HEAD"], "neither a firmware directory nor a revision"),
    (["--base", "rig", "--head", "rig"], "has no main.py"),
    (["--base-run", "a", "--head-run", "b", "--db", "sqlite:////nonexistent/x.sqlite"], "no results store"),
    (["--meter", "no-such-meter", "--base", "dut_firmware", "--head", "dut_firmware"], "unknown meter profile"),
])
def test_usage_errors_exit_2(args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = regress(*args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_a_board_bench_refuses_firmware_builds(builds: dict[str, Path], tmp_path: Path) -> None:
    bench = tmp_path / "board.toml"
    bench.write_text('[dut]\nkind = "board"\nhttp_url = "http://127.0.0.1:9"\n')
    result = regress("--bench", str(bench), "--base", str(builds["base"]), "--head", str(builds["same"]),
                     "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "runs the firmware flashed on it" in result.output


def test_a_full_report_folder_is_refused(builds: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("x")
    result = regress("--base", str(builds["base"]), "--head", str(builds["same"]), "--out", str(tmp_path))
    assert result.exit_code == 2 and "already holds files" in result.output
