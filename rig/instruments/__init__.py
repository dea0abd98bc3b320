"""Instruments that watch the DUT: a photodiode behind a scope or DAQ over SCPI (pyvisa), and its simulation."""
