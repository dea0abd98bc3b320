"""Ending child processes: real processes, real signals."""

from __future__ import annotations

import subprocess
import sys

from rig.process import terminate


def _child(code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", f"import signal, sys, time\n{code}\nprint('up', flush=True)\n"
                             "time.sleep(60)"], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"  # its handlers are in place
    proc.stdout.close()
    return proc


def test_a_process_that_obeys_ends_on_sigterm() -> None:
    proc = _child("")
    assert terminate(proc, timeout=5) == "SIGTERM"
    assert proc.returncode == -15


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    proc = _child("signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    assert terminate(proc, timeout=0.3) == "SIGKILL"
    assert proc.returncode == -9
