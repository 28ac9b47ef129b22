"""The device journal's flash budget (firmware/journal.py): summary writes per hour of
standalone play, the flash one session takes, and how many sessions the log holds.

Usage: python -c "from benchmarks import journaldevice; print(journaldevice.figures())"

The write policy runs as on the device (Journal.poll every 4 ms between ticks) on a virtual
clock, with presses from a seeded model of a music-therapy hour: phrases of presses every
1.5-3 s lasting 1-4 minutes, separated by pauses of 15-90 s (talk, a new song).
"""

from __future__ import annotations

import os
import random
import tempfile

from benchmarks.engine import firmware_on_path

_POLL_MS = 4
_NAMES = ["switch", "pad", "hand"]
_UNITS = ["pressed", "read_u16", "mm"]


def _hour(pattern: str, seed: int = 11) -> tuple[int, int, int]:
    """(writes, bytes written, log bytes at the end) for an hour of `pattern` play."""
    firmware_on_path()
    import journal

    rng = random.Random(seed)
    presses: list[tuple[int, int, int]] = []  # (onset ms, hold ms, channel)
    t = 1000
    end = 3600 * 1000
    while t < end:
        if pattern == "therapy":
            phrase_end = t + rng.randint(60, 240) * 1000
            while t < min(phrase_end, end):
                presses.append((t, rng.randint(150, 900), rng.randrange(3)))
                t += rng.randint(1500, 3000)
            t += rng.randint(15, 90) * 1000
        elif pattern == "no_pauses":  # steady presses every 2 s for the whole hour
            presses.append((t, 400, 1))
            t += 2000
        else:  # "worst": a pause just long enough after every short phrase
            presses.append((t, 300, 1))
            t += journal.PAUSE_MS + 500
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as flash:
        os.chdir(flash)
        try:
            j = journal.Journal(_NAMES, _UNITS)
            k = 0
            now = 0
            on_until = -1
            while now < end + journal.IDLE_END_MS:
                while k < len(presses) and presses[k][0] + presses[k][1] <= now:
                    onset, hold, ch = presses[k]
                    j.touched(onset)
                    j.pressed(ch, onset, onset + hold, hold, 30000, 9000, onset)
                    j.touched(onset + hold)
                    k += 1
                if k < len(presses) and presses[k][0] <= now:
                    on_until = presses[k][0] + presses[k][1]
                j.poll(now, 1 if now < on_until else 0)
                now += _POLL_MS
            return j.log.writes, j.log.written, j.log.size
        finally:
            os.chdir(old)


def _capacity(sensors: int) -> tuple[int, int]:
    """(bytes one session of `sensors` played sensors takes in the log, sessions that fit)."""
    firmware_on_path()
    import journal

    old = os.getcwd()
    with tempfile.TemporaryDirectory() as flash:
        os.chdir(flash)
        try:
            j = journal.Journal(_NAMES, _UNITS)
            t = 0
            for _ in range(200):
                # realistic sizes: a few hundred presses, holds in the hundreds of ms
                for c in range(sensors):
                    for _ in range(3):
                        j.pressed(c, t, t + 456, 456, 31234 if c else 1, 9000, t + 600000)
                        t += 2345
                j.save(t)
                j.cur = None
            one = len((j.log._lines(j.log.path) or [b""])[-1])
            return one, len(j.log.entries)
        finally:
            os.chdir(old)


def figures() -> dict:
    writes, written, _ = _hour("therapy")
    steady, _, _ = _hour("no_pauses")
    worst, _, _ = _hour("worst")
    one, fit1 = _capacity(1)
    three, fit3 = _capacity(3)
    from journal import CAPACITY

    return {
        "journal_flash_writes_per_hour": writes,  # a therapy-like hour (phrases and pauses)
        "journal_flash_writes_per_hour_no_pauses": steady,
        "journal_flash_writes_per_hour_max": worst,  # a pause after every short phrase
        "journal_flash_kb_written_per_hour": round(written / 1024, 1),
        "journal_flash_bytes_per_session": three,  # a session on all three combo sensors
        "journal_flash_bytes_per_session_one_sensor": one,
        "journal_log_capacity_bytes": CAPACITY,
        "journal_log_capacity_sessions": fit3,
        "journal_log_capacity_sessions_one_sensor": fit1,
    }
