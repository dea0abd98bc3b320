"""The meter-side decoder: a byte stream in, normalized readings out (architecture.md s.3).

    from han.decoder import Decoder       # CPython: from dut_firmware.han.decoder import Decoder
    d = Decoder(key=None, auth_key=None)
    results = d.feed(chunk)               # any chunking; one result per frame completed
    results += d.flush()                  # end of stream: a pending partial frame is 'truncated'
    d.counters                            # frames_ok, checksum_errors, framing_errors, truncated,
                                          # oversized, unknown_format, decrypt_errors

A result is {"ok": True, "format": "hdlc/kaifa-kfm001", "list": 2, "reading": {...}} or
{"ok": False, "format": "hdlc", "error": "fcs mismatch"}. Nothing is lost: every frame is either
decoded or counted once as an error, and a run of bytes that belongs to no frame is counted once as
a framing error ({"ok": False, "format": "unknown", "error": "framing: N bytes skipped"}).
Error texts start with the counter's word: "hcs mismatch" / "fcs mismatch" (checksum_errors),
"framing: ...", "truncated: ...", "oversized: ...", "unknown ..." (unknown_format: unknown list,
unknown apdu tag, unknown format: <reason>), "encrypted apdu ..." (decrypt_errors).
`last_error` holds the latest error text (None before the first). Decoder(max_frame=N) sets the
largest frame accepted, both flags included (default 2048).

Framing (see hdlc.py): a frame is found at a 0x7E whose header checksum is right; its length is not
trusted before that. After a bad header, a bad frame checksum or an oversized length, the search
resumes at the byte after the bad start, and the remains of that frame are not counted again. A
frame whose checksum fails because a new valid header starts inside it is reported as truncated.
The decoder keeps no clock: the caller may call flush() after a silence on the line.

The buffer is allocated once (max_frame bytes, flags included); feed() never copies per byte.
Dispatch is by the byte at a frame start: 0x7E is HDLC. Other formats (M-Bus 0x68, P1 '/') will
get their own start byte and framer here.
"""

from . import dlms, hdlc, kaifa
from .dlms import DecryptError

COUNTERS = (
    "frames_ok",
    "checksum_errors",
    "framing_errors",
    "truncated",
    "oversized",
    "unknown_format",
    "decrypt_errors",
)

DEFAULT_MAX_FRAME = 2048

_FLAG = b"\x7e"
_STRUCTURE = 0x02


def _decode_apdu(apdu):
    """(kind, list_no, reading) of an APDU. Raises ValueError (dlms.UnknownFormat, DecryptError)."""
    _, when, body_tag, body = dlms.parse_notification(apdu)
    if body_tag != _STRUCTURE:
        raise dlms.UnknownFormat("unknown list: body type tag 0x%02x" % body_tag)
    return kaifa.decode(body, when)


def decode_apdu(payload):
    """The normalized reading of one plaintext APDU (DATA-NOTIFICATION). Raises ValueError."""
    return _decode_apdu(payload)[2]


def decode_llc(payload):
    """The normalized reading of an LLC PDU (E6 E7 00 + APDU), e.g. an HDLC information field."""
    return _decode_apdu(dlms.strip_llc(payload))[2]


