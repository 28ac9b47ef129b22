"""Fake `rp2` module for the simulator: the BOOTSEL button (never pressed unless the world says
so); PIO is not simulated."""

from simulator import context as _ctx

_clock, _world = _ctx.require()


def bootsel_button():
    return 1 if getattr(_world, "bootsel_pressed", False) else 0


def country(code=None):
    return "XX" if code is None else None


class PIO:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("PIO is not simulated.")


class StateMachine(PIO):
    pass


def asm_pio(*args, **kwargs):
    def wrap(fn):
        return fn

    return wrap
