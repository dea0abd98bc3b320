"""The reader under load, shared by the load scenario (rig/scenarios/test_load_service.py) and
``benchmarks/bench_load.py``: frames stream back to back on a saturated line while HTTP clients hold a
request rate on ``/meter`` (and ``/health``, ``/han``) and Modbus clients poll the default map in a loop;
:func:`run_load` accounts for every frame and request and measures rates and latencies.

The stream: the meter's frames in schedule order, written without pause in writes of about 0.1 s of line
time each, so the line never idles (the rig's pacer releases each byte when the line would deliver it);
the meter's timestamps run at the schedule's pace, not the stream's.
"""

from __future__ import annotations

import asyncio
import fcntl
import http.client
import json
import math
import os
import queue
import select
import socket
import struct
import termios
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from rig.line import LineSettings
from rig.probes.base import ProbeError
from rig.probes.modbus import decode_registers

ERROR_COUNTERS = ("checksum_errors", "framing_errors", "truncated", "oversized", "unknown_format",
                  "decrypt_errors", "replays", "decoder_restarts")
HTTP_PATHS = ("/meter",) * 8 + ("/health", "/han")  # of every ten requests
HTTP_CLIENTS = 4           # client threads sharing the rate (each keep-alive, reconnecting when closed)
HTTP_TIMEOUT_S = 5.0
MODBUS_TIMEOUT_S = 3.0
LATE_S = 0.010             # an HTTP request sent this long after its scheduled time is counted late
WRITE_LINE_S = 0.1         # line time per write of the stream
BACKLOG_EVERY_S = 0.01     # how often the serial port's input queue is sampled
SETTLE_S = 2.0             # the DUT's counters unchanged this long (line idle): the stream is accounted


# -- tallies -----------------------------------------------------------------------------------------
@dataclass
class Tally:
    """Requests of one interface: made, answered (valid), failed (with why), latencies in seconds."""

    made: int = 0
    answered: int = 0
    late: int = 0
    slowest_connect_s: float = 0.0  # Modbus: the longest a client took to connect
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self, latency: float) -> None:
        with self._lock:
            self.made += 1
            self.answered += 1
            self.latencies.append(latency)

    def fail(self, why: str) -> None:
        with self._lock:
            self.made += 1
            self.failures[why] += 1

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def summary(self, seconds: float) -> dict[str, Any]:
        """Counts, the achieved rate of answers and latency p50/p99/max in ms."""
        ordered = sorted(self.latencies)

        def pct(q: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1000, 2)

        return {"made": self.made, "answered": self.answered, "failed": self.failed, "late": self.late,
                "failures": dict(self.failures), "slowest_connect_ms": round(self.slowest_connect_s * 1000, 1),
                "rate_per_s": round(self.answered / seconds, 1) if seconds else 0,
                "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0)}


# -- HTTP: an open-loop request rate ------------------------------------------------------------------
def check_http_answer(path: str, status: int, body: bytes) -> str | None:
    """Why an answer to ``GET path`` is not a 200 with a well-formed message (None: it is)."""
    if status != 200:
        return f"status {status}"
    try:
        doc = json.loads(body)
    except ValueError:
        return "body not JSON"
    want = {"/meter": ("HAN_METER_MESSAGE", ("ts", "p", "u", "i")), "/health": ("HAN_HEALTH_MESSAGE", ("counters",)),
            "/han": (None, ("serial", "online"))}[path]
    if not isinstance(doc, dict) or (want[0] and doc.get("type") != want[0]) or any(k not in doc for k in want[1]):
        return f"{path}: malformed message"
    return None


def http_load(host: str, port: int, rate: float, seconds: float, tally: Tally, clients: int = HTTP_CLIENTS) -> None:
    """Send ``rate`` requests/s for ``seconds`` from ``clients`` threads, request ``j`` due at ``t0 + j/rate``;
    a request whose thread is late goes at once and counts as late (never skipped). Latency runs from the
    scheduled time (so lateness counts in it)."""
    total = int(rate * seconds)
    t0 = time.monotonic() + 0.05

    def client(first: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT_S)
        try:
            for j in range(first, total, clients):
                due = t0 + j / rate
                now = time.monotonic()
                if now < due:
                    time.sleep(due - now)
                elif now - due > LATE_S:
                    with tally._lock:
                        tally.late += 1
                path = HTTP_PATHS[j % len(HTTP_PATHS)]
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    body = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    tally.fail(type(exc).__name__)
                    continue
                why = check_http_answer(path, resp.status, body)
                if why:
                    tally.fail(why)
                else:
                    tally.ok(time.monotonic() - due)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,), name=f"http load {k}") for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -- Modbus: clients polling in a loop ---------------------------------------------------------------
