"""Benchmark of the firmware's meter decoder: microseconds per frame for each format it reads, and the
same frames decoded by public peers (amshan for the HDLC lists, dsmr-parser for P1) under CPython.

Usage (from the repository root):
    .venv/bin/python      benchmarks/bench_decode.py [N]    # firmware and peers
    .venv/bin/micropython benchmarks/bench_decode.py [N]    # firmware only (the peers are CPython packages)
    .venv/bin/micropython [-X heapsize=128K] benchmarks/bench_decode.py --day [FRAMES] [--collect]
N (default 2000) is the number of frames per format. A firmware figure is one `Decoder.feed(frame)` call
on one decoder per format (the whole frame in one chunk): the reader's whole work for a frame that
arrives complete, from the framing through both checksums (for P1 the CRC-16/ARC over the telegram, in
that call) to the reading; a peer figure is the peer reading the frame
and decoding its values (amshan: `HdlcFrameReader.read` + `kaifa`/`aidon`/`kamstrup.decode_frame_content`;
dsmr-parser: `TelegramParser.parse` with the CRC checked, as the firmware checks it). Each line shows the
mean, p50 and p99 of the per-frame times; the peer lines add the ratio of the medians, peer p50 / firmware
p50 (the median, because other processes on the machine inflate the mean). For Kaifa List 2 the CRC and
the APDU decoding alone and a byte-by-byte feed are shown too, for the E360 its CRC and its values alone.
A format the firmware does not read is named and skipped. Kaifa List 2 is also timed encrypted
(general-glo-ciphering in HDLC: SC 0x20, and 0x30 with its tag checked; GCM on the HAL's AES block, a
frame counter of its own per frame): the whole feed, decryption included.

--day: the reader's work for each frame of a day of Kaifa traffic (FRAMES, default 43,200: List 1 every
2 s, List 2 every 10 s, List 3 hourly): Decoder.feed, State.update (timestamp, message text) and the
MQTT PUBLISH packet. Per-frame times, and on MicroPython the heap: the collections (seen as gc.mem_free()
rising), the time of the frames that ran one against the others, the garbage a frame leaves.
--collect runs gc.collect() after every frame (what collecting while the line is idle would cost).
"""

import sys
import time

try:
    _file = __file__
except NameError:  # pragma: no cover
    _file = "benchmarks/bench_decode.py"
_here = _file.rsplit("/", 1)[0] if "/" in _file else "."
CPYTHON = sys.implementation.name == "cpython"

sys.path.insert(0, _here + "/..")  # the folder holding the dut_firmware package (CPython and MicroPython)
from dut_firmware.hal.aes import ecb  # noqa: E402
from dut_firmware.han import dsmr  # noqa: E402
from dut_firmware.han.crc import crc16_arc, crc16_x25  # noqa: E402
from dut_firmware.han.decoder import Decoder, decode_llc  # noqa: E402
from dut_firmware.han.gcm import Gcm  # noqa: E402

if hasattr(time, "ticks_us"):
    _now = time.ticks_us

    def _diff(a, b):
        return time.ticks_diff(b, a)
else:
    def _now():
        return time.perf_counter_ns() // 1000

    def _diff(a, b):
        return b - a

