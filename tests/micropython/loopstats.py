"""runtime.Stats as `status` reads it, for VM scripts that build a console with no play loop to
fill it in.

Usage: from loopstats import Stats; Console(inst, profiles, system, Stats(), write)
"""


class Stats:
    tick_hz = 1000
    late_ticks = uptime_ms = mem_free = restarts = gc_us = collections = 0
