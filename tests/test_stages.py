"""The Conditioner, Gesture and Debouncer stages built directly: readings and time steps in.

A trace is a list of (value, ms): the value holds for that many 1 ms ticks.
"""

from __future__ import annotations

from engine.conditioning import LEVEL_MAX, Conditioner
from engine.gestures import PRESS, RELEASE, Debouncer, Gesture
from settings import Settings

FULL = 65535


def chs(**values: str):
    st = Settings(["x"])
    assert st.apply({"x." + k: v for k, v in values.items()}) == []
    return st.ch[0]


def ticks(trace: list[tuple[int, int]]):
    """(t_ms, value) for every 1 ms tick of a trace."""
    t = 0
    for value, ms in trace:
        for _ in range(ms):
            yield t, value
            t += 1


# --- Conditioner --------------------------------------------------------------------------


def condition(trace, invert=False, **settings: str) -> tuple[Conditioner, list[int]]:
    c = Conditioner(FULL, invert, chs(**settings))
    c.restart(0)
    levels = []
    level = 0
    for t, v in ticks(trace):
        # as the instrument: rest tracking pauses while the level is past the trigger
        level = c.update(v, t * 1000, level >= c.trigger_level)
        levels.append(level)
    return c, levels


def test_the_conditioner_learns_rest_then_reads_movement_as_a_level():
    c, levels = condition([(2000, 300)], smoothing="0")
    assert levels == [0] * 300 and c.baseline == 2000 and not c.settling
    c, levels = condition([(2000, 300), (2000 + FULL // 4, 200)], smoothing="0")
    assert levels[299] == 0
    assert abs(levels[-1] - LEVEL_MAX // 4) < LEVEL_MAX // 100  # a quarter of the span


def test_the_range_setting_makes_a_small_movement_a_full_level():
    # 5 % of the span is the whole level; a bit more stays at the top
    _, levels = condition(
        [(2000, 300), (2000 + FULL // 40, 100), (2000 + FULL // 18, 100)], smoothing="0", range="5"
    )
    assert abs(levels[399] - LEVEL_MAX // 2) < LEVEL_MAX // 50
    assert levels[-1] == LEVEL_MAX


def test_an_inverted_sensor_reads_less_as_more():
    _, levels = condition(
        [(40000, 300), (40000 - FULL // 4, 100), (40000 + FULL // 4, 100)],
        invert=True,
        smoothing="0",
    )
    assert abs(levels[399] - LEVEL_MAX // 4) < LEVEL_MAX // 100
    assert levels[-1] == 0


def test_higher_sensitivity_puts_the_trigger_nearer_rest():
    triggers = []
    for s in ("10", "50", "90"):
        c, _ = condition([(2000, 300)], sensitivity=s)
        triggers.append(c.trigger_level)
        assert c.release_level < c.trigger_level
    assert triggers[0] > triggers[1] > triggers[2] > 0


def test_smoothing_steadies_small_noise_but_lets_a_big_step_through_at_once():
    c, _ = condition([(2000, 150), (2010, 25), (1990, 25), (2000, 100)], smoothing="100")
    steady = [c.update(2000 + (6 if t % 2 else -6), (300 + t) * 1000, False) for t in range(50)]
    assert max(steady) <= 2  # a shake of 12 raw units is smoothed almost to nothing
    jump = c.update(2000 + FULL // 2, 350_000, False)
    assert jump > LEVEL_MAX // 3


def test_the_baseline_follows_a_slow_creep_at_rest():
    creep = [(2000 + k // 20, 1) for k in range(60_000)]  # 5 % of the span in a minute
    c, levels = condition([(2000, 300)] + creep)
    assert c.baseline > 2000 + 3000 - 800 and max(levels) < c.trigger_level


# --- Gesture -------------------------------------------------------------------------------

TRIG = 4000
REL = TRIG * 3 // 5


def gestures(trace, guard=False, **settings: str) -> tuple[Gesture, list[tuple[int, str]]]:
    g = Gesture(chs(**settings), guard)
    g.reset(0)
    out = []
    for t, level in ticks(trace):
        ev = g.update(level, TRIG, REL, t * 1000)
        if ev:
            out.append((t, "press" if ev == PRESS else "release" if ev == RELEASE else "?"))
    return g, out


def test_a_press_crosses_the_trigger_and_ends_below_the_release_point():
    _, ev = gestures([(0, 100), (TRIG, 50), (REL + 100, 50), (REL - 100, 10)])
    assert ev == [(100, "press"), (200, "release")]


def test_a_level_between_release_and_trigger_does_not_press():
    assert gestures([(0, 100), (TRIG - 1, 500), (0, 100)])[1] == []


def test_a_faster_press_is_stronger():
    slow, _ = gestures([(0, 100)] + [(TRIG * k // 200, 1) for k in range(201)])
    fast, _ = gestures([(0, 100)] + [(TRIG * k // 5, 1) for k in range(6)])
    assert 0 < slow.strength < fast.strength


def test_dwell_delays_the_press_by_its_setting_and_a_shorter_jerk_plays_nothing():
    _, ev = gestures([(0, 100), (TRIG + 500, 300), (0, 10)], dwell="120")
    assert ev[0] == (220, "press")
    assert gestures([(0, 100), (TRIG + 500, 100), (0, 50)], dwell="120")[1] == []


def test_lockout_refuses_a_press_too_soon_after_a_release():
    trace = [(0, 100), (TRIG, 50), (0, 100), (TRIG, 50), (0, 400), (TRIG, 50), (0, 10)]
    _, ev = gestures(trace, lockout="300")
    assert [e for e in ev if e[1] == "press"] == [(100, "press"), (700, "press")]


def test_the_tremor_guard_refuses_a_press_no_bigger_than_the_last_shakes():
    shakes = [(0, 60), (TRIG * 2, 40)] * 5
    g, ev = gestures(shakes + [(0, 60), (TRIG * 2, 300), (0, 60)], guard=True)
    assert g.tremor(1_000_000) >= TRIG * 2 * 3 // 4
    big = gestures(shakes + [(0, 60), (TRIG * 4, 300), (0, 60)], guard=True)[1]
    assert ev == [(60, "press"), (100, "release")]  # only the first shake
    assert (560, "press") in big


def test_an_idle_gesture_at_rest_says_so():
    g, _ = gestures([(0, 10)])
    assert g.idle


# --- Debouncer -----------------------------------------------------------------------------


def test_the_debouncer_takes_the_first_contact_and_ignores_the_bounce():
    d = Debouncer(chs(debounce="10"))
    out = [
        d.update(v, t * 1000)
        for t, v in ticks([(0, 5), (1, 1), (0, 1), (1, 1), (0, 1), (1, 20), (0, 20)])
    ]
    assert out[5:9] == [1, 1, 1, 1] and out[4] == 0
    assert out[28] == 1 and out[29] == 0  # the release, too, at once
