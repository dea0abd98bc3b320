"""general-glo-ciphering: the Green Book vector, the real encrypted frames of captures/ re-encrypted byte for
byte from their plaintexts, the error cases, and gurux-dlms decrypting what the rig ciphers."""

import os

import pytest
from gurux_dlms import GXByteBuffer
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.GXDLMSChippering import GXDLMSChippering
from gurux_dlms.GXDLMSSettings import GXDLMSSettings

from rig.emulators import hdlc, mbus
from rig.emulators.security import (
    Security,
    SecurityError,
    decipher,
    encrypt,
    glo_cipher,
    parse_glo,
)
from tests.spec_frames import load_reference_frames

# DLMS Green Book, Table 40 (han-protocols.md section 4, test vector 1)
GB_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
GB_AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
GB_ST = bytes.fromhex("4D4D4D0000BC614E")
GB_IC = 0x01234567
GB_PLAIN = bytes.fromhex("C0010000080000010000FF0200")
GB_CIPHER = bytes.fromhex("411312FF935A47566827C467BC")
GB_TAG_30 = bytes.fromhex("7D825C3BE4A77C3FCC056B6B")
GB_TAG_10 = bytes.fromhex("06725D910F9221D263877516")

FRAMES = {f["id"]: f for f in load_reference_frames()}
ENCRYPTED = ["kaifa_at_netznoe_mbus_enc", "kaifa_pl_gh905_mbus_enc", "lg_e450_at_gh501_1_hdlc_enc",
             "lg_e450_at_gh501_2_hdlc_enc", "smarty_lu_ggc_p1", "kamstrup_omnipower_hdlc_enc"]


def _gb(sc, **kw):
    return glo_cipher(GB_PLAIN, key=GB_KEY, system_title=GB_ST, frame_counter=GB_IC, security_control=sc,
                      auth_key=GB_AK, **kw)


def test_green_book_sc30():
    apdu = _gb(0x30)
    assert apdu == bytes.fromhex("DB08") + GB_ST + bytes([5 + 13 + 12, 0x30]) + GB_IC.to_bytes(4, "big") \
        + GB_CIPHER + GB_TAG_30


@pytest.mark.parametrize("sc", [0x20, 0x21])
def test_green_book_encryption_only_has_the_same_ciphertext_and_no_tag(sc):
    assert _gb(sc) == bytes.fromhex("DB08") + GB_ST + bytes([5 + 13, sc]) + GB_IC.to_bytes(4, "big") + GB_CIPHER


def test_green_book_authentication_only_sends_plaintext_and_tag():
    assert encrypt(GB_PLAIN, key=GB_KEY, system_title=GB_ST, frame_counter=GB_IC, security_control=0x10,
                   auth_key=GB_AK) == GB_PLAIN + GB_TAG_10
    assert decipher(_gb(0x10), key=GB_KEY, auth_key=GB_AK) == GB_PLAIN


@pytest.mark.parametrize("sc", [0x10, 0x20, 0x21, 0x30])
def test_decipher_inverts(sc):
    assert decipher(_gb(sc), key=GB_KEY, auth_key=GB_AK) == GB_PLAIN


def _apdu_of(frame: dict) -> bytes:
    """The ciphered APDU of a captured frame, by its carrier."""
    data = bytes.fromhex(frame["data_hex"])
    if frame["kind"] == "mbus":
        return mbus.reassemble(data)
    if frame["kind"] == "hdlc":
        return hdlc.split_frame(data)[3][3:]
    return data


@pytest.mark.parametrize("frame_id", ENCRYPTED)
def test_real_frames_reencrypt_byte_for_byte(frame_id):
    frame = FRAMES[frame_id]
    apdu = _apdu_of(frame)
    key = bytes.fromhex(frame["key_ek"])
    auth_key = bytes.fromhex(frame["key_ak"]) if frame.get("key_ak") else None
    parts = parse_glo(apdu)
    plain = decipher(apdu, key=key, auth_key=auth_key)
    assert plain[:1] == (b"/" if frame["kind"] == "ggc-p1" else b"\x0f")  # a telegram / a DATA-NOTIFICATION
    again = glo_cipher(plain, key=key, system_title=parts.system_title, frame_counter=parts.frame_counter,
                       security_control=parts.security_control, auth_key=auth_key)
    assert again == apdu


def test_netz_noe_example_decrypts_to_the_printed_plaintext():
    apdu = _apdu_of(FRAMES["kaifa_at_netznoe_mbus_enc"])
    parts = parse_glo(apdu)
    assert (parts.system_title.hex(), parts.security_control, parts.frame_counter) == ("4b464d6750000009", 0x20, 35)
    assert apdu[10:12] == b"\x81\xf8"  # the 81 xx length form
    plain = decipher(apdu, key=bytes.fromhex("36C66639E48A8CA4D6BC8B282A793BBB"))
    assert plain.startswith(bytes.fromhex("0F8006870E0C07E5091B01092F0F00FF88800223090C"))
    assert plain.endswith(b"\x09\x0c181220000009")


