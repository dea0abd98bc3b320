"""MQTT probes: ``MqttProbe`` subscribes to the reader's topic and collects every meter message with its
arrival time; ``TopicWatch`` collects any topic filters (per-value subtopics, Home Assistant discovery)."""

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

    ``messages`` holds the valid meter messages in arrival order (unless ``keep`` is False: then only the
    followers get them), ``errors`` the malformed ones,
    ``status`` the last status payload (``None`` before any), ``statuses`` every status change.
    ``failure`` is set if the connection to the broker is lost (the probe does not reconnect).
    """

    host: str
    port: int
    topic: str
    tz: str = "Europe/Oslo"
    identifier: str | None = None
    username: str | None = None
    password: str | None = None
    keep: bool = True  # False: messages go to the followers only, so a long stream's memory stays flat
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
        client = aiomqtt.Client(self.host, self.port, identifier=self.identifier, timeout=5,
                                username=self.username, password=self.password)
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
            if self.keep:
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


@dataclass(frozen=True)
class RawMessage:
    """Any MQTT message as received: ``arrival`` is ``time.monotonic()``."""

    arrival: float
    topic: str
    payload: bytes
    retain: bool


class TopicWatch:
    """Async context manager: subscribes to ``filters`` and keeps every message (``messages``) and the
    latest per topic (``latest``). ``wait_until(predicate)`` waits for the collection to satisfy it."""

    def __init__(self, host: str, port: int, filters: list[str], username: str | None = None,
                 password: str | None = None) -> None:
        self.host, self.port, self.filters = host, port, list(filters)
        self.username, self.password = username, password
        self.messages: list[RawMessage] = []
        self.latest: dict[str, RawMessage] = {}
        self.failure: BaseException | None = None
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None

    async def __aenter__(self) -> TopicWatch:
        self._changed = asyncio.Event()
        client = aiomqtt.Client(self.host, self.port, identifier=f"rig-watch-{os.getpid()}-{next(_ids)}",
                                timeout=5, username=self.username, password=self.password)
        try:
            await client.__aenter__()
            for topic_filter in self.filters:
                await client.subscribe(topic_filter, qos=0)
        except aiomqtt.MqttError as exc:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
            raise ProbeError(f"MQTT broker {self.host}:{self.port}, {self.filters}: {exc}") from exc
        self._client = client
        self._task = asyncio.create_task(self._collect(client), name=f"mqtt-watch {self.filters}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        task, self._task = self._task, None
        client, self._client = self._client, None
        try:
            if task is not None:
                task.cancel()
                await asyncio.wait([task])
        finally:
            if client is not None:
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.__aexit__(None, None, None)

    async def _collect(self, client: aiomqtt.Client) -> None:
        assert self._changed is not None
        try:
            async for msg in client.messages:
                raw = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
                item = RawMessage(time.monotonic(), msg.topic.value, raw, msg.retain)
                self.messages.append(item)
                self.latest[item.topic] = item
                self._changed.set()
        except aiomqtt.MqttError as exc:
            self.failure = exc
            self._changed.set()

    async def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        """Publish on the watch's own connection (e.g. Home Assistant's birth message)."""
        if self._client is None:
            raise ProbeError("TopicWatch is not running: use 'async with TopicWatch(...)'")
        await self._client.publish(topic, payload, qos=0, retain=retain)

    async def wait_until(self, predicate: Callable[[TopicWatch], bool], timeout: float, what: str) -> None:
        """Return once ``predicate(self)`` holds; ``ProbeTimeout`` naming ``what`` after ``timeout`` s."""
        assert self._changed is not None
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.failure is not None:
                raise ProbeError(f"MQTT watch {self.filters}: connection lost: {self.failure}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProbeTimeout(f"{what}: not seen on {self.filters} within {timeout} s "
                                   f"({len(self.messages)} messages, topics {sorted(self.latest)[:20]})")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
