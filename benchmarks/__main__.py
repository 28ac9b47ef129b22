"""Run every benchmark and print one JSON document (also written to benchmarks/results.json).

Usage: python -m benchmarks [--quick]     (`make bench`; `--quick` shortens the long runs)
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def _sections(quick: bool):
    from benchmarks import detection, engine, journaldevice, latency, micropython, zones

    yield "micropython", micropython.tick_figures
    yield "cpython", lambda: {"tick_us_cpython": engine.tick_us_cpython()}
    # the wall-clock figures come first, before the long virtual-time runs load the machine
    yield (
        "simulator speed",
        lambda: _own_process(f"measure_speed('combo', 20, runs={1 if quick else 5})"),
    )
    yield "studio", lambda: __import__("benchmarks.studio").studio.figures(quick)
    yield "studio page", lambda: __import__("benchmarks.studio_page").studio_page.run(quick)
    yield "journal", lambda: __import__("benchmarks.journal").journal.figures(quick)
    yield "switch latency", latency.switch_latency
    yield "analog latency", latency.analog_latency
    yield "idle", lambda: latency.idle_messages(60 if quick else 600)
    yield "collections", lambda: latency.presses_in_collections(60 if quick else 300)
    yield "detection", lambda: {"detection": detection.run(minutes=5 if quick else 30)}
    yield "zones", lambda: zones.figures(quick)
    yield "journal device", journaldevice.figures


def _own_process(call: str) -> dict:
    """Run `simulator.run.<call>` in a fresh interpreter: the simulator's speed should not
    depend on what the other benchmarks left in this one's memory (tens of MB of traces)."""
    code = f"import json; from simulator.run import measure_speed; print(json.dumps({call}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(out.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    results: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "quick": args.quick,
        "seconds": {},
    }
    failed = []
    for name, fn in _sections(args.quick):
        t0 = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            results.update(fn())
        except Exception:
            failed.append(name)
            results.setdefault("errors", {})[name] = traceback.format_exc(limit=3)
        results["seconds"][name] = round(time.perf_counter() - t0, 2)
    if "tick_us_micropython" in results:
        results["tick_ratio_micropython"] = round(
            results["tick_us_micropython"] / max(results["empty_loop_us_micropython"], 0.01), 1
        )
    text = json.dumps(results, indent=2)
    args.out.write_text(text + "\n")
    print(text)
    if failed:
        print("bench: these failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
