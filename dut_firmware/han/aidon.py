"""Aidon lists (Norway AIDON_V0001, Sweden): han-protocols.md s.2.

The DATA-NOTIFICATION body is an array (tag 01) of structures: `02 02 <OBIS> <value>` (list version,
meter id and type, clock) or `02 03 <OBIS> <value> (02 02 0F <scaler> 16 <unit>)`; the scaler is
applied exactly (0.1 A, 0.1 V, 10 Wh in Norway, Wh in Sweden). Unknown OBIS codes are ignored.
The clock is local wall-clock time (Norwegian meters state deviation 0 with it), so it is published
without an offset and read in the configured time zone, as Kaifa's.

decode(body, header_time) -> ("aidon", list_no, reading): list 1 (P+ only), 2, 3 (with energies).
"""

from . import obis
from . import reading as R

_EXPS = (0, 0, 0, 0, 0, 0)  # a number without scaler-unit is in the base unit


def decode(body, header_time=None):
    out = {}
    known = 0
    for i in range(len(body)):
        item = body[i]
        n = len(item) if isinstance(item, list) else 0
        if not 2 <= n <= 3 or not isinstance(item[0], bytes) or len(item[0]) != 6:
            raise ValueError("unknown list: aidon element %d is not an OBIS structure" % i)
        exp = None
        if n == 3:
            su = item[2]
            if not isinstance(su, list) or len(su) != 2 or not isinstance(su[0], int):
                raise ValueError("unknown list: aidon element %d has no scaler-unit" % i)
            exp = su[0]
        if obis.put(out, item[0], item[1], _EXPS, exp):
            known += 1
        body[i] = None  # garbage now: room for the reading as it grows (small heaps)
    list_no = obis.finish(out, known, header_time, 3)
    t = out.get(R.TIMESTAMP)
    if t:
        out[R.TIMESTAMP] = t[:19]
    return "aidon", list_no, out
