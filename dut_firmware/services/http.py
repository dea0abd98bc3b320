"""Asyncio HTTP/1.1 server: keep-alive, Content-Length, JSON bodies, one HTML page.

Endpoints (JSON unless said):
  GET  /meter, /meter/data   HAN_METER_MESSAGE (503 before the first reading)
  GET  /meter/id             {"manufacturerId", "deviceType", "meterId"} (503 before the first reading)
  GET  /han                  HAN_STATE_MESSAGE (name, serial, mac, version, online, channel, wifiIp, ethIp)
  GET  /health               HAN_HEALTH_MESSAGE
  GET  /configuration        the configuration, secrets never echoed, with the compact keys (v, p, t, m.f,
                             e.e, e.n.m, w.e, w.s, w.n.m, w.z, w.b) the Home Assistant integration reads
  POST /configuration        merge a JSON object into the configuration at run time
  POST /update               a firmware image, its SHA-256 in X-Firmware-SHA256 (services/update.py)
  GET  /ui                   the configuration page (HTML, services/ui.py); served without the token: it
                             holds no data and asks for the token, which its requests then carry
Statuses: 400 bad JSON / bad setting / any query parameter, 401 token missing or wrong (when a token
is configured, on every endpoint but /ui), 403 a token without the permission (the ``read_token`` on
POST /configuration) or a change of a key the operator locked (config.py ``locked``, the key named),
404 unknown path, 405 wrong method (with ``Allow``), 408 a request not complete within its deadline,
413 body over 4 KiB, 431 request head (request line + headers) over 2 KiB or over 48 header lines,
503 no meter data yet or no connection slot free.

Bounded for an MCU: the head is read in chunks into a buffer of at most ``MAX_HEAD`` bytes (never a
``readline()``, which has no limit). At most ``MAX_CONNECTIONS`` connections are served at once; up to
``MAX_WAITING`` more wait for a slot for at most ``SLOT_WAIT_MS`` (device time), then get 503; beyond
those a connection gets 503 at once. While any connection waits, each answer closes its connection
(``Connection: close``), so keep-alive clients take turns instead of holding the slots. The listen queue
(``BACKLOG``) holds all of them, so a client reconnecting never waits for a SYN retransmission.
Every request has a deadline: from its first byte, the head and body must be in within
``REQUEST_DEADLINE_MS`` of device time (never under ``MIN_DEADLINE_REAL_MS`` real): a client that
trickles bytes gets 408 and is closed (counted in ``deadline_closed``). A connection that sends nothing
for ``IDLE_TIMEOUT_S`` real seconds (between requests or inside one) is closed without an answer
(``idle_closed``). The counters are in /health under ``http``.
"""

import asyncio
import json
import time

from ..config import LockedError
from . import close_server, ui
from .http_request import (  # noqa: F401
    MAX_BODY,
    MAX_HEADERS,
    HttpError,
    body_length,
    error_body,
    parse_head,
    permission,
    split_target,
)

MAX_HEAD = 2048
MAX_CONNECTIONS = 8
MAX_WAITING = 16
# The listen queue holds every connection the server would take: with MicroPython's default of 5, the
# kernel drops SYNs while clients reconnect (Connection: close while others wait) and a client stalls
# for its 1 s SYN retransmission.
BACKLOG = MAX_CONNECTIONS + MAX_WAITING
SLOT_WAIT_MS = 2000             # device ms a connection over MAX_CONNECTIONS waits for a slot
REQUEST_DEADLINE_MS = 5000      # device ms from a request's first byte to its last
MIN_DEADLINE_REAL_MS = 1000     # ... but never less than this in real ms (time-compressed runs)
IDLE_TIMEOUT_S = 10
CHUNK = 512

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}

ROUTES = {
    "/meter": ("GET",),
    "/meter/data": ("GET",),
    "/meter/id": ("GET",),
    "/han": ("GET",),
    "/health": ("GET",),
    "/configuration": ("GET", "POST"),
    "/ui": ("GET",),
    "/update": ("POST",),
}
OPEN_PATHS = ("/ui",)           # served without the token (no data in them)


class Late(Exception):
    """A request not complete within its deadline."""


class _Clock:
    """The clock of a server whose application has no HAL (tests): real ms, no scaling."""

    def real_ms(self):
        if hasattr(time, "ticks_ms"):
            return time.ticks_ms()
        return int(time.monotonic() * 1000)

    def real_delay_ms(self, device_ms):
        return device_ms


