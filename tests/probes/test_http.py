"""HttpProbe against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rig.netutil import free_port
from rig.probes import HttpProbe, HttpStatusError, ProbeError
from rig.probes.message import LIST_KEY

MESSAGE = {
    "type": "HAN_METER_MESSAGE", "ts": 1727802000000, "ic": 1.234, "ec": 0.0, "ric": None, "rec": None,
    "p": [-150, None, None, None], "pi": [0, None, None, None], "pe": [150, None, None, None],
    "r": [None] * 4, "ri": [None] * 4, "re": [None] * 4,
    "u": [231.5, None, 230.2], "i": [0.652, 0.0, 0.651],
    "meter_id": None, "meter_type": None, "list_version": None, "list": 1,
}


class FakeDut:
    """A scripted HTTP/1.1 server: per path, a queue of (status, body) answers (the last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.config: dict[str, Any] = {"modbus": {"enabled": False, "port": 5020}, "t": "Europe/Oslo"}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive
            wbufsize = 65536  # one write per answer (no Nagle + delayed-ACK stall)

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append({"method": method, "path": self.path, "client": self.client_address,
                                       "auth": self.headers.get("Authorization"), "body": body})
                if (method, self.path) == ("POST", "/configuration"):
                    outer.config.update(json.loads(body))
                    status, payload = 200, outer.config
                elif (method, self.path) == ("GET", "/configuration"):
                    status, payload = 200, outer.config
                else:
                    queue = outer.routes.get((method, self.path), [(404, {"error": "not found"})])
                    status, payload = queue.pop(0) if len(queue) > 1 else queue[0]
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def route(self, path: str, *answers: tuple[int, Any], method: str = "GET") -> None:
        self.routes[(method, path)] = list(answers)


@pytest.fixture
def dut() -> Iterator[FakeDut]:
    fake = FakeDut()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def probe(dut: FakeDut) -> Iterator[HttpProbe]:
    p = HttpProbe(dut.url, timeout=2.0)
    yield p
    p.close()


def test_meter_is_none_on_503_then_a_reading(dut: FakeDut, probe: HttpProbe) -> None:
    dut.route("/meter", (503, {"error": "no meter data yet"}), (200, MESSAGE))
    assert probe.meter() is None
    r = probe.meter()
    assert r is not None
    assert r["timestamp"] == "2024-10-01T19:00:00"
    assert r["p_import_w"] == 0 and r["p_export_w"] == 150
    assert r["u_l1_v"] == 231.5 and r["u_l2_v"] is None
    assert r["i_l2_a"] == 0.0
    assert r["e_import_wh"] == 1234 and r["e_export_wh"] == 0
    assert r[LIST_KEY] == 1


def test_keep_alive_reuses_one_connection(dut: FakeDut, probe: HttpProbe) -> None:
    dut.route("/meter", (200, MESSAGE))
    for _ in range(5):
        probe.meter()
    assert len({req["client"] for req in dut.requests}) == 1


def test_raw_message_and_meter_data(dut: FakeDut, probe: HttpProbe) -> None:
    dut.route("/meter/data", (503, {}), (200, MESSAGE))
    assert probe.meter_message("/meter/data") is None
    assert probe.meter_message("/meter/data") == MESSAGE
    assert probe.meter("/meter/data")["p_export_w"] == 150  # type: ignore[index]


def test_state_health_and_configuration(dut: FakeDut, probe: HttpProbe) -> None:
    dut.route("/han", (200, {"type": "HAN_STATE_MESSAGE", "serial": "SIM-0001", "online": True}))
    dut.route("/health", (200, {"type": "HAN_HEALTH_MESSAGE", "uptime_s": 12, "counters": {"frames_ok": 3}}))
    assert probe.state()["serial"] == "SIM-0001"
    assert probe.health()["counters"]["frames_ok"] == 3
    assert probe.configuration()["modbus"]["enabled"] is False
    new = probe.configure({"modbus": {"enabled": True, "port": 5020}})
    assert new["modbus"]["enabled"] is True
    post = [r for r in dut.requests if r["method"] == "POST"][0]
    assert json.loads(post["body"]) == {"modbus": {"enabled": True, "port": 5020}}
    assert probe.configuration()["modbus"]["enabled"] is True


def test_error_status_carries_status_and_body(dut: FakeDut, probe: HttpProbe) -> None:
    dut.route("/meter", (401, {"error": "invalid token"}))
    with pytest.raises(HttpStatusError) as info:
        probe.meter()
    assert info.value.status == 401
    assert "invalid token" in info.value.body
    assert "401" in str(info.value) and "/meter" in str(info.value)
    dut.route("/health", (500, b"boom"))
    with pytest.raises(ProbeError, match="boom"):
        probe.health()


def test_token_is_sent_as_bearer(dut: FakeDut) -> None:
    dut.route("/han", (200, {"type": "HAN_STATE_MESSAGE"}))
    with HttpProbe(dut.url, token="s3cret") as p:
        p.state()
    assert dut.requests[-1]["auth"] == "Bearer s3cret"


def test_bad_bodies_raise(dut: FakeDut, probe: HttpProbe) -> None:
    dut.route("/meter", (200, b"<html>not json</html>"))
    with pytest.raises(ProbeError, match="not JSON"):
        probe.meter()
    dut.route("/meter", (200, [1, 2]))
    with pytest.raises(ProbeError, match="JSON object"):
        probe.meter()
    dut.route("/meter", (200, dict(MESSAGE, type="HAN_STATE_MESSAGE")))
    with pytest.raises(ProbeError, match="HAN_STATE_MESSAGE"):
        probe.meter()


def test_nothing_listening_is_a_probe_error() -> None:
    with HttpProbe(f"http://127.0.0.1:{free_port()}", timeout=1.0) as p, \
            pytest.raises(ProbeError, match="failed"):
        p.meter()
