"""The `rig` command contract of docs/reading.md: names, options and JSON lines."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rig.cli import main
from tests.spec_frames import LIST2_HEX, unhex

L2_2024 = unhex(LIST2_HEX).hex()


def run(*args: str, stdin: str | bytes | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_meters_lists_both_kaifa_profiles_as_json_lines() -> None:
    result = run("meters", "--json")
    assert result.exit_code == 0
    profiles = {p["id"]: p for p in map(json.loads, result.output.splitlines())}
    assert {"kaifa-ma304h4", "kaifa-ma304h3e"} <= set(profiles)
    assert profiles["kaifa-ma304h4"]["line"] == "2400 8E1"


def test_frames_reproduces_the_real_list_2_frame() -> None:
    reading = {"meter_id": "6970631407262986", "p_import_w": 5056, "p_export_w": 0, "q_import_var": 0,
               "q_export_var": 469, "i_l1_a": 19.679, "i_l2_a": 1.292, "i_l3_a": 0.923,
               "u_l1_v": 235.6, "u_l2_v": 240.9, "u_l3_v": 239.3}
    result = run("frames", "--meter", "kaifa-ma304h4", "--at", "2024-10-01T19:00:00", "--list", "2",
                 "--reading", json.dumps(reading), "--json")
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line["hex"] == L2_2024
    assert line["list"] == 2 and line["meter"] == "kaifa-ma304h4"
    assert line["reading"]["i_l1_a"] == 19.679


def test_frames_follow_the_schedule() -> None:
    result = run("frames", "--meter", "kaifa-ma304h4", "--at", "2024-10-01T19:00:00", "--count", "8", "--json")
    lists = [json.loads(x)["list"] for x in result.output.splitlines()]
    assert lists == [2, 1, 1, 1, 1, 3, 1, 1]


def test_frames_rejects_bad_input_clearly() -> None:
    result = CliRunner().invoke(main, ["frames", "--meter", "nope"])
    assert result.exit_code != 0 and "nope" in result.output
    result = CliRunner().invoke(main, ["frames", "--meter", "kaifa-ma304h4", "--reading", "[1]"])
    assert result.exit_code == 2 and "JSON object" in result.output


def test_decode_reads_hex_with_whitespace_and_never_stops_at_a_bad_frame() -> None:
    frame = bytes.fromhex(L2_2024)
    bad = bytearray(frame)
    bad[-3] ^= 0xFF  # break the FCS
    text = frame.hex(" ") + "\n" + bytes(bad).hex() + "\n" + frame.hex()
    result = run("decode", "-", stdin=text)
    assert result.exit_code == 1  # one frame failed
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x["ok"] for x in lines] == [True, False, True]
    assert lines[0]["reading"]["u_l1_v"] == 235.6
    assert "error" in lines[1]


def test_decode_reads_the_json_lines_of_rig_frames() -> None:
    frames = run("frames", "--meter", "kaifa-ma304h3e", "--at", "2024-10-01T19:00:10", "--list", "3", "--json")
    result = run("decode", "-", stdin=frames.output)
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(x) for x in result.output.splitlines()]
    assert line["ok"] and line["reading"]["e_import_wh"] == json.loads(frames.output)["reading"]["e_import_wh"]
    bad = run("decode", "-", stdin='{"nohex": 1}\n')
    assert bad.exit_code == 1 and "'hex' field" in bad.output


def test_decode_of_rig_frames_round_trips() -> None:
    frames = run("frames", "--meter", "kaifa-ma304h3e", "--at", "2024-10-01T18:59:50", "--count", "12", "--json")
    sent = [json.loads(x) for x in frames.output.splitlines()]
    result = run("decode", "-", stdin="".join(x["hex"] for x in sent))
    assert result.exit_code == 0, result.output
    decoded = [json.loads(x)["reading"] for x in result.output.splitlines()]
    assert len(decoded) == len(sent)
    for frame, reading in zip(sent, decoded, strict=True):
        for name, value in frame["reading"].items():
            assert reading.get(name) == value, (frame["at"], name)


def test_emulate_plays_the_schedule_into_a_port_and_reports_each_frame() -> None:
    result = CliRunner().invoke(main, ["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--duration", "6s",
                                       "--start", "2024-10-01T19:00:00", "--speed", "30", "--json",
                                       "--bad-fcs-every", "2"])
    assert result.exit_code == 0, result.output
    played = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [(p["at"][-8:], p["list"], p["fault"], p["counts"]) for p in played] == [
        ("19:00:00", 2, None, {"frames_ok": 1}), ("19:00:02", 1, "bad_fcs:2", {"checksum_errors": 1}),
        ("19:00:04", 1, None, {"frames_ok": 1})]
    scheduled = run("frames", "--meter", "kaifa-ma304h4", "--at", "2024-10-01T19:00:00", "--count", "3", "--json")
    hexes = [json.loads(x)["hex"] for x in scheduled.output.splitlines()]
    assert played[0]["hex"] == hexes[0] and played[2]["hex"] == hexes[2]
    assert played[1]["hex"] != hexes[1] and played[1]["hex"][:-6] == hexes[1][:-6]  # only the FCS differs


def test_faults_lists_the_catalogue() -> None:
    result = run("faults", "--json")
    assert result.exit_code == 0
    names = {json.loads(line)["name"] for line in result.output.splitlines()}
    assert {"split", "garbage", "mid_frame", "truncate", "bitflip", "bad_fcs", "bad_hcs", "bad_length", "duplicate",
            "oversized", "clock_jump", "no_list3", "silence", "restart"} <= names


def test_a_bad_fault_or_capture_is_a_clear_error_not_a_traceback(tmp_path) -> None:
    bad_fault = CliRunner().invoke(main, ["run", "--fault", "nosuch:3"])
    assert bad_fault.exit_code == 2 and "nosuch" in bad_fault.output and "split" in bad_fault.output
    bad_order = CliRunner().invoke(main, ["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://",
                                          "--fault", "split", "--fault", "bad_fcs"])
    assert bad_order.exit_code == 2 and "give split after bad_fcs" in bad_order.output
    missing = CliRunner().invoke(main, ["run", "--capture", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "none.jsonl" in missing.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"format": "han-rig-capture", "version": 1}\n{"t": 0.0, "hex": "7e a"}\n')
    result = CliRunner().invoke(main, ["run", "--capture", str(broken)])
    assert result.exit_code == 1 and f"{broken}:2:" in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
