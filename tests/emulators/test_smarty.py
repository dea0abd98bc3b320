"""The encrypted DSMR P1 meter (Smarty): raw DB APDUs on P1 holding a DSMR 5 telegram, read back by
dsmr-parser after decryption; the frame counter; the fixed AAD key."""

from datetime import datetime

import pytest
from dsmr_parser import telegram_specifications
from dsmr_parser.parsers import TelegramParser

from rig.emulators import Meter
from rig.emulators.ciphered import unseal
from rig.emulators.p1 import checksum
from rig.emulators.security import SecurityError, parse_glo
from rig.emulators.smarty import SMARTY, SMARTY_AAD_KEY

PARSER = TelegramParser(telegram_specifications.LUXEMBOURG_SMARTY)


def _plain(frame) -> bytes:
    return unseal(frame.data, "p1", SMARTY.security.key, SMARTY.security.auth_key)


@pytest.mark.parametrize("seed", [1, 5, 9])
def test_dsmr_parser_reads_the_reading(seed):
    meter = Meter(SMARTY, seed=seed, start=datetime(2025, 1, 15, 10, 0, 0))
    for frame in meter.frames(count=3):
        plain = _plain(frame)
        assert plain.endswith(f"!{checksum(plain):04X}\r\n".encode())
        telegram = PARSER.parse(plain.decode("ascii"))
        r = frame.reading
        assert float(telegram.ELECTRICITY_IMPORTED_TOTAL.value) * 1000 == pytest.approx(r["e_import_wh"])
        assert float(telegram.ELECTRICITY_EXPORTED_TOTAL.value) * 1000 == pytest.approx(r["e_export_wh"])
        assert float(telegram.CURRENT_ELECTRICITY_USAGE.value) * 1000 == pytest.approx(r["p_import_w"])
        assert float(telegram.INSTANTANEOUS_CURRENT_L2.value) == r["i_l2_a"]
        assert telegram.P1_MESSAGE_TIMESTAMP.value.isoformat() == f"2025-01-15T09:00:{frame.at.second:02d}+00:00"


def test_apdu_layout_and_counter():
    frames = list(Meter(SMARTY, start=datetime(2025, 7, 1)).frames(count=3))
    for n, frame in enumerate(frames, 1):
        assert frame.data[:10] == bytes.fromhex("DB08534147677001BD54")
        assert frame.data[10] == 0x82  # the two-byte length form
        parts = parse_glo(frame.data)
        assert (parts.security_control, parts.frame_counter, parts.end) == (0x30, n, len(frame.data))
    assert b"0-0:1.0.0(250701000000S)" in _plain(frames[0])  # summer time flag on the clock line


def test_the_aad_key_is_checked():
    frame = Meter(SMARTY).frame_at(datetime(2025, 1, 1), 1)
    assert SMARTY.security.auth_key == SMARTY_AAD_KEY
    with pytest.raises(SecurityError, match="tag mismatch"):
        unseal(frame.data, "p1", SMARTY.security.key, bytes(16))


def test_reading_fields_and_refused_overrides():
    frame = Meter(SMARTY).frame_at(datetime(2025, 1, 1), 1)
    assert frame.reading["list_version"] == "Lux5\\253663629_D" and frame.reading["timestamp"] == "2025-01-01T00:00:00"
    with pytest.raises(ValueError, match="meter_type"):
        Meter(SMARTY).frame_at(datetime(2025, 1, 1), 1, overrides={"meter_type": "X"})
    with pytest.raises(ValueError, match="sends no meter id"):
        Meter(SMARTY, meter_id="1")
