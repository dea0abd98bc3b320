"""Firmware regression reports: two builds' run records compared (``compare``), and the report's outputs
(``html``, ``junit``, ``text``, ``plots``); ``job`` makes or reads the runs. `rig regress` is the command."""
