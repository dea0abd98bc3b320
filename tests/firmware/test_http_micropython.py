"""The HTTP API on the real MicroPython unix port (the software DUT) under load: 20 concurrent clients and
one client trickling its request, while meter frames stream: every frame decoded, every client answered,
the trickler cut off by its deadline (408) and counted; the /ui page and the Home Assistant reads."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from rig.dut import SoftwareDut
from rig.line import LineSettings
from rig.links import PtyLink
from rig.wait import wait_until

KAIFA_LINE = LineSettings(2400, 8, "E", 1)
CLIENTS = 20
REQUESTS_EACH = 15
PATHS = ("/meter", "/meter/data", "/han", "/health", "/configuration", "/meter/id")


def _frames(count: int) -> list[bytes]:
    from datetime import datetime

    from rig.emulators import Meter

    frames = Meter("kaifa-ma304h4", seed=3).frames(start=datetime(2024, 10, 1, 18, 59, 50), count=count)
    return [f.data for f in frames]


def _trickle(port: int, result: dict) -> None:
    """Send a request one byte every 100 ms real; record the answer the server gives before the end."""
    request = b"GET /meter HTTP/1.1\r\nHost: slow\r\nX-Pad: " + b"s" * 200 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(0.1)
        answer = b""
        sent = 0
        for byte in request:
            sent += 1
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
            try:
                chunk = s.recv(4096)
                answer += chunk
                if not chunk or b"\r\n\r\n" in answer:
                    break
            except TimeoutError:
                pass
            except OSError:
                break
        result["sent"] = sent
        result["answer"] = answer


@pytest.mark.slow
def test_fw_http_serves_20_clients_and_cuts_a_trickler_while_every_frame_is_decoded(tmp_path, micropython):
    frames = _frames(60)
    with PtyLink(KAIFA_LINE, speed=20) as line, \
            SoftwareDut(tmp_path, line.device, micropython=micropython, clock_scale=2.0) as dut:
        dut.wait_for_line(r"serial .* open", timeout=5)
        port = dut.http_port
        statuses: list[tuple[str, int]] = []
        errors: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(k: int) -> None:
            with requests.Session() as session:
                for n in range(REQUESTS_EACH):
                    path = PATHS[(k + n) % len(PATHS)]
                    try:
                        status = session.get(f"{dut.http_url}{path}", timeout=10).status_code
                    except requests.RequestException as exc:
                        with lock:
                            errors.append(f"{path}: {exc}")
                        continue
                    with lock:
                        statuses.append((path, status))

        def meter() -> None:
            for data in frames:
                line.write(data)
                if stop.wait(0.03):
                    return

        slow: dict = {}
        threads = [threading.Thread(target=meter), threading.Thread(target=_trickle, args=(port, slow))]
        threads += [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        stop.set()

        counters = wait_until(lambda: (c := requests.get(dut.http_url + "/health", timeout=5).json()["counters"])
                              and c["frames_ok"] == len(frames) and c,
                              10, "every frame decoded", lambda: dut.tail())
        health = requests.get(dut.http_url + "/health", timeout=5).json()

    assert not errors, errors[:5]
    assert len(statuses) == CLIENTS * REQUESTS_EACH
    # every answer a 200 but /meter and /meter/id before the first frame (503: no meter data yet)
    assert {(p, s) for p, s in statuses if s != 200} <= {("/meter", 503), ("/meter/data", 503), ("/meter/id", 503)}
    assert sum(s == 200 for _, s in statuses) > len(statuses) // 2
    print("http counters", health["http"], "trickler sent", slow["sent"], "bytes")
    assert health["http"]["refused"] == 0, health["http"]
    assert counters["frames_ok"] == len(frames)
    assert sum(counters[k] for k in ("checksum_errors", "framing_errors", "truncated", "oversized",
                                     "unknown_format", "decoder_restarts")) == 0
    assert slow["answer"].startswith(b"HTTP/1.1 408 "), slow
    assert slow["sent"] < 200, "the trickling request was not cut short"
    assert health["http"]["deadline_closed"] == 1 and health["http"]["peak"] >= 2
    text = dut.log_path.read_text(errors="replace")
    assert "Traceback" not in text and " ERROR " not in text


def test_fw_http_ui_page_and_statuses_on_micropython(tmp_path, micropython):
    with PtyLink(KAIFA_LINE, speed=20) as line, \
            SoftwareDut(tmp_path, line.device, micropython=micropython, extra_config={"token": "t0k"}) as dut:
        url = dut.http_url
        page = requests.get(url + "/ui", timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "<form" in page.text and "/configuration" in page.text
        auth = {"Authorization": "Bearer t0k"}
        assert requests.get(url + "/han", timeout=5).status_code == 401
        assert requests.get(url + "/nope", headers=auth, timeout=5).status_code == 404
        resp = requests.delete(url + "/meter", headers=auth, timeout=5)
        assert resp.status_code == 405 and resp.headers["Allow"] == "GET"
        assert requests.get(url + "/han?x=1", headers=auth, timeout=5).status_code == 400
        assert requests.get(url + "/meter", headers=auth, timeout=5).status_code == 503
        line.write(_frames(1)[0])
        wait_until(lambda: requests.get(url + "/meter", headers=auth, timeout=5).status_code == 200, 5,
                   "the first frame on /meter")
        han = requests.get(url + "/han", headers=auth, timeout=5).json()
        assert han["online"] is True and han["serial"] == "SIM-0001" and han["ethIp"] == "127.0.0.1"
        assert requests.get(url + "/health", headers=auth, timeout=5).json()["http"]["deadline_closed"] == 0
