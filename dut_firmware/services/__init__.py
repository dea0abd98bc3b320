"""Network services of the reader: HTTP API, Modbus TCP server, MQTT client."""

import asyncio


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