class Decoder:
    def __init__(self, key=None, auth_key=None, max_frame=DEFAULT_MAX_FRAME):
        self.key = key
        self.auth_key = auth_key
        self.max_frame = max_frame
        self.counters = {}
        for name in COUNTERS:
            self.counters[name] = 0
        self.last_error = None
        self._buf = bytearray(max(max_frame, 64))
        self._reset()

    def _reset(self):
        self._pos = 0  # first byte not yet consumed
        self._end = 0  # end of the bytes held
        self._need = 0  # bytes needed from _pos before the candidate there can be judged
        self._garbage = 0  # non-flag bytes skipped in the current run
        self._quiet = False  # skipping the remains of a frame already reported

    # -- public -------------------------------------------------------------------------------
    def feed(self, data):
        out = []
        n = len(data)
        if not n:
            return out
        buf = self._buf
        cap = len(buf)
        end = self._end
        if n <= cap - end:  # the usual case: the chunk fits, no slicing
            buf[end:end + n] = data
            self._end = end + n
            if not self._need or self._end - self._pos >= self._need:
                self._process(out)
            return out
        src = memoryview(data)
        i = 0
        while i < n:
            if self._end == cap:
                self._compact(out)
            end = self._end
            k = cap - end
            if k > n - i:
                k = n - i
            buf[end:end + k] = src[i:i + k]
            self._end = end + k
            i += k
            if self._need and self._end - self._pos < self._need:
                continue  # still waiting for the frame at _pos: nothing to judge yet
            self._process(out)
        return out

    def flush(self):
        """End of stream: report a pending partial frame as truncated and decode what follows it."""
        out = []
        while True:
            self._process(out)
            pos = self._pos
            end = self._end
            if pos >= end:
                break
            if end - pos == 1:  # a lone closing/idle flag
                break
            self._end_garbage(out)
            buf = self._buf
            if hdlc.header_ok(buf, pos, end):
                msg = "truncated: got %d of %d bytes" % (end - pos, hdlc.frame_length(buf, pos))
            else:
                msg = "truncated: incomplete header"
            self._error(out, "truncated", "hdlc", msg)
            self._pos = pos + 1
            self._need = 0
            self._quiet = True
        self._end_garbage(out)
        self._reset()
        return out

    # -- internals ----------------------------------------------------------------------------
    def _error(self, out, counter, fmt, msg):
        self.counters[counter] += 1
        self.last_error = msg
        out.append({"ok": False, "format": fmt, "error": msg})

    def _end_garbage(self, out):
        if self._garbage:
            self._error(out, "framing_errors", "unknown", "framing: %d bytes skipped" % self._garbage)
            self._garbage = 0

    def _compact(self, out):
        pos = self._pos
        end = self._end
        if pos == 0:
            # cannot happen (a frame never needs more than max_frame bytes): drop, never stall
            self._error(out, "truncated", "hdlc", "truncated: buffer full")
            self._reset()
            return
        k = end - pos
        if k:
            self._buf[0:k] = self._buf[pos:end]
        self._pos = 0
        self._end = k

    def _inner_start(self, buf, pos, frame_end):
        """A valid header starting inside the failed frame at pos, or -1."""
        # judged on the frame's own bytes only, so the answer does not depend on the chunking
        q = buf.find(_FLAG, pos + 1, frame_end)
        while q >= 0:
            if hdlc.header_ok(buf, q, frame_end):
                return q
            q = buf.find(_FLAG, q + 1, frame_end)
        return -1

    def _process(self, out):
        buf = self._buf
        pos = self._pos
        end = self._end
        max_frame = self.max_frame
        while pos < end:
            if buf[pos] != 0x7E:
                q = buf.find(_FLAG, pos, end)
                if q < 0:
                    q = end
                if not self._quiet:
                    self._garbage += q - pos
                pos = q
                continue
            r = hdlc.parse(buf, pos, end, max_frame)
            st = r[0]
            if st == hdlc.NEED:
                self._need = r[1]
                break
            self._need = 0
            if st == hdlc.NOT_FRAME:
                pos += 1  # a closing or idle flag, or a stray 0x7E
                continue
            self._end_garbage(out)
            if st == hdlc.OK:
                self._quiet = False
                self._frame(out, buf, r)
                pos = r[1]  # the closing flag stays: it may open the next frame
                continue
            self._quiet = True
            if st == hdlc.BAD_HCS:
                self._error(out, "checksum_errors", "hdlc", "hcs mismatch")
            elif st == hdlc.OVERSIZED:
                self._error(out, "oversized", "hdlc",
                            "oversized: frame of %d bytes, max %d" % (r[1], max_frame))
            else:  # BAD_FCS
                q = self._inner_start(buf, pos, r[1])
                if q >= 0:
                    self._error(out, "truncated", "hdlc",
                                "truncated: next frame after %d of %d bytes"
                                % (q - pos, hdlc.frame_length(buf, pos)))
                    pos = q
                    continue
                self._error(out, "checksum_errors", "hdlc", "fcs mismatch")
            pos += 1
        if pos >= end:
            pos = end = 0
            self._end = 0
        self._pos = pos

    def _frame(self, out, buf, r):
        if r[4]:
            self._error(out, "unknown_format", "hdlc",
                        "unknown format: segmented hdlc frame (not supported yet)")
            return
        info = bytes(memoryview(buf)[r[2]:r[3]])
        try:
            kind, list_no, reading = _decode_apdu(dlms.strip_llc(info))
        except DecryptError as e:
            self._error(out, "decrypt_errors", "hdlc", str(e))
            return
        except ValueError as e:
            msg = str(e)
            if not msg.startswith("unknown"):
                msg = "unknown format: " + msg
            self._error(out, "unknown_format", "hdlc", msg)
            return
        except Exception as e:  # never let one odd frame stop the reader
            self._error(out, "unknown_format", "hdlc",
                        "unknown format: decode failed: %s %s" % (type(e).__name__, e))
            return
        self.counters["frames_ok"] += 1
        out.append({"ok": True, "format": "hdlc/" + kind, "list": list_no, "reading": reading})
