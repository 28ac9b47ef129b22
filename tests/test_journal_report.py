"""The report's figures (host_tools/journal/analysis.py) from sessions written through the
journal's own API: presses a minute, IMTAP cue bands, reaction times, range, tempo, settings
flags, standalone summaries, weeks and goals, and the plain captions."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from host_tools.journal import JournalError, open_journal
from host_tools.journal.analysis import (
    NoSuchClient,
    client_report,
    cue_band,
    quartiles,
    tempo_cv,
)

JAN = 1767261600.0  # Thursday 1 January 2026, 10:00 UTC
DAY = 86400.0


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Reports speak local time; the expected dates here are UTC ones."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def journal(tmp_path):
    j = open_journal(tmp_path / "data")
    yield j
    j.close()


def play(j, client, start, minutes=10.0, presses=(), cues=(), settings=None, during=()):
    """One recorded session: presses (sensor, seconds in, peak, unit, hold_ms), cues
    (seconds in, response_ms or None), settings at the start, changes during (s, key, value)."""
    sid = j.begin_session(client, "squeeze-pad", start)
    for key, value in (settings or {}).items():
        j.add_setting(sid, start, key, value)
    j.add_activations(
        sid,
        [
            (sensor, start + t, 90, peak, unit, 8000, hold)
            for sensor, t, peak, unit, hold in presses
        ],
    )
    for t, response in cues:
        cue = j.add_cue(sid, start + t, 5000)
        j.set_cue_response(cue, response)
    for t, key, value in during:
        j.add_setting(sid, start + t, key, value)
    j.end_session(sid, start + minutes * 60)
    return sid


def pad_presses(n, every_s=20.0, peak=40.0, hold=300):
    return [("pad", 1 + i * every_s, peak, "% of full scale", hold) for i in range(n)]


def test_thirty_presses_in_ten_minutes_are_three_a_minute(journal):
    play(journal, "Mia", JAN, minutes=10, presses=pad_presses(30))
    s = client_report(journal, "Mia")["sessions"][0]
    assert (s["activations"], s["minutes"], s["per_minute"]) == (30, 10.0, 3.0)
    assert s["source"] == "live"


@pytest.mark.parametrize(
    "answered, cues, band",
    [
        (0, 10, "never"),
        (1, 100, "rarely"),
        (49, 100, "rarely"),
        (50, 100, "inconsistent"),
        (79, 100, "inconsistent"),
        (80, 100, "consistent"),
        (4, 5, "consistent"),  # exactly 80 %, no rounding doubt
        (100, 100, "consistent"),
        (0, 0, None),
    ],
)
def test_cue_bands_follow_imtap_at_their_boundaries(answered, cues, band):
    assert cue_band(answered, cues) == band


@pytest.mark.parametrize("answered, band", [(49, "rarely"), (50, "inconsistent"),
                                            (79, "inconsistent"), (80, "consistent")])  # fmt: skip
def test_a_session_of_100_cues_is_banded_by_its_answers(journal, answered, band):
    cues = [(5 + i * 5, 800.0 if i < answered else None) for i in range(100)]
    play(journal, "Sam", JAN, minutes=10, cues=cues)
    s = client_report(journal, "Sam")["sessions"][0]
    assert (s["cues"], s["responded"], s["cue_band"]) == (100, answered, band)
    assert s["cue_rate"] == answered / 100


def test_reaction_time_is_the_median_and_middle_half_of_answered_cues(journal):
    answers = [1000.0, 2000.0, 3000.0, 4000.0]
    cues = [(10 + 20 * i, r) for i, r in enumerate(answers)]
    cues += [(100, None), (120, 6000.0)]  # no answer, and one after the 5 s window
    play(journal, "Mia", JAN, cues=cues)
    s = client_report(journal, "Mia")["sessions"][0]
    assert (s["cues"], s["responded"]) == (6, 4)
    assert s["reaction_ms_median"] == 2500
    assert (s["reaction_ms_q1"], s["reaction_ms_q3"], s["reaction_ms_iqr"]) == (1750, 3250, 1500)
    assert s["cue_band"] == "inconsistent"  # 4 of 6 = 67 %


def test_quartiles_and_tempo_cv_by_hand():
    assert quartiles([]) is None
    assert quartiles([1, 2, 3, 4, 5]) == (2.0, 3.0, 4.0)
    assert tempo_cv([0, 1, 2, 3, 4]) == 0.0  # a metronome
    assert tempo_cv([0, 1, 4, 5, 8]) == pytest.approx(0.5)  # gaps 1, 3, 1, 3: sd 1 / mean 2
    assert tempo_cv([0, 1, 4, 64, 65, 68]) == pytest.approx(0.5)  # the 60 s pause is left out
    assert tempo_cv([0, 1]) is None


def test_tempo_steadiness_of_a_session_in_figures_and_words(journal):
    steady = [("pad", 1 + 2.0 * i, 40.0, "% of full scale", 300) for i in range(20)]
    play(journal, "Mia", JAN, presses=steady)
    t, uneven = 1.0, []
    for i in range(21):  # 20 gaps: 3, 1, 3, 1, ...
        uneven.append(("pad", t, 40.0, "% of full scale", 300))
        t += 1.0 if i % 2 else 3.0
    play(journal, "Mia", JAN + 7 * DAY, presses=uneven)
    first, second = client_report(journal, "Mia")["sessions"]
    assert (first["tempo_cv"], first["tempo_words"]) == (0.0, "very steady")
    assert (second["tempo_cv"], second["tempo_words"]) == (0.5, "very uneven")


def test_range_is_per_sensor_in_real_units_and_a_switch_has_none(journal):
    presses = [("pad", 1 + i, float(i + 1), "% of full scale", 300) for i in range(100)]
    presses += [("reach", 200 + i, 50.0 + i, "mm", 500) for i in range(11)]
    presses += [("button", 300 + i, 1.0, "on", 200) for i in range(5)]
    play(journal, "Mia", JAN, presses=presses)
    s = client_report(journal, "Mia")["sessions"][0]
    assert s["range"]["pad"] == {"unit": "% of full scale", "p10": 10.9, "p50": 50.5,
                                 "p90": 90.1, "presses": 100}  # fmt: skip
    assert (s["range"]["reach"]["p50"], s["range"]["reach"]["unit"]) == (55.0, "mm")
    assert "button" not in s["range"]
    assert s["activations"] == 116
    assert s["hold_ms_median"] == 300  # the median over every press


def test_sensitivity_changes_are_flagged_beside_the_figures(journal):
    play(journal, "Mia", JAN, presses=pad_presses(20), settings={"pad.sensitivity": "60"})
    play(journal, "Mia", JAN + 40 * DAY, presses=pad_presses(30),
         settings={"pad.sensitivity": "80", "pad.mode": "note"},
         during=[(300, "pad.sensitivity", "90"), (320, "pad.mode", "chord")])  # fmt: skip
    report = client_report(journal, "Mia")
    first, second = report["sessions"]
    assert first["flags"] == [] and first["settings_at_start"] == {"pad.sensitivity": "60"}
    assert second["flags"] == [
        "pad sensitivity 60 -> 80 since the previous session",
        "pad sensitivity 80 -> 90 at minute 5",
    ]
    kinds = [(c["when"], c["key"], c["old"], c["new"]) for c in second["settings"]]
    assert kinds == [
        ("between", "pad.sensitivity", "60", "80"),
        ("during", "pad.sensitivity", "80", "90"),
        ("during", "pad.mode", "note", "chord"),
    ]
    caption = report["captions"]["per_minute"]
    assert caption.startswith("Mia pressed 3 times a minute in the latest session (10 February")
    assert "up from 2 in January." in caption
    assert "sensitivity was changed in between (pad sensitivity 60 -> 80" in caption
    assert report["weeks"][-1]["flags"] == second["flags"]


def test_a_session_played_without_a_computer_is_shown_and_marked(journal):
    pad = SimpleNamespace(name="pad", unit="read_u16", count=120, hold_ms_mean=420,
                          hold_ms_max=1500, peak_mean=32767.5, peak_max=65535,
                          ioi_mean_ms=2400, ioi_sd_ms=600)  # fmt: skip
    device = SimpleNamespace(seq=3, boot=7, dur_s=600, sensors=[pad])
    journal.client_id("Mia")
    journal.store_standalone("Mia", "squeeze-pad", JAN + 600, device)
    report = client_report(journal, "Mia")
    (s,) = report["sessions"]
    assert (s["source"], s["approx"], s["activations"], s["per_minute"]) == (
        "standalone", True, 120, 12.0)  # fmt: skip
    assert s["range"]["pad"]["mean"] == 50.0 and s["range"]["pad"]["p50"] is None
    assert s["range"]["pad"]["unit"] == "% of full scale"
    assert (s["hold_ms_mean"], s["tempo_cv"]) == (420, 0.25)
    assert "1 of them played without a computer" in report["captions"]["summary"]
    assert report["captions"]["per_minute"] == (
        "Mia pressed 12 times a minute in the latest session (1 January 2026, played without "
        "a computer)."
    )
    assert report["weeks"][0]["standalone"] == 1


def test_weeks_roll_up_and_the_last_n_weeks_can_be_asked(journal):
    play(journal, "Mia", JAN, presses=pad_presses(20))  # Thursday
    play(journal, "Mia", JAN + 1 * DAY, presses=pad_presses(40))  # Friday, same week
    play(journal, "Mia", JAN + 14 * DAY, presses=pad_presses(10))
    report = client_report(journal, "Mia")
    weeks = [
        (w["week"], w["sessions"], w["activations"], w["per_minute"]) for w in report["weeks"]
    ]
    assert weeks == [("2025-12-29", 2, 60, 3.0), ("2026-01-12", 1, 10, 1.0)]
    recent = client_report(journal, "Mia", weeks=1, now=JAN + 15 * DAY)
    assert [s["activations"] for s in recent["sessions"]] == [10]
    assert recent["weeks_asked"] == 1


def test_goals_carry_their_attainment_scores_over_time(journal):
    s1 = play(journal, "Mia", JAN, presses=pad_presses(5))
    goal = journal.add_goal("Mia", "Answer a cue within 3 seconds")
    journal.score_goal(goal, JAN + 600, -1, s1)
    journal.score_goal(goal, JAN + 30 * DAY, 1)
    report = client_report(journal, "Mia")
    (g,) = report["goals"]
    assert [sc["score"] for sc in g["scores"]] == [-1, 1]
    assert (g["first"], g["latest"], g["latest_words"]) == (-1, 1, "somewhat more than expected")
    assert report["captions"]["goals"] == (
        "Goals: 'Answer a cue within 3 seconds' scored +1 (somewhat more than expected) on "
        "31 January 2026, from -1 on 1 January 2026."
    )


def test_captions_say_each_figure_in_plain_words(journal):
    play(journal, "Mia", JAN, presses=pad_presses(20, every_s=5, peak=30.0),
         cues=[(5, 3000.0), (60, None)])  # fmt: skip
    play(journal, "Mia", JAN + 60 * DAY, presses=pad_presses(30, every_s=5, peak=45.0),
         cues=[(5, 1000.0), (60, 1200.0), (90, 1400.0), (120, 1600.0), (150, None)])  # fmt: skip
    caps = client_report(journal, "Mia")["captions"]
    assert caps["cues"] == (
        "Mia answered 4 of 5 cues in the latest session with cues (80 %, consistent); over "
        "all 2 sessions with cues, 5 of 7 (71 %, inconsistent)."
    )
    assert caps["reaction"].startswith("Mia's median reaction time was 1.3 s in the latest")
    assert "faster than 3.0 s in January" in caps["reaction"]
    assert "on pad Mia's typical press reached 45 % of full scale" in caps["range"]
    assert "compared with 30 % of full scale in January" in caps["range"]
    assert caps["hold"].startswith("Mia typically held a press for 0.3 s")
    assert caps["tempo"].startswith("Mia's rhythm was very steady in the latest session")


def test_the_reaction_caption_reads_well_when_every_answer_was_as_quick(journal):
    play(journal, "Mia", JAN, presses=pad_presses(20, every_s=5),
         cues=[(5, 800.0), (60, 800.0), (90, 820.0)])  # fmt: skip
    play(journal, "Ben", JAN, presses=pad_presses(20, every_s=5),
         cues=[(5, 1000.0), (60, 1500.0), (90, 2000.0), (120, 2500.0)])  # fmt: skip
    mia = client_report(journal, "Mia")["captions"]["reaction"]
    assert "(half of the answers all came at about 0.8 s)" in mia
    assert "between" not in mia
    ben = client_report(journal, "Ben")["captions"]["reaction"]
    assert "(half of the answers came between 1.4 and 2.1 s)" in ben


def test_the_hold_caption_says_under_a_tenth_of_a_second_for_quick_taps(journal):
    play(journal, "Mia", JAN, presses=pad_presses(20, every_s=5, hold=30))
    assert client_report(journal, "Mia")["captions"]["hold"].startswith(
        "Mia typically held a press for under 0.1 s in the latest session"
    )


def test_a_client_without_sessions_gets_a_clear_message(journal):
    journal.client_id("Noor")
    report = client_report(journal, "Noor")
    assert report["sessions"] == [] and report["weeks"] == []
    assert report["captions"] == {
        "summary": "No sessions are recorded for Noor in this period yet. Sessions are "
        "recorded while Studio or `attune record` is connected, and sessions played without "
        "a computer are collected the next time the instrument is connected."
    }


def test_an_unknown_client_is_a_plain_error_naming_the_known_ones(journal):
    journal.client_id("Mia")
    journal.client_id("Sam")
    with pytest.raises(NoSuchClient) as e:
        client_report(journal, "Mai")
    assert str(e.value) == "The journal has no client called 'Mai'. Known clients: Mia, Sam."
    assert isinstance(e.value, JournalError) and e.value.exit_code == 2


def test_a_session_cut_by_a_crash_lasts_until_its_last_press(journal):
    sid = journal.begin_session("Mia", "squeeze-pad", JAN)
    journal.add_activations(sid, [("pad", JAN + 60 * i, 90, 40.0, "% of full scale", 8000, 300)
                                  for i in range(1, 11)])  # fmt: skip
    (s,) = client_report(journal, "Mia")["sessions"]
    assert s["ended"] is None and (s["minutes"], s["per_minute"]) == (10.0, 1.0)


def test_a_recorded_session_reports_what_the_recorder_counted(tmp_path):
    """Through the core's Recorder: its start settings, a change, presses and cues."""
    from host_tools.journal import Recorder

    channels = [{"name": "pad", "sensor": "fsr", "kind": "analog", "unit": "read_u16"}]
    now = [JAN]
    rec = Recorder(tmp_path, "Mia", "squeeze-pad", channels, {"pad.sensitivity": "60"},
                   clock=lambda: now[0])  # fmt: skip
    host0, dev0 = JAN * 1000.0, 50_000
    delays = [500, 1000, 1500, 2000]
    for i, delay in enumerate(delays):
        cue_ms = 10_000 + i * 15_000  # device ms after dev0
        rec.cue(host0 + cue_ms)
        onset = cue_ms + delay
        rec.feed(f"* monitor t={dev0 + onset} pad raw=1 level=0 pressed=0", host0 + onset + 1)
        line = f"* act pad t={dev0 + onset} hold=400 vel=90 peak=32768 level=9000"
        rec.feed(line, host0 + onset + 401)
        if i == 1:
            now[0] = JAN + 120  # two minutes in
            rec.setting("pad.sensitivity", "75")
    now[0] = JAN + 600
    rec.close()
    stats = rec.stats()
    with open_journal(tmp_path) as j:
        (s,) = client_report(j, "Mia")["sessions"]
    assert (s["activations"], s["cues"], s["responded"]) == (
        stats["activations"], stats["cues"], stats["responded"]) == (4, 4, 4)  # fmt: skip
    assert abs(s["reaction_ms_median"] - 1250) <= 5
    assert s["range"]["pad"]["p50"] == 50.0 and s["range"]["pad"]["unit"] == "% of full scale"
    assert (s["minutes"], s["per_minute"]) == (10.0, 0.4)
    assert s["settings_at_start"] == {"pad.sensitivity": "60"}
    assert s["flags"] == ["pad sensitivity 60 -> 75 at minute 2"]
