"""Zones benchmark: the air harp's zones mode on generated traces of a noisy 30 Hz time-of-flight
distance sensor (VL6180X-like): a still hand, approaches at different speeds, sudden withdrawal.
Side by side: a naive baseline, the zones mode before issue 14, and today's. See
docs/benchmarks.md.

Usage: from benchmarks import zones; zones.run(seed=1, sessions=16)["attune"]
"""

from __future__ import annotations

import math
import random
import time
from array import array
from dataclasses import dataclass, field

from benchmarks.mp.fakesensor import FakeSensor

# The sensor: a VL6180X reads 0..254 mm, FAR (255) when nothing is in range (its range error);
# the driver's read() returns the last distance until the next one, so at the engine's 1 kHz
# tick a reading repeats ~30 times.
FAR = 255
FULL_SCALE = 255
OUT_MM = 400.0  # where the hand is when it is out of view (anything beyond 254 reads FAR)
SAMPLE_HZ = 1000  # the engine's tick
SETTLE_MS = 1000  # every session starts with nothing in view, so rest (FAR) is learned
# The air harp's profile (boards/instruments/air-harp.json): what a therapist starts from.
PROFILE = {
    "scale": "major_pentatonic",
    "hand.mode": "zones",
    "hand.zones": "8",
    "hand.range": "80",
    "hand.smoothing": "50",
    "hand.velocity": "fixed",
    "hand.fixed_velocity": "80",
}

# --- The trace set's distributions (fixed and committed before any result was seen) ----------
SESSION_S = 90  # one session = one client and one sensor
PERIOD_MS = (28.0, 36.0)  # time between fresh readings, per session (uniform): "~30 ms"
PERIOD_JITTER_MS = 2.0  # each reading comes up to this much early or late (uniform)
NOISE_MM = (2.5, 5.0)  # Gaussian reading noise, RMS, per session (uniform): a still hand's
#                        readings spread over about 10-20 mm (+-2 RMS)
SWAY_MM = (0.0, 2.0)  # a still hand is not a statue: slow sway, amplitude per hold (uniform)
SWAY_HZ = (0.2, 1.0)
P_BOUNDARY = 0.3  # share of events that stop right on a zone boundary (+-1 mm)
#                   (the others stop in the middle half of a zone)
APPROACH_MM_S = (50.0, 1000.0)  # mean speed of an approach, log-uniform (minimum-jerk path)
HOLD_S = (1.5, 6.0)  # how long the hand stays still (uniform)
WITHDRAW_MM_S = (1000.0, 3000.0)  # mean speed of a sudden withdrawal, log-uniform
P_SIDEWAYS = 0.4  # share of withdrawals out of the beam sideways: the reading jumps to FAR...
P_EDGE = 0.5  # ...after one reading of the hand's edge in half of them: +10..80 mm (uniform)
EDGE_MM = (10.0, 80.0)
GAP_S = (0.8, 2.5)  # nothing in view between events (uniform)
# scoring windows
SETTLE_AFTER_STOP_MS = 600  # the zone may still catch up this long after the hand stops;
#                             from then until the withdrawal starts, the hand is "still"
# a steady approach moves less than one zone per reading at its fastest; faster is a sweep


@dataclass
class Event:
    """One visit of the hand: in from out of view, stop, hold still, withdraw."""

    enter: int  # ms the approach starts (the hand out of view, at OUT_MM)
    stop: int  # ms the hand arrives where it stops
    withdraw: int  # ms the withdrawal starts
    end: int  # ms the next event may start (nothing in view from about `withdraw`)
    stop_mm: float
    boundary: bool  # stops right on a zone boundary (its approach is not scored)
    speed_mm_s: float  # mean approach speed
    peak_mm_s: float  # peak approach speed (minimum jerk: 1.875 x mean)
    sideways: bool


