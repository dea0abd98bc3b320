"""The reader's HTTP API as its users' tools read it, against what the meter sent: the Home Assistant
integration's reads (/han, /meter, /configuration compact keys, /meter/id), the evcc template's jq
expressions on /meter/data, the estimated energy between hourly lists, and concurrent clients plus a
trickling one while frames stream, every frame still judged on every interface."""

from __future__ import annotations

import re
import socket
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

# L1 :58, L2 :00 (every instantaneous value), L1 ... L3 :10 (the energies), L1 :12 ... :16
HOUR = datetime(2024, 10, 1, 18, 59, 58)


def _send(h, count: int) -> tuple[list, dict]:
    """Send ``count`` frames from HOUR and wait for the last on /meter; the frames and the meter's values
    merged as a reader merges them."""
    frames = h.frames(count, start=HOUR)
    assert {2, 3} <= {f.list for f in frames}
    return frames, h.send_until_shown(frames)


# -- the Home Assistant integration's reads (as it parses them) ------------------------------------------
def _ha_poll(base: str) -> dict[str, Any]:
    """What the integration reads on one poll: the device from /han, the sensors from /meter (arrays by
    index, energies through float()), the settings from /configuration's compact keys, the meter from
    /meter/id."""
    han = requests.get(base + "/han", timeout=5).json()
    meter = requests.get(base + "/meter", timeout=5).json()
    conf = requests.get(base + "/configuration", timeout=5).json()
    meter_id = requests.get(base + "/meter/id", timeout=5).json()
    return {
        "device": {k: han[k] for k in ("name", "serial", "mac", "version", "channel", "wifiIp", "ethIp")},
        "online": bool(han["online"]) if isinstance(han["online"], bool) else None,
        "power": [meter["p"][k] for k in range(4)], "import": [meter["pi"][k] for k in range(4)],
        "export": [meter["pe"][k] for k in range(4)], "reactive": [meter["r"][k] for k in range(4)],
        "voltage": [meter["u"][k] for k in range(3)], "current": [meter["i"][k] for k in range(3)],
        "energy_in": float(meter["ic"]), "energy_out": float(meter["ec"]), "ts": meter["ts"],
        "settings": {"version": conf["v"], "price": conf["p"], "tz": conf["t"], "fuse": conf["m"]["f"],
                     "eth": (conf["e"]["e"], conf["e"]["n"]["m"]),
                     "wifi": (conf["w"]["e"], conf["w"]["s"], conf["w"]["n"]["m"], conf["w"]["z"], conf["w"]["b"])},
        "meter": (meter_id["manufacturerId"], meter_id["deviceType"]),
    }


def test_home_assistant_reads_what_the_meter_sent(harness) -> None:
    h = harness(speed=4)
    frames, sent = _send(h, 8)
    got = _ha_poll(h.dut.http_url)

    assert got["device"]["serial"] == h.dut.serial_number
    assert got["online"] is True and got["device"]["version"] and got["device"]["name"]
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", got["device"]["mac"])
    assert got["import"][0] == sent["p_import_w"] and got["export"][0] == sent["p_export_w"]
    assert got["power"][0] == sent["p_import_w"] - sent["p_export_w"]
    assert got["reactive"][0] == sent["q_import_var"] - sent["q_export_var"]
    assert got["voltage"] == [sent.get(f"u_l{n}_v") for n in (1, 2, 3)]
    assert got["current"] == [sent.get(f"i_l{n}_a") for n in (1, 2, 3)]
    assert got["energy_in"] == sent["e_import_wh"] / 1000 and got["energy_out"] == sent["e_export_wh"] / 1000
    # ts: epoch milliseconds of the meter clock (the integration reads seconds; the device documents ms)
    shown = datetime.fromtimestamp(got["ts"] / 1000, ZoneInfo(h.bench.timezone)).replace(tzinfo=None)
    assert shown == datetime.fromisoformat(frames[-1].reading["timestamp"])
    assert got["settings"]["version"] == got["device"]["version"]
    assert got["settings"]["tz"] and got["settings"]["eth"][0] is True
    assert got["meter"][1] == sent["meter_type"] and got["meter"][0]


