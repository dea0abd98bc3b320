"""Pure units of the reader firmware under CPython: message builder, TZ rules, Modbus map and
encoding, configuration merge/validation, state merging, MQTT packet encoding, LED patterns."""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from service_app import ServiceApp

from dut_firmware import config, led, message, tz
from dut_firmware import state as state_mod
from dut_firmware.han import outcome
from dut_firmware.services import modbus, mqtt
from dut_firmware.services.http import HttpServer

OSLO = "CET-1CEST,M3.5.0,M10.5.0/3"

LIST2 = {
    "timestamp": "2024-10-01T19:00:00", "list_version": "KFM_001", "meter_id": "6970631407262986",
    "meter_type": "MA304H4", "p_import_w": 5056, "p_export_w": 0, "q_import_var": 0,
    "q_export_var": 469, "i_l1_ma": 19679, "i_l2_ma": 1292, "i_l3_ma": 923,
    "u_l1_mv": 235600, "u_l2_mv": 240900, "u_l3_mv": 239300,
}
LIST1 = {"timestamp": "2024-10-01T19:00:02", "p_import_w": 5057}
LIST3_EXTRA = {"timestamp": "2024-10-01T19:00:10", "e_import_wh": 42879838, "e_export_wh": 0,
               "r_import_varh": 9909726, "r_export_varh": 562991}


def ok(reading, list_no=None, fmt="hdlc/kaifa-kfm001"):
    res = {"ok": True, "format": fmt, "reading": dict(reading)}
    if list_no is not None:
        res["list"] = list_no
    return res


# -- message ---------------------------------------------------------------------------------------
class TestMessage:
    def test_fixed_renderings(self):
        assert message.fixed(42879838, 3) == "42879.838"
        assert message.fixed(5, 3) == "0.005"
        assert message.fixed(0, 3) == "0.000"
        assert message.fixed(-1292, 3) == "-1.292"
        assert message.fixed(-5, 1) == "-0.5"
        assert message.fixed(2356, 1) == "235.6"
        assert message.fixed(None, 1) == "null"
        assert message.fixed(-469, 0) == "-469"

    def test_scaled_is_exact_and_rounds_half_away_from_zero(self):
        assert message.scaled(235600, -2) == 2356
        assert message.scaled(230050, -2) == 2301           # half: away from zero
        assert message.scaled(-230050, -2) == -2301
        assert message.scaled(230049, -2) == 2300
        assert message.scaled(2**62 + 1, 0) == 2**62 + 1    # ints never pass through a float
        assert message.scaled(7, 3) == 7000
        assert message.scaled(None, -2) is None

    def test_list2_message(self):
        text = message.build(LIST2, 1727802000000, 2)
        msg = json.loads(text)
        assert msg["type"] == "HAN_METER_MESSAGE"
        assert msg["ts"] == 1727802000000
        assert msg["u"] == [235.6, 240.9, 239.3]
        assert msg["i"] == [19.679, 1.292, 0.923]
        assert msg["pi"] == [5056, None, None, None]
        assert msg["pe"] == [0, None, None, None]
        assert msg["p"] == [5056, None, None, None]
        assert msg["ri"] == [0, None, None, None]
        assert msg["re"] == [469, None, None, None]
        assert msg["r"] == [-469, None, None, None]
        assert msg["ic"] is None and msg["ec"] is None and msg["ric"] is None and msg["rec"] is None
        assert msg["meter_id"] == "6970631407262986"
        assert msg["meter_type"] == "MA304H4"
        assert msg["list_version"] == "KFM_001"
        assert msg["list"] == 2
        # exact text renderings, no float noise
        assert '"u":[235.6,240.9,239.3]' in text
        assert '"i":[19.679,1.292,0.923]' in text

    def test_energies_exact_kwh(self):
        text = message.build(dict(LIST2, **LIST3_EXTRA), 0, 3)
        assert '"ic":42879.838' in text
        assert '"ec":0.000' in text
        assert '"ric":9909.726' in text
        assert '"rec":562.991' in text
        # values whose float rendering would be inexact stay exact
        text = message.build({"e_import_wh": 4294967295, "i_l1_ma": 300}, 0, 3)
        assert '"ic":4294967.295' in text
        assert '"i":[0.300,null,null]' in text

    def test_negative_current_and_per_phase_powers(self):
        fields = {"i_l1_ma": -1292, "p_l1_import_w": 100, "p_l1_export_w": 0, "u_l2_mv": None,
                  "q_l2_export_var": 12}
        msg = json.loads(message.build(fields, None, None))
        assert msg["i"] == [-1.292, None, None]
        assert msg["pi"] == [None, 100, None, None]
        assert msg["p"] == [None, 100, None, None]
        assert msg["r"] == [None, None, -12, None]
        assert msg["u"] == [None, None, None]
        assert msg["ts"] is None and msg["list"] is None

    def test_text_fields_are_escaped(self):
        msg = json.loads(message.build({"meter_id": 'a"b\\c'}, 1, 1))
        assert msg["meter_id"] == 'a"b\\c'


