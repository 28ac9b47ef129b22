"""The movement-to-MIDI engine on CPython: sensitivity, calm, gestures, modes, note safety."""

import random

import settings as S
from enginekit import (
    build,
    describe,
    detuned_notes,
    drain,
    held_after,
    in_scale,
    notes_on,
    play,
    run,
    sounding_after,
)
from instrument import Instrument

from simulator import movement as mv

REST = 2000.0  # a lightly preloaded FSR


def fsr(sig, seed=1):
    return mv.adc_read_u16(sig, random.Random(seed))


def press_trace(amplitude, ms=3000, at=1000, rise=60, hold=400, seed=1):
    sig = mv.rest(ms, REST)
    mv.add_press(sig, at, amplitude, rise_ms=rise, hold_ms=hold)
    return fsr(sig, seed)


# --- calm: noise, drift, tremor ----------------------------------------------------------


def test_untouched_sensor_with_adc_noise_plays_nothing_for_ten_minutes():
    # rest right on an RP2040-E11 spike code, where the ADC's readings jump the most
    trace = fsr(mv.rest(600_000, 1536 * 16 + 3 * 16), seed=7)
    assert play({"pad": trace}) == []


def test_untouched_sensor_in_every_mode_sends_nothing():
    trace = fsr(mv.rest(30_000, 512 * 16), seed=3)
    for mode in S.MODES:
        assert play({"pad": trace}, settings={"pad.mode": mode}) == [], mode


def test_slow_creep_of_five_percent_a_minute_plays_nothing():
    sig = mv.rest(60_000, REST)
    mv.add_drift(sig, 0.05 * 65535)
    assert play({"pad": fsr(sig)}) == []


def test_tremor_at_5hz_plays_at_most_its_first_shake():
    sig = mv.rest(20_000, REST)
    mv.add_tremor(sig, 1000, 18_000, 5.0, 0.04 * 65535)
    assert len(notes_on(play({"pad": fsr(sig)}))) <= 1


def test_press_through_tremor_half_its_size_plays_once():
    sig = mv.rest(12_000, REST)
    mv.add_tremor(sig, 1000, 10_000, 6.0, 0.03 * 65535)
    mv.add_press(sig, 6000, 0.06 * 65535, rise_ms=80, hold_ms=600)
    on = notes_on(play({"pad": fsr(sig)}))
    assert [e for e in on if 6000 <= e[0] < 6800] != []
    assert len([e for e in on if e[0] >= 3000]) == 1


def test_the_tremor_guard_fades_by_the_clock_and_is_gone_after_half_a_minute():
    from engine.gestures import Gesture

    chs = S.Settings(["pad"]).ch[0]
    g = Gesture(chs, True)
    g._learn(8000, 0)
    assert g.tremor(0) == 8000
    assert g.tremor(2_840_000) == 4000  # halves every 2.84 s...
    assert abs(g.tremor(4_260_000) - 8000 * 2**-1.5) < 30  # ...on an exponential curve
    assert 0 < g.tremor(30_000_000) < 8
    assert g.tremor(34_080_000) == 0 and g._guard_peak == 0  # gone, not merely small


def test_an_old_tremor_guard_cannot_come_back_when_the_ticks_wrap():
    # a guard learned, then ten minutes of rest (the idle gesture is not even called): the
    # instrument's slow chores let it expire, so ticks_diff never sees a stale time
    sig = mv.rest(600_000, REST)
    mv.add_tremor(sig, 1000, 3000, 6.0, 0.03 * 65535)
    inst = build({"pad": fsr(sig)})
    run(inst, 5000)
    assert inst.channels[0].gesture._guard_peak > 0  # the shakes taught a guard
    run(inst, 595_000, start_ms=5000)
    assert inst.channels[0].gesture._guard_peak == 0


def test_small_tremor_below_the_trigger_plays_nothing():
    sig = mv.rest(10_000, REST)
    mv.add_tremor(sig, 1000, 8000, 7.0, 0.008 * 65535)
    assert play({"pad": fsr(sig)}) == []


# --- sensitivity --------------------------------------------------------------------------


def test_press_of_two_percent_on_quiet_sensor_plays():
    ev = play({"pad": press_trace(0.02 * 65535)})
    assert [e[1] for e in ev] == ["note_on", "note_off"]
    assert 1000 <= ev[0][0] <= 1100


