"""Kamstrup lists (Norway Kamstrup_V0001, Denmark Omnipower): han-protocols.md s.2.

The DATA-NOTIFICATION body is a flat structure (tag 02): the list version as a visible-string, then
pairs of `09 06 <OBIS>` and value. Wire units are implied: W / var, 0.01 A, 1 V, 10 Wh / 10 varh.
Unknown OBIS codes (power factors, per-phase energies, the meter number) are ignored.

decode(body, header_time) -> ("kamstrup", list_no, reading): list 2 (hourly, with energies), else 1.
"""

from . import obis
from . import reading as R

EXPS = (0, 0, 0, 1, -2, 0)


def decode(body, header_time=None):
    n = len(body)
    if n < 3 or n % 2 == 0:
        raise ValueError("unknown list: kamstrup list of %d elements, not a version and pairs" % n)
    out = {R.LIST_VERSION: body[0]}
    known = 0
    for i in range(1, n, 2):
        code = body[i]
        if not isinstance(code, bytes) or len(code) != 6:
            raise ValueError("unknown list: kamstrup element %d is not an OBIS code" % i)
        if obis.put(out, code, body[i + 1], EXPS):
            known += 1
    return "kamstrup", obis.finish(out, known, header_time, 2), out
