"""Decode frames with dut_firmware's HAN decoder and print JSON lines; runs under MicroPython and CPython.

    .venv/bin/micropython tests/firmware/han_mp_decode_frames.py dut_firmware INPUT
    .venv/bin/python      tests/firmware/han_mp_decode_frames.py dut_firmware INPUT

INPUT: one case per line (read line by line, so it also runs in a small heap: -X heapsize=64K):
    frame HEX            one HDLC frame (or any bytes) fed to a fresh Decoder, then flush()
    llc HEX              an LLC PDU given to decode_llc
    begin N N N ...      starts a stream: one Decoder, fed in chunks of these sizes (cycled)
    data HEX             the next bytes of the stream (any number of lines)
    end                  flush() and the counters
Output, one JSON object per line:
    {"case": "frame", "i": I, "results": [...], "counters": {...}}    one fresh Decoder per frame
    {"case": "llc", "i": I, "reading": {...}} or {"case": "llc", "i": I, "error": "..."}
    {"case": "stream", "k": K, "result": {...}}                       each result of the stream
    {"case": "stream", "counters": {...}}                             then its counters
Used by test_han_micropython.py; not a test module itself.
"""

import sys

sys.path.insert(0, sys.argv[1])  # the dut_firmware directory: `han` is a top-level package there

import binascii  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402

from han.decoder import Decoder, decode_llc  # noqa: E402


class Stream:
    def __init__(self, chunks):
        self.d = Decoder()
        self.chunks = chunks
        self.c = 0
        self.k = 0

    def _emit(self, results):
        for r in results:
            print(json.dumps({"case": "stream", "k": self.k, "result": r}))
            self.k += 1

    def data(self, data):
        mv = memoryview(data)
        pos = 0
        while pos < len(data):
            n = self.chunks[self.c % len(self.chunks)]
            self.c += 1
            self._emit(self.d.feed(mv[pos:pos + n]))
            pos += n

    def end(self):
        self._emit(self.d.flush())
        print(json.dumps({"case": "stream", "counters": self.d.counters}))


def main():
    counts = {"frame": 0, "llc": 0}
    stream = None
    with open(sys.argv[2]) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            kind = parts[0]
            gc.collect()
            if kind == "begin":
                stream = Stream([int(x) for x in parts[1:]] or [1])
                continue
            if kind == "end":
                stream.end()
                stream = None
                continue
            data = binascii.unhexlify(parts[1])
            if kind == "data":
                stream.data(data)
                continue
            i = counts[kind]
            counts[kind] = i + 1
            if kind == "frame":
                d = Decoder()
                results = d.feed(data)
                results += d.flush()
                print(json.dumps({"case": "frame", "i": i, "results": results, "counters": d.counters}))
            else:
                try:
                    print(json.dumps({"case": "llc", "i": i, "reading": decode_llc(data)}))
                except ValueError as e:
                    print(json.dumps({"case": "llc", "i": i, "error": str(e)}))


main()
