"""Tokens and permissions of the HTTP API (services/http.py) and the meter keys' format (config.py): 401 without
the token or with a wrong one, 403 for the read token on a configuration change, 400 for a key that is not 32
hex digits, with no secret in any answer."""

import asyncio
import json

import pytest
from service_app import ServiceApp

from dut_firmware import config
from dut_firmware.services.http import HttpServer, permission

KEY = "00112233445566778899aabbccddeeff"


def call(app, method, target, body=b"", token=None):
    headers = {"authorization": "Bearer " + token} if token is not None else {}
    return asyncio.run(HttpServer(app).dispatch(method, target, headers, body))


def app_with_tokens():
    app = ServiceApp(token="adm1n")
    app.cfg = config.apply_changes(app.cfg, {"read_token": "r3ad"})
    return app


@pytest.mark.parametrize("token,want", [(None, None), ("adm1n", "write"), ("r3ad", "read"), ("adm1", None),
                                        ("adm1n ", None), ("", None)])
def test_permission_of_a_token(token, want):
    headers = {"authorization": "Bearer " + token} if token is not None else {}
    assert permission(app_with_tokens().cfg, headers) == want
    assert permission(ServiceApp().cfg, headers) == "write"  # no token configured: open


def test_read_token_reads_but_cannot_change():
    app = app_with_tokens()
    body = json.dumps({"meter": {"key": KEY}}).encode()
    for path in ("/health", "/han", "/configuration"):
        assert call(app, "GET", path, token="r3ad")[0] == 200
    status, text, _ = call(app, "POST", "/configuration", body, token="r3ad")
    assert status == 403 and json.loads(text) == {"error": "this token may not change the configuration"}
    assert app.cfg["meter"]["key"] is None
    assert call(app, "POST", "/configuration", body)[0] == 401
    assert call(app, "POST", "/configuration", body, token="nope")[0] == 401
    status, text, _ = call(app, "POST", "/configuration", body, token="adm1n")
    assert status == 200 and KEY not in text and "adm1n" not in text and "r3ad" not in text
    assert json.loads(text)["read_token_set"] is True and json.loads(text)["meter"]["key_set"] is True
    assert app.cfg["meter"]["key"] == KEY


@pytest.mark.parametrize("bad", ["12345", KEY[:-1] + "g", KEY + "00", " " + KEY[1:], KEY[:16] + " " + KEY[17:],
                                 "0x" + KEY[2:]])
def test_a_key_that_is_not_32_hex_digits_is_refused_without_echo(bad):
    app = ServiceApp()
    for name in ("key", "auth_key"):
        status, text, _ = call(app, "POST", "/configuration", json.dumps({"meter": {name: bad}}).encode())
        assert status == 400 and bad.strip() not in text
        assert json.loads(text)["error"] == f"meter.{name} must be 32 hex digits (16 bytes)"


def test_read_token_needs_a_token_and_differs_from_it():
    cfg = ServiceApp().cfg
    with pytest.raises(ValueError, match="read_token needs a token"):
        config.apply_changes(cfg, {"read_token": "r"})
    with pytest.raises(ValueError, match="must differ"):
        config.apply_changes(cfg, {"token": "t", "read_token": "t"})
    pub = config.public(config.apply_changes(cfg, {"token": "t", "read_token": "r"}))
    assert pub["read_token"] is None and pub["read_token_set"] is True
