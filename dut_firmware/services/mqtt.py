"""A small MQTT 3.1.1 client on asyncio streams (QoS 0; subscribes only to Home Assistant's birth).

CONNECT with clean session, keepalive, username/password when set and a last will ``<topic>/status`` =
``offline`` (retained); after CONNACK a retained ``online`` on ``<topic>/status`` and a ``handshake``
LED flash. Each meter message goes out QoS 0 on ``<topic>``. With ``per_value`` every value also goes
to ``<topic>/<name>`` as a plain value (the HAN2X subtopics, ``VALUES``; retained, sent when it changed
and once per session). With ``discovery`` the Home Assistant MQTT discovery configs go to
``<prefix>/sensor/<node>/<name>/config`` (retained) after each CONNACK and again whenever
``<prefix>/status`` = ``online`` (Home Assistant's birth message) arrives.

PINGREQ every keepalive/2 s; no traffic from the broker for 1.5 x keepalive drops the session.
One session at a time; reconnects with capped exponential back-off (1 s doubling to 60 s, device time,
each delay drawn in 75..125 % of the step so that many readers restarted together spread out; the
back-off only resets after a session that lasted 30 s, so a broker that accepts and drops at once sees
no reconnect storm). The meter side never waits: ``publish()`` returns False at once when no session
is up (the reading is "not published"). While a session is up nothing is dropped: messages wait for
the socket in a queue bounded by bytes (``QUEUE_MAX_BYTES``, room for a catch-up burst of a few
hundred messages after a stall); only past that bound is the oldest dropped, counted in
``mqtt_not_published`` and logged. Per-value messages past the same bound are dropped and counted in
``values_dropped`` (the next change publishes them again).
"""

import asyncio
import json
import random
import struct

from .. import message

QUEUE_MAX_BYTES = 32768     # bytes of message text waiting for the socket
BACKOFF_START_MS = 1000
BACKOFF_MAX_MS = 60000
STABLE_SESSION_MS = 30000
CONNECT_TIMEOUT_S = 5


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def connect_packet(client_id, keepalive, will_topic=None, will_msg=b"", will_retain=True,
                   username=None, password=None):
    flags = 0x02                                     # clean session
    payload = _str(client_id)
    if will_topic is not None:
        flags |= 0x04 | (0x20 if will_retain else 0)  # will flag, will QoS 0, will retain
        payload += _str(will_topic) + _str(will_msg)
    if username is not None:
        flags |= 0x80
        payload += _str(username)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    var = _str("MQTT") + bytes((4, flags)) + struct.pack(">H", keepalive)
    body = var + payload
    return b"\x10" + _varlen(len(body)) + body


def publish_packet(topic, payload, retain=False):
    if isinstance(payload, str):
        payload = payload.encode()
    body = _str(topic) + payload
    return bytes((0x30 | (1 if retain else 0),)) + _varlen(len(body)) + body


def backoff_delay(step_ms, rand16):
    """The wait before the next attempt: ``step_ms`` (1 s doubling to 60 s) drawn in 75..125 %
    by ``rand16`` (0..65535), so that readers restarted together do not reconnect together."""
    return step_ms * 3 // 4 + rand16 * (step_ms // 2) // 65536


def subscribe_packet(packet_id, topic_filter):
    """SUBSCRIBE to one topic filter at QoS 0."""
    body = struct.pack(">H", packet_id) + _str(topic_filter) + b"\x00"
    return b"\x82" + _varlen(len(body)) + body


def parse_publish(kind, body):
    """(topic, payload) of a PUBLISH packet body, or None when it is not a well-formed PUBLISH."""
    if kind >> 4 != 3 or len(body) < 2:
        return None
    n = (body[0] << 8) | body[1]
    start = 2 + n + (2 if kind & 0x06 else 0)   # QoS 1/2 carry a packet id
    if start > len(body):
        return None
    try:
        return bytes(body[2:2 + n]).decode(), bytes(body[start:])
    except UnicodeError:
        return None


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"

