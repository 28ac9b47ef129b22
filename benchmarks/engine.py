"""Engine figures on CPython: per-tick cost of the 4-channel instrument.

Usage: from benchmarks import engine; engine.tick_us_cpython()
"""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def firmware_on_path() -> None:
    """What tests/conftest.py does: firmware/ importable on CPython with `const`/`ticks_*`."""
    for p in (str(ROOT), str(ROOT / "firmware"), str(ROOT / "benchmarks" / "mp")):
        if p not in sys.path:
            sys.path.insert(0, p)
    if "micropython" not in sys.modules:
        mp = types.ModuleType("micropython")
        mp.const = lambda x: x  # type: ignore[attr-defined]
        sys.modules["micropython"] = mp
    from simulator import clock

    for name in ("ticks_diff", "ticks_add"):
        if not hasattr(time, name):
            setattr(time, name, getattr(clock, name))


def tick_us_cpython(ticks: int = 20000) -> float:
    """Microseconds per tick of the 4-channel instrument on CPython (best of 3)."""
    firmware_on_path()
    from fourchannel import build

    _, step = build(4000)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(ticks):
            step()
        best = min(best, (time.perf_counter() - t0) / ticks * 1e6)
    return round(best, 2)
