"""The [eol] section and its slots in a bench file."""

from __future__ import annotations

import pytest

from rig.bench import BenchError, load_bench

HEAD = '[dut]\nkind = "software"\n[eol]\nsupply = "sim"\n'


def test_the_station_bench_loads() -> None:
    bench = load_bench("rig/benches/eol-sim.toml")
    assert [s["channel"] for s in bench.eol["slot"]] == [1, 2, 3, 4]
    assert bench.eol["port"] == "han" and bench.eol["speed"] == 60.0


def test_slot_mistakes_are_reported_with_their_line(tmp_path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(HEAD + "[[eol.slot]]\nchannel = 1\n[[eol.slot]]\nchannel = 1\nchanel = 2\n")
    with pytest.raises(BenchError) as err:
        load_bench(path)
    assert "unknown key (did you mean channel?); allowed: channel, link, camera_roi" in str(err.value)
    path.write_text(HEAD + "[[eol.slot]]\nchannel = 1\n[[eol.slot]]\nchannel = 1\n")
    with pytest.raises(BenchError, match="channel 1 belongs to another slot"):
        load_bench(path)
    path.write_text(HEAD + 'port = "usb"\n')
    with pytest.raises(BenchError, match=r"b.toml:5: \[eol\] port: must be 'han' or 'p1'"):
        load_bench(path)
    path.write_text(HEAD + "[[eol.slot]]\nchannel = 1\nlink = \"/dev/ttyUSB0\"\n")
    with pytest.raises(BenchError, match="link must be 'sim'"):
        load_bench(path)


def test_a_slot_names_its_photodiode_and_camera_region(tmp_path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(HEAD + '[[eol.slot]]\nchannel = 1\nphotodiode = "TCPIP0::127.0.0.1::5025::SOCKET"\n'
                           "camera_roi = [10, 20, 30, 30]\n")
    slot = load_bench(path).eol["slot"][0]
    assert slot["photodiode"] == "TCPIP0::127.0.0.1::5025::SOCKET" and slot["camera_roi"] == [10, 20, 30, 30]
    path.write_text(HEAD + '[[eol.slot]]\nchannel = 1\nphotodiode = ""\n')
    with pytest.raises(BenchError, match="photodiode"):
        load_bench(path)
