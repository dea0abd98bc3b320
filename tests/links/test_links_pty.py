"""A real pty pair: bytes arrive intact, pacing takes the line time, the DUT's settings are read back,
and in UART mode a DUT set differently from the meter reads what a UART would deliver."""

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
from rig.links.pty import uart_receive
from rig.runclock import RunClock
from rig.wait import wait_until

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
        wait_until(lambda: link.received >= 400, 2, "the DUT's 400 bytes drained", hint=lambda: f"{link.received}")
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


@pytest.mark.parametrize("url", ["sim", "loop://"])
def test_the_capture_counts_time_from_the_run_clock_and_still_replays(tmp_path, url):
    clock = RunClock()
    time.sleep(0.2)  # the run started before the line opened
    path = tmp_path / "line.jsonl"
    with open_link(url, KAIFA, speed=1000, log_path=path, clock=clock) as link:
        before = clock.elapsed()
        link.write(b"\x7e\xa0\x01", {"list": 2})
        after = clock.elapsed()
    capture = read_capture(path)  # the replay reader takes it
    assert capture.started == clock.started.isoformat(timespec="milliseconds")
    (chunk,) = capture.chunks
    assert 0.2 <= before - 1e-6 <= chunk.t <= after
    assert capture.writes() == [(chunk.t, b"\x7e\xa0\x01", {"list": 2})]


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


# -- UART mode: the DUT gets what a UART with its settings would receive --------------------------------
P1_LINE = LineSettings(115200, 8, "N", 1)
FRAME = bytes.fromhex("7ea027010201105a87e6e7000f40000000090c07e80a0102130002ff800000020106000013c156f57e")


def set_dut_line(reader: SlaveReader, baud_code: int, iflag_on: int = 0, cflag_on: int = 0) -> None:
    """What a reader's HAL does: speed, parity (INPCK, PARODD: a pty drops PARENB), stop bits, flow control."""
    attrs = termios.tcgetattr(reader.fd)
    attrs[4] = attrs[5] = baud_code
    attrs[0] = (attrs[0] & ~(termios.INPCK | termios.IGNPAR | termios.PARMRK)) | iflag_on
    attrs[2] = (attrs[2] & ~(termios.PARODD | termios.CSTOPB | termios.CRTSCTS)) | cflag_on
    termios.tcsetattr(reader.fd, termios.TCSANOW, attrs)


def received(link: PtyLink, data: bytes, reader: SlaveReader, expect: int | None = None) -> bytes:
    reader.start()
    link.write(data)
    return reader.wait_for(len(data) if expect is None else expect, timeout=2)


def test_uart_the_slave_starts_at_the_meters_line_and_parity_reads_back_through_inpck_and_parodd():
    with PtyLink(KAIFA, uart=True) as link:
        reader = SlaveReader(link.device)
        try:
            assert link.dut_line()[0] == KAIFA  # a reader that sets nothing is at the meter's settings
            set_dut_line(reader, termios.B9600)  # PARENB alone does not survive on a pty
            assert link.dut_line()[0] == LineSettings(9600, 8, "N", 1)
            set_dut_line(reader, termios.B9600, termios.INPCK, termios.CSTOPB)
            assert link.dut_line()[0] == LineSettings(9600, 8, "E", 2)
            set_dut_line(reader, termios.B4800, termios.INPCK, termios.PARODD)
            assert link.dut_line()[0] == LineSettings(4800, 8, "O", 1)
        finally:
            reader.stop()


def test_uart_matching_settings_give_clean_bytes():
    with PtyLink(KAIFA, speed=1000, uart=True) as link:
        reader = SlaveReader(link.device)
        set_dut_line(reader, termios.B2400, termios.INPCK)
        try:
            assert received(link, bytes(range(256)), reader) == bytes(range(256))
        finally:
            reader.stop()
        assert link.garbled == 0


@pytest.mark.parametrize("baud_code, iflag", [(termios.B115200, 0), (termios.B9600, termios.INPCK),
                                              (termios.B1200, 0)])
