"""firmware/settings.py on real MicroPython: the schema a therapist edits over serial.

Run: node tests/micropython/run.mjs tests/micropython/check_settings.py --path firmware
"""

import settings as S
from checks import alloc_per_call, run

NAMES = ("switch", "pad")


def fresh():
    return S.Settings(NAMES)


def check_fresh_settings_hold_every_default_of_the_schema():
    s = fresh()
    for row in S.GLOBAL:
        assert getattr(s.glob, row[0]) == row[4], row[0]
    for ch in s.ch:
        for row in S.CHANNEL:
            assert getattr(ch, row[0]) == row[4], row[0]
    for key in s.keys():
        row = s.row(key)
        assert s.get(key) == (S.format_value(row, row[4]), None), key
    assert s.get("root") == ("C", None)
    assert s.version == 0


def check_a_set_changes_only_the_value_the_engine_reads_for_that_sensor():
    s = fresh()
    assert s.set("pad.sensitivity", "80") is None
    assert s.ch[1].sensitivity == 80
    assert s.ch[0].sensitivity == 75, "the other sensor must keep its value"
    assert s.get("pad.sensitivity") == ("80", None)


def check_an_out_of_range_number_is_refused_naming_the_range():
    s = fresh()
    err = s.set("pad.sensitivity", "101")
    assert err == "sensitivity must be a whole number from 1 to 100; 101 is out of range.", err
    assert s.ch[1].sensitivity == 75
    err = s.set("channel", "loud")
    assert err == "channel must be a whole number from 1 to 16, not 'loud'.", err
    assert s.set("transpose", "-12") is None and s.glob.transpose == -12


def check_unknown_keys_are_explained_in_plain_words():
    s = fresh()
    assert s.set("volume", "3") == "'volume' is not a setting."
    assert s.set("sensitivity", "3") == (
        "'sensitivity' is not a setting. It is a sensor setting: use switch.sensitivity."
    )
    assert s.set("foot.mode", "cc") == "There is no sensor called 'foot'. Sensors: switch, pad."
    assert s.set("pad.colour", "red") == "'colour' is not a sensor setting."
    assert s.get("volume") == (None, "'volume' is not a setting.")
    assert s.version == 0


def check_choices_take_their_names_in_any_case():
    s = fresh()
    assert s.set("scale", "Dorian") is None
    assert s.glob.scale == S.SCALES.index("dorian")
    assert s.set("pad.mode", " CC ") is None
    assert S.MODES[s.ch[1].mode] == "cc"
    err = s.set("pad.chord", "ninth")
    assert err is not None and err.startswith("chord must be one of triad, seventh, power"), err


def check_switches_take_on_off_yes_no_and_true_false():
    s = fresh()
    for text, want in (("off", 0), ("On", 1), ("no", 0), ("yes", 1), ("false", 0), ("1", 1)):
        assert s.set("switch.enabled", text) is None, text
        assert s.ch[0].enabled == want, text
    assert s.set("switch.enabled", "maybe") is not None


def check_velocity_floor_can_never_go_above_the_ceiling():
    s = fresh()
    assert s.set("velocity_min", "120") == (
        "velocity_min (120) cannot be above velocity_max (110)."
    )
    assert s.set("velocity_max", "30") == "velocity_max (30) cannot be below velocity_min (40)."
    assert (s.glob.velocity_min, s.glob.velocity_max) == (40, 110)
    assert s.set("velocity_min", "110") is None, "equal floor and ceiling are allowed"
    assert s.set("pad.cc_min", "100") is None
    assert s.set("pad.cc_max", "99") == "cc_max (99) cannot be below cc_min (100)."
    assert s.check("switch.cc_max", "99") == (99, None), "the rule is per sensor"


def check_apply_checks_a_floor_and_ceiling_against_each_others_new_values():
    s = fresh()
    # 115 is above the old ceiling (110), but not above the new one: both must go in.
    assert s.apply({"velocity_min": "115", "velocity_max": "120"}) == []
    assert (s.glob.velocity_min, s.glob.velocity_max) == (115, 120)
    # The other order of the same kind of move: a ceiling below the old floor.
    t = fresh()
    assert t.apply({"velocity_max": "30", "velocity_min": "20"}) == []
    assert (t.glob.velocity_min, t.glob.velocity_max) == (20, 30)


