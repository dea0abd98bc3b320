"""MQTT 3.1.1 packets, sans-IO apart from ``read_packet`` (which only frames an asyncio stream): CONNECT,
PUBLISH (QoS 0), SUBSCRIBE, PINGREQ, DISCONNECT out; a PUBLISH from the broker parsed. services/mqtt.py
runs the session.
"""

import struct


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


def put_publish(out, i, topic, payload):
    """Write a PUBLISH (QoS 0, not retained) of ``payload`` on ``topic`` (both bytes) into the memoryview
    ``out`` at ``i``; returns its end. ``out`` must have room (7 + len(topic) + len(payload) bytes)."""
    n = 2 + len(topic) + len(payload)
    out[i] = 0x30
    i += 1
    while True:  # the remaining length, 7 bits a byte
        b = n & 0x7F
        n >>= 7
        out[i] = b | 0x80 if n else b
        i += 1
        if not n:
            break
    k = len(topic)
    out[i] = k >> 8
    out[i + 1] = k & 0xFF
    out[i + 2:i + 2 + k] = topic
    i += 2 + k
    k = len(payload)
    out[i:i + k] = payload
    return i + k
