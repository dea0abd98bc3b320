"""Sans-IO pieces of the HTTP server (services/http.py): the request head's parser, the body's length,
the request target, the bearer token's permission, the error body. Pure functions of bytes and dicts."""

import json

MAX_HEADERS = 48
MAX_BODY = 4096


def error_body(message):
    return json.dumps({"error": message})


def _same(a, b):
    """a == b for two strings, in a time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= ord(a[i]) ^ ord(b[i])
    return diff == 0


def permission(cfg, headers):
    """What the request's bearer token may do: "write" (the token, or no token configured), "read" (the
    read_token), or None (no token or a wrong one while a token is configured)."""
    token = cfg.get("token")
    if not token:
        return "write"
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return None
    given = auth[7:]
    if _same(given, token):
        return "write"
    read = cfg.get("read_token")
    if read and _same(given, read):
        return "read"
    return None


def split_target(target):
    """(path, query) of a request target; a trailing slash is dropped (``/meter/`` is ``/meter``)."""
    path = target
    query = ""
    q = target.find("?")
    if q >= 0:
        path, query = target[:q], target[q + 1:]
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path, query


def parse_head(head):
    """(method, target, version, headers) of a request head (request line, header lines, blank line);
    header names lower-case. HttpError 400 / 431 for a malformed or oversized head. Sans-IO."""
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
    return method, target, version, headers


def body_length(headers):
    """The Content-Length of a request (0 without one); HttpError 400 / 413."""
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
    return length


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message