# -- tz --------------------------------------------------------------------------------------------
def _utc(s: str) -> int:
    return int(datetime.fromisoformat(s + "+00:00").timestamp())


class TestTz:
    def test_civil_roundtrip(self):
        for days in (-719468, -1, 0, 1, 11016, 19997, 20000, 2932896):
            assert tz.days_from_civil(*tz.civil_from_days(days)) == days
        assert tz.days_from_civil(1970, 1, 1) == 0
        assert tz.days_from_civil(2000, 3, 1) == 11017
        assert tz.weekday(tz.days_from_civil(2024, 10, 1)) == 2      # a Tuesday

    def test_oslo_2024_transitions(self):
        rule = tz.Tz(OSLO)
        start, end = rule.transitions(2024)
        assert start == _utc("2024-03-31T01:00:00")
        assert end == _utc("2024-10-27T01:00:00")
        assert rule.utc_offset(2024, 3, 31, 1, 59, 59) == 3600
        assert rule.utc_offset(2024, 3, 31, 3, 0, 0) == 7200
        assert rule.utc_offset(2024, 10, 27, 1, 59, 59) == 7200
        assert rule.utc_offset(2024, 10, 27, 3, 0, 0) == 3600
        assert rule.utc_offset(2024, 1, 15) == 3600
        assert rule.utc_offset(2024, 7, 15) == 7200

    def test_spring_gap_reads_as_standard_time(self):
        rule = tz.Tz(OSLO)
        utc, off = rule.local_to_utc(2024, 3, 31, 2, 30, 0)
        assert utc == _utc("2024-03-31T01:30:00") and off == 3600   # = 03:30 CEST
        # the instants around the gap are continuous
        assert rule.local_to_utc(2024, 3, 31, 1, 59, 59)[0] + 1 == rule.local_to_utc(2024, 3, 31, 3)[0]

    def test_autumn_repeat_first_then_second(self):
        rule = tz.Tz(OSLO)
        first, off = rule.local_to_utc(2024, 10, 27, 2, 30, 0)
        assert first == _utc("2024-10-27T00:30:00") and off == 7200
        second, off = rule.local_to_utc(2024, 10, 27, 2, 30, 0, not_before=first + 1)
        assert second == _utc("2024-10-27T01:30:00") and off == 3600
        # a meter sending local time every 10 s through the repeated hour maps monotonically
        prev = None
        wall = []
        s = 1 * 3600 + 50 * 60
        while s < 3 * 3600:            # first pass 01:50 .. 02:59:50
            wall.append(s)
            s += 10
        s = 2 * 3600
        while s <= 3 * 3600 + 600:     # second pass 02:00 .. 03:10
            wall.append(s)
            s += 10
        out = []
        for w in wall:
            stamp = f"2024-10-27T{w // 3600:02d}:{w // 60 % 60:02d}:{w % 60:02d}"
            ms = tz.timestamp_to_epoch_ms(stamp, rule, prev)
            out.append(ms)
            prev = ms
        diffs = {b - a for a, b in zip(out, out[1:], strict=False)}
        assert diffs == {10000}

    def test_timestamp_to_epoch_ms(self):
        rule = tz.Tz(OSLO)
        assert tz.timestamp_to_epoch_ms("2024-10-01T19:00:00", rule) == 1727802000000
        assert tz.timestamp_to_epoch_ms("2024-01-01T00:00:00", rule) == _utc("2023-12-31T23:00:00") * 1000
        # an offset stated by the meter wins over the rule
        stated = tz.timestamp_to_epoch_ms("2021-09-27T09:47:15+02:00", rule)
        assert stated == _utc("2021-09-27T07:47:15") * 1000
        assert tz.timestamp_to_epoch_ms("2024-10-01T19:00:00Z", rule) == _utc("2024-10-01T19:00:00") * 1000
        with pytest.raises(ValueError):
            tz.parse_timestamp("2024-13-01T00:00:00")
        with pytest.raises(ValueError):
            tz.parse_timestamp("yesterday")

    @pytest.mark.parametrize("spec,zone", [
        (OSLO, "Europe/Oslo"),
        ("EET-2EEST,M3.5.0/3,M10.5.0/4", "Europe/Helsinki"),
        ("EST5EDT,M3.2.0,M11.1.0", "America/New_York"),
        ("AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia/Sydney"),
        ("<+03>-3", "Europe/Istanbul"),
        ("UTC0", "UTC"),
    ])
    def test_matches_zoneinfo_hourly(self, spec, zone):
        rule = tz.Tz(spec)
        info = ZoneInfo(zone)
        t = _utc("2024-01-01T00:00:00")
        end = _utc("2025-01-01T00:00:00")
        while t < end:
            expect = datetime.fromtimestamp(t, info).utcoffset().total_seconds()
            assert rule.offset_at(t) == expect, (spec, t)
            t += 1800

    def test_bad_rules(self):
        for bad in ("", "C", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0", "CET-1x"):
            with pytest.raises(ValueError):
                tz.Tz(bad)

    def test_julian_rules(self):
        rule = tz.Tz("XXX0YYY,J60,J300")     # J60 = March 1 in every year
        start, _end = rule.transitions(2024)
        assert start == _utc("2024-03-01T02:00:00")
        rule = tz.Tz("XXX0YYY,59,300")        # zero-based: day 59 = Feb 29 in a leap year
        start, _end = rule.transitions(2024)
        assert start == _utc("2024-02-29T02:00:00")


# -- modbus ----------------------------------------------------------------------------------------
def _req(tid, unit, fc, addr, count):
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, addr, count)


