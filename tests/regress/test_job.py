"""Reading the runs a report compares (rig.regress.job): stored records by id, latencies from a run folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.regress.job import StoredRunError, latency_samples, stored_records
from rig.results.store import close_stores, save_record
from tests.regress.records import record


@pytest.fixture
def store(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    yield url
    close_stores()


def test_stored_runs_by_id_or_prefix_in_the_order_asked(store: str) -> None:
    a, b = record("base"), record("head")
    b["id"] = a["id"][:4] + "f" * 28  # two ids sharing a 4-character prefix
    for r in (a, b):
        save_record(r, store)
    got = stored_records([b["id"], a["id"][:10]], store)
    assert [r["id"] for r in got] == [b["id"], a["id"]]
    assert got[1] == a  # exactly as saved
    with pytest.raises(StoredRunError, match="names several stored runs"):
        stored_records([a["id"][:4]], store)
    with pytest.raises(StoredRunError, match="no stored run 'abc0'"):
        stored_records(["abc0"], store)
    with pytest.raises(StoredRunError, match="not a run id"):
        stored_records(["%"], store)


def test_latency_samples_from_each_runs_checks(tmp_path: Path) -> None:
    runs = []
    for n, lines in enumerate(([{"interface": "http", "latency_ms": 2.5}, {"interface": "mqtt", "latency_ms": -1.0},
                                {"interface": "http", "latency_ms": None}],
                               [{"interface": "http", "latency_ms": 3}])):
        run_dir = tmp_path / f"run{n}"
        run_dir.mkdir()
        (run_dir / "checks.jsonl").write_text("\n".join(json.dumps(c) for c in lines) + "\nnot json\n")
        runs.append({"links": {"run_dir": str(run_dir)}})
    runs.append({"links": {"run_dir": str(tmp_path / "gone")}})
    runs.append({"links": {}})
    assert latency_samples(runs) == {"http": [2.5, 3.0], "mqtt": [-1.0]}
