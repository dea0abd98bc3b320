"""Minimal asyncio HTTP/1.1 server: keep-alive, Content-Length, JSON bodies.

Endpoints (all JSON):
  GET  /meter, /meter/data   HAN_METER_MESSAGE (503 before the first reading)
  GET  /meter/id             {"manufacturerId", "deviceType"} (503 before the first reading)
  GET  /han                  HAN_STATE_MESSAGE
  GET  /health               HAN_HEALTH_MESSAGE
  GET  /configuration        the configuration, secrets never echoed
  POST /configuration        merge a JSON object into the configuration at run time
Statuses: 400 bad JSON / bad setting / any query parameter, 401 token missing or wrong (when a token
is configured, on every endpoint), 404 unknown path, 405 wrong method, 413 body over 4 KiB,
431 request head (request line + headers) over 2 KiB or over 48 header lines, 503 no meter data yet
or too many connections.

Bounded for an MCU: the head is read in chunks into a buffer of at most ``MAX_HEAD`` bytes (never a
``readline()``, which has no limit), at most ``MAX_CONNECTIONS`` connections are served at once (the
next one gets 503 and is closed), and a connection that sends nothing for ``IDLE_TIMEOUT_S`` seconds
(between requests or inside one) is closed.
"""

import asyncio
import json

from . import close_server

MAX_HEAD = 2048
MAX_HEADERS = 48
MAX_BODY = 4096
MAX_CONNECTIONS = 8
IDLE_TIMEOUT_S = 10
CHUNK = 512

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}

ROUTES = {
    "/meter": ("GET",),
    "/meter/data": ("GET",),
    "/meter/id": ("GET",),
    "/han": ("GET",),
    "/health": ("GET",),
    "/configuration": ("GET", "POST"),
}


def error_body(message):
    return json.dumps({"error": message})


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class HttpServer:
    def __init__(self, app):
        self.app = app
        self.server = None
        self.requests = 0
        self.connections = 0        # being served now
        self.refused = 0            # turned away over MAX_CONNECTIONS
        self.clients = []           # (writer, task) of the connections being served

    async def start(self, host, port):
        self.server = await asyncio.start_server(self._client, host, port)

    async def stop(self):
        """Close the client connections, then the listening socket."""
        if self.server is None:
            return
        server, clients = self.server, self.clients
        self.server, self.clients = None, []
        await close_server(server, clients)

    # -- request handling --------------------------------------------------------------------------
    async def dispatch(self, method, target, headers, body):
        """(status, body text, extra header lines) for one request."""
        token = self.app.cfg.get("token")
        if token:
            auth = headers.get("authorization", "")
            if auth != "Bearer " + token:
                return 401, error_body("missing or invalid token"), "WWW-Authenticate: Bearer\r\n"
        path = target
        query = ""
        q = target.find("?")
        if q >= 0:
            path, query = target[:q], target[q + 1:]
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        allowed = ROUTES.get(path)
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
        # /configuration
        if method == "GET":
            return 200, json.dumps(app.public_config()), ""
        try:
            changes = json.loads(body)
        except (ValueError, TypeError):
            return 400, error_body("body is not valid JSON"), ""
        try:
            result = await app.configure(changes)
        except ValueError as exc:
            return 400, error_body(str(exc)), ""
        return 200, json.dumps(result), ""

    async def _read(self, reader, n):
        """Up to ``n`` bytes (b"" at end of stream); asyncio.TimeoutError after IDLE_TIMEOUT_S."""
        return await asyncio.wait_for(reader.read(n), IDLE_TIMEOUT_S)

    async def _read_head(self, reader, buf):
        """(head, rest) of the next request: ``head`` up to and including its blank line, ``rest`` what
        was read after it. (None, b"") at a clean end of stream; HttpError 431 past MAX_HEAD."""
        while True:
            k = 0
            while k < len(buf) and buf[k] in (13, 10):      # stray CRLF between requests
                k += 1
            if k:
                buf = buf[k:]
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
                return buf[:end], buf[end:]
            if len(buf) > MAX_HEAD:
                break
            chunk = await self._read(reader, CHUNK)
            if not chunk:
                if buf:
                    raise EOFError()
                return None, b""
            buf += chunk
        raise HttpError(431, "request head larger than %d bytes" % MAX_HEAD)

    async def _client(self, reader, writer):
        if self.connections >= MAX_CONNECTIONS:
            self.refused += 1
            try:
                writer.write(self._response(503, error_body("too many connections"),
                                            "Retry-After: 1\r\n", False))
                await writer.drain()
            except Exception:
                pass
            await self._close(writer)
            return
        self.connections += 1
        entry = (writer, asyncio.current_task())
        self.clients.append(entry)
        buf = b""
        try:
            while True:
                try:
                    head, buf = await self._read_head(reader, buf)
                except HttpError as exc:
                    self.requests += 1
                    writer.write(self._response(exc.status, error_body(exc.message), "", False))
                    await writer.drain()
                    break
                if head is None:
                    break
                keep, buf = await self._request(head, buf, reader, writer)
                if not keep:
                    break
        except (OSError, EOFError, asyncio.TimeoutError):
            pass
        except Exception as exc:
            self.app.log("ERROR", "http client: %r" % (exc,))
        finally:
            self.connections -= 1
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
        data = text.encode()
        head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s" \
               "Cache-Control: no-store\r\nConnection: %s\r\n\r\n" % (
                   status, REASONS.get(status, "Error"), len(data), extra,
                   "keep-alive" if keep else "close")
        # One write: header and body in one segment (two small writes meet Nagle + delayed ACK: 40 ms).
        return head.encode() + data

    async def _request(self, head, buf, reader, writer):
        """Handle one request whose head (request line + headers + blank line) is ``head``, ``buf``
        holding what was read after it; (keep the connection, bytes left over for the next request)."""
        self.requests += 1
        try:
            try:
                lines = head.decode().split("\n")
            except (UnicodeError, ValueError):
                raise HttpError(400, "request head is not UTF-8") from None
            parts = lines[0].split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                raise HttpError(400, "bad request line")
            method, target, version = parts
            headers = {}
            count = 0
            for h in lines[1:]:
                h = h.strip()
                if not h:
                    continue
                count += 1
                if count > MAX_HEADERS:
                    raise HttpError(431, "more than %d header lines" % MAX_HEADERS)
                k = h.find(":")
                if k > 0:
                    headers[h[:k].strip().lower()] = h[k + 1:].strip()
            conn = headers.get("connection", "").lower()
            keep = (version == "HTTP/1.1" and conn != "close") or (conn == "keep-alive")
            if "transfer-encoding" in headers:
                raise HttpError(400, "chunked bodies are not supported; send Content-Length")
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise HttpError(400, "bad Content-Length") from None
            if length < 0:
                raise HttpError(400, "bad Content-Length")
            if length > MAX_BODY:
                raise HttpError(413, "body larger than %d bytes" % MAX_BODY)
            while len(buf) < length:
                chunk = await self._read(reader, length - len(buf))
                if not chunk:
                    raise EOFError()
                buf += chunk
            body = buf[:length]
            buf = buf[length:]
            status, text, extra = await self.dispatch(method, target, headers, body)
        except HttpError as exc:
            status, text, extra, keep = exc.status, error_body(exc.message), "", False
        except (OSError, EOFError, asyncio.TimeoutError):
            raise
        except Exception as exc:
            self.app.log("ERROR", "http handler: %r" % (exc,))
            status, text, extra, keep = 500, error_body("internal error"), "", False
        writer.write(self._response(status, text, extra, keep))
        await writer.drain()
        return keep, buf
