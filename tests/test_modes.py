"""The Mapper and its play modes built directly: tiny event lists in, MIDI out.

Events: ("press", strength), ("release",), ("level", cont, pressed) (0..16383 above the release
point; sent only when it changed, as the instrument does), ("set", key, value).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import settings as S
from engine import modes
from engine.mapper import Mapper
from enginekit import describe, detuned_notes, held_after
from midi.packets import MidiOut
from settings import Settings

FULL = 16383


def mapper(settings: dict[str, str] | None = None) -> Mapper:
    st = Settings(["x"])
    assert st.apply(settings or {}) == []
    m = Mapper(0, st, MidiOut())
    m.configure()
    return m


def feed(m: Mapper, events: list[tuple]) -> list[tuple]:
    """Play `events` into `m`; returns the MIDI as (kind, channel, d1, d2)."""
    out: list[tuple] = []
    midi = m.midi
    for ev in events:
        kind = ev[0]
        if kind == "press":
            m.press(ev[1])
        elif kind == "release":
            m.release()
        elif kind == "level":
            # as Channel.update: only for continuous modes, only when something changed
            if m.continuous and (ev[1] != m.last_cont or ev[2] != m.last_pressed):
                m.level(ev[1], ev[2])
        elif kind == "set":
            assert m.settings.set(ev[1], ev[2]) is None
            m.configure()  # the instrument's tick does this on every settings change
        else:
            raise ValueError(kind)
        out += [describe(midi.buf, i) for i in range(midi.count)]
        midi.consume(midi.count)
    return out


def play(events: list[tuple], **settings: str) -> list[tuple]:
    return feed(
        mapper(
            {
                "x." + k
                if k
                not in (
                    "scale",
                    "root",
                    "channel",
                    "octave",
                    "transpose",
                    "velocity_min",
                    "velocity_max",
                )
                else k: v
                for k, v in settings.items()
            }
        ),
        events,
    )


TAP = [("press", FULL), ("release",)]


def rest(ch: int) -> list[tuple]:
    """What a reset of MIDI channel `ch` sends: bend centred, pressure and modulation zeroed."""
    return [("bend", ch, 0, 64), ("pressure", ch, 0, 0), ("cc", ch, 1, 0)]


# --- each mode ----------------------------------------------------------------------------


def test_note_mode_plays_the_degree_and_the_release_ends_it():
    assert play(TAP, degree="3", velocity="fixed", fixed_velocity="90") == [
        ("note_on", 0, 64, 90),
        ("note_off", 0, 64, 0),
    ]


def test_note_mode_a_second_press_ends_the_first_note():
    ev = play([("press", FULL), ("press", FULL), ("release",)])
    assert [e[0] for e in ev] == ["note_on", "note_off", "note_on", "note_off"]


def test_velocity_follows_the_strength_between_floor_and_ceiling():
    ev = play(
        [("press", 0), ("release",), ("press", FULL), ("release",)],
        velocity_min="30",
        velocity_max="100",
    )
    assert [e[3] for e in ev if e[0] == "note_on"] == [30, 99]


def test_a_fixed_velocity_stays_within_floor_and_ceiling():
    def vel(fixed, lo, hi):
        ev = play(TAP, velocity="fixed", fixed_velocity=fixed, velocity_min=lo, velocity_max=hi)
        return ev[0][3]

    assert vel("20", "50", "110") == 50  # the floor: a fixed 20 is not quieter than it
    assert vel("120", "50", "110") == 110  # the ceiling
    assert vel("90", "50", "110") == 90


def test_chord_mode_plays_every_chord_shape_on_the_scale():
    for shape, notes in (
        ("triad", [60, 64, 67]),
        ("seventh", [60, 64, 67, 71]),
        ("power", [60, 67, 72]),
    ):
        ev = play(TAP, mode="chord", chord=shape, scale="major")
        assert sorted(e[2] for e in ev if e[0] == "note_on") == notes, shape
        assert sorted(e[2] for e in ev if e[0] == "note_off") == notes, shape


def test_sequence_mode_steps_wraps_and_restarts_with_a_new_melody():
    m = mapper({"x.mode": "sequence", "x.melody": "C4 E4 G4", "scale": "chromatic"})
    ev = feed(m, TAP * 4 + [("set", "x.melody", "D4 F4")] + TAP)
    assert [e[2] for e in ev if e[0] == "note_on"] == [60, 64, 67, 60, 62]


def test_sequence_mode_keeps_its_place_while_another_mode_plays():
    m = mapper({"x.mode": "sequence", "x.melody": "C4 E4 G4", "scale": "chromatic"})
    ev = feed(m, TAP + [("set", "x.mode", "note")] + TAP + [("set", "x.mode", "sequence")] + TAP)
    assert [e[2] for e in ev if e[0] == "note_on"] == [60, 60, 64]


def test_zones_mode_picks_the_note_by_position_and_moves_with_hysteresis():
    # 4 zones of 4096: the second zone reaches to 8191. Before any noise is measured the mode
    # assumes 1/8 zone of it (528): a reading counts as evidence from 512 past the edge (more
    # once the hand has been still), and the zone moves once the evidence sums to 2 noise for
    # a hand on the move, up to 6 noise for a still one
    m = mapper({"x.mode": "zones", "x.zones": "4", "scale": "major"})
    still = [("level", 8700 + (i & 1), 1) for i in range(40)]  # 508 past the edge, for ever
    ev = feed(
        m,
        [("level", 5000, 0), ("press", FULL), ("level", 5000, 1)]
        + still
        + [("level", 10000, 1), ("level", 10001, 1), ("level", 10000, 1), ("release",)],
    )
    assert ev == [
        ("note_on", 0, 62, 109),
        # a hand just past the edge stays in its zone; 1808 past it, the third reading moves
        ("note_off", 0, 62, 0),
        ("note_on", 0, 64, 109),
        ("note_off", 0, 64, 0),
    ]


def zones_played(levels: list[int], zones: str = "8") -> list[int]:
    """The zone (0..) of each note a zones mode plays, pressed at the first level; `levels`
    are readings (one call each, as from a sensor whose every reading is fresh)."""
    m = mapper({"x.mode": "zones", "x.zones": zones, "scale": "chromatic", "root": "C"})
    base = m.note(0)
    ev = feed(
        m, [("level", levels[0], 1), ("press", FULL)] + [("level", v, 1) for v in levels[1:]]
    )
    return [e[2] - base for e in ev if e[0] == "note_on"]


def noisy(rng, centre: int, sigma: int, n: int) -> list[int]:
    return [min(FULL, max(0, round(rng.gauss(centre, sigma)))) for _ in range(n)]


def test_zones_still_hand_on_a_zone_edge_holds_its_note():
    import random

    rng = random.Random(5)
    # 8 zones of 2048; readings spread +-2 RMS over 40 % of a zone, centred on an edge
    for edge in (2048, 6144, 12288):
        assert zones_played(noisy(rng, edge, 400, 1800)) in ([edge // 2048 - 1], [edge // 2048])


def test_zones_steady_approach_plays_every_zone_in_order():
    import random

    rng = random.Random(6)
    for per_reading in (60, 200, 600):  # 1/34 .. 1/3 zone a reading
        ramp = list(range(300, 15900, per_reading))
        levels = [max(0, v + round(rng.gauss(0, 250))) for v in ramp] + noisy(rng, 15900, 250, 30)
        assert zones_played(levels) == list(range(8))


def test_zones_fast_sweep_plays_each_zone_crossed_one_reading_apart():
    # from zone 0 to zone 7 in one reading: the run follows, one zone per reading, in order
    played = zones_played([500, 500, 15800] + [15800 + (i & 1) for i in range(10)])
    assert played == list(range(8))


def test_zones_hand_leaving_plays_no_run_of_zones():
    # held in zone 6, then a sudden withdrawal: readings a zone or more further out each time,
    # then nothing in range (level 0; the gesture releases)
    held = [13300 + (i & 1) * 50 for i in range(20)]
    assert zones_played(held + [11000, 7000, 2500, 0]) == [6]


def test_zones_fast_move_out_that_stops_plays_only_where_it_stopped():
    held = [13300 + (i & 1) * 50 for i in range(20)]
    there = [5000 + (i & 1) * 50 for i in range(10)]  # zone 2
    assert zones_played(held + [9000] + there) == [6, 2]


def test_zones_noise_sets_the_hysteresis():
    import random

    # the same step, 500 past the edge: a quiet sensor moves within 3 readings; a noisy one,
    # whose readings spread more than the step, needs more of them
    rng = random.Random(7)
    quiet = noisy(rng, 5000, 30, 200) + noisy(rng, 6144 + 500, 30, 3)
    assert zones_played(quiet) == [2, 3]
    noisy_hand = noisy(rng, 5000, 600, 200) + noisy(rng, 6144 + 500, 600, 3)
    assert zones_played(noisy_hand) == [2]


def test_zones_mode_moving_while_released_plays_nothing():
    assert play([("level", 1000, 0), ("level", 15000, 0)], mode="zones") == []


def test_cc_mode_follows_the_level_within_its_range_and_ignores_a_still_hand():
    ev = play(
        [
            ("level", 0, 0),
            ("level", FULL // 2, 1),
            ("level", FULL // 2 + 30, 1),
            ("level", FULL, 1),
            ("level", 0, 0),
        ],
        mode="cc",
        cc="1",
        cc_min="10",
        cc_max="90",
        deadband="2",
    )
    assert ev == [("cc", 0, 1, 49), ("cc", 0, 1, 90), ("cc", 0, 1, 10)]


def test_cc_mode_inverted_rests_at_its_maximum():
    ev = play([("level", 0, 0), ("level", FULL, 1)], mode="cc", invert="on")
    assert ev == [("cc", 0, 11, 0)]


def test_bend_mode_bends_up_or_with_invert_down_and_returns_to_centre():
    up = play([("level", FULL, 1), ("level", 0, 0)], mode="bend")
    assert [e[2] | e[3] << 7 for e in up] == [16383, 8192]
    down = play([("level", FULL, 1), ("level", 0, 0)], mode="bend", invert="on")
    assert [e[2] | e[3] << 7 for e in down] == [1, 8192]


def test_pressure_mode_sends_channel_pressure_and_presses_play_no_note():
    ev = play(
        [("press", FULL), ("level", FULL, 1), ("release",), ("level", 0, 0)], mode="pressure"
    )
    assert ev == [("pressure", 0, 127, 0), ("pressure", 0, 0, 0)]


def test_latch_mode_holds_past_the_release_until_the_next_press():
    ev = play(TAP + TAP, mode="latch")
    assert [e[0] for e in ev] == ["note_on", "note_off"]
    m = mapper({"x.mode": "latch"})
    feed(m, TAP)
    assert m.count == 1
    m.off()  # a panic or fault ends it, and the next press plays again
    assert [e[0] for e in feed(m, TAP)] == ["note_off", "note_on"]


# --- changes of settings ------------------------------------------------------------------


def test_leaving_bend_recentres_and_leaving_pressure_clears_it():
    ev = play([("level", FULL, 1), ("set", "x.mode", "note")], mode="bend")
    assert ev[-3][0] == "bend" and ev[-3][2] | ev[-3][3] << 7 == 8192
    assert ev[-3:] == rest(0)
    ev = play([("level", FULL, 1), ("set", "x.mode", "note")], mode="pressure")
    assert ev[-2] == ("pressure", 0, 0, 0)
    assert ev[-3:] == rest(0)


def test_a_setting_the_mode_plays_from_ends_its_notes_on_their_own_channel():
    ev = play([("press", FULL), ("set", "channel", "3")])
    assert ev == [("note_on", 0, 60, 109), ("note_off", 0, 60, 0)] + rest(0)
    ev = play([("press", FULL), ("set", "x.chord", "seventh")], mode="chord")
    assert [e[0] for e in ev[:-3]] == ["note_on"] * 3 + ["note_off"] * 3
    assert ev[-3:] == rest(0)


def test_a_setting_the_mode_does_not_use_leaves_a_held_note_sounding():
    ev = play(
        [
            ("press", FULL),
            ("set", "x.chord", "power"),
            ("set", "x.zones", "3"),
            ("set", "x.melody", "A4"),
            ("set", "x.sensitivity", "20"),
        ]
    )
    assert ev == [("note_on", 0, 60, 109)]


# --- musical state: reset where notes are reset --------------------------------------------


@pytest.mark.parametrize(
    "mode, extra", [("bend", {}), ("pressure", {}), ("cc", {"cc": "1"})], ids=str
)
def test_a_channel_change_leaves_no_bend_pressure_or_modulation_behind(mode, extra):
    # held at full, the channel changes, the hand comes back to rest: the old channel was left
    # bent (pressed, modulated) for good, and a later note on it played two semitones sharp
    ev = play(
        [
            ("level", FULL, 1),
            ("set", "channel", "2"),
            ("level", 0, 0),
            ("set", "x.mode", "note"),
            ("set", "channel", "1"),
        ]
        + TAP,
        mode=mode,
        **extra,
    )
    assert held_after(ev) == {}
    assert [e[0] for e in ev].count("note_on") == 1 and detuned_notes(ev) == []


def test_a_reset_centres_bend_and_zeroes_pressure_and_modulation_on_each_used_channel():
    m = mapper({"x.mode": "bend"})
    ev = feed(m, [("level", FULL, 1), ("set", "channel", "5")])
    assert ev[1:] == rest(0)
    # a mode change with nothing sent since resets nothing: only used channels are reset
    assert feed(m, [("set", "x.mode", "note")]) == []
    assert m.midi.used == 0


def test_a_reset_lets_a_held_continuous_sensor_send_its_level_again():
    # another sensor's change reset the channel: the bend still held is sent again, not
    # taken for already in place
    m = mapper({"x.mode": "bend"})
    feed(m, [("level", FULL, 1)])
    m.midi.reset()
    m.midi.consume(m.midi.count)
    assert feed(m, [("level", FULL, 1)]) == [("bend", 0, 127, 127)]


def test_every_mode_names_settings_that_exist():
    keys = {row[0] for row in S.CHANNEL} | {row[0] for row in S.GLOBAL}
    for mode in modes.MODES:
        assert set(mode.ends_notes) <= keys, mode.name


# --- the registry -------------------------------------------------------------------------


def test_the_settings_name_the_modes_of_the_registry_in_its_order():
    assert S.MODES == tuple(m.name for m in modes.MODES)
    assert len(set(S.MODES)) == len(S.MODES)
    help_text = S.find(S.CHANNEL, "mode")[6]
    assert all(m.name in help_text for m in modes.MODES)


def test_whether_a_mode_follows_the_level_is_its_own_property():
    for m in modes.MODES:
        built = mapper({"x.mode": m.name})
        assert built.continuous is m.continuous, m.name


class OctaveUpMode(modes.NoteMode):
    """A throw-away mode: the note an octave up."""

    name = "octave_up"

    def press(self, strength):
        m = self.m
        m.off()
        m.on(m.note(0) + 12, m.velocity(strength))


class MeterMode(modes.CCMode):
    """A throw-away continuous mode: the level as CC 20, whatever the cc setting."""

    name = "meter"

    def level(self, cont, pressed):
        if self.midi.cc(0, 20, cont >> 7, self.index):
            self.m.last_cont = cont
            self.m.last_pressed = pressed


@pytest.mark.parametrize("extra", [OctaveUpMode, MeterMode])
def test_a_mode_appended_after_all_the_others_plays(monkeypatch, extra):
    monkeypatch.setattr(modes, "MODES", modes.MODES + (OctaveUpMode, MeterMode))
    m = mapper()
    m.chs.mode = modes.MODES.index(extra)  # (the settings' list was built at import)
    m.settings.version += 1
    m.configure()
    ev = feed(m, [("level", 0, 0), ("press", FULL), ("level", FULL, 1), ("release",)])
    if extra is OctaveUpMode:
        assert ev == [("note_on", 0, 72, 109), ("note_off", 0, 72, 0)]
    else:
        assert ev == [("cc", 0, 20, 0), ("cc", 0, 20, 127)]


def test_the_host_tools_read_the_mode_names_without_micropython():
    root = Path(__file__).resolve().parents[1]
    code = (
        "from host_tools import firmware; s = firmware.module('settings'); "
        "print(' '.join(s.MODES))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root)},
        check=True,
    ).stdout
    assert out.split() == [m.name for m in modes.MODES]