# (subtopic, field, factor, decimals, unit, device class, state class, template on the JSON message)
VALUES = (
    ("obisListVersion", "list_version", None, 0, None, None, None, "list_version"),
    ("meterId", "meter_id", None, 0, None, None, None, "meter_id"),
    ("meterType", "meter_type", None, 0, None, None, None, "meter_type"),
    ("actPowPos", "p_import_w", 1, 0, "W", "power", "measurement", "pi[0]"),
    ("actPowNeg", "p_export_w", 1, 0, "W", "power", "measurement", "pe[0]"),
    ("reactPowPos", "q_import_var", 1, 0, "var", "reactive_power", "measurement", "ri[0]"),
    ("reactPowNeg", "q_export_var", 1, 0, "var", "reactive_power", "measurement", "re[0]"),
    ("currL1", "i_l1_a", 1000, 3, "A", "current", "measurement", "i[0]"),
    ("currL2", "i_l2_a", 1000, 3, "A", "current", "measurement", "i[1]"),
    ("currL3", "i_l3_a", 1000, 3, "A", "current", "measurement", "i[2]"),
    ("voltL1", "u_l1_v", 10, 1, "V", "voltage", "measurement", "u[0]"),
    ("voltL2", "u_l2_v", 10, 1, "V", "voltage", "measurement", "u[1]"),
    ("voltL3", "u_l3_v", 10, 1, "V", "voltage", "measurement", "u[2]"),
    ("actEnergyPos", "e_import_wh", 1, 3, "kWh", "energy", "total_increasing", "ic"),
    ("actEnergyNeg", "e_export_wh", 1, 3, "kWh", "energy", "total_increasing", "ec"),
    ("reactEnergyPos", "r_import_varh", 1, 3, "kvarh", None, "total_increasing", "ric"),
    ("reactEnergyNeg", "r_export_varh", 1, 3, "kvarh", None, "total_increasing", "rec"),
)


def value_texts(fields):
    """[(subtopic, plain value text)] of the values known in ``fields`` (units as in ``VALUES``)."""
    out = []
    for name, field, factor, decimals, _unit, _dc, _sc, _tpl in VALUES:
        value = fields.get(field)
        if value is None:
            continue
        if factor is None:
            out.append((name, str(value)))
        else:
            out.append((name, message.fixed(message.to_int(value, factor), decimals)))
    return out


def node_id(serial):
    """A discovery node id from the serial number: ``han_`` + [a-zA-Z0-9_-] only."""
    out = "han_"
    for ch in serial:
        out += ch if ch.isalpha() or ch.isdigit() or ch in "_-" else "_"
    return out


def discovery_messages(prefix, topic, per_value, device, version):
    """[(topic, payload)] of the Home Assistant discovery configs (sent retained)."""
    node = node_id(device["serial"])
    dev = {"identifiers": ["han-" + device["serial"]], "name": device["name"], "model": device["model"],
           "serial_number": device["serial"], "sw_version": version}
    out = []
    for name, _field, factor, _dec, unit, dclass, sclass, template in VALUES:
        if factor is None:
            continue
        cfg = {"name": name, "unique_id": node + "_" + name, "availability_topic": topic + "/status",
               "payload_available": "online", "payload_not_available": "offline",
               "unit_of_measurement": unit, "state_class": sclass, "device": dev}
        if dclass is not None:
            cfg["device_class"] = dclass
        if per_value:
            cfg["state_topic"] = topic + "/" + name
        else:
            cfg["state_topic"] = topic
            cfg["value_template"] = "{{ value_json.%s }}" % template
        out.append(("%s/sensor/%s/%s/config" % (prefix, node, name), json.dumps(cfg)))
    return out


async def read_packet(reader):
    """(type byte, body bytes) of the next packet; EOFError at end of stream, OSError for a
    remaining length longer than 4 bytes (malformed, MQTT 3.1.1 section 2.2.3: the session ends)."""
    head = await reader.readexactly(1)
    n = 0
    shift = 0
    for k in range(4):
        b = (await reader.readexactly(1))[0]
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        if k == 3:
            raise OSError("malformed remaining length")
        shift += 7
    body = await reader.readexactly(n) if n else b""
    return head[0], body


