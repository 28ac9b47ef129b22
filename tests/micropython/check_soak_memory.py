"""Memory in use after a full collection does not grow over a short soak of the engine and the
console with faults injected (soak_memory.py; `make soak` runs the long one).

The soak's phases run as separate calls from JavaScript (a collection inside a running script
frees nothing in the WebAssembly VM), so the check's result line is printed when the last phase
ends, not by checks.run().
"""

import json

from soak_memory import soak

VM_PATHS = ("benchmarks/mp",)  # fourchannel.Noise, shared with the benchmarks

_NAME = "check_memory_in_use_does_not_grow_over_a_short_soak"
_SLACK = 64  # bytes (4 heap blocks): what phases ending in different rounds hold differently


def check_memory_in_use_does_not_grow_over_a_short_soak():
    """Reported by _report() when the soak ends."""


def _report(s):
    grew = s["mem_alloc_max"] - s["mem_alloc_first"]
    ok = grew <= _SLACK and s["midi_dropped"] > 0 and s["errors"] > 0
    error = (
        ""
        if ok
        else (
            "memory in use grew by "
            + str(grew)
            + " bytes over "
            + str(s["ticks"])
            + " ticks: "
            + json.dumps(s)
        )
    )
    print(json.dumps({"check": _NAME, "ok": ok, "error": error, "ms": 0}))


soak(phases=5, ticks=3200, period=800, every=97, done=_report)
