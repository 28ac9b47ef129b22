"""Detection benchmark: Attune's defaults against a common MIDI-controller baseline, on generated
FSR traces of small presses, noise, drift, twitches and tremor. See docs/benchmarks.md.

Usage: from benchmarks import detection; detection.run(seed=1, minutes=30)["attune"]
"""

from __future__ import annotations

import math
import random
import time
import types
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.mp.fakesensor import FakeSensor

ROOT = Path(__file__).resolve().parents[1]

FULL_SCALE = 65535
SAMPLE_HZ = 1000
REST_U16 = 8000.0  # FSR divider at rest: ADC code 500, so presses cross the E11 spike at 512
TRACE_S = 120  # one trace = one client session of two minutes
SETTLE_MS = 1500  # every trace starts still, so both sides can learn where rest is
GRACE_MS = 100  # a note-on this long after a press has ended still counts for that press
LATE_AFTER_MS = 2000  # a press starting this soon after a twitch or tremor bout is "after"
RELEASE_SHARE = 0.6  # baseline releases at 60 % of its trigger distance (as Attune: 3/5)
EMA_ALPHA = 0.25
CAL_NOISE_LSB = 1.2  # ADC noise of the calibration recording (the set's median)
CAL_REST_MS = 3000
CAL_MOVE_MS = 5000

# The trace set's distributions (fixed before any result was seen).
PRESS_PCT = (1.0, 10.0)  # press amplitude, % of full scale
RISE_MS = (10, 400)  # log-uniform
HOLD_MS = (150, 1500)
FALL_MS = (20, 400)  # log-uniform
GAP_MS = (1000, 4000)  # quiet time after each event
TREMOR_HZ = (4.0, 8.0)
TREMOR_SHARE = (0.1, 0.5)  # tremor peak, as a share of the client's press amplitude
TREMOR_MS = (1500, 6000)  # tremor-only bouts
TWITCH_SHARE = (0.3, 1.0)
TWITCH_MS = (10, 40)
DRIFT_PCT_PER_MIN = 0.3  # drift rate drawn uniformly in +-this, % of full scale per minute
NOISE_LSB = (0.8, 2.0)  # ADC noise (12-bit LSB RMS) per trace
P_PRESS, P_TREMOR = 0.65, 0.25  # event mix; the rest are twitches
P_SHAKY_PRESS = 0.3  # share of presses made with a tremor riding on them


def engine_on_path() -> None:
    """firmware/ importable on CPython (see benchmarks.engine.firmware_on_path)."""
    from benchmarks.engine import firmware_on_path

    firmware_on_path()


# --- the trace set ------------------------------------------------------------------------


@dataclass
class Press:
    """One intended press: its window [start, end) and where its true signal crosses 50 %."""

    start: int
    end: int
    t50: int
    pct: float  # amplitude, % of full scale
    rise: int
    hold: int
    shaky: bool  # a tremor rides on it
    after: bool  # starts soon after a twitch or a tremor bout


@dataclass
class Trace:
    raw: array  # read_u16 values, one per ms
    client_pct: float
    drift_pct: float  # total drift over the trace, % of full scale
    noise_lsb: float
    presses: list[Press] = field(default_factory=list)
    tremors: list[tuple[int, int]] = field(default_factory=list)  # tremor-only bouts
    twitches: list[tuple[int, int]] = field(default_factory=list)


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def press_shape(rise: int, hold: int, fall: int) -> list[float]:
    """The noise-free shape (0..1) of a press, exactly as movement.add_press draws it."""
    from simulator import movement as mv

    shape = [0.0] * (rise + hold + fall)
    mv.add_press(shape, 0, 1.0, rise_ms=rise, hold_ms=hold, fall_ms=fall)
    return shape


def half_way(shape: list[float]) -> int:
    """First sample at which a press shape reaches 50 % of its amplitude."""
    return next(i for i, v in enumerate(shape) if v >= 0.5)


