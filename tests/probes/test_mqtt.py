"""MqttProbe against a real mosquitto, with messages published by aiomqtt."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from rig.probes import MqttProbe, ProbeError, ProbeTimeout
from rig.probes.message import LIST_KEY
from rig.services.broker import Mosquitto

TOPIC = "han/SIM-0001"


def message(p_import: int, list_no: int = 1) -> dict:
    return {
        "type": "HAN_METER_MESSAGE", "ts": 1727802000000 + 2000 * list_no, "ic": None, "ec": None,
        "ric": None, "rec": None, "p": [p_import, None, None, None], "pi": [p_import, None, None, None],
        "pe": [0, None, None, None], "r": [None] * 4, "ri": [None] * 4, "re": [None] * 4,
        "u": [None] * 3, "i": [None] * 3, "meter_id": None, "meter_type": None, "list_version": None,
        "list": list_no,
    }


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path) as b:
        yield b


def test_collects_messages_status_and_errors(broker: Mosquitto) -> None:
    async def run() -> None:
        async with aiomqtt.Client(broker.host, broker.port, identifier="dut") as dut:
            # retained before the probe subscribes: the probe must see it on subscribe
            await dut.publish(f"{TOPIC}/status", b"online", qos=1, retain=True)
            async with MqttProbe(broker.host, broker.port, TOPIC) as probe:
                st = await probe.wait_for_status("online", timeout=3)
                assert st.retain is True and probe.status == "online"

                t0 = time.monotonic()
                await dut.publish(TOPIC, json.dumps(message(100)))
                await dut.publish(TOPIC, b"{not json")                      # malformed JSON
                await dut.publish(TOPIC, b"\xff\xfe")                       # not even UTF-8
                await dut.publish(TOPIC, json.dumps({"type": "HAN_STATE_MESSAGE"}))  # wrong type
                await dut.publish(TOPIC, json.dumps(message(200, list_no=2)))

                m = await probe.wait_for(lambda m: m.reading["p_import_w"] == 200, timeout=3)
                assert m.arrival > t0 and m.topic == TOPIC and m.reading[LIST_KEY] == 2
                assert m.payload["list"] == 2 and m.retain is False
                assert m.reading["timestamp"] == "2024-10-01T19:00:04"
                # already received messages are found at once
                first = await probe.wait_for(timeout=0.1)
                assert first.reading["p_import_w"] == 100
                assert [x.reading["p_import_w"] for x in probe.messages] == [100, 200]
                assert probe.messages[0].arrival <= probe.messages[1].arrival

                assert len(probe.errors) == 3
                assert probe.errors[0].payload == b"{not json"
                assert "JSONDecodeError" in probe.errors[0].error
                assert "HAN_STATE_MESSAGE" in probe.errors[2].error

                # the collector survived the bad payloads
                after = time.monotonic()
                await dut.publish(TOPIC, json.dumps(message(300)))
                m = await probe.wait_for(after=after, timeout=3)
                assert m.reading["p_import_w"] == 300

                await dut.publish(f"{TOPIC}/status", b"offline", qos=1, retain=True)
                await probe.wait_for_status("offline", timeout=3)
                assert [s.status for s in probe.statuses] == ["online", "offline"]
                assert all(m.topic == TOPIC for m in probe.messages)  # status is not a meter message

    asyncio.run(run())


def test_wait_for_times_out(broker: Mosquitto) -> None:
    async def run() -> None:
        async with MqttProbe(broker.host, broker.port, TOPIC) as probe:
            assert probe.status is None
            start = time.monotonic()
            with pytest.raises(ProbeTimeout, match="no matching MQTT message"):
                await probe.wait_for(timeout=0.3)
            # not before the timeout (less a timer's float slack), and a sanity bound of 10x after it
            assert 0.29 <= time.monotonic() - start < 3.0
            with pytest.raises(TimeoutError):
                await probe.wait_for_status("online", timeout=0.1)

    asyncio.run(run())


def test_no_broker_is_a_probe_error(tmp_path: Path) -> None:
    from rig.netutil import free_port

    async def run() -> None:
        with pytest.raises(ProbeError, match="MQTT broker"):
            async with MqttProbe("127.0.0.1", free_port(), TOPIC):
                pass

    asyncio.run(run())


def test_not_running_probe_refuses_to_wait() -> None:
    async def run() -> None:
        with pytest.raises(ProbeError, match="not running"):
            await MqttProbe("127.0.0.1", 1, TOPIC).wait_for(timeout=0.1)

    asyncio.run(run())


def test_closing_from_a_cancelled_task_disconnects_and_the_cancellation_goes_on(broker: Mosquitto) -> None:
    """A run stopped while the probe closes: the client is disconnected all the same, the cancellation is not
    swallowed, and nothing is left for the event loop to complain about afterwards."""
    problems: list[dict] = []

    async def run() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: problems.append(context))
        async with aiomqtt.Client(broker.host, broker.port, identifier="dut") as dut:
            probe = MqttProbe(broker.host, broker.port, TOPIC)
            await probe.__aenter__()
            for n in range(20):  # messages in flight while it closes
                await dut.publish(TOPIC, json.dumps(message(n)))
            closing = asyncio.create_task(probe.__aexit__(None, None, None))
            await asyncio.sleep(0)  # it has begun to close
            closing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await closing
            assert probe._client is None
            # the broker saw it go: a client with the same id is not a takeover of a live session
            async with aiomqtt.Client(broker.host, broker.port, identifier=probe.identifier):
                pass

    asyncio.run(run())
    assert problems == []
