"""The reading's way after the decoder leaves no garbage, on the real MicroPython port: the state's merge,
the estimate, the meter clock read in the time zone (state.py, tz.py), the LED's signal and the message
rendered into the state's buffer (message.py). Figures per frame: benchmarks/bench_heap.py."""

import json
import subprocess

from dut_firmware import __path__ as FIRMWARE_PATH
from tests.spec_frames import LIST1_HEX, LIST2_HEX, LIST3_HEX, unhex

SCRIPT = r"""
import sys, gc, json
sys.path.insert(0, %(root)r)
from dut_firmware import state as state_mod, message
from dut_firmware.han.decoder import Decoder
frames = [bytes.fromhex(h) for h in %(frames)r]
d = Decoder()
results = [d.feed(f)[0] for f in frames]
st = state_mod.State("CET-1CEST,M3.5.0,M10.5.0/3", clock=lambda: 1)
buf = memoryview(bytearray(message.ROOM + 256))
out = {}


def measure(name, f):
    for i in range(3):  # Lists 2, 1, 3 once: every field known, the dicts grown
        f(i)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for i in range(30):
        f(i)
    out[name] = gc.mem_alloc() - a
    gc.enable()


measure("update", lambda i: st.update(results[i %% 3], 2000 * i, None))
measure("render", lambda i: message.render(buf, st.fields, st.ts_ms, st.list_no, None, None, st._texts))
measure("estimate", lambda i: st.estimate.value())
print(json.dumps(out))
"""


def test_state_update_and_render_leave_no_garbage(micropython):
    root = FIRMWARE_PATH[0].rsplit("/", 1)[0]
    frames = [unhex(h).hex() for h in (LIST2_HEX, LIST1_HEX, LIST3_HEX)]
    proc = subprocess.run([micropython, "-c", SCRIPT % {"root": root, "frames": frames}], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    got = json.loads(proc.stdout)
    assert got["update"] == 0, got      # 30 readings of Lists 1, 2 and 3: merged, estimated, clock read
    assert got["estimate"] == 0, got
    assert got["render"] == 0, got      # the message's digits written into the buffer: no str per number
