"""Movement and sensor-noise generators: build raw sensor traces, one sample per millisecond.

Usage: sig = rest(3000, 2000.0); add_press(sig, 1000, 1311, rise_ms=80, hold_ms=400)
       trace = adc_read_u16(sig, random.Random(1))   # what the RP2040's read_u16() would return

Signals are lists of floats in the sensor's raw unit (u16 ADC scale, mm, Pa); the `*_read_*`
functions turn them into what a real sensor reports (quantised, noisy, integer).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable

SAMPLE_HZ = 1000
ADC_CODES = 4096
# RP2040-E11: the ADC's differential non-linearity spikes at these 12-bit codes.
E11_SPIKE_CODES = (512, 1536, 2560, 3584)
E11_SPIKE_WIDTH = 8  # the spike codes are about 8 LSB wider than their neighbours


def rest(ms: int, level: float = 0.0) -> list[float]:
    """A still sensor: `ms` samples at `level`."""
    return [float(level)] * ms


def _bump(n: int) -> list[float]:
    """A raised-cosine ramp 0 -> 1 over n samples (a natural, jerk-free movement)."""
    if n <= 0:
        return []
    return [0.5 - 0.5 * math.cos(math.pi * (i + 1) / n) for i in range(n)]


def add_press(
    sig: list[float],
    start_ms: int,
    amplitude: float,
    rise_ms: int = 60,
    hold_ms: int = 300,
    fall_ms: int = 80,
) -> tuple[int, int]:
    """Add one press (rise, hold, fall) of `amplitude` raw units; returns (start, end) in ms.

    A negative amplitude moves the reading down (a hand coming closer to a distance sensor).
    """
    i = start_ms
    for k in _bump(rise_ms):
        if i < len(sig):
            sig[i] += amplitude * k
        i += 1
    for _ in range(hold_ms):
        if i < len(sig):
            sig[i] += amplitude
        i += 1
    for k in _bump(fall_ms):
        if i < len(sig):
            sig[i] += amplitude * (1.0 - k)
        i += 1
    return start_ms, i


def add_tremor(
    sig: list[float],
    start_ms: int,
    dur_ms: int,
    freq_hz: float,
    amplitude: float,
    rng: random.Random | None = None,
    from_rest: bool = False,
) -> None:
    """Add a tremor: a sinusoid of peak `amplitude` whose frequency and size wander a little.

    With `from_rest` it starts on the rest side of its swing, as a tremor that begins does;
    otherwise at a random phase (one already under way when a press starts)."""
    rng = rng or random.Random(0)
    phase = rng.uniform(0, 2 * math.pi)
    if from_rest:
        phase = -math.pi / 2  # (the draw above still happens: the traces after it are the same)
    f = freq_hz
    for i in range(start_ms, min(start_ms + dur_ms, len(sig))):
        if (i - start_ms) % 250 == 0:
            f = freq_hz * rng.uniform(0.95, 1.05)
        phase += 2 * math.pi * f / SAMPLE_HZ
        # tremor rides on a held position, so it swings only one way from rest
        sig[i] += amplitude * (0.5 + 0.5 * math.sin(phase))


def add_drift(sig: list[float], total: float, start_ms: int = 0) -> None:
    """Add a slow creep (FSR creep, temperature) reaching `total` raw units at the end."""
    n = len(sig) - start_ms
    for i in range(start_ms, len(sig)):
        sig[i] += total * (i - start_ms) / max(1, n)


def add_twitch(sig: list[float], at_ms: int, amplitude: float, dur_ms: int = 25) -> None:
    """Add a brief involuntary twitch: a sharp spike of `amplitude` lasting `dur_ms`."""
    half = max(1, dur_ms // 2)
    add_press(sig, at_ms, amplitude, rise_ms=half, hold_ms=0, fall_ms=dur_ms - half)


def _e11_code(analog_code: float) -> int:
    """The RP2040 ADC transfer curve: each spike code swallows the inputs around it, so a
    reading that wanders across it jumps by several codes at once."""
    code = int(analog_code)
    for spike in E11_SPIKE_CODES:
        if abs(code - spike) <= E11_SPIKE_WIDTH // 2:
            return spike
    return code


def adc_read_u16(
    sig: Iterable[float], rng: random.Random, noise_lsb: float = 1.0, e11: bool = True
) -> list[int]:
    """What `machine.ADC.read_u16()` returns for an analog signal given in u16 units.

    Gaussian noise of `noise_lsb` 12-bit LSB (RMS), 12-bit quantisation, the E11 non-linearity,
    then the rp2 port's scaling of the 12-bit code to 16 bits (`raw << 4 | raw >> 8`).
    """
    out = []
    for v in sig:
        analog = v / 16.0 + rng.gauss(0.0, noise_lsb)
        code = _e11_code(analog + 0.5) if e11 else int(analog + 0.5)
        code = 0 if code < 0 else ADC_CODES - 1 if code >= ADC_CODES else code
        out.append(code << 4 | code >> 8)
    return out


def quantise(
    sig: Iterable[float], rng: random.Random, noise: float = 0.0, lo: int = 0, hi: int = 65535
) -> list[int]:
    """Round a signal to integers with Gaussian noise of `noise` units, clipped to [lo, hi]."""
    out = []
    for v in sig:
        x = int(round(v + (rng.gauss(0.0, noise) if noise else 0.0)))
        out.append(lo if x < lo else hi if x > hi else x)
    return out


def switch_presses(
    ms: int,
    presses: Iterable[tuple[int, int]],
    bounce_ms: int = 0,
    rng: random.Random | None = None,
) -> list[int]:
    """A switch trace (1 = pressed) with presses given as (start_ms, length_ms), with contact
    bounce of up to `bounce_ms` at each edge, like a cheap accessibility switch."""
    rng = rng or random.Random(0)
    out = [0] * ms
    for start, length in presses:
        for i in range(start, min(start + length, ms)):
            out[i] = 1
        for edge in (start, start + length):
            for i in range(edge, min(edge + bounce_ms, ms)):
                if rng.random() < 0.5:
                    out[i] ^= 1
    return out


def write_csv(path: str, columns: dict[str, list[int]]) -> None:
    """Write a trace CSV: a `time_ms` column, then one column per channel name."""
    names = list(columns)
    n = max(len(c) for c in columns.values())
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_ms", *names])
        for i in range(n):
            w.writerow(
                [i, *(columns[k][i] if i < len(columns[k]) else columns[k][-1] for k in names)]
            )
