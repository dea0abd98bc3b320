"""record.json: the run's record, exactly as ``Record.as_dict()`` gives it (schema han-rig-record/1)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rig.outputs import Destination, Written

if TYPE_CHECKING:
    from rig.record import Record
    from rig.runner import RunResult

NAME = "record"
FILE = "record.json"


def write(record: Record, result: RunResult, to: Destination) -> Written:
    path = to.run_dir / FILE
    path.write_text(json.dumps(record.as_dict(), indent=2) + "\n")
    return Written(NAME, path)
