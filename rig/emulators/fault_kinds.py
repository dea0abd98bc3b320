"""The injectors of the fault catalogue (``rig.emulators.faults.FAULTS``), one function per fault.

An injector takes the stream, its Fault and a Context (rng, meter, line) and returns a new stream.
Rules that keep every count certain:

- Frame faults shape only whole, intact frames (a right HCS and FCS, counted ``frames_ok``); their
  EVERY counts those frames, from 1.
- A reader rescans the remains of a bad frame from the byte after its start; a flag followed by a
  byte 0xA0-0xAF there reads as another header. A frame whose damaged bytes would hold such a pair
  is passed over and the next intact frame takes its turn (random choices never create one).
- A "group" is the writes of one unit on the line: the parts of a split frame (counts ``{}``, no
  reading) and the write that completes it. Meter-level faults drop or keep whole groups.
- "The middle of the stream" is the start of the frame group at index n // 2.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from rig.emulators import hdlc
from rig.emulators.crc import crc16_x25_wire
from rig.emulators.faults import IDLE_GAP_S, READER_MAX_FRAME, Emission, Fault
from rig.emulators.meter import Meter
from rig.line import LineSettings

FLAG = 0x7E
FLAG_BYTE = bytes([FLAG])
OK = {"frames_ok": 1}
SPLIT_GAP_S = (0.010, 0.400)  # kept under the reader's 500 ms idle gap, so a split frame is never cut
SETTLE_S = 2 * IDLE_GAP_S  # an idle line that surely ended what the reader held, its polling included
OVERSIZED_PERIOD, OVERSIZED_FIRST = 10, 5  # after frames 5, 15, 25, ...
_NOT_FLAG = [b for b in range(256) if b != FLAG]
_NOT_HEADER_START = [b for b in _NOT_FLAG if b & 0xF0 != 0xA0]


@dataclass(frozen=True)
class Context:
    rng: random.Random
    meter: Meter | None
    line: LineSettings

    def air(self, data: bytes) -> float:
        """Seconds ``data`` occupies the line."""
        return len(data) * self.line.char_time_s


Injector = Callable[[list[Emission], Fault, Context], list[Emission]]


# -- stream helpers ------------------------------------------------------------------------------------
def _value(fault: Fault) -> float:
    if fault.param is None:
        raise ValueError(f"fault {fault.name!r} needs a parameter")
    return fault.param


def _count(fault: Fault) -> int:
    return int(_value(fault))


def _label(e: Emission, spec: str) -> str:
    return spec if e.fault is None else f"{e.fault}+{spec}"


def _intact(e: Emission) -> bool:
    return dict(e.counts) == OK and e.list is not None and hdlc.is_whole_frame(e.data)


def rescan_safe(data: bytes) -> bool:
    """No flag followed by a header's first byte (0xA0-0xAF) after the opening flag of ``data``."""
    return not any(data[i] == FLAG and data[i + 1] & 0xF0 == 0xA0 for i in range(1, len(data) - 1))


def _groups(es: list[Emission]) -> list[list[Emission]]:
    groups: list[list[Emission]] = []
    run: list[Emission] = []
    for e in es:
        run.append(e)
        if dict(e.counts) or e.reading is not None or e.list is not None:
            groups.append(run)
            run = []
    return groups + ([run] if run else [])


def _frame_group(group: list[Emission]) -> bool:
    return group[-1].list is not None


