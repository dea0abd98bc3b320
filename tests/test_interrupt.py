"""`rig run` stopped by a signal, as a terminal's Ctrl-C or a CI timeout stops it: real processes, real signals.

The run must stop at once, bring every process it started down, keep what it checked until then in
summary.json (verdict "interrupted"), print its summary, and exit 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rig.netutil import free_port
from rig.session import Interrupted, StopSignals
from rig.wait import wait_until

RIG = str(Path(sys.executable).with_name("rig"))


@contextmanager
def sigint_as_a_terminal_sends_it() -> Iterator[None]:
    """A shell that starts pytest in the background ignores SIGINT, and an ignored signal stays ignored
    across exec: let the rig inherit the default disposition, as from an interactive terminal."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start_rig(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """`rig run` for ten minutes in real time, in a process group of its own (the terminal's foreground group)."""
    run_dir = (tmp_path / "run").resolve()
    out, err = open(tmp_path / "stdout", "w"), open(tmp_path / "stderr", "w")
    with sigint_as_a_terminal_sends_it(), out, err:
        proc = subprocess.Popen([RIG, "run", "--no-store", "--duration", "10m", "--speed", "1",
                                 "--run-dir", str(run_dir), *args],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, run_dir


def processes_of(run_dir: Path) -> dict[int, str]:
    """The live processes whose command line names a file in the run folder (the broker's config, the
    DUT's config), by PID; the rig itself names only the folder."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if f"{run_dir}{os.sep}" in cmdline:
            found[int(entry.name)] = cmdline
    return found


def wait_for(condition: Callable[[], object], timeout: float, what: str, proc: subprocess.Popen) -> None:
    def alive_and(condition: Callable[[], object]) -> object:
        assert proc.poll() is None, f"the process exited ({proc.returncode}) before {what}"
        return condition()

    wait_until(lambda: alive_and(condition), timeout, what, interval=0.05)


def frames_checked(tmp_path: Path) -> int:
    """How many frames the live progress of `rig run` (on stderr, ``[  N/TOTAL] ...``) has counted."""
    counts = re.findall(r"^\[\s*(\d+)/\d+\]", (tmp_path / "stderr").read_text(), re.MULTILINE)
    return int(counts[-1]) if counts else 0


def frames_written(run_dir: Path) -> int:
    path = run_dir / "frames.jsonl"
    return sum(1 for line in path.read_text().splitlines() if not line.startswith("#")) if path.exists() else 0


def stop_and_collect(proc: subprocess.Popen, tmp_path: Path, run_dir: Path, signame: str,
                     whole_group: bool) -> tuple[int, float, dict, str, str]:
    """Send the signal (to the rig's process group, as a terminal does, or to the rig alone, as `kill`
    does); return the exit code, the seconds until exit, summary.json, stdout and stderr."""
    sig = signal.Signals[signame]
    sent = time.monotonic()
    if whole_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - sent
    summary = json.loads((run_dir / "summary.json").read_text())
    return code, took, summary, (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()


@pytest.mark.parametrize("signame, code, whole_group", [("SIGTERM", 143, False), ("SIGINT", 130, True)],
                         ids=["sigterm-from-a-ci-timeout", "sigint-from-a-terminal-ctrl-c"])
def test_a_signal_while_streaming_keeps_the_checks_and_ends_every_process(tmp_path: Path, signame: str, code: int,
                                                                          whole_group: bool) -> None:
    proc, run_dir = start_rig(tmp_path)
    wait_for(lambda: frames_checked(tmp_path) >= 3, 60, "three frames sent", proc)
    children = processes_of(run_dir)
    assert any("mosquitto" in c for c in children.values()), children
    assert any("micropython" in c for c in children.values()), children

    exit_code, took, summary, out, err = stop_and_collect(proc, tmp_path, run_dir, signame, whole_group)

    assert exit_code == code, out + err
    assert took < 8, took  # at once: the DUT's counters are read, the bench comes down, no waiting for the end
    assert summary["verdict"] == "interrupted" and summary["interrupted"] == signame
    assert summary["ok"] is False and summary["error"] is None
    # what was checked until the signal is kept: every frame written, counted and judged on every interface
    sent = summary["frames_sent"]
    assert sent == frames_written(run_dir) >= 3
    assert summary["frames_decoded"] == sent and summary["count_mismatches"] == []
    for name, interface in summary["interfaces"].items():
        assert interface["passed"] + interface["overtaken"] == sent and interface["failed"] == 0, name
    assert f"(details: {run_dir})" in out and "INTERRUPTED" in out and signame in out  # the summary is printed
    assert "Traceback" not in err and "Aborted" not in err, err
    assert processes_of(run_dir) == {}  # no broker, no DUT left behind
    assert (run_dir / "dut.log").read_text().splitlines()[-1].endswith(
        "[rig] stopped by the rig (SIGTERM), exit -15 as expected")
    assert "[rig] stopped by the rig (SIGTERM), exit code 0" in (run_dir / "mosquitto.log").read_text()


@pytest.mark.parametrize("signame, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_while_the_bench_starts_stops_it_there(tmp_path: Path, signame: str, code: int) -> None:
    # a board that does not answer: the rig waits 5 s for it, with its broker already running
    bench = tmp_path / "board.toml"
    bench.write_text(
        '[bench]\nname = "silent-board"\n'
        '[meter]\nlink = "loop://"\nprofile = "kaifa-ma304h4"\ntimezone = "Europe/Oslo"\n'
        f'[dut]\nkind = "board"\nserial_number = "BOARD-1"\nhttp_url = "http://127.0.0.1:{free_port()}"\n'
        '[broker]\nspawn = true\n[features]\nmodbus = true\nmqtt = true\n'
    )
    proc, run_dir = start_rig(tmp_path, "--bench", str(bench))
    log = run_dir / "mosquitto.log"
    wait_for(lambda: log.exists() and " running" in log.read_text(), 30, "the broker running", proc)
    (broker,) = processes_of(run_dir)

    exit_code, took, summary, out, err = stop_and_collect(proc, tmp_path, run_dir, signame, whole_group=True)

    assert exit_code == code, out + err
    assert took < 4, took  # the wait for the board is cut short
    assert summary["verdict"] == "interrupted" and summary["interrupted"] == signame
    assert summary["frames_sent"] == 0 and not (run_dir / "frames.jsonl").exists()
    assert f"(details: {run_dir})" in out and "INTERRUPTED" in out
    assert "Traceback" not in err and "Aborted" not in err, err
    assert processes_of(run_dir) == {}, broker
    assert "[rig] stopped by the rig (SIGTERM), exit code 0" in log.read_text()


def test_stop_signals_interrupt_the_start_then_let_the_teardown_finish() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with StopSignals() as signals:
        with pytest.raises(Interrupted), signals.raising():
            os.kill(os.getpid(), signal.SIGTERM)  # a real signal, handled in this (the main) thread
            time.sleep(5)  # not reached: the handler raises as soon as the signal is delivered
        assert signals.received == "SIGTERM"
        os.kill(os.getpid(), signal.SIGINT)  # during the teardown: ignored, the result stands
        assert signals.received == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is previous


def test_stop_signals_leave_an_ignored_sigint_ignored() -> None:
    # a shell starts a background job with SIGINT ignored, so a Ctrl-C meant for the foreground spares it
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopSignals() as signals:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            assert signals.received is None
    finally:
        signal.signal(signal.SIGINT, previous)


SLOW_SCENARIO = '''
def test_streams_for_a_long_time(harness):
    h = harness(speed=1)
    h.stream(h.frames(300))
'''


def test_sigterm_to_a_pytest_session_tears_its_dut_and_broker_down(tmp_path: Path) -> None:
    (tmp_path / "test_slow.py").write_text(SLOW_SCENARIO)
    run_dir = (tmp_path / "run").resolve()
    log = open(tmp_path / "pytest.out", "w")
    with log:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                                 "--rig-run-dir", str(run_dir), str(tmp_path / "test_slow.py")],
                                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        # the session's broker and the scenario's DUT both name files in the run folder
        wait_for(lambda: len(processes_of(run_dir)) >= 2, 30, "broker and DUT", proc)
        wait_for(lambda: (run_dir / "test_streams_for_a_long_time" / "frames.jsonl").exists(), 30,
                 "the first frame", proc)
        started = processes_of(run_dir)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "pytest.out").read_text()
    assert proc.returncode != 0, output
    survivors = {pid: cmd for pid, cmd in processes_of(run_dir).items() if pid in started}
    assert not survivors, f"left running after SIGTERM: {survivors}\n{output}"
