"""Where a stream's verdicts go: ``checks.jsonl`` at once, on the run clock, and each interface's summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from rig.checks import Check, InterfaceSummary, Outcome
from rig.runclock import RunClock


class CheckLog:
    """Where verdicts go: ``checks.jsonl`` (one line per check, as made), each interface's summary
    (counts, streamed latency figures), the failures (the first ``keep_failures``), and, when given, a
    list of every check (``checks``; a short stream's callers inspect them)."""

    def __init__(self, checks: list[Check] | None, path: Path | None, clock: RunClock,
                 summaries: dict[str, InterfaceSummary] | None = None, failed: list[Check] | None = None,
                 keep_failures: int = 1000) -> None:
        self.checks = checks
        self.clock = clock
        self.summaries = summaries if summaries is not None else {}
        self.failed = failed if failed is not None else []
        self.keep_failures = keep_failures
        self.failures = 0
        self.total = 0
        self._file: IO[str] | None = None
        if path is not None:
            self._file = open(path, "a", buffering=1 << 16)  # closed by close()
            self._file.write(clock.header("checks made: frame, interface, outcome, latency, mismatches") + "\n")

    def add(self, check: Check) -> None:
        if check.at_s is None:
            check.at_s = self.clock.elapsed()
        self.total += 1
        if self.checks is not None:
            self.checks.append(check)
        summary = self.summaries.get(check.interface)
        if summary is None:
            summary = self.summaries[check.interface] = InterfaceSummary(check.interface)
        summary.add(check)
        if check.outcome is Outcome.FAIL:
            self.failures += 1
            if len(self.failed) < self.keep_failures:
                self.failed.append(check)
        if self._file is not None:
            self._file.write(json.dumps(check.as_dict(text=False)) + "\n")

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> CheckLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
