"""Drive the engine from tiny traces and read back the MIDI it plays, in words.

Usage: events = play({"pad": trace}, kinds={"pad": "analog"}, settings={"pad.mode": "cc"})
       -> [(t_ms, "note_on", channel, note, velocity), ...]
"""

from __future__ import annotations

from engine.scales import STEPS
from instrument import Instrument, kind_defaults
from settings import Settings

from benchmarks.mp.fakesensor import FakeSensor

FULL_SCALE = {"switch": 1, "analog": 65535, "tof": 255}
_KINDS = {0x80: "note_off", 0x90: "note_on", 0xB0: "cc", 0xD0: "pressure", 0xE0: "bend"}


def in_scale(note, scale, key):
    """Whether `note` belongs to the scale (a settings.SCALES index) on `key`."""
    return ((note - key) % 12) in STEPS[scale]


def describe(buf, i):
    """Packet i of a MidiOut queue as (type name, channel, data1, data2)."""
    status = buf[i * 4 + 1]
    return _KINDS.get(status & 0xF0, "other"), status & 0x0F, buf[i * 4 + 2], buf[i * 4 + 3]


def trace_sensor(values: list[int], kind: str = "analog", invert: bool = False) -> FakeSensor:
    """The shared fake sensor reading back `values`, one per tick (the last one repeats); an
    "analog" one (an ADC input) pinned at its rail is a wiring fault, a "tof" one reads mm."""
    return FakeSensor(
        "switch" if kind == "switch" else "analog",
        FULL_SCALE[kind],
        values=values,
        invert=invert,
        rail_fault=kind == "analog",
    )


def build(
    traces: dict[str, list[int]],
    kinds: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    invert: dict[str, bool] | None = None,
) -> Instrument:
    kinds = kinds or {}
    invert = invert or {}
    names = list(traces)
    st = Settings(names)
    defaults = kind_defaults(
        [(n, "switch" if kinds.get(n) == "switch" else "analog") for n in names]
    )
    assert st.apply({**defaults, **(settings or {})}) == []
    sensors = [
        (n, trace_sensor(traces[n], kinds.get(n, "analog"), invert.get(n, False)), "fake")
        for n in names
    ]
    inst = Instrument(st, sensors)
    inst.begin(0)
    return inst


def drain(inst: Instrument, t_ms: float, out: list) -> None:
    m = inst.midi
    for i in range(m.count):
        kind, ch, d1, d2 = describe(m.buf, i)
        out.append((t_ms, kind, ch, d1, d2))
    m.count = 0


def run(inst: Instrument, ms: int, start_ms: int = 0, tick_us: int = 1000, on_tick=None) -> list:
    out: list = []
    t = start_ms * 1000
    end = (start_ms + ms) * 1000
    while t < end:
        if on_tick:
            on_tick(inst, t // 1000)
        inst.tick(t)
        drain(inst, t / 1000, out)
        t += tick_us
    return out


def play(traces: dict[str, list[int]], **kw) -> list:
    """Run every trace to its end; returns the MIDI events."""
    inst = build(traces, **{k: v for k, v in kw.items() if k in ("kinds", "settings", "invert")})
    n = max(len(t) for t in traces.values())
    return run(inst, n)


def notes_on(events: list) -> list:
    return [e for e in events if e[1] == "note_on"]


def sounding_after(events: list) -> set:
    """(channel, note) pairs still sounding after these events, as a synth would hear them."""
    on: set = set()
    for _, kind, ch, d1, _ in events:
        if kind == "note_on":
            on.add((ch, d1))
        elif kind == "note_off":
            on.discard((ch, d1))
        elif kind == "cc" and d1 == 123:
            on = {x for x in on if x[0] != ch}
    return on


def _rest_state() -> tuple:
    return (8192, 0, 0)


def held_after(events: list) -> dict:
    """MIDI channel -> (bend, pressure, modulation) for every channel a synth would still hold
    away from rest after these events (bend not centred, pressure or CC 1 not zero). Events are
    enginekit's (t, kind, ch, d1, d2) or test_modes' (kind, ch, d1, d2)."""
    state: dict = {}
    for e in events:
        kind, ch, d1, d2 = e[-4:]
        b, p, mod = state.get(ch, _rest_state())
        if kind == "bend":
            b = d1 | d2 << 7
        elif kind == "pressure":
            p = d1
        elif kind == "cc" and d1 == 1:
            mod = d2
        elif kind == "cc" and d1 == 121:  # Reset All Controllers
            b, p, mod = _rest_state()
        state[ch] = (b, p, mod)
    return {ch: s for ch, s in state.items() if s != _rest_state()}


def detuned_notes(events: list) -> list:
    """The note-ons that a synth would play bent (the pitch bend of their channel not centre)."""
    out = []
    for i, e in enumerate(events):
        kind, ch = e[-4], e[-3]
        if kind == "note_on" and held_after(events[:i]).get(ch, _rest_state())[0] != 8192:
            out.append(e)
    return out
