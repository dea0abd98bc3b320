"""A small MQTT 3.1.1 client on asyncio streams (publish only, QoS 0).

CONNECT with clean session, keepalive and a last will ``<topic>/status`` = ``offline`` (retained);
after CONNACK a retained ``online`` on ``<topic>/status`` and a ``handshake`` LED flash. Each meter
message goes out QoS 0 on ``<topic>``. PINGREQ every keepalive/2 s; no traffic from the broker for
1.5 x keepalive drops the session. Reconnects with exponential back-off (1 s doubling to 60 s, device
time; the back-off only resets after a session that lasted 30 s, so a broker that accepts and drops
at once sees no reconnect storm). The meter side never waits: ``publish()`` returns False at once when
no session is up (the reading is "not published"). While a session is up nothing is dropped: messages
wait for the socket in a queue bounded by bytes (``QUEUE_MAX_BYTES``, room for a catch-up burst of a
few hundred messages after a stall); only past that bound is the oldest dropped, counted in
``mqtt_not_published`` and logged.
"""

import asyncio
import struct

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


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


async def read_packet(reader):
    """(type byte, body bytes) of the next packet; EOFError at end of stream."""
    head = await reader.readexactly(1)
    n = 0
    shift = 0
    for _ in range(4):
        b = (await reader.readexactly(1))[0]
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
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
        self.queue = []
        self.queued_bytes = 0
        self.overflow = 0           # messages dropped past QUEUE_MAX_BYTES in the current episode
        self.wake = asyncio.Event()
        self.sessions = 0
        self.last_error = None

    def _log(self, level, msg):
        self.app.log(level, "mqtt: " + msg)

    # -- control -----------------------------------------------------------------------------------
    async def configure(self, settings):
        """(Re)start with ``settings`` = dict(enabled, host, port, topic, client_id, username,
        password, keepalive); a change of any of them reconnects, enabled False stops."""
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
        """Queue one meter message; False (not published) when no session is up."""
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
        self.wake.set()
        return True

    def _take_queue(self):
        """Everything queued (emptying the queue); logs the end of an overflow episode."""
        queue = self.queue
        self.queue = []
        self.queued_bytes = 0
        if self.overflow:
            self._log("WARNING", "%d messages dropped (send queue full)" % self.overflow)
            self.overflow = 0
        return queue

    # -- the session loop --------------------------------------------------------------------------
    def _close(self):
        if self.connected:
            self.connected = False
            self.app.on_mqtt_status(False)
        if self.queue:
            self.app.state.mqtt_not_published += len(self._take_queue())
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
            self._log("INFO", "reconnecting in %d ms" % backoff)
            await hal.sleep_ms(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_MS)

    async def _session(self):
        s = self.settings
        topic = s["topic"]
        keepalive = s["keepalive"]
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
        await writer.drain()
        self.sessions += 1
        self._take_queue()
        self.connected = True
        self._log("INFO", "connected to %s:%d" % (s["host"], s["port"]))
        self.app.on_mqtt_status(True)
        rx = {"t": self.app.hal.real_ms(), "eof": False}
        receiver = asyncio.create_task(self._receive(reader, rx))
        try:
            await self._send_loop(writer, topic, keepalive, rx)
        finally:
            receiver.cancel()

    async def _receive(self, reader, rx):
        try:
            while True:
                await read_packet(reader)
                rx["t"] = self.app.hal.real_ms()
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
            if not self.queue:
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
            if self.queue:
                # one write for everything queued (small separate writes meet Nagle + delayed ACK)
                texts = self._take_queue()
                sent = len(texts)
                writer.write(b"".join([publish_packet(topic, text) for text in texts]))
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
