"""Guided calibration: keep still, then move; a suggested range and sensitivity, or a reason in
plain words why not."""

import random
from types import SimpleNamespace

import pytest
from engine import calibration
from engine.calibration import MOVE_MS, REST_MS, Calibration
from engine.conditioning import LEVEL_MAX, Conditioner, trigger_for
from hypothesis import given
from hypothesis import strategies as st

FS = 65535


def channel(invert=False, full_scale=FS):
    return SimpleNamespace(name="pad", full_scale=full_scale, invert=invert)


def run(cal, rest, move, start_ms=0, step_ms=1):
    """Feed `rest(t)` for the rest phase and `move(t)` after it; returns the phase changes."""
    changes = []
    t = start_ms
    while cal.running:
        elapsed = t - start_ms
        raw = rest(elapsed) if cal.phase == "rest" else move(elapsed)
        change = cal.feed(raw, t & 0x3FFFFFFF)
        if change:
            changes.append(change)
        t += step_ms
        assert elapsed < REST_MS + MOVE_MS + 1000, "calibration never ended"
    return changes


def noisy(level, spread, seed=1):
    rnd = random.Random(seed)
    return lambda t: level + rnd.randint(-spread, spread)


def presses(rest_level, peak, spread=40, seed=2):
    """Three comfortable presses up to `peak` above rest during the move phase."""
    rnd = random.Random(seed)

    def f(t):
        phase = (t - REST_MS) % 1600
        lift = peak if 300 <= phase < 900 else 0
        return rest_level + lift + rnd.randint(-spread, spread)

    return f


def test_a_still_then_pressed_sensor_gets_a_range_its_movement_nearly_fills():
    cal = Calibration(channel())
    changes = run(cal, noisy(2000, 40), presses(2000, 30000))
    assert [c[0] for c in changes] == ["rest", "move", "result"]
    r = cal.result
    assert 1990 <= r["baseline"] <= 2010
    reach = r["movement"] * 100 // (FS * r["range"] // 100)
    assert 85 <= reach <= 92  # the comfortable movement reaches about 90 % of the range
    assert r["range"] == 51


def test_the_suggested_sensitivity_plays_at_about_a_quarter_of_the_movement():
    cal = Calibration(channel())
    run(cal, noisy(2000, 40), presses(2000, 30000))
    r = cal.result
    quarter = r["movement"] // 4
    assert abs(r["trigger"] - quarter) < quarter // 10
    rng = FS * r["range"] // 100
    assert trigger_for(r["sensitivity"], rng, cal.noise_q12, FS) == r["trigger"]


def test_the_result_message_names_the_values_and_how_to_apply_them():
    cal = Calibration(channel())
    changes = run(cal, noisy(2000, 40), presses(2000, 30000))
    phase, message = changes[-1]
    r = cal.result
    assert message.startswith(
        "range=" + str(r["range"]) + " sensitivity=" + str(r["sensitivity"]) + " "
    )
    assert "calibrate apply" in message


def test_an_inverted_sensor_counts_movement_downwards():
    cal = Calibration(channel(invert=True))
    run(cal, noisy(60000, 40), presses(60000, -20000))
    assert cal.phase == "result"
    assert 19800 <= cal.result["movement"] <= 20100


def test_a_small_movement_still_triggers_well_above_the_noise():
    cal = Calibration(channel())
    run(cal, noisy(2000, 200), presses(2000, 1500, spread=200))
    r = cal.result
    assert cal.phase == "result"
    assert r["trigger"] > 200 * 3 // 2  # above the biggest wobble at rest
    assert "small" in cal.message


def test_no_movement_says_so_in_plain_words():
    cal = Calibration(channel())
    changes = run(cal, noisy(2000, 40), noisy(2000, 40, seed=5))
    assert changes[-1][0] == "failed"
    assert "didn't see any movement" in changes[-1][1]
    assert cal.result is None


def test_a_sensor_stuck_at_the_end_of_its_scale_is_reported_faulty():
    cal = Calibration(channel())
    changes = run(cal, lambda t: FS, lambda t: FS)
    assert changes[-1][0] == "failed"
    assert "unplugged or broken" in changes[-1][1]


def test_a_sensor_resting_at_zero_that_moves_is_not_called_faulty():
    cal = Calibration(channel())
    run(cal, lambda t: 0, presses(0, 20000, spread=0))
    assert cal.phase == "result"


