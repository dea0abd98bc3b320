"""The mDNS probe's legacy query and response parser against a small responder on a raw loopback socket (the
firmware's own responder is tested in tests/firmware/test_mdns.py)."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from rig.probes import ProbeError, ProbeTimeout
from rig.probes.mdns import parse_response, query


def name(text: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".")) + b"\0"


def rr(owner: bytes, rtype: int, rdata: bytes) -> bytes:
    return owner + struct.pack(">HHIH", rtype, 1, 120, len(rdata)) + rdata


def response(qid: int = 0) -> bytes:
    inst = name("Box 1._http._tcp.local")
    host = b"\x05box-1\xc0\x17"     # "box-1" + a pointer to "local" in the PTR owner (offset 12 + 6 + 5)
    ptr = rr(name("_http._tcp.local"), 12, inst)
    srv = rr(inst, 33, struct.pack(">HHH", 0, 0, 8080) + name("box-1.local"))
    txt = rr(inst, 16, b"\x08serial=1\x07model=M\x04path")
    a = rr(host, 1, bytes([127, 0, 0, 1]))
    return struct.pack(">6H", qid, 0x8400, 0, 1, 0, 3) + ptr + srv + txt + a


def test_parse_response_reads_every_record_kind() -> None:
    records = parse_response(response())
    assert records == [
        ("_http._tcp.local.", "PTR", "Box 1._http._tcp.local."),
        ("Box 1._http._tcp.local.", "SRV", (8080, "box-1.local.")),
        ("Box 1._http._tcp.local.", "TXT", {"serial": "1", "model": "M", "path": ""}),
        ("box-1.local.", "A", "127.0.0.1"),
    ]
    with pytest.raises(ProbeError, match="query"):
        parse_response(struct.pack(">6H", 0, 0, 0, 0, 0, 0))


def test_query_goes_to_the_group_on_loopback_and_reads_the_unicast_answer() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("224.0.0.251", 5353))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("224.0.0.251")
                    + socket.inet_aton("127.0.0.1"))
    sock.settimeout(3)
    seen: list[bytes] = []

    def answer() -> None:
        while True:
            data, addr = sock.recvfrom(9000)
            if data[12:] == name("box-1.local") + b"\0\x01\0\x01":   # ours, not another responder's traffic
                seen.append(data)
                sock.sendto(response(struct.unpack(">H", data[:2])[0]), addr)
                return

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        records = query("box-1.local", "A", timeout=3)
    finally:
        thread.join(3)
        sock.close()
    assert ("box-1.local.", "A", "127.0.0.1") in records
    assert seen and struct.unpack(">4H", seen[0][:8]) == (0x4A52, 0, 1, 0)


def test_query_times_out_when_nobody_answers() -> None:
    with pytest.raises(ProbeTimeout, match="no mDNS answer"):
        query("nobody-here-7f3a.local", "A", timeout=0.3)


def test_query_every_collects_the_answers_of_several_responders() -> None:
    socks = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("224.0.0.251", 5353))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("224.0.0.251")
                        + socket.inet_aton("127.0.0.1"))
        sock.settimeout(3)
        socks.append(sock)

    def answer(sock: socket.socket) -> None:
        while True:
            data, addr = sock.recvfrom(9000)
            if data[12:] == name("box-1.local") + b"\0\x01\0\x01":
                sock.sendto(response(struct.unpack(">H", data[:2])[0]), addr)
                return

    threads = [threading.Thread(target=answer, args=(s,), daemon=True) for s in socks]
    for thread in threads:
        thread.start()
    try:
        records = query("box-1.local", "A", timeout=1, every=True)
    finally:
        for thread, sock in zip(threads, socks, strict=True):
            thread.join(3)
            sock.close()
    assert records.count(("box-1.local.", "A", "127.0.0.1")) == 2
