"""SerialLink over pyserial URLs: loop:// round-trips, bad URLs fail clearly, the capture log."""

import time

import pytest

from rig.capture import Chunk, read_capture
from rig.line import LineSettings
from rig.links import LinkError, SerialLink, open_link

KAIFA = LineSettings(2400, 8, "E", 1)


def test_loop_round_trip(tmp_path):
    with SerialLink("loop://", KAIFA, log_path=tmp_path / "line.jsonl", meter="kaifa-ma304h4") as link:
        assert link.port.baudrate == 2400
        assert link.port.parity == "E"
        assert link.port.bytesize == 8 and link.port.stopbits == 1
        before = time.monotonic()
        end = link.write(b"\x7e\xa0\x27hello\x7e", {"list": 1, "note": "a short one"})
        assert before <= end <= time.monotonic() + 0.001
        assert link.port.read(9) == b"\x7e\xa0\x27hello\x7e"
    capture = read_capture(tmp_path / "line.jsonl")
    assert (capture.meter, str(capture.line), capture.source) == ("kaifa-ma304h4", "2400 8E1", {"link": "loop://"})
    assert capture.chunks == [Chunk(pytest.approx(0, abs=0.5), b"\x7e\xa0\x27hello\x7e", list=1, note="a short one")]


def test_a_bad_note_is_refused_before_anything_is_sent():
    with SerialLink("loop://", KAIFA) as link:
        with pytest.raises(ValueError, match="unknown chunk key"):
            link.write(b"hello", {"colour": "red"})
        with pytest.raises(ValueError, match="'list' must be"):
            link.write(b"hello", {"list": "two"})
        link.port.timeout = 0.05
        assert link.port.read(5) == b""


def test_open_link_gives_serial_link_for_urls():
    with open_link("loop://", LineSettings(115200, 8, "N", 1)) as link:
        assert isinstance(link, SerialLink)
        assert link.url == link.name == "loop://"
        assert link.port.baudrate == 115200


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_bytes_only_transports_are_paced_at_the_line_rate(speed):
    """socket:// and loop:// have no baud rate: the link paces them, as a meter's UART would."""
    data = bytes(48)
    ideal = len(data) * KAIFA.char_time_s / speed
    with open_link("loop://", KAIFA, speed=speed) as link:
        t0 = time.monotonic()
        link.write(data)
        took = time.monotonic() - t0
        assert link.port.read(len(data)) == data
    assert took >= ideal * 0.95, f"{len(data)} bytes took {took:.4f} s, the line needs {ideal:.4f} s"


@pytest.mark.parametrize("url", ["/dev/does-not-exist-ttyUSB9", "nosuchscheme://x", "socket://127.0.0.1:1"])
def test_bad_url_names_the_url(url):
    with pytest.raises(LinkError, match="cannot open serial link") as info:
        SerialLink(url, KAIFA)
    assert url in str(info.value)


def test_write_after_close_raises():
    link = SerialLink("loop://", KAIFA)
    link.close()
    link.close()
    with pytest.raises(LinkError, match="closed"):
        link.write(b"x")
