"""The null-modem bridge: bytes written to its device by a serial program reach the DUT's line."""

import serial
from slave_reader import SlaveReader

from rig.capture import read_capture
from rig.line import LineSettings
from rig.links import PtyLink
from rig.links.bridge import PtyBridge
from tests.spec_frames import LIST1_HEX, unhex

KAIFA = LineSettings(2400, 8, "E", 1)


def test_bytes_written_to_the_bridge_reach_the_dut_paced(tmp_path):
    frame = unhex(LIST1_HEX)
    with PtyLink(KAIFA, speed=10, log_path=tmp_path / "line.jsonl") as link, PtyBridge(link) as bridge:
        dut = SlaveReader(link.device)
        dut.start()
        try:
            with serial.Serial(bridge.device, 2400, parity=serial.PARITY_EVEN) as meter:
                meter.write(frame * 3)
            assert dut.wait_for(len(frame) * 3) == frame * 3
        finally:
            dut.stop()
        assert bridge.forwarded == len(frame) * 3
    # the bridge's bytes went through the link, so the line's capture holds them like any write
    assert read_capture(tmp_path / "line.jsonl").data == frame * 3
