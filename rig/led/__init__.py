"""The status LED: its patterns as data and the decoder of what an instrument saw."""