async def _modbus_clients(host: str, port: int, clients: int, seconds: float, tally: Tally) -> None:
    end = time.monotonic() + seconds

    async def client() -> None:
        conn = AsyncModbusTcpClient(host, port=port, timeout=MODBUS_TIMEOUT_S, retries=0)
        try:
            while time.monotonic() < end:
                if not conn.connected:
                    began = time.monotonic()
                    if not await conn.connect():
                        tally.fail("connect failed")
                        await asyncio.sleep(0.1)
                        continue
                    tally.slowest_connect_s = max(tally.slowest_connect_s, time.monotonic() - began)
                began = time.monotonic()
                try:
                    resp = await conn.read_holding_registers(0, count=8, device_id=1)
                except Exception as exc:  # pymodbus raises its own and asyncio's errors: all are failures here
                    tally.fail(type(exc).__name__)
                    continue
                if resp.isError():
                    tally.fail(f"exception response {getattr(resp, 'exception_code', '?')}")
                    continue
                try:
                    decode_registers(list(resp.registers))
                except ProbeError:
                    tally.fail("invalid registers")
                    continue
                tally.ok(time.monotonic() - began)
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))


def modbus_load(host: str, port: int, clients: int, seconds: float, tally: Tally) -> None:
    """``clients`` Modbus TCP clients each reading registers 0-7 back to back for ``seconds``."""
    if clients:
        asyncio.run(_modbus_clients(host, port, clients, seconds, tally))


# -- the stream --------------------------------------------------------------------------------------
@dataclass
class Stream:
    """Frames written back to back until ``stop`` is set."""

    frames: int = 0
    bytes: int = 0
    writes: int = 0
    line_s: float = 0.0        # first start to last end on the line
    worst_late_s: float = 0.0  # the most a write ended after its ideal end (the writer was late)
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def _batches(h: Any, per_write: int, out: queue.Queue, stop: threading.Event) -> None:
    """Put ``h``'s meter frames, in schedule order, into ``out`` as (bytes, frames) of ``per_write`` bytes or more."""
    frames = h.meter.frames(start=h.start, count=None)
    while not stop.is_set():
        batch, count = bytearray(), 0
        while len(batch) < per_write:
            batch += next(frames).data
            count += 1
        while not stop.is_set():
            try:
                out.put((bytes(batch), count), timeout=0.1)
                break
            except queue.Full:
                continue


def stream_back_to_back(h: Any, stream: Stream) -> None:
    """Write ``h``'s meter frames in schedule order, about WRITE_LINE_S of line time per write, until stopped;
    a thread of its own makes the next writes meanwhile, so each write queues behind the one on the line."""
    line = h.link.line
    ready: queue.Queue = queue.Queue(maxsize=3)
    maker = threading.Thread(target=_batches, args=(h, max(1, int(WRITE_LINE_S / line.char_time_s)), ready,
                                                    stream.stop), name="meter frames", daemon=True)
    maker.start()
    first = None
    try:
        while not stream.stop.is_set():
            try:
                data, count = ready.get(timeout=0.5)
            except queue.Empty:
                continue
            end = h.link.write(data)
            start = h.link.last_write[0] if getattr(h.link, "last_write", None) else end - len(data) * line.char_time_s
            first = start if first is None else first
            stream.worst_late_s = max(stream.worst_late_s, end - (start + len(data) * line.char_time_s))
            stream.frames += count
            stream.bytes += len(data)
            stream.writes += 1
            stream.line_s = end - first
    except Exception as exc:  # the line failed: the accounting says so, the load stops
        stream.error = f"{type(exc).__name__}: {exc}"
    finally:
        stream.stop.set()
        maker.join()


