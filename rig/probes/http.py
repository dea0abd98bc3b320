"""HTTP probe: the reader's REST API (``/meter``, ``/meter/id``, ``/han``, ``/health``, ``/configuration``,
the ``/ui`` page)."""

from __future__ import annotations

from typing import Any

import requests

from rig.probes.base import HttpStatusError, ProbeError
from rig.probes.message import message_to_reading
from rig.reading import Reading


class HttpProbe:
    """Reads the DUT's HTTP API over one keep-alive session.

    ``token`` (if any) is sent as ``Authorization: Bearer <token>``. Transport failures and
    non-JSON answers raise ``ProbeError``; unexpected statuses raise ``HttpStatusError`` (a
    ``ProbeError`` with ``.status`` and ``.body``).
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 2.0,
                 tz: str = "Europe/Oslo") -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.tz = tz
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    # -- low level ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, json_body: Any = None) -> requests.Response:
        """One request; ``ProbeError`` on a transport failure. Any status is returned as is."""
        url = self.base_url + (path if path.startswith("/") else "/" + path)
        try:
            return self.session.request(method, url, json=json_body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProbeError(f"{method} {url} failed: {exc}") from exc

    def get_json(self, path: str, allow_503: bool = False) -> Any:
        """GET ``path`` and parse JSON; ``None`` on 503 when ``allow_503``."""
        return self._json(self.request("GET", path), allow_503=allow_503)

    def _json(self, resp: requests.Response, allow_503: bool = False) -> Any:
        method = resp.request.method or "GET"
        if allow_503 and resp.status_code == 503:
            return None
        if resp.status_code != 200:
            raise HttpStatusError(method, resp.url, resp.status_code, resp.text)
        try:
            return resp.json()
        except ValueError as exc:
            raise ProbeError(f"{method} {resp.url}: body is not JSON: {resp.text[:300]!r}") from exc

    # -- the API -----------------------------------------------------------------------------------
    def meter_message(self, path: str = "/meter") -> dict[str, Any] | None:
        """The raw ``HAN_METER_MESSAGE`` (``/meter``, or ``/meter/data``); ``None`` on 503."""
        msg = self.get_json(path, allow_503=True)
        if msg is not None and not isinstance(msg, dict):
            raise ProbeError(f"GET {path}: expected a JSON object, got {msg!r:.200}")
        return msg

    def meter(self, path: str = "/meter") -> Reading | None:
        """The meter message as a normalized reading (``"_list"`` holds the list); ``None`` on 503."""
        msg = self.meter_message(path)
        return None if msg is None else message_to_reading(msg, self.tz)

    def state(self) -> dict[str, Any]:
        """``GET /han``: the ``HAN_STATE_MESSAGE``."""
        return self.get_json("/han")

    def meter_id(self) -> dict[str, Any] | None:
        """``GET /meter/id``: ``manufacturerId``, ``deviceType`` (and ``meterId``); ``None`` on 503."""
        return self.get_json("/meter/id", allow_503=True)

    def page(self, path: str = "/ui") -> str:
        """An HTML page (``/ui``); ``HttpStatusError`` unless 200 with ``text/html``."""
        resp = self.request("GET", path)
        if resp.status_code != 200 or not resp.headers.get("Content-Type", "").startswith("text/html"):
            raise HttpStatusError("GET", resp.url, resp.status_code, resp.text)
        return resp.text

    def health(self) -> dict[str, Any]:
        """``GET /health``: the ``HAN_HEALTH_MESSAGE``."""
        return self.get_json("/health")

    def configuration(self) -> dict[str, Any]:
        """``GET /configuration``."""
        return self.get_json("/configuration")

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """``POST /configuration`` with ``changes`` (merged by the DUT); returns the new configuration."""
        return self._json(self.request("POST", "/configuration", json_body=changes))

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def __enter__(self) -> HttpProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
