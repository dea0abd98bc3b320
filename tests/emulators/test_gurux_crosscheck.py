"""Cross-check the emulator against Gurux DLMS (gurux-dlms), a second independent public DLMS/COSEM stack.

What it proves, for every frame of both Kaifa profiles over several seeds and start times (Lists 1, 2
and 3, including the hourly List 3 at XX:00:10):

* gurux accepts the HDLC framing: opening/closing flag, frame format and length, addresses, HCS and FCS,
  and strips the E6 E7 00 LLC header. gurux does check both sequences (``GXDLMS.getHdlcData``): a bad FCS
  raises "Wrong CRC." and a bad HCS makes it drop the frame (no PDU, bytes left unconsumed), see
  ``test_gurux_rejects_a_bad_fcs`` and ``test_gurux_drops_a_frame_with_a_bad_hcs``;
* the APDU is a DATA-NOTIFICATION (0F) with long-invoke-id-and-priority 0x40000000, and nothing follows
  its body;
* the header date-time, decoded by gurux into a ``GXDateTime``, is the reading's timestamp (with the
  right weekday, hundredths and deviation "not specified", clock status 00);
* the notification body is one structure whose items, decoded by gurux's A-XDR parser, are exactly the
  wire integers derived from ``frame.reading`` (W, var, mA, 0.1 V, Wh, varh; U2 = 0 on the IT profile),
  the strings are meter_id/meter_type/list_version, and List 3's clock item is the timestamp.

How gurux is driven: ``GXDLMSTranslator.getPdu_0`` runs gurux's HDLC receiver (``GXDLMS.getData``) and
returns the APDU; ``GXDLMSClient.getValue`` decodes A-XDR data items; ``GXDLMSClient.changeType`` turns
the 12-byte octet-strings into ``GXDateTime``. Kaifa sends the Data-Notification date-time as a *tagged*
octet-string (``09 0C`` + 12 bytes), as real meters do, whereas gurux's Data-Notification parser reads it
as a bare length-prefixed OCTET STRING (``0C`` + 12 bytes) and rejects the raw APDU ("Invalid data
type"). So the header and the body are read as two A-XDR data items, and
``test_gurux_notification_parser_agrees`` also feeds gurux's own Data-Notification parser the APDU with
that one tag byte dropped.
"""

from datetime import datetime, timedelta

import pytest
from gurux_dlms import GXByteBuffer, GXDateTime, GXDLMSClient, GXDLMSTranslator, GXReplyData, GXUInt32
from gurux_dlms.enums import DataType, DateTimeSkips, InterfaceType

from rig.emulators import Meter
from tests.spec_frames import EXTREME_VALUES

PROFILES = ["kaifa-ma304h4", "kaifa-ma304h3e"]
IT_PROFILE = "kaifa-ma304h3e"
DATA_NOTIFICATION = 0x0F
INVOKE_ID_AND_PRIORITY = 0x40000000

# KFM_001 wire order of each list ("clock" is List 3's date-time item between instants and energies).
LIST_2 = [
    "list_version", "meter_id", "meter_type",
    "p_import_w", "p_export_w", "q_import_var", "q_export_var",
    "i_l1_a", "i_l2_a", "i_l3_a", "u_l1_v", "u_l2_v", "u_l3_v",
]  # fmt: skip
LIST_ITEMS = {
    1: ["p_import_w"],
    2: LIST_2,
    3: LIST_2 + ["clock", "e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh"],
}
STRINGS = {"list_version", "meter_id", "meter_type"}
SCALE = {"i_l1_a": 1000, "i_l2_a": 1000, "i_l3_a": 1000, "u_l1_v": 10, "u_l2_v": 10, "u_l3_v": 10}

STARTS = [
    datetime(2024, 10, 1, 18, 59, 50),
    datetime(2024, 1, 15, 6, 59, 40),
    datetime(2023, 3, 26, 1, 59, 56),
    datetime(2025, 7, 4, 23, 59, 58),
]


