"""Network services of the reader: HTTP API, Modbus TCP server, MQTT client, mDNS responder.

Each service gets only what it uses (a ``View``, built by app.py), never the application itself.
"""

import asyncio


class View:
    """What one service may use of the unit: the members named when it is built (the meter state, the
    HAL for its clock, ``log``, bound methods such as ``configure``) and ``cfg``, the settings now (read
    through ``settings()`` on each use: a change replaces them)."""

    def __init__(self, settings, **members):
        self._settings = settings
        for name in members:
            setattr(self, name, members[name])

    @property
    def cfg(self):
        return self._settings()


async def close_server(server, clients):
    """Close a server's client connections, then its listening socket.

    ``clients`` holds (writer, task) pairs. Clients go first: on CPython >= 3.12.1 a server's
    wait_closed() waits for its clients, so the other order can hang; on MicroPython writer.close()
    alone leaves the client task reading, so the task is cancelled too.
    """
    for writer, task in clients:
        try:
            writer.close()
        except Exception:
            pass
        if task is not None:
            task.cancel()
    if clients:
        await asyncio.sleep(0)  # the client tasks run their clean-up (socket closed)
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), 2)
    except Exception:
        pass
