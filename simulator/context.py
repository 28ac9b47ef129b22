"""Where the fake MicroPython modules find the running simulation's clock and world.

The fakes (`machine`, `usb.device.midi`, ...) are re-imported on every simulated reset, so the
state that outlives a reset (the clock, the world, the MIDI sink) lives here instead.
"""

from __future__ import annotations

import gc as _real_gc
import select as _real_select
from typing import Any

REAL_GC = _real_gc
REAL_SELECT = _real_select

clock: Any = None  # simulator.clock.Clock of the running simulation
world: Any = None  # simulator.world.World of the running simulation


class SimulatedReset(BaseException):  # noqa: N818 (a signal, not an error)
    """The board restarts: raised out of the firmware by a WDT timeout, `machine.reset()`,
    `machine.soft_reset()` or a power cut. The Simulation catches it and boots again."""

    def __init__(self, cause: str, soft: bool = False, off_us: int = 0) -> None:
        super().__init__(cause)
        self.cause = cause
        self.soft = soft
        self.off_us = off_us  # how long the board stays off before it boots again


def require() -> tuple[Any, Any]:
    """The running (clock, world); a clear error when a fake is used outside a simulation."""
    if clock is None or world is None:
        raise RuntimeError("The MicroPython fakes only work inside a running simulator.")
    return clock, world
