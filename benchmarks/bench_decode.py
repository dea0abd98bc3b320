"""Benchmark of the firmware's HAN decoder: microseconds per Kaifa List 2 frame (122 bytes).

Usage (from the repository root; runs under both interpreters):
    .venv/bin/python      benchmarks/bench_decode.py [N]
    .venv/bin/micropython benchmarks/bench_decode.py [N]
N (default 2000) is the number of frames. Each frame is one `Decoder.feed(frame)` call on the same
decoder (the 2024-10-01 List 2 frame of han-protocols.md s.1.5); the figures are the mean, p50 and p99
of the per-call times. Also shown: the CRC and the APDU decoding alone, and a byte-by-byte feed
(as a UART interrupt would deliver the frame).
"""

import sys
import time

try:
    _file = __file__
except NameError:  # pragma: no cover
    _file = "benchmarks/bench_decode.py"
_here = _file.rsplit("/", 1)[0] if "/" in _file else "."
sys.path.insert(0, _here + "/../dut_firmware")  # `han` as a top-level package, as on the device

from han.crc import crc16_x25  # noqa: E402
from han.decoder import Decoder, decode_llc  # noqa: E402

if hasattr(time, "ticks_us"):
    _now = time.ticks_us

    def _diff(a, b):
        return time.ticks_diff(b, a)
else:
    def _now():
        return time.perf_counter_ns() // 1000

    def _diff(a, b):
        return b - a

# A copy of LIST2_HEX of tests/spec_frames.py: the Kaifa MA304H4 List 2 of 2024-10-01 19:00:00 annotated
# in specs/han-protocols.md 1.5. Kept here because this script also runs under MicroPython, which
# cannot import the test data.
LIST2 = bytes.fromhex(
    "7ea07801020110c498e6e7000f40000000090c07e80a0102130000ff800000020d09074b464d"
    "5f30303109103639373036333134303732363239383609074d41333034483406000013c00600"
    "000000060000000006000001d50600004cdf060000050c060000039b06000009340600000969"
    "060000095918eb7e"
)


def _stats(name, samples):
    samples.sort()
    n = len(samples)
    mean = sum(samples) / n
    p50 = samples[n // 2]
    p99 = samples[min(n - 1, (n * 99) // 100)]
    print(f"{name:<34} mean {mean:8.1f} us   p50 {p50:6d} us   p99 {p99:6d} us   (n={n})")


def _time(fn, n):
    out = []
    for _ in range(n):
        t0 = _now()
        fn()
        out.append(_diff(t0, _now()))
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    impl = sys.implementation.name
    version = ".".join(str(x) for x in sys.implementation.version[:3])
    print(f"interpreter: {impl} {version}")
    d = Decoder()
    r = d.feed(LIST2)
    assert len(r) == 1 and r[0]["ok"] and r[0]["reading"]["u_l1_v"] == 235.6, r
    for _ in range(50):  # warm up
        d.feed(LIST2)
    _stats("feed(List 2 frame, 122 B)", _time(lambda: d.feed(LIST2), n))
    assert d.counters["frames_ok"] == n + 51 and d.counters["checksum_errors"] == 0
    _stats("  crc16_x25 over 118 B", _time(lambda: crc16_x25(LIST2, 1, 119), n))
    info = LIST2[9:-3]
    _stats("  decode_llc(info field)", _time(lambda: decode_llc(info), n))
    byte_chunks = [LIST2[i:i + 1] for i in range(len(LIST2))]

    def bytewise():
        for b in byte_chunks:
            d.feed(b)

    _stats("feed byte by byte (122 calls)", _time(bytewise, max(1, n // 10)))


main()
