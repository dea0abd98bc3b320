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
431 headers too large, 503 no meter data yet.
"""

import asyncio
import json

MAX_LINE = 2048
MAX_HEADERS = 48
MAX_BODY = 4096

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
        Exception.__init__(self, message)
        self.status = status
        self.message = message


class HttpServer:
    def __init__(self, app):
        self.app = app
        self.server = None
        self.requests = 0

    async def start(self, host, port):
        self.server = await asyncio.start_server(self._client, host, port)

    async def stop(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

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

    async def _client(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if line in (b"\r\n", b"\n"):
                    continue            # tolerate stray CRLF between requests
                keep = await self._request(line, reader, writer)
                if not keep:
                    break
        except (OSError, EOFError):
            pass
        except Exception as exc:
            self.app.log("ERROR", "http client: %r" % (exc,))
        finally:
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass

    async def _request(self, line, reader, writer):
        """Handle one request whose request line is ``line``; True to keep the connection."""
        self.requests += 1
        try:
            if len(line) > MAX_LINE or not line.endswith(b"\n"):
                raise HttpError(431, "request line too long")
            parts = line.decode().split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                raise HttpError(400, "bad request line")
            method, target, version = parts
            headers = {}
            for _ in range(MAX_HEADERS + 1):
                h = await reader.readline()
                if not h:
                    raise EOFError()
                if h in (b"\r\n", b"\n"):
                    break
                if len(h) > MAX_LINE:
                    raise HttpError(431, "header line too long")
                k = h.find(b":")
                if k > 0:
                    headers[h[:k].decode().strip().lower()] = h[k + 1:].decode().strip()
            else:
                raise HttpError(431, "too many headers")
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
            body = await reader.readexactly(length) if length else b""
            status, text, extra = await self.dispatch(method, target, headers, body)
        except HttpError as exc:
            status, text, extra, keep = exc.status, error_body(exc.message), "", False
        except (OSError, EOFError):
            raise
        except Exception as exc:
            self.app.log("ERROR", "http handler: %r" % (exc,))
            status, text, extra, keep = 500, error_body("internal error"), "", False
        data = text.encode()
        head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s" \
               "Cache-Control: no-store\r\nConnection: %s\r\n\r\n" % (
                   status, REASONS.get(status, "Error"), len(data), extra,
                   "keep-alive" if keep else "close")
        # One write: header and body in one segment (two small writes meet Nagle + delayed ACK: 40 ms).
        writer.write(head.encode() + data)
        await writer.drain()
        return keep
