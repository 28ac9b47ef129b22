"""Recording one live session into the journal, without ever slowing its caller.

Usage:
    rec = Recorder(None, "anna", "squeeze-pad", channels, {"pad.sensitivity": "80"})
    rec.feed(line, time.time() * 1000)     # every `* ` line the instrument sends, as read
    rec.cue(); rec.note("Tired today."); rec.setting("pad.sensitivity", "90")
    rec.stats()                            # for a live display
    rec.close()                            # ends the session, writes the rest

`feed` only appends to a queue (well under a microsecond); a writer thread with its own
connection parses the lines and commits in small batches (every second, or every 50 rows), so
a crash loses at most the last second. Host times are `clock()` milliseconds (unix ms with
the default clock); the journal stores unix seconds.

What becomes an activation:
- `* act <sensor> t=<onset ms> hold= vel= peak= level=` (one line per press, sent when it
  ends): the onset's host time is t + offset, the offset being the smallest (host receive ms -
  device ms) over the last 10 s of `* monitor t=` and `* levels t=` lines and `* act` lines
  (whose device ms is t + hold, when it was sent): the least delayed line.
- Older firmware sends no `* act`: a press is then a `* event <sensor> note_on` ... `note_off`
  pair (the first note-on to the last note-off, so a chord is one press), timed by when the
  host read them; velocity from the first note-on, the level's and reading's peak from the
  `* monitor` lines in between (0 with unit "" - not measured - when none came). Such a
  press is held back one second: if a `* act` line arrives meanwhile, the firmware speaks
  `* act` and the events are not counted twice.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from host_tools.errors import AttuneError
from host_tools.journal.db import Journal, JournalError, open_journal
from host_tools.journal.units import real_peak

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms wraps here on rp2 (simulator/clock.py)
_TICKS_HALF = TICKS_PERIOD // 2
OFFSET_WINDOW_MS = 10_000.0  # the device->host offset is the least delay over this long
COMMIT_EVERY_S = 1.0
COMMIT_ROWS = 50
EVENT_GRACE_MS = 1000.0  # how long an event-made press waits for a `* act` line
RELEASE_GRACE_MS = 300.0  # after a release, the `* act` line may still be on its way
CUE_GIVE_UP_MS = 30_000.0  # a press still held this long after a cue's window: stop waiting
_WAKE_S = 0.05
_READY_S = 15.0


def _ticks_diff(a: int, b: int) -> int:
    return ((a - b + _TICKS_HALF) & (TICKS_PERIOD - 1)) - _TICKS_HALF


def _words(body: list[str]) -> dict[str, str]:
    out = {}
    for w in body:
        k, eq, v = w.partition("=")
        if eq:
            out[k] = v
    return out


def _num(text: str | None, default: float = 0.0) -> float:
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        return default


def settings_of(client: Any, channels: list[dict[str, Any]]) -> dict[str, str]:
    """The settings in use on a device, global then each channel's, for a Recorder.
    Usage: settings_of(client, inst.to_json()["channels"])"""
    values: dict[str, str] = {}
    for scope in ["global"] + [str(c["name"]) for c in channels]:
        try:
            values.update(client.values(scope))
        except AttuneError:
            pass  # an older firmware: record what it tells
    return values


class DeviceClock:
    """The instrument's ticks_ms clock -> host milliseconds: unwraps ticks, follows the
    least delayed line over a sliding window, and starts afresh when the device restarts."""

    def __init__(self, window_ms: float = OFFSET_WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._last: int | None = None  # the last monitor tick, raw
        self._base = 0  # its unwrapped value
        self._mins: deque[tuple[float, float]] = deque()  # (host ms, offset), offsets rising
        self.restarts = 0

    def unwrap(self, t: int) -> int:
        if self._last is None:
            return t
        return self._base + _ticks_diff(t, self._last)

    def tick(self, t: int, host_ms: float) -> None:
        """A `* monitor t=` or `* levels t=` line: the clock moves on (backwards means a
        restart)."""
        if self._last is not None and _ticks_diff(t, self._last) < 0:
            self._mins.clear()  # the device restarted: its clock means something new
            self.restarts += 1
            self._last, self._base = t, t
        else:
            self._base = self.unwrap(t)
            self._last = t
        self.sample(self._base, host_ms)

    def sample(self, unwrapped: int, host_ms: float) -> None:
        offset = host_ms - unwrapped
        mins = self._mins
        while mins and mins[-1][1] >= offset:
            mins.pop()
        mins.append((host_ms, offset))
        while mins[0][0] < host_ms - self.window_ms:
            mins.popleft()

    @property
    def offset(self) -> float | None:
        return self._mins[0][1] if self._mins else None

    def host_ms(self, unwrapped: int) -> float:
        off = self.offset
        return unwrapped + (off if off is not None else 0.0)


class _Press:
    __slots__ = ("onset", "velocity", "sounding", "level", "raw")

    def __init__(self, onset: float, velocity: int) -> None:
        self.onset = onset
        self.velocity = velocity
        self.sounding = 1
        self.level = 0
        self.raw = -1


class _Cue:
    __slots__ = ("t_ms", "window_ms", "id", "best", "done", "response", "written")

    def __init__(self, t_ms: float, window_ms: int) -> None:
        self.t_ms = t_ms
        self.window_ms = window_ms
        self.id: int | None = None
        self.best: float | None = None  # the earliest onset at or after the cue
        self.done = False
        self.response: float | None = None
        self.written = False


class Recorder:
    """One live session of one instrument for one client (see the module's docstring)."""

    def __init__(
        self,
        data_dir: Path | None,
        client: str,
        instrument: str,
        channels: list[dict[str, Any]],
        settings: dict[str, Any],
        cue_window_ms: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = data_dir
        self.client = client
        self.instrument = instrument
        self.cue_window_ms = int(cue_window_ms)
        self.clock = clock
        self.units = {str(c.get("name")): str(c.get("unit") or "") for c in channels}
        self.started = clock()
        self.session_id: int | None = None
        self.problem: str | None = None  # the last write that failed, in plain words
        self.lines = 0
        self.skipped = 0  # lines that raised while being read (a bug; never the caller's)
        self._settings = dict(settings)
        self._q: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._closed = False
        self._error: BaseException | None = None
        # writer-thread state
        self._clock = DeviceClock()
        self._now = self.started * 1000.0
        self._mode: str | None = None  # "act" or "event" once the firmware has shown which
        self._presses: dict[str, _Press] = {}
        self._held: list[tuple[float, tuple[Any, ...], float]] = []  # (due, row, onset_ms)
        self._pressed: dict[str, bool] = {}
        self._released_at = -math.inf
        self._rows: list[tuple[Any, ...]] = []
        self._other: list[tuple[str, tuple[Any, ...]]] = []
        self._cues: list[_Cue] = []
        self._last_commit = time.monotonic()
        # what stats() shows (written by the writer thread only)
        self._n_act = 0
        self._n_cues = 0
        self._n_responded = 0
        self._last_reaction: float | None = None
        self._thread = threading.Thread(
            target=self._run, name="journal-" + instrument, daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_READY_S):
            raise JournalError("The journal did not open in time; is another program using it?")
        if self._error is not None:
            self._thread.join()
            raise self._error

    # -- the caller's side: never blocks ----------------------------------------------------

    def feed(self, line: str, host_ms: float) -> None:
        """Every `* ` line the instrument sends, with the host time it was read (ms)."""
        self._q.append((line, host_ms))

    def cue(self, host_ms: float | None = None) -> None:
        """The therapist invites a response now (or at host_ms)."""
        self._q.append(("cue", self.clock() * 1000.0 if host_ms is None else host_ms))
        self._wake.set()

    def note(self, text: str) -> None:
        self._q.append(("note", self.clock(), str(text)))
        self._wake.set()

    def setting(self, key: str, value: str) -> None:
        self._q.append(("setting", self.clock(), str(key), str(value)))
        self._wake.set()

    def set_cue_window(self, ms: int) -> None:
        """How long after a cue a press answers it, for cues from now on (ms)."""
        self.cue_window_ms = int(ms)

    def stats(self) -> dict[str, Any]:
        minutes = max((self.clock() - self.started) / 60.0, 1e-9)
        out = {
            "session_id": self.session_id,
            "activations": self._n_act,
            "per_minute": round(self._n_act / minutes, 2) if minutes >= 1 / 60 else 0.0,
            "cues": self._n_cues,
            "responded": self._n_responded,
            "last_reaction_ms": self._last_reaction,
        }
        if self.problem:
            out["problem"] = self.problem
        return out

    def close(self) -> None:
        """End the session: write what is left and wait for the writer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._q.append(("stop", self.clock()))
        self._wake.set()
        self._thread.join()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            journal = open_journal(self.data_dir)
            try:
                sid = journal.begin_session(
                    self.client,
                    self.instrument,
                    self.started,
                    cue_window_ms=self.cue_window_ms,
                )
                with journal.batch():
                    for k, v in self._settings.items():
                        journal.add_setting(sid, self.started, k, str(v))
            except BaseException:
                journal.close()
                raise
        except BaseException as e:  # the constructor re-raises it to the caller
            self._error = e
            self._ready.set()
            return
        self.session_id = sid
        self._ready.set()
        try:
            self._loop(journal)
        finally:
            journal.close()

    def _loop(self, journal: Journal) -> None:
        q = self._q
        stop_at: float | None = None
        while stop_at is None:
            self._wake.wait(_WAKE_S)
            self._wake.clear()
            while q:
                item: tuple[Any, ...] = q.popleft()
                kind = item[0]  # a line (it starts with "*") or what the caller asked
                if kind == "cue":
                    self._cue(item[1])
                elif kind == "note":
                    self._other.append(("note", item[1:]))
                elif kind == "setting":
                    self._other.append(("setting", item[1:]))
                elif kind == "stop":
                    stop_at = item[1]
                    break
                else:
                    try:
                        self._line(kind, item[1])
                    except Exception as e:  # a line this recorder cannot read: skip it
                        self.skipped += 1
                        self.problem = "A line could not be read (" + repr(e) + ")."
            self._settle(final=stop_at is not None)
            due = time.monotonic() - self._last_commit >= COMMIT_EVERY_S
            if stop_at is not None or len(self._rows) + len(self._other) >= COMMIT_ROWS or due:
                self._commit(journal)
        try:
            journal.end_session(self.session_id or 0, stop_at)
        except JournalError as e:
            self.problem = e.message

    def _line(self, line: str, host_ms: float) -> None:
        self.lines += 1
        if host_ms > self._now:
            self._now = host_ms
        words = line.split()
        if len(words) < 3 or words[0] != "*":
            return
        kind = words[1]
        if kind == "monitor":
            self._monitor(words, host_ms)
        elif kind == "levels":
            self._levels(words, host_ms)
        elif kind == "act":
            self._act(words, host_ms)
        elif kind == "event" and len(words) >= 5 and words[3] in ("note_on", "note_off"):
            self._event(words, host_ms)

    def _monitor(self, words: list[str], host_ms: float) -> None:
        sensor = None
        t = raw = level = None
        pressed = None
        for w in words[2:]:
            k, eq, v = w.partition("=")
            if not eq:
                if sensor is None:
                    sensor = w
            elif k == "t":
                t = v
            elif k == "raw":
                raw = v
            elif k == "level":
                level = v
            elif k == "pressed":
                pressed = v
        self._tick(t, host_ms)
        if sensor is not None:
            self._sensor(sensor, level, raw, pressed, host_ms)

    def _levels(self, words: list[str], host_ms: float) -> None:
        # `* levels t=<ms> <sensor>=<level>,<pressed> ...`: every sensor's level and press
        for w in words[2:]:
            k, eq, v = w.partition("=")
            if k == "t":
                self._tick(v, host_ms)
            elif eq:
                level, _, pressed = v.partition(",")
                self._sensor(k, level, None, pressed, host_ms)

    def _tick(self, t: str | None, host_ms: float) -> None:
        if t is not None:
            try:
                self._clock.tick(int(t), host_ms)
            except ValueError:
                pass

    def _sensor(
        self, sensor: str, level: str | None, raw: str | None, pressed: str | None, host_ms: float
    ) -> None:
        if pressed is not None:
            now = pressed not in ("0", "False", "false")
            if self._pressed.get(sensor) and not now:
                self._released_at = host_ms
            self._pressed[sensor] = now
        press = self._presses.get(sensor)
        if press is not None:
            press.level = max(press.level, int(_num(level)))
            press.raw = max(press.raw, int(_num(raw, -1)))

    def _act(self, words: list[str], host_ms: float) -> None:
        sensor = words[2]
        kv = _words(words[3:])
        if "t" not in kv:
            return
        try:
            onset = self._clock.unwrap(int(kv["t"]))
        except ValueError:
            return
        # sent as the press ended: its end (onset + hold) is the device time it stands for
        self._clock.sample(onset + int(_num(kv.get("hold"))), host_ms)
        if self._mode != "act":
            self._mode = "act"
            self._held.clear()  # the same presses, already told as events: not twice
            self._presses.clear()
        onset_ms = self._clock.host_ms(onset)
        peak, unit = real_peak(self.units.get(sensor, "raw"), _num(kv.get("peak"), math.nan))
        row = (
            sensor,
            onset_ms / 1000.0,
            int(_num(kv.get("vel"))),
            peak,
            unit,
            int(_num(kv.get("level"))),
            int(_num(kv.get("hold"))),
        )
        self._accept(row, onset_ms)

    def _event(self, words: list[str], host_ms: float) -> None:
        if self._mode == "act":
            return
        sensor, kind = words[2], words[3]
        press = self._presses.get(sensor)
        if kind == "note_on" and len(words) >= 6 and words[5] != "0":
            if press is None:
                self._presses[sensor] = _Press(host_ms, int(_num(words[5])))
            else:
                press.sounding += 1
            return
        if press is None:  # a note-off with no press seen (recording started mid-press)
            return
        press.sounding -= 1
        if press.sounding > 0:
            return
        del self._presses[sensor]
        if press.raw >= 0:
            peak, unit = real_peak(self.units.get(sensor, "raw"), float(press.raw))
        else:
            peak, unit = 0.0, ""
        row = (
            sensor,
            press.onset / 1000.0,
            press.velocity,
            peak,
            unit,
            press.level,
            int(round(host_ms - press.onset)),
        )
        if self._mode == "event":
            self._accept(row, press.onset)
        else:
            self._held.append((host_ms + EVENT_GRACE_MS, row, press.onset))

    def _accept(self, row: tuple[Any, ...], onset_ms: float) -> None:
        self._rows.append(row)
        self._n_act += 1
        for c in self._cues:
            if not c.done and onset_ms >= c.t_ms and (c.best is None or onset_ms < c.best):
                c.best = onset_ms

    def _cue(self, host_ms: float) -> None:
        if host_ms > self._now:
            self._now = host_ms
        self._cues.append(_Cue(host_ms, self.cue_window_ms))
        self._n_cues += 1

    def _settle(self, final: bool) -> None:
        """Release event-made presses no `* act` line claimed; finish cues whose answer is
        known (no press can still begin before the best one seen)."""
        now = self._now
        if self._held and (final or self._held[0][0] <= now):
            keep = []
            for due, row, onset in self._held:
                if final or due <= now:
                    self._mode = "event"
                    self._accept(row, onset)
                else:
                    keep.append((due, row, onset))
            self._held = keep
        if not self._cues:
            return
        busy = (
            any(self._pressed.values())
            or bool(self._presses)
            or bool(self._held)
            or now - self._released_at < RELEASE_GRACE_MS
        )
        for c in self._cues:
            if c.done:
                continue
            late = now > c.t_ms + c.window_ms
            if (
                final
                or now > c.t_ms + c.window_ms + CUE_GIVE_UP_MS
                or (not busy and (c.best is not None or late))
            ):
                c.done = True
                if c.best is not None and c.best - c.t_ms <= c.window_ms:
                    c.response = round(c.best - c.t_ms, 1)
                    self._n_responded += 1
                    self._last_reaction = c.response

    def _commit(self, journal: Journal) -> None:
        sid = self.session_id or 0
        rows, other = self._rows, self._other
        new = [c for c in self._cues if c.id is None]
        answered = [c for c in self._cues if c.done and not c.written]
        if not (rows or other or new or answered):
            self._last_commit = time.monotonic()
            return
        try:
            with journal.batch():
                journal.add_activations(sid, rows)
                for kind, args in other:
                    if kind == "note":
                        journal.add_note(sid, args[0], args[1])
                    else:
                        journal.add_setting(sid, args[0], args[1], args[2])
                ids = [journal.add_cue(sid, c.t_ms / 1000.0, c.window_ms) for c in new]
                for c in answered:
                    cid = c.id if c.id is not None else ids[new.index(c)]
                    if c.response is not None:
                        journal.set_cue_response(cid, c.response)
        except JournalError as e:
            self.problem = e.message  # kept in memory and tried again next second
            self._last_commit = time.monotonic()
            return
        for c, cid in zip(new, ids, strict=True):
            c.id = cid
        for c in answered:
            c.written = True
        self._cues = [c for c in self._cues if not c.written]
        self._rows, self._other = [], []
        self.problem = None
        self._last_commit = time.monotonic()