def test_lower_sensitivity_needs_a_bigger_press():
    small = press_trace(0.03 * 65535)
    assert notes_on(play({"pad": small}, settings={"pad.sensitivity": "70"}))
    assert not notes_on(play({"pad": small}, settings={"pad.sensitivity": "20"}))


def test_sensitivity_change_takes_effect_on_the_next_tick():
    inst = build(
        {"pad": press_trace(0.03 * 65535, ms=6000, at=3000)}, settings={"pad.sensitivity": "10"}
    )
    assert run(inst, 2000) == []
    inst.settings.set("pad.sensitivity", "90")
    assert notes_on(run(inst, 4000, start_ms=2000))


def test_calibrated_small_range_makes_a_tiny_movement_loud_enough():
    quiet = notes_on(play({"pad": press_trace(0.02 * 65535, rise=20)}))
    ranged = notes_on(
        play({"pad": press_trace(0.02 * 65535, rise=20)}, settings={"pad.range": "3"})
    )
    assert ranged[0][4] > quiet[0][4]


def test_closer_hand_plays_on_an_inverted_distance_sensor():
    mm = [255] * 1000 + [230 - i // 10 for i in range(600)] + [255] * 1000
    ev = play({"hand": mm}, kinds={"hand": "tof"}, invert={"hand": True})
    assert [e[1] for e in ev] == ["note_on", "note_off"]


# --- switches, dwell, lockout, velocity --------------------------------------------------


def test_switch_press_plays_on_the_same_tick_and_bounce_is_ignored():
    trace = mv.switch_presses(2000, [(500, 300)], bounce_ms=8, rng=random.Random(2))
    first = trace.index(1)
    ev = play({"sw": trace}, kinds={"sw": "switch"})
    assert [e[1] for e in ev] == ["note_on", "note_off"]
    assert ev[0][0] == first


def test_dwell_delays_the_note_by_its_setting():
    trace = [0] * 100 + [1] * 500 + [0] * 100
    ev = play({"sw": trace}, kinds={"sw": "switch"}, settings={"sw.dwell": "150"})
    assert ev[0][0] == 250


def test_dwell_ignores_a_jerk_shorter_than_it():
    trace = [0] * 100 + [1] * 80 + [0] * 500
    assert (
        play(
            {"sw": trace}, kinds={"sw": "switch"}, settings={"sw.dwell": "150", "sw.debounce": "0"}
        )
        == []
    )


def test_lockout_refuses_a_repeat_press_too_soon():
    trace = [0] * 100 + [1] * 100 + [0] * 100 + [1] * 100 + [0] * 1000 + [1] * 100 + [0] * 10
    ev = play({"sw": trace}, kinds={"sw": "switch"}, settings={"sw.lockout": "500"})
    assert [e[0] for e in notes_on(ev)] == [100, 1400]


def test_faster_press_is_louder_and_within_the_velocity_limits():
    slow = notes_on(play({"pad": press_trace(0.1 * 65535, rise=400)}))[0][4]
    fast = notes_on(play({"pad": press_trace(0.1 * 65535, rise=10)}))[0][4]
    assert 40 <= slow < fast <= 110


def test_velocity_ceiling_caps_even_a_slam():
    ev = play({"pad": press_trace(0.9 * 65535, rise=2)}, settings={"velocity_max": "80"})
    assert notes_on(ev)[0][4] <= 80


def test_switch_plays_its_fixed_velocity():
    ev = play(
        {"sw": [0] * 10 + [1] * 50}, kinds={"sw": "switch"}, settings={"sw.fixed_velocity": "77"}
    )
    assert notes_on(ev)[0][4] == 77


# --- musical modes ------------------------------------------------------------------------


def tap(n=3, gap=300):
    out = []
    for _ in range(n):
        out += [0] * gap + [1] * 100
    return out + [0] * gap


def test_note_mode_plays_the_chosen_scale_degree():
    ev = play(
        {"sw": tap(1)},
        kinds={"sw": "switch"},
        settings={"scale": "major", "root": "D", "octave": "4", "sw.degree": "3"},
    )
    assert notes_on(ev)[0][3] == 62 + 4  # F#4


def test_chord_mode_plays_a_triad_on_the_scale_and_releases_it():
    ev = play(
        {"sw": tap(1)}, kinds={"sw": "switch"}, settings={"scale": "major", "sw.mode": "chord"}
    )
    assert sorted(e[3] for e in notes_on(ev)) == [60, 64, 67]
    assert sounding_after(ev) == set()


def test_seventh_and_power_chords():
    ev = play(
        {"sw": tap(1)},
        kinds={"sw": "switch"},
        settings={"scale": "major", "sw.mode": "chord", "sw.chord": "seventh"},
    )
    assert sorted(e[3] for e in notes_on(ev)) == [60, 64, 67, 71]
    ev = play(
        {"sw": tap(1)},
        kinds={"sw": "switch"},
        settings={"scale": "major", "sw.mode": "chord", "sw.chord": "power"},
    )
    assert sorted(e[3] for e in notes_on(ev)) == [60, 67, 72]


def test_sequence_mode_steps_through_the_melody_and_wraps():
    ev = play(
        {"sw": tap(4)},
        kinds={"sw": "switch"},
        settings={"scale": "chromatic", "sw.mode": "sequence", "sw.melody": "C4 E4 G4"},
    )
    assert [e[3] for e in notes_on(ev)] == [60, 64, 67, 60]


def test_latch_mode_turns_on_then_off_with_the_next_press():
    ev = play({"sw": tap(2)}, kinds={"sw": "switch"}, settings={"sw.mode": "latch"})
    assert [e[1] for e in ev] == ["note_on", "note_off"]
    assert ev[1][0] > 600


def test_zones_mode_moves_through_scale_notes_as_the_level_rises():
    sig = mv.rest(6000, REST)
    for k in range(4000):
        sig[1000 + k] += 0.5 * 65535 * k / 4000
    ev = play(
        {"pad": fsr(sig)},
        settings={
            "pad.mode": "zones",
            "pad.zones": "5",
            "pad.range": "50",
            "scale": "major_pentatonic",
        },
    )
    played = [e[3] for e in notes_on(ev)]
    assert played == sorted(played) and len(played) >= 4
    assert all(in_scale(n, 3, 0) for n in played)
    assert sounding_after(ev) == set()


def test_cc_mode_follows_the_movement_and_a_still_hand_sends_nothing():
    sig = mv.rest(8000, REST)
    mv.add_press(sig, 1000, 0.5 * 65535, rise_ms=500, hold_ms=4000, fall_ms=500)
    ev = play({"pad": fsr(sig)}, settings={"pad.mode": "cc", "pad.cc": "11"})
    values = [e[4] for e in ev if e[1] == "cc"]
    assert max(values) >= 60 and values[-1] == 0
    assert not [e for e in ev if e[1] == "cc" and 2000 < e[0] < 5000]  # held still


def test_bend_mode_rises_from_centre_and_returns_there():
    sig = mv.rest(5000, REST)
    mv.add_press(sig, 1000, 0.5 * 65535, rise_ms=300, hold_ms=1000, fall_ms=300)
    ev = play({"pad": fsr(sig)}, settings={"pad.mode": "bend"})
    bends = [e[3] | e[4] << 7 for e in ev if e[1] == "bend"]
    assert max(bends) > 12000 and bends[-1] == 8192


def test_pressure_mode_sends_channel_pressure():
    sig = mv.rest(5000, REST)
    mv.add_press(sig, 1000, 0.5 * 65535, rise_ms=300, hold_ms=1000, fall_ms=300)
    ev = play({"pad": fsr(sig)}, settings={"pad.mode": "pressure"})
    assert max(e[3] for e in ev if e[1] == "pressure") > 60


# --- note safety --------------------------------------------------------------------------


def test_changing_the_scale_while_a_note_is_held_ends_that_note():
    inst = build({"sw": [0] * 100 + [1] * 5000}, kinds={"sw": "switch"})
    ev = run(inst, 1000)
    assert len(notes_on(ev)) == 1
    inst.settings.set("scale", "blues")
    ev += run(inst, 10, start_ms=1000)
    assert sounding_after(ev) == set()


def at_rest(ch):
    """The messages that put channel `ch`'s bend, pressure and mod wheel back at rest."""
    return [("bend", ch, 0, 64), ("pressure", ch, 0, 0), ("cc", ch, 1, 0)]


def test_changing_the_midi_channel_sends_the_note_off_on_the_old_channel():
    inst = build({"sw": [0] * 100 + [1] * 5000}, kinds={"sw": "switch"})
    ev = run(inst, 1000)
    inst.settings.set("channel", "5")
    ev += run(inst, 10, start_ms=1000)
    assert [e for e in ev if e[1].startswith("note")][-1][1:4] == ("note_off", 0, 60)
    # and the old channel goes back to rest after it
    assert [e[1:] for e in ev[-3:]] == at_rest(0)


def test_two_sensors_on_the_same_note_do_not_cut_each_other_off():
    a = [0] * 100 + [1] * 400 + [0] * 500
    b = [0] * 200 + [1] * 600 + [0] * 200
    ev = play({"a": a, "b": b}, kinds={"a": "switch", "b": "switch"})
    offs = [e for e in ev if e[1] == "note_off"]
    assert len(offs) == 1 and offs[0][0] == 800


def test_panic_turns_every_sounding_note_off():
    inst = build(
        {"a": [1] * 5000, "b": [1] * 5000},
        kinds={"a": "switch", "b": "switch"},
        settings={"a.mode": "chord", "b.degree": "5"},
    )
    ev = run(inst, 300)
    assert len(notes_on(ev)) == 4
    inst.panic()
    drain(inst, 300, ev)
    assert sounding_after(ev) == set()
    assert inst.midi.active == 0


def test_a_faulty_sensor_ends_its_notes_and_the_others_play_on():
    inst = build(
        {"a": [0] * 50 + [1] * 5000, "b": tap(5)},
        kinds={"a": "switch", "b": "switch"},
        settings={"b.degree": "3"},
    )
    ev = run(inst, 200)
    sensor = inst.channels[0].sensor
    sensor.fault, sensor.fault_text = 5, "not answering"
    ev += run(inst, 1500, start_ms=200)
    assert ("a" and (0, 60)) not in sounding_after(ev)
    assert len([e for e in notes_on(ev) if e[3] == 64]) >= 3
    assert inst.channels[0].fault_text == "not answering"
    sensor.fault = 0
    ev += run(inst, 500, start_ms=1700)
    assert inst.channels[0].fault == 0


def test_an_exception_in_one_channel_is_isolated_and_retried():
    inst = build({"a": [0] * 5000, "b": tap(6)}, kinds={"a": "switch", "b": "switch"})
    sensor = inst.channels[0].sensor
    good = sensor.read
    sensor.read = lambda now: 1 // 0
    ev = run(inst, 1200)
    assert inst.errors > 0 and inst.channels[0].fault
    assert len(notes_on(ev)) >= 2
    sensor.read = good
    run(inst, 1500, start_ms=1200)
    assert inst.channels[0].fault == 0


def test_an_adc_stuck_at_the_rail_ends_the_note_within_seconds():
    trace = [2000] * 1000 + [65535] * 8000
    ev = play({"pad": trace})
    assert len(notes_on(ev)) == 1 and sounding_after(ev) == set()


def test_the_engine_keeps_working_across_the_ticks_wraparound():
    inst = build({"sw": tap(20, gap=200)}, kinds={"sw": "switch"}, settings={"sw.lockout": "50"})
    start = (1 << 30) // 1000 - 3000  # ms: ticks_us wraps after 3 s
    inst.begin((start * 1000) & ((1 << 30) - 1))
    ev = run_wrapped(inst, 6300, start)
    assert len(notes_on(ev)) == 20 and sounding_after(ev) == set()


def test_a_switch_untouched_for_twenty_minutes_still_plays_at_once():
    inst = build({"sw": [1, 0, 0]}, kinds={"sw": "switch"})
    run(inst, 3)
    sensor = inst.channels[0].sensor
    sensor.values, sensor.i = [0], 0
    t = 3000
    while t < 1_200_000_000:  # 20 minutes of rest, ticking every 10 ms to keep this quick
        inst.tick(t & ((1 << 30) - 1))
        inst.midi.count = 0
        t += 10_000
    sensor.values, sensor.i = [1], 0
    inst.tick(t & ((1 << 30) - 1))
    assert inst.midi.count == 1


def run_wrapped(inst: Instrument, ms: int, start_ms: int) -> list:
    out: list = []
    for k in range(ms):
        t = ((start_ms + k) * 1000) & ((1 << 30) - 1)
        inst.tick(t)
        drain(inst, k, out)
    return out


def test_a_replugged_distance_sensor_plays_again_for_a_hand_still_near():
    inst = build({"hand": [255] * 500 + [40] * 5000}, kinds={"hand": "tof"}, invert={"hand": True})
    ev = run(inst, 700)
    assert len(notes_on(ev)) == 1
    sensor = inst.channels[0].sensor
    sensor.fault, sensor.fault_text = 5, "not answering"
    ev += run(inst, 300, start_ms=700)
    assert sounding_after(ev) == set()
    sensor.fault = 0
    ev += run(inst, 300, start_ms=1000)
    assert len(notes_on(ev)) == 2


def test_a_very_noisy_sensor_at_rest_plays_nothing():
    # an analog IR distance sensor can be ten times noisier than the ADC itself
    trace = mv.quantise(mv.rest(120_000, 20000.0), random.Random(9), noise=160.0)
    assert play({"ir": trace}) == []


# --- musical state: reset where notes are reset ------------------------------------------

HELD = [2000] * 1000 + [40000] * 9000  # an analog sensor learns its rest, then is held down
TAP_LATER = [0] * 2500 + [1] * 300 + [0] * 7200  # a switch pressed once, at 2.5 s


def bending(mode="bend"):
    """Sensor "a" held (bending, pressing or modulating), "b" a switch that plays later."""
    inst = build(
        {"a": HELD, "b": TAP_LATER},
        kinds={"b": "switch"},
        settings={"a.mode": mode, "a.cc": "1"},
    )
    ev = run(inst, 1500)
    assert held_after(ev), "the held sensor should have moved the channel off its rest"
    return inst, ev


def test_panic_centres_bend_zeroes_pressure_and_modulation_and_resets_all_controllers():
    for mode in ("bend", "pressure", "cc"):
        inst, ev = bending(mode)
        inst.panic()
        after: list = []
        drain(inst, 1500, after)
        assert held_after(ev + after) == {}, mode
        assert [e[1:] for e in after if e[1] == "cc" and e[3] == 121] == [("cc", 0, 121, 0)]


def test_a_profile_load_leaves_no_channel_bent_for_the_next_note():
    # a profile load is a panic and new values: here another channel and a note mode
    inst, ev = bending()
    inst.panic()
    assert inst.settings.apply({"channel": "2", "a.mode": "note"}) == []
    ev += run(inst, 500, start_ms=1500)
    inst.settings.set("channel", "1")
    ev += run(inst, 2000, start_ms=2000)
    assert len(notes_on(ev)) >= 1 and detuned_notes(ev) == []
    assert held_after(ev) == {}


def test_a_sensor_fault_while_bending_leaves_the_channel_in_tune():
    inst, ev = bending()
    sensor = inst.channels[0].sensor
    sensor.fault, sensor.fault_text = 5, "not answering"
    ev += run(inst, 2000, start_ms=1500)
    assert len(notes_on(ev)) == 1 and detuned_notes(ev) == []
    assert held_after(ev) == {}


def test_a_held_bend_is_sent_again_after_another_sensors_fault_resets_the_channel():
    inst, ev = bending()
    before = held_after(ev)
    sensor = inst.channels[1].sensor
    sensor.fault, sensor.fault_text = 5, "not answering"
    after = run(inst, 5, start_ms=1500)
    assert held_after(ev + after) == before


def test_a_reset_that_does_not_fit_is_owed_and_queued_before_anything_new():
    from midi.packets import MidiOut

    m = MidiOut()
    assert m.bend(3, 12000)
    k = 0
    while m.note_on(0, k, 90):  # a slow host: the queue fills up...
        k += 1
    while m.count < 48:  # ...to the last note-off slot
        assert m.note_off(0, k - 1 - (48 - m.count) % k)
    assert not m.reset()  # no room: owed, not dropped
    m.consume(2)  # two packets leave: too few for a channel's three
    assert m.count == 46 and not m.note_on(3, 60, 90)
    m.consume(10)
    assert m.count == 42 and m.used == 0
    queued = [describe(m.buf, i) for i in range(m.count)]
    assert queued[-6:] == at_rest(0) + at_rest(3)
    m.consume(m.count)
    assert m.reset() and m.count == 0  # nothing used since: nothing to send


def test_panic_with_a_full_queue_finishes_on_the_next_call():
    from midi.packets import MidiOut

    m = MidiOut()
    m.pressure(5, 100)
    while m.note_on(0, 60, 90):
        pass
    while m._put(0x0B, 0xB0, 7, 100, 0, 48):  # controllers the host has not taken yet
        pass
    assert not m.panic()
    m.consume(48)  # the owed resets go first, as soon as there is room
    queued = [describe(m.buf, i) for i in range(m.count)]
    assert queued == [("cc", 0, 121, 0), *at_rest(0), ("cc", 5, 121, 0), *at_rest(5)]
    assert m.panic() and m.active == 0  # the runtime calls it again: the rest goes out
    queued = [describe(m.buf, i) for i in range(m.count)]
    assert queued[8:10] == [("note_off", 0, 60, 0), ("cc", 0, 123, 0)]
