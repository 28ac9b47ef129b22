"""Switches read together (sensors/switchbank.py) and switches first in a tick: the same music as
switches read one by one, for a fraction of the work.

The equivalence tests play the same random contact traces (bounces, holds, taps) through two
instruments, one reading each switch's pin, one reading a bank, under settings that change while
they play (debounce, lockout, dwell, a continuous mode, a disabled channel) and a panic while a
switch is held: the MIDI must be the same packet for packet.
"""

from __future__ import annotations

import itertools
import random

import pytest
from instrument import Instrument, kind_defaults
from sensors.switch import GPIO_IN, Switch, SwitchBank
from settings import Settings

from benchmarks.mp.fakesensor import FakeSensor

PINS = (6, 7, 8, 9, 10, 11, 12, 13)


class Wires:
    """The contacts of some switches at the current tick, as pins and as the GPIO register."""

    def __init__(self, traces: dict[int, list[int]], active_low: dict[int, bool]):
        self.traces = traces
        self.active_low = active_low
        self.k = 0

    def pressed(self, pin: int) -> int:
        tr = self.traces[pin]
        return tr[self.k] if self.k < len(tr) else tr[-1]

    def level(self, pin: int) -> int:
        return self.pressed(pin) ^ 1 if self.active_low[pin] else self.pressed(pin)

    def __getitem__(self, addr: int) -> int:  # machine.mem32
        assert addr == GPIO_IN
        v = 1 << 20  # a pin that is no switch's: masked out
        for pin in self.traces:
            v |= self.level(pin) << pin
        return v


class FakePin:
    def __init__(self, wires: Wires, pin: int):
        self.wires = wires
        self.pin = pin

    def value(self) -> int:
        return self.wires.level(self.pin)


def traces(seed: int, pins, ms: int) -> dict[int, list[int]]:
    """Presses of 5-400 ms with bounces of 1-3 ms at both edges, gaps of 1-300 ms."""
    rnd = random.Random(seed)
    out = {}
    for pin in pins:
        tr: list[int] = []
        state = 0
        while len(tr) < ms:
            if rnd.random() < 0.5:  # bounce
                for _ in range(rnd.randint(1, 3)):
                    tr += [state ^ 1] * rnd.randint(1, 3) + [state] * rnd.randint(1, 2)
            tr += [state] * (rnd.randint(5, 400) if state else rnd.randint(1, 300))
            state ^= 1
        out[pin] = tr[:ms]
    return out


def instrument(wires: Wires, pins, banked: bool, analog: bool = False) -> Instrument:
    names = [f"sw{p}" for p in pins]
    kinds = [(n, "switch") for n in names]
    sensors = []
    bank = SwitchBank(wires, GPIO_IN) if banked else None
    for p, n in zip(pins, names, strict=True):
        sw = Switch(FakePin(wires, p), active_low=wires.active_low[p])
        if bank is not None:
            bank.add(sw, p)
        sensors.append((n, sw, "switch"))
    if analog:
        names.append("pad")
        kinds.append(("pad", "analog"))
        sensors.append(("pad", FakeSensor("analog", values=[2000] * 300 + [30000]), "fsr"))
    st = Settings(names)
    degrees = {f"sw{p}.degree": str(i + 1) for i, p in enumerate(pins)}  # a note each
    assert st.apply({**kind_defaults(kinds), **degrees}) == []
    inst = Instrument(st, sensors)
    inst.begin(0)
    return inst


CHANGES = {
    700: {"sw6.debounce": "40"},
    1500: {"sw7.lockout": "120", "sw8.dwell": "30"},
    2300: {"sw9.mode": "cc"},
    3100: {"sw10.enabled": "off"},
    3900: {"sw10.enabled": "on", "sw11.velocity": "speed"},
    4700: {"sw6.mode": "chord", "sw12.mode": "latch"},
    5500: {"sw13.debounce": "0"},
}


