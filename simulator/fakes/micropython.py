"""Fake `micropython` module for the simulator: `const`, `schedule` (8 deep, as on rp2),
emitter decorators as no-ops, and the heap/info calls as harmless stand-ins."""

from simulator import context as _ctx

_clock, _world = _ctx.require()

_SCHEDULE_DEPTH = 8
_pending = [0]


def const(value):
    return value


def _run_scheduled(fn, arg):
    _pending[0] -= 1
    fn(arg)


def schedule(fn, arg):
    """Run `fn(arg)` at the next clock call, like a soft interrupt; a full queue raises, as
    MicroPython's does (`RuntimeError: schedule queue full`)."""
    if _pending[0] >= _SCHEDULE_DEPTH:
        raise RuntimeError("schedule queue full")
    _pending[0] += 1
    _clock.call_at(_clock.now, _run_scheduled, fn, arg, firmware=True)


def alloc_emergency_exception_buf(size):
    pass


def heap_lock():
    return 0


def heap_unlock():
    return 0


def heap_locked():
    return 0


def kbd_intr(chr):
    """Which byte on the serial port raises KeyboardInterrupt (-1: none)."""
    _world.kbd_intr_char = chr


def opt_level(level=None):
    return 0 if level is None else None


def mem_info(verbose=None):
    print("stack: 1024 out of 7936")
    print("GC: total: 192064, used: 20480, free: 171584")
    print(" No. of 1-blocks: 300, 2-blocks: 60, max blk sz: 64, max free sz: 10700")


def qstr_info(verbose=None):
    print("qstr pool: n_pool=1, n_qstr=100, n_str_data_bytes=1000, n_total_bytes=3000")


def stack_use():
    return 1024


def _identity(fn):
    return fn


native = _identity
viper = _identity
asm_thumb = _identity
