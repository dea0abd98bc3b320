"""MQTT of the reader firmware on the real MicroPython unix port, against a real mosquitto, seen through
aiomqtt and the Debian ``mosquitto_sub``: one topic per value, Home Assistant discovery sent again on
Home Assistant's birth message, username and password, and the capped back-off while the broker is away."""

from __future__ import annotations

import asyncio
import getpass
import json
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from rig.dut import SoftwareDut
from rig.line import LineSettings
from rig.links import PtyLink
from rig.probes.http import HttpProbe
from rig.probes.mqtt import MqttProbe, TopicWatch
from rig.services.broker import Mosquitto
from rig.wait import wait_until
from tests.spec_frames import LIST2_HEX, LIST2_READING, unhex

KAIFA_LINE = LineSettings(2400, 8, "E", 1)
LIST2 = unhex(LIST2_HEX)
R = LIST2_READING
TOPIC = "han/interop"
# LIST2_READING as the per-value subtopics publish it (plain values: W, var, A, V, kWh)
EXPECTED_VALUES = {
    "actPowPos": str(R["p_import_w"]), "actPowNeg": str(R["p_export_w"]),
    "reactPowPos": str(R["q_import_var"]), "reactPowNeg": str(R["q_export_var"]),
    "currL1": f"{R['i_l1_a']:.3f}", "currL2": f"{R['i_l2_a']:.3f}", "currL3": f"{R['i_l3_a']:.3f}",
    "voltL1": f"{R['u_l1_v']:.1f}", "voltL2": f"{R['u_l2_v']:.1f}", "voltL3": f"{R['u_l3_v']:.1f}",
    "meterId": R["meter_id"], "meterType": R["meter_type"], "obisListVersion": R["list_version"],
}
SENSORS = ["actPowPos", "actPowNeg", "reactPowPos", "reactPowNeg", "currL1", "currL2", "currL3", "voltL1",
           "voltL2", "voltL3", "actEnergyPos", "actEnergyNeg", "reactEnergyPos", "reactEnergyNeg"]


@pytest.fixture
def line():
    with PtyLink(KAIFA_LINE, speed=100) as link:
        yield link


def _mosquitto_sub(broker_port: int, topic: str, count: int, *extra: str) -> list[str]:
    """``mosquitto_sub -v`` (the Debian client): the first ``count`` messages as ``topic payload`` lines."""
    exe = shutil.which("mosquitto_sub")
    if exe is None:
        pytest.fail("mosquitto_sub not found: apt-get install mosquitto-clients")
    out = subprocess.run([exe, "-h", "127.0.0.1", "-p", str(broker_port), "-t", topic, "-v", "-C", str(count),
                          "-W", "10", *extra], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, f"mosquitto_sub exit {out.returncode}: {out.stderr}"
    return out.stdout.splitlines()


@pytest.mark.slow
def test_per_value_topics_and_discovery_again_on_birth(tmp_path, micropython, line):
    mqtt = {"port": 0, "topic": TOPIC, "keepalive": 10, "per_value": True, "discovery": True}
    with Mosquitto(tmp_path) as broker:
        mqtt["port"] = broker.port
        with SoftwareDut(tmp_path, line.device, mqtt=mqtt, micropython=micropython) as dut, \
                HttpProbe(dut.http_url) as http:
            node = "han_" + dut.serial_number.replace(".", "_")

            async def go() -> tuple[dict, dict, int]:
                async with TopicWatch(broker.host, broker.port, [TOPIC + "/#", "homeassistant/#"]) as watch:
                    await watch.wait_until(lambda w: len([t for t in w.latest if t.endswith("/config")])
                                           == len(SENSORS), 10, "the discovery configs")
                    await asyncio.to_thread(line.write, LIST2)
                    await watch.wait_until(lambda w: all(f"{TOPIC}/{k}" in w.latest for k in EXPECTED_VALUES),
                                           10, "every per-value topic")
                    values = {t.rsplit("/", 1)[1]: m.payload.decode() for t, m in watch.latest.items()
                              if t.startswith(TOPIC + "/")}
                    configs = {t: json.loads(m.payload) for t, m in watch.latest.items() if t.endswith("/config")}
                    before = len(watch.messages)
                    await watch.publish("homeassistant/status", "online")         # Home Assistant's birth
                    await watch.wait_until(lambda w: len([m for m in w.messages[before:]
                                                          if m.topic.endswith("/config")]) == len(SENSORS),
                                           10, "the discovery again after the birth message")
                    return values, configs, len(watch.messages)

            values, configs, _ = asyncio.run(go())
            for name, want in EXPECTED_VALUES.items():
                assert values[name] == want, f"{TOPIC}/{name}: {values[name]!r}, sent {want!r}"
            assert values["status"] == "online"
            assert sorted(configs) == sorted(f"homeassistant/sensor/{node}/{s}/config" for s in SENSORS)
            power = configs[f"homeassistant/sensor/{node}/actPowPos/config"]
            assert power["state_topic"] == f"{TOPIC}/actPowPos" and power["unit_of_measurement"] == "W"
            assert power["device_class"] == "power" and power["availability_topic"] == f"{TOPIC}/status"
            assert power["device"]["identifiers"] == [f"han-{dut.serial_number}"]
            assert power["unique_id"] == f"{node}_actPowPos"
            assert http.health()["mqtt"]["births"] == 1

            # the Debian client: retained discovery configs and retained values for a late subscriber
            lines = _mosquitto_sub(broker.port, "homeassistant/sensor/#", len(SENSORS), "--retained-only")
            assert sorted(line_.split(" ", 1)[0] for line_ in lines) == sorted(configs)
            lines = _mosquitto_sub(broker.port, f"{TOPIC}/voltL1", 1, "--retained-only")
            assert lines == [f"{TOPIC}/voltL1 {EXPECTED_VALUES['voltL1']}"]
            # the meter message itself on <topic>, through mosquitto_sub as it arrives
            seen = _clients(broker.log_path)
            sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", TOPIC, "-v",
                                    "-C", "1", "-W", "10"], stdout=subprocess.PIPE, text=True)
            try:
                wait_until(lambda: _clients(broker.log_path) > seen, 5, "mosquitto_sub connected")
                line.write(LIST2)
                out, _ = sub.communicate(timeout=15)
            finally:
                sub.kill()
            topic, payload = out.strip().split(" ", 1)
            assert topic == TOPIC and json.loads(payload)["u"] == [R["u_l1_v"], R["u_l2_v"], R["u_l3_v"]]


