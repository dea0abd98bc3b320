"""A real pty pair: bytes arrive intact, pacing takes the line time, the DUT's baud is read back."""

import json
import os
import re
import termios
import threading
import time
from datetime import datetime, timedelta

import pytest
from slave_reader import SlaveReader

from rig.capture import read_capture
from rig.line import LineSettings
from rig.links import LinkError, PtyLink, open_link
from rig.links.pacing import DEFAULT_LEAD_S

KAIFA = LineSettings(2400, 8, "E", 1)


@pytest.fixture
def link():
    with PtyLink(KAIFA, speed=1000) as lk:
        yield lk


def test_bytes_arrive_intact(link):
    reader = SlaveReader(link.device)
    reader.start()
    payload = bytes(range(256)) * 4  # every byte value, incl. CR, LF, XON/XOFF, ^C, ^D
    try:
        link.write(payload[:500])
        link.write(payload[500:])
        assert reader.wait_for(len(payload)) == payload
    finally:
        reader.stop()
    assert link.dropped == 0


def test_device_is_a_pts_and_name(link):
    assert link.device.startswith("/dev/")
    assert os.path.exists(link.device)
    assert link.name == f"pty:{link.device}"
    assert link.url == "pty"


def test_dut_baud_is_read_back_on_master(link):
    reader = SlaveReader(link.device, baud_code=termios.B2400)
    try:
        assert link.dut_termios() == 2400
        attrs = termios.tcgetattr(reader.fd)
        attrs[4] = attrs[5] = termios.B115200
        termios.tcsetattr(reader.fd, termios.TCSANOW, attrs)
        assert link.dut_termios() == 115200
    finally:
        reader.stop()


def test_dut_closing_its_port_does_not_break_the_link(link):
    reader = SlaveReader(link.device)
    reader.stop()  # the DUT opens and closes: the master must not see EIO
    link.write(b"still fine")
    reader2 = SlaveReader(link.device)
    reader2.start()
    try:
        link.write(b"hello")
        assert reader2.wait_for(15) == b"still fine" + b"hello"  # a pty keeps unread bytes
    finally:
        reader2.stop()


def test_discard_unread_drops_what_nobody_read(link):
    link.write(b"stale frame")  # written while no DUT has the port open
    link.discard_unread()
    reader = SlaveReader(link.device)
    reader.start()
    try:
        link.write(b"fresh")
        assert reader.wait_for(5) == b"fresh"
    finally:
        reader.stop()


def test_dut_writing_back_is_drained(link):
    reader = SlaveReader(link.device)
    try:
        os.write(reader.fd, b"AT\r\n" * 100)
        deadline = time.monotonic() + 2
        while link.received < 400 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert link.received == 400
    finally:
        reader.stop()


def test_dut_not_reading_drops_instead_of_blocking():
    with PtyLink(KAIFA, speed=100000) as link:
        t = time.monotonic()
        link.write(bytes(200_000))
        assert time.monotonic() - t < 5
        assert link.dropped > 0


def test_line_rate_timing_240_bytes_at_2400_8e1():
    """240 chars x 11 bits / 2400 baud = 1.1 s on the line: a paced write cannot be over sooner.

    Only what the pacing guarantees is asserted (byte i is written no earlier than its deadline minus
    the pacer's 0.5 ms lead), plus sanity upper bounds of 10x: a loaded machine can make the write
    late, never early. The precise figures (lateness, jitter) are measured by benchmarks/bench_pacing.py.
    """
    line_time = 240 * 11 / 2400
    early = DEFAULT_LEAD_S + 1e-6  # the pacer's lead, plus float slack
    with PtyLink(KAIFA) as link:
        reader = SlaveReader(link.device)
        reader.start()
        try:
            t = time.monotonic()
            end = link.write(bytes(240))
            elapsed = time.monotonic() - t
            assert reader.wait_for(240, timeout=10 * line_time) == bytes(240)
        finally:
            reader.stop()
    assert line_time - early <= elapsed < 10 * line_time, elapsed
    assert line_time - 1e-6 <= end - t < 10 * line_time, end - t  # the returned end: start + line time or later
    # nobody can read the last byte before it was written
    assert reader.arrivals[-1][0] - t >= line_time - early, reader.arrivals
    # bytes trickle in, they do not arrive at once (this only needs the reader thread to run once
    # during the 1.1 s the pacer spends sleeping between its ~240 writes)
    assert len(reader.arrivals) > 1, reader.arrivals


def test_the_link_writes_a_capture_of_what_it_sent(tmp_path):
    path = tmp_path / "line.jsonl"
    with PtyLink(KAIFA, speed=1000, log_path=path, meter="kaifa-ma304h4") as link:
        link.write(b"\x7e\xa0\x01", {"list": 2, "counts": {"frames_ok": 1}, "expect": {"p_import_w": 5}})
        time.sleep(0.05)
        link.write(b"\xff" * 20, {"fault": "garbage:20"})
    header, *lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert header["format"] == "han-rig-capture" and header["version"] == 1
    assert (header["meter"], header["line"], header["source"]) == ("kaifa-ma304h4", "2400 8E1", {"link": "pty"})
    assert datetime.fromisoformat(header["started"]).utcoffset() == timedelta(0)
    assert lines[0] == {"t": lines[0]["t"], "hex": "7ea001", "list": 2, "counts": {"frames_ok": 1},
                        "expect": {"p_import_w": 5}}
    assert lines[1] == {"t": lines[1]["t"], "hex": "ff" * 20, "fault": "garbage:20"}
    assert 0 <= lines[0]["t"] < lines[1]["t"]
    assert lines[1]["t"] - lines[0]["t"] >= 0.05 - 1e-6  # slept 0.05 s between; the capture rounds to 1 us
    assert re.search(r'"t": \d+\.\d{6}, ', path.read_text().splitlines()[1])  # 6 decimals
    capture = read_capture(path)
    assert capture.data == b"\x7e\xa0\x01" + b"\xff" * 20
    assert capture.meta == {"speed": 1000}


def test_writes_from_several_threads_are_captured_in_line_order(tmp_path):
    path = tmp_path / "line.jsonl"
    with PtyLink(KAIFA, speed=1000, log_path=path) as link:
        reader = SlaveReader(link.device)
        reader.start()
        try:
            threads = [threading.Thread(target=lambda k=k: [link.write(bytes([k]) * 7) for _ in range(20)])
                       for k in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            received = reader.wait_for(4 * 20 * 7)
        finally:
            reader.stop()
    capture = read_capture(path)  # t never goes backwards, or this raises
    assert capture.data == received


def test_write_after_close_raises():
    link = PtyLink(KAIFA)
    link.close()
    link.close()  # idempotent
    with pytest.raises(LinkError):
        link.write(b"x")


@pytest.mark.parametrize("url", ["sim", "pty"])
def test_open_link_sim_is_a_pty(url):
    with open_link(url, KAIFA, speed=10) as link:
        assert isinstance(link, PtyLink)
        assert link.url == url
        assert link.speed == 10