class MqttClient:
    def __init__(self, app):
        self.app = app
        self.settings = None
        self.task = None
        self.connected = False
        self.writer = None
        self.queue = []             # meter message texts for <topic>
        self.queued_bytes = 0
        self.overflow = 0           # messages dropped past QUEUE_MAX_BYTES in the current episode
        self.extra = []             # ready packets: per-value messages, discovery configs
        self.extra_bytes = 0
        self.values = {}            # subtopic -> the text last queued in this session
        self.wake = asyncio.Event()
        self.sessions = 0
        self.attempts = 0           # connection attempts (each one a TCP connect)
        self.births = 0             # Home Assistant birth messages answered with the discovery
        self.values_dropped = 0
        self.last_error = None

    def _log(self, level, msg):
        self.app.log(level, "mqtt: " + msg)

    # -- control -----------------------------------------------------------------------------------
    async def configure(self, settings):
        """(Re)start with ``settings`` = dict(enabled, host, port, topic, client_id, username,
        password, keepalive, per_value, discovery, discovery_prefix); a change of any of them
        reconnects, enabled False stops."""
        if settings == self.settings and (self.task is not None) == bool(settings.get("enabled")):
            return
        await self.stop()
        self.settings = settings
        if settings.get("enabled"):
            self.task = asyncio.create_task(self._run())

    async def stop(self):
        task = self.task
        self.task = None
        if self.connected and self.writer is not None:
            try:
                self.writer.write(publish_packet(self.settings["topic"] + "/status", "offline", True))
                self.writer.write(DISCONNECT)
                await self.writer.drain()
            except Exception:
                pass
        self._close()
        if task is not None:
            task.cancel()
            try:
                await task
            except BaseException:
                pass

    def publish(self, text):
        """Queue one meter message (and its per-value messages); False (not published) when no
        session is up."""
        if not self.connected:
            return False
        queue = self.queue
        size = self.queued_bytes + len(text)
        while queue and size > QUEUE_MAX_BYTES:
            size -= len(queue.pop(0))
            self.app.state.mqtt_not_published += 1
            if not self.overflow:
                self._log("WARNING", "send queue over %d bytes: dropping the oldest messages"
                          % QUEUE_MAX_BYTES)
            self.overflow += 1
        queue.append(text)
        self.queued_bytes = size
        if self.settings and self.settings.get("per_value"):
            self._queue_values()
        self.wake.set()
        return True

    def _queue_extra(self, packet):
        if self.extra_bytes + len(packet) > QUEUE_MAX_BYTES:
            self.values_dropped += 1
            return False
        self.extra.append(packet)
        self.extra_bytes += len(packet)
        return True

    def _queue_values(self):
        """Per-value messages (retained) for each value that changed since last queued."""
        topic = self.settings["topic"]
        last = self.values
        for name, text in value_texts(self.app.state.fields):
            if last.get(name) != text:
                if self._queue_extra(publish_packet(topic + "/" + name, text, True)):
                    last[name] = text
                else:
                    last.pop(name, None)

    def _queue_discovery(self):
        s = self.settings
        from ..config import VERSION
        for topic, payload in discovery_messages(s["discovery_prefix"], s["topic"], s.get("per_value"),
                                                 self.app.cfg["device"], VERSION):
            self._queue_extra(publish_packet(topic, payload, True))
        self.wake.set()

    def _take_queue(self):
        """Everything queued (emptying the queue); logs the end of an overflow episode."""
        queue = self.queue
        self.queue = []
        self.queued_bytes = 0
        if self.overflow:
            self._log("WARNING", "%d messages dropped (send queue full)" % self.overflow)
            self.overflow = 0
        return queue

    def _take_extra(self):
        extra = self.extra
        self.extra = []
        self.extra_bytes = 0
        return extra

    # -- the session loop --------------------------------------------------------------------------
    def _close(self):
        if self.connected:
            self.connected = False
            self.app.on_mqtt_status(False)
        if self.queue:
            self.app.state.mqtt_not_published += len(self._take_queue())
        self._take_extra()
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:
                pass
            self.writer = None

    async def _run(self):
        backoff = BACKOFF_START_MS
        hal = self.app.hal
        while True:
            started = hal.uptime_ms()
            try:
                await self._session()
            except asyncio.CancelledError:
                self._close()
                raise
            except Exception as exc:
                self.last_error = repr(exc)
                self._log("WARNING", "session ended: %r" % (exc,))
            self._close()
            if hal.uptime_ms() - started >= STABLE_SESSION_MS:
                backoff = BACKOFF_START_MS
            delay = backoff_delay(backoff, random.getrandbits(16))
            self._log("INFO", "reconnecting in %d ms" % delay)
            await hal.sleep_ms(delay)
            backoff = min(backoff * 2, BACKOFF_MAX_MS)

    async def _session(self):
        s = self.settings
        topic = s["topic"]
        keepalive = s["keepalive"]
        self.attempts += 1
        reader, writer = await asyncio.wait_for(asyncio.open_connection(s["host"], s["port"]),
                                                CONNECT_TIMEOUT_S)
        self.writer = writer
        writer.write(connect_packet(s["client_id"], keepalive, topic + "/status", b"offline", True,
                                    s.get("username"), s.get("password")))
        await writer.drain()
        kind, body = await asyncio.wait_for(read_packet(reader), CONNECT_TIMEOUT_S)
        if kind >> 4 != 2 or len(body) < 2:
            raise OSError("unexpected packet 0x%02x instead of CONNACK" % kind)
        if body[1] != 0:
            raise OSError("connection refused by broker, return code %d" % body[1])
        writer.write(publish_packet(topic + "/status", "online", True))
        if s.get("discovery"):
            writer.write(subscribe_packet(1, s["discovery_prefix"] + "/status"))
        await writer.drain()
        self.sessions += 1
        self._take_queue()
        self._take_extra()
        self.values = {}
        self.connected = True
        self._log("INFO", "connected to %s:%d" % (s["host"], s["port"]))
        self.app.on_mqtt_status(True)
        if s.get("discovery"):
            self._queue_discovery()
        if s.get("per_value"):
            self._queue_values()
        rx = {"t": self.app.hal.real_ms(), "eof": False}
        receiver = asyncio.create_task(self._receive(reader, rx))
        try:
            await self._send_loop(writer, topic, keepalive, rx)
        finally:
            receiver.cancel()

    def on_packet(self, kind, body):
        """A packet from the broker: Home Assistant's birth message brings the discovery again."""
        s = self.settings
        if not s.get("discovery"):
            return
        pub = parse_publish(kind, body)
        if pub is not None and pub[0] == s["discovery_prefix"] + "/status" and pub[1] == b"online":
            self.births += 1
            self._log("INFO", "Home Assistant online: discovery sent again")
            self._queue_discovery()

    async def _receive(self, reader, rx):
        try:
            while True:
                kind, body = await read_packet(reader)
                rx["t"] = self.app.hal.real_ms()
                self.on_packet(kind, body)
        except asyncio.CancelledError:
            raise
        except Exception:
            rx["eof"] = True
            self.wake.set()

    async def _send_loop(self, writer, topic, keepalive, rx):
        hal = self.app.hal
        ping_ms = keepalive * 500 if keepalive else 0
        last_ping = hal.real_ms()
        while True:
            if not self.queue and not self.extra:
                self.wake.clear()
                try:
                    if ping_ms:
                        await asyncio.wait_for(self.wake.wait(), ping_ms / 1000)
                    else:
                        await self.wake.wait()
                except asyncio.TimeoutError:
                    pass
            if rx["eof"]:
                raise OSError("connection closed by broker")
            if self.queue or self.extra:
                # one write for everything queued (small separate writes meet Nagle + delayed ACK)
                texts = self._take_queue()
                sent = len(texts)
                packets = [publish_packet(topic, text) for text in texts]
                writer.write(b"".join(packets + self._take_extra()))
                try:
                    await writer.drain()
                except Exception:
                    self.app.state.mqtt_not_published += sent
                    raise
                self.app.state.mqtt_published += sent
            now = hal.real_ms()
            if ping_ms and now - last_ping >= ping_ms:
                if now - rx["t"] > keepalive * 1500:
                    raise OSError("no answer from broker for %d s" % (keepalive * 3 // 2))
                writer.write(PINGREQ)
                await writer.drain()
                last_ping = now
