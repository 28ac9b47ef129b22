"""Properties of the engine for any input: valid MIDI, no note left sounding, scale lock."""

import settings as S
from enginekit import build, drain, held_after, in_scale, run, sounding_after
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CHANGES = {
    "scale": st.sampled_from(S.SCALES),
    "root": st.sampled_from(S.NOTE_NAMES),
    "octave": st.integers(1, 7).map(str),
    "transpose": st.integers(-12, 12).map(str),
    "channel": st.integers(1, 16).map(str),
    "a.mode": st.sampled_from(S.MODES),
    "b.mode": st.sampled_from(S.MODES),
    "a.degree": st.integers(1, 22).map(str),
    "b.chord": st.sampled_from(S.CHORDS),
    "b.sensitivity": st.integers(1, 100).map(str),
    "a.lockout": st.integers(0, 300).map(str),
    "b.dwell": st.integers(0, 100).map(str),
    "b.velocity": st.sampled_from(S.VELOCITY_SOURCES),
    "a.enabled": st.sampled_from(("on", "off")),
    "b.zones": st.integers(2, 16).map(str),
    "b.invert": st.sampled_from(("on", "off")),
    "b.cc": st.sampled_from(("1", "11")),  # 1: modulation, which a reset zeroes
}

# a segment: hold a switch value and an analog value for some ticks, maybe change a setting
segment = st.tuples(
    st.integers(0, 1),
    st.integers(0, 65535),
    st.integers(1, 120),
    st.one_of(
        st.none(),
        st.sampled_from(sorted(CHANGES)).flatmap(lambda k: CHANGES[k].map(lambda v: (k, v))),
    ),
)

CIN = {0x80: 0x8, 0x90: 0x9, 0xB0: 0xB, 0xD0: 0xD, 0xE0: 0xE}


def check_packets(inst):
    m = inst.midi
    for i in range(m.count):
        cin, status, d1, d2 = m.buf[i * 4 : i * 4 + 4]
        assert status & 0x80 and CIN[status & 0xF0] == cin
        assert d1 < 128 and d2 < 128
        if status & 0xF0 == 0x90:
            assert d2 >= 1  # a note-on never doubles as a note-off
        if status & 0xF0 == 0xD0:
            assert d2 == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment, min_size=1, max_size=25), st.booleans())
def test_any_input_and_settings_give_valid_midi_and_no_stuck_note(segments, end_with_panic):
    sw, pad = [], []
    changes = {}
    for s, a, n, change in segments:
        if change:
            changes[len(sw)] = change
        sw += [s] * n
        pad += [a] * n
    # end at rest: a final release
    sw += [0] * 300
    pad += [0] * 300  # at or below any rest the engine can have learned
    inst = build({"a": sw, "b": pad}, kinds={"a": "switch"})
    events = []

    def on_tick(inst, t):
        check_packets(inst)
        if t in changes:
            key, value = changes[t]
            inst.settings.set(key, value)

    events = run(inst, len(sw), on_tick=on_tick)
    if end_with_panic:
        inst.panic()
        check_packets(inst)
        drain(inst, len(sw), events)
    else:
        # a release ends every note except a latched one; panic ends even those
        inst.settings.set("a.mode", "note")
        inst.settings.set("b.mode", "note")
        events += run(inst, 5, start_ms=len(sw))
    assert sounding_after(events) == set()
    assert inst.midi.active == 0
    # and no channel is left bent, pressed or modulated: a later note plays in tune
    assert held_after(events) == {}
    if end_with_panic:
        assert inst.midi.used == 0  # every channel played on was reset


@settings(max_examples=80, deadline=None)
@given(
    scale=st.integers(0, len(S.SCALES) - 1),
    root=st.integers(0, 11),
    transpose=st.integers(-12, 12),
    octave=st.integers(1, 7),
    degree=st.integers(1, 22),
    mode=st.sampled_from(("note", "chord", "sequence", "zones")),
    chord=st.sampled_from(S.CHORDS),
    melody=st.lists(st.integers(0, 127), min_size=1, max_size=8),
)
def test_scale_lock_never_plays_an_out_of_scale_note(
    scale, root, transpose, octave, degree, mode, chord, melody
):
    ramp = [0] * 300 + [min(65535, 2000 + k * 30) for k in range(2000)] + [0] * 300
    taps = ([0] * 200 + [1] * 100) * 6 + [0] * 300
    values = {
        "scale": S.SCALES[scale],
        "root": S.NOTE_NAMES[root],
        "octave": str(octave),
        "transpose": str(transpose),
        "a.degree": str(degree),
        "b.degree": str(degree),
        "a.mode": mode,
        "b.mode": mode,
        "a.chord": chord,
        "b.chord": chord,
        "a.melody": " ".join(map(str, melody)),
        "b.melody": " ".join(map(str, melody)),
    }
    inst = build({"a": taps, "b": ramp}, kinds={"a": "switch"}, settings=values)
    events = run(inst, max(len(taps), len(ramp)))
    played = [e[3] for e in events if e[1] == "note_on"]
    assert played, "something should play"
    for note in played:
        assert in_scale(note, scale, root + transpose), (note, S.SCALES[scale])
