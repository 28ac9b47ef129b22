"""Engine figures on CPython: per-tick cost of the 4-channel instrument, and the idle check.

Usage: from benchmarks import engine; engine.tick_us_cpython(); engine.idle_messages(600)
"""

from __future__ import annotations

import random
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


def idle_messages(seconds: int = 600, seed: int = 11) -> int:
    """MIDI messages from four untouched, noisy sensors (each mode family) in `seconds`."""
    firmware_on_path()
    from instrument import Instrument, kind_defaults
    from settings import Settings

    from simulator import movement as mv

    rng = random.Random(seed)
    n = seconds * 1000
    # rest on an E11 spike code for the ADC channels; a ToF sensor seeing nothing (FAR)
    pad = mv.adc_read_u16(mv.rest(n, 1536 * 16 + 40), rng)
    expr = mv.adc_read_u16(mv.rest(n, 2560 * 16 - 30), rng)
    dist = mv.quantise(mv.rest(n, 180.0), rng, noise=1.5, lo=0, hi=255)
    names = ("switch", "pad", "expression", "hand")
    st = Settings(names)
    values = kind_defaults((("switch", "switch"),))
    values.update({"expression.mode": "cc", "hand.mode": "zones"})
    assert st.apply(values) == []

    class Replay:
        def __init__(self, kind, full, invert, data):
            self.KIND, self.FULL_SCALE, self.invert = kind, full, invert
            self.data, self.i, self.fault, self.fault_text = data, 0, 0, ""

        def begin(self):
            pass

        def read(self, now_us):
            v = self.data[self.i]
            self.i += 1
            return v

    sensors = [("switch", Replay("switch", 1, False, [0] * n), "switch"),
               ("pad", Replay("analog", 65535, False, pad), "fsr"),
               ("expression", Replay("analog", 65535, False, expr), "fsr"),
               ("hand", Replay("analog", 255, True, dist), "vl6180x")]
    inst = Instrument(st, sensors)
    inst.begin(0)
    count = 0
    m = inst.midi
    for t in range(n):
        inst.tick((t * 1000) & ((1 << 30) - 1))
        count += m.count
        m.count = 0
    return count
