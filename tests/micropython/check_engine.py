"""The movement-to-MIDI engine on real MicroPython: the same behaviour as on CPython, and no
heap allocation per tick.

Run: node tests/micropython/run.mjs tests/micropython/check_engine.py --path firmware \
     --path benchmarks/mp
"""

from checks import alloc_bytes, run
from engine import scales
from fakesensor import FakeSensor
from fourchannel import Noise, build
from instrument import Instrument, kind_defaults
from midi.packets import MidiOut
from settings import Settings

VM_PATHS = ("benchmarks/mp",)  # fourchannel.py and fakesensor.py, shared with the benchmarks
_MASK = (1 << 30) - 1
_REST = [0xE0, 0xD0, 0xB0]  # a reset: bend centred, pressure and modulation zeroed


def _in_scale(note, scale, key):
    return ((note - key) % 12) in scales.STEPS[scale]


def one(kind, data, settings=None, full=65535, invert=False):
    names = ("x",)
    st = Settings(names)
    values = kind_defaults((("x", kind),))
    if settings:
        values.update(settings)
    assert st.apply(values) == []
    sensor = FakeSensor(kind, full, values=data, invert=invert, loop=True)
    inst = Instrument(st, (("x", sensor, "fake"),))
    inst.begin(0)
    return inst


def play(inst, ticks, start=0):
    """Run ticks; returns [(t_ms, status, d1, d2)] of what was queued."""
    out = []
    m = inst.midi
    t = start
    while t < start + ticks:
        inst.tick((t * 1000) & _MASK)
        i = 0
        while i < m.count:
            out.append((t, m.buf[i * 4 + 1], m.buf[i * 4 + 2], m.buf[i * 4 + 3]))
            i += 1
        m.count = 0
        t += 1
    return out


def noisy(n, rest, amp, seed=3):
    nz = Noise(seed)
    return [rest + nz.next(amp) for _ in range(n)]


def with_press(data, at, length, height, rise=40):
    k = 0
    while k < length:
        ramp = min(k, rise, length - k)
        data[at + k] += height * ramp // rise
        k += 1
    return data


def kinds(events):
    return [e[1] & 0xF0 for e in events]


def check_untouched_noisy_sensor_plays_nothing_for_a_minute():
    inst = one("analog", noisy(60000, 24600, 40))
    assert play(inst, 60000) == []


def check_two_percent_press_plays_one_note_and_releases_it():
    data = with_press(noisy(3000, 2000, 16), 1000, 500, 1311)
    ev = play(one("analog", data), 3000)
    assert kinds(ev) == [0x90, 0x80], ev
    assert 1000 <= ev[0][0] < 1100


def check_switch_note_on_the_tick_of_the_first_contact():
    data = [0] * 100 + [1, 0, 1, 0, 1] + [1] * 300 + [0] * 200
    ev = play(one("switch", data), 600)
    assert kinds(ev) == [0x90, 0x80] and ev[0][0] == 100


def check_dwell_delays_the_note_by_exactly_its_setting():
    data = [0] * 100 + [1] * 400 + [0] * 100
    ev = play(one("switch", data, {"x.dwell": "120"}), 600)
    assert ev[0][0] == 220


def check_lockout_refuses_a_quick_second_press():
    data = [0] * 100 + [1] * 100 + [0] * 100 + [1] * 100 + [0] * 600
    ev = play(one("switch", data, {"x.lockout": "400"}), 1000)
    assert kinds(ev) == [0x90, 0x80]


def check_chord_mode_plays_a_major_triad_in_c_major():
    data = [0] * 50 + [1] * 100 + [0] * 50
    ev = play(one("switch", data, {"scale": "major", "x.mode": "chord"}), 200)
    assert sorted(e[2] for e in ev if e[1] & 0xF0 == 0x90) == [60, 64, 67]
    assert len([e for e in ev if e[1] & 0xF0 == 0x80]) == 3


