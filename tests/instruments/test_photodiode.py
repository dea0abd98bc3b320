"""The photodiode driver through real pyvisa-py sessions (``@py``) to the simulated SCPI scope on loopback:
identification, settings checked against the error queue, records read by ``query_binary_values``, and
clear errors for a bad resource, a refused setting and a closed port."""

from __future__ import annotations

import numpy as np
import pytest

from rig.instruments.photodiode import InstrumentError, Photodiode
from rig.instruments.sim_scope import IDN, ScopeState, SimScope
from rig.netutil import free_port


def _ramp(t0: float, rate: float, count: int) -> np.ndarray:
    """A source whose every sample says where it is: red = index / count, green 0.5, blue 0."""
    levels = np.zeros((count, 3))
    levels[:, 0] = np.arange(count) / count
    levels[:, 1] = 0.5
    return levels


@pytest.fixture
def scope():
    with SimScope(ScopeState(_ramp, channels=3, full_scale_v=2.0)) as sim:
        yield sim


def test_identifies_and_records_every_channel(scope) -> None:
    assert scope.resource.startswith("TCPIP0::127.0.0.1::") and scope.resource.endswith("::SOCKET")
    with Photodiode(scope.resource, full_scale_v=2.0) as pd:
        assert pd.idn == IDN and pd.channels == 3
        record = pd.record(0.25, rate_hz=4000)
    assert record.rate_hz == 4000 and record.levels.shape == (1000, 3)
    assert np.allclose(record.levels[:, 0], np.arange(1000) / 1000, atol=1e-6)  # volts / full scale
    assert np.allclose(record.levels[:, 1], 0.5) and np.allclose(record.levels[:, 2], 0)


def test_one_channel_instrument() -> None:
    with SimScope(ScopeState(_ramp, channels=1)) as sim, Photodiode(sim.resource) as pd:
        assert pd.channels == 1
        assert pd.record(0.05, rate_hz=1000).levels.shape == (50, 1)


def test_refused_setting_quotes_the_error_queue(scope) -> None:
    with Photodiode(scope.resource) as pd:
        with pytest.raises(InstrumentError, match=r"refused ':ACQ:SRAT 0'.*-222"):
            pd.write(":ACQ:SRAT 0")
        with pytest.raises(InstrumentError, match=r"-113,\"Undefined header; BOGUS\""):
            pd.write(":BOGUS 1")
        with pytest.raises(InstrumentError, match="source CHAN1..CHAN3"):
            pd.write(":WAV:SOUR CHAN7")
        assert pd.query(":SYST:ERR?") == '0,"No error"'


def test_data_before_a_record_is_refused(scope) -> None:
    with Photodiode(scope.resource, timeout_ms=300) as pd:
        with pytest.raises(InstrumentError, match="WAV:DATA"):
            pd.read(host_t0=0.0)  # no :ARM yet: the instrument answers nothing, its error queue says why
        assert "-230" in pd.query(":SYST:ERR?")


def test_bad_resources() -> None:
    with pytest.raises(InstrumentError, match="not a VISA resource string"):
        Photodiode("scope-on-desk")
    with pytest.raises(InstrumentError, match="cannot open"):
        Photodiode(f"TCPIP0::127.0.0.1::{free_port('127.0.0.1')}::SOCKET", timeout_ms=500).open()