def play(inst, wires, ms, panic_at=(), changes=CHANGES, t0=5_000_000) -> list:
    """Tick `ms` times from t0 (us; not 0: times are compared by ticks_diff); the MIDI as
    (tick, packet)."""
    out = []
    t = t0
    for k in range(ms):
        wires.k = k
        if k in changes:
            inst.settings.apply(changes[k])
        if k in panic_at:
            inst.panic()
        inst.tick(t)
        m = inst.midi
        out += [(k, bytes(m.buf[i * 4 : i * 4 + 4])) for i in range(m.count)]
        m.count = 0
        t += 1000
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_bank_plays_what_switches_read_one_by_one_play(seed):
    pins = PINS
    lows = {p: p != 9 for p in pins}  # one switch wired to 3V3 with a pull-down
    ms = 6500
    tr = traces(seed, pins, ms)
    panics = (1000 + seed * 37, 4000 + seed * 11)
    w1, w2 = Wires(tr, lows), Wires(tr, lows)
    plain = play(instrument(w1, pins, False), w1, ms, panics)
    banked = play(instrument(w2, pins, True), w2, ms, panics)
    assert len(plain) > 150
    assert banked == plain


def test_a_held_switch_plays_again_after_a_panic_as_it_always_did():
    pins = (6,)
    tr = {6: [0] * 10 + [1] * 200}
    lows = {6: True}
    w1, w2 = Wires(tr, lows), Wires(tr, lows)
    plain = play(instrument(w1, pins, False), w1, 150, (100,), {})
    banked = play(instrument(w2, pins, True), w2, 150, (100,), {})
    assert banked == plain
    assert [k for k, p in banked if p[1] & 0xF0 == 0x90 and p[3]] == [10, 100]


def test_resting_and_held_switches_are_not_updated(monkeypatch):
    pins = PINS
    tr = {p: [0] * 100 + [1] * 100 for p in pins}
    tr[6] = [0] * 300
    wires = Wires(tr, {p: True for p in pins})
    inst = instrument(wires, pins, True)
    calls = []
    for ch in inst.channels:

        def counted(raw, now, ch=ch, real=ch.update):
            calls.append(ch.name)
            real(raw, now)

        monkeypatch.setattr(ch, "update", counted)
    play(inst, wires, 50, changes={})
    assert len(calls) == len(pins)  # the first tick looks at every switch, then none
    calls.clear()
    wires.traces = {p: tr[p][100:] for p in pins}  # 7 switches pressed, bouncing for 5 ms
    for p in PINS[1:]:
        wires.traces[p][1:6] = [0, 1, 0, 1, 0]
    out = play(inst, wires, 200, changes={}, t0=5_050_000)
    assert len([p for k, p in out if p[1] & 0xF0 == 0x90 and p[3]]) == 7
    # each pressed switch is looked at while it debounces (15 ms), then left alone
    assert len(calls) == 7 * 16
    calls.clear()
    wires.traces = {p: [1] for p in PINS[1:]} | {6: [0]}  # held, and still at rest
    play(inst, wires, 100, changes={}, t0=5_250_000)
    assert calls == []


def test_switches_come_first_and_tick_switches_leaves_the_analog_work_for_later():
    pins = (6, 7)
    tr = {6: [0] * 300 + [1] * 100, 7: [0] * 400}
    wires = Wires(tr, {6: True, 7: True})
    inst = instrument(wires, pins, True, analog=True)
    wires.k = 300
    t = 300_000
    inst.tick_switches(t)
    m = inst.midi
    assert m.count == 1 and m.buf[1] & 0xF0 == 0x90  # the switch's note, before the pad's work
    pad = inst.channels[-1]
    assert pad.raw == 0  # not read yet
    inst.tick_analog(t)
    assert pad.raw == 2000  # its first reading


