"""The polled interfaces: a reading that overtook older frames judges the frame it shows."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from rig.checks import Outcome, SentFrame
from rig.judges import CheckLog, StreamState
from rig.judges.polls import _poll
from rig.reading import Reading
from rig.runclock import RunClock

START = datetime(2024, 10, 27, 0, 0, 0)


def _frame(index: int, t_end: float) -> SentFrame:
    at = START + timedelta(seconds=2 * index)
    reading = {"timestamp": at.isoformat(), "p_import_w": 1000 + index}
    return SentFrame(index, at, 1, reading, reading, t_end, t_end + 0.1, t_start=t_end)


def _judged(shown: list[int], deadline_s: float = 0.1) -> tuple[list[tuple[int, Outcome]], int]:
    """Four frames queued at once; the interface shows the frames ``shown``, one per reading."""
    now = time.monotonic()
    frames = [_frame(i, now) for i in range(4)]
    for f in frames:
        f.deadline = now + deadline_s
    state = StreamState("KFM_001", frames, {f.timestamp: f.index for f in frames if f.timestamp})
    log = CheckLog([], None, RunClock())
    readings = iter(shown)
    reads = 0

    async def read() -> Reading | None:
        nonlocal reads
        reads += 1
        return dict(frames[next(readings)].reading)

    async def go() -> None:
        queue: asyncio.Queue[SentFrame | None] = asyncio.Queue()
        for f in frames:
            queue.put_nowait(f)
        queue.put_nowait(None)
        await _poll("http", queue, read, state, log)

    asyncio.run(go())
    assert log.checks is not None
    return [(c.frame, c.outcome) for c in log.checks], reads


def test_the_reading_that_overtook_frames_judges_the_frame_it_showed_without_another_request() -> None:
    checks, reads = _judged([2, 3])
    assert checks == [(0, Outcome.OVERTAKEN), (1, Outcome.OVERTAKEN), (2, Outcome.PASS), (3, Outcome.PASS)]
    assert reads == 2  # frame 2 was judged on the reading that showed it while frame 0 was awaited


def test_a_reading_back_after_the_frame_s_deadline_is_not_held_against_it() -> None:
    checks, reads = _judged([2, 3, 3], deadline_s=-1.0)  # every deadline already passed
    assert checks[:3] == [(0, Outcome.OVERTAKEN), (1, Outcome.OVERTAKEN), (2, Outcome.OVERTAKEN)]
    assert reads == 3 and checks[3][1] is Outcome.FAIL  # frame 3: polled afresh, shown after its deadline
