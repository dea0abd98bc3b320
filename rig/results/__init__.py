"""The results store: every run record kept in SQLite or PostgreSQL, and the factory's queries on them.

The API is in rig.results.store (save_record, list_records, yield_per_day, failures_by_check,
measurement_series); this package itself imports nothing heavy, so `rig` starts fast.
"""

DEFAULT_URL = "sqlite:///reports/results.sqlite"
