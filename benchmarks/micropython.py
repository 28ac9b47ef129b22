"""Figures measured inside the official MicroPython VM (WebAssembly, under Node.js)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tick_figures() -> dict:
    """alloc_bytes_per_tick, tick_us_micropython, empty_loop_us_micropython."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node.js is needed to run the MicroPython VM")
    cmd = [
        node,
        str(ROOT / "tests/micropython/run.mjs"),
        str(ROOT / "benchmarks/mp/bench_tick.py"),
        "--path",
        str(ROOT / "firmware"),
        "--path",
        str(ROOT / "benchmarks/mp"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return {
        "alloc_bytes_per_tick": data["alloc_bytes_per_tick"],
        "tick_us_micropython": data["tick_us"],
        "empty_loop_us_micropython": round(data["empty_loop_us"], 3),
        "micropython_ticks_measured": data["ticks"],
    }
