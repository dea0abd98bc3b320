# Decode frames with dut_firmware's HAN decoder and print JSON lines; runs under MicroPython and CPython.
#
#     .venv/bin/micropython tests/firmware/han_mp_decode_frames.py . INPUT
#     .venv/bin/python      tests/firmware/han_mp_decode_frames.py . INPUT
#
# INPUT: one case per line (read line by line, so it also runs in a small heap: -X heapsize=72K):
#     more HEX             the first bytes of the next frame (any number of lines, so that no line is long)
#     frame HEX            one frame (HDLC, a P1 telegram, or any bytes) fed to the decoder, then flush()
#     llc HEX              an LLC PDU given to decode_llc
#     begin HEX            starts a stream, fed to the decoder in chunks of these sizes (one byte each, cycled)
#     data HEX             the next bytes of the stream (any number of lines)
#     end                  flush() and the counters
# Output, one JSON object per line (written as it is encoded, no text of a whole record in the heap):
#     {"case": "frame", "i": I, "results": [...], "counters": {...}}
#     {"case": "llc", "i": I, "reading": {...}} or {"case": "llc", "i": I, "error": "..."}
#     {"case": "stream", "s": S, "k": K, "result": {...}}               each result of stream S (0, 1, ...)
#     {"case": "stream", "s": S, "counters": {...}}                     then its counters
# As on a device, one Decoder (one buffer) is allocated once and serves every case: a case starts after
# the flush() that ended the previous one, which leaves the decoder as a fresh one, and its counters
# are what the case added. Each case runs after a gc.collect() with nothing of the previous one
# referenced. Used by test_han_micropython.py; not a test module itself.
# (a comment, not a docstring: MicroPython would hold a docstring in its small heap while compiling)


import sys

sys.path.insert(0, sys.argv[1])  # the folder holding the dut_firmware package

import binascii  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402

from dut_firmware.han.decoder import Decoder, decode_llc  # noqa: E402


def emit(record):
    # one JSON line, written as it is encoded: no text of the whole record in the heap
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")


def since(d, before):
    """The counters d added since the snapshot ``before``."""
    out = {}
    for k in d.counters:
        out[k] = d.counters[k] - before[k]
    return out


class Stream:
    def __init__(self, d, s, chunks):
        self.d = d
        self.before = dict(d.counters)
        self.s = s
        self.chunks = chunks
        self.c = 0
        self.k = 0

    def _emit(self, results):
        for r in results:
            emit({"case": "stream", "s": self.s, "k": self.k, "result": r})
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
        emit({"case": "stream", "s": self.s, "counters": since(self.d, self.before)})


def frame(d, i, data):
    before = dict(d.counters)
    results = d.feed(data)
    results += d.flush()
    emit({"case": "frame", "i": i, "results": results, "counters": since(d, before)})


def llc(i, data):
    try:
        emit({"case": "llc", "i": i, "reading": decode_llc(data)})
    except ValueError as e:
        emit({"case": "llc", "i": i, "error": str(e)})


def main():
    d = Decoder()
    counts = {"frame": 0, "llc": 0}
    stream = None
    streams = 0
    head = None
    with open(sys.argv[2]) as f:
        for line in f:
            parts = line.split()
            line = None
            if not parts:
                continue
            kind = parts[0]
            if kind == "begin":
                chunks = binascii.unhexlify(parts[1]) if len(parts) > 1 else b"\x01"  # no list of ints
                parts = None
                gc.collect()
                stream = Stream(d, streams, chunks)
                streams += 1
                continue
            if kind == "end":
                stream.end()
                stream = None
                gc.collect()
                continue
            data = binascii.unhexlify(parts[1])
            parts = None
            if kind == "more":
                head = data if head is None else head + data
                continue
            if head is not None:
                data = head + data
                head = None
            gc.collect()  # the case runs in a clean heap: nothing of the previous one is referenced
            if kind == "data":
                stream.data(data)
                continue
            i = counts[kind]
            counts[kind] = i + 1
            if kind == "frame":
                frame(d, i, data)
            else:
                llc(i, data)


main()
