"""The reader under load: frames stream back to back on a saturated 115200-baud line while HTTP clients
hold a request rate and Modbus clients poll (rig/load.py). Every frame sent must be decoded or counted as
an error, every HTTP answer a 200 with a well-formed message, every Modbus answer a valid response, and the
DUT alive after. Accounting only, no timing: the machine running the suite is shared.
``benchmarks/bench_load.py`` runs the same load at full size and prints the rates and latencies. And a
reader that stops reading: what the line could not deliver is lost, and the rig says why.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading

import pytest

from rig.load import can_set_line, connected, run_load, set_line


# -- the scenario ------------------------------------------------------------------------------------
@pytest.mark.needs("modbus")
@pytest.mark.slow
def test_every_frame_and_request_accounted_under_load(harness) -> None:
    h = harness()
    if not can_set_line(h):
        pytest.skip(f"the bench's link {h.link!r} cannot change its line settings")
    result = run_load(h, seconds=10, http_rate=50, modbus_clients=5, baud=115200)
    frames, web, modbus = result["frames"], result["http"], result["modbus"]
    summary = json.dumps(result, indent=1)

    assert frames["error"] is None, summary
    assert frames["sent"] > 1000, summary  # ten seconds of a saturated line (about 2,000 Kaifa frames)
    assert frames["lost"] == 0, summary
    assert web["made"] == 500 and web["failed"] == 0 and web["answered"] == 500, summary
    assert modbus["made"] > 0 and modbus["failed"] == 0, summary
    assert result["dut"]["alive"], summary
    assert h.health()["type"] == "HAN_HEALTH_MESSAGE"


@pytest.mark.needs("modbus")
def test_clients_connecting_at_once_all_get_through_the_handshake(harness) -> None:
    """While the reader is busy (its process stopped, as a long decode or a collection holds it), 20 Modbus
    clients and 24 HTTP clients (8 served + 16 waiting) connect at once: the listen queues hold them all,
    so none waits for a SYN retransmission (a queue of 5 took 6 and left the rest 1 s behind)."""
    h = harness()
    pid = getattr(h.dut, "pid", None)
    if pid is None:
        pytest.skip("needs the software DUT's process, to hold it still")
    h.http.configure({"modbus": {"enabled": True}})
    h.wait_for(lambda: h.health()["modbus"]["listening"], 5, "Modbus listening")
    http_host, http_port = h.dut.http_url.split("//", 1)[1].split(":")
    targets = [(h.dut.modbus_host or "127.0.0.1", h.dut.modbus_port)] * 20 + [(http_host, int(http_port))] * 24
    sockets = []
    os.kill(pid, signal.SIGSTOP)
    try:
        for address in targets:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            sockets.append(s)
            s.connect_ex(address)
        modbus, web = connected(sockets[:20], 0.5), connected(sockets[20:], 0.5)
    finally:
        os.kill(pid, signal.SIGCONT)
        for s in sockets:
            s.close()
    assert (modbus, web) == (20, 24)
    assert h.health()["type"] == "HAN_HEALTH_MESSAGE" and h.dut.alive()


def test_a_reader_that_stops_reading_loses_frames_and_the_rig_says_why(harness) -> None:
    """The reader's process is held still for 1.2 s (less than a probe's timeout) while frames stream back to
    back at 460800 baud: its serial input fills (about 0.45 s of this line on a pty) and the line drops the
    rest, as a UART overruns. The frames it never received are lost, and the result says why: the counters
    differ and the dropped bytes explain it."""
    h = harness(speed=5000)  # the meter's schedule far ahead of the line: the line never idles
    pid = getattr(h.dut, "pid", None)
    if pid is None or not can_set_line(h):
        pytest.skip("needs the software DUT's process (to hold it still) and a line the rig can set")
    set_line(h, 460800)
    frames = h.frames(4000)  # about 5 s of the saturated line
    holds = [threading.Timer(1.0, os.kill, (pid, signal.SIGSTOP)), threading.Timer(2.2, os.kill, (pid, signal.SIGCONT))]
    for timer in holds:
        timer.start()
    try:
        result = h.stream(frames, enable_modbus=False)
    finally:
        for timer in holds:
            timer.join()
        os.kill(pid, signal.SIGCONT)
    assert result.error is None and result.line_dropped > 0, (result.error, result.line_dropped)
    lost = result.expected_counts["frames_ok"] - result.dut_counters.get("frames_ok", 0)
    assert lost > 0, result.problems()[:5]
    why = f"the line dropped {result.line_dropped:,} bytes"
    assert [p for p in result.count_mismatches() if p.startswith(why)], result.count_mismatches()
    assert h.dut.alive() and h.health()["type"] == "HAN_HEALTH_MESSAGE"
