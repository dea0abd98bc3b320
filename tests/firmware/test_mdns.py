"""The mDNS responder (services/mdns.py): its pure query/answer functions in-process, then the real firmware
on MicroPython found on loopback by a raw-socket legacy query and by zeroconf browsing and resolving."""

from __future__ import annotations

import asyncio
import struct
import uuid

import pytest

from dut_firmware import config
from dut_firmware.hal.contract import Hal
from dut_firmware.hal.unix import UnixHal
from dut_firmware.services import mdns
from rig.dut import SoftwareDut
from rig.line import LineSettings
from rig.links import PtyLink
from rig.probes.mdns import browse, parse_response, query

SERVICE = mdns.Service("HAN reader SIM-9", "han-SIM-9", 8080, ["serial=SIM-9", "model=M", "version=0.1.0"],
                       "127.0.0.1")


def q(name, qtype, qid=0, unicast=False):
    return (struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + mdns.encode_name(name)
            + struct.pack(">HH", qtype, 0x8001 if unicast else 1))


def test_ptr_query_answers_the_instance_with_srv_txt_and_a():
    resp = mdns.answer(SERVICE, q("_http._tcp.local", 12), legacy=False)
    records = parse_response(resp)
    assert records[0] == ("_http._tcp.local.", "PTR", "HAN reader SIM-9._http._tcp.local.")
    assert ("HAN reader SIM-9._http._tcp.local.", "SRV", (8080, "han-SIM-9.local.")) in records
    assert ("HAN reader SIM-9._http._tcp.local.", "TXT", {"serial": "SIM-9", "model": "M", "version": "0.1.0"}) \
        in records
    assert ("han-SIM-9.local.", "A", "127.0.0.1") in records
    assert struct.unpack(">HH", resp[:4]) == (0, 0x8400)


def test_legacy_query_echoes_id_and_question_and_other_names_get_nothing():
    resp = mdns.answer(SERVICE, q("han-sim-9.local", 1, qid=0x1234), legacy=True)
    assert struct.unpack(">HHH", resp[:6]) == (0x1234, 0x8400, 1)
    assert parse_response(resp) == [("han-SIM-9.local.", "A", "127.0.0.1")]
    assert mdns.answer(SERVICE, q("_ipp._tcp.local", 12), legacy=False) is None
    assert mdns.answer(SERVICE, q("_http._tcp.local", 1), legacy=False) is None        # A of a service name
    assert mdns.answer(SERVICE, SERVICE.announcement(), legacy=False) is None          # a response: ignored


def test_compressed_names_and_malformed_packets():
    # question 2 points back at "local" of question 1 (offset 12 + len("\x05_http\x04_tcp") = 23)
    packet = (struct.pack(">HHHHHH", 0, 0, 2, 0, 0, 0) + mdns.encode_name("_http._tcp.local") + b"\0\x0c\0\x01"
              + b"\x03foo\xc0\x17" + b"\0\x0c\0\x01")
    assert mdns.parse_query(packet)[1] == [("_http._tcp.local", 12, False), ("foo.local", 12, False)]
    for bad in (b"\0" * 5, struct.pack(">6H", 0, 0, 1, 0, 0, 0) + b"\x05ab",
                struct.pack(">6H", 0, 0, 1, 0, 0, 0) + b"\xc0\x0c\0\x0c\0\x01",      # a pointer to itself
                struct.pack(">6H", 0, 0, 1, 0, 0, 0) + b"\x40abc\0\0\x0c\0\x01"):
        with pytest.raises(ValueError):
            mdns.answer(SERVICE, bad, legacy=False)


def test_config_has_mdns_off_by_default_and_checks_the_port():
    cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/x"}})
    assert cfg["mdns"] == {"enabled": False, "interface": "127.0.0.1", "port": 5353}
    cfg["mdns"]["port"] = 70000
    with pytest.raises(ValueError, match="mdns.port"):
        config.validate(cfg)


@pytest.fixture
def dut(tmp_path, micropython):
    serial = "MDNS-" + uuid.uuid4().hex[:6].upper()   # a name of its own among the host's other DUTs
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path, link.device, micropython=micropython, serial_number=serial,
                        extra_config={"mdns": {"enabled": True}}) as device:
        device.wait_for_line("mdns on 127.0.0.1:5353", timeout=5)
        yield device


@pytest.mark.slow
def test_a_hal_without_multicast_leaves_mdns_off_and_says_so(tmp_path):
    """A board whose HAL declares udp_multicast absent (hal/contract.py): the responder does not start."""
    class NoMulticast(UnixHal):
        absent = ("udp_multicast",)
        udp_multicast = Hal.udp_multicast

    cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null"}})
    logs = []
    responder = mdns.MdnsResponder(NoMulticast(cfg), lambda level, msg: logs.append((level, msg)))
    asyncio.run(responder.start(0, "127.0.0.1", 8080, cfg["device"]))
    assert not responder.running and responder.sock is None
    assert logs == [("WARNING", "mdns: this unit has no multicast socket")]


def test_raw_legacy_query_finds_the_firmware(dut):
    instance = f"HAN reader {dut.serial_number}._http._tcp.local."
    ptr = query("_http._tcp.local", "PTR")
    assert ("_http._tcp.local.", "PTR", instance) in ptr
    srv = [value for name, kind, value in ptr if kind == "SRV" and name == instance]
    assert srv == [(dut.http_port, f"han-{dut.serial_number}.local.")]
    txt = [value for name, kind, value in ptr if kind == "TXT" and name == instance]
    assert txt == [{"serial": dut.serial_number, "model": "HAN-RIG-SW", "version": config.VERSION, "path": "/"}]
    assert query(f"han-{dut.serial_number}.local", "A") == [(f"han-{dut.serial_number}.local.", "A", "127.0.0.1")]


@pytest.mark.slow
def test_zeroconf_browses_and_resolves_the_firmware(dut):
    pytest.importorskip("zeroconf", reason="zeroconf is not installed")
    found = {s.name: s for s in browse(timeout=5)}
    instance = f"HAN reader {dut.serial_number}._http._tcp.local."
    assert instance in found, f"zeroconf saw {sorted(found)}"
    service = found[instance]
    assert service.port == dut.http_port and service.addresses == ["127.0.0.1"]
    assert service.host == f"han-{dut.serial_number}.local."
    assert service.txt == {"serial": dut.serial_number, "model": "HAN-RIG-SW", "version": config.VERSION,
                           "path": "/"}


@pytest.mark.slow
def test_mdns_switched_at_run_time(tmp_path, micropython):
    from rig.probes import ProbeTimeout
    from rig.probes.http import HttpProbe

    serial = "MDNS-" + uuid.uuid4().hex[:6].upper()
    host = f"han-{serial}.local"
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path, link.device, micropython=micropython, serial_number=serial) as dut, \
            HttpProbe(dut.http_url) as http:
        assert http.health()["mdns"]["running"] is False
        with pytest.raises(ProbeTimeout):
            query(host, "A", timeout=0.5)
        assert http.configure({"mdns": {"enabled": True}})["mdns"]["enabled"] is True
        assert query(host, "A") == [(host + ".", "A", "127.0.0.1")]
        health = http.health()["mdns"]
        assert health["running"] is True and health["counters"]["answers"] >= 1
        http.configure({"mdns": {"enabled": False}})
        with pytest.raises(ProbeTimeout):
            query(host, "A", timeout=0.5)
