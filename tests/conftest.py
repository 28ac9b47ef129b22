"""Test set-up shared by every test: firmware/ and the repo on sys.path, and the two
MicroPython names the pure core needs on CPython (`micropython.const`, `time.ticks_*`); the
same set-up the benchmarks use (benchmarks/engine.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.engine import firmware_on_path  # noqa: E402

firmware_on_path()
