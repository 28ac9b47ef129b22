"""The detection benchmark's scoring: a perfect detector scores perfectly, a chattering one is
penalised, latency is measured from the half-amplitude crossing, both sides see the same traces."""

import pytest

from benchmarks import detection as D


@pytest.fixture(scope="module")
def traces():
    # one simulated minute in three client sessions (1 %, 3.2 % and 10 % presses)
    return D.make_traces(seed=3, minutes=1, trace_s=20)


def presses(traces):
    return [p for tr in traces for p in tr.presses]


def test_the_set_holds_presses_tremor_and_twitches_within_the_stated_ranges(traces):
    assert sum(len(tr.raw) for tr in traces) == 60_000
    ps = presses(traces)
    assert len(ps) >= 6
    assert all(1.0 <= p.pct <= 10.0 for p in ps)
    assert all(10 <= p.rise <= 400 and 150 <= p.hold <= 1500 for p in ps)
    assert sum(len(tr.tremors) for tr in traces) >= 1
    assert min(tr.client_pct for tr in traces) == pytest.approx(1.0)
    assert max(tr.client_pct for tr in traces) == pytest.approx(10.0)


def test_half_way_is_where_the_noise_free_press_first_reaches_half_its_amplitude():
    shape = D.press_shape(rise=100, hold=200, fall=50)
    i = D.half_way(shape)
    assert shape[i] >= 0.5 > shape[i - 1]
    assert 48 <= i <= 50  # the middle of a symmetric 100 ms rise
    assert D.half_way(D.press_shape(rise=1, hold=10, fall=10)) == 0


def test_a_perfect_detector_finds_every_press_with_no_false_notes(traces):
    s = D.score(traces, [[p.t50 for p in tr.presses] for tr in traces])
    assert s["detect_rate"] == 1.0
    assert s["false"] == 0 and s["false_per_hour"] == 0
    assert s["latency_ms_p50"] == 0 and s["latency_ms_p95"] == 0


def test_latency_is_the_note_on_minus_the_half_amplitude_crossing(traces):
    s = D.score(traces, [[p.t50 + 7 for p in tr.presses] for tr in traces])
    assert s["latency_ms_p50"] == 7 and s["latency_ms_p95"] == 7
    early = D.score(traces, [[p.start for p in tr.presses] for tr in traces])
    assert early["detect_rate"] == 1.0
    assert early["latency_ms_p50"] == D.percentile([p.start - p.t50 for p in presses(traces)], 50)
    assert early["latency_ms_p50"] <= 0


def test_a_note_after_the_grace_counts_as_false_not_as_a_detection(traces):
    tr = traces[0]
    p = tr.presses[0]
    s = D.score([tr], [[p.end + D.GRACE_MS]])
    assert s["detected"] == 0 and s["false"] == 1
    s = D.score([tr], [[p.end + D.GRACE_MS - 1]])
    assert s["detected"] == 1 and s["false"] == 0


def test_a_second_note_in_one_press_is_a_false_duplicate(traces):
    s = D.score(traces, [[t for p in tr.presses for t in (p.t50, p.t50 + 5)] for tr in traces])
    assert s["detect_rate"] == 1.0
    assert s["false"] == s["false_by_cause"]["duplicate"] == len(presses(traces))


def test_a_note_during_a_tremor_only_bout_is_false_and_blamed_on_tremor(traces):
    tr = next(tr for tr in traces if tr.tremors)
    s, _ = tr.tremors[0]
    r = D.score([tr], [[s + 10]])
    assert r["detected"] == 0
    assert r["false_by_cause"]["tremor"] == 1


def test_an_always_on_detector_is_penalised(traces):
    chatter = [list(range(0, len(tr.raw), 50)) for tr in traces]
    s = D.score(traces, chatter)
    assert s["detect_rate"] == 1.0
    assert s["false_per_hour"] > 50_000  # ~72 000 notes an hour, nearly all false


