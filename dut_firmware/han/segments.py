"""Messages in several frames put back together (see the comments)."""

# Messages sent in several frames, put back together: HDLC segmentation (the format field's S bit), M-Bus
# segments (CI: FIN bit and segment number) and DLMS general-block-transfer (han-protocols.md s.4).
#
#     a = Assembler(max_message)
#     msg = a.hdlc(info, more)    # the information fields so far + info when the last one came, else None
#     msg = a.mbus(ci, data)      # the data fields of segments 0..n when the FIN segment came, else None
#     apdu = a.gbt(apdu)          # the block data of blocks 1..n when the last block came, else None
#     a.lost                      # set when a call dropped an unfinished message: why (a "truncated" text)
#     a.flush()                   # the end of the stream: an unfinished message is lost
#
# general-block-transfer: E0 | block-control (bit 7 last block) | block-number(2) | block-number-ack(2) |
# block-data (an A-XDR octet-string without its tag). Each message gives the decoder one result: the
# frames before its last add to it; a missing frame or block loses the message, counted once as truncated.


from . import axdr
from .dlms import UnknownFormat

GENERAL_BLOCK_TRANSFER = 0xE0
LAST_BLOCK = 0x80
FIN = 0x10


class Assembler:
    def __init__(self, max_message):
        self.max_message = max_message
        self.lost = None
        self._hdlc = None  # bytearray of the information fields so far
        self._mbus = None
        self._mbus_next = 0
        self._gbt = None
        self._gbt_next = 0

    def _drop(self, why):
        self.lost = "truncated: " + why

    def _grow(self, held, data, what):
        if len(held) + len(data) > self.max_message:
            self._drop("%s message longer than %d bytes dropped" % (what, self.max_message))
            return None
        held.extend(data)
        return held

    def gbt_pending(self):
        return self._gbt is not None

    def hdlc(self, info, more):
        if self._hdlc is not None and len(info) >= 3 and info[0] == 0xE6 and info[1] == 0xE7:
            self._hdlc = None  # a new message (an LLC header) before the last segment of the held one
            self._drop("segmented hdlc message without its last segment")
        if not more:
            if self._hdlc is None:
                return info
            msg = self._grow(self._hdlc, info, "hdlc")
            self._hdlc = None
            return msg
        self._hdlc = self._grow(bytearray() if self._hdlc is None else self._hdlc, info, "hdlc")
        return None

    def mbus(self, ci, data):
        seg = ci & 0x0F
        if seg == 0:
            if self._mbus is not None:
                self._mbus = None
                self._drop("m-bus message without its last segment")
            if ci & FIN and len(data) <= self.max_message:
                return data  # a message in one frame: read where it lies, no copy
            self._mbus = bytearray()
        elif self._mbus is None or seg != self._mbus_next:
            self._mbus = None
            self._drop("m-bus segment %d without the segment before it" % seg)
            return None
        self._mbus_next = seg + 1
        self._mbus = self._grow(self._mbus, data, "m-bus")
        if self._mbus is None or not ci & FIN:
            return None
        msg = self._mbus
        self._mbus = None
        return msg

    def gbt(self, apdu):
        n = len(apdu)
        if n < 7:
            raise UnknownFormat("unknown format: general-block-transfer of %d bytes" % n)
        control = apdu[1]
        block = (apdu[2] << 8) | apdu[3]
        try:
            size, pos = axdr.decode_length(apdu, 6)
        except ValueError as e:
            raise UnknownFormat("unknown format: general-block-transfer: %s" % e) from None
        if pos + size != n:
            raise UnknownFormat("unknown format: general-block-transfer block of %d bytes, %d follow"
                                % (size, n - pos))
        if block == 1:
            if self._gbt is not None:
                self._drop("general-block-transfer without its last block")
            self._gbt = bytearray()
        elif self._gbt is None or block != self._gbt_next:
            self._gbt = None
            self._drop("general-block-transfer block %d without the block before it" % block)
            return None
        self._gbt_next = block + 1
        self._gbt = self._grow(self._gbt, memoryview(apdu)[pos:], "general-block-transfer")
        if self._gbt is None or not control & LAST_BLOCK:
            return None
        msg = self._gbt
        self._gbt = None
        return msg

    def flush(self):
        if self._hdlc is not None or self._mbus is not None or self._gbt is not None:
            self._drop("message cut off before its last segment")
        self._hdlc = self._mbus = self._gbt = None
