"""mDNS responder (RFC 6762/6763): advertises the HTTP API as ``_http._tcp.local``.

Records: PTR ``_services._dns-sd._udp.local`` -> ``_http._tcp.local``; PTR ``_http._tcp.local`` ->
``<name> <serial>._http._tcp.local``; its SRV (``han-<serial>.local``, the HTTP port) and TXT
(``serial=``, ``model=``, ``version=``, ``path=/``); A ``han-<serial>.local`` -> the device's address.
A query from port 5353 is answered on the group, a query from another port (a "legacy" one-shot
resolver) by unicast to it with its id and questions; two announcements go out at start. The socket
comes from the HAL (``udp_multicast``); on the software DUT it is bound to loopback only.

``parse_query`` and ``answer`` are pure (bytes <-> values); malformed packets are counted, never raised.
"""

import asyncio
import struct

GROUP = "224.0.0.251"
PORT = 5353
TTL = 120
HOST_TTL = 120
T_A, T_PTR, T_TXT, T_SRV, T_ANY = 1, 12, 16, 33, 255
POLL_S = 0.1    # the socket is polled (no exception, no allocation when idle); RFC 6762 allows 20-120 ms
SERVICE = "_http._tcp.local"
META = "_services._dns-sd._udp.local"


def encode_name(name):
    out = bytearray()
    for label in name.split("."):
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError("bad DNS label %r" % label)
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def read_name(data, pos):
    """(name, position after it) of the name at ``pos``, following compression pointers."""
    labels = []
    end = None
    jumps = 0
    while True:
        if pos >= len(data):
            raise ValueError("name runs past the packet")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data) or jumps > 16:
                raise ValueError("bad compression pointer")
            if end is None:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            jumps += 1
            continue
        if n & 0xC0:
            raise ValueError("bad label type")
        pos += 1
        if n == 0:
            break
        if pos + n > len(data):
            raise ValueError("label runs past the packet")
        labels.append(bytes(data[pos:pos + n]).decode())
        pos += n
    return ".".join(labels), (end if end is not None else pos)


def parse_query(data):
    """(id, [(name, type, unicast-response bit)]) of a query; None for a response; ValueError if bad."""
    if len(data) < 12:
        raise ValueError("short header")
    qid, flags, qd = struct.unpack(">HHH", data[:6])
    if flags & 0x8000:
        return None
    pos = 12
    questions = []
    for _ in range(qd):
        name, pos = read_name(data, pos)
        if pos + 4 > len(data):
            raise ValueError("question runs past the packet")
        qtype, qclass = struct.unpack(">HH", data[pos:pos + 4])
        pos += 4
        questions.append((name, qtype, bool(qclass & 0x8000)))
    return qid, questions


def _rr(name, rtype, ttl, rdata, flush=False):
    cls = 0x8001 if flush else 1
    return encode_name(name) + struct.pack(">HHIH", rtype, cls, ttl, len(rdata)) + rdata


def _txt(items):
    out = bytearray()
    for item in items:
        raw = item.encode()[:255]
        out.append(len(raw))
        out += raw
    return bytes(out)


class Service:
    """The records of one device: ``name`` (instance label), ``host`` (without .local), ``port``,
    ``txt`` ([key=value]), ``address`` (dotted IPv4)."""

    def __init__(self, name, host, port, txt, address):
        self.instance = name + "." + SERVICE
        self.host = host + ".local"
        self.port = port
        self.txt = txt
        self.address = address

    def records(self, qname, qtype):
        """(answers, additionals) as lists of encoded records for one question."""
        low = qname.lower()
        ptr = _rr(SERVICE, T_PTR, TTL, encode_name(self.instance))
        srv = _rr(self.instance, T_SRV, HOST_TTL, struct.pack(">HHH", 0, 0, self.port) + encode_name(self.host),
                  True)
        txt = _rr(self.instance, T_TXT, TTL, _txt(self.txt), True)
        a = _rr(self.host, T_A, HOST_TTL, bytes([int(x) for x in self.address.split(".")]), True)
        any_ = qtype == T_ANY
        if low == META.lower() and qtype in (T_PTR, T_ANY):
            return [_rr(META, T_PTR, TTL, encode_name(SERVICE))], []
        if low == SERVICE.lower() and qtype in (T_PTR, T_ANY):
            return [ptr], [srv, txt, a]
        if low == self.instance.lower():
            answers = ([srv] if qtype == T_SRV or any_ else []) + ([txt] if qtype == T_TXT or any_ else [])
            return answers, ([a] if answers else [])
        if low == self.host.lower() and qtype in (T_A, T_ANY):
            return [a], []
        return [], []

    def announcement(self):
        return self.message(0, [], [self.records(SERVICE, T_PTR)[0][0]] + self.records(SERVICE, T_PTR)[1], [])

    @staticmethod
    def message(qid, questions, answers, additionals):
        head = struct.pack(">HHHHHH", qid, 0x8400, len(questions), len(answers), 0, len(additionals))
        return head + b"".join(questions) + b"".join(answers) + b"".join(additionals)


