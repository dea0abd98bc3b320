"""The outputs of a run: each module here turns a run's record (and its result) into one artefact.

An output is a module with ``NAME`` and ``write(record, result, to) -> Written``; it is one line of
:data:`OUTPUTS`. ``write_outputs`` runs them in order; a failing file output is reported, not raised, so
one broken output never loses the others.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rig.record import Record
    from rig.runner import RunResult

OUTPUTS: tuple[str, ...] = (
    "rig.outputs.text",          # summary.txt: the summary `rig run` prints
    "rig.outputs.summary_json",  # summary.json: the run's figures (and the record's id)
    "rig.outputs.record_json",   # record.json: the record (schema han-rig-record/1)
    "rig.outputs.junit",         # junit.xml: a testcase per interface and one for the counters
    "rig.outputs.store",         # the results database (rig.results.store), when one is given
)


@dataclass
class Destination:
    """Where outputs go: files into ``run_dir``; records into the results database ``db_url`` (None: not
    stored)."""

    run_dir: Path
    db_url: str | None = None


@dataclass
class Written:
    """What one output did: the file it wrote, and/or a note (where it stored, why it skipped or failed)."""

    output: str
    path: Path | None = None
    note: str | None = None

    def describe(self) -> str:
        return f"{self.output}: " + ", ".join(str(x) for x in (self.path, self.note) if x is not None)


def write_outputs(record: Record, result: RunResult, to: Destination,
                  outputs: tuple[str, ...] = OUTPUTS) -> list[Written]:
    """Run every output in ``outputs`` (module names) for one run, in order."""
    done = []
    for module_name in outputs:
        module = importlib.import_module(module_name)
        try:
            done.append(module.write(record, result, to))
        except OSError as exc:
            done.append(Written(module.NAME, note=f"failed: {exc}"))
    return done
