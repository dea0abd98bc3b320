"""Checks a HAL against the contract (contract.py): ``conformance(hal)`` and ``check(obj, contract)`` list what
is wrong (empty: nothing). Runs on MicroPython and CPython; a port runs it in its tests, the firmware never loads
it (it would cost heap for nothing).
"""

from .contract import AesBlock, Hal, not_implemented

AES_ZERO = b"\x66\xe9\x4b\xd4\xef\x8a\x2c\x3b\x88\x4c\xfa\x59\xca\x34\x2b\x2e"   # AES-128, zero key, zero block


def _missing(obj, name):
    """True when ``obj`` lacks operation ``name`` (absent, not callable, or the contract's own stub)."""
    f = getattr(obj, name, None)
    if f is None or not callable(f):
        return True
    return getattr(type(obj), name, None) is not_implemented


def check(obj, contract):
    """What ``obj`` lacks of ``contract``'s required operations (list of str; empty: none)."""
    return ["%s.%s missing" % (contract.__name__, name) for name in contract.REQUIRED
            if _missing(obj, name)]


def _probe(hal, problems):
    """Call the operations that touch no device and check what they return."""
    def want(ok, what):
        if not ok:
            problems.append(what)

    try:
        a = hal.real_ms()
        b = hal.real_ms()
        want(isinstance(a, int) and isinstance(b, int) and 0 <= a <= b, "real_ms: %r then %r" % (a, b))
        up = hal.uptime_ms()
        want(isinstance(up, int) and up >= 0, "uptime_ms: %r" % (up,))
        delay = hal.real_delay_ms(1000)
        want(isinstance(delay, (int, float)) and delay > 0, "real_delay_ms(1000): %r" % (delay,))
        now = hal.epoch_ms()
        want(isinstance(now, int) and now > 946684800000, "epoch_ms: %r (before 2000)" % (now,))
        heap = hal.free_heap()
        want(heap is None or (isinstance(heap, int) and heap >= 0), "free_heap: %r" % (heap,))
        want(isinstance(hal.network_up(), bool), "network_up: not a bool")
        mac = hal.mac()
        want(isinstance(mac, str) and len(mac) == 17 and mac == mac.lower() and mac.count(":") == 5,
             "mac: %r" % (mac,))
        ip = hal.ip()
        want(isinstance(ip, str) and ip.count(".") == 3, "ip: %r" % (ip,))
        block = hal.aes_ecb(bytes(16))
        problems.extend(check(block, AesBlock))
        want(bytes(block.encrypt(bytes(16))) == AES_ZERO, "aes_ecb: not AES-128")
    except Exception as exc:    # an operation that raises breaks the contract too
        problems.append("raised %r" % (exc,))
    try:
        hal.aes_ecb(bytes(15))
        problems.append("aes_ecb: a 15-byte key accepted")
    except ValueError:
        pass
    except Exception as exc:
        problems.append("aes_ecb: a 15-byte key raised %r, not ValueError" % (exc,))


def conformance(hal):
    """What ``hal`` gets wrong of the contract (list of str; empty: it conforms): a required operation
    missing, an optional one neither offered nor declared absent (or both), a bad attribute, a query
    answering the wrong kind of value."""
    problems = check(hal, Hal)
    absent = getattr(hal, "absent", ())
    for name in absent:
        if name not in Hal.OPTIONAL:
            problems.append("%s declared absent but is not optional" % name)
    for name in Hal.OPTIONAL:
        if (name in absent) != _missing(hal, name):
            problems.append("optional %s %s" % (name, "both offered and declared absent" if name in absent
                                                 else "neither offered nor declared absent"))
    offers = getattr(hal, "offers", None)
    if not callable(offers) or [n for n in Hal.OPTIONAL if offers(n) != (n not in absent)]:
        problems.append("offers() disagrees with absent")
    if not isinstance(getattr(hal, "reset_reason", None), str):
        problems.append("reset_reason is not a str")
    if not _missing(hal, "update_begin") and not isinstance(getattr(hal, "restart_status", None), int):
        problems.append("update_begin offered without an int restart_status")
    if not problems:
        _probe(hal, problems)
    return problems