class TestModbus:
    def test_register_map(self):
        regs = modbus.registers(LIST2)
        assert regs == [2356, 2409, 2393, 1968, 129, 92, 0, 5056]

    def test_unavailable_and_signed_power(self):
        regs = modbus.registers({})
        assert regs == [0xFFFF] * 6 + [0x8000, 0x0000]
        regs = modbus.registers({"p_import_w": 0, "p_export_w": 3000, "u_l1_mv": 230040, "i_l1_ma": -1005})
        assert regs[0] == 2300
        assert regs[3] == 101                     # magnitude, 1.005 A -> 1.01 (half up on mA)
        assert (regs[6] << 16 | regs[7]) == (-3000) & 0xFFFFFFFF
        regs = modbus.registers({"p_import_w": 189000 * 3, "i_l1_ma": 1000000})
        assert (regs[6] << 16 | regs[7]) == 567000
        assert regs[3] == 0xFFFE                  # clamped below the sentinel
        assert modbus.registers({"p_import_w": 5057})[6:] == [0, 5057]   # List 1 only

    def test_fc03_fc04_response(self):
        regs = modbus.registers(LIST2)
        for fc in (3, 4):
            resp = modbus.process_adu(_req(0x1234, 1, fc, 0, 8), 1, regs)
            tid, pid, length, unit, rfc, nbytes = struct.unpack(">HHHBBB", resp[:9])
            assert (tid, pid, length, unit, rfc, nbytes) == (0x1234, 0, 3 + 16, 1, fc, 16)
            assert list(struct.unpack(">8H", resp[9:])) == regs
        resp = modbus.process_adu(_req(7, 1, 3, 6, 2), 1, regs)
        assert struct.unpack(">hH", resp[9:]) == (0, 5056)
        resp = modbus.process_adu(_req(7, 0xFF, 4, 2, 1), 1, regs)
        assert struct.unpack(">H", resp[9:]) == (2393,)

    @pytest.mark.parametrize("fc,addr,count,code", [
        (3, 0, 9, 2), (3, 8, 1, 2), (4, 7, 2, 2), (3, 100, 1, 2),
        (3, 0, 0, 3), (4, 0, 126, 3),
    ])
    def test_exceptions(self, fc, addr, count, code):
        resp = modbus.process_adu(_req(1, 1, fc, addr, count), 1, [0] * 8)
        assert resp[7:] == bytes((fc | 0x80, code))
        assert struct.unpack(">H", resp[4:6])[0] == 3

    def test_other_function_codes_and_units(self):
        for fc in (1, 2, 5, 6, 15, 16, 43):
            adu = struct.pack(">HHHBB", 9, 0, 2, 1, fc)
            assert modbus.process_adu(adu, 1, [0] * 8)[7:] == bytes((fc | 0x80, 1))
        assert modbus.process_adu(_req(1, 5, 3, 0, 1), 1, [0] * 8)[7:] == bytes((0x83, 0x0B))
        bad_len = struct.pack(">HHHBBHHB", 1, 0, 7, 1, 3, 0, 1, 0)
        assert modbus.process_adu(bad_len, 1, [0] * 8)[7:] == bytes((0x83, 3))
        assert modbus.process_adu(struct.pack(">HHHBBHH", 1, 1, 6, 1, 3, 0, 1), 1, [0] * 8) is None