def make_trace(rng: random.Random, ms: int, client_pct: float) -> Trace:
    """One client session: presses around `client_pct`, tremor bouts, twitches, drift, noise."""
    from simulator import movement as mv

    amp_client = client_pct / 100 * FULL_SCALE
    sig = mv.rest(ms, REST_U16)
    drift = rng.uniform(-DRIFT_PCT_PER_MIN, DRIFT_PCT_PER_MIN) * ms / 60000
    tr = Trace(array("H"), client_pct, drift, rng.uniform(*NOISE_LSB))
    last_disturbance = -(10**9)
    t = SETTLE_MS
    while True:
        kind = rng.random()
        if kind < P_PRESS:
            pct = min(PRESS_PCT[1], max(PRESS_PCT[0], client_pct * rng.uniform(0.85, 1.15)))
            rise = round(_log_uniform(rng, *RISE_MS))
            hold = rng.randint(*HOLD_MS)
            fall = round(_log_uniform(rng, *FALL_MS))
            if t + rise + hold + fall + GAP_MS[0] > ms:
                break
            amp = pct / 100 * FULL_SCALE
            shape = press_shape(rise, hold, fall)
            end = t + len(shape)
            mv.add_press(sig, t, amp, rise_ms=rise, hold_ms=hold, fall_ms=fall)
            shaky = rng.random() < P_SHAKY_PRESS
            if shaky:
                # a shaky hand: the tremor swings one way from rest, and about the held force
                # once the press is made
                a = rng.uniform(*TREMOR_SHARE) * amp_client
                mv.add_tremor(sig, t, end - t, rng.uniform(*TREMOR_HZ), a, rng)
                for i, v in enumerate(shape):
                    sig[t + i] -= 0.5 * a * v
            after = t - last_disturbance < LATE_AFTER_MS
            tr.presses.append(Press(t, end, t + half_way(shape), pct, rise, hold, shaky, after))
            t = end
        elif kind < P_PRESS + P_TREMOR:
            dur = rng.randint(*TREMOR_MS)
            if t + dur + GAP_MS[0] > ms:
                break
            a = rng.uniform(*TREMOR_SHARE) * amp_client
            mv.add_tremor(sig, t, dur, rng.uniform(*TREMOR_HZ), a, rng, from_rest=True)
            tr.tremors.append((t, t + dur))
            t += dur
            last_disturbance = t
        else:
            dur = rng.randint(*TWITCH_MS)
            if t + dur + GAP_MS[0] > ms:
                break
            mv.add_twitch(sig, t, rng.uniform(*TWITCH_SHARE) * amp_client, dur_ms=dur)
            tr.twitches.append((t, t + dur))
            t += dur
            last_disturbance = t
        t += rng.randint(*GAP_MS)
    mv.add_drift(sig, drift / 100 * FULL_SCALE)
    tr.raw = array("H", mv.adc_read_u16(sig, rng, noise_lsb=tr.noise_lsb))
    return tr


def make_traces(seed: int = 1, minutes: float = 30, trace_s: int = TRACE_S) -> list[Trace]:
    """The trace set: `minutes` in traces of `trace_s`, clients log-spaced from 1 % to 10 %."""
    rng = random.Random(seed)
    total = int(minutes * 60000)
    n = max(1, math.ceil(total / (trace_s * 1000)))
    ms = total // n
    lo, hi = PRESS_PCT
    pcts = [lo * (hi / lo) ** (i / (n - 1)) if n > 1 else math.sqrt(lo * hi) for i in range(n)]
    return [make_trace(rng, ms, p) for p in pcts]


# --- the trace classes of issue 14 --------------------------------------------------------
# Each class is its own set of client sessions, generated from its own seed; the distributions
# below were written down and committed before any result on them was looked at.

CLASS_SESSIONS = 5  # sessions of TRACE_S per class (10 minutes)
FIRST_MINUTE_MS = 60000  # presses starting in a session's first minute: "first-minute" latency


