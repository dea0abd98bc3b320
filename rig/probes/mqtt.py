"""MQTT probe: subscribes to the reader's topic and collects every message with its arrival time."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from rig.probes.base import ProbeError, ProbeTimeout
from rig.probes.message import message_to_reading
from rig.reading import Reading

_ids = itertools.count(1)


@dataclass(frozen=True)
class MqttMessage:
    """One meter message: arrival is ``time.monotonic()`` when the probe received it."""

    arrival: float
    topic: str
    payload: dict[str, Any]
    reading: Reading
    retain: bool = False


@dataclass(frozen=True)
class MqttPayloadError:
    """A message on the meter topic that is not a valid HAN_METER_MESSAGE (bad JSON, bad fields)."""

    arrival: float
    topic: str
    payload: bytes
    error: str


@dataclass(frozen=True)
class StatusChange:
    """A message on ``<topic>/status`` (``online``/``offline``, normally retained)."""

    arrival: float
    status: str
    retain: bool


@dataclass(eq=False)
class MqttProbe:
    """Async context manager: subscribes to ``topic`` and ``<topic>/status`` and records everything.

    ``messages`` holds the valid meter messages in arrival order, ``errors`` the malformed ones,
    ``status`` the last status payload (``None`` before any), ``statuses`` every status change.
    ``failure`` is set if the connection to the broker is lost (the probe does not reconnect).
    """

    host: str
    port: int
    topic: str
    tz: str = "Europe/Oslo"
    identifier: str | None = None
    messages: list[MqttMessage] = field(default_factory=list, init=False, repr=False)
    errors: list[MqttPayloadError] = field(default_factory=list, init=False, repr=False)
    statuses: list[StatusChange] = field(default_factory=list, init=False, repr=False)
    failure: BaseException | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.status_topic = f"{self.topic}/status"
        if self.identifier is None:
            self.identifier = f"rig-probe-{os.getpid()}-{next(_ids)}"
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed: asyncio.Condition | None = None
        self._followers: list[asyncio.Queue[MqttMessage | MqttPayloadError]] = []

    @property
    def status(self) -> str | None:
        return self.statuses[-1].status if self.statuses else None

    def follow(self) -> asyncio.Queue[MqttMessage | MqttPayloadError]:
        """A queue of every meter message and malformed payload, in arrival order, as they arrive (those
        already received first)."""
        queue: asyncio.Queue[MqttMessage | MqttPayloadError] = asyncio.Queue()
        for item in sorted([*self.messages, *self.errors], key=lambda m: m.arrival):
            queue.put_nowait(item)
        self._followers.append(queue)
        return queue

    async def __aenter__(self) -> MqttProbe:
        self._changed = asyncio.Condition()
        client = aiomqtt.Client(self.host, self.port, identifier=self.identifier, timeout=5)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise ProbeError(f"MQTT broker {self.host}:{self.port}: {exc}") from exc
        self._client = client
        try:
            await client.subscribe(self.topic, qos=0)
            await client.subscribe(self.status_topic, qos=1)
        except aiomqtt.MqttError as exc:
            await self.__aexit__(None, None, None)
            raise ProbeError(f"MQTT subscribe to {self.topic!r}: {exc}") from exc
        self._task = asyncio.create_task(self._collect(), name=f"mqtt-probe {self.topic}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop collecting, then disconnect from the broker, even when the task closing it is cancelled
        (the cancellation goes on once the client is closed)."""
        task, self._task = self._task, None
        client, self._client = self._client, None
        try:
            if task is not None:
                task.cancel()
                await asyncio.wait([task])  # the collector's own cancellation ends here, never the caller's
                if not task.cancelled():
                    task.exception()  # retrieved: a failure is in self.failure already
        finally:
            if client is not None:
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.__aexit__(None, None, None)

    async def _collect(self) -> None:
        assert self._client is not None
        try:
            async for msg in self._client.messages:
                self._record(time.monotonic(), msg)
                await self._notify()
        except aiomqtt.MqttError as exc:
            self.failure = exc
            await self._notify()

    def _record(self, arrival: float, msg: aiomqtt.Message) -> None:
        topic = msg.topic.value
        raw = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
        try:
            if msg.topic.matches(self.status_topic):
                self.statuses.append(StatusChange(arrival, raw.decode("utf-8", "replace"), msg.retain))
                return
            payload = json.loads(raw)
            reading = message_to_reading(payload, self.tz)
        except Exception as exc:  # bad JSON, bad UTF-8, ProbeError...: never kill the collector
            item: MqttMessage | MqttPayloadError = MqttPayloadError(arrival, topic, raw, f"{type(exc).__name__}: {exc}")
            self.errors.append(item)
        else:
            item = MqttMessage(arrival, topic, payload, reading, msg.retain)
            self.messages.append(item)
        for queue in self._followers:
            queue.put_nowait(item)

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[MqttMessage], bool] | None = None,
                       timeout: float = 5.0, after: float | None = None) -> MqttMessage:
        """The first message (already received or arriving) that satisfies ``predicate``.

        ``after``: only messages that arrived later than this ``time.monotonic()`` value.
        ``ProbeTimeout`` (also a ``TimeoutError``) after ``timeout`` seconds.
        """
        pred = predicate or (lambda m: True)
        checked = 0

        def find() -> MqttMessage | None:
            nonlocal checked
            while checked < len(self.messages):
                m = self.messages[checked]
                checked += 1
                if (after is None or m.arrival > after) and pred(m):
                    return m
            return None

        found = await self._wait(find, timeout)
        if found is None:
            raise ProbeTimeout(f"no matching MQTT message on {self.topic!r} within {timeout} s "
                               f"({len(self.messages)} messages, {len(self.errors)} malformed"
                               + (f", connection lost: {self.failure}" if self.failure else "") + ")")
        return found

    async def wait_for_status(self, status: str, timeout: float = 5.0) -> StatusChange:
        """Wait until the last status on ``<topic>/status`` is ``status``."""
        found = await self._wait(lambda: self.statuses[-1] if self.status == status else None, timeout)
        if found is None:
            raise ProbeTimeout(f"status on {self.status_topic!r} is {self.status!r}, not {status!r}, "
                               f"after {timeout} s")
        return found

    async def _wait(self, find: Callable[[], Any], timeout: float) -> Any:
        if self._changed is None:
            raise ProbeError("MqttProbe is not running: use 'async with MqttProbe(...)'")
        result = None

        def done() -> bool:
            nonlocal result
            result = find()
            return result is not None or self.failure is not None

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(done), timeout)
        except TimeoutError:
            pass
        return result