# -- configuration ---------------------------------------------------------------------------------
class TestConfig:
    def test_load_merges_defaults(self, tmp_path):
        path = tmp_path / "c.json"
        path.write_text(json.dumps({"serial": {"device": "/dev/null"}, "modbus": {"port": 1502},
                                    "clock_scale": 10}))
        cfg = config.load(str(path))
        assert cfg["serial"] == {"device": "/dev/null", "baud": 2400, "parity": None}
        assert cfg["modbus"] == {"enabled": False, "host": "127.0.0.1", "port": 1502, "unit_id": 1,
                                 "map": "default", "scale": 1000}
        assert cfg["clock_scale"] == 10.0 and isinstance(cfg["clock_scale"], float)
        assert config.mqtt_topic(cfg) == "han/SIM-0001"
        assert config.mqtt_client_id(cfg) == "han-SIM-0001"

    def test_load_requires_device_and_valid_values(self, tmp_path):
        path = tmp_path / "c.json"
        path.write_text("{}")
        with pytest.raises(ValueError, match="serial.device"):
            config.load(str(path))
        path.write_text(json.dumps({"serial": {"device": "x"}, "tz": "nonsense"}))
        with pytest.raises(ValueError):
            config.load(str(path))

    def test_apply_changes(self):
        cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/x"}})
        new = config.apply_changes(cfg, {"modbus": {"enabled": True}})
        assert new["modbus"]["enabled"] is True and cfg["modbus"]["enabled"] is False
        assert new["modbus"]["port"] == 5020
        for bad in ({"modbus": {"enabled": "yes"}}, {"modbus": {"port": 70000}}, {"nope": 1},
                    {"mqtt": {"topic": "a/#"}}, {"modbus": 1}, [1], {"meter": {"key": "abc"}},
                    {"log_level": "loud"}, {"http": {"port": True}}):
            with pytest.raises(ValueError):
                config.apply_changes(cfg, bad)

    def test_secrets_write_only(self):
        cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/x"}})
        key = "00112233445566778899aabbccddeeff"
        cfg = config.apply_changes(cfg, {"token": "t0k", "meter": {"key": key}, "mqtt": {"password": "pw"}})
        pub = config.public(cfg)
        text = json.dumps(pub)
        assert "t0k" not in text and key not in text and "pw" not in text.replace('"password', "")
        assert pub["token"] is None and pub["token_set"] is True
        assert pub["meter"]["key_set"] is True and pub["meter"]["auth_key_set"] is False
        # posting the GET answer back changes nothing, secrets included
        again = config.apply_changes(cfg, pub)
        assert again == cfg
        assert config.meter_keys(again) == (bytes.fromhex(key), None)
        cleared = config.apply_changes(cfg, {"token": "", "meter": {"key": ""}})
        assert cleared["token"] is None and cleared["meter"]["key"] is None

    def test_save_roundtrip(self, tmp_path):
        cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/x"}})
        path = str(tmp_path / "saved.json")
        config.save(cfg, path)
        assert config.load(path) == cfg