def check_sequence_mode_wraps_round_the_melody():
    data = ([0] * 100 + [1] * 100) * 4 + [0] * 100
    ev = play(
        one("switch", data, {"scale": "chromatic", "x.mode": "sequence", "x.melody": "C4 D4"}), 900
    )
    assert [e[2] for e in ev if e[1] & 0xF0 == 0x90] == [60, 62, 60, 62]


def check_latch_mode_holds_until_the_next_press():
    data = ([0] * 100 + [1] * 100) * 2 + [0] * 100
    ev = play(one("switch", data, {"x.mode": "latch"}), 500)
    assert kinds(ev) == [0x90, 0x80] and ev[1][0] == 300


def check_cc_mode_sends_nothing_while_still_and_follows_movement():
    data = noisy(2000, 2000, 16)
    inst = one(
        "analog", data + with_press(noisy(3000, 2000, 16), 500, 2000, 30000), {"x.mode": "cc"}
    )
    assert play(inst, 2000) == []
    ev = play(inst, 3000, 2000)
    assert max(e[3] for e in ev) > 50 and ev[-1][3] == 0


def check_zones_on_a_distance_sensor_play_higher_as_the_hand_comes_closer():
    mm = [255] * 500 + [200 - k // 20 for k in range(3000)] + [255] * 500
    ev = play(one("analog", mm, {"x.mode": "zones", "x.range": "80"}, full=255, invert=True), 4000)
    notes = [e[2] for e in ev if e[1] & 0xF0 == 0x90]
    assert len(notes) >= 3 and notes == sorted(notes), notes
    assert len([e for e in ev if e[1] & 0xF0 == 0x80]) == len(notes)


def check_scale_lock_keeps_every_degree_in_every_scale():
    s = 0
    while s < 10:
        step = -5
        while step < 30:
            n = scales.degree_note(s, 2, 4, step)
            assert _in_scale(n, s, 2) and 0 <= n <= 127
            step += 1
        s += 1


def check_snapped_melody_notes_are_in_scale():
    n = 0
    while n < 128:
        assert _in_scale(scales.snap(n, 3, 5), 3, 5)
        n += 1


def check_panic_ends_every_note_even_across_channels():
    m = MidiOut()
    m.note_on(0, 60, 100)
    m.note_on(3, 61, 100)
    m.note_on(3, 61, 100)
    m.count = 0
    assert m.panic()
    offs = [(m.buf[i * 4 + 1], m.buf[i * 4 + 2]) for i in range(m.count)]
    assert (0x80, 60) in offs and (0x83, 61) in offs and (0xB3, 123) in offs
    assert m.active == 0


def check_note_offs_get_through_when_the_queue_is_full():
    m = MidiOut()
    k = 0
    while m.note_on(0, k, 90):
        k += 1
    assert m.dropped == 1 and k == 32
    # the last 16 slots are kept for note-offs: half the notes can end before a send...
    j = 0
    while j < 16:
        assert m.note_off(0, j)
        j += 1
    assert not m.cc(0, 1, 1)  # ...while anything else is refused
    m.consume(m.count)  # the tick's packets went out
    while j < k:
        assert m.note_off(0, j)
        j += 1
    assert m.active == 0


def check_a_reset_that_does_not_fit_is_owed_then_queued_first():
    m = MidiOut()
    assert m.bend(15, 12000) and m.pressure(0, 90)
    while m.note_on(0, 60, 90):
        pass
    while m.count < 48:  # a slow host: the note-offs' reserve is full too
        m._put(0x08, 0x80, 61, 0, 0, 48)
    assert m.used == 0x8001
    assert not m.reset() and m.count == 48
    m.consume(40)
    assert m.count == 14 and m.used == 0
    got = [(m.buf[i * 4 + 1], m.buf[i * 4 + 2], m.buf[i * 4 + 3]) for i in range(8, 14)]
    assert got == [
        (0xE0, 0, 64),
        (0xD0, 0, 0),
        (0xB0, 1, 0),
        (0xEF, 0, 64),
        (0xDF, 0, 0),
        (0xBF, 1, 0),
    ], got
    assert m.panic() and m.active == 0


def check_a_faulty_sensor_ends_its_note_and_recovers():
    data = [0] * 50 + [1] * 2000
    inst = one("switch", data)
    ev = play(inst, 200)
    inst.channels[0].sensor.fault = 5
    inst.channels[0].sensor.fault_text = "not answering"
    ev += play(inst, 10, 200)
    assert kinds(ev) == [0x90, 0x80] + _REST
    inst.channels[0].sensor.fault = 0
    play(inst, 10, 210)
    assert inst.channels[0].fault == 0


def check_ticks_wrap_does_not_stop_a_switch():
    data = ([0] * 100 + [1] * 100) * 10
    inst = one("switch", data)
    start = _MASK // 1000 - 1000
    inst.begin((start * 1000) & _MASK)
    ev = play(inst, 2000, start)
    assert len([e for e in ev if e[1] & 0xF0 == 0x90]) == 10


def check_settings_change_is_heard_on_the_next_press():
    data = ([0] * 100 + [1] * 100) * 2
    inst = one("switch", data)
    ev = play(inst, 200)
    inst.settings.set("root", "G")
    ev += play(inst, 200, 200)
    notes = [e[2] for e in ev if e[1] & 0xF0 == 0x90]
    assert notes == [60, 67]


def check_one_tick_of_four_channels_allocates_nothing():
    inst, step = build(4000)
    assert alloc_bytes(step, 2000) == 0


def check_four_channel_traces_really_play_notes_and_cc():
    inst, _ = build(2000)
    m = inst.midi
    seen = set()
    t = 0
    while t < 3000:
        inst.tick((t * 1000 + 5000000) & _MASK)
        i = 0
        while i < m.count:
            seen.add(m.buf[i * 4 + 1] & 0xF0)
            i += 1
        m.count = 0
        t += 1
    assert 0x90 in seen and 0x80 in seen and 0xB0 in seen, seen


def check_press_and_release_ticks_allocate_nothing():
    data = ([0] * 20 + [1] * 20) * 200
    inst = one("switch", data, {"x.mode": "chord", "x.chord": "seventh"})
    state = [0]

    def step():
        state[0] += 1000
        inst.tick(state[0])
        inst.midi.count = 0

    assert alloc_bytes(step, 2000, warmup=100) == 0


def _tick_alloc(inst):
    state = [0]

    def step():
        state[0] += 1000
        inst.tick(state[0])
        inst.midi.count = 0

    return alloc_bytes(step, 3000, warmup=300)


def check_bend_pressure_zones_and_latch_ticks_allocate_nothing():
    up = [2000 + k * 12 for k in range(2000)]
    data = up + up[::-1]
    for mode in ("bend", "pressure", "zones", "latch"):
        inst = one("analog", list(data), {"x.mode": mode})
        assert _tick_alloc(inst) == 0, mode
        assert inst.channels[0].mapper.mode.name == mode


def check_twitch_and_size_check_waits_allocate_nothing():
    # three held presses (learned: the trigger comes from them), then, again and again, a
    # shake that slows as it clears the trigger and falls back (the size check refuses it),
    # a twitch (the twitch check) and a press: every wait runs, and allocates nothing
    data = noisy(9000, 2000, 60)
    for at in (500, 2000, 3500):
        with_press(data, at, 900, 8000, rise=60)
    shake = [0] * 200
    for k in range(200):
        # up to 40 % of the press in 60 ms, on to 45 % in 40 more (slowing), then back
        shake[k] = 3200 * k // 60 if k < 60 else 3200 + 400 * (k - 60) // 40 if k < 100 else 0
    for k in range(100, 200):
        shake[k] = 3600 * (200 - k) // 100
    for k in range(200):
        data[5000 + k] += shake[k]
    with_press(data, 6500, 30, 16000, rise=15)  # a twitch: twice the press, 30 ms
    with_press(data, 7500, 900, 8000, rise=60)
    inst = one("analog", data)
    g = inst.channels[0].gesture
    state = [0, 0]

    def step():
        state[0] += 1000
        inst.tick(state[0])
        inst.midi.count = 0
        if g._tw > state[1]:
            state[1] = g._tw

    assert alloc_bytes(step, 9000, warmup=4500) == 0
    assert state[1] == 2, state  # the size check ran (and so did the twitch check: 2 > 1)


def _tof(seed=5):
    """A VL6180X-like hand (mm, 255 = nothing in range), a fresh reading every 30 ms held
    between, +-6 mm of noise: comes in fast, holds on a zone edge, moves out slowly, holds,
    then leaves at once. Every path of the zones mode: steps, catch-up, stillness, leaving."""
    nz = Noise(seed)
    out = [255] * 600
    path = [230 - k * 8 for k in range(11)]  # 230 -> 150 mm in 11 readings: a quick approach
    path += [150] * 100  # still, on the edge between two of the 8 zones of the air harp
    path += [150 + k for k in range(40)]  # slowly out
    path += [190] * 40 + [255] * 20  # still; gone
    for mm in path:
        v = mm if mm == 255 else mm + nz.next(6)
        out += [v] * 30
    return out


def check_zones_on_a_noisy_30hz_distance_sensor_allocate_nothing_and_hold_still():
    settings = {"x.mode": "zones", "x.zones": "8", "x.range": "80", "x.smoothing": "50"}
    data = _tof()
    inst = one("analog", data, settings, full=255, invert=True)
    ev = play(inst, len(data))
    on = [e for e in ev if e[1] & 0xF0 == 0x90]
    came = [e[2] for e in on if e[0] < 600 + 11 * 30 + 600]
    assert len(came) >= 3 and came == sorted(came) and len(set(came)) == len(came), on
    # still on the edge for 2.4 s, from 0.6 s after the approach ended: not one change of zone
    assert not [e for e in on if 600 + 11 * 30 + 600 <= e[0] < 600 + 111 * 30], on
    assert len(on) <= len(came) + 2, on  # slowly out: a zone or two; leaving: none
    assert len([e for e in ev if e[1] & 0xF0 == 0x80]) == len(on)  # every note ended
    inst = one("analog", _tof(), settings, full=255, invert=True)
    state = [0]

    def step():
        state[0] += 1000
        inst.tick(state[0])
        inst.midi.count = 0

    assert alloc_bytes(step, len(data) - 700, warmup=700) == 0


def check_a_mode_change_swaps_the_mode_and_ends_or_undoes_what_it_played():
    data = ([0] * 100 + [1] * 100) * 4 + [0] * 100  # presses at 100, 300, 500, 700 ms
    inst = one("switch", data, {"x.mode": "latch"})
    ev = play(inst, 250)
    assert kinds(ev) == [0x90]  # latched past the release
    inst.settings.set("x.mode", "chord")
    ev = play(inst, 200, 250)
    assert kinds(ev) == [0x80] + _REST + [0x90, 0x90, 0x90, 0x80, 0x80, 0x80], ev
    inst.settings.set("x.mode", "bend")
    ev = play(inst, 200, 450)
    assert kinds(ev[:3]) == _REST, ev  # the chord's channel back to rest
    assert [e[1:] for e in ev[3:]] == [(0xE0, 127, 127), (0xE0, 0, 64)], ev  # up, to centre
    inst.settings.set("x.mode", "note")
    ev = play(inst, 200, 650)
    assert ev[0][1:] == (0xE0, 0, 64), ev  # leaving bend recentres it, whatever it was
    assert [e[1:] for e in ev[1:3]] == [(0xD0, 0, 0), (0xB0, 1, 0)], ev
    assert kinds(ev[3:]) == [0x90, 0x80]


run(globals())
