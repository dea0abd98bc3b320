"""The results database: the record saved by ``rig.results.store.save_record`` at the destination's URL."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rig.outputs import Destination, Written

if TYPE_CHECKING:
    from rig.record import Record
    from rig.runner import RunResult

NAME = "store"
STORE_MODULE = "rig.results.store"


def write(record: Record, result: RunResult, to: Destination) -> Written:
    if to.db_url is None:
        return Written(NAME, note="not stored (no database given)")
    try:
        store = importlib.import_module(STORE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name is not None and STORE_MODULE.startswith(exc.name):
            return Written(NAME, note="skipped: this rig has no results store")
        return Written(NAME, note=f"failed: the results store cannot load: {exc}")
    try:
        store.save_record(record.as_dict(), to.db_url)
    except Exception as exc:  # noqa: BLE001  # the run's files are written; say why the database is not
        return Written(NAME, note=f"failed to store in {to.db_url}: {type(exc).__name__}: {exc}")
    return Written(NAME, note=f"stored in {to.db_url}")
