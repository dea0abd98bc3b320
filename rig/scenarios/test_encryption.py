"""Encrypted meters end to end: general-glo-ciphering on M-Bus, HDLC and P1 into the reader, keys kept secret.

Each encrypted profile (and a plain one encrypted on request) streams through a short `rig run` and must
pass on HTTP, Modbus and MQTT. A wrong key or a wrong authentication key: every frame counted in the DUT's
``decrypt_errors`` and nothing published. A key set at run time (POST /configuration) takes effect at once.
Nothing the rig or the DUT writes or answers carries a key: the run folder and the responses are scanned
for every key, in hex (either case) and as raw bytes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from rig.emulators import get_profile
from rig.emulators.security import Security
from rig.emulators.smarty import SMARTY_AAD_KEY
from rig.runner import RunOptions, run

ENCRYPTED = ["kaifa-ma309-netznoe", "landis-gyr-e450-burgenland", "sagemcom-smarty"]
START = datetime(2025, 3, 10, 11, 59, 40)
ON_REQUEST_KEY = bytes.fromhex("8A9B0C1D2E3F405162738495A6B7C8D9")
ON_REQUEST_AK = bytes.fromhex("F0E1D2C3B4A5968778695A4B3C2D1E0F")


def _keys(security: Security) -> list[bytes]:
    return [k for k in (security.key, security.auth_key) if k]


def _forms(key: bytes) -> list[bytes]:
    """A key as it could leak: raw bytes, hex in either case."""
    return [key, key.hex().encode(), key.hex().upper().encode()]


def scan_for_keys(folder: Path, keys: list[bytes], texts: tuple[str, ...] = ()) -> list[str]:
    """Where any form of any key appears: files of ``folder`` (recursively) and the ``texts`` given."""
    found = []
    blobs = [(str(p), p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()]
    blobs += [(f"response {n}", t.encode()) for n, t in enumerate(texts)]
    for name, blob in blobs:
        for key in keys:
            if any(form in blob for form in _forms(key)):
                found.append(name)
    return found


@pytest.fixture(scope="module", autouse=True)
def no_key_in_the_session_folder(rig_run_dir: Path):
    """After this module: no key it used is anywhere in the session's folder (every scenario's logs, the
    broker's, the records so far). The Smarty AAD key is left out: a fixed public value, not a secret."""
    yield
    keys = [k for p in ENCRYPTED for k in _keys(get_profile(p).security) if k != SMARTY_AAD_KEY]
    assert not scan_for_keys(rig_run_dir, [*keys, ON_REQUEST_KEY, ON_REQUEST_AK])


def _run(bench, folder: Path, **kwargs):
    options = RunOptions(bench=bench, run_dir=folder, duration_s=kwargs.pop("duration_s", 40.0),
                         speed=kwargs.pop("speed", 8.0), start=kwargs.pop("start", START), **kwargs)
    return run(options)


@pytest.mark.parametrize("profile_id", ENCRYPTED)
def test_encrypted_profile_passes_a_run(bench, rig_workdir: Path, profile_id: str) -> None:
    result = _run(bench, rig_workdir / "run", meter=profile_id)
    summary = result.as_dict()
    assert result.ok, summary
    interfaces = {name: s.passed for name, s in result.interfaces.items()}
    for name in ("http", "modbus", "mqtt"):
        if bench.has(name) or name == "http":
            assert interfaces.get(name, 0) > 0, interfaces
    assert result.dut_counters and result.dut_counters.get("frames_ok") == result.frames_sent
    assert summary["security"]["key"] == "***"
    if bench.is_software:  # the DUT's own config file is private; the run folder holds a redacted copy
        copy = json.loads((rig_workdir / "run" / "dut-config.json").read_text())
        assert copy["meter"]["key"] == "***"
    assert not scan_for_keys(rig_workdir, _keys(get_profile(profile_id).security))


def test_a_plain_profile_encrypted_on_request_passes_a_run(bench, rig_workdir: Path) -> None:
    security = Security(key=ON_REQUEST_KEY, auth_key=ON_REQUEST_AK, system_title=b"KFM\x00\x00\x00\x00\x07",
                        security_control=0x30, frame_counter=1000)
    result = _run(bench, rig_workdir / "run", meter="kaifa-ma304h4", security=security, duration_s=30.0)
    assert result.ok, result.as_dict()
    assert result.dut_counters and result.dut_counters["frames_ok"] == result.frames_sent > 0
    assert not scan_for_keys(rig_workdir, _keys(security))


