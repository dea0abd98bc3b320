"""The capture format: write -> read round trip, every reader error naming file and line, the importers."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from rig.capture import Capture, CaptureError, CaptureWriter, Chunk, load_capture, read_capture, write_capture
from rig.line import LineSettings

HEADER = '{"format": "han-rig-capture", "version": 1, "meter": null, "line": "2400 8E1", "started": null, ' \
         '"source": "text"}'
FRAME = bytes.fromhex("7ea027010201105a87e6e7000f40000000090c07e60102070e2512ff80000002010600001015f5ff7e")


# -- line settings --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("2400 8E1", LineSettings(2400, 8, "E", 1)),
    ("2400-8E1", LineSettings(2400, 8, "E", 1)),
    ("115200-8N1", LineSettings(115200, 8, "N", 1)),
    (" 9600 7o2 ", LineSettings(9600, 7, "O", 2)),
])
def test_line_settings_parse(text, expected):
    assert LineSettings.parse(text) == expected
    assert LineSettings.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["2400", "2400 8X1", "2400_8E1", "8E1", "2400 8E3", "0 8E1", "", "auto"])
def test_line_settings_parse_refuses_anything_else(text):
    with pytest.raises(ValueError):
        LineSettings.parse(text)


# -- writing and reading --------------------------------------------------------------------------------------
def test_round_trip_keeps_header_chunks_and_annotations(tmp_path):
    capture = Capture(
        meter="kaifa-ma304h4", line=LineSettings(2400), started="2026-11-30T00:12:03.123+00:00",
        source={"link": "/dev/ttyUSB0"}, meta={"make": "Kaifa", "notes": "café"},
        chunks=[
            Chunk(0.0, FRAME, expect={"p_import_w": 4117, "timestamp": "2022-01-02T07:14:37"}, list=1,
                  counts={"frames_ok": 1}),
            Chunk(2.0000004, b"\x7e\xa0", fault="truncate:2", note="cut off", counts={"truncated": 1}),
            Chunk(2.5, b"\x00" * 3),
        ],
    )
    path = tmp_path / "x.jsonl"
    write_capture(path, capture)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"format": "han-rig-capture", "version": 1, "meter": "kaifa-ma304h4",
                                    "line": "2400 8E1", "started": "2026-11-30T00:12:03.123+00:00",
                                    "source": {"link": "/dev/ttyUSB0"}, "make": "Kaifa", "notes": "café"}
    assert lines[2].startswith('{"t": 2.000000, "hex": "7ea0", ')  # t with 6 decimals, then hex
    back = read_capture(path)
    assert back.path == path
    assert back.chunks[1].t == 2.0
    capture.chunks[1] = Chunk(2.0, b"\x7e\xa0", fault="truncate:2", note="cut off", counts={"truncated": 1})
    assert (back.meter, back.line, back.started, back.source, back.meta, back.chunks) == (
        capture.meter, capture.line, capture.started, capture.source, capture.meta, capture.chunks)
    assert back.data == FRAME + b"\x7e\xa0\x00\x00\x00"
    assert back.duration_s == 2.5
    assert back.writes()[0] == (0.0, FRAME, {"expect": capture.chunks[0].expect, "list": 1,
                                             "counts": {"frames_ok": 1}})
    assert back.writes()[2] == (2.5, b"\x00" * 3, None)


def test_writer_is_flushed_per_chunk_and_thread_safe(tmp_path):
    path = tmp_path / "live.jsonl"
    with CaptureWriter(path, {"meter": None, "line": LineSettings(115200, 8, "N", 1), "source": {"link": "x"}}) as w:
        assert json.loads(path.read_text())["line"] == "115200 8N1"
        w.write(Chunk(0.5, b"\x01"))
        assert read_capture(path).chunks == [Chunk(0.5, b"\x01")]  # on disk before close

        def writer(k: int) -> None:
            for _ in range(50):
                w.write(Chunk(1.0, bytes([k]) * 300))  # equal times are in order

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with pytest.raises(ValueError, match="time order"):
            w.write(Chunk(0.1, b"late"))
    w.write(Chunk(9.0, b"after close"))  # dropped
    capture = read_capture(path)  # every line whole: none written into another
    assert sorted(chunk.data for chunk in capture.chunks[1:]) == [bytes([k]) * 300 for k in range(4) for _ in range(50)]
    assert (w.chunks, w.bytes) == (201, 1 + 200 * 300)


def test_an_empty_capture_has_no_data(tmp_path):
    path = tmp_path / "empty.jsonl"
    write_capture(path, Capture())
    capture = read_capture(path)
    assert (capture.chunks, capture.data, capture.duration_s, capture.line) == ([], b"", 0.0, None)


def test_chunk_from_note_checks_keys_and_types():
    assert Chunk.from_note(1, b"x", {"list": 2, "note": None}) == Chunk(1.0, b"x", list=2)
    with pytest.raises(ValueError, match="unknown chunk key"):
        Chunk.from_note(0, b"x", {"lst": 2})
    with pytest.raises(ValueError, match="'counts'"):
        Chunk.from_note(0, b"x", {"counts": {"frames_ok": -1}})


# -- every reader error names the file and the line ---------------------------------------------------------
BAD_FILES = {
    "empty": (b"", 1, "empty file"),
    "blank lines only": (b"\n\n  \n", 1, "empty file"),
    "binary given as .jsonl": (FRAME + b"\n" + FRAME, 1, "binary data"),
    "NUL in a chunk line": (HEADER.encode() + b'\n{"t": 0, "hex": "00"}\x00\n', 2, "binary data"),
    "truncated last line": (HEADER.encode() + b'\n{"t": 0.0, "hex": "7ea0"}\n{"t": 0.5, "hex": "7e', 3,
                            "truncated last line"),
    "not JSON": (HEADER.encode() + b"\n{t: 0}\n", 2, "not JSON"),
    "no header": (b'{"t": 0.0, "hex": "7ea0"}\n', 1, "not a han-rig-capture header"),
    "header not an object": (b'["han-rig-capture"]\n', 1, "not a han-rig-capture header"),
    "wrong format": (b'{"format": "pcap", "version": 1}\n', 1, "format 'pcap'"),
    "unknown version": (b'{"format": "han-rig-capture", "version": 2}\n', 1, "unknown han-rig-capture version 2"),
    "bad line settings": (b'{"format": "han-rig-capture", "version": 1, "line": "2400 baud"}\n', 1, "bad 'line'"),
    "bad started": (b'{"format": "han-rig-capture", "version": 1, "started": "yesterday"}\n', 1, "'started'"),
    "bad meter": (b'{"format": "han-rig-capture", "version": 1, "meter": 7}\n', 1, "'meter'"),
    "odd hex": (HEADER.encode() + b'\n\n{"t": 0.0, "hex": "7ea"}\n', 3, "odd number of digits"),
    "not hex": (HEADER.encode() + b'\n{"t": 0.0, "hex": "7eZZ"}\n', 2, "'Z' is not a hex digit"),
    "hex not a string": (HEADER.encode() + b'\n{"t": 0.0, "hex": 126}\n', 2, "'hex' must be a string"),
    "t missing": (HEADER.encode() + b'\n{"hex": "7e"}\n', 2, "'t' must be a number"),
    "t a string": (HEADER.encode() + b'\n{"t": "0.5", "hex": "7e"}\n', 2, "'t' must be a number"),
    "t negative": (HEADER.encode() + b'\n{"t": -1, "hex": "7e"}\n', 2, "'t' must be a number"),
    "t backwards": (HEADER.encode() + b'\n{"t": 1.5, "hex": "7e"}\n{"t": 1.4, "hex": "7e"}\n', 3,
                    "t goes backwards"),
    "unknown key": (HEADER.encode() + b'\n{"t": 0, "hex": "7e", "colour": "red"}\n', 2, "unknown chunk key(s) colour"),
    "chunk not an object": (HEADER.encode() + b"\n[0, \"7e\"]\n", 2, "a chunk must be a JSON object"),
    "bad list": (HEADER.encode() + b'\n{"t": 0, "hex": "7e", "list": true}\n', 2, "'list' must be"),
    "bad counts": (HEADER.encode() + b'\n{"t": 0, "hex": "7e", "counts": {"frames_ok": "1"}}\n', 2, "'counts'"),
    "bad expect": (HEADER.encode() + b'\n{"t": 0, "hex": "7e", "expect": [1]}\n', 2, "'expect' must be an object"),
    "bad fault": (HEADER.encode() + b'\n{"t": 0, "hex": "7e", "fault": 3}\n', 2, "'fault' must be a string"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_reader_errors_name_file_and_line(tmp_path, name):
    content, line, what = BAD_FILES[name]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    for reader in (read_capture, load_capture):
        with pytest.raises(CaptureError) as info:
            reader(path)
        assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
        assert what in str(info.value)


def test_a_missing_file_is_a_capture_error(tmp_path):
    with pytest.raises(CaptureError, match=r"nope\.jsonl:1: cannot read"):
        read_capture(tmp_path / "nope.jsonl")
    with pytest.raises(CaptureError, match=r"nope\.hex:1: cannot read"):
        load_capture(tmp_path / "nope.hex")


def test_a_last_line_without_newline_is_fine_when_complete(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(HEADER + '\r\n{"t": 0.25, "hex": "7EA0"}')
    assert read_capture(path).chunks == [Chunk(0.25, b"\x7e\xa0")]


# -- importers --------------------------------------------------------------------------------------------------
DUMPED = FRAME + b"hello world, and some more text."  # 73 bytes: a short last line in every dump


@pytest.mark.parametrize("suffix", [".dat", ".bin", ".raw"])
def test_raw_byte_log_is_one_chunk_at_zero(tmp_path, suffix):
    path = tmp_path / f"han-data-MA304T3-2017-01-23{suffix}"  # what a test_rx -d log is called
    path.write_bytes(DUMPED)
    capture = load_capture(path)
    assert capture.chunks == [Chunk(0.0, DUMPED)]
    assert capture.source == {"file": str(path), "import": "raw"}
    assert capture.line is None and capture.path == path


def test_a_text_looking_raw_log_stays_raw(tmp_path):
    path = tmp_path / "p1.dat"
    path.write_bytes(b"7ea0 2701")  # hex digits, but a .dat file is bytes as they came
    assert load_capture(path).data == b"7ea0 2701"


def test_binary_data_under_any_other_name_is_raw(tmp_path):
    path = tmp_path / "frames.log"
    path.write_bytes(DUMPED)
    assert load_capture(path).chunks == [Chunk(0.0, DUMPED)]


def test_plain_hex_with_any_white_space(tmp_path):
    path = tmp_path / "frame.hex"
    text = DUMPED.hex().upper()
    path.write_text(f"  {text[:10]}\n\t{' '.join(text[10:40])}\r\n\n{text[40:]}  \n")
    capture = load_capture(path)
    assert capture.chunks == [Chunk(0.0, DUMPED)] and capture.source["import"] == "hex"


XXD = """\
00000000: 7ea0 2701 0201 105a 87e6 e700 0f40 0000  ~.'....Z.....@..
00000010: 0009 0c07 e601 0207 0e25 12ff 8000 0002  .........%......
00000020: 0106 0000 1015 f5ff 7e68 656c 6c6f 2077  ........~hello w
00000030: 6f72 6c64 2c20 616e 6420 736f 6d65 206d  orld, and some m
00000040: 6f72 6520 7465 7874 2e                   ore text.
"""
HEXDUMP_C = """\
00000000  7e a0 27 01 02 01 10 5a  87 e6 e7 00 0f 40 00 00  |~.'....Z.....@..|
00000010  00 09 0c 07 e6 01 02 07  0e 25 12 ff 80 00 00 02  |.........%......|
00000020  01 06 00 00 10 15 f5 ff  7e 68 65 6c 6c 6f 20 77  |........~hello w|
00000030  6f 72 6c 64 2c 20 61 6e  64 20 73 6f 6d 65 20 6d  |orld, and some m|
00000040  6f 72 65 20 74 65 78 74  2e                       |ore text.|
00000049
"""


@pytest.mark.parametrize("kind, text", [("xxd", XXD), ("hexdump -C", HEXDUMP_C)])
def test_xxd_and_hexdump_c(tmp_path, kind, text):
    path = tmp_path / "dump.txt"
    path.write_text(text)
    capture = load_capture(path)
    assert capture.chunks == [Chunk(0.0, DUMPED)] and capture.source["import"] == kind


@pytest.mark.parametrize("tool", [["xxd"], ["xxd", "-a"], ["hexdump", "-C"], ["xxd", "-p"]])
def test_the_real_tools_output(tmp_path, tool):
    if shutil.which(tool[0]) is None:  # `make test` installs both (Debian xxd, bsdextrautils)
        pytest.fail(f"{tool[0]} is not installed: apt-get install xxd bsdextrautils")
    data = bytes(40) + DUMPED + bytes(range(256)) + bytes(64)  # zeros: squeezed to '*' lines
    raw = tmp_path / "x.bin"
    raw.write_bytes(data)
    dump = tmp_path / "x.txt"
    dump.write_bytes(subprocess.run([*tool, str(raw)], capture_output=True, check=True).stdout)
    assert load_capture(dump).data == data


def test_hexdump_c_squeezed_lines(tmp_path):
    path = tmp_path / "zeros.txt"
    path.write_text("00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n"
                    "00000040  7e                                                |~|\n00000041\n")
    assert load_capture(path).data == bytes(64) + b"\x7e"


def test_a_p1_telegram_saved_as_text_is_taken_byte_for_byte(tmp_path):
    telegram = b"/ABC5 meter\r\n\r\n1-0:1.7.0(0004.190*kW)\r\n!\r\n"
    path = tmp_path / "telegram.txt"
    path.write_bytes(telegram)
    assert load_capture(path).chunks == [Chunk(0.0, telegram)]


def test_jsonl_content_under_another_name_is_read_as_a_capture(tmp_path):
    path = tmp_path / "capture.txt"
    path.write_text(HEADER + '\n{"t": 1.0, "hex": "7e"}\n')
    assert load_capture(path).chunks == [Chunk(1.0, b"\x7e")]


def test_old_line_log_one_chunk_per_line(tmp_path):
    path = tmp_path / "line.log"
    path.write_text("# pty:/dev/pts/3 2400 8E1 speed 4\n# <seconds since open, 6 decimals> <n bytes> <hex>\n"
                    "0.000000 3 7ea027\n\n2.000412 2 0102\n2.5 0\n")
    capture = load_capture(path)
    assert capture.chunks == [Chunk(0.0, b"\x7e\xa0\x27"), Chunk(2.000412, b"\x01\x02"), Chunk(2.5, b"")]
    assert capture.line == LineSettings(2400) and capture.source["import"] == "line log"


BAD_IMPORTS = {
    "bad hex digit": ("frame.hex", "7ea0 2701\n0201 10zz\n", 2, "'z' is not a hex digit"),
    "odd hex digits": ("frame.hex", "7ea0 2701\n0201 105\n\n", 2, "odd number of hex digits (15)"),
    "xxd offset gap": ("d.txt", XXD.replace("00000020:", "00000030:"), 3, "offset 0x30 but 0x20 bytes"),
    "xxd bad digit": ("d.txt", XXD.replace("0e25", "0g25"), 2, "'g' is not a hex digit"),
    "xxd odd digits": ("d.txt", XXD.replace("0e25", "0e2"), 2, "odd number of hex digits (31)"),
    "hexdump -C bad byte": ("d.txt", HEXDUMP_C.replace(" 0e 25 ", " 0e 2x "), 2, "'2x' is not a byte in hex"),
    "hexdump -C wrong length": ("d.txt", HEXDUMP_C.replace("00000049", "00000050"), 6, "offset 0x50 but 0x49"),
    "hexdump words": ("d.txt", "0000000 a07e 0127\n0000004\n", 1, "dump with `hexdump -C` or `xxd`"),
    "line log count": ("line.log", "# c\n0.000000 3 7ea027\n0.5 3 7ea0\n", 3, "byte count 3 but 2 bytes"),
    "line log backwards": ("line.log", "1.0 1 7e\n0.5 1 7e\n", 2, "goes backwards"),
    "line log hex": ("line.log", "0.5 2 7e0x\n", 1, "'x' is not a hex digit"),
    "line log fields": ("line.log", "# c\n0.5 1 7e extra\n", 2, "expected '<seconds> <n bytes> <hex>'"),
    "empty text": ("frame.hex", " \n\n", 1, "empty file"),
}


@pytest.mark.parametrize("name", list(BAD_IMPORTS))
def test_a_bad_line_in_an_imported_text_file_names_file_and_line(tmp_path, name):
    filename, text, line, what = BAD_IMPORTS[name]
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(CaptureError) as info:
        load_capture(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert what in str(info.value)


def test_the_capture_library_reads(tmp_path):
    """Every file of captures/ is a valid capture, and survives a round trip unchanged."""
    library = sorted((Path(__file__).resolve().parents[1] / "captures").glob("*/*.jsonl"))
    for path in library:
        capture = read_capture(path)
        copy = tmp_path / path.name
        write_capture(copy, capture)
        again = read_capture(copy)
        assert (again.header(), again.chunks) == (capture.header(), capture.chunks), path
