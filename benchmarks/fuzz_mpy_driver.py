# The fuzzer's targets, run on MicroPython (the unix port) and CPython alike: the reader firmware's meter
# decoder and its HTTP, Modbus TCP and MQTT parsers, each fed one malformed input at a time.
#
#     .venv/bin/micropython benchmarks/fuzz_mpy_driver.py . INPUTS   # what benchmarks/fuzz.py runs
#
# INPUTS: one line per record, written by benchmarks/fuzz.py:
#     key HEX HEX          a meter key and auth key ("-" for none); keys are numbered from 1 in order
#     seed K HEX           an unmutated meter frame decoded with key K (0: none): its readings are originals
#     dec K C S HEX        a decoder input made from seed S (0, 1, ...), with key K, fed in chunks of the
#                          sizes C ("1.5.64"; "0": whole) to a new decoder; when it holds a '/', the decoder
#                          has first decoded a P1 seed, S if S is one (a reader that has seen P1 telegrams)
#     want K C S HEX       the same, and the readings of seed S must come out: garbage + seed S
#     http C HEX           the bytes a client sends, read by the server in chunks C, then end of stream
#     modbus C HEX         the same for the Modbus TCP server, its default map
#     modbus-han2x C HEX   the same with the han2x map (32-bit values, the writable scale factor)
#     mqtt C HEX           the bytes a broker sends to the MQTT client
# Output: per suspect input "SUSPECT N" (an ok reading with a value no seed has: benchmarks/fuzz.py checks
# it against the rig's own checksums), per bad input "BAD N target what", and a last line
# "TALLY {json}" with the counts per target. Stdlib only; no f-strings of big texts (small heaps).
# (a comment, not a docstring: MicroPython would hold a docstring in its heap while compiling)
# MicroPython code, as dut_firmware/: %-formatting, and asyncio.TimeoutError (MicroPython has no builtin one)
# ruff: noqa: UP031, UP041

import sys

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])  # the folder holding the dut_firmware package

import asyncio  # noqa: E402
import binascii  # noqa: E402
import struct  # noqa: E402

from dut_firmware import config  # noqa: E402
from dut_firmware import state as state_mod  # noqa: E402
from dut_firmware.hal.aes import ecb  # noqa: E402
from dut_firmware.han.decoder import COUNTERS, Decoder  # noqa: E402
from dut_firmware.services import http, modbus, mqtt  # noqa: E402

HANG_S = 2  # an input the server has not finished within this (its bytes all there, then EOF) hangs
HTTP_STATUSES = (200, 400, 401, 403, 404, 405, 408, 413, 431, 503)  # services/http.py's documented answers
MODBUS_UNIT = 1
TZ = "CET-1CEST,M3.5.0,M10.5.0/3"


def sizes_of(text):
    """Chunk sizes "1.5.64" -> [1, 5, 64]; "0" -> [] (the whole input at once)."""
    return [int(s) for s in text.split(".") if s != "0"]


def chunks(data, sizes):
    if not sizes:
        return [data]
    out = []
    i = 0
    k = 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i:i + n])
        i += n
        k += 1
    return out


class MemReader:
    """A stream's reading end over bytes already received: reads return at most the next chunk."""

    def __init__(self, data, sizes):
        self.data = data
        self.pos = 0
        self.sizes = sizes
        self.k = 0

    def _take(self, n):
        size = len(self.data) - self.pos
        if self.sizes:
            size = min(size, self.sizes[self.k % len(self.sizes)])
            self.k += 1
        if n is not None and 0 <= n < size:
            size = n
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out

    async def read(self, n=-1):
        return self._take(n)

    async def readexactly(self, n):
        out = b""
        while len(out) < n:
            part = self._take(n - len(out))
            if not part:
                raise EOFError("%d of %d bytes" % (len(out), n))
            out += part
        return out


class MemWriter:
    """A stream's writing end that keeps what was written."""

    def __init__(self):
        self.out = []
        self.closed = False

    def write(self, data):
        if self.closed:
            raise OSError("write after close")
        self.out.append(bytes(data))

    async def drain(self):
        if self.closed:
            raise OSError("drain after close")

    def close(self):
        self.closed = True

    async def wait_closed(self):
        pass

    def data(self):
        return b"".join(self.out)


