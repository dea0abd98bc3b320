"""Hardware abstraction layer: the only code that touches the board.

``create(cfg)`` returns the HAL for the platform this runs on: a ``contract.Hal`` (contract.py states every
operation, required and optional, and ``conformance(hal)`` checks a HAL against it). In short: the clock
(``uptime_ms``, ``real_ms``, ``real_delay_ms``, ``sleep_ms``, ``epoch_ms``), ``free_heap``, ``reset_reason``,
the LED (``led``), the meter port (``open_serial``), the network (``network_up``, ``mac``, ``ip``), the AES
block (``aes_ecb``), durable files (``write_file``); optional (``hal.offers(name)``): ``control_lines``,
``set_network``, ``udp_multicast``, the update store (``update_begin``). The unix HAL is unix.py.
"""

import sys


def create(cfg):
    if sys.platform in ("linux", "darwin"):
        from .unix import UnixHal
        return UnixHal(cfg)
    raise OSError("no HAL for platform %s" % sys.platform)
