"""The security options of `rig frames`, `rig emulate` and `rig run`, run as the `rig` console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from rig.cli_security import run_security, security_of
from rig.emulators import get_profile, hdlc
from rig.emulators.ciphered import unseal
from rig.emulators.security import parse_glo

RIG = str(Path(sys.executable).with_name("rig"))
KEY = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
AK = "A1A2A3A4A5A6A7A8A9AAABACADAEAFA0"


def rig(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([RIG, *args], capture_output=True, text=True, timeout=60, input=stdin)


def _frames(*args: str) -> list[dict]:
    done = rig("frames", "--at", "2024-10-01T19:00:00", "--json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_frames_encrypt_a_plain_profile_with_a_counter_per_frame() -> None:
    lines = _frames("--meter", "kaifa-ma304h4", "--count", "3", "--key", KEY, "--auth-key", AK,
                    "--frame-counter", "41", "--system-title", "4B464D0000000042")
    plain = _frames("--meter", "kaifa-ma304h4", "--count", "3")
    for n, (line, clear) in enumerate(zip(lines, plain, strict=True)):
        data = bytes.fromhex(line["hex"])
        parts = parse_glo(hdlc.split_frame(data)[3][3:])
        assert (parts.security_control, parts.frame_counter, parts.system_title.hex()) == (0x30, 41 + n,
                                                                                           "4b464d0000000042")
        assert unseal(data, "hdlc", bytes.fromhex(KEY), bytes.fromhex(AK)).hex() == clear["hex"]
        assert line["reading"] == clear["reading"]


def test_frames_of_an_encrypting_profile_use_its_test_keys() -> None:
    lines = _frames("--meter", "sagemcom-smarty", "--count", "2")
    security = get_profile("sagemcom-smarty").security
    for n, line in enumerate(lines, 1):
        data = bytes.fromhex(line["hex"])
        assert parse_glo(data).frame_counter == n
        assert unseal(data, "p1", security.key, security.auth_key).startswith(b"/Lux5")
    text = rig("frames", "--meter", "sagemcom-smarty", "--at", "2024-10-01T19:00:00")
    assert text.returncode == 0 and "db0853414767" in text.stdout  # ciphered bytes shown as hex


@pytest.mark.parametrize(("args", "message"), [
    (("--key", "0011"), "a key must be 32 hex digits (16 bytes); got 4 characters"),
    (("--key", "Z" * 32), "not all hex"),
    (("--key", KEY, "--auth-key", "00"), "'--auth-key': a key must be 32 hex digits"),
    (("--key", KEY, "--security-control", "0x10"), "not a security control HAN meters send; one of 0x20, 0x21, 0x30"),
    (("--key", KEY, "--security-control", "0x30"), "'--security-control': 0x30 authenticates every frame"),
    (("--auth-key", AK), "'--auth-key': kaifa-ma304h4 sends plain frames; give --key"),
    (("--key", KEY, "--system-title", "4B464D"), "the system title must be 16 hex digits"),
    (("--key", KEY, "--frame-counter", "4294967296"), "--frame-counter"),
])
def test_bad_security_options_say_why(args: tuple[str, ...], message: str) -> None:
    done = rig("frames", "--meter", "kaifa-ma304h4", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert KEY not in done.stderr and AK not in done.stderr  # a key is never quoted back


def test_run_with_a_capture_takes_only_the_keys(tmp_path: Path) -> None:
    capture = Path(__file__).resolve().parents[1] / "captures/kaifa/kaifa_at_netznoe_mbus_enc.jsonl"
    done = rig("run", "--no-store", "--capture", str(capture),
               "--system-title", "4B464D6750000009", "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 2 and "a capture is replayed as recorded" in done.stderr


def test_emulate_says_it_encrypts_and_never_shows_the_key() -> None:
    done = rig("emulate", "--meter", "landis-gyr-e450-burgenland", "--port", "loop://", "--duration", "10s",
               "--speed", "100", "--start", "2025-01-01T10:00:00", "--json")
    assert done.returncode == 0, done.stderr
    assert "frames encrypted: SC 0x30, system title 4C475A6772A9A111, first frame counter 1, key ***" in done.stderr
    writes = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(writes) == 2
    security = get_profile("landis-gyr-e450-burgenland").security
    for blob in (done.stdout, done.stderr):
        assert security.key.hex() not in blob.lower() and security.auth_key.hex() not in blob.lower()


def test_security_of_keeps_the_profiles_keys_and_changes_what_is_given() -> None:
    profile = get_profile("kaifa-ma309-netznoe")
    assert security_of(profile) is profile.security
    changed = security_of(profile, frame_counter=99, auth_key=bytes(16))
    assert (changed.key, changed.frame_counter, changed.security_control) == (profile.security.key, 99, 0x30)
    assert security_of(get_profile("kaifa-ma304h4")) is None
    mine = security_of(get_profile("aidon-6534"), key=bytes(16))
    assert (mine.system_title[:3], mine.security_control, mine.frame_counter) == (b"ADN", 0x20, 1)


def test_run_security_of_a_capture_gives_the_dut_keys() -> None:
    security, keys = run_security(get_profile("kaifa-ma304h4"), True, {"key": bytes(16), "auth_key": None})
    assert security is None and keys == {"key": "00" * 16}
    with pytest.raises(click.BadParameter, match="a capture is replayed as recorded"):
        run_security(get_profile("kaifa-ma304h4"), True, {"frame_counter": 3})


ROOT = Path(__file__).resolve().parents[1]
KEYED = sorted(p for p in ROOT.glob("captures/*/*.jsonl")
               if (h := json.loads(p.read_text().splitlines()[0])).get("encrypted") and h.get("key_ek"))


@pytest.mark.parametrize("path", KEYED, ids=lambda p: p.stem)
def test_decode_with_the_published_keys_gives_the_expected_values(path: Path) -> None:
    header = json.loads(path.read_text().splitlines()[0])
    args = ["--key", header["key_ek"], *(["--auth-key", header["key_ak"]] if header.get("key_ak") else [])]
    done = rig("decode", *args, str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert results and all(r["ok"] for r in results)
    reading = results[-1]["reading"]
    for name, value in header.get("expected", {}).items():
        got = reading.get(name)
        assert (got[:19] if name == "timestamp" else got) == value, name


def test_decode_with_a_wrong_key_or_tag_says_so() -> None:
    path = ROOT / "captures/landis-gyr/lg_e450_at_gh501_1_hdlc_enc.jsonl"
    header = json.loads(path.read_text().splitlines()[0])
    wrong_key = ["--key", "00" * 16, "--auth-key", header["key_ak"]]
    wrong_auth_key = ["--key", header["key_ek"], "--auth-key", "00" * 16]
    for args in (wrong_key, wrong_auth_key):
        done = rig("decode", *args, str(path))
        assert done.returncode == 1
        result = json.loads(done.stdout.splitlines()[0])
        assert result["ok"] is False and "decrypt" in result["error"]
        assert header["key_ek"].lower() not in done.stdout.lower() + done.stderr.lower()


def _takes_a_key() -> dict[str, click.Command]:
    from rig.cli import main

    return {name: command for name, command in main.commands.items()
            if any("--key" in param.opts for param in command.params)}


@pytest.mark.parametrize("option", ["--key", "--auth-key"])
@pytest.mark.parametrize(("value", "why"), [(KEY[:-1], "got 31 characters"),
                                            (KEY[:-2] + "ZZ", "got 32 characters, not all hex"),
                                            (f"{KEY} {AK}", "got 65 characters, not all hex")])
def test_every_command_refuses_a_bad_key_with_the_same_message_and_never_quotes_it(option: str, value: str,
                                                                                   why: str) -> None:
    commands = _takes_a_key()
    assert {"decode", "emulate", "frames", "run"} <= set(commands)
    required = {"emulate": ["--meter", "kaifa-ma304h4", "--port", "loop://"], "frames": ["--meter", "kaifa-ma304h4"]}
    messages = {}
    for name, command in commands.items():
        with pytest.raises(click.BadParameter) as refused:  # parsed only: nothing runs
            command.make_context(name, [f"{option}={value}", *required.get(name, [])])
        messages[name] = refused.value.format_message()
        assert value not in messages[name] and KEY[:8] not in messages[name], name
    assert set(messages.values()) == {
        f"Invalid value for '{option}': a key must be 32 hex digits (16 bytes); {why}"}, messages


def test_decode_takes_a_key_with_white_space_around_it() -> None:
    path = ROOT / "captures/landis-gyr/lg_e450_at_gh501_1_hdlc_enc.jsonl"
    header = json.loads(path.read_text().splitlines()[0])
    done = rig("decode", "--key", f" {header['key_ek']}\n", "--auth-key", header["key_ak"], str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(json.loads(line)["ok"] for line in done.stdout.splitlines())