# -- state -----------------------------------------------------------------------------------------
class TestState:
    def test_merge_each_field_from_latest_frame(self):
        st = state_mod.State(OSLO)
        assert st.text() is None and not st.has_reading
        st.update(ok(LIST2, 2))
        st.update(ok(LIST1))
        msg = json.loads(st.text())
        assert msg["pi"][0] == 5057                 # from List 1
        assert msg["pe"][0] == 0                    # still from List 2
        assert msg["u"] == [235.6, 240.9, 239.3]
        assert msg["ts"] == 1727802002000
        assert msg["list"] == 1                     # inferred: List 1 carries only P+
        st.update(ok(dict(LIST2, **LIST3_EXTRA)))
        msg = json.loads(st.text())
        assert msg["list"] == 3 and msg["ic"] == 42879.838
        assert st.readings_published == 3

    def test_none_never_erases(self):
        st = state_mod.State(OSLO)
        it = dict(LIST2, meter_type="MA304H3E", u_l2_mv=None)
        st.update(ok(it, 2))
        assert json.loads(st.text())["u"] == [235.6, None, 239.3]

    def test_list_number_from_decoder_wins(self):
        assert state_mod.list_number({"list": 7, "reading": {}}) == 7
        assert state_mod.list_number({"reading": LIST2}) == 2

    def test_errors_and_counters(self):
        st = state_mod.State(OSLO)
        st.error(outcome.CHECKSUM, "fcs mismatch", "hdlc", 10, 20)
        assert st.last_error["code"] == "checksum" and st.last_error["message"] == "fcs mismatch"
        assert st.last_decrypt_error is None
        st.error(outcome.TRUNCATED, "truncated: got 50 of 122 bytes", "hdlc", 11, 21)
        assert st.last_error["code"] == "truncated" and st.last_error["ts"] == 21
        st.error(outcome.REPLAY, "replay: frame counter 5 after 7", "hdlc", 12, 22)
        assert st.last_decrypt_error is st.last_error and st.last_error["code"] == "replay"
        with pytest.raises(ValueError, match="no outcome code"):
            st.error("fcs mismatch", "hdlc", 10, 20)        # a text is no code

        class Dec:
            counters = {"frames_ok": 2, "truncated": 1}

        st.retire_decoder(Dec())
        counters = st.counters(Dec())
        assert counters["frames_ok"] == 4 and counters["truncated"] == 2
        assert counters["checksum_errors"] == 0 and counters["readings_published"] == 0

    def test_bad_timestamp_is_recorded_not_raised(self):
        st = state_mod.State(OSLO)
        st.update(ok({"timestamp": "garbage", "p_import_w": 1}))
        assert st.ts_ms is None and st.last_error["code"] == "bad_timestamp"
        assert json.loads(st.text())["pi"][0] == 1


