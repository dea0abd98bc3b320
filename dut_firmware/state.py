"""The latest state of the meter, as published on every interface.

Each normalized field comes from the latest frame that carried it (a ``None`` in a reading means "not
carried" and never erases a known value). ``ts`` is the epoch ms of the latest reading's meter clock,
read in the configured TZ rule when the meter states no offset (a repeated hour by the result's "dst",
the meter's own DST flag, when it has one). Also: reading and error counters, and the last error with
its time, and the last decryption error (a wrong or missing key, a failed tag, a replayed frame
counter) with its time, kept apart so that later errors of other kinds do not hide it.

The fields are the decoder's: exact integers in the base units of han/reading.py (W, var, Wh, varh, mA,
mV); nothing here makes a float. Errors are recorded by their outcome code (han/outcome.py).

Energy counters never decrease: a frame whose cumulative energy (``e_import_wh``, ``e_export_wh``,
``r_import_varh``, ``r_export_varh``) is below the value already published, from the same meter, is
rejected for that counter (the published value stays), counted in ``counter_decreases`` and recorded
as the last error (code ``counter_decrease``); a changed ``meter_id`` (a new meter) starts afresh.

Energy between the meter's counters (``Estimate``): from each reading that carries a cumulative active
energy (List 3, a P1 telegram), import and export are integrated from the active power of the readings
in between, each power held until the next reading (device time). Published only in the estimate's
own fields (``eic``/``eec``/``est``, see message.py), never in ``ic``/``ec``.
"""

from . import message
from . import tz as tzmod
from .han import outcome
from .han import reading as R

ENERGY_COUNTERS = R.ENERGIES
EST_MAX_STEP_MS = 60000     # device ms between power readings beyond which the estimate stops (null)
WMS_PER_WH = 3600000        # W x ms in one Wh

COUNTER_NAMES = outcome.DECODER_COUNTERS


def list_number(result):
    """The list number of a decoded frame: the decoder's own if it gives one (Kaifa, Aidon: 1-3;
    Kamstrup: 1, or 2 for the hourly list), else inferred.

    Inference (Kaifa-style lists): cumulative energies -> 3, voltages/currents/identity -> 2, else 1.
    P1 telegrams (format ``p1/...``) have no lists: None.
    """
    fmt = result.get("format")
    if isinstance(fmt, str) and fmt.startswith("p1"):
        return None
    n = result.get("list")
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    reading = result.get("reading")
    if reading is None:
        return 1
    n = reading.get("list")
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    if reading.get(R.E_IMPORT) is not None or reading.get(R.E_EXPORT) is not None:
        return 3
    for key in _LIST2_KEYS:
        if reading.get(key) is not None:
            return 2
    return 1


_LIST2_KEYS = (R.U_L1, R.I_L1, R.METER_ID, R.LIST_VERSION)


class Estimate:
    """Cumulative active energy (Wh) between the meter's own counters, integrated from active power.

    ``rebase`` at each reading carrying the meter's counters; ``step`` at each reading: the power known
    before it is held over the device time since the previous reading (exact integers: W x ms). Null
    (``value`` None) before the first counters and after a gap over ``EST_MAX_STEP_MS`` without a
    power reading, until the next counters. The published value never steps down: after a re-base
    below what was published (the integral ran ahead of the meter) it holds until the sum passes it.
    The lists are made once and updated in place (no garbage per reading).
    """

    def __init__(self):
        self.base = [None, None]    # [import Wh, export Wh] of the meter's last counters
        self.active = False         # an estimate exists (base set, no gap since)
        self.acc = [0, 0]           # W x ms integrated since
        self.power = [None, None]   # W, the power in force
        self.last_ms = None         # device ms of the last step
        self.since_ms = None        # device ms of the last re-base
        self.shown = [None, None]   # the last published Wh (never decreases)
        self.out = [None, None]     # what value() returns

    def step(self, uptime_ms, p_import, p_export):
        """Integrate the power in force up to ``uptime_ms``, then take the new power."""
        if uptime_ms is None:
            return
        if self.active and self.last_ms is not None:
            dt = uptime_ms - self.last_ms
            if dt > EST_MAX_STEP_MS:
                self.active = False     # power unknown over the gap: no estimate until the next counters
            elif dt > 0:
                for k in (0, 1):
                    if self.power[k] is not None:
                        self.acc[k] += self.power[k] * dt
        self.last_ms = uptime_ms
        self.power[0] = p_import
        self.power[1] = p_export

    def rebase(self, uptime_ms, e_import, e_export):
        """The meter's own counters arrived: the estimate restarts from them."""
        if e_import is None and e_export is None:
            return
        self.base[0] = e_import
        self.base[1] = e_export
        self.active = True
        self.acc[0] = 0
        self.acc[1] = 0
        self.since_ms = uptime_ms

    def reset(self):
        self.__init__()

    def integrated(self):
        """True when the estimate holds energy integrated since the meter's counters (``est``)."""
        return self.acc[0] > 0 or self.acc[1] > 0

    def value(self):
        """[import Wh, export Wh] (None for a side without counters), or None without an estimate. The
        list is the estimate's own, valid until the next call."""
        if not self.active:
            return None
        out = self.out
        for k in (0, 1):
            base = self.base[k]
            if base is None:
                out[k] = None
                continue
            wh = base + self.acc[k] // WMS_PER_WH
            if self.shown[k] is not None and wh < self.shown[k]:
                wh = self.shown[k]
            self.shown[k] = wh
            out[k] = wh
        return out