@dataclass(frozen=True)
class ClassSpec:
    """One class of client: press (or tap) sizes, shapes and what else their hand does."""

    name: str
    client_pct: tuple[float, float]  # client's movement size, % of full scale, log-uniform
    noise_lsb: tuple[float, float]  # ADC noise, 12-bit LSB RMS, per session
    drift_pct_per_min: float  # +- this, uniform, per session
    rise_ms: tuple[int, int] = RISE_MS  # log-uniform
    hold_ms: tuple[int, int] = HOLD_MS
    fall_ms: tuple[int, int] = FALL_MS  # log-uniform
    gap_ms: tuple[int, int] = GAP_MS  # quiet after each press (or each phrase of taps)
    twitch_share: tuple[float, float] = (0.0, 0.0)  # twitch peak / client's size
    twitch_ms: tuple[int, int] = TWITCH_MS
    p_twitch: float = 0.0  # share of events that are twitches
    twitch_gap_ms: tuple[int, int] = GAP_MS  # quiet after a twitch
    tremor_share: tuple[float, float] = (0.0, 0.0)  # continuous tremor peak / client's size
    tap_hz: tuple[float, float] = (0.0, 0.0)  # > 0: presses come as phrases of taps
    phrase_taps: tuple[int, int] = (4, 8)


CLASSES = (
    # presses of 1-2 % of full scale on a quiet FSR, at the defaults, no calibration
    ClassSpec(
        "tiny",
        client_pct=(1.0, 2.0),
        noise_lsb=(0.6, 1.2),
        drift_pct_per_min=0.1,
        rise_ms=(20, 300),
        hold_ms=(200, 1200),
        fall_ms=(30, 300),
        gap_ms=(1500, 4000),
    ),
    # short involuntary spikes, larger than the client's presses, often just before a press
    ClassSpec(
        "twitchy",
        client_pct=(2.0, 6.0),
        noise_lsb=NOISE_LSB,
        drift_pct_per_min=DRIFT_PCT_PER_MIN,
        twitch_share=(1.2, 2.5),
        twitch_ms=(10, 40),
        p_twitch=0.5,
        twitch_gap_ms=(300, 2000),
    ),
    # a rest tremor that never stops: on rest, and about the held force during presses
    ClassSpec(
        "tremor",
        client_pct=(1.5, 8.0),
        noise_lsb=NOISE_LSB,
        drift_pct_per_min=DRIFT_PCT_PER_MIN,
        rise_ms=(30, 400),
        hold_ms=(200, 1500),
        fall_ms=(30, 400),
        tremor_share=(0.1, 0.4),
    ),
    # quick deliberate taps in phrases of 4-8 at 2.5-4 taps a second, no tremor
    ClassSpec(
        "rhythm",
        client_pct=(2.0, 5.0),
        noise_lsb=NOISE_LSB,
        drift_pct_per_min=DRIFT_PCT_PER_MIN,
        rise_ms=(15, 40),
        hold_ms=(20, 80),
        fall_ms=(20, 60),
        gap_ms=(1500, 4000),
        tap_hz=(2.5, 4.0),
    ),
    # the same taps by a client who also has a continuous rest tremor
    ClassSpec(
        "rhythm_tremor",
        client_pct=(2.0, 5.0),
        noise_lsb=NOISE_LSB,
        drift_pct_per_min=DRIFT_PCT_PER_MIN,
        rise_ms=(15, 40),
        hold_ms=(20, 80),
        fall_ms=(20, 60),
        gap_ms=(1500, 4000),
        tremor_share=(0.1, 0.3),
        tap_hz=(2.5, 4.0),
    ),
)
TAP_JITTER = 0.05  # each tap's interval within +-5 % of the phrase's
TAP_AMP_JITTER = 0.10  # each tap's size within +-10 % of the client's
TREMOR_WANDER = 0.25  # a continuous tremor's size wanders within +-25 % (a slow random walk)


def continuous_tremor(rng: random.Random, ms: int, peak: float) -> list[float]:
    """A tremor that never stops: one way from rest (0 .. about `peak`), 4-8 Hz with its
    frequency wandering +-5 % every 250 ms and its size wandering slowly within +-25 %."""
    f0 = rng.uniform(*TREMOR_HZ)
    f = f0
    phase = rng.uniform(0, 2 * math.pi)
    size = 1.0
    out = [0.0] * ms
    for i in range(ms):
        if i % 250 == 0:
            f = f0 * rng.uniform(0.95, 1.05)
            size = min(1 + TREMOR_WANDER, max(1 - TREMOR_WANDER, size + rng.uniform(-0.1, 0.1)))
        phase += 2 * math.pi * f / SAMPLE_HZ
        out[i] = peak * size * (0.5 + 0.5 * math.sin(phase))
    return out


