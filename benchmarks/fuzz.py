"""Benchmark: a seeded mutation fuzzer over the reader firmware's meter decoder and its HTTP, Modbus TCP and
MQTT parsers; at least a million malformed inputs under CPython, a sample on the real MicroPython port.

Seeds: the real frames of ``captures/`` (with their keys) and frames of the rig's own meter emulators (the
rig encodes independently of the firmware); valid HTTP requests, Modbus TCP requests and broker packets.
Each input is a seed mutated (bit flips, bytes set, inserted, deleted or repeated, truncation, length
fields edited, two seeds spliced, runs of flags), random bytes, or garbage and then a valid frame; it is
fed in random chunk sizes, to a new decoder (for an input holding a '/', one that has decoded an intact P1
telegram first, its seed if a P1 one: a reader that has seen its meter's telegrams). The targets and their checks are
``benchmarks/fuzz_mpy_driver.py`` (it runs on both interpreters):

- decoder: no exception out of ``feed``/``flush`` and no crash caught by its last-resort handler
  (``decode failed``); every result counted in exactly one counter and an input with any byte but a flag
  gives at least one result; after garbage, a valid frame is still decoded; an ok reading with a value
  no seed's reading has (a "suspect"; a damaged message may give fewer values) is a wrong value unless
  the input holds a frame whose checksums are right by the rig's own CRC code (``rig.emulators.crc``)
  that no seed holds (a valid frame made by chance);
- HTTP: every answer a well-formed response of a documented status (no 500, nothing logged as ERROR);
- Modbus (the default map, and the han2x map with its writable scale factor): the answers byte for byte
  what the rules of ``services/modbus.py`` give (reads, writes, exceptions 01/02/03/0B, closing);
- MQTT: the packets parsed as MQTT 3.1.1 frames them, no exception but the end of stream;
- every target: no input still running 2 s after its last byte and the end of stream (a hang).

Usage (from the repository root; one line per target, then PASS or FAIL; exit 1 on any failure):
    .venv/bin/python benchmarks/fuzz.py --inputs 1000000 [--mpy 20000] [--seed 1] [--show 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # fuzz_mpy_driver, next to this file

import fuzz_mpy_driver as driver  # noqa: E402

from rig.emulators import Meter  # noqa: E402
from rig.emulators.crc import crc16_arc, crc16_x25_wire  # noqa: E402
from tests.spec_frames import load_reference_frames  # noqa: E402

TARGETS = ("decoder", "http", "modbus", "modbus-han2x", "mqtt")
SHARE = {"decoder": 0.55, "http": 0.15, "modbus": 0.08, "modbus-han2x": 0.07, "mqtt": 0.15}
EMULATED = ("kaifa-ma304h4", "kaifa-ma105h2e", "aidon-6534", "kamstrup-omnipower", "kaifa-p1-se",
            "landis-gyr-e360")
START = datetime(2024, 10, 1, 18, 59, 50)  # List 3 of the Norwegian meters at 19:00:10
FLAG = 0x7E


# -- seeds ----------------------------------------------------------------------------------------------
def meter_seeds() -> tuple[list[tuple[bytes, bytes]], list[tuple[int, bytes]]]:
    """(keys, [(key number, frame bytes)]): the real frames of captures/ and emulated frames of each list."""
    keys: list[tuple[bytes, bytes]] = []
    seeds: list[tuple[int, bytes]] = []
    for meter in EMULATED:  # plaintext first: seed 0 is a Kaifa List 1, the resynchronisation probe
        lists: set[int] = set()
        for frame in Meter(meter, seed=7).frames(start=START, count=40):
            if frame.list not in lists:
                lists.add(frame.list)
                seeds.append((0, frame.data))
    for ref in load_reference_frames():
        if ref["kind"] not in ("hdlc", "p1", "mbus", "ggc-p1"):
            continue  # LLC PDUs and bare APDUs are no line frames
        data = bytes.fromhex(ref["data_hex"]) if "data_hex" in ref else ref["data_text"].encode()
        k = 0
        if ref.get("key_ek"):
            pair = (bytes.fromhex(ref["key_ek"]), bytes.fromhex(ref["key_ak"]) if ref.get("key_ak") else b"")
            if pair not in keys:
                keys.append(pair)
            k = keys.index(pair) + 1
        seeds.append((k, data))
    return keys, seeds


def http_seeds() -> list[bytes]:
    body = json.dumps({"modbus": {"enabled": True, "unit_id": 3}, "mqtt": {"keepalive": 60}}).encode()
    heads = ["GET /meter HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
             "GET /meter/data HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
             "GET /han HTTP/1.0\r\n\r\n", "GET /health HTTP/1.1\r\nAccept: */*\r\n\r\n",
             "GET /meter/id HTTP/1.1\r\n\r\nGET /configuration HTTP/1.1\r\n\r\n",
             "GET /nope?x=1 HTTP/1.1\r\nAuthorization: Bearer abc\r\n\r\n"]
    out = [h.encode() for h in heads]
    out.append(b"POST /configuration HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % len(body) + body)
    out.append(b"POST /configuration HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}GET /meter HTTP/1.1\r\n\r\n")
    return out


def modbus_seeds() -> list[bytes]:
    def req(tid: int, unit: int, fc: int, addr: int, count: int) -> bytes:
        return struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, addr, count)

    def write(tid: int, addr: int, values: list[int]) -> bytes:
        pdu = struct.pack(">BHHB", 16, addr, len(values), 2 * len(values)) + struct.pack(f">{len(values)}H", *values)
        return struct.pack(">HHHB", tid, 0, len(pdu) + 1, 1) + pdu

    return [req(1, 1, 3, 0, 8), req(2, 1, 4, 6, 2), req(3, 0xFF, 3, 3, 3) + req(4, 1, 4, 0, 1),
            req(5, 1, 3, 7, 2), req(6, 2, 3, 0, 1), req(7, 1, 6, 0, 1), req(8, 1, 3, 0, 126),
            req(9, 1, 3, 0, 51) + req(10, 1, 4, 40, 11), req(11, 1, 6, 49, 2000) + req(12, 1, 3, 0, 4),
            write(13, 48, [0, 500]) + req(14, 1, 3, 0, 20), write(15, 47, [1, 2, 3])]


def mqtt_seeds() -> list[bytes]:
    publish = bytes((0x30, 2 + 16 + 7)) + b"\x00\x10homeassistant/st" + b"online!"
    return [b"\x20\x02\x00\x00", b"\x20\x02\x00\x05", b"\x90\x03\x00\x01\x00", b"\xd0\x00", publish,
            b"\x20\x02\x00\x00\x90\x03\x00\x01\x00" + publish + b"\xd0\x00",
            b"\x32\x0a\x00\x03a/b\x00\x07xyz", b"\x30\x80\x01" + b"\x00\x01t" + b"p" * 125]


# -- mutations ------------------------------------------------------------------------------------------
def mutate(rng: random.Random, data: bytes, others: list[bytes], target: str) -> bytes:
    """One to four stacked mutations of ``data``."""
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        op = rng.randrange(10)
        n = len(b)
        if op == 0 and n:  # bit flips
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # a byte set
            b[rng.randrange(n)] = rng.choice((0, 0xFF, FLAG, 0x7D, 0x2F, 0x21, 0x68, 0x0D, 0x0A,
                                               rng.randrange(256)))
        elif op == 2:  # bytes inserted
            i = rng.randint(0, n)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:  # bytes deleted
            i = rng.randrange(n)
            del b[i:i + rng.randint(1, 16)]
        elif op == 4 and n:  # truncation
            del b[rng.randrange(n):]
        elif op == 5 and n > 6:  # a length field edited
            pos = {"decoder": (1, 2), "modbus": (4, 5), "modbus-han2x": (4, 5), "mqtt": (1, 2), "http": None}[target]
            if pos is None:  # HTTP: the Content-Length
                b = bytearray(bytes(b).replace(b"Content-Length: ", b"Content-Length: %d" % rng.choice(
                    (-1, 0, 1, 4097, 10**12, rng.randrange(300))), 1))
            else:
                b[rng.choice(pos)] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == 6:  # spliced with another seed
            other = rng.choice(others)
            b = b[:rng.randint(0, n)] + other[rng.randint(0, len(other)):]
        elif op == 7:  # a run of delimiters
            i = rng.randint(0, n)
            unit = {"decoder": b"\x7e", "http": b"\r\n", "mqtt": b"\x80"}.get(target, b"\x00")
            b[i:i] = unit * rng.randint(1, 40)
        elif op == 8 and n:  # a range repeated
            i = rng.randrange(n)
            b[i:i] = b[i:i + rng.randint(1, 32)] * rng.randint(1, 3)
        elif op == 9 and n and target == "http":  # header lines blown up
            long = rng.random() < 0.3
            b = bytearray(bytes(b).replace(b"\r\n", b"\r\nX-%d: %s\r\n" % (rng.randrange(99), b"a" * (
                rng.choice((600, 2100)) if long else 8)), rng.randint(1, 3) if long else rng.randint(1, 60)))
    return bytes(b)


def chunk_plan(rng: random.Random, target: str) -> str:
    """Chunk sizes of an input: whole, byte by byte, or a cycle of sizes (services: mostly whole)."""
    r = rng.random()
    if r < (0.25 if target == "decoder" else 0.6):
        return "0"
    if r < (0.35 if target == "decoder" else 0.62):
        return "1"
    return ".".join(str(rng.choice((1, 2, 3, 7, 16, 64, 255, 700))) for _ in range(rng.randint(1, 4)))


def inputs(rng: random.Random, count: int, keys, seeds):
    """(target, record line parts) of ``count`` inputs, the targets in their shares."""
    frames = [data for _, data in seeds]
    pools = {"http": http_seeds(), "modbus": modbus_seeds(), "modbus-han2x": modbus_seeds(), "mqtt": mqtt_seeds()}
    order = []
    for target in TARGETS:
        order += [target] * round(SHARE[target] * 1000)
    for i in range(count):
        target = order[i % len(order)]
        plan = chunk_plan(rng, target)
        if target == "decoder":
            r = rng.random()
            s = rng.randrange(len(seeds))
            k, data = seeds[s]
            if r < 0.08:  # random bytes
                yield target, ("dec", 0, plan, s, rng.randbytes(rng.randrange(600)))
            elif r < 0.16:  # garbage (random, or a damaged frame), then an intact frame
                junk = rng.randbytes(rng.randrange(300)) if rng.random() < 0.5 else \
                    mutate(rng, frames[rng.randrange(len(frames))], frames, target)
                yield target, ("want", k, plan, s, junk + data)
            else:
                yield target, ("dec", k, plan, s, mutate(rng, data, frames, target))
        else:
            pool = pools[target]
            data = rng.choice(pool)
            if rng.random() < 0.05:
                data = rng.randbytes(rng.randrange(300))
            yield target, (target, plan, mutate(rng, data, pool, target))


def line_of(parts) -> str:
    return " ".join(p.hex() if isinstance(p, bytes) else str(p) for p in parts)


# -- the rig's own judgement of a suspect ---------------------------------------------------------------
def valid_frames(data: bytes) -> set[bytes]:
    """Every frame in ``data`` whose checksums are right by the rig's CRC code: HDLC (HCS and FCS,
    CRC-16/X.25), P1 telegrams (CRC-16/ARC), wired M-Bus long frames (their 8-bit sum)."""
    found = set()
    for i in range(len(data) - 8):
        b = data[i]
        if b == FLAG and data[i + 1] >> 4 == 0xA:
            length = (data[i + 1] & 7) << 8 | data[i + 2]
            frame = data[i + 1:i + 1 + length]
            if len(frame) == length > 8 and crc16_x25_wire(frame[:-2]) == frame[-2:]:
                found.add(frame)
        elif b == 0x2F:
            bang = data.find(b"!", i)
            if bang > 0:
                try:
                    crc = int(data[bang + 1:bang + 5], 16)
                except ValueError:
                    crc = -1
                if crc == crc16_arc(data[i:bang + 1]):  # every P1 seed has a CRC: a telegram without is no
                    found.add(data[i:bang + 5])          # valid frame of these meters
        elif b == 0x68 and data[i + 3] == 0x68 and data[i + 1] == data[i + 2]:
            length = data[i + 1]
            end = i + 4 + length
            if end + 1 < len(data) and data[end + 1] == 0x16 and sum(data[i + 4:end]) & 0xFF == data[end]:
                found.add(data[i:end + 2])
    return found


class Judge:
    """Sorts suspects into valid frames made by chance and wrong values."""

    def __init__(self, seeds):
        self.known = set()
        for _, data in seeds:
            self.known |= valid_frames(data)
        self.by_chance = 0
        self.wrong = []

    def suspect(self, n: int, data: bytes) -> None:
        if valid_frames(data) - self.known:
            self.by_chance += 1
        else:
            self.wrong.append((n, data))


# -- runs -----------------------------------------------------------------------------------------------
def run_cpython(count: int, seed: int, keys, seeds, show: int):
    rng = random.Random(seed)
    judge = Judge(seeds)
    bad: list[str] = []
    current = {"data": b""}

    def out(line: str) -> None:
        if line.startswith("SUSPECT "):
            judge.suspect(int(line.split()[1]), current["data"])
        elif len(bad) < 1000:
            bad.append(line)

    spent = dict.fromkeys(TARGETS, 0.0)

    async def go():
        fuzz = driver.Fuzz(out)
        for pair in keys:
            await fuzz.line(line_of(("key", pair[0], pair[1] or "-")))
        for k, data in seeds:
            fuzz.seed(k, data)
        clock = time.perf_counter
        for target, parts in inputs(rng, count, keys, seeds):
            current["data"] = parts[-1]
            t0 = clock()
            fuzz.n += 1
            if target == "decoder":
                fuzz.decode(parts[1], driver.sizes_of(parts[2]), parts[4], parts[3], parts[0] == "want")
            else:
                await fuzz.serve(target, driver.sizes_of(parts[1]), parts[2])
            spent[target] += clock() - t0
        return fuzz.tally

    tally = asyncio.run(go())
    return tally, spent, judge, bad


def run_micropython(count: int, seed: int, keys, seeds, micropython: Path):
    """The same inputs (another seed's) through the driver on the real MicroPython port."""
    rng = random.Random(seed + 1)
    judge = Judge(seeds)
    data_of = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inputs.txt"
        with path.open("w") as f:
            for pair in keys:
                f.write(line_of(("key", pair[0], pair[1] or "-")) + "\n")
            for k, data in seeds:
                f.write(line_of(("seed", k, data)) + "\n")
            counts = dict.fromkeys(TARGETS, 0)
            for n, (target, parts) in enumerate(inputs(rng, count, keys, seeds), 1):
                counts[target] += 1
                data_of[n] = parts[-1]
                f.write(line_of(parts) + "\n")
        t0 = time.perf_counter()
        run = subprocess.run([str(micropython), "-X", "heapsize=4M", str(Path(__file__).with_name(
            "fuzz_mpy_driver.py")), str(ROOT), str(path)], capture_output=True, text=True, timeout=3600)
        seconds = time.perf_counter() - t0
    bad = []
    tally = None
    for line in run.stdout.splitlines():
        if line.startswith("TALLY "):
            tally = json.loads(line[6:])
        elif line.startswith("SUSPECT "):
            n = int(line.split()[1])
            judge.suspect(n, data_of[n])
        else:
            bad.append(line)
    if tally is None:
        raise SystemExit(f"MicroPython driver failed (exit {run.returncode}):\n{run.stdout[-2000:]}"
                         f"{run.stderr[-2000:]}")
    spent = {t: seconds * counts[t] / count for t in TARGETS}  # one process: its time shared by inputs
    return tally, spent, judge, bad


def report(title: str, tally, spent, judge: Judge, bad: list[str], show: int) -> bool:
    print(title)
    print(f"{'target':12} {'inputs':>9} {'ok':>9} {'escaped':>8} {'wrong':>7} {'hangs':>6} {'unacc':>6} "
          f"{'resync':>6} {'inputs/s':>9}  errors by kind")
    ok = True
    wrong_by = dict.fromkeys(TARGETS, 0)
    wrong_by["decoder"] = len(judge.wrong)
    for target in TARGETS:
        t = tally.get(target, driver.new_tally())
        wrong = t["wrong"] + wrong_by[target]
        errors = ", ".join(f"{k} {v}" for k, v in sorted(t["errors"].items(), key=lambda kv: -kv[1]))
        rate = t["inputs"] / spent[target] if spent[target] else 0
        print(f"{target:12} {t['inputs']:9d} {t['frames_ok']:9d} {t['escaped']:8d} {wrong:7d} {t['hangs']:6d} "
              f"{t['unaccounted']:6d} {t['resync_failed']:6d} {rate:9.0f}  {errors}")
        if t["escaped"] or wrong or t["hangs"] or t["unaccounted"] or t["resync_failed"]:
            ok = False
        if t.get("resync_unchecked_start"):
            print(f"{target:12} resync failures after garbage holding a wired M-Bus (0x68) or raw APDU (0xDB) "
                  f"start, whose length nothing checks: {t['resync_unchecked_start']} of {t['resync_failed']}")
    print("ok: frames decoded (decoder), 2xx answers (http), normal answers (modbus), packets (mqtt); "
          f"decoder readings no seed has but made of frames valid by chance (rig CRC): {judge.by_chance}")
    for line in bad[:show]:
        print("  " + line[:300])
    for n, data in judge.wrong[:show]:
        print(f"  WRONG VALUE input {n}: {data.hex()}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=1_000_000, help="inputs under CPython (default 1000000)")
    ap.add_argument("--mpy", type=int, default=20_000, help="inputs on MicroPython (0: none; default 20000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--show", type=int, default=10, help="failing inputs shown")
    ap.add_argument("--micropython", type=Path, default=ROOT / ".venv" / "bin" / "micropython")
    args = ap.parse_args(argv)
    keys, seeds = meter_seeds()
    print(f"seeds: {len(seeds)} meter frames ({len(keys)} keys), {len(http_seeds())} HTTP, "
          f"{len(modbus_seeds())} Modbus, {len(mqtt_seeds())} MQTT; seed {args.seed}")
    t0 = time.perf_counter()
    ok = report(f"CPython {sys.version.split()[0]}: {args.inputs} inputs",
                *run_cpython(args.inputs, args.seed, keys, seeds, args.show), args.show)
    print(f"CPython run: {time.perf_counter() - t0:.1f} s")
    if args.mpy:
        t0 = time.perf_counter()
        ok = report(f"MicroPython ({args.micropython.name}): {args.mpy} inputs (inputs/s: of the whole run)",
                    *run_micropython(args.mpy, args.seed, keys, seeds, args.micropython), args.show) and ok
        print(f"MicroPython run: {time.perf_counter() - t0:.1f} s")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