# Copies of LIST1_HEX .. LIST3_HEX of tests/spec_frames.py: the Kaifa MA304H4 frames of 2024-10-01
# 19:00:00-10 (captures/kaifa/no-ma304h4-2024-10-01.jsonl); the Aidon List 3 of
# captures/aidon/aidon_no_gh1119_1_l3.jsonl; a Kamstrup hourly List 2 in the spec layout with the values
# of amsreader's example list (the one captured Kamstrup frame is encrypted); the Landis+Gyr E360 P1
# telegram of captures/landis-gyr/lg_e360_se_gh382_p1.jsonl. Kept here because this script also runs
# under MicroPython, which cannot import the test data.
LIST1 = bytes.fromhex(
    "7ea027010201105a87e6e7000f40000000090c07e80a0102130002ff800000020106000013c1"
    "56f57e"
)
LIST2 = bytes.fromhex(
    "7ea07801020110c498e6e7000f40000000090c07e80a0102130000ff800000020d09074b464d"
    "5f30303109103639373036333134303732363239383609074d41333034483406000013c00600"
    "000000060000000006000001d50600004cdf060000050c060000039b06000009340600000969"
    "060000095918eb7e"
)
LIST3 = bytes.fromhex(
    "7ea09a01020110aaa5e6e7000f40000000090c07e80a010213000aff800000021209074b464d"
    "5f30303109103639373036333134303732363239383609074d41333034483406000013c00600"
    "000000060000000006000001d50600004cdd060000050e060000039006000009340600000969"
    "0600000959090c07e80a010213000aff80000006028e4b5e060000000006009735de06000897"
    "2ffae57e"
)
AIDON_L3 = bytes.fromhex(
    "7ea18a41088313ebfde6e7000f40000000000112020209060101000281ff0a0b4149444f4e5f"
    "5630303031020209060000600100ff0a10373335393939323839303439373939370202090600"
    "00600107ff0a0436353334020309060100010700ff0600000fbb02020f00161b020309060100"
    "020700ff060000000002020f00161b020309060100030700ff060000000002020f00161d0203"
    "09060100040700ff06000001d802020f00161d0203090601001f0700ff10000502020fff1621"
    "020309060100330700ff10000302020fff1621020309060100470700ff1000a802020fff1621"
    "020309060100200700ff12091a02020fff1623020309060100340700ff12091e02020fff1623"
    "020309060100480700ff12090702020fff1623020209060000010000ff090c07e90c0e001000"
    "00ff000000020309060100010800ff0600a729d902020f01161e020309060100020800ff0600"
    "00000002020f01161e020309060100030800ff06000032f802020f0116200203090601000408"
    "00ff060017604402020f01162028087e"
)
KAMSTRUP_L2 = bytes.fromhex(
    "7ea12c2b2113fc04e6e7000f000000000c07e30a0e0112000aff80000002230a0e4b616d7374"
    "7275705f563030303109060101000005ff0a1035373036353637323734333839373032090601"
    "01600101ff0a1236383431313231424e32343331303130343009060101010700ff06000005bc"
    "09060101020700ff060000000009060101030700ff060000000009060101040700ff06000001"
    "f2090601011f0700ff060000016709060101330700ff06000000e209060101470700ff060000"
    "012e09060101200700ff1200e509060101340700ff1200e609060101480700ff1200e7090600"
    "01010000ff090c07e30a0e0112000aff80000009060101010800ff06002d36e6090601010208"
    "00ff060000000109060101030800ff060000bfbf09060101040800ff06000ffdcc56367e"
)
E360 = (
    "/LGF5E360\r\n\r\n0-0:1.0.0(221215155050W)\r\n1-0:1.8.0(00002721.126*kWh)\r\n"
    "1-0:2.8.0(00000000.000*kWh)\r\n1-0:3.8.0(00001384.336*kVArh)\r\n1-0:4.8.0(00000000.090*kVArh)\r\n"
    "1-0:1.7.0(0004.190*kW)\r\n1-0:2.7.0(0000.000*kW)\r\n1-0:3.7.0(0000.292*kVAr)\r\n"
    "1-0:4.7.0(0000.000*kVAr)\r\n1-0:21.7.0(0001.980*kW)\r\n1-0:22.7.0(0000.000*kW)\r\n"
    "1-0:41.7.0(0000.354*kW)\r\n1-0:42.7.0(0000.000*kW)\r\n1-0:61.7.0(0001.855*kW)\r\n"
    "1-0:62.7.0(0000.000*kW)\r\n1-0:23.7.0(0001.072*kVAr)\r\n1-0:24.7.0(0000.000*kVAr)\r\n"
    "1-0:43.7.0(0000.265*kVAr)\r\n1-0:44.7.0(0000.000*kVAr)\r\n1-0:63.7.0(0000.000*kVAr)\r\n"
    "1-0:64.7.0(0001.044*kVAr)\r\n1-0:32.7.0(230.7*V)\r\n1-0:52.7.0(230.1*V)\r\n1-0:72.7.0(231.0*V)\r\n"
    "1-0:31.7.0(009.7*A)\r\n1-0:51.7.0(001.9*A)\r\n1-0:71.7.0(009.2*A)\r\n!2154\r\n"
)

