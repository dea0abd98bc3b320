"""The HTTP API's routes and parser (services/http.py, services/ui.py) at unit level: every documented
status, the Home Assistant integration's fields on /han, /configuration, /meter/id, the /ui page, and the
sans-IO request-head parser."""

import asyncio
import json
import re

import pytest
from service_app import ServiceApp
from test_fw_units import LIST2, LIST3_EXTRA, ok

from dut_firmware import config
from dut_firmware.services import ui
from dut_firmware.services.http import ROUTES, HttpServer
from dut_firmware.services.http_request import MAX_HEADERS, HttpError, body_length, parse_head, split_target

TOKEN = "t0ken"


def call(app, method, target, body=b"", headers=None):
    return asyncio.run(HttpServer(app).dispatch(method, target, headers or {}, body))


def bearer(token):
    return {"authorization": "Bearer " + token}


def test_meter_carries_every_field_of_the_spec():
    app = ServiceApp()
    app.state.update(ok(LIST2, 2), uptime_ms=0)
    app.state.update(ok(dict(LIST2, **LIST3_EXTRA), 3), uptime_ms=10000)
    status, text, _ = call(app, "GET", "/meter")
    msg = json.loads(text)
    assert status == 200
    for key in ("type", "ts", "ic", "ec", "ric", "rec", "p", "pi", "pe", "r", "u", "i"):
        assert key in msg, key
    assert msg["type"] == "HAN_METER_MESSAGE"
    assert [len(msg[k]) for k in ("p", "pi", "pe", "r")] == [4, 4, 4, 4]
    assert [len(msg[k]) for k in ("u", "i")] == [3, 3]
    assert msg["ic"] == 42879.838 and msg["ec"] == 0.0 and msg["ric"] == 9909.726 and msg["rec"] == 562.991
    assert msg["p"][0] == 5056 and msg["r"][0] == -469
    assert msg["pi"][1] is None  # a value the meter does not send is null, never 0
    assert msg["ts"] == 1727802010000  # 2024-10-01T19:00:10 in Oslo (CEST), epoch milliseconds


def test_han_configuration_and_meter_id_carry_what_home_assistant_reads():
    app = ServiceApp()
    pub = json.loads(call(app, "GET", "/configuration")[1])
    assert pub["v"] == config.VERSION and pub["t"] == app.cfg["tz"]
    assert "p" in pub and "f" in pub["m"]
    assert isinstance(pub["e"]["e"], bool) and "m" in pub["e"]["n"]
    for key in ("e", "s", "z", "b"):
        assert key in pub["w"]
    assert "m" in pub["w"]["n"]
    # the structured keys stay, and a GET answer can be posted back as it is
    assert pub["modbus"]["port"] == app.cfg["modbus"]["port"] and pub["token_set"] is False
    status, text, _ = call(app, "POST", "/configuration", json.dumps(pub).encode())
    assert status == 200 and json.loads(text) == pub
    assert call(app, "GET", "/meter/id")[0] == 503  # before the first reading, as /meter
    app.state.update(ok(LIST2, 2))
    status, text, _ = call(app, "GET", "/meter/id")
    assert status == 200 and set(json.loads(text)) >= {"manufacturerId", "deviceType"}


@pytest.mark.parametrize("method,target,status", [
    ("GET", "/nope", 404), ("GET", "/meter/x", 404), ("DELETE", "/meter", 405), ("POST", "/han", 405),
    ("PUT", "/configuration", 405), ("POST", "/ui", 405), ("GET", "/meter?x=1", 400), ("GET", "/han?", 200),
    ("GET", "/configuration?pretty", 400), ("GET", "/ui?x", 400), ("GET", "/meter/", 503)])
def test_statuses(method, target, status):
    got, text, extra = call(ServiceApp(), method, target)
    assert got == status, text
    if status == 405:
        path = split_target(target)[0]
        assert extra == f"Allow: {', '.join(ROUTES[path])}\r\n"
    if status >= 400:
        assert json.loads(text)["error"]


def test_token_on_every_endpoint_but_the_page():
    app = ServiceApp(token=TOKEN)
    for path in ROUTES:
        status, _, extra = call(app, "GET", path)
        if path == "/ui":
            assert status == 200
        else:
            assert status == 401 and extra == "WWW-Authenticate: Bearer\r\n", path
    assert call(app, "GET", "/nope")[0] == 401  # no path is revealed without the token
    assert call(app, "GET", "/nope", headers=bearer(TOKEN))[0] == 404
    assert call(app, "GET", "/han", headers=bearer(TOKEN))[0] == 200


def test_ui_is_a_self_contained_page_that_posts_json_with_the_token():
    status, page, extra = call(ServiceApp(token=TOKEN), "GET", "/ui")
    assert status == 200 and extra == "Content-Type: text/html; charset=utf-8\r\n"
    assert page is ui.PAGE and page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert TOKEN not in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page), "an external asset"
    assert 'method:"POST"' in page and "JSON.stringify" in page and '"Bearer "+' in page
    for path in ("/han", "/meter", "/configuration"):
        assert f'"{path}"' in page
    # every form field is a setting the firmware accepts
    names = re.findall(r'<(?:input|select)[^>]* name="([a-z_.]+)"', page)
    assert len(names) >= 10
    for name in names:
        section = config.DEFAULTS
        for part in name.split("."):
            assert part in section, name
            section = section[part]


def test_response_head_names_the_type_and_length():
    server = HttpServer(ServiceApp())
    html = server._response(200, "<p>é</p>", "Content-Type: text/html; charset=utf-8\r\n", True)
    head, body = html.split(b"\r\n\r\n", 1)
    assert head.count(b"Content-Type:") == 1 and b"text/html" in head
    assert b"Content-Length: %d" % len(body) in head and b"Connection: keep-alive" in head
    js = server._response(404, '{"error": "x"}', "", False)
    assert b"Content-Type: application/json" in js and b"Connection: close" in js


def test_parse_head():
    method, target, version, headers = parse_head(b"GET /meter HTTP/1.1\r\nHost: a\r\nX-Y:  z \r\n\r\n")
    assert (method, target, version) == ("GET", "/meter", "HTTP/1.1") and headers == {"host": "a", "x-y": "z"}
    assert parse_head(b"GET / HTTP/1.0\n\n")[2] == "HTTP/1.0"
    for bad, status in ((b"GET /meter\r\n\r\n", 400), (b"GET /m HTTP/2\r\n\r\n", 400),
                        (b"\xff / HTTP/1.1\r\n\r\n", 400), (b"GET /m HTTP/1.1 x\r\n\r\n", 400),
                        (b"GET /m HTTP/1.1\r\n" + b"A: b\r\n" * (MAX_HEADERS + 1) + b"\r\n", 431)):
        with pytest.raises(HttpError) as err:
            parse_head(bad)
        assert err.value.status == status, bad


@pytest.mark.parametrize("headers,want", [({}, 0), ({"content-length": "12"}, 12),
                                          ({"content-length": "x"}, 400), ({"content-length": "-1"}, 400),
                                          ({"content-length": "4097"}, 413), ({"transfer-encoding": "chunked"}, 400)])
def test_body_length(headers, want):
    if want < 400:
        assert body_length(headers) == want
    else:
        with pytest.raises(HttpError) as err:
            body_length(headers)
        assert err.value.status == want
