"""`rig capture` and `rig replay` as a user runs them: real processes on real ptys."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from rig.capture import Capture, read_capture
from rig.cli_capture import AUTO_LINES, PROBE_CHUNKS, _Live, _probe
from rig.emulators.crc import crc16_arc
from rig.framing import FrameScanner
from rig.line import LineSettings
from rig.links import PtyLink
from rig.links.bridge import PtyBridge

RIG = str(Path(sys.executable).with_name("rig"))
KAIFA = LineSettings(2400, 8, "E", 1)
ATTEMPTS = 5  # replays of the acceptance test (see its docstring)


class Recording:
    """`rig capture` recording a paced pty line; ``meter_port`` is where a program plays the meter."""

    def __init__(self, output: Path, speed: float, *args: str) -> None:
        self.output = output
        self._stack = contextlib.ExitStack()
        self.link = self._stack.enter_context(PtyLink(KAIFA, speed=speed))
        self.bridge = self._stack.enter_context(PtyBridge(self.link))
        self.meter_port = self.bridge.device
        self.proc = subprocess.Popen([RIG, "capture", "--port", self.link.device, "-o", str(output), "--json", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr = ""
        while "recording" not in self.stderr:  # it records from here on
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError(f"rig capture did not start: {self.stderr}")
            self.stderr += line

    def stop(self, forwarded: int, sig: int = signal.SIGINT) -> dict:
        """Once the line has carried ``forwarded`` bytes: stop `rig capture`, return its JSON summary."""
        deadline = time.monotonic() + 10
        while self.bridge.forwarded < forwarded and time.monotonic() < deadline:
            time.sleep(0.01)
        while time.monotonic() < self.link.pacer.busy_until + 0.2:  # the last bytes on the line, and a pause
            time.sleep(0.01)
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=10)
        self.stderr += err
        self._stack.close()
        assert self.proc.returncode == 0, self.stderr
        return json.loads(out)


@contextlib.contextmanager
def realtime_where_allowed() -> Iterator[bool]:
    """Threads and processes started inside run at real-time priority, where the OS allows it.

    A 1 ms comparison measures the scheduler as much as the rig: on a loaded machine a woken process can
    wait a whole time slice (3 ms) for a CPU. Real-time priority takes that wait away; without the right
    to it (no CAP_SYS_NICE) the test runs as it is, which an idle machine passes too.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (PermissionError, OSError, AttributeError):
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def boundaries(capture: Capture) -> dict[int, float]:
    """Byte offset of each chunk's first byte -> its time."""
    out, offset = {}, 0
    for chunk in capture.chunks:
        out[offset] = chunk.t
        offset += len(chunk.data)
    return out