def _settled(h, count: int, counter: str) -> dict:
    return h.wait_for(lambda: (c := h.health()["counters"]).get(counter, 0) >= count and c, timeout=5,
                      what=f"{count} frames counted in {counter}")


def _responses(h) -> tuple[str, ...]:
    paths = ("/configuration", "/health", "/state", "/meter", "/meter/data")
    return tuple(requests.get(h.dut.http_url + path, timeout=2).text for path in paths)


@pytest.mark.parametrize(("profile_id", "wrong"), [
    ("kaifa-ma309-netznoe", "key"),
    ("landis-gyr-e450-burgenland", "key"),
    ("landis-gyr-e450-burgenland", "auth_key"),
    ("sagemcom-smarty", "auth_key"),
])
def test_a_wrong_key_counts_every_frame_and_publishes_nothing(harness, profile_id: str, wrong: str) -> None:
    h = harness(profile=profile_id, speed=8, start=START)
    security = h.profile.security
    keys = {"key": security.key.hex(), "auth_key": security.auth_key.hex() if security.auth_key else None}
    keys[wrong] = bytes(reversed(bytes.fromhex(keys[wrong]))).hex()
    h.http.configure({"meter": {k: v for k, v in keys.items() if v}})
    frames = h.frames(4)

    result = h.stream(frames)  # HTTP and Modbus polled, MQTT subscribed: each must see nothing at all

    nothing = ("showed nothing", "showed 503 (no reading)", "no message within one frame interval")
    assert result.checks and all(c.outcome == "fail" and c.detail.endswith(nothing) for c in result.checks), \
        [c.describe() for c in result.checks if not c.detail.endswith(nothing)]
    assert {c.interface for c in result.checks} >= {"http"} | {n for n in ("modbus", "mqtt") if h.bench.has(n)}
    counters = _settled(h, len(frames), "decrypt_errors")
    assert counters["decrypt_errors"] == len(frames)
    assert counters["frames_ok"] == 0 and counters.get("readings_published", 0) == 0
    assert counters.get("mqtt_published", 0) == 0
    assert h.http.meter() is None  # 503: nothing decoded, nothing shown
    health = h.health()
    assert health.get("last_decrypt_error") or health.get("last_error")
    texts = _responses(h)
    assert not scan_for_keys(h.workdir, [security.key, *_keys(security)], texts)
    wrong_key = bytes.fromhex(keys[wrong])
    assert not any(form.decode() in text for text in texts for form in _forms(wrong_key)[1:])


def test_a_key_set_at_run_time_takes_effect(harness) -> None:
    h = harness(profile="landis-gyr-e450-burgenland", speed=8, start=START)
    security = h.profile.security
    h.http.configure({"meter": {"key": "", "auth_key": ""}})  # "" clears a key the DUT may have started with
    first = h.frames(2)
    for frame in first:
        h.send(frame.data)
    assert _settled(h, 2, "decrypt_errors")["frames_ok"] == 0  # no key yet: counted, not shown
    assert h.http.meter() is None

    h.http.configure({"meter": {"key": security.key.hex(), "auth_key": security.auth_key.hex()}})
    result = h.stream(h.frames(4, start=first[-1].at + timedelta(seconds=5)))

    h.assert_passed(result)
    assert h.health()["counters"]["decrypt_errors"] == 2
    configuration = h.http.configuration()
    texts = _responses(h)
    assert not scan_for_keys(h.workdir, _keys(security), texts)
    assert "meter" not in configuration or all(configuration["meter"].get(k) in (None, "", "***", True, False)
                                               for k in ("key", "auth_key"))


def test_a_replayed_frame_is_counted_and_not_published(harness) -> None:
    """A frame sent again with its frame counter (a replay: the counter goes back) is counted in `replays`
    and nothing of it is published; the next new frame is decoded and shown as usual."""
    h = harness(profile="landis-gyr-e450-burgenland", speed=8, start=START)
    frames = h.frames(3)
    h.assert_passed(h.stream(frames[:2]))
    shown = h.http.meter_message()
    h.send(frames[0].data)  # the first frame again: its counter is behind the last one the reader saw
    counters = _settled(h, 1, "replays")
    assert counters["replays"] == 1 and counters["frames_ok"] == 2 and counters["readings_published"] == 2
    assert h.http.meter_message() == shown  # the replayed values were not taken
    assert "replay" in json.dumps(h.health().get("last_error"))
    h.assert_passed(h.stream(frames[2:]))