def make_class_trace(rng: random.Random, ms: int, spec: ClassSpec) -> Trace:
    """One session of a client of class `spec` (see CLASSES)."""
    from simulator import movement as mv

    client_pct = _log_uniform(rng, *spec.client_pct)
    amp_client = client_pct / 100 * FULL_SCALE
    sig = mv.rest(ms, REST_U16)
    drift = rng.uniform(-spec.drift_pct_per_min, spec.drift_pct_per_min) * ms / 60000
    tr = Trace(array("H"), client_pct, drift, rng.uniform(*spec.noise_lsb))
    tremor_peak = rng.uniform(*spec.tremor_share) * amp_client
    held = [0.0] * ms  # the noise-free press shapes (0..1), to centre the tremor on a press
    last_disturbance = -(10**9)

    def press(t: int, pct: float, rise: int, hold: int, fall: int) -> int:
        shape = press_shape(rise, hold, fall)
        mv.add_press(sig, t, pct / 100 * FULL_SCALE, rise_ms=rise, hold_ms=hold, fall_ms=fall)
        for i, v in enumerate(shape):
            if t + i < ms:
                held[t + i] = v
        end = t + len(shape)
        after = t - last_disturbance < LATE_AFTER_MS
        tr.presses.append(
            Press(t, end, t + half_way(shape), pct, rise, hold, tremor_peak > 0, after)
        )
        return end

    t = SETTLE_MS
    while True:
        if spec.p_twitch and rng.random() < spec.p_twitch:
            dur = rng.randint(*spec.twitch_ms)
            if t + dur + spec.twitch_gap_ms[0] > ms:
                break
            mv.add_twitch(sig, t, rng.uniform(*spec.twitch_share) * amp_client, dur_ms=dur)
            tr.twitches.append((t, t + dur))
            t += dur
            last_disturbance = t
            t += rng.randint(*spec.twitch_gap_ms)
            continue
        if spec.tap_hz[0]:
            n = rng.randint(*spec.phrase_taps)
            period = 1000 / rng.uniform(*spec.tap_hz)
            taps = []
            at = float(t)
            for _ in range(n):
                rise = round(_log_uniform(rng, *spec.rise_ms))
                hold = rng.randint(*spec.hold_ms)
                fall = round(_log_uniform(rng, *spec.fall_ms))
                pct = client_pct * rng.uniform(1 - TAP_AMP_JITTER, 1 + TAP_AMP_JITTER)
                taps.append((round(at), pct, rise, hold, fall))
                at += period * rng.uniform(1 - TAP_JITTER, 1 + TAP_JITTER)
            last = taps[-1]
            if last[0] + last[2] + last[3] + last[4] + spec.gap_ms[0] > ms:
                break
            for at_ms, pct, rise, hold, fall in taps:
                t = press(at_ms, pct, rise, hold, fall)
        else:
            pct = client_pct * rng.uniform(0.85, 1.15)
            rise = round(_log_uniform(rng, *spec.rise_ms))
            hold = rng.randint(*spec.hold_ms)
            fall = round(_log_uniform(rng, *spec.fall_ms))
            if t + rise + hold + fall + spec.gap_ms[0] > ms:
                break
            t = press(t, pct, rise, hold, fall)
        t += rng.randint(*spec.gap_ms)
    if tremor_peak > 0:
        # on rest the tremor swings one way from rest; on a press, about the held force
        trem = continuous_tremor(rng, ms, tremor_peak)
        for i in range(ms):
            sig[i] += trem[i] - 0.5 * tremor_peak * held[i]
        tr.tremors.append((0, ms))
    mv.add_drift(sig, drift / 100 * FULL_SCALE)
    tr.raw = array("H", mv.adc_read_u16(sig, rng, noise_lsb=tr.noise_lsb))
    return tr


def make_class_traces(spec: ClassSpec, seed: int = 1, sessions: int = CLASS_SESSIONS):
    """A class's sessions, from its own seed (so classes do not shift one another)."""
    rng = random.Random(f"{seed}:{spec.name}")
    return [make_class_trace(rng, TRACE_S * 1000, spec) for _ in range(sessions)]