@dataclass
class Session:
    raw: array  # the readings the driver returns, one per 1 ms tick
    true_mm: list[float]  # where the hand really is, per ms
    period_ms: float
    noise_mm: float
    events: list[Event] = field(default_factory=list)


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _min_jerk(x0: float, x1: float, n: int) -> list[float]:
    """`n` samples, 1 ms apart, of a minimum-jerk movement (a smooth human reach) x0 -> x1."""
    out = []
    for i in range(n):
        s = (i + 1) / n
        out.append(x0 + (x1 - x0) * (10 * s**3 - 15 * s**4 + 6 * s**5))
    return out


def zone_edges_mm(release_level: int, zones: int, range_mm: int) -> list[float]:
    """The distance (mm) of each zone's lower edge, zone 0 .. zones-1, for a sensor resting at
    FAR: the engine's geometry (level from the rest baseline over `range_mm`, zones split what is
    above the release point). Zone k spans (edges[k + 1], edges[k]] in mm (closer = higher)."""
    lmax = 16383
    width = (lmax + 1) // zones
    edges = []
    for k in range(zones):
        cont = k * width
        lvl = release_level + cont * (lmax - release_level) / lmax
        edges.append(FAR - lvl * range_mm / lmax)
    return edges


def zone_of(mm: float, edges: list[float]) -> int:
    z = 0
    for k, e in enumerate(edges):
        if mm <= e:
            z = k
    return z


def make_session(rng: random.Random, ms: int, edges: list[float]) -> Session:
    """One session: a sensor's noise and rate, then events until `ms` is filled."""
    period = rng.uniform(*PERIOD_MS)
    noise = rng.uniform(*NOISE_MM)
    true = [OUT_MM] * ms
    ses = Session(array("B"), true, period, noise)
    zones = len(edges)
    t = SETTLE_MS
    while True:
        boundary = rng.random() < P_BOUNDARY
        if boundary:
            k = rng.randint(1, zones - 1)  # the boundary between zone k-1 and zone k
            stop_mm = edges[k] + rng.uniform(-1.0, 1.0)
        else:
            k = rng.randint(1, zones - 1)
            lo = edges[k + 1] if k + 1 < zones else edges[k] - (edges[k - 1] - edges[k])
            w = edges[k] - lo
            stop_mm = lo + w * rng.uniform(0.25, 0.75)
        speed = _log_uniform(rng, *APPROACH_MM_S)
        n_in = max(2, round((OUT_MM - stop_mm) / speed * 1000))
        hold = round(rng.uniform(*HOLD_S) * 1000)
        sideways = rng.random() < P_SIDEWAYS
        wspeed = _log_uniform(rng, *WITHDRAW_MM_S)
        n_out = max(2, round((OUT_MM - stop_mm) / wspeed * 1000))
        gap = round(rng.uniform(*GAP_S) * 1000)
        if t + n_in + hold + n_out + gap > ms:
            break
        path = _min_jerk(OUT_MM, stop_mm, n_in)
        true[t : t + n_in] = path
        stop = t + n_in
        amp = rng.uniform(*SWAY_MM)
        hz = rng.uniform(*SWAY_HZ)
        ph = rng.uniform(0, 2 * math.pi)
        for i in range(hold):
            true[stop + i] = stop_mm + amp * math.sin(ph + 2 * math.pi * hz * i / 1000)
        withdraw = stop + hold
        if not sideways:
            x0 = true[withdraw - 1]
            true[withdraw : withdraw + n_out] = _min_jerk(x0, OUT_MM, n_out)
        end = withdraw + n_out + gap
        ses.events.append(
            Event(t, stop, withdraw, end, stop_mm, boundary, speed, speed * 1.875, sideways)
        )
        t = end
    # the sensor: a fresh reading every period (+- jitter) of where the hand is then, noisy,
    # whole mm, FAR beyond 254; held until the next
    raw = bytearray(ms)
    ev_i = 0
    next_at = rng.uniform(0, period)
    cur = FAR
    edge_due = -1  # a sideways exit's reading of the hand's edge
    for i in range(ms):
        if i >= next_at:
            next_at += period + rng.uniform(-PERIOD_JITTER_MS, PERIOD_JITTER_MS)
            while ev_i < len(ses.events) and ses.events[ev_i].end <= i:
                ev_i += 1
            ev = ses.events[ev_i] if ev_i < len(ses.events) else None
            x = true[i]
            if ev is not None and ev.sideways and i >= ev.withdraw:
                # out of the beam sideways: FAR, after one reading of its edge in some
                if edge_due == -1:
                    edge_due = 1 if rng.random() < P_EDGE else 0
                if edge_due == 1:
                    x = ev.stop_mm + rng.uniform(*EDGE_MM)
                    edge_due = 0
                else:
                    x = OUT_MM
            else:
                edge_due = -1
            r = round(x + rng.gauss(0.0, noise))
            cur = FAR if r > 254 else (r if r > 0 else 0)
        raw[i] = cur
    ses.raw = array("B", raw)
    return ses


