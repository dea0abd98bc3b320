"""mDNS probe: finds the reader's ``_http._tcp`` service on loopback only.

``browse`` uses zeroconf (``Zeroconf(interfaces=["127.0.0.1"], ip_version=V4Only)``: without the
interface list it would multicast on the real network). ``query`` is a one-shot "legacy" resolver on a
raw socket (RFC 6762 section 6.7): a query from an ephemeral port to the group, sent out of 127.0.0.1,
and the records of the unicast answer, parsed here.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

from rig.probes.base import ProbeError, ProbeTimeout

GROUP = "224.0.0.251"
PORT = 5353
SERVICE = "_http._tcp.local."
TYPES = {"A": 1, "PTR": 12, "TXT": 16, "SRV": 33, "ANY": 255}


@dataclass
class MdnsService:
    """One resolved service instance."""

    name: str                       # "<instance>._http._tcp.local."
    host: str                       # "han-SIM-0001.local."
    port: int
    addresses: list[str]
    txt: dict[str, str] = field(default_factory=dict)


def browse(timeout: float = 5.0, interface: str = "127.0.0.1", service: str = SERVICE) -> list[MdnsService]:
    """Every instance of ``service`` seen on ``interface`` within ``timeout`` s, resolved (zeroconf)."""
    try:
        from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ProbeError("zeroconf is not installed (pip install zeroconf)") from exc

    found: list[str] = []

    class Listener(ServiceListener):
        def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            found.append(name)

        def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            pass

        def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            pass

    zc = Zeroconf(interfaces=[interface], ip_version=IPVersion.V4Only)
    try:
        browser = ServiceBrowser(zc, service, Listener())
        deadline = time.monotonic() + timeout
        while not found and time.monotonic() < deadline:
            time.sleep(0.05)
        browser.cancel()
        out = []
        for name in dict.fromkeys(found):
            info = zc.get_service_info(service, name, timeout=int(max(deadline - time.monotonic(), 1) * 1000))
            if info is None:
                continue
            txt = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
            out.append(MdnsService(name, info.server or "", info.port or 0, info.parsed_addresses(), txt))
        return out
    finally:
        zc.close()


def _name(data: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end = None
    for _ in range(128):
        n = data[pos]
        if n & 0xC0 == 0xC0:
            end = pos + 2 if end is None else end
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            continue
        pos += 1
        if n == 0:
            return ".".join(labels) + ".", end if end is not None else pos
        labels.append(data[pos:pos + n].decode())
        pos += n
    raise ProbeError("mDNS answer: a name loops")


def parse_response(data: bytes) -> list[tuple[str, str, object]]:
    """The records of a DNS response as (name, type, value): A -> "a.b.c.d", PTR -> name, SRV -> (port,
    target), TXT -> {key: value}; other types -> raw bytes."""
    if len(data) < 12:
        raise ProbeError(f"mDNS answer of {len(data)} bytes")
    _qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", data[:12])
    if not flags & 0x8000:
        raise ProbeError("mDNS packet is a query, not a response")
    pos = 12
    for _ in range(qd):
        _, pos = _name(data, pos)
        pos += 4
    names = {v: k for k, v in TYPES.items()}
    out: list[tuple[str, str, object]] = []
    for _ in range(an + ns + ar):
        name, pos = _name(data, pos)
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        rdata = data[pos:pos + length]
        value: object = rdata
        if rtype == 1:
            value = socket.inet_ntoa(rdata)
        elif rtype == 12:
            value = _name(data, pos)[0]
        elif rtype == 33:
            value = (struct.unpack(">H", rdata[4:6])[0], _name(data, pos + 6)[0])
        elif rtype == 16:
            items, k = {}, 0
            while k < len(rdata):
                item = rdata[k + 1:k + 1 + rdata[k]].decode()
                key, _, val = item.partition("=")
                items[key] = val
                k += 1 + rdata[k]
            value = items
        out.append((name, names.get(rtype, str(rtype)), value))
        pos += length
    return out


def query(name: str, qtype: str = "PTR", timeout: float = 3.0, interface: str = "127.0.0.1",
          port: int = PORT, every: bool = False) -> list[tuple[str, str, object]]:
    """One legacy query for ``name``/``qtype`` to the group out of ``interface``; the first answer's
    records, or with ``every`` the records of every answer within ``timeout`` (several responders)."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", 0x4A52, 0, 1, 0, 0, 0) + qname + struct.pack(">HH", TYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.bind((interface, 0))
        sock.settimeout(timeout)
        sock.sendto(packet, (GROUP, port))
        deadline = time.monotonic() + timeout
        records: list[tuple[str, str, object]] = []
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data, _ = sock.recvfrom(9000)
            except TimeoutError:
                if records:
                    return records
                raise ProbeTimeout(f"no mDNS answer to {name} {qtype} on {interface} within {timeout} s") from None
            if len(data) >= 2 and data[:2] == packet[:2]:
                records += parse_response(data)
                if not every:
                    return records
