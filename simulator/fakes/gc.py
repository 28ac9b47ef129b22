"""Fake `gc` module for the simulator: MicroPython's memory calls, and a `collect()` that costs
virtual time like a full collection on a Pico (about 2 ms with a small live heap) instead of
CPython's real, much slower collection of the whole simulator."""

from simulator import context as _ctx

_clock, _world = _ctx.require()
_real = _ctx.REAL_GC

COLLECT_US = 2000
_enabled = [True]


def collect():
    _world.gc_times.append(_clock.now / 1000)
    _clock.advance(getattr(_world, "gc_collect_us", COLLECT_US))
    return 0


def enable():
    _enabled[0] = True


def disable():
    _enabled[0] = False


def isenabled():
    return _enabled[0]


def mem_free():
    return 171_584


def mem_alloc():
    return 20_480


def threshold(amount=None):
    return -1 if amount is None else None


def __getattr__(name):
    return getattr(_real, name)