def test_both_detectors_play_a_clean_big_press_once_and_ignore_rest_noise():
    import random

    from simulator import movement as mv

    sig = mv.rest(4000, D.REST_U16)
    mv.add_press(sig, 2000, 0.05 * D.FULL_SCALE, rise_ms=60, hold_ms=500)
    raw = mv.adc_read_u16(sig, random.Random(5))
    cal = D.calibrate(1)
    assert cal["trigger_distance_raw"] > 0
    base = D.baseline_notes(raw, cal["threshold_raw"], cal["release_raw"])
    attune = D.attune_notes(raw)
    assert len(base) == 1 and 2000 <= base[0] < 2100
    assert len(attune) == 1 and 2000 <= attune[0] < 2100


def test_run_reports_every_figure_for_both_sides():
    r = D.run(seed=2, minutes=1)
    for side in ("attune", "baseline"):
        for key in ("detect_rate", "false_per_hour", "latency_ms_p50", "latency_ms_p95"):
            assert key in r[side]
    assert r["traces"]["minutes"] == 1.0
    assert r["attune"]["presses"] == r["baseline"]["presses"] == r["traces"]["presses"]


# --- issue 14's classes --------------------------------------------------------------------


@pytest.mark.parametrize("spec", D.CLASSES, ids=lambda s: s.name)
def test_each_class_holds_what_its_spec_says(spec):
    (tr,) = D.make_class_traces(spec, seed=1, sessions=1)
    assert len(tr.raw) == D.TRACE_S * 1000
    assert spec.client_pct[0] <= tr.client_pct <= spec.client_pct[1]
    assert len(tr.presses) >= 10
    assert bool(tr.twitches) == (spec.p_twitch > 0)
    assert bool(tr.tremors) == (spec.tremor_share[1] > 0)
    for p in tr.presses:
        assert spec.rise_ms[0] - 1 <= p.rise <= spec.rise_ms[1] + 1
        assert spec.hold_ms[0] <= p.hold <= spec.hold_ms[1]
    if spec.tap_hz[0]:
        # taps come in phrases at 2.5-4 a second: most gaps between taps are under 420 ms
        gaps = [b.start - a.start for a, b in zip(tr.presses, tr.presses[1:], strict=False)]
        assert min(gaps) >= 1000 / spec.tap_hz[1] * (1 - D.TAP_JITTER) - 1
        assert sum(g <= 420 for g in gaps) > len(gaps) // 2


def test_a_class_is_the_same_whatever_else_is_generated():
    a = D.make_class_traces(D.CLASSES[0], seed=1, sessions=1)[0]
    D.make_traces(seed=1, minutes=1)
    b = D.make_class_traces(D.CLASSES[0], seed=1, sessions=1)[0]
    assert a.raw == b.raw


def test_a_rule_switched_off_for_the_benchmark_is_switched_back_on():
    D.engine_on_path()
    from engine.conditioning import Conditioner
    from engine.gestures import Gesture

    before = (Gesture.RULES, Conditioner.AUTO, Conditioner.QUICK_START)
    for rule, *_ in D.RULES:
        with D.without(rule):
            assert (Gesture.RULES, Conditioner.AUTO, Conditioner.QUICK_START) != before
        assert (Gesture.RULES, Conditioner.AUTO, Conditioner.QUICK_START) == before


def test_run_reports_every_class_side_by_side_with_the_baseline():
    r = D.run(seed=2, minutes=1, rules=False)
    assert set(r["classes"]) == {spec.name for spec in D.CLASSES}
    for c in r["classes"].values():
        for side in ("attune", "baseline"):
            for key in ("detect_rate", "false_per_hour", "latency_ms_p50"):
                assert key in c[side]
            assert "latency_ms_p50_first_minute" in c[side]


def test_the_twitch_bound_waits_for_the_peak_of_presses_a_twitch_could_be():
    # presses rising in 20 ms or less to at most the client's size look like the set's twitches
    # until their peak: the bound plays them there at the earliest, the rest as the engine
    # without its twitch rules does
    b = D.twitch_bound(seed=1, minutes=2)
    assert b["presses"] > 10 and 0 < b["presses_like_a_twitch"] < b["presses"]
    assert b["latency_ms_p50_bound"] >= b["latency_ms_p50_without_twitch_rules"]