def calibration_recording(seed: int) -> list[int]:
    """3 s of rest, then 5 s with one comfortable press (3 % of full scale): what the
    therapist's `calibrate` records once for the set, and all the baseline is tuned on."""
    from simulator import movement as mv

    sig = mv.rest(CAL_REST_MS + CAL_MOVE_MS + 10, REST_U16)  # the routine ends on a reading
    mv.add_press(sig, CAL_REST_MS + 1500, 0.03 * FULL_SCALE, rise_ms=120, hold_ms=800)
    return mv.adc_read_u16(sig, random.Random(seed * 7919 + 1), noise_lsb=CAL_NOISE_LSB)


def calibrate(seed: int) -> dict:
    """Run Attune's own calibration routine on the recording; the baseline's thresholds follow
    from its rest mean and noise exactly as Attune's default sensitivity places its trigger."""
    engine_on_path()
    import settings
    from engine.calibration import Calibration, trigger_for

    cal = Calibration(types.SimpleNamespace(name="pad", full_scale=FULL_SCALE, invert=False))
    for t, v in enumerate(calibration_recording(seed)):
        cal.feed(v, t)
    if cal.result is None:
        raise RuntimeError("calibration failed: " + cal.message)
    sens = int(settings.find(settings.CHANNEL, "sensitivity")[4])  # type: ignore[index]
    rng_pct = int(settings.find(settings.CHANNEL, "range")[4])  # type: ignore[index]
    dist = trigger_for(sens, FULL_SCALE * rng_pct // 100, cal.noise_q12, FULL_SCALE)
    rest = cal.result["baseline"]
    return {
        "rest_raw": rest,
        "noise_raw": cal.result["noise"],
        "sensitivity": sens,
        "trigger_distance_raw": dist,
        "threshold_raw": rest + dist,
        "release_raw": rest + round(dist * RELEASE_SHARE),
    }


# --- the two detectors --------------------------------------------------------------------


def attune_notes(raw: array, settings_values: dict | None = None) -> list[int]:
    """Note-on times (ms) of the real engine (defaults, one FSR channel) at 1 kHz."""
    engine_on_path()
    from instrument import Instrument
    from settings import Settings

    st = Settings(["pad"])
    if settings_values:
        assert st.apply(settings_values) == []
    inst = Instrument(st, [("pad", FakeSensor("analog", FULL_SCALE, values=raw), "fsr")])
    inst.begin(0)
    midi = inst.midi
    buf = midi.buf
    tick = inst.tick
    out = []
    for t in range(len(raw)):
        tick(t * 1000)
        n = midi.count
        if n:
            for i in range(n):
                if buf[i * 4 + 1] & 0xF0 == 0x90:
                    out.append(t)
            midi.count = 0
    return out


def baseline_notes(raw: array, threshold: float, release: float) -> list[int]:
    """Note-on times (ms) of the baseline: y += (x - y) / 4 each sample; note on when y reaches
    `threshold`, off when it falls below `release`. No rest tracking, no tremor handling."""
    out = []
    y = float(raw[0])
    on = False
    for t, x in enumerate(raw):
        y += (x - y) * EMA_ALPHA
        if on:
            if y < release:
                on = False
        elif y >= threshold:
            on = True
            out.append(t)
    return out


# --- scoring ------------------------------------------------------------------------------


def percentile(values: list[int], p: float) -> int | None:
    """Nearest-rank percentile (an actual sample), None when there are none."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _amp_class(pct: float) -> str:
    for lo, hi in ((1, 1.5), (1.5, 2), (2, 3), (3, 5), (5, 10)):
        if pct < hi or hi == 10:
            return f"amp_{lo:g}-{hi:g}%"
    return "amp_5-10%"


def _classes(p: Press, tr: Trace) -> list[str]:
    """The classes a press counts in. Conditions are split only among presses of 2 % and more,
    well clear of the default trigger point, so that they show the effect of the condition and
    not of the press size."""
    out = ["all", _amp_class(p.pct), "first_minute" if p.start < FIRST_MINUTE_MS else "learned"]
    if p.pct >= 2:
        d = tr.drift_pct
        out += [
            "ge2pct_" + c
            for c in (
                "rise_fast_le100ms" if p.rise <= 100 else "rise_slow",
                "shaky" if p.shaky else "steady",
                "after_disturbance" if p.after else "not_after",
                "drift_up" if d > 0.2 else "drift_down" if d < -0.2 else "drift_small",
            )
        ]
    return out


def _windows(tr: Trace, times: list[int]):
    """Each press of `tr` with the note-on times (sorted) inside its window: from its start to
    GRACE_MS after its end, or to where the next press starts (taps in a phrase)."""
    starts = [p.start for p in tr.presses[1:]] + [10**12]
    for p, nxt in zip(tr.presses, starts, strict=True):
        stop = min(p.end + GRACE_MS, nxt)
        yield p, [t for t in times if p.start <= t < stop]


def twitch_bound(seed: int = 1, minutes: float = 30) -> dict:
    """The least main-set p50 a twitch check could cost, on these traces: a press that rises
    in 20 ms or less to no more than the client's size is, until its peak, the same signal as a
    twitch the traces hold (TWITCH_MS, TWITCH_SHARE: same shape, rise and size; the same
    noise), so a detector that plays no such twitch cannot play that press before its peak.
    Each press's latency is the engine's with both twitch rules off, and for those presses
    at least their peak's (rise minus half-way). Compare with the engine's p50."""
    traces = make_traces(seed, minutes)
    with without("twitch_check"), without("twitch_prior"):
        notes = [attune_notes(tr.raw) for tr in traces]
    free, bound, alike = [], [], 0
    rise_max = TWITCH_MS[1] // 2
    for tr, times in zip(traces, notes, strict=True):
        for p, inside in _windows(tr, sorted(times)):
            if not inside:
                continue
            lat = inside[0] - p.t50
            free.append(lat)
            if p.rise <= rise_max and p.pct <= tr.client_pct * TWITCH_SHARE[1]:
                alike += 1
                lat = max(lat, p.start + p.rise - p.t50)
            bound.append(lat)
    return {
        "latency_ms_p50_without_twitch_rules": percentile(free, 50),
        "latency_ms_p50_bound": percentile(bound, 50),
        "presses_like_a_twitch": alike,
        "presses": len(bound),
    }


def score(traces: list[Trace], notes: list[list[int]]) -> dict:
    """Score note-on times per trace against the ground truth, identically for any detector.

    A press is detected by the first note-on in [start, end + GRACE_MS) (the grace ends where the
    next press starts, for taps in a phrase); its latency is that
    time minus `t50`. Every other note-on is false: one outside every press window (counted by
    cause: tremor bout, twitch, other) or an extra one inside a window (a duplicate).
    """
    total_ms = sum(len(tr.raw) for tr in traces)
    lat: list[int] = []
    cls: dict[str, list] = {}
    causes = {"tremor": 0, "twitch": 0, "other": 0, "duplicate": 0}
    presses = 0
    for tr, times in zip(traces, notes, strict=True):
        times = sorted(times)
        used: set[int] = set()
        for p, inside in _windows(tr, times):
            presses += 1
            hit = inside[0] if inside else None
            causes["duplicate"] += max(0, len(inside) - 1)
            used.update(inside)
            for c in _classes(p, tr):
                row = cls.setdefault(c, [0, 0, []])
                row[0] += 1
                if hit is not None:
                    row[1] += 1
                    row[2].append(hit - p.t50)
            if hit is not None:
                lat.append(hit - p.t50)
        for t in times:
            if t in used:
                continue
            if any(s <= t < e + GRACE_MS for s, e in tr.tremors):
                causes["tremor"] += 1
            elif any(s <= t < e + GRACE_MS for s, e in tr.twitches):
                causes["twitch"] += 1
            else:
                causes["other"] += 1
    false = sum(causes.values())
    hours = total_ms / 3_600_000
    by_class = {
        c: {
            "presses": n,
            "detect_rate": round(k / n, 3) if n else None,
            "latency_ms_p50": percentile(ls, 50),
        }
        for c, (n, k, ls) in sorted(cls.items())
    }
    return {
        "detect_rate": round(len(lat) / presses, 3) if presses else None,
        "false_per_hour": round(false / hours, 1) if hours else None,
        "latency_ms_p50": percentile(lat, 50),
        "latency_ms_p95": percentile(lat, 95),
        "presses": presses,
        "detected": len(lat),
        "false": false,
        "false_by_cause": causes,
        "by_class": by_class,
    }


def sweep(traces: list[Trace], cal: dict, factors=(0.6, 1.5, 2, 3)) -> list[dict]:
    """The baseline at other trigger distances (a check, not a result): does any fixed
    threshold beat Attune on both counts?"""
    out = []
    for f in factors:
        d = round(cal["trigger_distance_raw"] * f)
        thr = cal["rest_raw"] + d
        s = score(
            traces,
            [baseline_notes(tr.raw, thr, cal["rest_raw"] + d * RELEASE_SHARE) for tr in traces],
        )
        out.append(
            {
                "trigger_distance_raw": d,
                "detect_rate": s["detect_rate"],
                "false_per_hour": s["false_per_hour"],
            }
        )
    return out


def describe(traces: list[Trace], seed: int) -> dict:
    ms = sum(len(tr.raw) for tr in traces)
    return {
        "seed": seed,
        "minutes": round(ms / 60000, 2),
        "traces": len(traces),
        "sample_hz": SAMPLE_HZ,
        "sensor": f"FSR divider on the RP2040 ADC, read_u16 units, rest {REST_U16:.0f} (E11 spike "
        f"code 512 within reach), ADC noise {NOISE_LSB[0]:g}-{NOISE_LSB[1]:g} LSB RMS",
        "clients_pct": [round(tr.client_pct, 2) for tr in traces],
        "presses": sum(len(tr.presses) for tr in traces),
        "shaky_presses": sum(p.shaky for tr in traces for p in tr.presses),
        "tremor_bouts": sum(len(tr.tremors) for tr in traces),
        "tremor_minutes": round(sum(e - s for tr in traces for s, e in tr.tremors) / 60000, 2),
        "twitches": sum(len(tr.twitches) for tr in traces),
        "description": (
            f"One trace per client session ({TRACE_S} s), clients' press sizes log-spaced from "
            f"1 % to 10 % of full scale, each press within +-15 % of it; rise {RISE_MS[0]}-"
            f"{RISE_MS[1]} ms, hold {HOLD_MS[0]}-{HOLD_MS[1]} ms; {P_SHAKY_PRESS:.0%} of presses "
            f"shaky (tremor 4-8 Hz, up to half the client's press); tremor-only bouts of "
            f"{TREMOR_MS[0] / 1000:g}-{TREMOR_MS[1] / 1000:g} s and twitches of {TWITCH_MS[0]}-"
            f"{TWITCH_MS[1]} ms between presses; linear drift up to +-{DRIFT_PCT_PER_MIN:g} % of "
            f"full scale per minute. Detection: first note-on from a press's start to "
            f"{GRACE_MS} ms after its end; latency: that note-on minus the moment the press's "
            "noise-free shape first reaches 50 % of its amplitude; every other note-on is "
            "false."
        ),
    }


# The engine's rules of issue 14, each an attribute the benchmark sets to 0 (or clears a bit of)
# on CPython to measure what the rule buys and what it costs: (name, module, class, attr, bit).
RULES = (
    ("auto_range", "engine.conditioning", "Conditioner", "AUTO", 0),
    ("quick_start", "engine.conditioning", "Conditioner", "QUICK_START", 0),
    ("twitch_check", "engine.gestures", "Gesture", "RULES", 1),
    ("taps_not_shakes", "engine.gestures", "Gesture", "RULES", 2),
    ("twitch_prior", "engine.gestures", "Gesture", "RULES", 4),
    ("size_check", "engine.gestures", "Gesture", "RULES", 8),
    ("release_dips", "engine.gestures", "Gesture", "RULES", 16),
)


def without(rule: str):
    """Context manager: the engine with one rule of RULES switched off."""
    import contextlib
    import importlib

    engine_on_path()
    name, mod, cls, attr, bit = next(r for r in RULES if r[0] == rule)
    klass = getattr(importlib.import_module(mod), cls)

    @contextlib.contextmanager
    def ctx():
        old = getattr(klass, attr)
        setattr(klass, attr, old & ~bit if bit else 0)
        try:
            yield
        finally:
            setattr(klass, attr, old)

    return ctx()


def rule_costs(seed: int, minutes: float, sessions: int = CLASS_SESSIONS) -> dict:
    """Attune on the main set and every class with each rule switched off in turn: the
    difference to the full engine is what the rule buys (detection, false notes) and costs
    (latency)."""
    traces = make_traces(seed, minutes)
    sets = [("main", traces)] + [
        (spec.name, make_class_traces(spec, seed, sessions)) for spec in CLASSES
    ]
    out: dict = {}
    for rule, *_ in RULES:
        with without(rule):
            out[rule] = {
                name: _brief(score(trs, [attune_notes(tr.raw) for tr in trs]))
                for name, trs in sets
            }
    return out


def _brief(s: dict) -> dict:
    return {
        "detect_rate": s["detect_rate"],
        "false_per_hour": s["false_per_hour"],
        "latency_ms_p50": s["latency_ms_p50"],
        "latency_ms_p50_first_minute": s["by_class"].get("first_minute", {}).get("latency_ms_p50"),
    }


def run(seed: int = 1, minutes: float = 30, rules: bool | None = None) -> dict:
    """The detection figures for Attune's defaults and for the baseline, on the same traces."""
    t0 = time.perf_counter()
    engine_on_path()
    traces = make_traces(seed, minutes)
    cal = calibrate(seed)
    t1 = time.perf_counter()
    attune = score(traces, [attune_notes(tr.raw) for tr in traces])
    t2 = time.perf_counter()
    base = score(
        traces, [baseline_notes(tr.raw, cal["threshold_raw"], cal["release_raw"]) for tr in traces]
    )
    t3 = time.perf_counter()
    base["calibration"] = cal
    base["threshold_sweep"] = sweep(traces, cal)
    info = describe(traces, seed)
    info["seconds"] = {
        "generate": round(t1 - t0, 1),
        "attune": round(t2 - t1, 1),
        "baseline": round(t3 - t2, 1),
    }
    # the full run: every class in CLASS_SESSIONS sessions, and each rule's cost (a shorter run,
    # --quick or a test, takes one session a class and leaves the rules out unless asked)
    full = minutes >= 30
    sessions = CLASS_SESSIONS if full else 1
    classes = {spec.name: run_class(spec, seed, cal, sessions) for spec in CLASSES}
    t4 = time.perf_counter()
    info["seconds"]["classes"] = round(t4 - t3, 1)
    out = {"attune": attune, "baseline": base, "traces": info, "classes": classes}
    if full if rules is None else rules:
        out["without_rule"] = rule_costs(seed, minutes, sessions)
        t5 = time.perf_counter()
        info["seconds"]["without_rule"] = round(t5 - t4, 1)
        out["twitch_bound"] = twitch_bound(seed, minutes)
        info["seconds"]["twitch_bound"] = round(time.perf_counter() - t5, 1)
    return out


def summary(s: dict) -> dict:
    """The headline figures of one side on one class."""
    by = s["by_class"]
    return {
        "detect_rate": s["detect_rate"],
        "false_per_hour": s["false_per_hour"],
        "latency_ms_p50": s["latency_ms_p50"],
        "latency_ms_p95": s["latency_ms_p95"],
        "latency_ms_p50_first_minute": by.get("first_minute", {}).get("latency_ms_p50"),
        "latency_ms_p50_learned": by.get("learned", {}).get("latency_ms_p50"),
        "presses": s["presses"],
        "false_by_cause": s["false_by_cause"],
    }


def run_class(spec: ClassSpec, seed: int, cal: dict, sessions: int = CLASS_SESSIONS) -> dict:
    """One class of clients: Attune's defaults and the baseline on the same sessions."""
    traces = make_class_traces(spec, seed, sessions)
    attune = score(traces, [attune_notes(tr.raw) for tr in traces])
    base = score(
        traces, [baseline_notes(tr.raw, cal["threshold_raw"], cal["release_raw"]) for tr in traces]
    )
    return {
        "attune": summary(attune),
        "baseline": summary(base),
        "minutes": round(sum(len(tr.raw) for tr in traces) / 60000, 2),
        "clients_pct": [round(tr.client_pct, 2) for tr in traces],
        "twitches": sum(len(tr.twitches) for tr in traces),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
