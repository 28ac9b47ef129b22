"""Per-tick cost of the 4-channel instrument, run inside the MicroPython VM (or CPython).

Prints one JSON line: alloc_bytes_per_tick (MicroPython only), tick_us, empty_loop_us.
"""

import gc
import json
import time

from fourchannel import build

_TICKS = 2000
# the VM's clock may tick by whole milliseconds (Node): the empty loop runs long enough to show
_EMPTY_LOOPS = 200000


def _nothing():
    pass


def _loop(fn, n):
    i = 0
    while i < n:
        fn()
        i += 1


def _time_us(fn, n):
    t0 = time.ticks_us()
    _loop(fn, n)
    return time.ticks_diff(time.ticks_us(), t0)


def _alloc(fn, n):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    _loop(fn, n)
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def main():
    inst, step = build(4000)
    out = {"ticks": _TICKS, "channels": len(inst.channels)}  # type: dict
    if hasattr(gc, "mem_alloc"):
        out["alloc_bytes_per_tick"] = (_alloc(step, _TICKS) - _alloc(_nothing, _TICKS)) / _TICKS
    best = None
    empty = None
    k = 0
    while k < 5:  # best of five: the least disturbed run
        t = _time_us(step, _TICKS)
        e = _time_us(_nothing, _EMPTY_LOOPS)
        best = t if best is None or t < best else best
        empty = e if empty is None or e < empty else empty
        k += 1
    # Five runs: neither is None any more.
    out["tick_us"] = best / _TICKS  # type: ignore[operator]
    out["empty_loop_us"] = empty / _EMPTY_LOOPS  # type: ignore[operator]
    print(json.dumps(out))


main()
