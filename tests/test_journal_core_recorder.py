"""The Recorder (host_tools/journal/recorder.py) fed synthetic instrument lines at known times:
cue-response timing, the device clock (offset, wrap, restart), older firmware's note events,
a crash in the middle, and that feed() costs its caller next to nothing."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from host_tools.journal import JournalError, Recorder, open_journal
from host_tools.journal.db import FILE_NAME
from host_tools.journal.recorder import TICKS_PERIOD, DeviceClock

CHANNELS = [
    {"name": "switch", "sensor": "switch", "kind": "switch", "unit": "pressed"},
    {"name": "pad", "sensor": "fsr", "kind": "analog", "unit": "read_u16"},
    {"name": "hand", "sensor": "vl6180x", "kind": "analog", "unit": "mm"},
]
HOST0 = 1_750_000_000_000.0  # host ms (unix) when the device's clock read DEV0
DEV0 = 40_000


class Device:
    """A synthetic instrument: device ms -> the host ms a line sent then is read, with a
    serial delay of 1-9 ms (the least delay, 1 ms, is what the offset can find)."""

    def __init__(self, rec: Recorder, dev0: int = DEV0, seed: int = 1) -> None:
        self.rec = rec
        self.dev0 = dev0
        self.rng = random.Random(seed)

    def host(self, dev_ms: float) -> float:
        return HOST0 + (dev_ms - self.dev0)

    def send(self, dev_ms: float, line: str) -> None:
        self.rec.feed(line, self.host(dev_ms) + 1 + self.rng.random() * 8)

    def monitor(self, dev_ms: int, pressed: int = 0, level: int = 0, raw: int = 1600) -> None:
        t = dev_ms % TICKS_PERIOD
        for name in ("switch", "pad", "hand"):
            p = pressed if name == "pad" else 0
            self.send(
                dev_ms,
                f"* monitor t={t} {name} raw={raw if name == 'pad' else 0} level="
                f"{level if name == 'pad' else 0} trigger=900 pressed={p} release=540 noise=12",
            )

    def idle(self, start: int, end: int, every: int = 50) -> None:
        for t in range(start, end, every):
            self.monitor(t)

    def press(self, onset: int, hold: int, vel: int = 90, peak: int = 30000) -> None:
        """A pad press: monitor lines while held, then its `* act` line at its end."""
        for t in range(onset, onset + hold, 50):
            self.monitor(t, pressed=1, level=9000, raw=peak)
        t = onset % TICKS_PERIOD
        self.send(onset + hold, f"* act pad t={t} hold={hold} vel={vel} peak={peak} level=9000")


def recorder(tmp_path: Path, **kw) -> Recorder:
    now = kw.pop("now", HOST0 / 1000.0)
    return Recorder(
        tmp_path, "anna", "combo", CHANNELS, {"pad.sensitivity": "80"}, clock=lambda: now, **kw
    )


def cues_of(tmp_path: Path) -> list[tuple[float, float | None]]:
    with open_journal(tmp_path) as j:
        return j.db.execute("SELECT t, response_ms FROM cues ORDER BY t").fetchall()


def test_a_cue_response_with_a_known_delay_is_measured_within_5_ms(tmp_path):
    rec = recorder(tmp_path, cue_window_ms=4000)
    dev = Device(rec)
    delays = [137, 480, 1250, 2999, 3900]
    t = DEV0
    dev.idle(t, t + 3000)
    t += 3000
    for d in delays:
        rec.cue(dev.host(t))  # the therapist's click, in host time
        dev.idle(t, t + d)
        dev.press(t + d, hold=300)
        dev.idle(t + d + 300, t + 6000)
        t += 6000
    rec.close()
    got = cues_of(tmp_path)
    assert len(got) == len(delays)
    for (_, measured), want in zip(got, delays, strict=True):
        assert measured is not None and abs(measured - want) <= 5, (measured, want)
    stats = rec.stats()
    assert stats["cues"] == 5 and stats["responded"] == 5 and stats["activations"] == 5
    assert abs(stats["last_reaction_ms"] - 3900) <= 5


def test_no_press_in_the_window_is_no_response_and_earlier_presses_do_not_count(tmp_path):
    rec = recorder(tmp_path, cue_window_ms=1000)
    dev = Device(rec)
    dev.idle(DEV0, DEV0 + 1000)
    dev.press(DEV0 + 1000, hold=2000)  # held across the cue: began before it
    rec.cue(dev.host(DEV0 + 1500))
    dev.idle(DEV0 + 3000, DEV0 + 4000)
    dev.press(DEV0 + 4000, hold=200)  # 2.5 s after the cue: outside its 1 s window
    dev.idle(DEV0 + 4200, DEV0 + 9000)
    rec.cue(dev.host(DEV0 + 9000))  # nothing follows at all
    dev.idle(DEV0 + 9000, DEV0 + 12000)
    rec.close()
    assert [r for _, r in cues_of(tmp_path)] == [None, None]
    assert rec.stats()["responded"] == 0


def test_the_earliest_onset_answers_even_when_a_longer_press_ends_later(tmp_path):
    # the pad press starts first but ends last: its `* act` line comes after the switch's
    rec = recorder(tmp_path)
    dev = Device(rec)
    dev.idle(DEV0, DEV0 + 1000)
    rec.cue(dev.host(DEV0 + 1000))
    for t in range(DEV0 + 1000, DEV0 + 1400, 50):
        dev.monitor(t, pressed=1 if t >= DEV0 + 1200 else 0)
    dev.send(DEV0 + 1380, f"* act switch t={DEV0 + 1300} hold=80 vel=100 peak=1 level=16383")
    for t in range(DEV0 + 1400, DEV0 + 2000, 50):
        dev.monitor(t, pressed=1)
    dev.send(DEV0 + 2000, f"* act pad t={DEV0 + 1200} hold=800 vel=70 peak=20000 level=8000")
    dev.idle(DEV0 + 2000, DEV0 + 4000)
    rec.close()
    ((_, r),) = cues_of(tmp_path)
    assert abs(r - 200) <= 5


def test_activations_are_stored_in_real_units_at_host_time(tmp_path):
    rec = recorder(tmp_path)
    dev = Device(rec)
    dev.idle(DEV0, DEV0 + 1000)
    dev.press(DEV0 + 1000, hold=450, vel=77, peak=32768)
    dev.send(DEV0 + 1500, f"* act hand t={DEV0 + 1460} hold=30 vel=0 peak=42 level=5000 new=1")
    dev.send(DEV0 + 1600, f"* act switch t={DEV0 + 1550} hold=50 vel=100 peak=1 level=16383")
    dev.idle(DEV0 + 1600, DEV0 + 2000)
    rec.setting("pad.sensitivity", "90")
    rec.note("Laughed at the bell.")
    rec.close()
    with open_journal(tmp_path) as j:
        rows = j.db.execute(
            "SELECT sensor, t, velocity, peak, unit, level, hold_ms FROM activations ORDER BY t"
        ).fetchall()
        settings = j.db.execute("SELECT key, value FROM settings_changes ORDER BY id").fetchall()
        notes = j.db.execute("SELECT text FROM notes").fetchall()
        (s,) = j.sessions("anna")
    (pad, hand, switch) = rows
    assert pad[0] == "pad" and abs(pad[1] * 1000 - (HOST0 + 1000)) <= 2
    assert pad[2:] == (77, 50.001, "% of full scale", 9000, 450)
    assert hand[3:5] == (42.0, "mm") and switch[3:5] == (1.0, "on")
    assert settings == [("pad.sensitivity", "80"), ("pad.sensitivity", "90")]
    assert notes == [("Laughed at the bell.",)] and s["ended"] is not None


def test_the_device_clock_unwraps_its_ticks_and_starts_afresh_after_a_restart():
    c = DeviceClock()
    start = TICKS_PERIOD - 500
    for k in range(30):  # crosses the wrap 500 ms in
        raw = (start + k * 50) % TICKS_PERIOD
        c.tick(raw, HOST0 + k * 50 + (3 if k % 3 else 1))
    onset = c.unwrap((start + 1200) % TICKS_PERIOD)
    assert onset == start + 1200
    assert abs(c.host_ms(onset) - (HOST0 + 1201)) < 0.01
    c.tick(100, HOST0 + 10_000 + 1)  # restarted: ticks from near zero again
    assert c.restarts == 1 and abs(c.host_ms(c.unwrap(150)) - (HOST0 + 10_051)) < 0.01


def test_older_firmware_is_recorded_from_its_note_events(tmp_path):
    rec = recorder(tmp_path)
    dev = Device(rec)
    dev.idle(DEV0, DEV0 + 500)
    rec.cue(dev.host(DEV0 + 500))
    # a chord press (three notes) on the pad, then a single note on the switch
    dev.send(DEV0 + 800, "* event pad note_on 60 85")
    dev.send(DEV0 + 800, "* event pad note_on 64 85")
    dev.send(DEV0 + 800, "* event pad note_on 67 85")
    for t in range(DEV0 + 800, DEV0 + 1200, 50):
        dev.monitor(t, pressed=1, level=12000, raw=39321)
    for n in (60, 64, 67):
        dev.send(DEV0 + 1200, f"* event pad note_off {n} 0")
    dev.send(DEV0 + 1500, "* event switch note_on 48 100")
    dev.send(DEV0 + 1600, "* event switch note_off 48 0")
    dev.send(DEV0 + 1700, "* event hand cc 1 64")  # not a press
    dev.idle(DEV0 + 1700, DEV0 + 4000)
    rec.close()
    with open_journal(tmp_path) as j:
        rows = j.db.execute(
            "SELECT sensor, velocity, peak, unit, level, hold_ms FROM activations ORDER BY t"
        ).fetchall()
    assert len(rows) == 2
    pad, switch = rows
    assert pad[:5] == ("pad", 85, 60.0, "% of full scale", 12000)
    assert abs(pad[5] - 400) <= 10
    assert switch[:4] == ("switch", 100, 0.0, "")  # no monitor line while held: not measured
    ((_, r),) = cues_of(tmp_path)
    assert abs(r - 300) <= 10  # timed by when the host read the note-on


def test_firmware_with_act_lines_is_not_counted_twice_from_its_events(tmp_path):
    rec = recorder(tmp_path)
    dev = Device(rec)
    dev.idle(DEV0, DEV0 + 500)
    for k in range(5):
        t = DEV0 + 500 + k * 600
        dev.send(t, "* event pad note_on 60 90")
        dev.monitor(t, pressed=1, level=9000, raw=30000)
        dev.send(t + 200, "* event pad note_off 60 0")
        dev.send(t + 200, f"* act pad t={t} hold=200 vel=90 peak=30000 level=9000")
        dev.idle(t + 200, t + 600)
    dev.idle(DEV0 + 3500, DEV0 + 6000)
    rec.close()
    assert rec.stats()["activations"] == 5
    with open_journal(tmp_path) as j:
        assert j.db.execute("SELECT COUNT(*), MIN(unit) FROM activations").fetchone() == (
            5,
            "% of full scale",
        )


def test_a_bad_journal_is_reported_by_the_constructor(tmp_path):
    (tmp_path / FILE_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="not an SQLite database"):
        recorder(tmp_path)


CRASH = """
import os, sys, time
from host_tools.journal import Recorder
rec = Recorder(sys.argv[1], "anna", "combo", [{"name": "pad", "unit": "read_u16"}], {})
for k in range(200):
    rec.feed("* act pad t=%d hold=100 vel=90 peak=30000 level=9000" % (1000 + k * 10), k)
time.sleep(2.5)          # the writer commits at least every second
rec.feed("* act pad t=99999 hold=100 vel=90 peak=30000 level=9000", 1)
os._exit(3)              # a crash: no close(), no end of session
"""


def test_a_recording_cut_by_a_crash_keeps_what_was_committed(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASH), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    with open_journal(tmp_path) as j:
        (s,) = j.sessions("anna")
        assert s["activations"] == 200 and s["ended"] is None
        assert j.check() == []


def test_feed_costs_its_caller_next_to_nothing(tmp_path):
    rec = recorder(tmp_path)
    line = "* monitor t=123456 pad raw=30000 level=9000 trigger=900 pressed=1 release=540 noise=12"
    n = 50_000
    t0 = time.perf_counter()
    for k in range(n):
        rec.feed(line, HOST0 + k)
    per_call_us = (time.perf_counter() - t0) / n * 1e6
    rec.close()
    assert rec.lines == n
    # a deque append: ~0.1-0.3 us; generous for a loaded machine
    assert per_call_us < 20, per_call_us
