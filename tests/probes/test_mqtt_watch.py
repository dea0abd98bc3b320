"""TopicWatch (rig/probes/mqtt.py) against a real mosquitto: retained and live messages on topic filters,
publishing on its own connection, and a timeout that says what it saw."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from rig.probes import ProbeTimeout
from rig.probes.mqtt import TopicWatch
from rig.services.broker import Mosquitto


def test_watch_sees_retained_and_live_messages_and_publishes(tmp_path: Path) -> None:
    with Mosquitto(tmp_path) as broker:
        async def run() -> None:
            async with aiomqtt.Client(broker.host, broker.port, identifier="dut") as dut:
                await dut.publish("han/x/voltL1", "230.1", retain=True)
                async with TopicWatch(broker.host, broker.port, ["han/x/#", "homeassistant/status"]) as watch:
                    await watch.wait_until(lambda w: "han/x/voltL1" in w.latest, 5, "the retained value")
                    assert watch.latest["han/x/voltL1"].retain is True
                    await dut.publish("han/x/voltL1", "231.0")
                    await watch.wait_until(lambda w: w.latest["han/x/voltL1"].payload == b"231.0", 5, "the live one")
                    assert watch.latest["han/x/voltL1"].retain is False
                    await watch.publish("homeassistant/status", "online")
                    await watch.wait_until(lambda w: "homeassistant/status" in w.latest, 5, "its own message")
                    with pytest.raises(ProbeTimeout, match="never: not seen on"):
                        await watch.wait_until(lambda w: False, 0.2, "never")
                    assert [m.topic for m in watch.messages] == ["han/x/voltL1", "han/x/voltL1", "homeassistant/status"]

        asyncio.run(run())