def test_uart_another_baud_rate_gives_garbage_as_the_model_says(baud_code, iflag):
    with PtyLink(KAIFA, speed=1000, uart=True) as link:
        reader = SlaveReader(link.device)
        set_dut_line(reader, baud_code, iflag)
        rx, got_iflag = link.dut_line()
        expected = b"".join(piece for _, piece in uart_receive(FRAME, KAIFA, rx, got_iflag))
        try:
            got = received(link, FRAME, reader, expect=len(expected))
            time.sleep(0.05)
            got = bytes(reader.data)
        finally:
            reader.stop()
    assert got == expected and got != FRAME and expected
    assert link.garbled == 1


def test_uart_parity_errors_are_nul_dropped_or_marked_as_linux_delivers_them():
    """An 8E1 receiver on an 8N1 meter: the stop bit is read as parity, the next start bit as stop."""
    telegram = b"/LGF5E360\r\n\r\n1-0:1.7.0(0004.190*kW)\r\n!ABCD\r\n"
    even = LineSettings(115200, 8, "E", 1)
    plain = b"".join(p for _, p in uart_receive(telegram, P1_LINE, even))
    nul = b"".join(p for _, p in uart_receive(telegram, P1_LINE, even, termios.INPCK))
    dropped = b"".join(p for _, p in uart_receive(telegram, P1_LINE, even, termios.INPCK | termios.IGNPAR))
    marked = b"".join(p for _, p in uart_receive(telegram, P1_LINE, even, termios.INPCK | termios.PARMRK))
    assert plain != telegram and b"\x00" in nul and len(dropped) < len(nul)
    assert marked.count(b"\xff\x00") == nul.count(b"\x00") - plain.count(b"\x00")
    assert b"\x00" not in plain and dropped == nul.replace(b"\x00", b"")  # no value sampled is 0 here


def test_uart_model_edge_cases():
    assert uart_receive(b"", KAIFA, P1_LINE) == []
    # 8N1 on an 8E1 meter: the parity bit is read as the stop bit; without INPCK every value is intact
    assert b"".join(p for _, p in uart_receive(FRAME, KAIFA, LineSettings(2400, 8, "N", 1))) == FRAME
    # a much faster receiver sees each 0 bit as a break: NULs, as many as there are runs of 0 bits
    fast = uart_receive(b"\x00", KAIFA, P1_LINE)
    assert fast == [(0, b"\x00")] and uart_receive(b"\x00", KAIFA, P1_LINE, termios.IGNBRK) == []
    # pieces complete in order, the last at the latest on the idle line after the data
    pieces = uart_receive(FRAME, KAIFA, LineSettings(1200, 8, "N", 1))
    assert [i for i, _ in pieces] == sorted(i for i, _ in pieces) and pieces[-1][0] <= len(FRAME)


def test_without_uart_mode_any_settings_read_clean_bytes():
    with PtyLink(KAIFA, speed=1000) as link:
        reader = SlaveReader(link.device)
        set_dut_line(reader, termios.B115200)
        try:
            assert received(link, FRAME, reader) == FRAME
        finally:
            reader.stop()


def test_set_line_changes_the_meter():
    with PtyLink(KAIFA, speed=1000, uart=True) as link:
        reader = SlaveReader(link.device)
        set_dut_line(reader, termios.B115200)
        try:
            link.set_line(P1_LINE)
            assert link.line == P1_LINE and link.pacer.line == P1_LINE
            assert received(link, b"/LGF5E360\r\n", reader) == b"/LGF5E360\r\n"
        finally:
            reader.stop()


def test_request_line_is_the_dut_side_crtscts_flag():
    with PtyLink(P1_LINE, uart=True) as link:
        reader = SlaveReader(link.device)
        try:
            assert link.request_line() is False
            set_dut_line(reader, termios.B115200, 0, termios.CRTSCTS)
            assert link.request_line() is True
            set_dut_line(reader, termios.B115200)
            assert link.request_line() is False
        finally:
            reader.stop()
    with pytest.raises(LinkError):
        link.request_line()
    with open_link("loop://", P1_LINE) as other:
        assert other.request_line() is None  # a link without such a line