def test_switch_bank_reads_every_switch_at_once():
    tr = {3: [1], 5: [0], 29: [1]}
    wires = Wires(tr, {3: True, 5: True, 29: False})
    bank = SwitchBank(wires, GPIO_IN)
    switches = {p: Switch(FakePin(wires, p), active_low=wires.active_low[p]) for p in tr}
    for p, sw in switches.items():
        bank.add(sw, p)
    assert bank.read() == (1 << 3) | (1 << 29) == bank.value
    for p, sw in switches.items():
        assert sw.bank is bank and sw.bit == 1 << p
        assert bool(bank.value & sw.bit) == bool(sw.read(0))


@pytest.mark.parametrize(("pads", "stride"), [(1, 1), (2, 1), (3, 3), (4, 4)])
def test_beyond_two_analog_channels_one_is_read_a_tick_in_turn(pads, stride):
    names = [f"pad{i}" for i in range(pads)]
    st = Settings(["sw", *names])
    assert st.apply(kind_defaults([("sw", "switch")] + [(n, "analog") for n in names])) == []
    sensors = [("sw", FakeSensor("switch", values=[0]), "switch")]
    sensors += [(n, FakeSensor("analog", values=[2000]), "fsr") for n in names]
    inst = Instrument(st, sensors)
    inst.begin(0)
    assert inst.stride == stride
    reads = {n: [] for n in names}
    for n, sensor, _ in sensors[1:]:
        sensor.read = lambda now, n=n: reads[n].append(now // 1000) or 2000
    for k in range(1, 13):
        inst.tick(k * 1000)
    for i, n in enumerate(names):  # every channel at the same rate, staggered
        assert reads[n] == list(range(1 + i % stride, 13, stride))


@pytest.mark.parametrize("pads", [0, 1, 4])
def test_trigger_points_are_refreshed_one_channel_at_a_time_every_256_ticks(pads):
    # all of them in one tick took ~2 ms with four pads on the emulated Pico
    names = [f"pad{i}" for i in range(pads)]
    st = Settings(["sw", *names])
    assert st.apply(kind_defaults([("sw", "switch")] + [(n, "analog") for n in names])) == []
    sensors = [("sw", FakeSensor("switch", values=[0]), "switch")]
    sensors += [(n, FakeSensor("analog", values=[2000]), "fsr") for n in names]
    inst = Instrument(st, sensors)
    inst.begin(0)
    refreshed: list[tuple[int, str]] = []
    for ch in inst.channels[1:]:
        real = ch.cond.configure

        def counted(real=real, name=ch.name) -> None:
            refreshed.append((tick, name))
            real()

        ch.cond.configure = counted
    for tick in range(1, 1325):
        inst.tick(tick * 1000)
        assert inst._ticks < 256  # bounded, with or without analog channels
    # (past the settings taken in at the first tick and the rest learned by ~200 ms)
    refreshed = [(k, name) for k, name in refreshed if k > 300]
    ticks = [k for k, _ in refreshed]
    assert len(ticks) == len(set(ticks))  # never two in one tick
    for n in names:  # each every 256 ticks
        mine = [k for k, name in refreshed if name == n]
        assert len(mine) == 4 and all(b - a == 256 for a, b in itertools.pairwise(mine))


def test_switches_moved_says_whether_a_contact_changed_since_the_last_tick_read_it():
    # the loop's look at the switches between ticks: one register load, no state changed
    pins = (6, 7)
    wires = Wires({6: [0, 0, 1, 1, 1], 7: [0, 0, 0, 0, 1]}, {6: True, 7: False})
    inst = instrument(wires, pins, True)
    seen = []
    for k in range(5):
        wires.k = k
        seen.append(inst.switches_moved())
        inst.tick(5_000_000 + k * 1000)
        assert not inst.switches_moved()  # the tick read it
    assert seen == [False, False, True, False, True]
    unbanked = instrument(Wires({6: [1]}, {6: True}), (6,), False)
    assert unbanked.banked == 0 and not unbanked.switches_moved()
    assert inst.banked == 2
