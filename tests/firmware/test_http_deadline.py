"""The HTTP server's bounds over real loopback sockets (CPython asyncio): a request's deadline against a
client that trickles bytes (408, closed, counted), connections over the cap waiting for a slot, and
keep-alive clients taking turns while others wait."""

import asyncio

from service_app import ServiceApp
from test_fw_units import LIST2, ok

from dut_firmware.services import http

SCALE = 10.0  # device time runs 10x: the 5 s deadline is 0.5 s, raised to the 1 s real floor


class Clock:
    """The HAL's clock, scaled as in a time-compressed run."""

    def __init__(self, scale):
        self.scale = scale
        self.t0 = asyncio.get_running_loop().time()

    def real_ms(self):
        return int((asyncio.get_running_loop().time() - self.t0) * 1000)

    def real_delay_ms(self, device_ms):
        return device_ms / self.scale


def app_with_clock(scale):
    app = ServiceApp()
    app.hal = Clock(scale)
    app.state.update(ok(LIST2, 2))
    return app


async def served(scale=SCALE):
    server = http.HttpServer(app_with_clock(scale))
    await server.start("127.0.0.1", 0)
    return server, server.server.sockets[0].getsockname()[1]


async def answer(reader):
    """(status, headers, body) of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if h)}
    body = await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split()[1]), headers, body


async def get(port, path="/meter", keep=False):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path.encode(), b"" if keep else b"Connection: close\r\n"))
    status, headers, body = await answer(reader)
    if not keep:
        writer.close()
        return status
    return status, headers, reader, writer


def test_a_trickling_client_is_answered_408_and_closed_while_others_are_served():
    request = b"GET /meter HTTP/1.1\r\nHost: slow\r\nX-Pad: " + b"a" * 40 + b"\r\n\r\n"

    async def go():
        server, port = await served()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = 0
        statuses = []
        try:
            for byte in request:    # one byte every 50 ms: the whole request would take 4 s
                writer.write(bytes([byte]))
                await writer.drain()
                sent += 1
                statuses.append(await get(port))   # the others are served meanwhile
                if reader.at_eof() or len(reader._buffer):
                    break
                await asyncio.sleep(0.05)
            status, headers, body = await answer(reader)
            assert await reader.read() == b""       # then closed
            return sent, status, body, statuses, server.counters()
        finally:
            writer.close()
            await server.stop()

    sent, status, body, statuses, counters = asyncio.run(go())
    assert status == 408 and b"not complete within 5000 ms" in body
    assert sent < 70, "the request was not cut short"
    assert set(statuses) == {200}
    assert counters["deadline_closed"] == 1 and counters["idle_closed"] == 0


def test_a_slow_body_meets_the_same_deadline():
    async def go():
        server, port = await served()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"POST /configuration HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
            for _ in range(60):
                if len(reader._buffer) or reader.at_eof():
                    break
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)
            return (await answer(reader))[0], server.counters()["deadline_closed"]
        finally:
            writer.close()
            await server.stop()

    assert asyncio.run(go()) == (408, 1)


def test_connections_over_the_cap_wait_and_keep_alive_clients_take_turns():
    async def go():
        server, port = await served(scale=1.0)   # a slot is waited for 2 s
        held = [await get(port, keep=True) for _ in range(http.MAX_CONNECTIONS)]
        assert all(h[0] == 200 and h[1]["connection"] == "keep-alive" for h in held)
        assert server.connections == http.MAX_CONNECTIONS
        late = asyncio.ensure_future(get(port, "/han"))
        while not server.waiting:
            await asyncio.sleep(0.01)
        # one of the holders asks again: answered, and told to close (someone waits)
        _, _, reader, writer = held[0]
        writer.write(b"GET /meter HTTP/1.1\r\n\r\n")
        status, headers, _ = await answer(reader)
        assert (status, headers["connection"]) == (200, "close")
        assert await late == 200                # it got the freed slot
        counters = server.counters()
        for _, _, _, w in held:
            w.close()
        await server.stop()
        return counters

    counters = asyncio.run(go())
    assert counters["waited"] == 1 and counters["refused"] == 0 and counters["peak"] == http.MAX_CONNECTIONS


def test_no_slot_within_the_wait_and_too_many_waiting_get_503():
    async def go():
        server, port = await served(scale=20.0)   # a slot is waited for 100 ms
        held = [await get(port, keep=True) for _ in range(http.MAX_CONNECTIONS)]
        statuses = await asyncio.gather(*[get(port) for _ in range(http.MAX_WAITING + 4)])
        counters = server.counters()
        for _, _, _, w in held:
            w.close()
        await server.stop()
        return statuses, counters

    statuses, counters = asyncio.run(go())
    assert statuses == [503] * (http.MAX_WAITING + 4)
    assert counters["refused"] == http.MAX_WAITING + 4 and counters["waiting"] == 0
    assert counters["connections"] == http.MAX_CONNECTIONS
