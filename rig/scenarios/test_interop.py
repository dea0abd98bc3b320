"""Interop through the clients the reader's users run: pymodbus against both Modbus maps and every
exception code; aiomqtt on the per-value MQTT topics and the Home Assistant discovery (the mosquitto_sub,
password and broker-outage cases are in tests/firmware/test_mqtt_interop.py)."""

from __future__ import annotations

import asyncio
import socket
import struct
from datetime import datetime

import pytest

from rig.probes import ModbusExceptionResponse
from rig.probes.modbus import HAN2X_SCALE_ADDRESS, ModbusProbe
from rig.probes.mqtt import TopicWatch

# L1 :58, L2 :00 (every value), L1 ..., L3 :10 (the energy registers): every field of both maps.
HOUR = datetime(2024, 10, 1, 18, 59, 58)


def _sent(h, count: int) -> dict:
    """Send ``count`` frames from HOUR; the meter's values merged as a reader merges them."""
    frames = h.frames(count, start=HOUR)
    assert 3 in [f.list for f in frames], "the frames must include a List 3"
    return h.send_until_shown(frames)


async def _exchange(probe: ModbusProbe, calls):
    await probe.connect()
    try:
        return [await call(probe) for call in calls]
    finally:
        probe.close()


async def _code(coro) -> int:
    try:
        await coro
    except ModbusExceptionResponse as exc:
        return exc.exception_code
    return 0


@pytest.mark.needs("modbus")
def test_pymodbus_reads_both_maps_and_gets_every_exception(harness) -> None:
    h = harness(speed=4)
    meter = _sent(h, 8)
    h.http.configure({"modbus": {"enabled": True}})

    # the default map, as it always was: U in 0.1 V, I in 0.01 A, net P in W
    (regs,) = asyncio.run(_exchange(h.modbus(), [lambda p: p.read_raw(0, 8)]))
    assert regs[:3] == [round(meter[f"u_l{n}_v"] * 10) for n in (1, 2, 3)]
    assert regs[3:6] == [round(meter[f"i_l{n}_a"] * 100) for n in (1, 2, 3)]
    assert struct.unpack(">i", struct.pack(">HH", *regs[6:8]))[0] == meter["p_import_w"] - meter["p_export_w"]

    assert h.http.configure({"modbus": {"map": "han2x"}})["modbus"]["map"] == "han2x"
    probe = h.modbus()
    han2x, again = asyncio.run(_exchange(probe, [lambda p: p.read_han2x(3), lambda p: p.read_han2x(4)]))
    assert han2x == again
    for field in ("p_import_w", "p_export_w", "q_import_var", "q_export_var", "i_l1_a", "i_l2_a", "i_l3_a",
                  "u_l1_v", "u_l2_v", "u_l3_v", "e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh",
                  "timestamp"):
        assert han2x[field] == meter[field], f"{field}: sent {meter[field]!r}, han2x map {han2x[field]!r}"
    assert han2x["firmware"] == h.http.get_json("/han")["version"]
    assert han2x["scale"] == 1000 and han2x["uptime_h"] == 0 and han2x["temperature_c"] is None

    # each exception code through pymodbus
    codes = asyncio.run(_exchange(h.modbus(), [
        lambda p: _code(p.read_raw(0, 1, function=1)),                 # FC 01: illegal function
        lambda p: _code(p.read_raw(50, 2)),                            # runs past the map: 02
        lambda p: _code(p.read_raw(60, 1, function=4)),                # outside the map: 02
        lambda p: _code(p.write(0, [1])),                              # a read-only register: 02
        lambda p: _code(p.write(HAN2X_SCALE_ADDRESS, [0, 9])),         # a scale below 10: 03
        lambda p: _code(p.read_raw(0, 1)),                             # still answering: 0
    ]))
    assert codes == [1, 2, 2, 2, 3, 0]

    # the writable scale factor: FC 16, then FC 06 on its low word
    _, scaled = asyncio.run(_exchange(h.modbus(), [
        lambda p: p.write(HAN2X_SCALE_ADDRESS, [0, 2000]),
        lambda p: p.read_han2x(),
    ]))
    assert scaled["scale"] == 2000 and scaled["p_import_w"] == 2 * meter["p_import_w"]
    assert scaled["u_l1_v"] == meter["u_l1_v"]
    assert h.http.configuration()["modbus"]["scale"] == 2000
    asyncio.run(_exchange(h.modbus(), [lambda p: p.write(HAN2X_SCALE_ADDRESS + 1, [1000])]))
    assert h.http.configuration()["modbus"]["scale"] == 1000


