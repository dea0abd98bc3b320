"""summary.json: the run's figures under the keys they have always had, plus ``record_id`` (the record
itself is record.json beside it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rig.outputs import Destination, Written

if TYPE_CHECKING:
    from rig.record import Record
    from rig.runner import RunResult

NAME = "summary"
FILE = "summary.json"


def write(record: Record, result: RunResult, to: Destination) -> Written:
    path = to.run_dir / FILE
    path.write_text(json.dumps({**result.as_dict(), "record_id": record.id}, indent=2) + "\n")
    return Written(NAME, path)