def check_apply_is_all_or_nothing():
    s = fresh()
    before = s.to_dict()
    errors = s.apply(
        {"octave": "5", "pad.sensitivity": "500", "velocity_min": "100", "velocity_max": "90"}
    )
    assert len(errors) == 2, errors
    assert s.to_dict() == before, "a refused apply must leave every value as it was"
    assert s.glob.octave == 4


def check_version_goes_up_on_every_change_and_only_then():
    s = fresh()
    s.set("octave", "5")
    assert s.version == 1
    s.set("octave", "99")
    assert s.check("octave", "3") == (3, None)
    assert s.version == 1, "a refused set or a check changes nothing"
    assert s.glob.octave == 5
    s.reset()
    assert s.version == 2 and s.glob.octave == 4


def check_note_names_and_numbers_convert_both_ways_for_all_midi_notes():
    n = 0
    while n <= 127:
        assert S.parse_note(S.note_name(n)) == n, n
        n += 1
    assert S.note_name(60) == "C4"
    assert S.note_name(0) == "C-1"
    assert S.parse_note("Bb2") == 46
    assert S.parse_note("f#3") == 54
    assert S.parse_note(" 60 ") == 60
    for bad in ("", "H4", "G#9", "128", "C", "C4x", "#4"):
        assert S.parse_note(bad) is None, bad


def check_a_melody_takes_names_numbers_and_commas_and_shows_names_back():
    s = fresh()
    assert s.set("pad.melody", "C4, E4 G4 72") is None
    assert s.ch[1].melody == bytes((60, 64, 67, 72))
    assert s.get("pad.melody") == ("C4 E4 G4 C5", None)
    assert s.set("pad.melody", "C4 X9") == "melody: 'X9' is not a note (use C4, F#3 or 60)."
    too_long = " ".join(["C4"] * (S.MAX_MELODY + 1))
    assert s.set("pad.melody", too_long) == (
        "melody must be 1 to 32 notes such as C4 D4 E4 or 60 62 64."
    )
    assert s.set("pad.melody", "") is not None, "an empty melody would play nothing"


def check_a_saved_profile_loads_back_exactly_and_is_accepted_by_apply():
    s = fresh()
    assert (
        s.apply(
            {
                "scale": "blues",
                "root": "F#",
                "velocity_min": "115",
                "velocity_max": "120",
                "pad.mode": "zones",
                "pad.melody": "A3 C4 E4",
                "switch.enabled": "off",
                "switch.cc_min": "5",
            }
        )
        == []
    )
    saved = s.to_dict()
    assert len(saved) == len(S.GLOBAL) + len(NAMES) * len(S.CHANNEL)
    loaded = fresh()
    loaded.load_dict(saved)
    assert loaded.to_dict() == saved
    assert loaded.ch[1].melody == bytes((57, 60, 64))
    # What get() shows, set() takes back: a profile replays through apply on a fresh instrument.
    replayed = fresh()
    assert replayed.apply(saved) == []
    assert replayed.to_dict() == saved


def check_loading_an_old_profile_skips_unknown_and_invalid_keys():
    s = fresh()
    s.load_dict(
        {"bogus": "1", "octave": "99", "transpose": "-3", "gone.mode": "cc", "pad.volume": "3"}
    )
    assert s.glob.transpose == -3
    assert s.glob.octave == 4, "an invalid stored value keeps the current one"


def check_reading_a_setting_in_the_tick_allocates_nothing():
    s = fresh()
    ch = s.ch

    def tick_reads():
        return ch[1].sensitivity + s.glob.velocity_min + ch[0].mode

    assert alloc_per_call(tick_reads, 200) == 0


def check_text_is_read_the_same_as_on_cpython():
    # the same table tests/test_settings_text.py checks on CPython
    from settings_cases import CASES

    for key, text, want in CASES:
        s = fresh()
        why = s.set(key, text)
        got = None if why is not None else s.get(key)[0]
        assert got == want, (key, text, got, want)


run(globals())