def _closed(sock: socket.socket) -> bool:
    """True when the peer closed the connection (an end of stream, or a reset when bytes were unread)."""
    try:
        return sock.recv(64) == b""
    except ConnectionResetError:
        return True


@pytest.mark.needs("modbus")
def test_a_malformed_mbap_header_closes_the_connection_and_is_counted(harness) -> None:
    h = harness(speed=4)
    h.http.configure({"modbus": {"enabled": True}})
    before = h.health()["modbus"]["counters"]["malformed"]
    host, port = h.dut.modbus_host or "127.0.0.1", h.dut.modbus_port
    for bad in (bytes.fromhex("0001 0001 0006 01 03 0000 0001"),     # protocol id 1
                bytes.fromhex("0001 0000 0001 01"),                  # length 1: no function code
                bytes.fromhex("0001 0000 0100 01 03 0000 0001")):    # length 256
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(bad)
            assert _closed(sock), f"{bad.hex()}: the connection must close without an answer"
    assert h.health()["modbus"]["counters"]["malformed"] == before + 3
    (regs,) = asyncio.run(_exchange(h.modbus(), [lambda p: p.read_raw(0, 8)]))
    assert len(regs) == 8, "the server must keep serving after malformed requests"


# per-value subtopic -> (field, render) as the reader publishes plain values
PER_VALUE = {"actPowPos": ("p_import_w", str), "actPowNeg": ("p_export_w", str),
             "reactPowNeg": ("q_export_var", str), "currL1": ("i_l1_a", lambda v: f"{v:.3f}"),
             "voltL3": ("u_l3_v", lambda v: f"{v:.1f}"), "actEnergyPos": ("e_import_wh", lambda v: f"{v / 1000:.3f}"),
             "meterId": ("meter_id", str)}


@pytest.mark.needs("mqtt")
def test_mqtt_values_per_topic_and_home_assistant_discovery(harness) -> None:
    h = harness(speed=4)
    assert h.broker is not None
    topic = h.http.configuration()["mqtt"]["topic"]
    h.http.configure({"mqtt": {"per_value": True, "discovery": True}})
    frames = h.frames(8, start=HOUR)

    async def go() -> tuple[dict[str, str], int]:
        async with TopicWatch(h.broker.host, h.broker.port, [topic + "/#", "homeassistant/sensor/#"]) as watch:
            await watch.wait_until(lambda w: sum(t.endswith("/config") for t in w.latest) == 14, 10,
                                   "14 discovery configs")
            for frame in frames:
                await asyncio.to_thread(h.send, frame.data)
            meter: dict = {}
            for frame in frames:
                meter.update({k: v for k, v in frame.reading.items() if v is not None})
            want = {f"{topic}/{name}": render(meter[field]) for name, (field, render) in PER_VALUE.items()}
            await watch.wait_until(lambda w: all(t in w.latest and w.latest[t].payload.decode() == v
                                                 for t, v in want.items()), 10, f"the values {want}")
            return {t: m.payload.decode() for t, m in watch.latest.items()}, len(want)

    values, checked = asyncio.run(go())
    assert checked == len(PER_VALUE) and values[f"{topic}/status"] == "online"
    assert h.health()["mqtt"]["values_dropped"] == 0