def make_sessions(seed: int, sessions: int, edges: list[float]) -> list[Session]:
    rng = random.Random(seed)
    return [make_session(rng, SESSION_S * 1000, edges) for _ in range(sessions)]


# --- the three sides: the same engine, three zones modes ------------------------------------


def _engine():
    from benchmarks.engine import firmware_on_path

    firmware_on_path()
    from engine import modes

    return modes


def _naive_mode(modes):
    class NaiveZones(modes.ZonesMode):
        """The baseline: the zone is the level quantised, no hysteresis; every change of zone
        while a note sounds plays the new zone (what a plain 'split the range' mapping does)."""

        def level(self, cont, pressed):
            c = self.chs
            n = c.zones
            if c.invert:
                cont = 16383 - cont
            z = cont // ((16383 + 1) // n)
            if z >= n:
                z = n - 1
            m = self.m
            if z != self._zone:
                self._zone = z
                if pressed and m.count:
                    m.off()
                    m.on(m.note(z), self._velocity)
            m.last_cont = cont
            m.last_pressed = pressed

    return NaiveZones


def _previous_mode(modes):
    class PreviousZones(modes.ZonesMode):
        """The zones mode as it was before issue 14 (main at 296ac9c): a fixed hysteresis of a
        quarter zone past each edge, a change of zone plays at once."""

        def press(self, strength):
            m = self.m
            vel = m.velocity(strength)
            self._velocity = vel
            m.off()
            m.on(m.note(self._zone if self._zone > 0 else 0), vel)

        def level(self, cont, pressed):
            c = self.chs
            n = c.zones
            if c.invert:
                cont = 16383 - cont
            z = self._zone
            width = (16383 + 1) // n
            if z < 0:
                z = cont // width
            else:
                lo = z * width - (width >> 2)
                hi = (z + 1) * width + (width >> 2)
                if cont < lo or cont >= hi:
                    z = cont // width
            if z >= n:
                z = n - 1
            m = self.m
            if z != self._zone:
                self._zone = z
                if pressed and m.count:
                    m.off()
                    m.on(m.note(z), self._velocity)
            m.last_cont = cont
            m.last_pressed = pressed

    return PreviousZones


def _with_zones_mode(cls):
    """A context: the registry's zones entry replaced by `cls` (None: the firmware's own)."""
    import contextlib

    modes = _engine()

    @contextlib.contextmanager
    def swap():
        saved = modes.MODES
        if cls is not None:
            modes.MODES = tuple(cls if m is modes.ZonesMode else m for m in saved)
        try:
            yield
        finally:
            modes.MODES = saved

    return swap()


class _ToF(FakeSensor):
    NO_TARGET = FAR  # as the VL6180X driver says: FAR is "nothing in range", not rest


def _instrument(raw):
    from instrument import Instrument
    from settings import Settings

    st = Settings(["hand"])
    assert st.apply(PROFILE) == []
    sensor = _ToF("analog", FULL_SCALE, values=raw, invert=True)
    inst = Instrument(st, [("hand", sensor, "vl6180x")])
    inst.begin(0)
    return inst


