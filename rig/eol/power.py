"""A software DUT on a simulated supply channel, for power faults (the scenario suite, the benchmark):
power it on and off, cut it during a configuration write, brown it out, and see it come back.

``PoweredUnit`` owns everything it starts (the unit's meter line, the supply and its pyvisa session) and
stops it all on ``close()``; the DUT is reached through pyvisa only (output on, off, limits), as at the
station.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rig.eol.sequence import BUDGETS, Budget
from rig.instruments.sim_supply import DutLoad, SimSupply, SupplyState
from rig.instruments.supply import Supply
from rig.probes.http import HttpProbe


class PoweredUnit:
    """One software DUT (``serial``, time compressed ``speed`` times, its configuration saved to its file) on
    channel 1 of a simulated supply, at the rail of ``port`` (``han`` 24 V, ``p1`` 5 V) with the current
    limit at the port's budget."""

    def __init__(self, workdir: Path, serial: str = "PWR-0001", port: str = "han", speed: float = 60.0,
                 extra_mw: float = 0.0) -> None:
        from rig.dut.software import SoftwareDut
        from rig.emulators import get_profile
        from rig.links import open_link

        self.budget: Budget = BUDGETS[port]
        self._stack = ExitStack()
        try:
            profile = get_profile("kaifa-ma304h4")
            self.link = open_link("sim", profile.line, speed=speed, log_path=workdir / "line.jsonl")
            self._stack.callback(self.link.close)
            self.dut: Any = SoftwareDut(workdir, self.link.device, clock_scale=speed, serial_number=serial,
                                        modbus_enabled=True, extra_config={"persist": True})
            self.load = DutLoad(self.dut, extra_mw=extra_mw)
            self.sim = SupplyState(channels=1)
            self.sim.attach(1, self.load)
            self.psu = self._stack.enter_context(Supply(self._stack.enter_context(SimSupply(self.sim)).resource))
            self._stack.callback(self.dut.kill)
            self.psu.set_voltage(self.budget.volts)
            self.set_limit_ma(self.budget.limit_ma)
        except BaseException:
            self._stack.close()
            raise

    @property
    def channel(self):
        return self.sim.channel(1)

    def set_limit_ma(self, ma: float) -> None:
        self.psu.set_current_limit(ma / 1000.0)

    def on(self, timeout: float = 10.0) -> float:
        """Output on; seconds to READY."""
        self.psu.output(True)
        return self.load.wait_ready(timeout)

    def off(self) -> None:
        """Output off: the firmware is killed at once (SIGKILL)."""
        self.psu.output(False)

    def http(self) -> HttpProbe:
        return HttpProbe(self.dut.http_url, timeout=2.0)

    def answers(self) -> bool:
        """True when the unit answers ``GET /health``."""
        probe = self.http()
        try:
            return isinstance(probe.health(), dict)
        except Exception:
            return False
        finally:
            probe.close()

    def wait_state(self, alive: bool, timeout: float = 10.0) -> bool:
        """Wait until the firmware runs (``alive``) or not; whether it got there."""
        deadline = time.monotonic() + timeout
        while self.dut.alive() != alive or (alive and self.load.booting()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> PoweredUnit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