def test_e450_tag_is_the_published_one():
    apdu = _apdu_of(FRAMES["lg_e450_at_gh501_1_hdlc_enc"])
    assert parse_glo(apdu).tag == bytes.fromhex("CB204CF0634EB6F015A6FFAE")


@pytest.mark.parametrize(("size", "head"), [(10, b"\x0f"), (0x70, b"\x75"), (0xF0, b"\x81\xf5"),
                                            (0x1F0, b"\x82\x01\xf5")])
def test_length_forms(size, head):
    apdu = glo_cipher(bytes(size), key=GB_KEY, system_title=GB_ST, frame_counter=1, security_control=0x20)
    assert apdu[10:10 + len(head)] == head
    assert len(apdu) == 10 + len(head) + 5 + size
    assert decipher(apdu, key=GB_KEY) == bytes(size)


def test_wrong_key_fails_the_tag():
    with pytest.raises(SecurityError, match="tag mismatch"):
        decipher(_gb(0x30), key=bytes(16), auth_key=GB_AK)


def test_wrong_auth_key_fails_the_tag():
    with pytest.raises(SecurityError, match="wrong key or wrong authentication key"):
        decipher(_gb(0x30), key=GB_KEY, auth_key=bytes(16))


def test_tag_without_auth_key_is_refused():
    with pytest.raises(SecurityError, match="authentication key is needed"):
        decipher(_gb(0x30), key=GB_KEY)


def test_wrong_key_without_tag_gives_other_bytes():
    assert decipher(_gb(0x20), key=bytes(16)) != GB_PLAIN


@pytest.mark.parametrize(("data", "message"), [
    (b"\x0f\x00", "not a general-glo-ciphering"),
    (b"\xdb\x07" + bytes(7), "system title of 7 bytes"),
    (bytes.fromhex("DB08") + GB_ST + b"\x30\x20" + bytes(10), "announces 48 bytes"),
    (bytes.fromhex("DB08") + GB_ST + b"\x83\x00", "bad or cut length"),
    (bytes.fromhex("DB08") + GB_ST + b"\x05\x80" + bytes(4), "not supported"),
])
def test_parse_errors(data, message):
    with pytest.raises(SecurityError, match=message):
        parse_glo(data)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"key": bytes(15)}, "encryption key must be 16 bytes"),
    ({"system_title": bytes(7)}, "system title must be 8 bytes"),
    ({"security_control": 0x30, "auth_key": None}, "needs an authentication key"),
    ({"security_control": 0x40}, "not supported"),
    ({"frame_counter": 1 << 32}, "frame counter must be"),
    ({"auth_key": bytes(17)}, "authentication key must be 16 bytes"),
])
def test_bad_inputs(kwargs, message):
    args = {"key": GB_KEY, "system_title": GB_ST, "frame_counter": 1, "security_control": 0x20, "auth_key": GB_AK}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        glo_cipher(b"\x0f", **args)


def test_security_hides_its_keys():
    security = Security(key=GB_KEY, auth_key=GB_AK, system_title=GB_ST, security_control=0x30)
    shown = repr(security) + str(security.redacted())
    assert GB_KEY.hex() not in shown.lower() and GB_AK.hex() not in shown.lower()
    assert "4D4D4D0000BC614E" in str(security.redacted())
    assert security.redacted()["key"] == "***"


def _gurux_decrypt(apdu: bytes, key: bytes, auth_key: bytes, title: bytes) -> bytes:
    settings = GXDLMSSettings(False, None)
    params = AesGcmParameter(0, title, bytearray(key), bytearray(auth_key))
    return bytes(GXDLMSChippering.decryptAesGcm(settings, params, GXByteBuffer(apdu)))


@pytest.mark.parametrize("sc", [0x20, 0x21, 0x30])
@pytest.mark.parametrize("size", [20, 200, 600])
def test_gurux_decrypts_what_the_rig_ciphers(sc, size, capsys):
    key, auth_key, title, plain = os.urandom(16), os.urandom(16), os.urandom(8), os.urandom(size)
    counter = int.from_bytes(os.urandom(4), "big")
    apdu = glo_cipher(plain, key=key, system_title=title, frame_counter=counter, security_control=sc,
                      auth_key=auth_key)
    assert _gurux_decrypt(apdu, key, auth_key, title) == plain
    assert _gurux_decrypt(apdu, os.urandom(16), auth_key, title) != plain  # gurux really used the key
