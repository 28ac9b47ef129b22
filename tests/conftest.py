"""Test set-up shared by every test: firmware/ and the repo on sys.path, and the two
MicroPython names the pure core needs on CPython (`micropython.const`, `time.ticks_*`)."""

import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
for p in (str(ROOT), str(FIRMWARE)):
    if p not in sys.path:
        sys.path.insert(0, p)

if "micropython" not in sys.modules:
    # the core only needs const(); the simulator brings its full fake when it runs firmware
    _mp = types.ModuleType("micropython")
    _mp.const = lambda x: x
    sys.modules["micropython"] = _mp

from simulator import clock as _clock  # noqa: E402

for _name in ("ticks_diff", "ticks_add"):
    if not hasattr(time, _name):
        setattr(time, _name, getattr(_clock, _name))
