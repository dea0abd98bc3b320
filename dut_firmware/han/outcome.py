"""Every outcome of a frame, named once: its code and the counter it counts in.

A decoder result carries its code (``"code"``) next to the human text (``"error"``, for logs and
``/health`` ``last_error.message``); whoever acts on an outcome compares codes, never text. The codes
are an interface: ``/health`` shows them in ``last_error.code`` and ``last_decrypt_error.code``.
"""

# the decoder's outcomes
OK = "ok"
CHECKSUM = "checksum"               # a frame check (HDLC HCS/FCS, M-Bus, P1 CRC) failed
FRAMING = "framing"                 # a run of bytes of no frame
TRUNCATED = "truncated"             # a frame or message cut short
OVERSIZED = "oversized"             # longer than the decoder's buffer
UNKNOWN_FORMAT = "unknown_format"   # a whole frame whose content the decoder does not read
DECRYPT = "decrypt"                 # no key, a wrong key, a failed authentication tag
REPLAY = "replay"                   # a frame counter that did not increase
# the state's own outcomes (state.py, meter_line.py)
COUNTER_DECREASE = "counter_decrease"   # a cumulative energy below the published one: rejected
BAD_TIMESTAMP = "bad_timestamp"         # a timestamp that does not read: ignored
DECODER = "decoder"                     # the decoder raised (a bug): restarted, its bytes dropped

# code -> the counter it counts in (state.counters() / the decoder's counters); bad_timestamp counts
# in none (the reading is still published)
COUNTER = {
    OK: "frames_ok",
    CHECKSUM: "checksum_errors",
    FRAMING: "framing_errors",
    TRUNCATED: "truncated",
    OVERSIZED: "oversized",
    UNKNOWN_FORMAT: "unknown_format",
    DECRYPT: "decrypt_errors",
    REPLAY: "replays",
    COUNTER_DECREASE: "counter_decreases",
    BAD_TIMESTAMP: None,
    DECODER: "decoder_restarts",
}

# the decoder's counters, in the order /health lists them
DECODER_COUNTERS = ("frames_ok", "checksum_errors", "framing_errors", "truncated", "oversized",
                    "unknown_format", "decrypt_errors", "replays")