# -- MQTT packets ----------------------------------------------------------------------------------
class TestMqttPackets:
    def test_connect_packet(self):
        pkt = mqtt.connect_packet("han-1", 30, "han/1/status", b"offline", True, "u", "p")
        assert pkt[0] == 0x10
        body = pkt[2:]
        assert pkt[1] == len(body)
        assert body[:6] == b"\x00\x04MQTT" and body[6] == 4
        assert body[7] == 0x02 | 0x04 | 0x20 | 0x80 | 0x40
        assert struct.unpack(">H", body[8:10])[0] == 30
        assert body[10:] == b"\x00\x05han-1\x00\x0chan/1/status\x00\x07offline\x00\x01u\x00\x01p"

    def test_publish_packet_and_varlen(self):
        assert mqtt._varlen(0) == b"\x00"
        assert mqtt._varlen(127) == b"\x7f"
        assert mqtt._varlen(128) == b"\x80\x01"
        assert mqtt._varlen(16383) == b"\xff\x7f"
        assert mqtt._varlen(2097151) == b"\xff\xff\x7f"
        pkt = mqtt.publish_packet("t", "x" * 200, retain=True)
        assert pkt[0] == 0x31 and pkt[1:3] == mqtt._varlen(3 + 200)

    def test_read_packet(self):
        async def go():
            reader = asyncio.StreamReader()
            reader.feed_data(b"\x20\x02\x00\x00\xd0\x00")
            reader.feed_eof()
            first = await mqtt.read_packet(reader)
            second = await mqtt.read_packet(reader)
            with pytest.raises(EOFError):
                await mqtt.read_packet(reader)
            return first, second

        assert asyncio.run(go()) == ((0x20, b"\x00\x00"), (0xD0, b""))


# -- LED -------------------------------------------------------------------------------------------
class FakeHal:
    def __init__(self):
        self.t = 0
        self.events = []

    def led(self, r, g, b):
        self.events.append((self.t, (r, g, b)))

    async def sleep_ms(self, ms):
        self.t += ms
        await asyncio.sleep(0)


class TestLed:
    def _play(self, signals, online=True):
        async def go():
            hal = FakeHal()
            lamp = led.Led(hal)
            lamp._boot_shown = True  # booting already shown for its minimum (see test_boot_shows_long_enough...)
            lamp.boot_done()
            lamp.set_online(online)
            task = asyncio.create_task(lamp.run())
            for name in signals:
                lamp.signal(name)
            for _ in range(50):
                await asyncio.sleep(0)
            task.cancel()
            return hal.events

        return asyncio.run(go())

    def test_boot_and_base(self):
        events = self._play([], online=True)
        assert events == [(0, led.DIM_RED), (0, led.DIM_GREEN)]
        events = self._play([], online=False)
        assert events == [(0, led.DIM_RED)]

    def test_boot_shows_long_enough_for_an_instrument_to_see_it(self):
        async def go():
            hal = FakeHal()
            lamp = led.Led(hal)
            task = asyncio.create_task(lamp.run())
            lamp.boot_done()  # the reader is up at once: booting still shows for its minimum
            lamp.set_online(True)
            for _ in range(20):
                await asyncio.sleep(0)
            task.cancel()
            return hal.events

        assert asyncio.run(go()) == [(0, led.DIM_RED), (led.BOOT_SHOW_MS, led.DIM_GREEN)]

    def test_read_ok_flash(self):
        events = self._play(["read_ok"])
        assert events[2:] == [(0, led.MAGENTA), (100, led.DIM_GREEN)]

    def test_read_failed_pattern(self):
        events = self._play(["read_failed"], online=False)
        assert events[1:] == [(0, led.RED), (125, led.OFF), (250, led.RED), (375, led.OFF),
                              (500, led.DIM_RED)]

    def test_backlog_bounded_failure_wins(self):
        events = self._play(["read_ok", "read_failed", "read_ok", "read_ok"])
        colours = [c for _, c in events[2:]]
        assert colours == [led.RED, led.OFF, led.RED, led.OFF, led.DIM_GREEN]


