"""Eight switches read together (sensors/switchbank.py) and four analog channels, in the two
halves of a tick the runtime runs (switches, their MIDI sent, then the analog channels), on real
MicroPython: no heap allocation per tick, and every switch plays.

Run: node tests/micropython/run.mjs tests/micropython/check_switchbank.py --path firmware \
     --path benchmarks/mp
"""

from array import array

from checks import alloc_bytes, run
from fakesensor import FakeSensor
from fourchannel import traces
from instrument import Instrument, kind_defaults
from sensors.switch import Switch, SwitchBank

VM_PATHS = ("benchmarks/mp",)  # fourchannel.py and fakesensor.py, shared with the benchmarks
_MASK = (1 << 30) - 1
_PINS = (6, 7, 8, 9, 10, 11, 12, 13)


class _Pin:
    def value(self):
        return 1


def build(ms=4000):
    """The instrument, the fake GPIO register (an array: mem[0]) and a step() running one tick
    as the runtime does; switch k is pressed for 60 ms every 500 ms, 50 ms after switch k-1."""
    from settings import Settings

    mem = array("I", [0])
    bank = SwitchBank(mem, 0)
    names = []
    sensors = []
    kinds = []
    for p in _PINS:
        sw = Switch(_Pin(), active_low=True)
        bank.add(sw, p)
        name = "sw" + str(p)
        names.append(name)
        kinds.append((name, "switch"))
        sensors.append((name, sw, "switch"))
    _, pad, expr, dist = traces(ms)
    analog = (
        ("pad", FakeSensor("analog", values=pad, loop=True), "fsr"),
        ("pad2", FakeSensor("analog", values=pad, loop=True), "fsr"),
        ("expression", FakeSensor("analog", values=expr, loop=True), "fsr"),
        ("hand", FakeSensor("analog", 255, values=dist, invert=True, loop=True), "vl6180x"),
    )
    for name, sensor, kind in analog:
        names.append(name)
        kinds.append((name, "analog"))
        sensors.append((name, sensor, kind))
    st = Settings(names)
    defaults = kind_defaults(kinds)
    defaults["expression.mode"] = "cc"
    defaults["hand.mode"] = "zones"
    assert st.apply(defaults) == []
    inst = Instrument(st, sensors)
    inst.begin(0)
    levels = array("I", bytes(4 * ms))  # the register at each ms: all released = all high
    t = 0
    while t < ms:
        v = 0
        k = 0
        for p in _PINS:
            phase = (t - k * 50) % 500
            if not 100 <= phase < 160:
                v |= 1 << p
            k += 1
        levels[t] = v
        t += 1
    state = [0, 0, 0]  # ticks_us, ms index, note-ons seen
    midi = inst.midi

    def step():
        t = (state[0] + 1000) & _MASK
        state[0] = t
        i = state[1]
        mem[0] = levels[i]
        state[1] = i + 1 if i + 1 < ms else 0
        inst.tick_switches(t)
        n = 0
        while n < midi.count:
            if midi.buf[n * 4 + 1] & 0xF0 == 0x90 and midi.buf[n * 4 + 3]:
                state[2] += 1
            n += 1
        midi.count = 0  # sent, as the runtime sends the switches' MIDI before the analog work
        inst.tick_analog(t)
        midi.count = 0

    return inst, step, state


def check_eight_switches_and_four_analog_channels_allocate_nothing_per_tick():
    inst, step, _ = build(4000)
    k = 0
    while k < 1000:
        step()
        k += 1
    assert alloc_bytes(step, 2000) == 0


def check_every_switch_of_the_bank_plays():
    inst, step, state = build(1000)
    k = 0
    while k < 1000:
        step()
        k += 1
    assert state[2] == 17, state  # 8 switches, 2 presses each, and GP13 pressed at the start


run(globals())