# (name, frame bytes, a field of the reading and its value: checks the decoder read the frame, and the
# peer's decoder with its key and value for that field)
FORMATS = (
    ("Kaifa List 1 (HDLC, 41 B)", LIST1, "p_import_w", 5057, "kaifa", "active_power_import", 5057),
    ("Kaifa List 2 (HDLC, 122 B)", LIST2, "u_l1_mv", 235600, "kaifa", "voltage_l1", 235.6),
    ("Kaifa List 3 (HDLC, 156 B)", LIST3, "e_import_wh", 42879838, "kaifa", "active_power_import_total",
     42879838),
    ("Aidon List 3 (HDLC, 396 B)", AIDON_L3, "e_import_wh", 109552250, "aidon", "active_power_import_total",
     109552250),
    ("Kamstrup List 2 (HDLC, 302 B)", KAMSTRUP_L2, "p_import_w", 1468, "kamstrup", "active_power_import", 1468),
    ("E360 P1 telegram (" + str(len(E360)) + " B)", E360.encode(), "p_import_w", 4190, "dsmr", None, None),
)


def _stats(name, samples, ratio_to=None):
    samples.sort()
    n = len(samples)
    mean = sum(samples) / n
    p50 = samples[n // 2]
    p99 = samples[min(n - 1, (n * 99) // 100)]
    ratio = f"   {p50 / ratio_to:5.1f}x the firmware" if ratio_to else ""
    print(f"{name:<40} mean {mean:8.1f} us   p50 {p50:6d} us   p99 {p99:6d} us   max {samples[-1]:6d} us"
          f"   (n={n}){ratio}")
    return p50


def _time(fn, n):
    out = []
    for _ in range(n):
        t0 = _now()
        fn()
        out.append(_diff(t0, _now()))
    return out


def firmware(n):
    """The firmware's median us per frame for each format it reads, by name."""
    means = {}
    for name, frame, field, value, _, _, _ in FORMATS:
        d = Decoder()
        r = d.feed(frame)
        assert len(r) == 1, r
        if not r[0]["ok"] and r[0]["error"].startswith("unknown format"):
            print(f"firmware {name:<31} not read by this firmware: {r[0]['error']}")
            continue
        assert r[0]["ok"] and r[0]["reading"][field] == value, r
        for _ in range(50):  # warm up
            d.feed(frame)
        means[name] = _stats("firmware " + name, _time(lambda d=d, f=frame: d.feed(f), n))
        assert d.counters["frames_ok"] == n + 51 and d.counters["checksum_errors"] == 0
    _stats("  List 2: crc16_x25 over 118 B", _time(lambda: crc16_x25(LIST2, 1, 119), n))
    info = LIST2[9:-3]
    _stats("  List 2: decode_llc(info field)", _time(lambda: decode_llc(info), n))
    d = Decoder()
    byte_chunks = [LIST2[i:i + 1] for i in range(len(LIST2))]

    def bytewise():
        for b in byte_chunks:
            d.feed(b)

    _stats("  List 2: feed byte by byte (122 calls)", _time(bytewise, max(1, n // 10)))
    telegram = FORMATS[-1][1]
    bang = telegram.index(b"!")
    _stats(f"  E360: crc16_arc over {bang + 1} B", _time(lambda: crc16_arc(telegram, 0, bang + 1), n))
    _stats("  E360: dsmr.decode (the values)", _time(lambda: dsmr.decode(telegram[:bang]), n))
    return means


def _hdlc(info):
    """An HDLC frame (address 01 02 01, control 10, as the Kaifa frames) around info."""
    head = bytes([0xA0 | ((len(info) + 10) >> 8), (len(info) + 10) & 0xFF, 1, 2, 1, 0x10])
    crc = crc16_x25(head)
    head += bytes([crc & 0xFF, crc >> 8]) + info
    crc = crc16_x25(head)
    return b"\x7e" + head + bytes([crc & 0xFF, crc >> 8]) + b"\x7e"


def encrypted(n):
    """Kaifa List 2 as general-glo-ciphering (SC 0x20, and 0x30 with its tag checked): us per frame, the
    whole feed of a frame (framing, GCM on the HAL's AES block, replay check, the list), beside the plain
    List 2. Each frame has a frame counter of its own (a repeated one would be a replay)."""
    key = bytes(range(16))
    ak = bytes(range(16, 32))
    title = b"KFM\x00\x00\x00\x00\x01"
    plain = LIST2[12:-3]  # the APDU, after flag, header, HCS and LLC
    g = Gcm(ecb(key))
    n = min(n, 500)
    for sc in (0x20, 0x30):
        frames = [None] * (n + 51)  # made at once: a list grown frame by frame fragments a small heap
        for ic in range(1, n + 52):
            iv = title + bytes([0, 0, ic >> 8, ic & 0xFF])
            data, tag = g.encrypt(iv, plain, bytes([sc]) + ak)
            body = bytes([sc]) + iv[8:] + bytes(data) + (tag if sc == 0x30 else b"")
            frames[ic - 1] = _hdlc(b"\xe6\xe7\x00\xdb\x08" + title + bytes([len(body)]) + body)
        d = Decoder(key=key, auth_key=ak if sc == 0x30 else None, aes=ecb)
        it = iter(frames)
        for _ in range(51):  # the first one builds the GHASH table; then a warm-up
            r = d.feed(next(it))
            assert r[0]["ok"] and r[0]["reading"]["u_l1_mv"] == 235600, r
        name = f"firmware Kaifa List 2 SC 0x{sc:02x} ({len(frames[0])} B)"
        _stats(name, _time(lambda d=d, it=it: d.feed(next(it)), n))
        assert d.counters["frames_ok"] == n + 51 and d.counters["decrypt_errors"] == 0


class _Hist:
    """Times in 10 us buckets up to 20 ms, the largest kept exactly: a few KB whatever the count, so the
    measuring adds next to nothing to what a collection has to scan."""

    def __init__(self):
        self.buckets = [0] * 2001
        self.n = 0
        self.total = 0
        self.max = 0

    def add(self, us):
        self.buckets[min(us // 10, 2000)] += 1
        self.n += 1
        self.total += us
        self.max = max(self.max, us)

    def show(self, name):
        def at(rank):
            seen = 0
            for i, c in enumerate(self.buckets):
                seen += c
                if seen > rank:
                    return i * 10
            return self.max

        n = max(1, self.n)
        print(f"{name:<40} mean {self.total / n:8.1f} us   p50 {at(n // 2):6d} us   p99 {at(n * 99 // 100):6d} us"
              f"   max {self.max:6d} us   (n={self.n})")


def day(frames, collect):
    """The reader's work for each frame of a day of Kaifa traffic (see the module docstring)."""
    import gc

    from dut_firmware import state as state_mod
    from dut_firmware.services.mqtt import publish_packet

    d = Decoder()
    st = state_mod.State("CET-1CEST,M3.5.0,M10.5.0/3")
    mp = hasattr(gc, "mem_free")
    times = _Hist()
    pauses = _Hist()
    garbage = 0
    for k in range(2):  # the reader after its first frames: modules loaded, state filled
        for r in d.feed(LIST3 if k else LIST2):
            st.update(r)
    gc.collect()
    if mp:  # collections where MicroPython's own would run (its heap nearly used up), each timed alone
        gc.disable()
        free = gc.mem_free()
        heap = free + gc.mem_alloc()
        live = heap - free
        margin = heap // 8
    for k in range(frames):
        frame = LIST3 if k % 1800 == 5 else (LIST2 if k % 5 == 0 else LIST1)
        t0 = _now()
        for r in d.feed(frame):
            st.update(r, 2000 * k, 2000 * k)
            publish_packet("han/meter", st.text())
        times.add(_diff(t0, _now()))
        if mp and (collect or gc.mem_free() < margin):
            garbage += free - gc.mem_free()
            t0 = _now()
            gc.collect()
            pauses.add(_diff(t0, _now()))
            free = gc.mem_free()
    assert d.counters["frames_ok"] == frames + 2
    gc.enable()
    after_each = ", gc.collect() after each" if collect else ""
    print(f"day: {frames} frames of Kaifa (List 1, 2, 3): feed + state + message + MQTT packet{after_each}")
    times.show("frames (without collections)" if mp else "frames")
    if mp:
        print(f"heap {heap} bytes, live {live} at the start and {heap - free} at the end of the day, "
              f"{garbage // frames} bytes of garbage a frame")
        pauses.show("collections")


def peers(n, means):
    """amshan and dsmr-parser decoding the same frames (CPython only)."""
    from copy import deepcopy
    from decimal import Decimal

    from dsmr_parser import obis_references, telegram_specifications
    from dsmr_parser.parsers import CosemParser, TelegramParser, ValueParser
    from han import aidon, kaifa, kamstrup
    from han.hdlc import HdlcFrameReader

    reader = HdlcFrameReader(use_octet_stuffing=False)
    modules = {"kaifa": kaifa, "aidon": aidon, "kamstrup": kamstrup}

    def amshan(frame, module):
        (decoded,) = reader.read(frame)
        assert decoded.is_good_ffc
        return module.decode_frame_content(decoded.payload)

    # the Swedish data set (what the E360 sends) plus the total reactive powers, as tests/emulators does
    spec = deepcopy(telegram_specifications.SWEDEN)
    for key in ("CURRENT_REACTIVE_IMPORTED", "CURRENT_REACTIVE_EXPORTED"):
        spec["objects"].append({"obis_reference": getattr(obis_references, key),
                                "value_parser": CosemParser(ValueParser(Decimal)), "value_name": key})
    parser = TelegramParser(spec)
    print()
    for name, frame, _, _, kind, key, value in FORMATS:
        if name not in means:
            continue
        if kind in modules:
            assert amshan(frame, modules[kind])[key] == value
            fn, peer = (lambda f=frame, m=modules[kind]: amshan(f, m)), "amshan"
        else:
            text = frame.decode()
            assert parser.parse(text, throw_ex=True).CURRENT_ELECTRICITY_USAGE.value == Decimal("4.190")
            fn, peer = (lambda t=text: parser.parse(t, throw_ex=True)), "dsmr-parser"
        for _ in range(20):  # warm up
            fn()
        _stats(f"{peer} {name}", _time(fn, n), ratio_to=means[name])


def main():
    args = sys.argv[1:]
    if "-h" in args or "--help" in args:
        print(__doc__)
        return
    if "--day" in args:
        rest = [a for a in args if a[:2] != "--"]
        day(int(rest[0]) if rest else 43200, "--collect" in args)
        return
    n = int(args[0]) if args else 2000
    impl = sys.implementation.name
    version = ".".join(str(x) for x in sys.implementation.version[:3])
    print(f"interpreter: {impl} {version}")
    means = firmware(n)
    encrypted(n)
    if CPYTHON:
        peers(n, means)


main()
