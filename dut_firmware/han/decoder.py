"""The meter-side decoder: a byte stream in, normalized readings out (contract: architecture.md s.3).

    d = Decoder(key=None, auth_key=None, max_frame=2048, aes=None)  # max_frame: flags / CRC line included
    d.set_keys(key, auth_key)   # at run time: from the next frame on
    results = d.feed(chunk)     # any chunking; one result per frame completed
    results += d.flush()        # end of stream (or a silence): a pending partial frame is 'truncated'
    d.counters, d.last_error

A result is {"ok": True, "code": "ok", "format": "hdlc/kaifa-kfm001", "list": 2, "reading": {...}} or
{"ok": False, "code": "checksum", "format": "hdlc", "error": "fcs mismatch"}: "code" is its outcome
(outcome.py, with the counter it counted in), "error" the text for logs; "reading" holds exact integers
in the base units of reading.py. An ok result has "dst" (True: summer time) when
its timestamp comes with the meter's DST flag: the S/W of a P1 clock line, or the DST bit of a COSEM
clock status once the meter has been seen setting it. Every frame is decoded or counted once, a
run of bytes of no frame once as framing_errors; an error text starts with its counter's word
(hcs / fcs / crc mismatch: checksum_errors; encrypted apdu: decrypt_errors).
Dispatch by the byte at a frame start: 0x7E is HDLC (hdlc.py: a length is trusted only after its
HCS; after a bad FCS between two flags the search resumes at the closing flag, after any other bad
frame after its start, its remains not counted again), '/' is P1 (p1.py, dsmr.py: "p1/dsmr", list
None), 0x68 a wired M-Bus long frame (mbus.py: "mbus/..."), 0xDB a general-glo-ciphering APDU sent
raw on P1 (the Luxembourg way: "p1/..."). Inside HDLC the list's content picks the decoder: an array of
OBIS structures is Aidon ("hdlc/aidon"), a structure opening with a visible-string is Kamstrup
("hdlc/kamstrup"), the lists of obislist.py ("obis-list", "lgz-e450-values"), any other structure Kaifa.

Encrypted APDUs (general-glo-ciphering, cipher.py) are decrypted with ``key`` (and the tag checked with
``auth_key`` when given) through ``aes`` (key -> AES-ECB block object: the HAL's; None: MicroPython's
cryptolib); no key, a wrong key or a failed tag count in decrypt_errors ("decrypt: ..."), a frame
counter of a system title that does not increase in replays ("replay: ..."); neither is published.
A message in several frames (HDLC segments, M-Bus segments, general-block-transfer blocks:
segments.py) gives one result, when its last frame arrives; one that lost a frame counts once as
truncated.

A raw APDU (0xDB: no framing but its length) cut short by one of the same system title starting in its
bytes is truncated, the search going on there. One whose content nothing checks (no tag, or no auth_key)
is decoded only at a frame boundary (stream start, flush, end of the frame before with no byte skipped,
or where the length of the raw APDU before says it ends)
while no frame with a checksum of its own (HDLC, M-Bus, P1 with CRC) has checked out since the Decoder
was made or set_keys; else its 0xDB is a stray byte (framing). Small heaps: frames are read in place
(memoryview slices of the one buffer), and so are a Kaifa values-only list, an Aidon list and a P1
telegram (no value tree, no line list; the meter's texts made once, when they change); other lists
allocate their A-XDR values, GCM its plaintext only.
"""

# the large modules first: compiled into a heap not yet fragmented by the others (MicroPython)
from . import p1, dlms, hdlc, kaifa, aidon, kamstrup, cosem_time, axdr  # noqa: I001
from . import outcome
from .dlms import DecryptError, ReplayError

# loaded on first use (small heaps: a reader of plain HDLC or P1 never needs them): P1 values (dsmr), M-Bus
# and raw APDU framing (wired, mbus), messages in several frames (segments), decryption (cipher, gcm), other
# lists
_GBT = 0xE0
_GGC = 0xDB

COUNTERS = outcome.DECODER_COUNTERS

DEFAULT_MAX_FRAME = 2048
MAX_MESSAGE = 4096  # a message put together from several frames

_FLAG = b"\x7e"
_SLASH = b"/"
_STARTS = (b"/", b"\x68", b"\xdb")  # what else may start a frame
_ARRAY = 0x01
_STRUCTURE = 0x02


def _decode_apdu(apdu):
    """(kind, list_no, reading, dst) of an APDU; dst: the DST bit of its header's date-time (the
    reading's timestamp when it has one), or None. Raises ValueError (dlms.UnknownFormat, DecryptError).
    A Kaifa values-only list and an Aidon list are read in place (kaifa.read_values, aidon.read_array);
    any other list from its value tree."""
    apdu = axdr._view(apdu)
    pos = dlms.body_at(apdu)
    when = dlms.when_at
    dst = None if when < 0 else cosem_time.dst(apdu, when)
    reading = kaifa.read_values(apdu, pos, when)
    if reading is not None:
        return _KAIFA, kaifa.LAYOUTS[apdu[pos + 1]][0], reading, dst
    r = aidon.read_array(apdu, pos) if when < 0 else None
    if r is None:
        r = decode_tree(apdu, pos, when)
    return r[0], r[1], r[2], dst


