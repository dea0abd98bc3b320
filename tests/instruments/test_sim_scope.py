"""The simulated scope fed by an LED events file: the drive through a rise time, with noise, at the
times the DUT's clock maps to; the SCPI state machine (idle, run, done) and its error queue."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rig.instruments.scpi import ScpiError, parse_command, read_block
from rig.instruments.sim_scope import EventsLight, ScopeState


def test_events_light_follows_the_file(tmp_path) -> None:
    events = tmp_path / "led.events"
    events.write_text("0 32 0 0\n1000 0 32 0\n1100 255 0 255\n1200 0 32 0\n")
    host_start = 50.0  # host monotonic second at which the DUT's uptime was 0
    light = EventsLight(events, lambda t: (t - host_start) * 1000, rise_ms=0.5, noise=0.005, seed=1)
    levels = light.levels(host_start + 1.0, 2000, 600)  # uptime 1000..1300 ms
    assert levels.shape == (600, 3)
    assert abs(levels[100, 1] - 32 / 255) < 0.03  # dim green before the flash
    assert levels[300, 0] > 0.95 and levels[300, 2] > 0.95 and levels[300, 1] < 0.05  # magenta at 1150 ms
    rising = levels[198:206, 0]
    assert 0.05 < rising[3] < 0.95  # a finite rise time: not a step
    assert np.std(levels[:150, 0]) > 0.001  # noisy


def test_events_light_of_a_restarted_dut_uses_its_latest_start(tmp_path) -> None:
    events = tmp_path / "led.events"
    events.write_text("0 32 0 0\n500 0 32 0\n0 0 0 255\n")  # the second start drives blue
    light = EventsLight(events, lambda t: t * 1000, rise_ms=0, noise=0)
    assert np.allclose(light.levels(0.1, 1000, 10), [0, 0, 1])


def test_state_machine_and_errors() -> None:
    state = ScopeState(lambda t0, rate, n: np.ones((n, 3)), channels=3, full_scale_v=1.5)
    run = lambda text: state.handle(parse_command(text))  # noqa: E731
    assert run("*IDN?").startswith(b"HAN-RIG")
    assert run(":ACQ:STAT?") == b"IDLE"
    run(":ACQ:SRAT 1000")
    run(":ACQ:POIN 20")
    with pytest.raises(ScpiError, match="-230"):
        run(":WAV:DATA?")
    run(":ARM")
    assert run(":ACQ:STAT?") == b"RUN"
    time.sleep(0.03)
    assert run(":ACQ:STAT?") == b"DONE"
    payload, rest = read_block(run(":WAV:DATA?"))
    assert rest == b"" and np.allclose(np.frombuffer(payload, "<f4"), 1.5)
    with pytest.raises(ScpiError, match="-222"):
        run(":ACQ:POIN 0")
    with pytest.raises(ValueError, match="1 or 3"):
        ScopeState(lambda *a: None, channels=2)
