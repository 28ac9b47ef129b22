"""A tiny check framework for scripts that run inside the MicroPython VM (see run.mjs).

A check script defines `def check_<behaviour>():` functions that assert, and ends with
`run(globals())`, which runs them by name and prints one JSON line per check:
{"check": name, "ok": bool, "error": traceback text or "", "ms": duration}.
Runs on CPython too (for debugging), except the allocation helpers, which need MicroPython.

tests/test_micropython_vm.py runs every tests/micropython/check_*.py with firmware/, fakes/ and the
script's folder on sys.path; a script needing more names them (repository-relative) in a top-level
literal, e.g. `VM_PATHS = ("benchmarks/mp",)`.
"""

import gc
import json
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"


def _nothing():
    pass


def _net_alloc(fn, n):
    """Net bytes the heap grew by over n calls of fn, garbage collection off."""
    gc.collect()  # room to grow without a collection; none can happen while disabled
    gc.disable()
    try:
        before = gc.mem_alloc()  # type: ignore[attr-defined]  # MicroPython only
        # A while loop, not `for ... range()`, so the loop itself allocates nothing.
        i = 0
        while i < n:
            fn()
            i += 1
        return gc.mem_alloc() - before  # type: ignore[attr-defined]
    finally:
        gc.enable()


def empty_loop_bytes(n=1000):
    """Bytes allocated by the measuring loop calling a no-op n times (the baseline)."""
    _require_micropython()
    return _net_alloc(_nothing, n)


def alloc_bytes(fn, n=100, warmup=1):
    """Net heap bytes allocated by n calls of fn(), minus the same loop calling a no-op.

    fn takes no arguments (a call with *args would allocate in the callee): close over the
    state to vary, e.g. `lambda: eng.update(v, t)`. The first `warmup` calls are not counted,
    so one-time lazy set-up is excluded and only steady-state allocation is measured.
    gc.mem_alloc() counts bytes in use, so an explicit free inside fn (a list growing by
    realloc) lowers the figure: it is net growth, in whole 16-byte blocks on 32-bit ports.
    """
    _require_micropython()
    i = 0
    while i < warmup:
        fn()
        i += 1
    return _net_alloc(fn, n) - _net_alloc(_nothing, n)


def alloc_per_call(fn, n=100, warmup=1):
    """alloc_bytes(fn, n, warmup) / n: steady-state heap bytes per call (0 is the goal)."""
    return alloc_bytes(fn, n, warmup) / n


def _require_micropython():
    if not hasattr(gc, "mem_alloc"):
        raise RuntimeError("allocation checks need MicroPython's gc.mem_alloc()")


def _now_ms():
    if MICROPYTHON:
        return time.ticks_ms()  # type: ignore[attr-defined]  # MicroPython only
    return time.monotonic_ns() // 1000000


def _ms_since(start):
    if MICROPYTHON:
        return time.ticks_diff(time.ticks_ms(), start)  # type: ignore[attr-defined]
    return _now_ms() - start


def _traceback(e):
    if MICROPYTHON:
        import io

        buf = io.StringIO()
        sys.print_exception(e, buf)  # type: ignore[attr-defined]  # MicroPython only
        return buf.getvalue()
    import traceback

    return "".join(traceback.format_exception(e))


def run(namespace, prefix="check_"):
    """Run every function in `namespace` named prefix..., sorted by name; print JSON lines.

    Returns the number of failed checks. The exit status stays 0 when checks fail, so the
    caller can tell failed checks (ok: false) from a script that crashed.
    """
    names = sorted(k for k in namespace if k.startswith(prefix) and callable(namespace[k]))
    failed = 0
    for name in names:
        error = ""
        start = _now_ms()
        try:
            namespace[name]()
        except Exception as e:  # noqa: BLE001 - a check's failure is data, not a crash
            error = _traceback(e)
            failed += 1
        ms = _ms_since(start)
        print(json.dumps({"check": name, "ok": not error, "error": error, "ms": ms}))
        gc.collect()  # each check starts from a tidy heap
    return failed