def decode_tree(apdu, pos, when):
    """(kind, list_no, reading) of the DATA-NOTIFICATION body at apdu[pos] (its header's date-time at
    apdu[when], -1: none), read through its A-XDR value tree: every list the in-place readers leave."""
    try:
        body = axdr.value(apdu, pos)
    except ValueError as e:
        raise dlms.UnknownFormat(str(e)) from None
    tag = apdu[pos]
    when = None if when < 0 else bytes(apdu[when:when + 12])
    if tag == _ARRAY and body:
        r = aidon.decode(body, when)
    elif tag != _STRUCTURE:
        raise dlms.UnknownFormat("unknown list: body type tag 0x%02x" % tag)
    elif body and isinstance(body[0], str):
        r = kamstrup.decode(body, when)
    else:
        try:
            r = kaifa.decode(body, when)
        except ValueError:
            from . import obislist
            if not body or not obislist.matches(body):
                raise
            r = obislist.decode(body, when)
    return r


_KAIFA = "kaifa-kfm001"


_dsmr = None  # dsmr.py, loaded with the first P1 telegram: a reader of HDLC or M-Bus meters never holds it


def _decode_p1(telegram, start=0, end=None):
    """The result tuple of the P1 telegram at telegram[start:end] (bytes or a bytearray: read in place)."""
    global _dsmr
    if _dsmr is None:
        from . import dsmr
        _dsmr = dsmr
    reading, dst = _dsmr.read(telegram, start, end)
    return "dsmr", None, reading, dst


def decode_apdu(payload):
    """The normalized reading of one plaintext APDU (DATA-NOTIFICATION). Raises ValueError."""
    return _decode_apdu(payload)[2]


def decode_llc(payload):
    """The normalized reading of an LLC PDU (E6 E7 00 + APDU), e.g. an HDLC information field."""
    return _decode_apdu(dlms.strip_llc(payload))[2]


