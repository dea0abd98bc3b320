"""Firmware update over HTTP: ``POST /update``, the image as the body, its SHA-256 in ``X-Firmware-SHA256``.

Behind the token with write permission (401 without it, 403 with the read token). The body is streamed
to the HAL's image writer in chunks (never held in memory) while its SHA-256 is computed; a wrong hash,
an image the HAL cannot install (see hal/unix_update.py: it must unpack and import) or a missing or bad
header is 400 and the running firmware stays active. A good image is installed and activated, answered
``{"ok": true, "version": <its VERSION>, "restart": true}``, and the unit restarts into it. The LED shows
firmware update from the first byte to the answer (and on through the restart after a good one).
"""

import binascii
import hashlib
import json

from .http_request import error_body, permission, split_target

MAX_IMAGE = 2 * 1024 * 1024
CHUNK = 2048
DEADLINE_MS = 60000             # real ms for the whole body


class UpdateError(Exception):
    """A refused image: HTTP ``status``, ``message``; ``body_read`` once the whole body was taken."""

    def __init__(self, status, message, body_read=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.body_read = body_read


def expected_digest(headers):
    """The announced SHA-256 (32 bytes) of ``headers``; UpdateError 400 when missing or malformed."""
    text = headers.get("x-firmware-sha256", "").strip().lower()
    if len(text) != 64:
        raise UpdateError(400, "X-Firmware-SHA256 must be the image's SHA-256 as 64 hex digits")
    try:
        return binascii.unhexlify(text)
    except ValueError:
        raise UpdateError(400, "X-Firmware-SHA256 must be the image's SHA-256 as 64 hex digits") from None


def image_size(headers):
    """The body's Content-Length, 1..MAX_IMAGE; UpdateError otherwise (400, 411 without one, 413 too big)."""
    text = headers.get("content-length")
    if text is None:
        raise UpdateError(411, "an image needs a Content-Length")
    try:
        size = int(text)
    except ValueError:
        raise UpdateError(400, "bad Content-Length") from None
    if size <= 0:
        raise UpdateError(400, "empty image")
    if size > MAX_IMAGE:
        raise UpdateError(413, "image larger than %d bytes" % MAX_IMAGE)
    return size


async def receive(hal, headers, buf, read):
    """Stream an image of the request's size (``buf`` already read, ``await read(n)`` for the rest) into
    the HAL, check its hash and install it; (writer, version). UpdateError 400 when it is refused."""
    digest = expected_digest(headers)
    size = image_size(headers)
    if not hal.offers("update_begin"):
        raise UpdateError(400, "no firmware update on this unit")
    try:
        writer = hal.update_begin(size)
    except (OSError, ValueError) as exc:
        raise UpdateError(400, "no firmware update on this unit: %s" % exc) from None
    sha = hashlib.sha256()
    got = 0
    try:
        while got < size:
            if not buf:
                buf = await read(min(CHUNK, size - got))
                if not buf:
                    raise EOFError()
            part = buf[:size - got]
            buf = buf[size - got:]
            sha.update(part)
            writer.write(part)
            got += len(part)
        actual = sha.digest()       # once: MicroPython's hash is final after digest()
        if actual != digest:
            raise UpdateError(400, "image SHA-256 mismatch: got %s" % binascii.hexlify(actual).decode(), True)
        try:
            version = writer.install()
        except (OSError, ValueError) as exc:
            raise UpdateError(400, "image refused: %s" % exc, True) from None
    except BaseException:
        writer.abort()
        raise
    return writer, version


async def handle(server, target, headers, buf, reader):
    """POST /update on HttpServer ``server``: (status, body, extra) once the image is taken or refused."""
    deadline = server.clock.real_ms() + DEADLINE_MS

    async def read(n):
        return await server._read(reader, n, deadline)

    allowed_to = permission(server.app.cfg, headers)
    query = split_target(target)[1]
    if allowed_to is None:
        status, text, extra = 401, error_body("missing or invalid token"), "WWW-Authenticate: Bearer\r\n"
    elif allowed_to != "write":
        status, text, extra = 403, error_body("this token may not update the firmware"), ""
    elif query:
        status, text, extra = 400, error_body("unknown parameters: %s" % query), ""
    else:
        try:
            return 200, json.dumps(await server.app.update_firmware(headers, buf, read)), ""
        except UpdateError as exc:
            if exc.body_read:
                return exc.status, error_body(exc.message), ""
            status, text, extra = exc.status, error_body(exc.message), ""
    try:                            # refused before the body: read it (bounded), so the client sees the answer
        left = image_size(headers) - len(buf)
        while left > 0:
            chunk = await read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
    except UpdateError:
        pass
    return status, text, extra
