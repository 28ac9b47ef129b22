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
            mv.add_tremor(sig, t, dur, rng.uniform(*TREMOR_HZ), a, rng)
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
    out = ["all", _amp_class(p.pct)]
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


def score(traces: list[Trace], notes: list[list[int]]) -> dict:
    """Score note-on times per trace against the ground truth, identically for any detector.

    A press is detected by the first note-on in [start, end + GRACE_MS); its latency is that
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
        for p in tr.presses:
            presses += 1
            inside = [t for t in times if p.start <= t < p.end + GRACE_MS]
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


def run(seed: int = 1, minutes: float = 30) -> dict:
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
    return {"attune": attune, "baseline": base, "traces": info}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