def replay_and_record(original: Capture, output: Path) -> tuple[Capture, dict]:
    """`rig replay` the original into a pty that `rig capture` records; stop both after one pass."""
    assert original.path is not None
    with realtime_where_allowed():
        rec = Recording(output, 4)
        # --loop, stopped once the pass is on the line: the process's exit (CPU-heavy) then comes after the
        # measurement instead of during the last chunk's delivery; the next pass would start 1 s later
        player = subprocess.Popen([RIG, "replay", str(original.path), "--port", rec.meter_port, "--loop", "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + original.duration_s + 30
    while rec.bridge.forwarded < len(original.data) and time.monotonic() < deadline and player.poll() is None:
        time.sleep(0.01)
    player.send_signal(signal.SIGINT)
    out, err = player.communicate(timeout=10)
    assert player.returncode == 0, err
    played = json.loads(out)
    assert (played["chunks"], played["passes"], played["stopped"]) == (len(original.chunks), 1, True), played
    summary = rec.stop(len(original.data))
    return read_capture(output), summary


@pytest.mark.slow
def test_emulate_capture_replay_capture_gives_the_same_bytes_at_the_same_times(tmp_path: Path) -> None:
    """The acceptance test: record `rig emulate`, replay the recording, record the replay, compare.

    Reads on a pty merge and split bytes at random, so chunks are not compared read by read: `rig capture`
    ends a chunk only at a pause on the line (3.5 character times, 20 ms at least), and a chunk's time is
    when its first byte arrived. The replay re-creates every pause, so each chunk boundary of the original
    is a boundary of the replay's recording too (a stall of the machine may add one, never remove one), and
    the time at which each original chunk's first byte arrived is compared there, relative to the first.
    Only the replay's own delays count (the original's are in its times, and replayed with them).

    The processes and threads of the replay run at real-time priority where allowed. The kernel still
    hands pty bytes on from a worker thread of normal priority, which a busy (or virtual) machine now and
    then delays by a few milliseconds: the replay is played up to ATTEMPTS times and must be within 1 ms
    once; every attempt must give the same bytes and frames. A timing fault of the rig fails them all.
    """
    original = tmp_path / "original.jsonl"
    with realtime_where_allowed():
        rec = Recording(original, 4)
    played = subprocess.run(
        [RIG, "emulate", "--meter", "kaifa-ma304h4", "--port", rec.meter_port, "--speed", "4", "--duration", "20s",
         "--start", "2024-10-01T18:59:54", "--json"], capture_output=True, text=True, timeout=60)
    assert played.returncode == 0, played.stderr
    sent = [bytes.fromhex(json.loads(line)["hex"]) for line in played.stdout.splitlines()]
    assert len(sent) == 10  # List 1 every 2 s, List 2 at 19:00:00, List 3 at 19:00:10
    first = rec.stop(sum(map(len, sent)))
    assert (first["frames_ok"], first["frames_bad"], first["skipped"]) == (10, 0, 0)
    assert first["bytes"] == sum(map(len, sent)) and first["file"] == str(original)
    a = read_capture(original)
    assert a.data == b"".join(sent) and a.line == KAIFA

    attempts = []
    for attempt in range(ATTEMPTS):
        b, second = replay_and_record(a, tmp_path / f"replayed-{attempt}.jsonl")
        assert (second["frames_ok"], second["frames_bad"]) == (10, 0)
        assert b.data == a.data and b.line == KAIFA
        times_a, times_b = boundaries(a), boundaries(b)
        assert set(times_a) <= set(times_b), "a chunk boundary of the original is missing in the replay"
        t0_a, t0_b = a.chunks[0].t, b.chunks[0].t
        errors_ms = {offset: round(((times_b[offset] - t0_b) - (t - t0_a)) * 1000, 3) for offset, t in times_a.items()}
        attempts.append(errors_ms)
        if max(abs(e) for e in errors_ms.values()) <= 1.0:
            break
    else:
        pytest.fail(f"replayed chunk times off by more than 1 ms in every attempt (ms by byte offset): {attempts}")


def test_capture_names_the_meter_and_its_line_and_stops_at_the_duration(tmp_path: Path) -> None:
    with PtyLink(KAIFA, speed=100) as link:
        done = subprocess.run([RIG, "capture", "--port", link.device, "--meter", "kaifa-ma304h3e", "--duration",
                               "0.5s", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["bytes"] == 0 and summary["line"] == "2400 8E1" and summary["meter"] == "kaifa-ma304h3e"
    assert 0.5 <= summary["duration_s"] < 5
    (path,) = (tmp_path / "reports" / "captures").glob("*.jsonl")  # the default output
    assert summary["file"] == str(path.relative_to(tmp_path))
    capture = read_capture(path)
    assert (capture.meter, capture.line, capture.source, capture.chunks) == (
        "kaifa-ma304h3e", KAIFA, {"link": link.device}, [])
    assert capture.started.endswith("+00:00")


def test_capture_stops_on_sigterm_keeping_everything(tmp_path: Path) -> None:
    telegram = b"/ABC5 meter\r\n\r\n1-0:1.7.0(0004.190*kW)\r\n!"
    telegram += f"{crc16_arc(telegram):04X}\r\n".encode()
    rec = Recording(tmp_path / "p1.jsonl", 100, "--line", "115200-8N1")
    with serial.Serial(rec.meter_port) as meter:
        meter.write(telegram)
        meter.write(b"noise")
    summary = rec.stop(len(telegram) + 5, signal.SIGTERM)
    assert (summary["frames_ok"], summary["skipped"], summary["line"]) == (1, 5, "115200 8N1")
    assert read_capture(tmp_path / "p1.jsonl").data == telegram + b"noise"


def test_auto_line_on_a_pty_records_as_the_bytes_come(tmp_path: Path) -> None:
    with PtyLink(KAIFA, speed=100) as link:
        done = subprocess.run([RIG, "capture", "--port", link.device, "--line", "auto", "--duration", "0.3",
                               "-o", str(tmp_path / "x.jsonl")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "its line settings cannot change" in done.stderr
    assert read_capture(tmp_path / "x.jsonl").line is None


def test_auto_line_tries_the_usual_settings_until_frames_check_out() -> None:
    """A meter on 2400 8N1: under other settings the port reads noise; `--line auto` settles on 8N1."""
    port = serial.serial_for_url("loop://", timeout=0.02)
    good = bytes.fromhex("7ea027010201105a87e6e7000f40000000090c07e60102070e2512ff80000002010600001015f5ff7e")
    halt = threading.Event()

    def meter() -> None:
        while not halt.is_set():
            right = (port.baudrate, port.parity) == (2400, "N")
            port.write(good if right else bytes(range(0x80, 0xA0)))
            time.sleep(0.05)

    player = threading.Thread(target=meter, daemon=True)
    player.start()
    try:
        line, _, chunks = _probe(port, threading.Event(), time.monotonic() + 10, _Live())
    finally:
        halt.set()
        player.join()
        port.close()
    assert AUTO_LINES[:2] == (KAIFA, LineSettings(2400, 8, "N", 1))  # 8E1 is tried first, and gives noise
    assert line == LineSettings(2400, 8, "N", 1)
    scanner = FrameScanner()
    assert scanner.feed(b"".join(data for _, data in chunks)) and scanner.frames_ok >= 1
    assert len(chunks) <= PROBE_CHUNKS


@pytest.mark.parametrize("args, message", [
    (["--line", "2400 baud"], "is not line settings"),
    (["--meter", "no-such-meter"], "no-such-meter"),
    (["--port", "/dev/does-not-exist"], "Invalid value for '--port': '/dev/does-not-exist': no such device"),
    (["--port", "socket://127.0.0.1"], "'socket://127.0.0.1' is incomplete: give socket://host:port"),
    (["--port", "sim"], "sim is the rig's own virtual line, for playing into"),
    (["--line", "0 8E1"], "Invalid value for '--line'"),
    (["--duration", "soon"], "is not a duration"),
])
def test_capture_bad_options_are_clear_errors(tmp_path: Path, args: list[str], message: str) -> None:
    port = [] if "--port" in args else ["--port", "loop://"]
    done = subprocess.run([RIG, "capture", *port, *args, "-o", str(tmp_path / "x.jsonl")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode in (1, 2) and message in done.stderr and "Traceback" not in done.stderr


def test_replay_into_sim_prints_the_device_and_plays_imports(tmp_path: Path) -> None:
    dump = tmp_path / "frame.hex"
    dump.write_text("7ea0 2701 0201 105a 87e6 e700 0f40 0000\n0009 0c07 e601 0207 0e25 12ff 8000 0002\n"
                    "0106 0000 1015 f5ff 7e\n")
    done = subprocess.run([RIG, "replay", str(dump), "--port", "sim", "--speed", "10", "--json"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "virtual line: point the reader at /dev/" in done.stderr
    assert "does not say its line settings: playing at 2400 8E1" in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["chunks"], summary["bytes"], summary["passes"], summary["stopped"]) == (1, 41, 1, False)


def test_replay_loop_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    path.write_text('{"format": "han-rig-capture", "version": 1, "line": "115200 8N1"}\n'
                    '{"t": 0, "hex": "7e7e"}\n{"t": 0.01, "hex": "7e7e"}\n')
    proc = subprocess.Popen([RIG, "replay", str(path), "--port", "loop://", "--loop", "--speed", "10", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # a pass takes (0.01 s + 1 s) / 10
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["passes"] >= 2 and summary["stopped"] is True and "Traceback" not in err


@pytest.mark.parametrize("content, message", [
    (b'{"format": "han-rig-capture", "version": 1}\n{"t": 1, "hex": "7e"}\n{"t": 0, "hex": "7e"}\n',
     "bad.jsonl:3: t goes backwards"),
    (b"\x7e\xa0\x27\x00\x01", "bad.jsonl:1: binary data"),
    (b'{"format": "han-rig-capture", "version": 1}\n', "the capture holds no bytes"),
])
def test_replay_of_a_bad_file_names_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    done = subprocess.run([RIG, "replay", str(path), "--port", "loop://"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
