"""Hardware abstraction layer: the only code that touches the board.

``create(cfg)`` returns the HAL for the platform this runs on. Every HAL offers:
``uptime_ms()`` (device time, scaled by ``clock_scale``), ``real_ms()`` (unscaled monotonic ms),
``await sleep_ms(device_ms)``, ``epoch_ms()``, ``free_heap()``, ``reset_reason``, ``led(r, g, b)``,
``open_serial(device, baud, parity)`` (an object with ``await read(n)``, ``reconfigure(baud, parity)``,
``close()``), ``network_up()``, ``mac()``, ``ip()``.
"""

import sys


def create(cfg):
    if sys.platform in ("linux", "darwin"):
        from .unix import UnixHal
        return UnixHal(cfg)
    raise OSError("no HAL for platform %s" % sys.platform)
