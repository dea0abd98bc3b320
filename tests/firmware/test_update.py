"""Firmware update (services/update.py, hal/unix_update.py): the image format in-process, then POST /update on
the software DUT running on the real MicroPython port: a good image is taken and the DUT comes back with the
new version; a wrong hash, an image that does not import and a bad archive are refused with 400 and the
running firmware keeps running."""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import pytest
import requests

import dut_firmware
from dut_firmware import config
from dut_firmware.hal.contract import Hal
from dut_firmware.hal.unix import UnixHal
from dut_firmware.hal.unix_update import unpack
from dut_firmware.services import update
from rig.dut import SoftwareDut
from rig.line import LineSettings
from rig.links import PtyLink
from rig.wait import wait_until

FIRMWARE_DIR = Path(dut_firmware.__path__[0])
TOKEN = "upd-token"
READ_TOKEN = "read-only"


def image(root: Path, version: str | None = None, append: tuple[str, str] | None = None) -> bytes:
    """A ustar image of a copy of the firmware: VERSION changed to ``version``, ``append`` = (module, code)."""
    pkg = root / "dut_firmware"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(FIRMWARE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if version:
        cfg = pkg / "config.py"
        cfg.write_text(cfg.read_text().replace('VERSION = "0.1.0"', f'VERSION = "{version}"'))
    if append:
        with open(pkg / append[0], "a") as fh:
            fh.write(append[1])
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(pkg, arcname="dut_firmware")
    return out.getvalue()


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_unpack_writes_the_package_and_refuses_paths_outside_it_links_and_truncation(tmp_path):
    good = _tar((tarfile.TarInfo("dut_firmware/main.py"), b"x = 1\n"), (tarfile.TarInfo("dut_firmware/a/b.py"), b""))
    (tmp_path / "good.tar").write_bytes(good)
    assert unpack(str(tmp_path / "good.tar"), str(tmp_path / "out")) == 2
    assert (tmp_path / "out" / "dut_firmware" / "main.py").read_bytes() == b"x = 1\n"
    link = tarfile.TarInfo("dut_firmware/evil")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    cases = {"outside": _tar((tarfile.TarInfo("dut_firmware/../../x.py"), b"")),
             "other": _tar((tarfile.TarInfo("other/main.py"), b"")),
             "link": _tar((link, b"")),
             "truncated": good[:700],
             "not tar": b"\0" * 100 + b"x" * 924}
    why = {"outside": "not inside dut_firmware", "other": "not inside dut_firmware", "link": "plain files",
           "truncated": "truncated", "not tar": "not a ustar archive"}
    for name, data in cases.items():
        (tmp_path / "bad.tar").write_bytes(data)
        with pytest.raises(ValueError, match=why[name]):
            unpack(str(tmp_path / "bad.tar"), str(tmp_path / name))
    assert not (tmp_path / "x.py").exists()


def _post(dut: SoftwareDut, data: bytes, digest: str | None = None, token: str = TOKEN) -> requests.Response:
    headers = {"X-Firmware-SHA256": digest or hashlib.sha256(data).hexdigest(), "Authorization": f"Bearer {token}"}
    return requests.post(dut.http_url + "/update", data=data, headers=headers, timeout=30)


def _version(dut: SoftwareDut) -> str | None:
    try:
        return requests.get(dut.http_url + "/han", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2).json()[
            "version"]
    except (requests.RequestException, ValueError):
        return None


class _NoUpdates(UnixHal):
    """A unix HAL on a board without an update store: update_begin declared absent (hal/contract.py)."""
    absent = ("update_begin",)
    update_begin = Hal.update_begin


def _receive(hal, body: bytes):
    headers = {"content-length": str(len(body)), "x-firmware-sha256": hashlib.sha256(body).hexdigest()}

    async def read(n):
        return b""

    return asyncio.run(update.receive(hal, headers, body, read))


def test_a_hal_without_an_update_store_refuses_an_image_and_one_with_it_installs_into_its_store(tmp_path):
    cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null"}})
    with pytest.raises(update.UpdateError) as err:
        _receive(_NoUpdates(cfg), b"x" * 10)
    assert (err.value.status, err.value.message) == (400, "no firmware update on this unit")
    hal = UnixHal(cfg)
    with pytest.raises(update.UpdateError) as err:
        _receive(hal, b"x" * 10)                # offered, but no store set: the HAL says why
    assert err.value.status == 400 and "no firmware store" in err.value.message
    hal.store = str(tmp_path / "firmware")
    writer, version = _receive(hal, image(tmp_path / "img", version="0.9.9"))
    assert version == "0.9.9" and writer.slot.endswith("/a")
    assert (tmp_path / "firmware" / "a" / "dut_firmware" / "main.py").exists()


def test_a_good_image_is_taken_and_bad_ones_refused_while_the_firmware_keeps_running(tmp_path):
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path / "run", link.device, extra_config={"token": TOKEN, "read_token": READ_TOKEN},
                        ready_timeout=20) as dut:
        assert _version(dut) == "0.1.0"
        good = image(tmp_path / "good", version="0.2.0-update")
        assert _post(dut, good, token="wrong").status_code == 401
        refused = _post(dut, good, token=READ_TOKEN)
        assert refused.status_code == 403 and "may not update" in refused.json()["error"]
        assert requests.get(dut.http_url + "/update", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=5).status_code == 405
        pid = dut.pid

        bad_hash = _post(dut, good, digest="00" * 32)
        assert bad_hash.status_code == 400 and "SHA-256 mismatch" in bad_hash.json()["error"]
        broken = image(tmp_path / "broken", version="0.3.0", append=("state.py", "\ndef broken(:\n"))
        refused = _post(dut, broken)
        assert refused.status_code == 400 and "does not import" in refused.json()["error"], refused.text
        not_tar = _post(dut, b"not a firmware image " * 40)
        assert not_tar.status_code == 400 and "not a ustar archive" in not_tar.json()["error"]
        assert dut.pid == pid and dut.alive() and _version(dut) == "0.1.0"
        assert not (tmp_path / "run" / "firmware" / "current").exists()

        taken = _post(dut, good)
        assert taken.status_code == 200 and taken.json() == {"ok": True, "version": "0.2.0-update", "restart": True}
        wait_until(lambda: _version(dut) == "0.2.0-update", 30, "the updated firmware answering", hint=dut.tail)
        assert dut.pid != pid and dut.firmware_dir == tmp_path / "run" / "firmware" / "a" / "dut_firmware"
        blue = [line for line in (tmp_path / "run" / "led.events").read_text().splitlines()
                if line.split()[1:] == ["0", "0", "255"]]
        assert blue, "the LED never showed the firmware update"

        again = _post(dut, image(tmp_path / "again", version="0.2.1"), digest="11" * 32)
        assert again.status_code == 400 and _version(dut) == "0.2.0-update"