# -- the evcc template: jq on /meter/data --------------------------------------------------------------
def jq(expr: str, doc: Any) -> Any:
    """The jq subset evcc's template uses: paths (``.a``, ``.a[0]``), ``A - B``, ``A | tonumber``, parens."""
    expr = expr.strip()
    if expr.startswith("(") and expr.endswith(")"):
        return jq(expr[1:-1], doc)
    if "|" in expr:
        left, func = expr.rsplit("|", 1)
        value = jq(left, doc)
        if func.strip() != "tonumber":
            raise ValueError(f"unsupported jq function {func.strip()!r}")
        return value if isinstance(value, int | float) else float(Decimal(str(value)))
    if " - " in expr:
        left, right = expr.split(" - ", 1)
        return jq(left, doc) - jq(right, doc)
    value = doc
    for name, index in re.findall(r"\.([A-Za-z_]\w*)(?:\[(\d+)\])?", expr):
        value = value[name]
        if index:
            value = value[int(index)]
    return value


def test_evcc_jq_expressions_on_meter_data(harness) -> None:
    h = harness(speed=4)
    _, sent = _send(h, 8)
    data = requests.get(h.dut.http_url + "/meter/data", timeout=5).json()

    assert jq("(.pi[0] - .pe[0])", data) == sent["p_import_w"] - sent["p_export_w"]
    assert jq("(.ic | tonumber)", data) == sent["e_import_wh"] / 1000
    for n in range(3):
        assert jq(f".i[{n}]", data) == sent[f"i_l{n + 1}_a"]
        assert jq(f".u[{n}]", data) == sent[f"u_l{n + 1}_v"]


# -- energy between hourly lists -------------------------------------------------------------------------
def test_estimated_energy_rides_on_the_meter_counters(harness) -> None:
    h = harness(speed=4)
    frames, sent = _send(h, 8)
    msg = h.http.meter_message()
    assert frames[-1].list != 3, "no frame after the List 3"
    assert msg["ic"] == sent["e_import_wh"] / 1000  # the meter's own counter, untouched
    assert msg["est"] is True and msg["eic"] >= msg["ic"] and msg["eec"] >= msg["ec"]
    # after List 3 the power held for (device) seconds: at most the power x the time since the List 3
    seconds = (frames[-1].at - [f for f in frames if f.list == 3][0].at).total_seconds()
    bound = max(f.reading["p_import_w"] for f in frames) * (seconds + 2) / 3600 / 1000
    assert msg["eic"] - msg["ic"] <= bound + 0.001


# -- concurrent clients and a trickler while frames stream -----------------------------------------------
def _trickle(base: str, out: dict) -> None:
    """Send a request one byte every 100 ms; keep what the server answers before it is all sent."""
    url = urlsplit(base)
    request = b"GET /meter HTTP/1.1\r\nHost: slow\r\nX-Pad: " + b"s" * 400 + b"\r\n\r\n"
    with socket.create_connection((url.hostname, url.port or 80), timeout=10) as s:
        s.settimeout(0.1)
        answer = b""
        sent = 0
        for byte in request:
            sent += 1
            try:
                s.sendall(bytes([byte]))
                chunk = s.recv(4096)
                answer += chunk
                if not chunk or b"\r\n\r\n" in answer:
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        out.update(sent=sent, answer=answer)


@pytest.mark.slow
def test_twenty_clients_and_a_trickler_while_frames_stream(harness) -> None:
    h = harness(speed=4)
    frames = h.frames(20, start=HOUR)
    done = threading.Event()
    answers: list[tuple[str, int]] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        with requests.Session() as session:
            while not done.is_set():
                path = ("/meter", "/han", "/health", "/meter/data")[k % 4]
                status = session.get(h.dut.http_url + path, timeout=10).status_code
                with lock:
                    answers.append((path, status))

    slow: dict = {}
    threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    threads.append(threading.Thread(target=_trickle, args=(h.dut.http_url, slow)))
    for t in threads:
        t.start()
    try:
        result = h.stream(frames)
    finally:
        done.set()
        for t in threads:
            t.join(30)

    h.assert_passed(result)
    assert result.dut_counters["frames_ok"] == len(frames)
    # every client answered: 200, or 503 on /meter before the first frame (no meter data yet)
    assert {a for a in answers if a[1] != 200} <= {("/meter", 503), ("/meter/data", 503)}
    assert {p for p, s in answers if s == 200} == {"/meter", "/han", "/health", "/meter/data"}
    assert slow["answer"].startswith(b"HTTP/1.1 408 ") and slow["sent"] < 400
    stats = h.health()["http"]
    assert stats["deadline_closed"] == 1 and stats["refused"] == 0
