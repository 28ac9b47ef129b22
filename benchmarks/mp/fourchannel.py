"""A 4-channel instrument on recorded-style traces, for the MicroPython VM (checks and bench).

Usage: inst, step = build(4000); step()   # one tick: read 4 sensors, update, clear the queue

Channels: a switch playing notes, an FSR playing notes, an FSR playing CC 11, and a distance
sensor (mm, closer = more) playing zones. Traces loop, so any number of ticks is steady state.
"""

from array import array

from fakesensor import FakeSensor
from instrument import Instrument, kind_defaults
from settings import Settings

_MASK = (1 << 30) - 1


class Noise:
    """A small linear congruential generator: repeatable noise without `random`."""

    def __init__(self, seed):
        self.x = seed

    def next(self, amplitude):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % (2 * amplitude + 1) - amplitude


def traces(ms):
    """Four looping traces of `ms` samples with presses every 500 ms, noise on the analog ones."""
    sw = array("H", bytes(2 * ms))
    pad = array("H", bytes(2 * ms))
    expr = array("H", bytes(2 * ms))
    dist = array("H", bytes(2 * ms))
    nz = Noise(7)
    t = 0
    while t < ms:
        phase = t % 500
        pressed = 250 <= phase < 400
        sw[t] = 1 if pressed else 0
        bump = 0
        if 200 <= phase < 450:
            bump = min(phase - 200, 450 - phase) * 60
        pad[t] = 2000 + bump + nz.next(24)
        expr[t] = 3000 + (t % 2000) * 8 + nz.next(24)
        dist[t] = 255 if phase < 100 else 60 + (phase % 120) + nz.next(2)
        t += 1
    return sw, pad, expr, dist


def build(ms=4000):
    """The instrument and a `step()` that runs one tick (and drops the queued MIDI, as a send
    would). Settles the baselines first, so what follows is steady state."""
    sw, pad, expr, dist = traces(ms)
    names = ("switch", "pad", "expression", "hand")
    st = Settings(names)
    defaults = kind_defaults(
        (("switch", "switch"), ("pad", "analog"), ("expression", "analog"), ("hand", "analog"))
    )
    defaults["expression.mode"] = "cc"
    defaults["hand.mode"] = "zones"
    defaults["hand.range"] = "80"
    assert st.apply(defaults) == []
    sensors = (
        ("switch", FakeSensor("switch", values=sw, loop=True), "switch"),
        ("pad", FakeSensor("analog", values=pad, loop=True), "fsr"),
        ("expression", FakeSensor("analog", values=expr, loop=True), "fsr"),
        ("hand", FakeSensor("analog", 255, values=dist, invert=True, loop=True), "vl6180x"),
    )
    inst = Instrument(st, sensors)
    state = [0]  # ticks_us, wrapping like the Pico's
    inst.begin(0)
    midi = inst.midi

    def step():
        t = (state[0] + 1000) & _MASK
        state[0] = t
        inst.tick(t)
        midi.count = 0

    k = 0
    while k < 1000:
        step()
        k += 1
    return inst, step
