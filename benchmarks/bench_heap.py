"""Benchmark: the reader firmware's heap on the real MicroPython unix port, through the firmware's own
frame path (``App.feed``: decoder, meter state, message text, LED signal), no firmware change.

- boot: the heap in use (``gc.mem_alloc()`` after ``gc.collect()``) by the interpreter alone, after the
  firmware's imports, and after ``App(cfg)`` is built (decoder buffer, services, state), before its tasks;
- growth: the heap after a collection every 1,000 frames over 10,000 frames of a Kaifa MA304H4 (Lists 1,
  2 and the hourly List 3, in their real order, the rig's emulator encoding them); "grows" if the last
  figure is above the first after the first thousand by more than 1 KiB;
- garbage per frame: every byte the frame allocated that a collection takes back (``gc.mem_alloc()``
  after the frame, the collector disabled in between, minus after a collection), per list; what the
  frames kept (caches filled once, e.g. the meter id's text) is printed apart;
- the decoder alone (``Decoder.feed`` of one whole frame): the same figure for the Kaifa frames and for
  one meter of each other framing, plain and encrypted (the emulator's frames with its profile's test
  keys, the tag checked where the profile authenticates; a frame counter of its own per frame, so none
  is a replay): Aidon and Kamstrup (HDLC), a P1 telegram (Kaifa P1, Sweden), Netz NOE's Kaifa MA309
  (M-Bus, SC 0x20), Netz Burgenland's E450 (HDLC, SC 0x30) and the Smarty (raw APDU on P1, SC 0x30).
  The first frames of each meter are not measured (modules and buffers made on first use).

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_heap.py [--frames 10000] [--decoder-frames 200] [--heapsize 512K]
                                              [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rig.emulators import Meter  # noqa: E402
from rig.emulators.profiles import get_profile, profile_security  # noqa: E402

DISTINCT = 600  # distinct frames played in a loop (20 min of meter time: Lists 1, 2 and one List 3)
START = datetime(2024, 10, 1, 18, 50, 0)
# the meters whose decoder alone is measured besides the Kaifa MA304H4 (above)
DECODER_METERS = ("aidon-6534", "kamstrup-omnipower", "kaifa-p1-se", "kaifa-ma309-netznoe",
                  "landis-gyr-e450-burgenland", "sagemcom-smarty")
WARM = 5  # frames of each meter fed before the measured ones

# Runs on MicroPython: argv = the folder holding the dut_firmware package, the frames file (list number +
# hex per line), the frame count, the other meters' file (see _meters_text), the number of frames.
PROBE = r"""
import sys, gc
gc.collect()
interp = gc.mem_alloc()
sys.path.insert(0, sys.argv[1])
from dut_firmware import app as app_mod
from dut_firmware import config
gc.collect()
imported = gc.mem_alloc()
cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null"}})
app = app_mod.App(cfg)
gc.collect()
boot = gc.mem_alloc()
boot_free = gc.mem_free()
import binascii
from dut_firmware.han.decoder import Decoder
# what the Kaifa frames need made first, in a heap the other meters' frames below do not fragment
d_kaifa = Decoder()
frames = [None] * int(sys.argv[5])
# the other meters, streamed from their file
meters = {}
with open(sys.argv[4]) as f:
    for line in f:
        w = line.split()
        if w[0] == "meter":
            key = None if w[2] == "-" else binascii.unhexlify(w[2])
            ak = None if w[3] == "-" else binascii.unhexlify(w[3])
            d = Decoder(key=key, auth_key=ak)
            warm = int(w[4])
            m = meters[w[1]] = {}
            k = 0
            continue
        n, data = w[0], binascii.unhexlify(w[1])
        k += 1
        if k <= warm:
            d.feed(data)
            continue
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        r = d.feed(data)
        b = gc.mem_alloc()
        ok = len(r) == 1 and r[0]["ok"]
        del r
        gc.enable()
        gc.collect()
        b -= gc.mem_alloc()
        g = m.get(n)
        if g is None:
            g = m[n] = [0, 0, 0, 0]
        g[0] += 1
        g[1] += b
        if b > g[2]:
            g[2] = b
        g[3] += ok
d = d_kaifa
with open(sys.argv[2]) as f:
    i = 0
    for line in f:
        n, h = line.split()
        frames[i] = (int(n), binascii.unhexlify(h))
        i += 1
count = int(sys.argv[3])
alone = {}
for i in range(min(count, 1000)):
    n, data = frames[i % len(frames)]
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    d.feed(data)
    b = gc.mem_alloc()
    gc.enable()
    gc.collect()
    b -= gc.mem_alloc()
    g = alone.get(n)
    if g is None:
        g = alone[n] = [0, 0, 0]
    g[0] += 1
    g[1] += b
    if b > g[2]:
        g[2] = b