def test_moving_during_the_rest_phase_asks_to_keep_still():
    cal = Calibration(channel())
    changes = run(cal, lambda t: 2000 + (20000 if 1000 < t < 1500 else 0), presses(2000, 9000))
    assert changes[-1][0] == "failed"
    assert "keeping still" in changes[-1][1]


def test_movement_the_wrong_way_suggests_the_sensor_is_fitted_the_other_way_round():
    cal = Calibration(channel())
    changes = run(cal, noisy(40000, 40), presses(40000, -20000))
    assert changes[-1][0] == "failed"
    assert "other way" in changes[-1][1]


def test_too_few_readings_fail_instead_of_guessing():
    cal = Calibration(channel())
    changes = run(cal, noisy(2000, 40), presses(2000, 30000), step_ms=600)
    assert changes[-1][0] == "failed"
    assert "Too few readings" in changes[-1][1]


def test_a_single_glitch_at_rest_does_not_make_the_sensor_look_noisy():
    cal = Calibration(channel())
    rest = noisy(2000, 40)
    run(cal, lambda t: 2000 + 3000 if t == 1700 else rest(t), presses(2000, 30000))
    clean = Calibration(channel())
    run(clean, noisy(2000, 40), presses(2000, 30000))
    assert cal.result["sensitivity"] == clean.result["sensitivity"]


def test_phases_are_timed_across_the_wrap_of_ticks_ms():
    cal = Calibration(channel())
    changes = run(cal, noisy(2000, 40), presses(2000, 30000), start_ms=0x3FFFFFFF - 1000)
    assert [c[0] for c in changes] == ["rest", "move", "result"]


def test_seconds_left_counts_down_each_phase():
    cal = Calibration(channel())
    assert cal.feed(2000, 100) == ("rest", calibration.REST_TEXT)
    assert cal.seconds_left(100) == 3
    assert cal.seconds_left(2200) == 1


def test_memory_stays_the_same_however_long_it_runs():
    cal = Calibration(channel())
    size = len(vars(cal))
    run(cal, noisy(2000, 40), presses(2000, 30000), step_ms=1)
    assert len(vars(cal)) == size
    assert not any(isinstance(v, (list, bytearray)) for v in vars(cal).values())


def test_a_failure_from_outside_stops_the_run():
    cal = Calibration(channel())
    cal.feed(2000, 0)
    assert cal.fail("The sensor stopped answering.") == ("failed", "The sensor stopped answering.")
    assert not cal.running
    assert cal.feed(2000, 10) is None


def test_one_level_scale_firmware_and_host_tools_agree():
    # protocol.LEVEL_MAX is the one source; the hot modules keep a const copy (an imported
    # name is not inlined by MicroPython), the host tools read protocol's
    import protocol
    from engine import modes

    from host_tools import meter

    assert LEVEL_MAX == modes._LEVEL_MAX == meter.LEVEL_MAX == protocol.LEVEL_MAX == 16383


def test_calibration_suggests_with_the_conditioners_own_trigger_curve():
    assert calibration.trigger_for is trigger_for


@pytest.mark.parametrize("noise_q12", [0, 4096, 3 * 4096, 40 * 4096, 300 * 4096])
@pytest.mark.parametrize("rng_pct", [1, 7, 30, 100])
def test_the_trigger_curve_matches_the_conditioners(noise_q12, rng_pct):
    chs = SimpleNamespace(range=rng_pct, sensitivity=50, smoothing=30)
    for full_scale in (FS, 255, 1000):
        cond = Conditioner(full_scale, False, chs)
        cond._noise = noise_q12
        rng = full_scale * rng_pct // 100
        for s in (1, 2, 17, 50, 71, 99, 100):
            chs.sensitivity = s
            cond.configure()
            mine = trigger_for(s, max(rng, 1), noise_q12, full_scale)
            lvl = max(2, min(mine * LEVEL_MAX // max(rng, 1), LEVEL_MAX * 3 // 4))
            assert cond.trigger_level == lvl


@given(
    st.lists(st.integers(-10, 70000), min_size=1, max_size=300), st.integers(1, 700), st.booleans()
)
def test_any_readings_end_in_a_result_or_a_plain_failure(values, step, invert):
    cal = Calibration(channel(invert=invert))
    t = 0
    i = 0
    while cal.running and t < REST_MS + MOVE_MS + 2000:
        cal.feed(values[i % len(values)], t)
        t += step
        i += 1
    assert cal.phase in ("result", "failed")
    if cal.phase == "result":
        assert 1 <= cal.result["range"] <= 100
        assert 1 <= cal.result["sensitivity"] <= 100
    else:
        assert cal.message.endswith(".")