def answer(service, data, legacy):
    """The response to a packet (None: nothing to say). ``legacy``: from a port other than 5353, so
    the response repeats the id and questions (RFC 6762 section 6.7) and goes back by unicast."""
    parsed = parse_query(data)
    if parsed is None:
        return None
    qid, questions = parsed
    answers, extra, echoed = [], [], []
    for name, qtype, _unicast in questions:
        got, more = service.records(name, qtype)
        if got:
            answers += [r for r in got if r not in answers]
            extra += [r for r in more if r not in extra and r not in answers]
            echoed.append(encode_name(name) + struct.pack(">HH", qtype, 1))
    if not answers:
        return None
    extra = [r for r in extra if r not in answers]
    if legacy:
        return Service.message(qid, echoed, answers, extra)
    return Service.message(0, [], answers, extra)


class MdnsResponder:
    """Answers mDNS queries on a HAL multicast socket until stopped; ``counters`` for /health."""

    def __init__(self, hal, log):
        self.hal = hal  # its multicast socket and the unit's address
        self.log = log  # log(level, message)
        self.sock = None
        self.task = None
        self.service = None
        self.counters = {"queries": 0, "answers": 0, "malformed": 0}

    async def start(self, port, interface, http_port, device):
        """Listen on ``interface``:``port``, advertising ``device`` (config section) with HTTP on ``http_port``."""
        d = device
        from ..config import VERSION
        self.service = Service("%s %s" % (d["name"], d["serial"]), "han-" + d["serial"], http_port,
                               ["serial=" + d["serial"], "model=" + d["model"], "version=" + VERSION, "path=/"],
                               interface if interface != "0.0.0.0" else self.hal.ip())
        await self.stop()
        if not self.hal.offers("udp_multicast"):
            self.log("WARNING", "mdns: this unit has no multicast socket")
            return
        try:
            self.sock = self.hal.udp_multicast(GROUP, port, interface)
        except (OSError, ValueError) as exc:     # the reader runs on without mDNS
            self.log("WARNING", "mdns cannot listen on %s:%d: %r" % (interface, port, exc))
            return
        self.task = asyncio.create_task(self._run())
        self.log("INFO", "mdns on %s:%d as %r" % (interface, port, self.service.instance))

    @property
    def running(self):
        return self.task is not None

    async def stop(self):
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    async def _run(self):
        sock = self.sock
        announcements = 2   # at start and one second later (RFC 6762 section 8.3), queries served between
        ticks = 0
        while True:
            if announcements and ticks % int(1 / POLL_S) == 0:
                sock.send_group(self.service.announcement())
                announcements -= 1
            got = sock.recv()
            if got is None:
                ticks += 1
                await asyncio.sleep(POLL_S)
                continue
            data, port, addr = got
            self.counters["queries"] += 1
            try:
                resp = answer(self.service, data, port != sock.port)
            except (ValueError, UnicodeError, IndexError):
                self.counters["malformed"] += 1
                continue
            if resp is None:
                continue
            self.counters["answers"] += 1
            try:
                if port != sock.port:
                    sock.send_to(resp, addr)
                else:
                    sock.send_group(resp)
            except OSError as exc:
                self.log("WARNING", "mdns send: %r" % (exc,))