class State:
    def __init__(self, tz_rule, clock=None):
        """``clock``: epoch ms now (the HAL's), read only when an error is recorded without its time."""
        self.tz = tzmod.Tz(tz_rule) if isinstance(tz_rule, str) else tz_rule
        self.clock = clock
        self.fields = {}
        self.ts_ms = None
        self.list_no = None
        self.format = None
        self.readings_published = 0
        self.mqtt_published = 0
        self.mqtt_not_published = 0
        self.decoder_restarts = 0    # decoder exceptions (a bug): the bytes it held were dropped
        self.base_counters = {}      # counters of decoders replaced at run time (key change)
        self.last_error = None       # {"code", "message", "format", "ts", "uptime_ms"}
        self.last_decrypt_error = None  # the same, of the last decrypt / replay error
        self.last_reading_uptime_ms = None
        self.counter_decreases = 0   # cumulative energies below the published one, rejected
        self.estimate = Estimate()
        self._texts = message.TextCache()
        self._buf = bytearray(0)     # the message is rendered here (made at the first, grown when needed)
        self._text = None            # the message text (bytes), rendered when first asked after a reading

    @property
    def has_reading(self):
        return self.readings_published > 0

    def update(self, result, uptime_ms=None, now_ms=None):
        """Merge an ok decoder result. A bad timestamp is not raised: the timestamp is then ignored and
        the error recorded. The message text is rendered when first asked (``text()``)."""
        reading = result.get("reading")
        if reading is None:
            reading = {}
        fields = self.fields
        meter_id = reading.get(R.METER_ID)
        if meter_id is not None and fields.get(R.METER_ID) is not None and meter_id != fields[R.METER_ID]:
            for key in ENERGY_COUNTERS:     # another meter: its counters start afresh
                fields.pop(key, None)
            self.estimate.reset()
        rejected = None
        for key in reading:
            value = reading[key]
            if value is None:
                continue
            if key in ENERGY_COUNTERS and key in fields and value < fields[key]:
                rejected = key
                continue
            fields[key] = value
        fmt = result.get("format")
        if rejected is not None:
            self.counter_decreases += 1
            self.error(outcome.COUNTER_DECREASE, "energy counter %s decreased: rejected" % rejected, fmt,
                       uptime_ms, now_ms)
        est = self.estimate
        est.step(uptime_ms, fields.get(R.P_IMPORT), fields.get(R.P_EXPORT))
        if rejected != R.E_IMPORT and rejected != R.E_EXPORT and (
                reading.get(R.E_IMPORT) is not None or reading.get(R.E_EXPORT) is not None):
            est.rebase(uptime_ms, fields.get(R.E_IMPORT), fields.get(R.E_EXPORT))
        stamp = reading.get(R.TIMESTAMP)
        if stamp:
            try:
                self.ts_ms = tzmod.timestamp_to_epoch_ms(stamp, self.tz, self.ts_ms, result.get("dst"))
            except (ValueError, TypeError):
                self.error(outcome.BAD_TIMESTAMP, "bad timestamp", fmt, uptime_ms, now_ms)
        self.list_no = list_number(result)
        self.format = fmt
        self.readings_published += 1
        self.last_reading_uptime_ms = uptime_ms
        self._text = None

    def error(self, code, message_, fmt=None, uptime_ms=None, now_ms=None):
        """Record the last error: its outcome ``code`` (han/outcome.py) and the human ``message_``;
        ``now_ms`` None: the clock's time."""
        if code not in outcome.COUNTER:
            raise ValueError("no outcome code %r" % (code,))
        if now_ms is None and self.clock is not None:
            now_ms = self.clock()
        self.last_error = {"code": code, "message": message_, "format": fmt,
                           "ts": now_ms, "uptime_ms": uptime_ms}
        if code == outcome.DECRYPT or code == outcome.REPLAY:
            self.last_decrypt_error = self.last_error

    def set_tz(self, tz_rule):
        self.tz = tzmod.Tz(tz_rule)

    def text(self):
        """The HAN_METER_MESSAGE text (UTF-8 bytes, kept until the next reading); None before the
        first reading. Rendered into the state's own buffer, then copied once."""
        if not self.readings_published:
            return None
        if self._text is None:
            energy = self.estimate.value()
            integrated = None if energy is None else self.estimate.integrated()
            while True:
                try:
                    n = message.render(memoryview(self._buf), self.fields, self.ts_ms, self.list_no, energy,
                                       integrated, self._texts)
                except IndexError:  # numbers of more than 20 digits (a meter's nonsense, read exactly)
                    n = -1
                if n >= 0:
                    break
                # the first message, longer text fields, longer numbers: a larger buffer, kept
                self._buf = bytearray(max(message.needed(self.fields, self._texts), 2 * len(self._buf)))
            self._text = bytes(memoryview(self._buf)[:n])
        return self._text

    def retire_decoder(self, decoder):
        """Keep the counters of a decoder about to be replaced."""
        for key in decoder.counters:
            self.base_counters[key] = self.base_counters.get(key, 0) + decoder.counters[key]

    def counters(self, decoder):
        """The decoder counters (``COUNTER_NAMES`` always present; retired decoders included), then
        ``decoder_restarts``, ``counter_decreases``, ``readings_published``, ``mqtt_published``,
        ``mqtt_not_published``."""
        out = {}
        for key in COUNTER_NAMES:
            out[key] = 0
        for key, value in self.base_counters.items():
            out[key] = value
        if decoder is not None:
            for key, value in decoder.counters.items():
                out[key] = out.get(key, 0) + value
        out["decoder_restarts"] = self.decoder_restarts
        out["counter_decreases"] = self.counter_decreases
        out["readings_published"] = self.readings_published
        out["mqtt_published"] = self.mqtt_published
        out["mqtt_not_published"] = self.mqtt_not_published
        return out
