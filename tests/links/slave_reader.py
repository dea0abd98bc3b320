"""A thread that plays the DUT on a pty slave: reads everything, with arrival times."""

import os
import select
import termios
import threading
import time


class SlaveReader(threading.Thread):
    """Plays the DUT: opens the slave, reads everything with arrival times."""

    def __init__(self, device: str, baud_code: int | None = None) -> None:
        super().__init__(daemon=True)
        self.fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
        if baud_code is not None:
            attrs = termios.tcgetattr(self.fd)
            attrs[4] = attrs[5] = baud_code
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        self.data = bytearray()
        self.arrivals: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                chunk = os.read(self.fd, 4096)
                self.arrivals.append((time.monotonic(), len(chunk)))
                self.data += chunk

    def wait_for(self, n: int, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.data) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return bytes(self.data)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=1)
        os.close(self.fd)
