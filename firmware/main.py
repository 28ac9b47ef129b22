"""Attune firmware entry point: play the instrument described by board.json.

Serial input never stops it: send `maintenance` (as `attune deploy` does) to restart
with the REPL reachable; the next reset plays again (docs/protocol.md).
"""

import gc

# The per-tick modules first: `attune deploy` compiles them to native code, which MicroPython
# keeps in RAM (about 3.5x their bytecode). Loaded before anything else, their code lies
# together at the start of the heap; loaded among the start-up's garbage, it left the heap in
# pieces, and on the emulated Pico the 12-channel instrument (and combo) could not find 2 KB in
# one piece to start ("Attune cannot start: memory allocation failed").
import engine.conditioning  # noqa: F401
import engine.gestures  # noqa: F401
import engine.mapper  # noqa: F401
import instrument  # noqa: F401

gc.collect()

import runtime  # noqa: E402

runtime.main()