def expected_items(reading: dict, list_no: int, it_meter: bool) -> list:
    """The structure items a frame must carry: strings, and wire integers (mA, 0.1 V, the rest as is)."""
    items = []
    for name in LIST_ITEMS[list_no]:
        if name == "clock":
            items.append(reading["timestamp"])
        elif name in STRINGS:
            items.append(reading[name])
        elif name == "u_l2_v" and it_meter:
            assert reading[name] is None  # not measured: the wire carries 0
            items.append(0)
        else:
            items.append(round(reading[name] * SCALE.get(name, 1)))
    return items


def gurux_datetime(octets) -> str:
    """A 12-byte date-time octet-string, converted by gurux, as the normalized timestamp (after checking
    the Kaifa conventions: hundredths FF, deviation 0x8000 "not specified", clock status 00, weekday)."""
    assert isinstance(octets, bytearray) and len(octets) == 12, octets
    value = GXDLMSClient.changeType(octets, DataType.DATETIME)
    return check_datetime(value)


def check_datetime(value: GXDateTime) -> str:
    assert isinstance(value, GXDateTime), value
    assert value.skip & DateTimeSkips.MILLISECOND  # hundredths FF
    assert value.skip & DateTimeSkips.DEVITATION  # deviation 0x8000 (gurux spells it DEVITATION)
    assert value.status == 0
    assert value.dayOfWeek == value.value.isoweekday()
    return value.value.strftime("%Y-%m-%dT%H:%M:%S")


def gurux_apdu(data: bytes) -> GXByteBuffer:
    """gurux's HDLC receiver: checks flags, length, HCS and FCS, strips the LLC; returns the APDU."""
    buffer = GXByteBuffer(data)
    apdu = GXDLMSTranslator().getPdu_0(buffer)  # (getPdu() itself recurses forever in gurux-dlms)
    assert buffer.position == len(data), "gurux did not consume the whole frame"
    return apdu


def gurux_notification(data: bytes) -> tuple[bytearray, list]:
    """(header date-time octets, structure items) of a Kaifa HDLC frame, as gurux decodes them."""
    apdu = gurux_apdu(data)
    assert apdu.getUInt8() == DATA_NOTIFICATION
    assert apdu.getUInt32() == INVOKE_ID_AND_PRIORITY
    header = GXDLMSClient.getValue(apdu, False)  # 09 0C + 12 bytes: an octet-string data item
    body = GXDLMSClient.getValue(apdu, False)  # 02 NN ...: a structure
    assert apdu.position == apdu.size, "bytes after the notification body"
    assert isinstance(body, list), body
    return header, body


def gurux_decode(data: bytes, list_no: int) -> tuple[str, list]:
    """(header timestamp, structure items as strings, ints and List 3's clock timestamp)."""
    header, body = gurux_notification(data)
    assert len(body) == len(LIST_ITEMS[list_no])
    items = []
    for name, value in zip(LIST_ITEMS[list_no], body, strict=True):
        if name == "clock":
            items.append(gurux_datetime(value))
        elif name in STRINGS:
            assert isinstance(value, bytearray), (name, value)
            items.append(value.decode("ascii"))
        else:
            assert isinstance(value, GXUInt32), (name, value)  # gurux saw a double-long-unsigned (06)
            items.append(int(value))
    return gurux_datetime(header), items


def frames_of(profile: str, seed: int) -> list:
    meter = Meter(profile, seed=seed, start=STARTS[0], meter_id=f"69706314{seed:08d}")
    frames = []
    for start in STARTS:
        frames += list(meter.frames(start=start, until=start + timedelta(seconds=40)))
    return frames


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", [1, 2, 17, 12345])
def test_gurux_decodes_exactly_the_reading(profile, seed):
    frames = frames_of(profile, seed)
    assert {f.list for f in frames} == {1, 2, 3}
    assert datetime(2024, 10, 1, 19, 0, 10) in {f.at for f in frames if f.list == 3}
    for frame in frames:
        carried = {n for n in LIST_ITEMS[frame.list] if n != "clock"} | {"timestamp"}
        assert set(frame.reading) == carried, frame.at  # every field of the reading is checked below
        timestamp, items = gurux_decode(frame.data, frame.list)
        assert timestamp == frame.reading["timestamp"] == frame.at.strftime("%Y-%m-%dT%H:%M:%S")
        assert items == expected_items(frame.reading, frame.list, it_meter=profile == IT_PROFILE), frame.at