del d, d_kaifa
gc.collect()
loaded = gc.mem_alloc()
after = []
garbage = {}
kept = 0
for i in range(count):
    n, data = frames[i % len(frames)]
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    app.feed(data)
    b = gc.mem_alloc()
    gc.enable()
    gc.collect()
    c = gc.mem_alloc()
    b -= c
    kept += c - a
    g = garbage.get(n)
    if g is None:
        g = garbage[n] = [0, 0, 0]
    g[0] += 1
    g[1] += b
    if b > g[2]:
        g[2] = b
    if (i + 1) % 1000 == 0:
        gc.collect()
        after.append(gc.mem_alloc())
import json
print("HEAP " + json.dumps({"interpreter": interp, "imported": imported, "boot": boot, "boot_free": boot_free,
      "loaded": loaded, "alone": alone, "meters": meters, "after": after, "garbage": garbage, "kept": kept,
      "ok": app.decoder.counters["frames_ok"],
      "errors": sum(app.decoder.counters.values()) - app.decoder.counters["frames_ok"]}))
"""


def _meters_text(count: int) -> str:
    """The probe's meters file: a line ``meter ID KEY AK WARM`` (hex, - for none), then ``LIST HEX`` lines."""
    lines = []
    for meter in DECODER_METERS:
        sec = profile_security(get_profile(meter))
        key = sec.key.hex() if sec else "-"
        ak = sec.auth_key.hex() if sec and sec.auth_key and sec.security_control & 0x10 else "-"
        lines.append(f"meter {meter} {key} {ak} {WARM}")
        lines += [f"{f.list} {f.data.hex()}" for f in Meter(meter, seed=1).frames(start=START, count=count + WARM)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--decoder-frames", type=int, default=200,
                    help="frames of each other meter whose decoder alone is measured (default 200)")
    ap.add_argument("--heapsize", default="512K", help="MicroPython -X heapsize (default 512K)")
    ap.add_argument("--micropython", type=Path, default=ROOT / ".venv" / "bin" / "micropython")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    frames = list(Meter("kaifa-ma304h4", seed=1).frames(start=START, count=DISTINCT))
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.py"
        probe.write_text(PROBE)
        path = Path(tmp) / "frames.txt"
        path.write_text("".join(f"{f.list} {f.data.hex()}\n" for f in frames))
        others = Path(tmp) / "meters.txt"
        others.write_text(_meters_text(args.decoder_frames))
        run = subprocess.run([str(args.micropython), "-X", "heapsize=" + args.heapsize, str(probe),
                              str(ROOT), str(path), str(args.frames), str(others), str(len(frames))],
                             capture_output=True, text=True, timeout=1800)
    line = [x for x in run.stdout.splitlines() if x.startswith("HEAP ")]
    if not line:
        print(run.stdout[-3000:] + run.stderr[-3000:], file=sys.stderr)
        return 1
    h = json.loads(line[0][5:])
    if args.json:
        print(json.dumps(h))
        return 0
    after = h["after"]
    grows = len(after) > 1 and after[-1] - after[0] > 1024
    loaded = h["loaded"]
    print(f"MicroPython unix port, -X heapsize={args.heapsize}; {args.frames} frames of kaifa-ma304h4 "
          f"({DISTINCT} distinct, looped): {h['ok']} decoded, {h['errors']} errors")
    print(f"heap at boot (in use after gc.collect()): interpreter {h['interpreter']} B, + firmware imports "
          f"{h['imported'] - h['interpreter']} B, + App built {h['boot'] - h['imported']} B = {h['boot']} B "
          f"in use ({h['boot_free']} B free of the heap)")
    growth = " ".join(f"{x - loaded:+d}" for x in after)
    print(f"heap in use after gc.collect() every 1,000 frames, minus the {loaded} B in use before the first "
          f"(boot + the frames held by the benchmark): {growth}")
    print(f"heap growth over the run (last - first): {after[-1] - after[0] if after else 0:+d} B: "
          f"{'GROWS' if grows else 'flat'}")
    for n in sorted(h["garbage"], key=int):
        k, total, peak = h["garbage"][n]
        print(f"garbage per frame, List {n}: mean {total // k} B, max {peak} B ({k} frames)")
    print(f"kept by the {args.frames} frames after a collection each (caches filled once, the meter state): "
          f"{h['kept']:+d} B in all")
    print("the decoder alone (Decoder.feed of one whole frame), garbage per frame:")
    for n in sorted(h["alone"], key=int):
        k, total, peak = h["alone"][n]
        print(f"  kaifa-ma304h4 List {n}: mean {total // k} B, max {peak} B ({k} frames)")
    for meter in DECODER_METERS:
        lists = h["meters"].get(meter, {})
        for n in sorted(lists, key=int):
            k, total, peak, ok = lists[n]
            print(f"  {meter} List {n}: mean {total // k} B, max {peak} B ({k} frames, {ok} decoded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