class Backlog:
    """The most bytes seen waiting in the DUT's serial port (its tty's input queue, sampled every
    BACKLOG_EVERY_S through a second descriptor that never reads): how far the serial task fell behind.
    The queue shows at most 4095 bytes (the line discipline's buffer); behind it the pty holds about 16 KiB
    more (some 1.8 s at 115200 baud in all) before the link drops bytes (``PtyLink.dropped``).
    ``peak`` stays None on a link without a local tty (a board's UART)."""

    def __init__(self, device: object) -> None:
        self.peak: int | None = None
        self._stop = threading.Event()
        self._fd: int | None = None
        if isinstance(device, str) and device.startswith("/dev/"):
            try:
                self._fd = os.open(device, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError:
                self._fd = None
        self._thread = threading.Thread(target=self._run, name="serial backlog", daemon=True)

    def __enter__(self) -> Backlog:
        if self._fd is not None:
            self.peak = 0
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._fd is not None:
            if self._thread.is_alive():
                self._thread.join()
            os.close(self._fd)

    def _run(self) -> None:
        while not self._stop.wait(BACKLOG_EVERY_S):
            try:
                waiting = struct.unpack("i", fcntl.ioctl(self._fd, termios.FIONREAD, b"\0" * 4))[0]
            except OSError:
                return
            self.peak = max(self.peak or 0, waiting)


# -- the whole run -----------------------------------------------------------------------------------
def _counters(h: Any) -> dict[str, int]:
    return h.http.health()["counters"]


def _cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None when unknown."""
    if pid is None:
        return None
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settled(h: Any) -> dict[str, int]:
    """The DUT's counters once unchanged for SETTLE_S: it has caught up and flushed a partial frame."""
    settled, last, since = _counters(h), None, time.monotonic()
    while time.monotonic() - since < SETTLE_S:
        time.sleep(0.2)
        settled = _counters(h)
        key = tuple(sorted(settled.items()))
        if key != last:
            last, since = key, time.monotonic()
    return settled


def can_set_line(h: Any) -> bool:
    """True when the harness's link can change its line settings (a pty or a serial port can)."""
    return hasattr(h.link, "set_line")


def set_line(h: Any, baud: int) -> LineSettings:
    """Put the meter line and the DUT's port at ``baud`` 8N1 (the pty delivers what is written: only the
    pacing changes); ValueError for a link whose line the rig cannot set (see :func:`can_set_line`)."""
    line = LineSettings(baud, 8, "N", 1)
    if not can_set_line(h):
        raise ValueError(f"the bench's link {h.link!r} cannot change its line settings")
    h.link.set_line(line)
    h.http.configure({"serial": {"baud": baud, "parity": "N"}})
    return line


def run_load(h: Any, seconds: float, http_rate: float, modbus_clients: int, baud: int = 115200,
             http_clients: int = HTTP_CLIENTS) -> dict[str, Any]:
    """Stream frames back to back at ``baud`` into ``h``'s DUT while HTTP and Modbus load run for ``seconds``;
    the accounting, the rates and latencies, the DUT's heap and CPU time, as a dict."""
    line = set_line(h, baud)
    h.http.configure({"modbus": {"enabled": True}})
    health = h.wait_for(lambda: (x := h.health())["modbus"]["listening"] and x, 5, "Modbus listening")
    before, heap_start, cpu_start = health["counters"], health["free_heap"], _cpu_s(getattr(h.dut, "pid", None))
    stream, http_tally, modbus_tally = Stream(), Tally(), Tally()
    writer = threading.Thread(target=stream_back_to_back, args=(h, stream), name="meter line", daemon=True)
    with Backlog(getattr(h.link, "device", None)) as backlog:
        writer.start()
        try:
            h.wait_for(lambda: h.http.meter_message() or stream.error, 5, "the first reading on /meter")
            host, port = h.dut.http_url.split("//", 1)[1].split(":")
            loads = [threading.Thread(target=http_load, args=(host, int(port), http_rate, seconds, http_tally,
                                                              http_clients)),
                     threading.Thread(target=modbus_load, args=(h.dut.modbus_host or host, h.dut.modbus_port,
                                                                modbus_clients, seconds, modbus_tally))]
            began = time.monotonic()
            for t in loads:
                t.start()
            for t in loads:
                t.join()
            load_s = time.monotonic() - began
        finally:
            stream.stop.set()
            writer.join()
    settled = _settled(h)
    health_end = h.health()
    cpu_end = _cpu_s(getattr(h.dut, "pid", None))
    decoded = settled["frames_ok"] - before["frames_ok"]
    counted = {k: settled.get(k, 0) - before.get(k, 0) for k in ERROR_COUNTERS}
    return {
        "line": str(line), "seconds": round(load_s, 2),
        "frames": {"sent": stream.frames, "decoded": decoded, "counted": counted,
                   "lost": stream.frames - decoded - sum(counted.values()), "bytes": stream.bytes,
                   "line_utilisation": round(stream.bytes * line.char_time_s / stream.line_s, 4) if stream.line_s
                   else None,
                   "writer_worst_late_ms": round(stream.worst_late_s * 1000, 1),
                   "bytes_dropped": getattr(h.link, "dropped", None), "peak_backlog_bytes": backlog.peak,
                   "peak_backlog_ms": round(backlog.peak * line.char_time_s * 1000, 1) if backlog.peak is not None
                   else None, "error": stream.error},
        "http": {**http_tally.summary(load_s), "target_rate_per_s": http_rate, "clients": http_clients},
        "modbus": {**modbus_tally.summary(load_s), "clients": modbus_clients},
        "dut": {"alive": h.dut.alive(), "free_heap_start": heap_start, "free_heap_end": health_end["free_heap"],
                "cpu_s": round(cpu_end - cpu_start, 2) if cpu_start is not None and cpu_end is not None else None,
                "http_server": health_end["http"], "modbus_counters": health_end["modbus"]["counters"],
                "mqtt_published": settled["mqtt_published"] - before["mqtt_published"],
                "mqtt_not_published": settled["mqtt_not_published"] - before["mqtt_not_published"]},
    }


def connected(sockets: list[socket.socket], within_s: float) -> int:
    """How many non-blocking connects complete their handshake within ``within_s`` (well under the 1 s after
    which the kernel retransmits a SYN it dropped for a full listen queue)."""
    pending, done = list(sockets), 0
    deadline = time.monotonic() + within_s
    while pending and time.monotonic() < deadline:
        _, writable, _ = select.select([], pending, [], max(0.0, deadline - time.monotonic()))
        for s in writable:
            pending.remove(s)
            done += s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    return done