# -- HTTP dispatch (no sockets) --------------------------------------------------------------------
class TestHttpDispatch:
    def _call(self, app, method, target, body=b"", headers=None):
        return asyncio.run(HttpServer(app).dispatch(method, target, headers or {}, body))

    def test_routes(self):
        app = ServiceApp()
        assert self._call(app, "GET", "/meter")[0] == 503
        assert self._call(app, "GET", "/meter/data")[0] == 503
        app.state.update(ok(LIST2, 2))
        status, text, _ = self._call(app, "GET", "/meter")
        assert status == 200 and json.loads(text)["pi"][0] == 5056
        assert self._call(app, "GET", "/meter/data")[1] == text
        assert self._call(app, "GET", "/han")[0] == 200
        assert self._call(app, "GET", "/health")[0] == 200
        assert self._call(app, "GET", "/nope")[0] == 404
        status, _, extra = self._call(app, "POST", "/meter")
        assert status == 405 and "Allow: GET" in extra
        assert self._call(app, "GET", "/meter?since=1")[0] == 400

    def test_configuration_post(self):
        app = ServiceApp()
        status, text, _ = self._call(app, "POST", "/configuration", b'{"modbus": {"enabled": true}}')
        assert status == 200 and json.loads(text)["modbus"]["enabled"] is True
        assert self._call(app, "POST", "/configuration", b"{bad")[0] == 400
        assert self._call(app, "POST", "/configuration", b'{"modbus": {"port": "x"}}')[0] == 400

    def test_token(self):
        app = ServiceApp(token="s3cret")
        assert self._call(app, "GET", "/health")[0] == 401
        assert self._call(app, "GET", "/health", headers={"authorization": "Bearer nope"})[0] == 401
        assert self._call(app, "GET", "/health", headers={"authorization": "Bearer s3cret"})[0] == 200
        status, text, _ = self._call(app, "GET", "/configuration",
                                     headers={"authorization": "Bearer s3cret"})
        assert status == 200 and "s3cret" not in text


def test_fw_config_load_ignores_unknown_and_accepts_key_aliases(tmp_path):
    path = tmp_path / "c.json"
    key = "00112233445566778899aabbccddeeff"
    path.write_text(json.dumps({"serial": {"device": "/dev/x", "flow": "none"}, "future": 1, "key": key}))
    ignored: list[str] = []
    cfg = config.load(str(path), ignored)
    assert sorted(ignored) == ["future", "serial.flow"]
    assert cfg["meter"]["key"] == key


# -- numbers of any length ---------------------------------------------------------------------------
class TestLongNumbers:
    def test_fixed_renders_any_int_exactly(self):
        assert message.fixed(10**40 + 7, 3) == "1" + "0" * 37 + ".007"
        assert message.fixed(-(10**25), 0) == "-1" + "0" * 25

    def test_state_renders_a_number_longer_than_its_buffer_exactly(self):
        st = state_mod.State(OSLO)
        huge = 10**300 + 123456789
        st.update(ok({"timestamp": "2024-10-01T19:00:10", "e_import_wh": huge, "p_import_w": 10**25}))
        msg = json.loads(st.text())
        assert msg["ic"] is not None and st.text().startswith(b'{"type":"HAN_METER_MESSAGE"')
        assert b'"ic":' + message.fixed(huge, 3).encode() + b"," in st.text()
        assert msg["pi"][0] == 10**25
        st.update(ok(LIST1))                  # the next message fits the grown buffer too
        assert json.loads(st.text())["pi"][0] == 5057