def _clients(log: Path) -> int:
    """How many clients mosquitto has let in (its log notes each one's subscription)."""
    return log.read_text(errors="replace").count("New client connected")


PASSWORD = "s3cret-mqtt"


def _broker_with_password(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """A mosquitto that takes only user ``reader`` with ``PASSWORD`` (a password file)."""
    pwfile = workdir / "passwd"
    pwfile.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "reader", PASSWORD], check=True, capture_output=True)
    conf = workdir / "auth.conf"
    # user: started as root, mosquitto would drop to user "mosquitto", who cannot read pytest's 0700 tmp dir
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pwfile}\n"
                    f"persistence false\nlog_dest stderr\nuser {getpass.getuser()}\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: _listening(port), 5, "the password broker")
    return proc


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_username_and_password(tmp_path, micropython, line):
    from rig.netutil import free_port

    port = free_port("127.0.0.1")
    broker = _broker_with_password(tmp_path, port)
    try:
        wrong = {"port": port, "topic": TOPIC, "username": "reader", "password": "wrong"}
        with SoftwareDut(tmp_path / "wrong", line.device, mqtt=wrong, micropython=micropython) as dut, \
                HttpProbe(dut.http_url) as http:
            health = wait_until(lambda: (h := http.health())["mqtt"]["last_error"] and h, 10, "a refusal")
            assert "return code 5" in health["mqtt"]["last_error"] and health["mqtt"]["connected"] is False
        right = dict(wrong, password=PASSWORD)
        with SoftwareDut(tmp_path / "right", line.device, mqtt=right, micropython=micropython) as dut:

            async def go() -> str | None:
                async with MqttProbe("127.0.0.1", port, TOPIC, username="reader", password=PASSWORD) as probe:
                    await probe.wait_for_status("online", timeout=10)
                    await asyncio.to_thread(line.write, LIST2)
                    msg = await probe.wait_for(timeout=10)
                    return msg.payload["meter_id"]

            assert asyncio.run(go()) == R["meter_id"]
            out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-u", "reader", "-P",
                                  PASSWORD, "-t", TOPIC + "/status", "-C", "1", "-W", "5"],
                                 capture_output=True, text=True, timeout=10)
            assert out.stdout.strip() == "online"
            denied = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", TOPIC + "/status",
                                     "-C", "1", "-W", "3"], capture_output=True, text=True, timeout=10)
            assert denied.returncode != 0                                  # anonymous: refused
    finally:
        broker.terminate()
        broker.wait(5)


class CountingListener:
    """A TCP listener in place of the broker that accepts and closes: counts the connection attempts and
    the most connections open at once."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


SCALE = 4.0          # DUT clock: 4 device seconds per real second
WINDOW_S = 4.0       # real seconds the broker stays away: 16 device seconds


@pytest.mark.slow
def test_broker_outage_backs_off_and_reconnects(tmp_path, micropython, line):
    """While the broker is away the reader tries again 1, 2, 4, 8 ... s apart (+-25 %), one connection at a
    time: over 16 device seconds at most 5 attempts (0.75 + 1.5 + 3 + 6 s between them at the shortest);
    a storm would be hundreds. Then the broker returns and the reader publishes again."""
    broker = Mosquitto(tmp_path / "b1").start()
    port = broker.port
    try:
        mqtt = {"port": port, "topic": TOPIC, "keepalive": 10}
        with SoftwareDut(tmp_path, line.device, mqtt=mqtt, micropython=micropython, clock_scale=SCALE) as dut, \
                HttpProbe(dut.http_url) as http:
            wait_until(lambda: http.health()["mqtt"]["connected"], 10, "the first session")
            before = http.health()["mqtt"]["attempts"]
            broker.stop()
            listener = CountingListener(port)
            try:
                wait_until(lambda: listener.accepted >= 2, 10, "two attempts")  # it does try again
                start = http.health()["mqtt"]["attempts"]
                threading.Event().wait(WINDOW_S)
                attempts = http.health()["mqtt"]["attempts"] - start
            finally:
                listener.close()
            assert 1 <= attempts <= 5, f"{attempts} connection attempts in {WINDOW_S * SCALE} device seconds"
            assert listener.accepted <= 2 + 5 + 1
            assert http.health()["mqtt"]["connected"] is False and before >= 1
            broker = Mosquitto(tmp_path / "b2", port=port).start()

            async def go() -> int:
                async with MqttProbe(broker.host, port, TOPIC) as probe:
                    await probe.wait_for_status("online", timeout=30)     # the next try: <= 20 device s
                    await asyncio.to_thread(line.write, LIST2)
                    return (await probe.wait_for(timeout=10)).payload["pi"][0]

            assert asyncio.run(go()) == R["p_import_w"]
            health = http.health()["mqtt"]
            assert health["connected"] is True and health["sessions"] == 2
    finally:
        broker.stop()