def _middle_t(groups: list[list[Emission]]) -> float | None:
    starts = [g[0].t for g in groups if _frame_group(g)]
    return starts[len(starts) // 2] if starts else None


def _line_ends(es: list[Emission], ctx: Context) -> list[float]:
    """When each write leaves the line, the writes going out one after the other."""
    ends, free = [], 0.0
    for e in es:
        free = max(e.t, free) + ctx.air(e.data)
        ends.append(free)
    return ends


def _every_nth(es: list[Emission], n: int, shape: Callable[[Emission], list[Emission] | None]) -> list[Emission]:
    """``shape`` every Nth intact frame; when it cannot (None), the next intact frame takes the turn."""
    out: list[Emission] = []
    seen, due = 0, False
    for e in es:
        if _intact(e):
            seen += 1
            due = due or seen % n == 0
            if due and (shaped := shape(e)) is not None:
                out.extend(shaped)
                due = False
                continue
        out.append(e)
    return out


def _cut_offset(data: bytes, rng: random.Random) -> int | None:
    """Where to cut a frame for a certain "truncated": after its header (so the reader knows its length)
    and at or before its first inner flag (the remains hold no flag), with room left for the next
    frame's header within the announced length (so a reader sees that frame start inside this one)."""
    head = hdlc.header_end(data)
    hi = min(data.find(FLAG_BYTE, 1), len(data) - 1 - head)
    return rng.randint(head, hi) if hi >= head else None


# -- byte-level faults -------------------------------------------------------------------------------------
def split(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """Every write that starts with a flag (a frame, cut or not) in PARTS parts at distinct random
    offsets, 10-400 ms of line silence between parts (under the reader's idle gap). The next write keeps
    its time; the gaps shrink when they would overrun it, or eat into an idle gap of the reader's before
    it (which ends what the reader held). The last part carries the frame."""
    parts, out = _count(fault), []
    ends = _line_ends(es, ctx)
    for i, e in enumerate(es):
        if e.data[:1] != FLAG_BYTE or len(e.data) < parts:
            out.append(e)
            continue
        cuts = sorted(ctx.rng.sample(range(1, len(e.data)), parts - 1))
        pieces = [e.data[a:b] for a, b in zip([0, *cuts], [*cuts, len(e.data)], strict=True)]
        gaps = [ctx.rng.uniform(*SPLIT_GAP_S) for _ in cuts]
        if i + 1 < len(es):
            idle = es[i + 1].t - ends[i]
            room = max(idle - SETTLE_S if idle >= IDLE_GAP_S else idle, 0.0)
            if (total := sum(gaps)) > room:
                gaps = [g * room / total for g in gaps]
        t, label = e.t, _label(e, fault.spec)
        for piece, gap in zip(pieces[:-1], gaps, strict=True):
            out.append(Emission(t=t, data=piece, fault=label))
            t += ctx.air(piece) + gap
        out.append(replace(e, t=t, data=pieces[-1], fault=label))
    return out


def garbage(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """BYTES random bytes before every group that starts with a flag, but the first, where the line
    idles before that group (so never between back-to-back writes), ending right before it. The bytes
    hold no 0x7E and do not start with 0xA0-0xAF (after a closing flag they cannot read as a header):
    one framing error each.

    After an intact frame the reader holds nothing: the bytes may follow it at once. After anything
    else they come after an idle line of twice the reader's idle gap, which ends whatever the reader
    held; the count assumes that gap (fed with none after a bad frame, a reader takes them for the
    remains of that frame). Bytes that do not fit before the frame take the line: the frames due while
    they are on it are not sent (and the next frame gets no bytes of its own), so no write goes out
    late."""
    n, out, free, busy = _count(fault), [], 0.0, None
    for k, group in enumerate(_groups(es)):
        if busy is not None and group[0].t < busy:
            continue
        junk = bytes([ctx.rng.choice(_NOT_HEADER_START)] + ctx.rng.choices(_NOT_FLAG, k=n - 1))
        if k and busy is None and group[0].data[:1] == FLAG_BYTE and group[0].t - free >= IDLE_GAP_S:
            settle = 0.0 if _intact(out[-1]) else SETTLE_S
            t = max(free + settle, group[0].t - ctx.air(junk))
            out.append(Emission(t=t, data=junk, counts={"framing_errors": 1}, fault=fault.spec))
            free = t + ctx.air(junk)
            if free > group[0].t:
                busy = free
                continue
        busy = None
        for e in group:
            out.append(e)
            free = max(e.t, free) + ctx.air(e.data)
    return out


def mid_frame(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """The first group (a frame) is replaced by a tail of it, as seen by a reader that starts listening
    mid-frame: the cut is after the frame's last inner flag, so the tail is bytes of no frame (one
    framing error) and at most the closing flag. Written when those bytes would have been."""
    groups = _groups(es)
    if not groups:
        return es
    data = b"".join(e.data for e in groups[0])
    if data[:1] != FLAG_BYTE:
        raise ValueError("mid_frame needs a stream that starts with a frame")
    lo = max(i for i in range(len(data) - 1) if data[i] == FLAG) + 1
    hi = len(data) - 2 if data[-1] == FLAG else len(data) - 1
    k = ctx.rng.randint(lo, hi) if lo <= hi else lo
    tail = data[k:]
    counts = {"framing_errors": 1} if tail.strip(FLAG_BYTE) else {}
    head = Emission(t=groups[0][0].t + ctx.air(data[:k]), data=tail, counts=counts, fault=fault.spec)
    return [head] + [e for g in groups[1:] for e in g]


def truncate(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """Every Nth frame cut short (see ``_cut_offset``): one ``truncated``, found by the reader at the
    idle gap that follows, or at the next frame's header when it follows at once."""

    def shape(e: Emission) -> list[Emission] | None:
        k = _cut_offset(e.data, ctx.rng)
        if k is None:
            return None
        return [replace(e, data=e.data[:k], counts={"truncated": 1}, fault=_label(e, fault.spec))]

    return _every_nth(es, _count(fault), shape)


def bitflip(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """One bit flipped in the information field of every Nth frame: one checksum error (a CRC catches
    every single-bit error). The bit is never in a flag, never makes one, never follows one."""

    def shape(e: Emission) -> list[Emission] | None:
        d = e.data
        spots = [i for i in range(hdlc.header_end(d), len(d) - 3) if FLAG not in (d[i], d[i - 1])]
        if not spots or not rescan_safe(d):
            return None
        i = ctx.rng.choice(spots)
        bit = ctx.rng.choice([b for b in range(8) if d[i] ^ (1 << b) != FLAG])
        data = d[:i] + bytes([d[i] ^ (1 << bit)]) + d[i + 1:]
        return [replace(e, data=data, counts={"checksum_errors": 1}, fault=_label(e, fault.spec))]

    return _every_nth(es, _count(fault), shape)


def _spoiled(surgery: Callable[[bytes], bytes], doc: str) -> Injector:
    def inject(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
        def shape(e: Emission) -> list[Emission] | None:
            data = surgery(e.data)
            if not rescan_safe(data):
                return None
            return [replace(e, data=data, counts={"checksum_errors": 1}, fault=_label(e, fault.spec))]

        return _every_nth(es, _count(fault), shape)

    inject.__doc__ = doc
    return inject


bad_fcs = _spoiled(hdlc.spoil_fcs, "The FCS of every Nth frame wrong (no flag made): one checksum error.")
bad_hcs = _spoiled(hdlc.spoil_hcs, "The HCS of every Nth frame wrong (no flag made): one checksum error.")


def bad_length(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """The length field of every Nth frame changed, its HCS recomputed, so a reader trusts it. Drawn
    shorter or longer with even odds:

    - shorter (but with room for both checksums): the FCS read at the wrong place is checked not to
      match by chance: one checksum error;
    - longer by at least the header's size (so the next frame's header lies within the announced
      length) and at most the reader's limit: one ``truncated``, found at the idle gap that follows, or
      at the next frame's header when it follows at once.
    """

    def shape(e: Emission) -> list[Emission] | None:
        d, rng = e.data, ctx.rng
        head, length = hdlc.header_end(d), hdlc.length_field(d)
        longer = rng.random() < 0.5
        lo, hi = (length + head + 1, READER_MAX_FRAME - 2) if longer else (head + 1, length - 1)
        for _ in range(8 if lo <= hi else 0):
            new = rng.randint(lo, hi)
            data = hdlc.with_length(d, new)
            fcs_at = 1 + new - 2
            fcs_hit = not longer and crc16_x25_wire(data[1:fcs_at]) == data[fcs_at:fcs_at + 2]
            if rescan_safe(data) and not fcs_hit:
                counts = {"truncated": 1} if longer else {"checksum_errors": 1}
                return [replace(e, data=data, counts=counts, fault=_label(e, fault.spec))]
        return None

    return _every_nth(es, _count(fault), shape)


def duplicate(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """Every Nth frame sent twice back to back: both copies are good frames, decoded twice."""

    def shape(e: Emission) -> list[Emission]:
        first = replace(e, fault=_label(e, fault.spec))
        return [first, replace(first, t=e.t + ctx.air(e.data))]

    return _every_nth(es, _count(fault), shape)


def _junk_frame(size: int, rng: random.Random) -> bytes:
    """A valid frame of ``size`` bytes (flags included) whose content is no known format: random bytes
    without 0x7E, not starting with the LLC header; a control byte and checksums that make no flag +
    0xA_ pair (its remains are rescanned when the reader refuses it)."""
    for control in range(0x100):
        for _ in range(16):
            info = bytes([rng.choice([b for b in _NOT_FLAG if b != 0xE6])]) + bytes(
                rng.choices(_NOT_FLAG, k=size - 13))
            frame = hdlc.build_frame(info, b"\x01", b"\x02\x01", control)
            if rescan_safe(frame):
                return frame
    raise ValueError(f"no junk frame of {size} bytes without a flag + 0xA_ pair")  # not reached


def oversized(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """A valid frame of junk of BYTES bytes after frames 5, 15, 25, ..., ending right before the next
    frame's group, or when it does not fit, right after the write before it. Larger than the reader's
    2048 bytes: one ``oversized``; smaller: accepted and not understood, one ``unknown_format``. At
    2400 baud a frame of 2049 bytes takes 9.4 s: the frames due while it is on the line are not sent,
    so no write ever goes out late."""
    size = _count(fault)
    counts = {"oversized": 1} if size > READER_MAX_FRAME else {"unknown_format": 1}
    out: list[Emission] = []
    seen, free, busy = 0, 0.0, 0.0
    for group in _groups(es):
        due = _frame_group(group) and seen % OVERSIZED_PERIOD == OVERSIZED_FIRST
        seen += _frame_group(group)
        if group[0].t < busy:
            continue
        if due:
            junk = _junk_frame(size, ctx.rng)
            t = max(free, group[0].t - ctx.air(junk))
            out.append(Emission(t=t, data=junk, counts=counts, fault=fault.spec))
            free = t + ctx.air(junk)
            if free > group[0].t:
                busy = free
                continue
        for e in group:
            out.append(e)
            free = max(e.t, free) + ctx.air(e.data)
    return out


# -- meter-level faults ------------------------------------------------------------------------------------
def clock_jump(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """From the middle of the stream on, every whole intact frame is re-encoded by the meter with its
    clock off by SECONDS (the wall clock of the instant SECONDS later, across a DST change as the meter
    shows it), at its old write time. Frames already split or damaged keep their bytes: give
    clock_jump before byte-level faults."""
    if ctx.meter is None:
        raise ValueError("clock_jump needs the meter, to encode frames with the jumped clock")
    groups, jump = _groups(es), timedelta(seconds=_count(fault))
    mid, out = _middle_t(groups), []
    for group in groups:
        for e in group:
            if mid is not None and group[0].t >= mid and len(group) == 1 and _intact(e) and e.at is not None:
                frame = ctx.meter.frame_at(ctx.meter.local_of(ctx.meter.utc_of(e.at) + jump), e.list)
                e = replace(e, data=frame.data, reading=frame.reading, at=frame.at, fault=_label(e, fault.spec))
            out.append(e)
    return out


def no_list3(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """Every List 3 is left out (with the parts of it, if split): the meter skips it."""
    return [e for g in _groups(es) if g[-1].list != 3 for e in g]


def silence(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """Nothing is written for DURATION from the middle of the stream; later writes keep their times."""
    groups = _groups(es)
    mid = _middle_t(groups)
    if mid is None:
        return es
    return [e for g in groups if not mid <= g[0].t < mid + _value(fault) for e in g]


def restart(es: list[Emission], fault: Fault, ctx: Context) -> list[Emission]:
    """The meter restarts mid-stream: the first whole intact frame from the middle on is cut (as by
    ``truncate``: one ``truncated``, found by the reader at the idle gap of the restart, or at the next
    frame's header), then nothing is written for DURATION; the meter resumes on its schedule."""
    groups = _groups(es)
    mid = _middle_t(groups)
    out: list[Emission] = []
    quiet_until = None
    for group in groups:
        e = group[0]
        if quiet_until is not None:
            if e.t < quiet_until:
                continue
        elif mid is not None and e.t >= mid and len(group) == 1 and _intact(e):
            k = _cut_offset(e.data, ctx.rng)
            if k is not None:
                out.append(replace(e, data=e.data[:k], counts={"truncated": 1}, fault=_label(e, fault.spec)))
                quiet_until = e.t + ctx.air(e.data[:k]) + _value(fault)
                continue
        out.extend(group)
    return out


INJECTORS: dict[str, Injector] = {
    "split": split, "garbage": garbage, "mid_frame": mid_frame, "truncate": truncate, "bitflip": bitflip,
    "bad_fcs": bad_fcs, "bad_hcs": bad_hcs, "bad_length": bad_length, "duplicate": duplicate,
    "oversized": oversized, "clock_jump": clock_jump, "no_list3": no_list3, "silence": silence,
    "restart": restart,
}