class Decoder:
    def __init__(self, key=None, auth_key=None, max_frame=DEFAULT_MAX_FRAME, aes=None):
        self.key = key
        self.auth_key = auth_key
        self.max_frame = max_frame
        self._aes = aes
        self._cipher = None  # cipher.Ciphering, made with the first key (early: a heap not yet fragmented)
        self._asm = None  # segments.Assembler, once a message in several frames came
        self._wired = None  # the wired module, once an M-Bus frame or a raw APDU came
        self._skip = 0  # the next block of an encrypted general-block-transfer passed over (no key)
        self.counters = {}
        for name in COUNTERS:
            self.counters[name] = 0
        self.last_error = None
        self._buf = bytearray(max(max_frame, 64))
        self._mv = memoryview(self._buf)  # frames are read where they lie, through slices of this
        self._formats = {}  # framing -> {kind: "framing/kind"}: the result's "format", made once
        self._dst_bit = False  # the meter has set the DST bit of its clock status: it carries one
        self._p1_crc = False  # the meter has sent a P1 telegram with a CRC: every telegram must have one
        self._framed = False  # a frame with a checksum of its own checked out (raw APDU rule, wired.py)
        self._info_fn = self._info  # made once: no bound method per frame
        self._reset()
        if key:  # after the buffer: its one large block first
            self._ciphering()

    def set_keys(self, key, auth_key):
        """Keys for the frames from the next one on; the bytes held and every counter stay."""
        self.key = key
        self.auth_key = auth_key
        self._framed = False  # new keys, perhaps another meter: its line's framing is learnt again
        if self._cipher is not None:
            self._cipher.set_keys(key, auth_key)
        elif key:
            self._ciphering()

    def _ciphering(self):
        if self._cipher is None:
            from .cipher import Ciphering
            self._cipher = Ciphering(self.key, self.auth_key, self._aes)
        return self._cipher

    def _reset(self):
        self._pos = 0  # first byte not yet consumed
        self._end = 0  # end of the bytes held
        self._need = 0  # bytes needed from _pos before the candidate there can be judged
        self._garbage = 0  # non-flag bytes skipped in the current run
        self._quiet = False  # skipping the remains of a frame already reported
        self._scan = 0  # P1 telegram at _pos: 0 before its ident line checked out, else where to look on
        self._tail = 0  # 2: a P1 CRC just ended, its CR LF may follow; 1: its LF may follow
        self._raw_end = -1  # where the length of the last raw APDU judged says it ends (wired.py)

    # -- public -------------------------------------------------------------------------------
    def feed(self, data):
        out = []
        n = len(data)
        if not n:
            return out
        buf = self._buf
        cap = len(buf)
        if n > cap - self._end and self._pos and n <= cap - self._end + self._pos:
            self._compact(out)  # the bytes held (a closing flag) move to the front: the chunk fits after them
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
            self._process(out, True)  # the end of the stream: nothing more to wait for
            pos = self._pos
            end = self._end
            if pos >= end:
                break
            buf = self._buf
            if buf[pos] == 0x2F:  # a P1 candidate still waiting for bytes
                p1.cut(self, out, pos, end)
                continue
            if buf[pos] != 0x7E:  # an M-Bus frame or a raw APDU still waiting for bytes
                self._other().cut(self, out, buf, pos, end)
                continue
            if end - pos == 1:  # a lone closing/idle flag
                break
            self._end_garbage(out)
            if hdlc.header_ok(buf, pos, end):
                msg = "truncated: got %d of %d bytes" % (end - pos, hdlc.frame_length(buf, pos))
            else:
                msg = "truncated: incomplete header"
            self._error(out, outcome.TRUNCATED, "hdlc", msg)
            self._pos = pos + 1
            self._need = 0
            self._quiet = True
        self._end_garbage(out)
        if self._asm is not None:
            self._asm.flush()
            self._lost(out, "hdlc")
        self._reset()
        return out

    # -- internals ----------------------------------------------------------------------------
    def _error(self, out, code, fmt, msg):
        """Count and report an outcome other than ok: ``code`` from outcome.py, ``msg`` the human text."""
        self.counters[outcome.COUNTER[code]] += 1
        self.last_error = msg
        out.append({"ok": False, "code": code, "format": fmt, "error": msg})

    def _end_garbage(self, out):
        if self._garbage:
            self._error(out, outcome.FRAMING, "unknown", "framing: %d bytes skipped" % self._garbage)
            self._garbage = 0

    def _compact(self, out):
        pos = self._pos
        end = self._end
        if pos == 0:
            # cannot happen (a frame never needs more than max_frame bytes): drop, never stall
            self._error(out, outcome.TRUNCATED, "hdlc", "truncated: buffer full")
            self._reset()
            return
        k = end - pos
        buf = self._buf
        for j in range(k):  # byte by byte: a slice would allocate (k is mostly 1, a shared closing flag)
            buf[j] = buf[pos + j]
        self._pos = 0
        self._end = k
        self._raw_end = self._raw_end - pos if self._raw_end >= pos else -1

    def _inner_start(self, buf, pos, frame_end):
        """A valid header starting inside the failed frame at pos, or -1."""
        # judged on the frame's own bytes only, so the answer does not depend on the chunking
        q = buf.find(_FLAG, pos + 1, frame_end)
        while q >= 0:
            if hdlc.header_ok(buf, q, frame_end):
                return q
            q = buf.find(_FLAG, q + 1, frame_end)
        return -1

    def _after_bad_fcs(self, out, buf, pos, frame_end, end, final):
        """Count a frame at pos with a wrong FCS: where to go on, or -1 to wait for its closing flag.

        A frame starting inside it (a header with a right HCS within its bytes) means it was cut short:
        truncated, go on there. Else one checksum error; with its closing flag where the length says,
        it was a whole frame: go on at that flag, as after a good frame (a flag + 0xA_ in its damaged
        bytes or its FCS is no frame start). Without that flag the length was wrong: rescan its bytes.
        """
        q = self._inner_start(buf, pos, frame_end)
        if q >= 0:
            self._error(out, outcome.TRUNCATED, "hdlc", "truncated: next frame after %d of %d bytes"
                        % (q - pos, hdlc.frame_length(buf, pos)))
            return q
        if frame_end >= end and not final:
            return -1
        self._error(out, outcome.CHECKSUM, "hdlc", "fcs mismatch")
        if frame_end >= end or buf[frame_end] == 0x7E:
            return frame_end
        return pos + 1

    def _process(self, out, final=False):
        buf = self._buf
        pos = self._pos
        end = self._end
        max_frame = self.max_frame
        while pos < end:
            b = buf[pos]
            if b == 0x2F or self._tail:
                q = p1.step(self, out, buf, pos, end)
                if q < 0:
                    break
                pos = q
                continue
            if b == 0x68 or b == 0xDB:
                q = self._other().step(self, out, buf, pos, end)
                if q < 0:
                    break
                pos = q
                continue
            if b != 0x7E:
                q = buf.find(_FLAG, pos, end)
                if q < 0:
                    q = end
                for s in _STARTS:
                    k = buf.find(s, pos, q)
                    if k >= 0:
                        q = k
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
                self._error(out, outcome.CHECKSUM, "hdlc", "hcs mismatch")
            elif st == hdlc.OVERSIZED:
                self._error(out, outcome.OVERSIZED, "hdlc",
                            "oversized: frame of %d bytes, max %d" % (r[1], max_frame))
            else:  # BAD_FCS
                q = self._after_bad_fcs(out, buf, pos, r[1], end, final)
                if q < 0:
                    self._need = r[1] - pos + 1
                    break
                pos = q
                continue
            pos += 1
        if pos >= end:
            self._raw_end = 0 if self._raw_end == end else -1
            pos = end = 0
            self._end = 0
        self._pos = pos

    def _telegram(self, out, buf, pos, bang):
        self._decode(out, "p1", _decode_p1, buf, pos, bang)  # read where it lies

    def _frame(self, out, buf, r):
        # an unsegmented frame is decoded in place: the values are copied out, and the buffer is not
        # touched before the return
        self._framed = True
        msg = self._mv[r[2]:r[3]]
        if r[4] or self._asm is not None:
            msg = self.assembler().hdlc(msg, r[4])
            self._lost(out, "hdlc")
        if msg is not None:
            self._decode(out, "hdlc", self._info_fn, msg)

    def _other(self):
        if self._wired is None:
            from . import wired
            self._wired = wired
        return self._wired

    def assembler(self):
        if self._asm is None:
            from .segments import Assembler
            self._asm = Assembler(MAX_MESSAGE)
        return self._asm

    def _info(self, info):
        if len(info) > 3 and info[0] == _GBT:
            skip = self._skip
            if skip and (info[2] << 8 | info[3]) == skip:
                self._skip = 0 if info[1] & 0x80 else skip + 1
                return None  # a block of an encrypted message already counted (no key)
            if self._asm is not None and self._asm.gbt_pending():
                return self._apdu(info)  # the blocks after the first come without an LLC header
        return self._apdu(dlms.strip_llc(info))

    def _apdu(self, apdu):
        """The result tuple of an APDU, None when it is a block of a message not complete yet."""
        if len(apdu) > 10 and apdu[0] == _GBT and not self.key and not apdu[1] & 0x80 and apdu[3] == 1:
            # the first block of an encrypted message while there is no key: counted once, here; its
            # next blocks are passed over without the assembler (small heaps)
            k = apdu[6]
            if apdu[2] == 0 and apdu[7 if k < 0x80 else 7 + (k & 3)] == _GGC:
                self._skip = 2
                raise DecryptError("decrypt: no key")
        if len(apdu) and apdu[0] == _GBT:
            apdu = self.assembler().gbt(apdu)
            if apdu is None:
                return None
        if len(apdu) and apdu[0] == _GGC:
            if not self.key:
                raise DecryptError("decrypt: no key")
            from .cipher import open_apdu
            return open_apdu(self._ciphering(), apdu)
        return _decode_apdu(apdu)

    def _format(self, fmt, kind):
        """The result's "format" of a frame of this framing and kind, made once (no text per frame)."""
        kinds = self._formats.get(fmt)
        if kinds is None:
            kinds = self._formats[fmt] = {}
        text = kinds.get(kind)
        if text is None:
            text = kinds[kind] = fmt + "/" + kind
        return text

    def _lost(self, out, fmt):
        if self._asm is not None and self._asm.lost:
            self._error(out, outcome.TRUNCATED, fmt, self._asm.lost)
            self._asm.lost = None

    def _decode(self, out, fmt, decode, data, start=0, end=-1):
        """Decode data (data[start:end] with end >= 0) with decode and report its result or error."""
        try:
            r = decode(data) if end < 0 else decode(data, start, end)
        except DecryptError as e:
            r = (outcome.DECRYPT, str(e))
        except ReplayError as e:
            r = (outcome.REPLAY, str(e))
        except ValueError as e:
            msg = str(e)
            if not msg.startswith("unknown"):
                msg = "unknown format: " + msg
            r = (outcome.UNKNOWN_FORMAT, msg)
        except Exception as e:  # never let one odd frame stop the reader
            r = (outcome.UNKNOWN_FORMAT, "unknown format: decode failed: %s %s" % (type(e).__name__, e))
        self._lost(out, fmt)  # a message this frame's message replaced comes first
        if r is None:
            return
        if len(r) == 2:
            self._error(out, r[0], fmt, r[1])
            return
        kind, list_no, reading, dst = r
        self.counters["frames_ok"] += 1
        result = {"ok": True, "code": outcome.OK, "format": self._format(fmt, kind), "list": list_no,
                  "reading": reading}
        if fmt != "p1" and dst is not None:
            if dst:
                self._dst_bit = True
            elif not self._dst_bit:
                dst = None  # a meter that never set the bit (Kaifa) does not carry it: a clear bit says nothing
        if dst is not None:
            result["dst"] = dst
        out.append(result)