def geometry() -> tuple[list[float], list[int]]:
    """The zone edges (mm) and the note of each zone, as the engine sets them up after learning
    rest at FAR (the same for every side: the zones mode does not move them)."""
    _engine()
    inst = _instrument(array("B", [FAR] * (SETTLE_MS + 10)))
    for t in range(SETTLE_MS):
        inst.tick(t * 1000)
    ch = inst.channels[0]
    zones = int(PROFILE["hand.zones"])
    edges = zone_edges_mm(ch.release_level, zones, FULL_SCALE * int(PROFILE["hand.range"]) // 100)
    notes = [ch.mapper.note(z) for z in range(zones)]
    return edges, notes


def play(raw: array) -> list[tuple[int, int]]:
    """(ms, note) of every note-on the engine plays on a session's readings, at 1 kHz."""
    inst = _instrument(raw)
    midi = inst.midi
    buf = midi.buf
    tick = inst.tick
    out = []
    for t in range(len(raw)):
        tick(t * 1000)
        n = midi.count
        if n:
            for i in range(n):
                if buf[i * 4 + 1] & 0xF0 == 0x90 and buf[i * 4 + 3]:
                    out.append((t, buf[i * 4 + 2]))
            midi.count = 0
    return out


# --- scoring (the same for every side) --------------------------------------------------------


def percentile(values: list[int], p: float) -> int | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def score(sessions: list[Session], played: list[list[tuple[int, int]]], edges, notes) -> dict:
    zone_of_note = {n: z for z, n in enumerate(notes)}
    still_ms = still_boundary_ms = 0
    still_changes = still_boundary_changes = 0
    approaches = {"steady": [0, 0], "sweep": [0, 0]}  # [in order, scored]
    withdrawal_notes = withdrawals_with_notes = withdrawals = 0
    idle_notes = 0
    final_delay = []
    for ses, notes_on in zip(sessions, played, strict=True):
        prev_end = 0
        for ev in ses.events:
            idle_notes += sum(1 for t, _ in notes_on if prev_end <= t < ev.enter)
            prev_end = ev.end
            # approach: from the start until the zone has had time to catch up after the stop
            settled = ev.stop + SETTLE_AFTER_STOP_MS
            if not ev.boundary:
                zs = [zone_of_note.get(n, -1) for t, n in notes_on if ev.enter <= t < settled]
                final = zone_of(ev.stop_mm, edges)
                steady = ev.peak_mm_s * ses.period_ms / 1000 < (edges[0] - edges[1])
                ok = bool(zs) and zs[-1] == final
                ok = ok and all(b > a for a, b in zip(zs, zs[1:], strict=False))
                if steady:
                    ok = ok and all(b == a + 1 for a, b in zip(zs, zs[1:], strict=False))
                cls = approaches["steady" if steady else "sweep"]
                cls[0] += ok
                cls[1] += 1
                if zs and zs[-1] == final:
                    entered = next(
                        i
                        for i in range(ev.enter, ev.stop + 1)
                        if zone_of(ses.true_mm[i], edges) == final
                    )
                    t_final = max(t for t, n in notes_on if ev.enter <= t < settled)
                    final_delay.append(t_final - entered)
            # still: from then until the withdrawal
            dur = max(0, ev.withdraw - settled)
            k = sum(1 for t, _ in notes_on if settled <= t < ev.withdraw)
            still_ms += dur
            still_changes += k
            if ev.boundary:
                still_boundary_ms += dur
                still_boundary_changes += k
            # withdrawal: every note-on from its start until the next event is wrong
            k = sum(1 for t, _ in notes_on if ev.withdraw <= t < ev.end)
            withdrawals += 1
            withdrawal_notes += k
            withdrawals_with_notes += k > 0
        idle_notes += sum(1 for t, _ in notes_on if t >= prev_end)
    scored = approaches["steady"][1] + approaches["sweep"][1]
    return {
        "still_changes_per_min": round(still_changes / max(still_ms / 60000, 1e-9), 2),
        "still_changes_per_min_on_boundary": round(
            still_boundary_changes / max(still_boundary_ms / 60000, 1e-9), 2
        ),
        "in_order_rate": round(
            (approaches["steady"][0] + approaches["sweep"][0]) / max(scored, 1), 3
        ),
        "in_order_rate_steady": round(
            approaches["steady"][0] / max(approaches["steady"][1], 1), 3
        ),
        "in_order_rate_sweep": round(approaches["sweep"][0] / max(approaches["sweep"][1], 1), 3),
        "withdrawal_notes": withdrawal_notes,
        "withdrawals_with_notes": withdrawals_with_notes,
        "idle_notes": idle_notes,
        "final_zone_delay_ms_p50": percentile(final_delay, 50),
        "final_zone_delay_ms_p95": percentile(final_delay, 95),
    }


def describe(sessions: list[Session], seed: int, edges: list[float]) -> dict:
    evs = [ev for s in sessions for ev in s.events]
    return {
        "seed": seed,
        "sessions": len(sessions),
        "minutes": round(sum(len(s.raw) for s in sessions) / 60000, 2),
        "events": len(evs),
        "approaches_scored": sum(not e.boundary for e in evs),
        "steady_approaches": sum(
            not e.boundary and e.peak_mm_s * s.period_ms / 1000 < edges[0] - edges[1]
            for s in sessions
            for e in s.events
        ),
        "boundary_holds": sum(e.boundary for e in evs),
        "sideways_withdrawals": sum(e.sideways for e in evs),
        "zone_edges_mm": [round(e, 1) for e in edges],
        "description": (
            f"VL6180X-like readings (mm, FAR {FAR} out of range), a fresh one every "
            f"{PERIOD_MS[0]:g}-{PERIOD_MS[1]:g} ms (+-{PERIOD_JITTER_MS:g} ms), held between, "
            f"Gaussian noise {NOISE_MM[0]:g}-{NOISE_MM[1]:g} mm RMS per session; the air harp's "
            f"profile (8 zones over 80 % of the range). Events: the hand comes in from out of "
            f"view (minimum jerk, {APPROACH_MM_S[0]:g}-{APPROACH_MM_S[1]:g} mm/s mean), stops "
            f"mid-zone or ({P_BOUNDARY:.0%}) on a zone boundary, holds {HOLD_S[0]:g}-"
            f"{HOLD_S[1]:g} s with {SWAY_MM[0]:g}-{SWAY_MM[1]:g} mm of slow sway, then leaves "
            f"suddenly ({WITHDRAW_MM_S[0]:g}-{WITHDRAW_MM_S[1]:g} mm/s away, or {P_SIDEWAYS:.0%} "
            f"sideways out of the beam). Still: from {SETTLE_AFTER_STOP_MS} ms after the stop to "
            "the withdrawal; approach in order: the notes from entry to then rise, end on the "
            "stop zone, and skip no zone when the approach moves under one zone per reading."
        ),
    }


def run(seed: int = 1, sessions: int = 16) -> dict:
    """The zones figures for the baseline, the previous zones mode and today's, same traces."""
    t0 = time.perf_counter()
    modes = _engine()
    edges, notes = geometry()
    sess = make_sessions(seed, sessions, edges)
    out: dict = {"traces": describe(sess, seed, edges)}
    secs = {"generate": round(time.perf_counter() - t0, 1)}
    for name, cls in (
        ("baseline", _naive_mode(modes)),
        ("previous", _previous_mode(modes)),
        ("attune", None),
    ):
        t1 = time.perf_counter()
        with _with_zones_mode(cls):
            played = [play(s.raw) for s in sess]
        out[name] = score(sess, played, edges, notes)
        secs[name] = round(time.perf_counter() - t1, 1)
    out["traces"]["seconds"] = secs
    return out


def figures(quick: bool = False) -> dict:
    """`make bench`'s section: today's figures at the top level, all three sides under zones."""
    res = run(sessions=4 if quick else 16)
    a = res["attune"]
    return {
        "zones_still_changes_per_min": a["still_changes_per_min"],
        "zones_in_order_rate": a["in_order_rate"],
        "zones_withdrawal_notes": a["withdrawal_notes"],
        "zones": res,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
