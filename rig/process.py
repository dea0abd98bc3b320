"""Ending a child process the rig started: politely first, then for sure."""

from __future__ import annotations

import subprocess


def terminate(proc: subprocess.Popen, timeout: float = 3.0) -> str:
    """SIGTERM, then SIGKILL when ``proc`` has not exited ``timeout`` s later; which one ended it."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
        return "SIGTERM"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "SIGKILL"
