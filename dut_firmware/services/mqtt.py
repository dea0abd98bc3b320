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

The packets are mqtt_codec.py's, the per-value topics and discovery configs mqtt_topics.py's (both sans-IO).
"""

import asyncio
import random

from .mqtt_codec import (  # noqa: F401  (the packet codec, also used through this module)
    DISCONNECT,
    PINGREQ,
    _varlen,
    connect_packet,
    parse_publish,
    publish_packet,
    put_publish,
    read_packet,
    subscribe_packet,
)
from .mqtt_topics import VALUES, discovery_messages, value_text

QUEUE_MAX_BYTES = 32768     # bytes of message text waiting for the socket
BACKOFF_START_MS = 1000
BACKOFF_MAX_MS = 60000
STABLE_SESSION_MS = 30000
CONNECT_TIMEOUT_S = 5


def backoff_delay(step_ms, rand16):
    """The wait before the next attempt: ``step_ms`` (1 s doubling to 60 s) drawn in 75..125 %
    by ``rand16`` (0..65535), so that readers restarted together do not reconnect together."""
    return step_ms * 3 // 4 + rand16 * (step_ms // 2) // 65536


class MqttClient:
    """``app`` (a services.View): ``cfg`` (``device``, for discovery), ``state`` (fields, publish counters),
    ``hal`` (``uptime_ms``, ``real_ms``, ``sleep_ms``), ``on_mqtt_status(connected)``, ``log``."""

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
        self._out = bytearray(0)    # the packets of one send are put together here (grown at the first)
        self._topic = (None, b"")   # the meter topic and its bytes
        self.values = {}            # subtopic -> the text last queued in this session
        self._seen = {}             # subtopic -> the field's value last rendered for it
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
        """Per-value messages (retained) for each value whose text changed since last queued; a value
        equal to the one last seen is not rendered again (no garbage for what did not change)."""
        topic = self.settings["topic"]
        last = self.values
        seen = self._seen
        fields = self.app.state.fields
        for entry in VALUES:
            name = entry[0]
            value = fields.get(entry[1])
            if value is None or (value == seen.get(name) and name in last):
                continue
            seen[name] = value
            text = value_text(entry, value)
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

    def _packets(self, topic, texts, extra):
        """Everything to send, as one bytes: a PUBLISH of each meter text on ``topic``, then the ready
        packets; put together in a buffer kept between sends (one copy, no packet per message)."""
        if self._topic[0] != topic:
            self._topic = (topic, topic.encode())
        t = self._topic[1]
        size = 0
        for text in texts:
            size += 7 + len(t) + len(text)   # fixed header (1 + at most 4), topic length (2), topic, text
        for packet in extra:
            size += len(packet)
        if len(self._out) < size:
            self._out = bytearray(size + 256)
        out = memoryview(self._out)
        i = 0
        for text in texts:
            i = put_publish(out, i, t, text.encode() if isinstance(text, str) else text)
        for packet in extra:
            out[i:i + len(packet)] = packet
            i += len(packet)
        return bytes(out[:i])  # a copy: the transport may keep what it is given until it is sent

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
        self._seen = {}
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
                writer.write(self._packets(topic, texts, self._take_extra()))
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