def test_gurux_decodes_extreme_values():
    meter = Meter("kaifa-ma304h4")
    frame = meter.frame_at(datetime(2024, 12, 31, 23, 0, 10), overrides=EXTREME_VALUES)
    assert frame.list == 3
    timestamp, items = gurux_decode(frame.data, 3)
    assert timestamp == "2024-12-31T23:00:10"
    assert items[3:13] == [4294967295, 0, 1, 65536, 1, 0, 63999, 1, 2599, 65536]
    assert items[13:] == ["2024-12-31T23:00:10", 4294967295, 1, 0, 123456789]
    assert items == expected_items(frame.reading, 3, it_meter=False)


@pytest.mark.parametrize("profile", PROFILES)
def test_gurux_notification_parser_agrees(profile):
    """gurux's own Data-Notification parser (a PDU-level GXDLMSClient), given the header in strict A-XDR."""
    frames = list(Meter(profile, seed=3).frames(start=datetime(2024, 10, 1, 18, 59, 50), count=12))
    assert {f.list for f in frames} == {1, 2, 3}
    for frame in frames:
        apdu = bytes(gurux_apdu(frame.data).array())
        assert apdu[:7] == bytes([DATA_NOTIFICATION, 0x40, 0, 0, 0, 0x09, 0x0C])
        strict = apdu[:5] + apdu[6:]  # drop the 09 tag: the date-time as a bare length-prefixed OCTET STRING
        reply, notify = GXReplyData(), GXReplyData()
        GXDLMSClient(True, interfaceType=InterfaceType.PDU).getData(GXByteBuffer(strict), reply, notify)
        assert notify.command == DATA_NOTIFICATION and notify.complete
        header, body = gurux_notification(frame.data)
        assert check_datetime(notify.time) == gurux_datetime(header) == frame.reading["timestamp"]
        assert notify.value == body


AT = [datetime(2024, 10, 1, 19, 0, 10), datetime(2024, 10, 1, 19, 0, 12)]  # a List 3 and a List 1


def corrupt(data: bytes, index: int) -> bytes:
    corrupted = bytearray(data)
    corrupted[index] ^= 0x01
    return bytes(corrupted)


@pytest.mark.parametrize("at", AT)
@pytest.mark.parametrize("index", [-3, -2, 20], ids=["fcs-1st-byte", "fcs-2nd-byte", "body-byte"])
def test_gurux_rejects_a_bad_fcs(at, index):
    """One flipped bit in the FCS or in a byte it covers (past the HCS): gurux raises "Wrong CRC."."""
    frame = Meter("kaifa-ma304h4", seed=1).frame_at(at)
    gurux_apdu(frame.data)  # the intact frame is accepted
    with pytest.raises(Exception, match="Wrong CRC"):
        GXDLMSTranslator().getPdu_0(GXByteBuffer(corrupt(frame.data, index)))


@pytest.mark.parametrize("at", AT)
@pytest.mark.parametrize("index", [7, 8, 6], ids=["hcs-1st-byte", "hcs-2nd-byte", "control-byte"])
def test_gurux_drops_a_frame_with_a_bad_hcs(at, index):
    """A header whose HCS fails is not taken as a frame start: gurux delivers no PDU and waits for more bytes."""
    frame = Meter("kaifa-ma304h4", seed=1).frame_at(at)
    buffer = GXByteBuffer(corrupt(frame.data, index))
    apdu = GXDLMSTranslator().getPdu_0(buffer)
    assert apdu.size == 0 and buffer.position == 0