class App:
    """What the services read of the application: configuration, meter state, HAL, log, messages."""

    def __init__(self, reading, modbus_map="default"):
        from dut_firmware.hal.unix import UnixHal

        self.base = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null"},
                                                   "modbus": {"unit_id": MODBUS_UNIT, "map": modbus_map}})
        self.cfg = config.copy(self.base)
        self.hal = UnixHal(self.cfg)
        self.state = state_mod.State(TZ)
        if reading is not None:
            self.state.update({"ok": True, "format": "hdlc/kaifa-kfm001", "list": 2, "reading": reading})
        self.errors = []

    def log(self, level, msg):
        if level == "ERROR":
            self.errors.append(msg)

    def meter_id(self):
        return {"manufacturerId": None, "deviceType": None}

    def state_message(self):
        return {"type": "HAN_STATE_MESSAGE"}

    def health_message(self):
        return {"type": "HAN_HEALTH_MESSAGE"}

    def public_config(self):
        return config.public(self.cfg)

    async def configure(self, changes):
        self.cfg = config.apply_changes(self.cfg, changes)
        return config.public(self.cfg)


def new_tally():
    return {"inputs": 0, "frames_ok": 0, "errors": {}, "escaped": 0, "wrong": 0, "hangs": 0,
            "unaccounted": 0, "resync_failed": 0}


def bump(d, key, n=1):
    d[key] = d.get(key, 0) + n