class HttpServer:
    """``app`` (a services.View): ``cfg`` (the tokens), ``state``, ``meter_id()``, ``state_message()``,
    ``health_message()``, ``public_config()``, ``await configure(changes)``, ``await update_firmware(...)``,
    ``log``, ``hal`` (the clock: ``real_ms``, ``real_delay_ms``)."""

    def __init__(self, app):
        self.app = app
        self.clock = getattr(app, "hal", None) or _Clock()
        self.server = None
        self.requests = 0
        self.connections = 0        # being served now
        self.peak = 0               # most connections served at once
        self.refused = 0            # turned away: no slot within SLOT_WAIT_MS, or MAX_WAITING waiting
        self.waited = 0             # connections that waited for a slot and got one
        self.deadline_closed = 0    # requests not complete within their deadline (408, closed)
        self.idle_closed = 0        # connections closed after IDLE_TIMEOUT_S without a request
        self.waiting = []           # asyncio.Event of each connection waiting for a slot, oldest first
        self.clients = []           # (writer, task) of the connections being served

    def counters(self):
        """The ``http`` object of /health."""
        return {"requests": self.requests, "connections": self.connections, "peak": self.peak,
                "waiting": len(self.waiting), "waited": self.waited, "refused": self.refused,
                "deadline_closed": self.deadline_closed, "idle_closed": self.idle_closed}

    async def start(self, host, port):
        self.server = await asyncio.start_server(self._client, host, port, backlog=BACKLOG)

    async def stop(self):
        """Close the client connections, then the listening socket."""
        if self.server is None:
            return
        server, clients = self.server, self.clients
        self.server, self.clients = None, []
        await close_server(server, clients)

    # -- request handling --------------------------------------------------------------------------
    async def dispatch(self, method, target, headers, body):
        """(status, body text, extra header lines) for one request; an HTML page's extra lines start
        with its ``Content-Type``."""
        path, query = split_target(target)
        allowed = ROUTES.get(path)
        if path not in OPEN_PATHS or allowed is None:
            allowed_to = permission(self.app.cfg, headers)
            if allowed_to is None:
                return 401, error_body("missing or invalid token"), "WWW-Authenticate: Bearer\r\n"
        else:
            allowed_to = None
        if allowed is None:
            return 404, error_body("no such path: %s" % path), ""
        if method not in allowed:
            return 405, error_body("method %s not allowed on %s" % (method, path)), \
                "Allow: %s\r\n" % ", ".join(allowed)
        if query:
            return 400, error_body("unknown parameters: %s" % query), ""
        app = self.app
        if path == "/meter" or path == "/meter/data":
            text = app.state.text()
            if text is None:
                return 503, error_body("no meter data yet"), ""
            return 200, text, ""
        if path == "/meter/id":
            if not app.state.has_reading:
                return 503, error_body("no meter data yet"), ""
            return 200, json.dumps(app.meter_id()), ""
        if path == "/han":
            return 200, json.dumps(app.state_message()), ""
        if path == "/health":
            return 200, json.dumps(app.health_message()), ""
        if path == "/ui":
            return 200, ui.PAGE, "Content-Type: %s\r\n" % HTML_TYPE
        # /configuration
        if method == "GET":
            return 200, json.dumps(app.public_config()), ""
        if allowed_to != "write":
            return 403, error_body("this token may not change the configuration"), ""
        try:
            changes = json.loads(body)
        except (ValueError, TypeError):
            return 400, error_body("body is not valid JSON"), ""
        try:
            result = await app.configure(changes)
        except LockedError as exc:
            return 403, error_body(str(exc)), ""
        except ValueError as exc:
            return 400, error_body(str(exc)), ""
        return 200, json.dumps(result), ""

    async def _update(self, target, headers, buf, reader):
        """POST /update: (status, body, extra) after the image is taken or refused (services/update.py)."""
        from .update import handle  # loaded on the first update: no heap for it before
        return await handle(self, target, headers, buf, reader)

    def deadline(self):
        """The real-ms deadline of a request starting now."""
        real = self.clock.real_delay_ms(REQUEST_DEADLINE_MS)
        if real < MIN_DEADLINE_REAL_MS:
            real = MIN_DEADLINE_REAL_MS
        return self.clock.real_ms() + real

    async def _read(self, reader, n, deadline=None):
        """Up to ``n`` bytes (b"" at end of stream); asyncio.TimeoutError after IDLE_TIMEOUT_S of
        silence (the connection is closed without an answer), Late past ``deadline`` (real ms)."""
        timeout = IDLE_TIMEOUT_S
        late = False                        # the deadline comes before the idle timeout
        if deadline is not None:
            left = deadline - self.clock.real_ms()
            if left <= 0:
                raise Late()
            if left / 1000 < timeout:
                timeout = left / 1000
                late = True
        try:
            return await asyncio.wait_for(reader.read(n), timeout)
        except asyncio.TimeoutError:
            if late:
                raise Late() from None
            raise

    async def _read_head(self, reader, buf):
        """(head, rest, deadline) of the next request: ``head`` up to and including its blank line,
        ``rest`` what was read after it, ``deadline`` (real ms) counted from its first byte.
        (None, b"", None) at a clean end of stream; HttpError 431 past MAX_HEAD; Late past the deadline."""
        deadline = None
        while True:
            k = 0
            while k < len(buf) and buf[k] in (13, 10):      # stray CRLF between requests
                k += 1
            if k:
                buf = buf[k:]
            if buf and deadline is None:
                deadline = self.deadline()
            end = -1
            i = buf.find(b"\n\r\n")
            if i >= 0:
                end = i + 3
            i = buf.find(b"\n\n")
            if i >= 0 and (end < 0 or i + 2 < end):
                end = i + 2
            if end >= 0:
                if end > MAX_HEAD:
                    break
                return buf[:end], buf[end:], deadline
            if len(buf) > MAX_HEAD:
                break
            chunk = await self._read(reader, CHUNK, deadline)
            if not chunk:
                if buf:
                    raise EOFError()
                return None, b"", None
            buf += chunk
        raise HttpError(431, "request head larger than %d bytes" % MAX_HEAD)

    async def _slot(self):
        """True once this connection may be served (a slot free now or within SLOT_WAIT_MS)."""
        if self.connections < MAX_CONNECTIONS:
            self.connections += 1
            return True
        if len(self.waiting) >= MAX_WAITING:
            return False
        event = asyncio.Event()
        self.waiting.append(event)
        wait_s = self.clock.real_delay_ms(SLOT_WAIT_MS) / 1000
        try:
            await asyncio.wait_for(event.wait(), wait_s)
        except asyncio.TimeoutError:
            pass
        except BaseException:               # cancelled (server stop): give back a slot handed over
            if event in self.waiting:
                self.waiting.remove(event)
            elif event.is_set():
                self._release()
            raise
        if event.is_set():                  # the slot was handed over (the count stays)
            self.waited += 1
            return True
        if event in self.waiting:
            self.waiting.remove(event)
        return False

    def _release(self):
        """Hand this connection's slot to the oldest waiting one, or free it."""
        if self.waiting:
            self.waiting.pop(0).set()
        else:
            self.connections -= 1

    async def _client(self, reader, writer):
        try:
            served = await self._slot()
        except BaseException:
            await self._close(writer)
            raise
        if not served:
            self.refused += 1
            try:
                writer.write(self._response(503, error_body("too many connections"),
                                            "Retry-After: 1\r\n", False))
                await writer.drain()
            except Exception:
                pass
            await self._close(writer)
            return
        if self.connections > self.peak:
            self.peak = self.connections
        entry = (writer, asyncio.current_task())
        self.clients.append(entry)
        buf = b""
        try:
            while True:
                try:
                    head, buf, deadline = await self._read_head(reader, buf)
                except HttpError as exc:
                    self.requests += 1
                    writer.write(self._response(exc.status, error_body(exc.message), "", False))
                    await writer.drain()
                    break
                if head is None:
                    break
                keep, buf = await self._request(head, buf, reader, writer, deadline)
                if not keep:
                    break
        except Late:
            self.deadline_closed += 1
            try:
                writer.write(self._response(408, error_body("request not complete within %d ms"
                                                            % REQUEST_DEADLINE_MS), "", False))
                await writer.drain()
            except Exception:
                pass
        except asyncio.TimeoutError:
            self.idle_closed += 1
        except (OSError, EOFError):
            pass
        except Exception as exc:
            self.app.log("ERROR", "http client: %r" % (exc,))
        finally:
            self._release()
            if entry in self.clients:
                self.clients.remove(entry)
            await self._close(writer)

    async def _close(self, writer):
        try:
            writer.close()
            await writer.wait_closed()
        except Exception:
            pass

    def _response(self, status, text, extra, keep):
        data = text.encode() if isinstance(text, str) else text  # the meter message is bytes already
        ctype = ""
        if not extra.startswith("Content-Type:"):
            ctype = "Content-Type: %s\r\n" % JSON_TYPE
        head = "HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\n%s" \
               "Cache-Control: no-store\r\nConnection: %s\r\n\r\n" % (
                   status, REASONS.get(status, "Error"), ctype, len(data), extra,
                   "keep-alive" if keep else "close")
        # One write: header and body in one segment (two small writes meet Nagle + delayed ACK: 40 ms).
        return head.encode() + data

    async def _request(self, head, buf, reader, writer, deadline=None):
        """Handle one request whose head (request line + headers + blank line) is ``head``, ``buf``
        holding what was read after it; (keep the connection, bytes left over for the next request).
        Late when its body is not in by ``deadline`` (real ms)."""
        self.requests += 1
        try:
            method, target, version, headers = parse_head(head)
            conn = headers.get("connection", "").lower()
            keep = (version == "HTTP/1.1" and conn != "close") or (conn == "keep-alive")
            if method == "POST" and split_target(target)[0] == "/update":
                status, text, extra = await self._update(target, headers, buf, reader)
                buf, keep = b"", False
            else:
                length = body_length(headers)
                while len(buf) < length:
                    chunk = await self._read(reader, length - len(buf), deadline)
                    if not chunk:
                        raise EOFError()
                    buf += chunk
                body = buf[:length]
                buf = buf[length:]
                status, text, extra = await self.dispatch(method, target, headers, body)
        except HttpError as exc:
            status, text, extra, keep = exc.status, error_body(exc.message), "", False
        except (OSError, EOFError, asyncio.TimeoutError, Late):
            raise
        except Exception as exc:
            self.app.log("ERROR", "http handler: %r" % (exc,))
            status, text, extra, keep = 500, error_body("internal error"), "", False
        if self.waiting:
            keep = False                    # others wait for a slot: take turns
        writer.write(self._response(status, text, extra, keep))
        await writer.drain()
        return keep, buf
