from pathlib import Path

import pytest

from rig.bench import DEFAULT_BENCH, BenchError, load_bench, posix_tz

ROOT = Path(__file__).parent.parent


def test_default_bench_is_the_software_dut() -> None:
    bench = load_bench()
    assert bench.path == DEFAULT_BENCH
    assert bench.is_software and bench.link == "sim"
    assert bench.broker_spawn and bench.has("mqtt") and bench.has("modbus")
    assert not bench.has("led_camera")
    assert bench.topic == f"han/{bench.serial_number}"


def test_example_bench_parses() -> None:
    bench = load_bench(ROOT / "benches" / "example-bench.toml")
    assert bench.dut_kind == "board"
    assert (bench.broker_host, bench.broker_port) == ("192.0.2.1", 1883)
    assert bench.link == "/dev/ttyUSB0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[dut]\nkind = 'toaster'\n", "kind must be"),
        ("[dut]\nkind = 'board'\n", r"needs \[dut\] http_url"),
        ("[meter]\nlink = '/dev/ttyUSB0'\n", "software DUT reads a virtual line"),
        ("[broker]\nspawn = false\n", "needs spawn = true or a url"),
        ("[broker]\nspawn = false\nurl = 'http://x'\n", r"mqtt://host:1883"),
        ("[features]\nlaser = true\n", "unknown features"),
        ("[bench\n", "not valid TOML"),
    ],
)
def test_bad_bench_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    with pytest.raises(BenchError, match=message):
        load_bench(path)


def test_missing_bench_file(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="not found"):
        load_bench(tmp_path / "nope.toml")


def test_posix_tz_of_nordic_zones() -> None:
    assert posix_tz("Europe/Oslo") == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert posix_tz("Europe/Helsinki") == "EET-2EEST,M3.5.0/3,M10.5.0/4"
    with pytest.raises(BenchError):
        posix_tz("Mars/Olympus_Mons")