class Fuzz:
    def __init__(self, out):
        self.out = out  # a function taking one output line
        self.keys = [(None, None)]
        self.originals = []  # the readings of the seeds
        self.seed_readings = []  # per seed, its readings
        self.seed_sizes = []  # per seed, its length
        self.seed_p1 = []  # per seed, the seed if a P1 telegram, else None
        self.p1_any = None  # the first P1 seed that decodes
        self.tally = {}
        self.n = 0
        self.reading = None  # the first original: what the services serve
        self.apps = {}  # per service target: POST /configuration changes stay in the HTTP one

    def t(self, target):
        tally = self.tally.get(target)
        if tally is None:
            tally = self.tally[target] = new_tally()
        return tally

    def bad(self, target, what):
        self.out("BAD %d %s %s" % (self.n, target, what))

    # -- the meter decoder --------------------------------------------------------------------------
    def decoder(self, k):
        key, auth = self.keys[k]
        return Decoder(key=key, auth_key=auth, aes=ecb)

    def seed(self, k, data):
        d = self.decoder(k)
        mine = []
        for r in d.feed(data) + d.flush():
            if r["ok"]:
                mine.append(r["reading"])
                self.originals.append(r["reading"])
                if self.reading is None:
                    self.reading = r["reading"]
        self.seed_readings.append(mine)
        self.seed_sizes.append(len(data))
        self.seed_p1.append(data if data[:1] == b"/" and mine else None)
        if data[:1] == b"/" and mine and self.p1_any is None:
            self.p1_any = data

    def known(self, reading):
        """True if every value of ``reading`` is that of one original reading (a damaged message may give
        fewer values, never other ones)."""
        if reading in self.originals:
            return True
        for o in self.originals:
            same = True
            for k in reading:
                if k not in o or o[k] != reading[k]:
                    same = False
                    break
            if same:
                return True
        return False

    def decode(self, k, sizes, data, s, want=False):
        tally = self.t("decoder")
        tally["inputs"] += 1
        d = self.decoder(k)
        primer = (self.seed_p1[s] or self.p1_any) if b"/" in data else None
        if primer is not None:
            d.feed(primer)
            d.flush()
            for name in COUNTERS:
                d.counters[name] = 0
        results = []
        try:
            for part in chunks(data, sizes):
                results += d.feed(part)
            results += d.flush()
        except Exception as e:  # the reader's serial task would restart the decoder: a bug
            tally["escaped"] += 1
            self.bad("decoder", "exception %s: %s" % (type(e).__name__, e))
            return
        counted = 0
        for name in COUNTERS:
            counted += d.counters[name]
        if counted != len(results) or (not results and data.strip(b"\x7e")):
            tally["unaccounted"] += 1
            self.bad("decoder", "%d results, %d counted" % (len(results), counted))
        found = []
        for r in results:
            if r["ok"]:
                tally["frames_ok"] += 1
                if self.known(r["reading"]):
                    found.append(r["reading"])
                else:
                    self.out("SUSPECT %d" % self.n)
            else:
                err = r["error"]
                kind = err.split(":")[0].split(" ")[0]
                if "decode failed" in err:  # the decoder's last-resort handler caught a crash
                    tally["escaped"] += 1
                    self.bad("decoder", err)
                    kind = "crash"
                bump(tally["errors"], kind)
        if want and [r for r in self.seed_readings[s] if r not in found]:
            junk = data[:len(data) - self.seed_sizes[s]]
            if b"\x68" in junk or b"\xdb" in junk:  # a start byte whose length nothing checks
                bump(tally, "resync_unchecked_start")
            tally["resync_failed"] += 1
            self.bad("decoder", "the valid frame after the garbage was not decoded")

    # -- the services -------------------------------------------------------------------------------
    def services_app(self, target):
        app = self.apps.get(target)
        if app is None:
            app = self.apps[target] = App(self.reading, "han2x" if target == "modbus-han2x" else "default")
        app.cfg = config.copy(app.base)  # each input from the same settings (a POST or a write changes them)
        return app

    async def serve(self, target, sizes, data):
        app = self.services_app(target)
        tally = self.t(target)
        tally["inputs"] += 1
        before = len(app.errors)
        writer = MemWriter()
        reader = MemReader(data, sizes)
        if target == "http":
            server = http.HttpServer(app)
            run = server._client(reader, writer)
        elif target.startswith("modbus"):
            server = modbus.ModbusServer(app)
            run = server._client(reader, writer)
        else:
            run = self.mqtt_packets(reader, tally)
        try:
            got = await asyncio.wait_for(run, HANG_S)
        except asyncio.TimeoutError:
            tally["hangs"] += 1
            self.bad(target, "no end within %d s" % HANG_S)
            return
        except Exception as e:
            tally["escaped"] += 1
            self.bad(target, "exception %s: %s" % (type(e).__name__, e))
            return
        if len(app.errors) > before:  # the service's last-resort handler logged a crash
            tally["escaped"] += 1
            self.bad(target, app.errors[-1])
            del app.errors[before:]
        if target == "http":
            self.check_http(tally, writer.data())
        elif target.startswith("modbus"):
            self.check_modbus(tally, data, writer.data(), app, target)
        else:
            self.check_mqtt(tally, data, got)

    def check_http(self, tally, out):
        """Every answer a well-formed response of a documented status; 500 is a caught crash."""
        i = 0
        while i < len(out):
            end = out.find(b"\r\n\r\n", i)
            head = out[i:end].decode() if end >= 0 else ""
            parts = head.split(" ", 2)
            length = -1
            for line in head.split("\r\n")[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line[15:])
            if end < 0 or len(parts) < 2 or parts[0] != "HTTP/1.1" or length < 0:
                tally["wrong"] += 1
                self.bad("http", "malformed response %r" % out[i:i + 60])
                return
            status = int(parts[1])
            if status == 500:
                tally["escaped"] += 1
                self.bad("http", "500 internal error")
            elif status not in HTTP_STATUSES:
                tally["wrong"] += 1
                self.bad("http", "undocumented status %d" % status)
            if status == 200:
                tally["frames_ok"] += 1
            else:
                bump(tally["errors"], str(status))
            i = end + 4 + length
        if not out:
            bump(tally["errors"], "closed")

    async def mqtt_packets(self, reader, tally):
        """(packets, refused) the client's parser takes from the broker's bytes, up to the end of stream
        or an OSError (refused: a malformed packet ends the session)."""
        got = []
        while True:
            try:
                got.append(await mqtt.read_packet(reader))
            except EOFError:
                return got, False
            except OSError:
                return got, True

    def check_modbus(self, tally, data, out, app, target):
        """The answers against the Modbus TCP rules (services/modbus.py's docstring), request by request;
        the register values are the map's (``registers``, ``han2x_registers``: not what is tested here)."""
        han2x = target == "modbus-han2x"
        scale = [modbus.SCALE_DEFAULT]

        def regs_now():
            if han2x:
                return modbus.han2x_registers(app.state.fields, scale[0], app.hal.uptime_ms(), config.VERSION)
            return modbus.registers(app.state.fields)

        want = []
        i = 0
        while len(data) - i >= 7:
            tid, pid, length, unit = struct.unpack(">HHHB", data[i:i + 7])
            if length < 2 or length > 254 or len(data) - i < 6 + length:
                break  # an impossible length, or a request cut short by the end of stream: closed
            pdu = data[i + 7:i + 6 + length]
            i += 6 + length
            if pid != 0:
                break
            fc = pdu[0]
            regs = regs_now()
            if unit != MODBUS_UNIT and unit != 0xFF:
                resp = bytes(((fc & 0x7F) | 0x80, 0x0B))
            elif han2x and fc in (6, 16):
                resp = self.modbus_write(fc, pdu, regs, scale)
            elif fc not in (3, 4):
                resp = bytes(((fc & 0x7F) | 0x80, 1))
            elif len(pdu) != 5:
                resp = bytes((fc | 0x80, 3))
            else:
                addr, count = struct.unpack(">HH", pdu[1:5])
                if not 1 <= count <= 125:
                    resp = bytes((fc | 0x80, 3))
                elif addr + count > len(regs):
                    resp = bytes((fc | 0x80, 2))
                else:
                    resp = bytes((fc, 2 * count)) + b"".join(struct.pack(">H", r)
                                                            for r in regs[addr:addr + count])
            want.append(struct.pack(">HHHB", tid, 0, len(resp) + 1, unit) + resp)
        if out != b"".join(want):
            tally["wrong"] += 1
            self.bad("modbus", "answered %s, the rules say %s" % (binascii.hexlify(out[:40]),
                                                                  binascii.hexlify(b"".join(want)[:40])))
            return
        for resp in want:
            if resp[7] & 0x80:
                bump(tally["errors"], "exception_%02x" % resp[8])
            else:
                tally["frames_ok"] += 1
        if not want:
            bump(tally["errors"], "closed")

    def modbus_write(self, fc, pdu, regs, scale):
        """The answer to FC 06/16 on the han2x map: only the scale factor's two registers are writable,
        with a scale of 10..1000000; ``scale[0]`` takes a write that succeeds."""
        if fc == 6:
            if len(pdu) != 5:
                return bytes((fc | 0x80, 3))
            addr, value = struct.unpack(">HH", pdu[1:5])
            values = [value]
        else:
            if len(pdu) < 6:
                return bytes((fc | 0x80, 3))
            addr, count = struct.unpack(">HH", pdu[1:5])
            if not 1 <= count <= 123 or pdu[5] != 2 * count or len(pdu) != 6 + 2 * count:
                return bytes((fc | 0x80, 3))
            values = [struct.unpack(">H", pdu[6 + 2 * k:8 + 2 * k])[0] for k in range(count)]
        if addr + len(values) > len(regs):
            return bytes((fc | 0x80, 2))
        first = modbus.HAN2X_WRITABLE[0]
        words = [scale[0] >> 16, scale[0] & 0xFFFF]
        for k in range(len(values)):
            if addr + k not in modbus.HAN2X_WRITABLE:
                return bytes((fc | 0x80, 2))
            words[addr + k - first] = values[k]
        new = (words[0] << 16) | words[1]
        if not 10 <= new <= 1000000:
            return bytes((fc | 0x80, 3))
        scale[0] = new
        return bytes(pdu[:5])

    def check_mqtt(self, tally, data, result):
        """The packets against MQTT 3.1.1's framing: a remaining length of at most four bytes, else the
        packet is malformed and the session ends."""
        got, refused = result
        malformed = False
        want = []
        i = 0
        while i < len(data):
            n = 0
            k = 0
            while True:
                if i + 1 + k >= len(data):
                    n = -1
                    break
                b = data[i + 1 + k]
                n |= (b & 0x7F) << (7 * k)
                k += 1
                if not b & 0x80:
                    break
                if k == 4:
                    n = -2  # a fifth length byte: a malformed packet, the client closes
                    break
            if n == -2:
                malformed = True
            if n < 0 or i + 1 + k + n > len(data):
                break
            want.append((data[i], data[i + 1 + k:i + 1 + k + n]))
            i += 1 + k + n
        got = [(kind, bytes(body)) for kind, body in got]
        if got != want or refused != malformed:
            tally["wrong"] += 1
            self.bad("mqtt", "parsed %d packets%s, the framing gives %d%s" % (
                len(got), " and refused" if refused else "", len(want), " then malformed" if malformed else ""))
        tally["frames_ok"] += len(want)
        if malformed:
            bump(tally["errors"], "malformed_refused")
        elif i < len(data):
            bump(tally["errors"], "incomplete")

    # -- the input file -----------------------------------------------------------------------------
    async def line(self, text):
        parts = text.split()
        if not parts:
            return
        op = parts[0]
        if op == "key":
            self.keys.append(tuple(None if h == "-" else binascii.unhexlify(h) for h in parts[1:3]))
            return
        if op == "seed":
            self.seed(int(parts[1]), binascii.unhexlify(parts[2]))
            return
        self.n += 1
        if op == "dec" or op == "want":
            data = binascii.unhexlify(parts[4]) if len(parts) > 4 else b""
            self.decode(int(parts[1]), sizes_of(parts[2]), data, int(parts[3]), op == "want")
        else:
            data = binascii.unhexlify(parts[2]) if len(parts) > 2 else b""
            await self.serve(op, sizes_of(parts[1]), data)


async def run(path, out):
    import gc

    fuzz = Fuzz(out)
    with open(path) as f:
        k = 0
        for text in f:
            await fuzz.line(text)
            k += 1
            if not k % 200:
                gc.collect()
    return fuzz.tally


def main(argv):
    import json

    def out(line):
        sys.stdout.write(line + "\n")

    tally = asyncio.run(run(argv[2], out))
    sys.stdout.write("TALLY " + json.dumps(tally) + "\n")


if __name__ == "__main__":
    main(sys.argv)
