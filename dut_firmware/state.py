"""The latest state of the meter, as published on every interface.

Each normalized field comes from the latest frame that carried it (a ``None`` in a reading means "not
carried" and never erases a known value). ``ts`` is the epoch ms of the latest reading's meter clock,
read in the configured TZ rule when the meter states no offset (a repeated hour by the result's "dst",
the meter's own DST flag, when it has one). Also: reading and error counters, and the last error with
its time.
"""

import message
import tz as tzmod

COUNTER_NAMES = ("frames_ok", "checksum_errors", "framing_errors", "truncated", "oversized",
                 "unknown_format", "decrypt_errors")


def list_number(result):
    """The list number of a decoded frame: the decoder's own if it gives one (Kaifa, Aidon: 1-3;
    Kamstrup: 1, or 2 for the hourly list), else inferred.

    Inference (Kaifa-style lists): cumulative energies -> 3, voltages/currents/identity -> 2, else 1.
    P1 telegrams (format ``p1/...``) have no lists: None.
    """
    fmt = result.get("format")
    if isinstance(fmt, str) and fmt.startswith("p1"):
        return None
    for holder in (result, result.get("reading") or {}):
        n = holder.get("list")
        if isinstance(n, int) and not isinstance(n, bool):
            return n
    reading = result.get("reading") or {}
    if reading.get("e_import_wh") is not None or reading.get("e_export_wh") is not None:
        return 3
    for key in ("u_l1_v", "i_l1_a", "meter_id", "list_version"):
        if reading.get(key) is not None:
            return 2
    return 1


_CODES = (("truncat", "truncated"), ("decrypt", "decrypt"), ("auth", "decrypt"), ("tag", "decrypt"),
          ("oversiz", "oversized"), ("too long", "oversized"), ("framing", "framing"),
          ("fcs", "checksum"), ("hcs", "checksum"), ("crc", "checksum"), ("checksum", "checksum"),
          ("unknown", "unknown_format"), ("timestamp", "bad_timestamp"), ("exception", "decoder"))


def error_code(text):
    """A short error class of a decoder error message: truncated, checksum, decrypt, oversized,
    framing, unknown_format, bad_timestamp, decoder or error."""
    low = str(text).lower()
    for needle, code in _CODES:
        if needle in low:
            return code
    return "error"


class State:
    def __init__(self, tz_rule):
        self.tz = tzmod.Tz(tz_rule) if isinstance(tz_rule, str) else tz_rule
        self.fields = {}
        self.ts_ms = None
        self.list_no = None
        self.format = None
        self.readings_published = 0
        self.mqtt_published = 0
        self.mqtt_not_published = 0
        self.decoder_restarts = 0    # decoder exceptions (a bug): the bytes it held were dropped
        self.base_counters = {}      # counters of decoders replaced at run time (key change)
        self.last_error = None       # {"code", "format", "ts", "uptime_ms"}
        self.last_reading_uptime_ms = None
        self._text = None

    @property
    def has_reading(self):
        return self.readings_published > 0

    def update(self, result, uptime_ms=None, now_ms=None):
        """Merge an ok decoder result; returns the new message text. ValueError on a bad timestamp
        is not raised: the timestamp is then ignored and the error recorded."""
        reading = result.get("reading") or {}
        for key, value in reading.items():
            if value is not None:
                self.fields[key] = value
        stamp = reading.get("timestamp")
        if stamp:
            try:
                self.ts_ms = tzmod.timestamp_to_epoch_ms(stamp, self.tz, self.ts_ms, result.get("dst"))
            except (ValueError, TypeError):
                self.error("bad timestamp", result.get("format"), uptime_ms, now_ms)
        self.list_no = list_number(result)
        self.format = result.get("format")
        self.readings_published += 1
        self.last_reading_uptime_ms = uptime_ms
        self._text = None
        return self.text()

    def error(self, message_, fmt=None, uptime_ms=None, now_ms=None):
        """Record the last error: ``code`` (short class, see ``error_code``) and the full message."""
        self.last_error = {"code": error_code(message_), "message": message_, "format": fmt,
                           "ts": now_ms, "uptime_ms": uptime_ms}

    def set_tz(self, tz_rule):
        self.tz = tzmod.Tz(tz_rule)

    def text(self):
        """The HAN_METER_MESSAGE text (cached until the next reading); None before the first one."""
        if not self.readings_published:
            return None
        if self._text is None:
            self._text = message.build(self.fields, self.ts_ms, self.list_no)
        return self._text

    def retire_decoder(self, decoder):
        """Keep the counters of a decoder about to be replaced."""
        for key, value in decoder.counters.items():
            self.base_counters[key] = self.base_counters.get(key, 0) + value

    def counters(self, decoder):
        """The decoder counters (``COUNTER_NAMES`` always present; retired decoders included), then
        ``decoder_restarts``, ``readings_published``, ``mqtt_published``, ``mqtt_not_published``."""
        out = {}
        for key in COUNTER_NAMES:
            out[key] = 0
        for key, value in self.base_counters.items():
            out[key] = value
        if decoder is not None:
            for key, value in decoder.counters.items():
                out[key] = out.get(key, 0) + value
        out["decoder_restarts"] = self.decoder_restarts
        out["readings_published"] = self.readings_published
        out["mqtt_published"] = self.mqtt_published
        out["mqtt_not_published"] = self.mqtt_not_published
        return out
