"""POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3") and calendar arithmetic in integers.

No use of the platform's time zone support: the ESP32 port has none and single-precision floats, so
every computation here is integer seconds on the proleptic Gregorian calendar (days-from-civil).

Local wall-clock time -> UTC, and the two special cases of a DST change:
- a **nonexistent** local time (the spring gap, e.g. 2024-03-31 02:30 in Europe/Oslo) is read with the
  offset in force *before* the change (standard time), i.e. as the instant a clock that did not jump
  would show: 02:30 -> 01:30 UTC (= 03:30 CEST).
- an **ambiguous** local time (the repeated autumn hour, e.g. 2024-10-27 02:30) is resolved by, in turn:
  1. the DST flag, when the meter sends one (``dst``: DLMS clock status bit 7, P1 ``S``/``W``):
     True is the summer-time pass (00:30 UTC), False the standard-time pass (01:30 UTC);
  2. else ``not_before`` (the instant of the previous reading): the first occurrence (summer time,
     00:30 UTC) unless ``not_before`` lies after it, then the second (standard time, 01:30 UTC).
  A meter sending local time without a DST flag (Kaifa Norway) thus maps monotonically through the
  repeated hour as long as the reader saw a reading before it; a reader that starts listening inside
  the second pass reads its first reading an hour early (nothing in the frame tells the passes apart).
"""


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of the proleptic Gregorian date y-m-d (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(y, m, d) of the day ``z`` days after 1970-01-01."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return (y + (m <= 2), m, d)


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


_MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_days(y, m):
    return 29 if (m == 2 and is_leap(y)) else _MDAYS[m - 1]


def weekday(days):
    """0 = Sunday ... 6 = Saturday for a day number (1970-01-01 was a Thursday)."""
    return (days + 4) % 7


def to_seconds(y, mo, d, h=0, mi=0, s=0):
    """Seconds since the epoch of a wall-clock time taken as UTC."""
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s


def year_of_days(z):
    """The year of the day ``z`` days after 1970-01-01 (civil_from_days without the tuple)."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return yoe + era * 400 + (mp >= 10)


def from_seconds(t):
    """(y, m, d, hh, mm, ss) of ``t`` seconds since the epoch."""
    days = t // 86400
    rem = t - days * 86400
    y, m, d = civil_from_days(days)
    return (y, m, d, rem // 3600, (rem // 60) % 60, rem % 60)


# A timestamp is read by index, digit by digit: no slice, no tuple (no garbage per reading).

def _num(text, a, b):
    """The decimal number text[a:b] (ASCII digits only); ValueError otherwise."""
    n = 0
    for i in range(a, b):
        c = ord(text[i]) - 48
        if not 0 <= c <= 9:
            raise ValueError("bad timestamp %r" % (text,))
        n = n * 10 + c
    return n


def _bad(text):
    return ValueError("bad timestamp %r" % (text,))


def local_seconds(text):
    """Seconds since the epoch of the wall-clock time 'YYYY-MM-DDTHH:MM:SS' that ``text`` starts with,
    taken as UTC; ValueError when malformed."""
    if not isinstance(text, str) or len(text) < 19 or text[4] != "-" or text[7] != "-" \
            or text[10] not in "T " or text[13] != ":" or text[16] != ":":
        raise _bad(text)
    y = _num(text, 0, 4)
    mo = _num(text, 5, 7)
    d = _num(text, 8, 10)
    h = _num(text, 11, 13)
    mi = _num(text, 14, 16)
    s = _num(text, 17, 19)
    if not (1 <= mo <= 12 and 1 <= d <= month_days(y, mo) and h < 24 and mi < 60 and s < 61):
        raise _bad(text)
    return to_seconds(y, mo, d, h, mi, s)


def stated_offset(text):
    """The UTC offset (seconds east) a timestamp states after its 19 characters (an optional fraction,
    then 'Z', '+HH', '+HH:MM', '+HHMM' or the same with '-'), or None when it states none."""
    n = len(text)
    i = 19
    if i < n and text[i] == ".":
        i += 1
        while i < n and "0" <= text[i] <= "9":
            i += 1
    if i == n:
        return None
    c = text[i]
    if c == "Z" or c == "z":
        if i + 1 != n:
            raise ValueError("bad timestamp offset %r" % (text,))
        return 0
    if (c != "+" and c != "-") or n - i < 3:
        raise ValueError("bad timestamp offset %r" % (text,))
    off = _num(text, i + 1, i + 3) * 3600
    if n - i > 3:
        off += _num(text, n - 2, n) * 60
    return -off if c == "-" else off


def parse_timestamp(text):
    """'YYYY-MM-DDTHH:MM:SS' with an optional '+HH:MM' / '-HH:MM' / 'Z' and fraction.

    Returns ((y, m, d, hh, mm, ss), offset_seconds_or_None); ValueError when malformed.
    """
    return from_seconds(local_seconds(text)), stated_offset(text)


# -- POSIX TZ ---------------------------------------------------------------------------------------

def _name(s, i):
    if i < len(s) and s[i] == "<":
        j = s.find(">", i)
        if j < 0:
            raise ValueError("unterminated <name> in TZ")
        return s[i + 1:j], j + 1
    j = i
    while j < len(s) and s[j].isalpha():
        j += 1
    if j - i < 3:
        raise ValueError("TZ name too short at %d in %r" % (i, s))
    return s[i:j], j


def _hms(s, i, signed):
    """[+-]hh[:mm[:ss]] -> (seconds, next index)."""
    sign = 1
    if signed and i < len(s) and s[i] in "+-":
        sign = -1 if s[i] == "-" else 1
        i += 1
    vals = []
    while True:
        j = i
        while j < len(s) and s[j].isdigit():
            j += 1
        if j == i:
            raise ValueError("number expected at %d in %r" % (i, s))
        vals.append(int(s[i:j]))
        i = j
        if len(vals) < 3 and i < len(s) and s[i] == ":":
            i += 1
            continue
        break
    while len(vals) < 3:
        vals.append(0)
    return sign * (vals[0] * 3600 + vals[1] * 60 + vals[2]), i


def _rule(s, i):
    """A date rule ('Mm.w.d', 'Jn' or 'n') with an optional '/time' -> (rule, next index)."""
    if s[i] == "M":
        j = i + 1
        nums = []
        for k in range(3):
            a = j
            while j < len(s) and s[j].isdigit():
                j += 1
            if a == j:
                raise ValueError("bad M rule in %r" % (s,))
            nums.append(int(s[a:j]))
            if k < 2:
                if j >= len(s) or s[j] != ".":
                    raise ValueError("bad M rule in %r" % (s,))
                j += 1
        m, w, d = nums
        if not (1 <= m <= 12 and 1 <= w <= 5 and 0 <= d <= 6):
            raise ValueError("bad M rule in %r" % (s,))
        rule = ("M", m, w, d)
    else:
        kind = "n"
        j = i
        if s[j] == "J":
            kind = "J"
            j += 1
        a = j
        while j < len(s) and s[j].isdigit():
            j += 1
        if a == j:
            raise ValueError("bad date rule in %r" % (s,))
        rule = (kind, int(s[a:j]), 0, 0)
    t = 7200
    if j < len(s) and s[j] == "/":
        t, j = _hms(s, j + 1, True)
    return rule + (t,), j


class Tz:
    """A parsed POSIX TZ rule. Offsets are seconds *east* of UTC (CET = +3600)."""

    def __init__(self, spec):
        s = spec.strip()
        if not s:
            raise ValueError("empty TZ")
        self.spec = s
        self.std_name, i = _name(s, 0)
        off, i = _hms(s, i, True)
        self.std = -off
        self.dst = None
        self.start = self.end = None
        self._year = None           # the year whose DST span (UTC seconds) is held: computed once a year
        self._span_start = self._span_end = 0
        if i < len(s):
            self.dst_name, i = _name(s, i)
            self.dst = self.std + 3600
            if i < len(s) and s[i] != ",":
                off, i = _hms(s, i, True)
                self.dst = -off
            if i >= len(s):
                # No rule: POSIX leaves it implementation-defined; use the EU rule (documented).
                s = s + ",M3.5.0/1,M10.5.0"
                self.spec = s
            if s[i] != ",":
                raise ValueError("',' expected at %d in %r" % (i, s))
            self.start, i = _rule(s, i + 1)
            if i >= len(s) or s[i] != ",":
                raise ValueError("end rule expected in %r" % (s,))
            self.end, i = _rule(s, i + 1)
        if i != len(s):
            raise ValueError("trailing text in TZ %r" % (s,))

    def _rule_day(self, rule, y):
        kind, a, b, c, _t = rule
        if kind == "M":
            first = days_from_civil(y, a, 1)
            d = 1 + (c - weekday(first)) % 7 + 7 * (b - 1)
            while d > month_days(y, a):
                d -= 7
            return first + d - 1
        if kind == "J":      # 1..365, February 29 never counted
            n = a
            if is_leap(y) and n >= 60:
                n += 1
            return days_from_civil(y, 1, 1) + n - 1
        return days_from_civil(y, 1, 1) + a  # 0..365, leap days counted

    def _span(self, y):
        """Hold the DST start and end of year ``y`` (UTC seconds) in _span_start / _span_end."""
        if y != self._year:
            self._span_start = self._rule_day(self.start, y) * 86400 + self.start[4] - self.std
            self._span_end = self._rule_day(self.end, y) * 86400 + self.end[4] - self.dst
            self._year = y

    def transitions(self, y):
        """UTC instants (seconds) of the start and end of DST in year ``y``; None without DST."""
        if self.dst is None:
            return None
        self._span(y)
        return self._span_start, self._span_end

    def offset_at(self, utc):
        """UTC offset in seconds (east positive) in force at the UTC instant ``utc`` (seconds)."""
        if self.dst is None:
            return self.std
        self._span(year_of_days((utc + self.std) // 86400))
        start = self._span_start
        end = self._span_end
        if start < end:
            in_dst = start <= utc < end
        else:                               # southern hemisphere: DST spans the new year
            in_dst = not (end <= utc < start)
        return self.dst if in_dst else self.std

    def local_to_utc(self, y, mo, d, h=0, mi=0, s=0, not_before=None, dst=None):
        """UTC seconds of a local wall-clock time (see the module doc for gaps and repeats).

        ``dst``: the meter's DST flag (True, False or None when it sends none) and ``not_before``: UTC
        seconds of the previous reading, used in that order to pick the occurrence of an ambiguous
        time. Returns (utc_seconds, offset_seconds).
        """
        local = to_seconds(y, mo, d, h, mi, s)
        utc = self.utc_of(local, not_before, dst)
        return utc, local - utc

    def utc_of(self, local, not_before=None, dst=None):
        """UTC seconds of the local wall-clock time ``local`` (seconds, as if UTC); see local_to_utc."""
        if self.dst is None:
            return local - self.std
        a = local - self.std
        b = local - self.dst
        ok_a = self.offset_at(a) == self.std
        ok_b = self.offset_at(b) == self.dst
        if ok_a and ok_b:                   # ambiguous: by the DST flag, else the first unless time went past it
            if dst is not None:
                return b if dst else a
            first = a if a < b else b
            second = b if a < b else a
            return second if (not_before is not None and first < not_before) else first
        if ok_a:
            return a
        if ok_b:
            return b
        # nonexistent: the offset in force just before the change
        return local - self.offset_at(a if a < b else b)

    def utc_offset(self, y, mo, d, h=0, mi=0, s=0):
        """UTC offset (seconds east) of a local wall-clock time (first occurrence if ambiguous)."""
        return self.local_to_utc(y, mo, d, h, mi, s)[1]


def timestamp_to_epoch_ms(text, tz, not_before_ms=None, dst=None):
    """Epoch milliseconds of a meter timestamp: its own offset if it states one, else read in ``tz``
    (an ambiguous time by the meter's DST flag ``dst`` if given, else after ``not_before_ms``)."""
    local = local_seconds(text)
    offset = stated_offset(text)
    if offset is not None:
        return (local - offset) * 1000
    nb = None if not_before_ms is None else not_before_ms // 1000
    return tz.utc_of(local, nb, dst) * 1000
