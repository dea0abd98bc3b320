"""Hardware abstraction layer: the only code that touches the board.

``create(cfg)`` returns the HAL for the platform this runs on. Every HAL offers:
``uptime_ms()`` (device time, scaled by ``clock_scale``), ``real_ms()`` (unscaled monotonic ms),
``await sleep_ms(device_ms)``, ``epoch_ms()``, ``free_heap()``, ``reset_reason``, ``led(r, g, b)``,
``open_serial(device, baud, parity)`` (an object with ``await read(n)``, ``reconfigure(baud, parity)``,
``close()``), ``network_up()``, ``mac()``, ``ip()``, ``aes_ecb(key)`` (the AES-128 block primitive:
an object with ``encrypt(16 bytes) -> 16 bytes``, see ``aes.py``; han/gcm.py builds GCM on it).
Optional: ``control_lines()`` (LED, button and network control lines, see led.py) and ``set_network(up)``;
``udp_multicast(group, port, interface)`` (for mDNS: an object with ``recv()`` -> datagram or None,
``send_group(data)``, ``send_to(data, addr)``, ``close()`` and ``port``);
``write_file(path, text)`` (replace a file so that a power cut leaves the old or the new one; config.save);
``store`` (set by the application) with ``update_begin(size)`` (an image writer: ``write(data)``, ``abort()``,
``install()`` -> the image's VERSION, ``activate()``) and ``restart_status`` (unix: the exit status that asks
the launcher to start the new firmware), for services/update.py.
"""

import sys


def create(cfg):
    if sys.platform in ("linux", "darwin"):
        from .unix import UnixHal
        return UnixHal(cfg)
    raise OSError("no HAL for platform %s" % sys.platform)
