"""Any profile encrypted on request: HDLC profiles get general-glo-ciphering in the same HDLC frame, P1
telegrams become raw DB APDUs, and the frames decrypt back to the plain ones."""

from datetime import datetime

import pytest

from rig.emulators import Meter, get_profile, hdlc, list_profiles
from rig.emulators.ciphered import carrier_of, seal, unseal
from rig.emulators.security import Security, SecurityError, parse_glo

KEY, AK, TITLE = bytes(range(16)), bytes(range(16, 32)), b"RIG\x00\x00\x00\x00\x01"
START = datetime(2024, 10, 1, 18, 59, 50)
PLAIN_PROFILES = [p.id for p in list_profiles() if getattr(p, "security", None) is None]


@pytest.mark.parametrize("profile_id", PLAIN_PROFILES)
@pytest.mark.parametrize("sc", [0x20, 0x30])
def test_every_profile_can_be_encrypted(profile_id, sc):
    security = Security(key=KEY, auth_key=AK, system_title=TITLE, security_control=sc, frame_counter=7)
    plain = list(Meter(profile_id, start=START).frames(count=4))
    ciphered = list(Meter(profile_id, start=START, security=security).frames(count=4))
    carrier = carrier_of(plain[0].data)
    for n, (p, c) in enumerate(zip(plain, ciphered, strict=True)):
        assert c.reading == p.reading
        assert unseal(c.data, carrier, KEY, AK) == p.data
        apdu = c.data if carrier == "p1" else hdlc.split_frame(c.data)[3][3:]
        assert parse_glo(apdu).frame_counter == 7 + n
        if carrier == "hdlc":
            assert hdlc.split_frame(c.data)[:3] == hdlc.split_frame(p.data)[:3]  # same addresses and control


def test_security_given_replaces_the_profiles_own():
    security = Security(key=KEY, system_title=TITLE, security_control=0x21, frame_counter=100)
    meter = Meter(get_profile("landis-gyr-e450-burgenland"), security=security)
    frame = meter.frame_at(datetime(2025, 1, 1), 3)
    parts = parse_glo(hdlc.split_frame(frame.data)[3][3:])
    assert (parts.security_control, parts.frame_counter, parts.system_title) == (0x21, 100, TITLE)
    assert meter.frame_counter == 101


def test_a_wrong_key_is_refused_on_unseal():
    security = Security(key=KEY, auth_key=AK, system_title=TITLE, security_control=0x30)
    frame = Meter("kaifa-ma304h4", security=security).frame_at(START.replace(second=52), 1)
    with pytest.raises(SecurityError):
        unseal(frame.data, "hdlc", bytes(16), AK)


def test_frame_counter_runs_out_clearly():
    security = Security(key=KEY, system_title=TITLE, frame_counter=0xFFFFFFFF)
    meter = Meter("kaifa-ma304h4", security=security)
    meter.frame_at(START.replace(second=52), 1)
    with pytest.raises(ValueError, match="frame counter ran out"):
        meter.frame_at(START.replace(second=54), 1)


def test_unknown_carrier():
    with pytest.raises(ValueError, match="no carrier"):
        seal(b"\x00\x01", Security(key=KEY, system_title=TITLE), 1)
